"""BOD 22-01 and the risk-tiered table end to end: fixture roots with a planted dpkg database,
feeds loaded with `fedharden feeds update --from`, then a scan."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from importlib import resources
from typing import Any, Callable, Iterable, Sequence

import pytest
from click.testing import CliRunner

from agent.cli import main
from agent.feeds.store import FeedStore
from agent.hosts import RootfsHost
from agent.contract import validation_errors
from agent.scan import Scan, Selection
from directives import load_library

pytestmark = pytest.mark.slow  # whole scans of real Debian roots with feed stores

REAL_KEV = resources.files("agent.feeds").joinpath("data/known_exploited_vulnerabilities.json")
DATA = Path(__file__).parent.parent / "data" / "feeds"

BOOKWORM = """PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
VERSION_ID="12"
VERSION_CODENAME=bookworm
ID=debian
"""
BULLSEYE = """PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"
VERSION_ID="11"
VERSION_CODENAME=bullseye
ID=debian
"""
JAMMY = """PRETTY_NAME="Ubuntu 22.04.4 LTS"
VERSION_ID="22.04"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
"""


def dpkg_status(packages: Iterable[tuple[str, str, str]]) -> str:
    """(binary, source or "source (version)", version) -> dpkg status stanzas."""
    stanzas = []
    for name, source, version in packages:
        lines = [f"Package: {name}", "Status: install ok installed", "Architecture: amd64"]
        if source:
            lines.append(f"Source: {source}")
        lines.append(f"Version: {version}")
        stanzas.append("\n".join(lines))
    return "\n\n".join(stanzas) + "\n"


def real_kev(cves: Iterable[str]) -> dict[str, Any]:
    """CISA's real catalog cut down to some entries (still valid against CISA's schema)."""
    catalog = json.loads(REAL_KEV.read_text())
    wanted = set(cves)
    catalog["vulnerabilities"] = [v for v in catalog["vulnerabilities"] if v["cveID"] in wanted]
    catalog["count"] = len(catalog["vulnerabilities"])
    return catalog


def tracker_entry(releases: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"description": "test entry", "releases": releases}


# The tracker as these tests plant it: libwebp and glibc fixed in bookworm; bash fixed in
# bullseye only; openssl not affected in bookworm; git open; the kernel fixed in 6.1.76-1.
TRACKER: dict[str, Any] = {
    "libwebp": {"CVE-2023-4863": tracker_entry({
        "bookworm": {"status": "resolved", "fixed_version": "1.2.4-0.2+deb12u1", "urgency": "not yet assigned"},
        "bullseye": {"status": "resolved", "fixed_version": "0.6.1-2.1+deb11u2", "urgency": "not yet assigned"}})},
    "glibc": {"CVE-2023-4911": tracker_entry({
        "bookworm": {"status": "resolved", "fixed_version": "2.36-9+deb12u3", "urgency": "not yet assigned"}})},
    "bash": {"CVE-2014-6271": tracker_entry({
        "bullseye": {"status": "resolved", "fixed_version": "4.3-9.1", "urgency": "not yet assigned"}})},
    "openssl": {"CVE-2014-0160": tracker_entry({
        "bookworm": {"status": "resolved", "fixed_version": "0", "urgency": "unimportant"}})},
    "git": {"CVE-2025-48384": tracker_entry({
        "bookworm": {"status": "open", "urgency": "not yet assigned", "nodsa": "Will be fixed in point release",
                     "nodsa_reason": ""}})},
    "chromium": {"CVE-2024-4947": tracker_entry({
        "bookworm": {"status": "undetermined", "urgency": "not yet assigned"}})},
    "linux": {"CVE-2024-1086": tracker_entry({
        "bookworm": {"status": "resolved", "fixed_version": "6.1.76-1", "urgency": "not yet assigned"}})},
}
CVES = ("CVE-2023-4863", "CVE-2023-4911", "CVE-2014-6271", "CVE-2014-0160", "CVE-2025-48384", "CVE-2024-4947",
        "CVE-2024-1086")


def feed_dir(path: Path, tracker: dict[str, Any] | None = None, kev: dict[str, Any] | None = None,
             extra: dict[str, Any] | None = None) -> Path:
    """A directory as a user would hand to `feeds update --from`; names are deliberately unhelpful."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "a.json").write_text(json.dumps(kev if kev is not None else real_kev(CVES)))
    (path / "b").write_text(json.dumps(tracker if tracker is not None else TRACKER))
    (path / "notes.txt").write_text("not a feed\n")
    for name, value in (extra or {}).items():
        (path / name).write_text(json.dumps(value))
    return path


UTC = dt.timezone.utc
LIBWEBP_OLD = ("libwebp7", "libwebp", "1.2.4-0.2")  # below bookworm's fixed 1.2.4-0.2+deb12u1
LIBWEBP_FIXED = ("libwebp7", "libwebp", "1.2.4-0.2+deb12u1")


@pytest.fixture
def store(tmp_path: Path) -> Callable[..., FeedStore]:
    """A feed store filled through the CLI, as a user would."""

    def make(source: Path | None = None, **kwargs: Any) -> FeedStore:
        directory = tmp_path / "store"
        src = source or feed_dir(tmp_path / "src", **kwargs)
        result = CliRunner().invoke(main, ["feeds", "update", "--from", str(src), "--feeds-dir", str(directory)])
        assert result.exit_code == 0, result.output
        return FeedStore(str(directory), explicit=True)

    return make


def scan(root: Path, feeds: FeedStore, now: dt.datetime = dt.datetime(2026, 11, 26, tzinfo=UTC),
         host: Any = None, directives: Sequence[str] = ("BOD-22-01",)) -> dict[str, Any]:
    report = Scan(host or RootfsHost(str(root)), load_library(), Selection(tuple(directives)), now=now,
                  feeds=feeds).run()
    assert validation_errors(report) == []
    return report


def statuses(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {(r["key"], r["status"]) for r in report["results"]}


def result(report: dict[str, Any], key: str) -> dict[str, Any]:
    return next(r for r in report["results"] if r["key"] == key)


def debian_root(make_root: Callable[..., Path], *packages: tuple[str, str, str], release: str = BOOKWORM) -> Path:
    return make_root({"/etc/os-release": release, "/var/lib/dpkg/status": dpkg_status(packages)})


def test_planted_vulnerable_version_is_found_with_kev_due_date(make_root: Callable[..., Path], store: Any) -> None:
    root = debian_root(make_root, LIBWEBP_OLD, ("libc6", "glibc", "2.36-9+deb12u4"))
    report = scan(root, store())
    assert statuses(report) == {("BOD-22-01.1#CVE-2023-4863", "fail"), ("BOD-22-01.1#running-kernel", "not_applicable")}
    found = result(report, "BOD-22-01.1#CVE-2023-4863")
    assert (found["cve"], found["due"], found["overdue"]) == ("CVE-2023-4863", "2023-10-04", True)
    package = found["fields"]["packages"][0]
    assert (package["package"], package["installed_version"], package["fixed_version"]) == \
        ("libwebp", "1.2.4-0.2", "1.2.4-0.2+deb12u1")
    assert found["fields"]["kev"]["date_added"] == "2023-09-13"
    assert found["fields"]["kev"]["known_ransomware_use"] == "Unknown"
    assert found["fields"]["kev"]["required_action"].startswith("Apply")
    assert report["summary"]["compliant"] is False


def test_not_overdue_before_the_due_date(make_root: Callable[..., Path], store: Any) -> None:
    root = debian_root(make_root, LIBWEBP_OLD)
    found = result(scan(root, store(), now=dt.datetime(2023, 9, 20, tzinfo=UTC)), "BOD-22-01.1#CVE-2023-4863")
    assert (found["status"], found["overdue"], found["days_left"]) == ("fail", False, 14)


def test_fixed_version_is_not_found(make_root: Callable[..., Path], store: Any) -> None:
    root = debian_root(make_root, LIBWEBP_FIXED, ("libc6", "glibc", "2.36-9+deb12u3"))
    assert statuses(scan(root, store())) == {("BOD-22-01.1#packages", "pass"),
                                            ("BOD-22-01.1#running-kernel", "not_applicable")}


def test_not_affected_entry_is_not_found(make_root: Callable[..., Path], store: Any) -> None:
    root = debian_root(make_root, ("libssl3", "openssl", "3.0.11-1~deb12u2"))
    assert ("BOD-22-01.1#packages", "pass") in statuses(scan(root, store()))


def test_fix_data_of_another_release_is_not_used(make_root: Callable[..., Path], store: Any) -> None:
    # bash is fixed in bullseye only: on bookworm the tracker says nothing about it.
    root = debian_root(make_root, ("bash", "", "4.2+dfsg-1"))
    assert ("BOD-22-01.1#packages", "pass") in statuses(scan(root, store()))
    # On bullseye the bullseye line applies, never bookworm's (libwebp 0.6.1-2.1+deb11u2 is fixed there).
    bullseye = debian_root(make_root, ("bash", "", "4.2+dfsg-1"), ("libwebp6", "libwebp", "0.6.1-2.1+deb11u2"),
                           release=BULLSEYE)
    report = scan(bullseye, store())
    assert statuses(report) == {("BOD-22-01.1#CVE-2014-6271", "fail")}


def test_open_cve_without_fix_and_undetermined(make_root: Callable[..., Path], store: Any) -> None:
    root = debian_root(make_root, ("git", "", "1:2.39.5-0+deb12u2"), ("chromium", "", "120.0.6099.224-1~deb12u1"))
    report = scan(root, store())
    assert statuses(report) == {("BOD-22-01.1#CVE-2025-48384", "fail"), ("BOD-22-01.1#CVE-2024-4947", "error"),
                                ("BOD-22-01.1#running-kernel", "not_applicable")}
    assert result(report, "BOD-22-01.1#CVE-2025-48384")["fields"]["packages"][0]["fix"] == "no fix released"


def test_source_version_is_compared_not_binary_version(make_root: Callable[..., Path], store: Any) -> None:
    # A binary whose own version differs from its source's: the source version decides.
    root = debian_root(make_root, ("libwebp7", "libwebp (1.2.4-0.2)", "9:9.9-9"))
    assert ("BOD-22-01.1#CVE-2023-4863", "fail") in statuses(scan(root, store()))


class LiveRoot(RootfsHost):
    """A fixture root standing in for a running system: /proc files are planted, sockets given."""

    live = True

    def __init__(self, root: str, sockets: list[tuple[str, str, int, str, int]], addresses: list[str]) -> None:
        super().__init__(root)
        self._sockets, self._addresses = sockets, addresses

    def sockets(self) -> list[tuple[str, str, int, str, int]]:
        return self._sockets

    def addresses(self) -> list[str]:
        return self._addresses


def kernel_root(make_root: Callable[..., Path], running: str, image_version: str) -> Path:
    return make_root({
        "/etc/os-release": BOOKWORM,
        "/proc/sys/kernel/osrelease": running + "\n",
        "/var/lib/dpkg/status": dpkg_status([
            (f"linux-image-{running}", "linux-signed-amd64 (6.1.69+1)", image_version),
            ("linux-libc-dev", "linux", "6.1.187-1"),  # headers: never the running kernel
        ]),
    })


def test_running_kernel_is_matched_to_its_image_package(make_root: Callable[..., Path], store: Any) -> None:
    feeds = store()
    old = kernel_root(make_root, "6.1.0-17-amd64", "6.1.69-1")
    report = scan(old, feeds, host=LiveRoot(str(old), [], ["127.0.0.1"]))
    assert statuses(report) == {("BOD-22-01.1#CVE-2024-1086", "fail")}
    package = result(report, "BOD-22-01.1#CVE-2024-1086")["fields"]["packages"][0]
    assert (package["installed_version"], package["binaries"]) == ("6.1.69-1", ["linux-image-6.1.0-17-amd64 (running kernel)"])
    new = kernel_root(make_root, "6.1.0-18-amd64", "6.1.76-1")
    assert statuses(scan(new, feeds, host=LiveRoot(str(new), [], []))) == {("BOD-22-01.1#packages", "pass")}


def test_kernel_not_from_a_package_and_offline_image(make_root: Callable[..., Path], store: Any) -> None:
    feeds = store()
    root = kernel_root(make_root, "6.1.0-17-amd64", "6.1.69-1")
    (root / "proc/sys/kernel/osrelease").write_text("6.18.4-custom\n")
    live = scan(root, feeds, host=LiveRoot(str(root), [], []))
    assert statuses(live) == {("BOD-22-01.1#packages", "pass"), ("BOD-22-01.1#running-kernel", "not_applicable")}
    assert "6.18.4-custom is not installed from the distro's packages" in \
        result(live, "BOD-22-01.1#running-kernel")["message"]
    offline = scan(root, feeds)
    assert "offline image has no running kernel" in result(offline, "BOD-22-01.1#running-kernel")["message"]


@pytest.mark.parametrize(
    ("sockets", "due", "inputs"),
    [
        # exposed, automatable no (CISA SSVC), technical impact total: 14 days after 2023-09-13
        ([("tcp", "0.0.0.0", 443, "nginx", 10)], "2023-09-27",
         {"exposed": "yes", "kev": "yes", "automatable": "no", "technical_impact": "total"}),
        # not exposed (loopback only), automatable no: 60 days
        ([("tcp", "127.0.0.1", 443, "nginx", 10)], "2023-11-12",
         {"exposed": "no", "kev": "yes", "automatable": "no", "technical_impact": "total"}),
    ],
)
def test_risk_table_uses_exposure_and_ssvc(make_root: Callable[..., Path], store: Any, tmp_path: Path,
                                          sockets: list[tuple[str, str, int, str, int]], due: str,
                                          inputs: dict[str, str]) -> None:
    src = feed_dir(tmp_path / "src")
    (src / "cve").mkdir()
    (src / "cve" / "record.json").write_bytes((DATA / "vulnrichment" / "CVE-2023-4863.json").read_bytes())
    root = debian_root(make_root, LIBWEBP_OLD)
    host = LiveRoot(str(root), sockets, ["127.0.0.1", "192.0.2.10", "8.8.4.4"])
    report = scan(root, store(src), host=host, directives=("KEV-TIERED",))
    found = result(report, "KEV-TIERED.1#CVE-2023-4863")
    assert (found["status"], found["due"], found["fields"]["inputs"]) == ("fail", due, inputs)


def test_risk_table_unknown_inputs_take_the_worse_tier(make_root: Callable[..., Path], store: Any) -> None:
    # Offline image: exposure unknown; no SSVC data: automatable and impact unknown -> 3 days.
    root = debian_root(make_root, LIBWEBP_OLD)
    found = result(scan(root, store(), directives=("KEV-TIERED",)), "KEV-TIERED.1#CVE-2023-4863")
    assert (found["due"], found["fields"]["inputs"]["exposed"]) == ("2023-09-16", "unknown")


def test_defer_row_gives_manual_without_deadline(make_root: Callable[..., Path], store: Any, tmp_path: Path) -> None:
    directive = tmp_path / "tiered.yaml"
    text = (Path(__file__).parents[2] / "directives/library/kev-tiered.yaml").read_text()
    directive.write_text(text.replace("id: KEV-TIERED", "id: KEV-DEFER").replace("KEV-TIERED.1", "KEV-DEFER.1")
                         .replace("- when: {exposed: [\"yes\", unknown], kev: \"yes\", automatable",
                                  "- when: {exposed: [never], kev: \"yes\", automatable")
                         .replace("- when: {exposed: [\"yes\", unknown], kev: \"yes\"}\n            days: 14",
                                  "- when: {exposed: [\"yes\", unknown]}\n            defer: true"))
    from directives import load_file

    root = debian_root(make_root, LIBWEBP_OLD)
    report = Scan(RootfsHost(str(root)), [load_file(str(directive))], now=dt.datetime(2026, 1, 1, tzinfo=UTC),
                  feeds=store()).run()
    found = result(report, "KEV-DEFER.1#CVE-2023-4863")
    assert (found["status"], found["due"], found["overdue"]) == ("manual", None, False)


def test_osv_advisories_cover_other_distros(make_root: Callable[..., Path], store: Any, tmp_path: Path) -> None:
    advisory = {
        # Laid out as Ubuntu publishes it: the CVE id only in "related", beside the USNs.
        "schema_version": "1.6.3", "id": "UBUNTU-CVE-2023-4863", "modified": "2023-09-12T15:15:00Z",
        "aliases": [], "related": ["CVE-2023-4863", "USN-6367-1", "USN-6368-1"],
        "affected": [{"package": {"ecosystem": "Ubuntu:22.04:LTS", "name": "libwebp"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2.2-2ubuntu0.22.04.2"}]}]}],
    }
    src = feed_dir(tmp_path / "src", extra={"u.json": [advisory]})
    (src / "b").unlink()  # no Debian tracker
    feeds = store(src)
    old = debian_root(make_root, ("libwebp7", "libwebp", "1.2.2-2ubuntu0.22.04.1"), release=JAMMY)
    assert ("BOD-22-01.1#CVE-2023-4863", "fail") in statuses(scan(old, feeds))
    new = debian_root(make_root, ("libwebp7", "libwebp", "1.2.2-2ubuntu0.22.04.2"), release=JAMMY)
    assert ("BOD-22-01.1#packages", "pass") in statuses(scan(new, feeds))


def test_no_fix_data_for_the_release_is_an_error(make_root: Callable[..., Path], store: Any) -> None:
    feeds = store()
    root = debian_root(make_root, LIBWEBP_OLD, release=JAMMY)
    report = scan(root, feeds)
    assert statuses(report) == {("BOD-22-01.1", "error")}
    assert "feeds update" in result(report, "BOD-22-01.1")["message"]
    # A Debian release the tracker data says nothing about is not covered, rather than clean.
    trixie = debian_root(make_root, LIBWEBP_OLD, release=BOOKWORM.replace("bookworm", "trixie").replace("12", "13"))
    assert "no fix data for debian trixie" in result(scan(trixie, feeds), "BOD-22-01.1")["message"]


def test_report_says_feed_age_and_warns_when_stale(make_root: Callable[..., Path], store: Any) -> None:
    root = debian_root(make_root, LIBWEBP_FIXED)
    report = scan(root, store(), now=dt.datetime(2026, 11, 26, 12, tzinfo=UTC))
    kev = next(f for f in report["scan"]["feeds"] if f["name"] == "kev")
    assert (kev["version"], kev["stale"], kev["released"]) == ("2025.08.25", True, "2025-08-25T17:04:19Z")
    assert kev["age_hours"] == pytest.approx(10987, abs=1)
    assert any("CISA KEV catalog 2025.08.25 is 458 days old" in w for w in report["warnings"])
    fresh = scan(root, store(), now=dt.datetime(2025, 8, 25, 20, tzinfo=UTC))
    assert [f["stale"] for f in fresh["scan"]["feeds"] if f["name"] == "kev"] == [False]
    assert not any("KEV" in w for w in fresh["warnings"])


def test_every_report_names_the_kev_snapshot(make_root: Callable[..., Path]) -> None:
    root = debian_root(make_root, LIBWEBP_FIXED)
    report = scan(root, FeedStore(None), directives=("BOD-23-02",))
    assert [(f["name"], f["version"], f["source"]) for f in report["scan"]["feeds"]] == \
        [("kev", "2025.08.25", "shipped snapshot")]
    table = CliRunner().invoke(main, ["scan", "--root", str(root), "--directive", "BOD-23-02",
                                      "--feeds-dir", str(root.parent / "nowhere")])
    assert table.exit_code == 2 and "no such feeds directory" in table.output


def test_cli_table_shows_feeds_and_exit_codes(make_root: Callable[..., Path], store: Any, tmp_path: Path) -> None:
    feeds = store()
    root = debian_root(make_root, LIBWEBP_OLD)
    out = CliRunner().invoke(main, ["scan", "--root", str(root), "--directive", "BOD-22-01",
                                    "--feeds-dir", feeds.directory])
    assert out.exit_code == 1, out.output
    assert "BOD-22-01.1#CVE-2023-4863" in out.output and "2023-10-04 OVERDUE" in out.output
    assert "feeds: CISA KEV catalog 2025.08.25 (458 days old, stale)" in out.output or "days old, stale" in out.output
    assert "warning: CISA KEV catalog 2025.08.25" in out.output
    report = json.loads(CliRunner().invoke(main, ["scan", "--root", str(root), "--directive", "BOD-22-01",
                                                  "--feeds-dir", feeds.directory, "--format", "json"]).output)
    assert validation_errors(report) == []


# --- feeds: update, status, errors --------------------------------------------------------


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def error_line(result: Any) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def test_shipped_snapshot_is_cisa_valid_and_matches_its_manifest() -> None:
    from agent.feeds import kev

    shipped = FeedStore(None)
    info = shipped.feeds()["kev"]
    catalog = shipped.read(info)  # checks the sha256 in the manifest
    kev.validate(catalog, info.file)
    assert (catalog["catalogVersion"], catalog["count"], len(catalog["vulnerabilities"])) == ("2025.08.25", 1404, 1404)


def test_update_recognizes_files_by_content(tmp_path: Path) -> None:
    src = feed_dir(tmp_path / "src")
    (src / "deep").mkdir()
    (src / "deep" / "x").write_bytes((DATA / "vulnrichment" / "CVE-2023-4863.json").read_bytes())
    out = run_cli("feeds", "update", "--from", str(src), "--feeds-dir", str(tmp_path / "store"))
    assert out.exit_code == 0, out.output
    assert "kev             CISA KEV catalog 2025.08.25  (7 entries)" in out.output
    assert "debian-tracker  Debian security tracker" in out.output
    assert "vulnrichment    CISA Vulnrichment SSVC 2023-11-28T05:00Z  (SSVC for 1 CVEs of KEV 2025.08.25)" in out.output
    assert "ignored 1 file(s) that are not feeds" in out.output
    status = run_cli("feeds", "status", "--feeds-dir", str(tmp_path / "store"), "--format", "json")
    assert [f["name"] for f in json.loads(status.output)["feeds"]] == ["kev", "debian-tracker", "vulnrichment"]
    table = run_cli("feeds", "status", "--feeds-dir", str(tmp_path / "store"))
    assert "STALE (older than 24 hours)" in table.output and "source: " + str(src / "a.json") in table.output


def test_distro_data_is_cut_to_the_kev_catalog(tmp_path: Path) -> None:
    tracker = dict(TRACKER, zlib={"CVE-2022-37434": tracker_entry({"bookworm": {"status": "resolved",
                                                                              "fixed_version": "1:1.2.13.dfsg-1"}})})
    out = run_cli("feeds", "update", "--from", str(feed_dir(tmp_path / "src", tracker=tracker)),
                  "--feeds-dir", str(tmp_path / "store"))
    assert out.exit_code == 0, out.output
    stored = json.loads((tmp_path / "store" / "current" / "debian-tracker.json").read_text())
    assert "zlib" not in stored and set(stored) == set(TRACKER)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "corrupt: not JSON"),
        (json.dumps({"catalogVersion": "x", "dateReleased": "2025-01-01T00:00:00Z", "count": 1,
                     "vulnerabilities": [{"cveID": "CVE-1"}]}), "not a valid KEV catalog: $.vulnerabilities[0]"),
    ],
)
def test_update_with_a_corrupt_file_fails_and_changes_nothing(tmp_path: Path, content: str, problem: str) -> None:
    store = tmp_path / "store"
    assert run_cli("feeds", "update", "--from", str(feed_dir(tmp_path / "good")), "--feeds-dir", str(store)).exit_code == 0
    before = sorted(p.name for p in store.iterdir()), (store / "current" / "manifest.json").read_bytes()
    bad = feed_dir(tmp_path / "bad")
    (bad / "broken.json").write_text(content)
    out = run_cli("feeds", "update", "--from", str(bad), "--feeds-dir", str(store))
    assert out.exit_code == 2
    assert error_line(out) .startswith(f"fedharden: {bad / 'broken.json'}: {problem}")
    assert (sorted(p.name for p in store.iterdir()), (store / "current" / "manifest.json").read_bytes()) == before


def test_update_with_nothing_recognized(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "README").write_text("hello\n")
    out = run_cli("feeds", "update", "--from", str(tmp_path / "src"), "--feeds-dir", str(tmp_path / "store"))
    assert out.exit_code == 2 and "no feed recognized" in error_line(out)
    assert not (tmp_path / "store").exists()


def test_scan_with_a_corrupt_or_missing_feed_file_exits_2(make_root: Callable[..., Path], store: Any) -> None:
    feeds = store()
    root = debian_root(make_root, LIBWEBP_OLD)
    tracker = Path(feeds.directory) / "current" / "debian-tracker.json"
    tracker.write_text(tracker.read_text().replace("1.2.4-0.2+deb12u1", "1.2.4-0.1"))
    out = run_cli("scan", "--root", str(root), "--feeds-dir", feeds.directory)
    assert out.exit_code == 2
    assert error_line(out) == (f"fedharden: {tracker.resolve()}: corrupt: its sha256 does not match the feed "
                               f"manifest (run `fedharden feeds update`)")
    tracker.unlink()
    out = run_cli("scan", "--root", str(root), "--feeds-dir", feeds.directory)
    assert out.exit_code == 2 and error_line(out).startswith(f"fedharden: {tracker.resolve()}: missing")
    (tracker.parent / "manifest.json").write_text("{")
    out = run_cli("scan", "--root", str(root), "--feeds-dir", feeds.directory)
    assert out.exit_code == 2 and "manifest.json: corrupt feed manifest" in error_line(out)


def test_update_from_a_url(tmp_path: Path) -> None:
    """A real HTTP server on loopback serving the files, as a collector or mirror would."""
    import functools
    import http.server
    import threading

    import requests

    src = feed_dir(tmp_path / "src")
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(src))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        from agent.feeds.update import update

        store = FeedStore(str(tmp_path / "store"))
        installed, _ = update(store, (f"{base}/a.json", f"{base}/b"), requests.Session())
        assert [(i.name, i.source) for i in installed] == [("kev", f"{base}/a.json"), ("debian-tracker", f"{base}/b")]
        tracker = store.feeds()["debian-tracker"]
        assert not tracker.stale(dt.datetime.now(UTC))
        out = run_cli("feeds", "update", "--from", f"{base}/missing.json", "--feeds-dir", str(tmp_path / "store"))
        assert out.exit_code == 3 and "HTTP 404" in error_line(out)
    finally:
        server.shutdown()
        server.server_close()


# --- the real data ---------------------------------------------------------------------


def test_real_tracker_on_the_real_debian_root(debian_rootfs: Path, store: Any, make_root: Callable[..., Path]) -> None:
    """CISA's real catalog and the real Debian tracker subset, on a real debootstrapped bookworm."""
    feeds = store(DATA / "debian-tracker")
    report = scan(debian_rootfs, feeds)
    assert statuses(report) == {("BOD-22-01.1#packages", "pass"), ("BOD-22-01.1#running-kernel", "not_applicable")}
    assert "25 KEV CVEs in the kernel" in result(report, "BOD-22-01.1#running-kernel")["message"]
    # The same root with glibc planted one security update behind the fix for CVE-2023-4911
    # (Looney Tunables) is found, with CISA's due date.
    status = (debian_rootfs / "var/lib/dpkg/status").read_text()
    version = next(s for s in status.split("\n\n") if s.startswith("Package: libc6\n")).split("Version: ")[1].split("\n")[0]
    planted = make_root({"/etc/os-release": (debian_rootfs / "etc/os-release").read_text(),
                         "/var/lib/dpkg/status": status.replace(f"Version: {version}\n", "Version: 2.36-9+deb12u1\n")})
    report = scan(planted, feeds)
    assert statuses(report) == {("BOD-22-01.1#CVE-2023-4911", "fail"), ("BOD-22-01.1#running-kernel", "not_applicable")}
    found = result(report, "BOD-22-01.1#CVE-2023-4911")
    assert (found["due"], found["overdue"], found["fields"]["packages"][0]["fixed_version"]) == \
        ("2023-12-12", True, "2.36-9+deb12u3")


def test_scan_with_kev_does_not_import_requests_or_jsonschema(make_root: Callable[..., Path], store: Any) -> None:
    """Feeds are validated when they enter the store; a scan only checks digests."""
    import subprocess
    import sys

    feeds = store()
    root = debian_root(make_root, LIBWEBP_OLD)
    code = ("import sys\nfrom agent.cli import main\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
            "print(code, sorted(m for m in ('requests', 'jsonschema') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code, "scan", "--root", str(root), "--feeds-dir", feeds.directory,
                           "--format", "json", "--output", str(root.parent / "r.json")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.stdout.split("\n")[-2] == "1 []", proc.stdout + proc.stderr


# --- RPM images: the SQLite rpmdb read without rpm ----------------------------------------

ROCKY = 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\nPRETTY_NAME="Rocky Linux 9.3"\n'


def rpm_image(base: Path, packages: Sequence[tuple[str, str, str, str]]) -> Path:
    """A root whose /var/lib/rpm/rpmdb.sqlite is written by the real rpm (packages built with
    rpmbuild, recorded with --justdb): (name, epoch, version, release)."""
    import subprocess

    top, root = base / "rpmbuild", base / "image"
    (top / "SPECS").mkdir(parents=True)
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text(ROCKY)
    built = []
    for name, epoch, version, release in packages:
        spec = top / "SPECS" / f"{name}.spec"
        spec.write_text(f"Name: {name}\nEpoch: {epoch}\nVersion: {version}\nRelease: {release}\nSummary: t\n"
                        f"License: MIT\nBuildArch: noarch\n%description\nt\n%files\n")
        subprocess.run(["rpmbuild", "--define", f"_topdir {top}", "-bb", str(spec)], check=True,
                       capture_output=True, timeout=120)
        built.append(str(top / "RPMS" / "noarch" / f"{name}-{version}-{release}.noarch.rpm"))
    rpm = ["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm"]
    subprocess.run([*rpm, "--initdb"], check=True, capture_output=True, timeout=60)
    subprocess.run([*rpm, "-i", "--justdb", "--nodeps", "--noscripts", *built], check=True, capture_output=True,
                   timeout=120)
    return root


def test_rpm_image_is_read_offline_and_judged_with_osv(tmp_path: Path, store: Any) -> None:
    advisory = {
        "schema_version": "1.6.0", "id": "RLSA-TEST-4911", "modified": "2023-10-10T00:00:00Z",
        "related": ["CVE-2023-4911"],
        "affected": [{"package": {"ecosystem": "Rocky Linux:9", "name": "glibc"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "0:2.34-83.el9_3.7"}]}]}],
    }
    src = feed_dir(tmp_path / "src", extra={"rocky.json": advisory})
    feeds = store(src)
    old = rpm_image(tmp_path / "old", [("glibc", "0", "2.34", "60.el9"), ("bash", "0", "5.1.8", "6.el9_1")])
    report = scan(old, feeds)
    assert statuses(report) == {("BOD-22-01.1#CVE-2023-4911", "fail")}
    package = result(report, "BOD-22-01.1#CVE-2023-4911")["fields"]["packages"][0]
    assert (package["installed_version"], package["fixed_version"]) == ("0:2.34-60.el9", "0:2.34-83.el9_3.7")
    new = rpm_image(tmp_path / "new", [("glibc", "0", "2.34", "83.el9_3.7")])
    assert statuses(scan(new, feeds)) == {("BOD-22-01.1#packages", "pass")}


def test_rpm_databases_that_cannot_be_read_offline(make_root: Callable[..., Path], store: Any) -> None:
    feeds = store()
    bdb = make_root({"/etc/os-release": ROCKY, "/var/lib/rpm/Packages": b"\x00\x06\x15\x61" + b"\x00" * 60})
    assert "Berkeley DB format" in result(scan(bdb, feeds), "BOD-22-01.1")["message"]
    broken = make_root({"/etc/os-release": ROCKY, "/var/lib/rpm/rpmdb.sqlite": b"SQLite format 3\x00" + b"\x01" * 200})
    assert "not an RPM SQLite database" in result(scan(broken, feeds), "BOD-22-01.1")["message"]


def test_distro_data_cut_to_an_older_catalog_is_warned_about(make_root: Callable[..., Path], store: Any,
                                                            tmp_path: Path) -> None:
    feeds = store()
    newer = real_kev(CVES)
    newer["catalogVersion"], newer["dateReleased"] = "2025.09.01", "2025-09-01T12:00:00.000Z"
    (tmp_path / "kev-only").mkdir()
    (tmp_path / "kev-only" / "catalog.json").write_text(json.dumps(newer))
    out = run_cli("feeds", "update", "--from", str(tmp_path / "kev-only"), "--feeds-dir", feeds.directory)
    assert out.exit_code == 0, out.output
    report = scan(debian_root(make_root, LIBWEBP_OLD), FeedStore(feeds.directory, explicit=True))
    assert [f["version"] for f in report["scan"]["feeds"]][:1] == ["2025.09.01"]
    assert any("cut to the CVEs of KEV catalog 2025.08.25, but catalog 2025.09.01 is in use" in w
               for w in report["warnings"])


def test_concurrent_updates_leave_one_complete_generation(tmp_path: Path) -> None:
    import threading

    from agent.feeds.update import update

    src = feed_dir(tmp_path / "src")
    errors: list[BaseException] = []

    def run() -> None:
        try:
            update(FeedStore(str(tmp_path / "store")), (str(src),))
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    generations = [p.name for p in (tmp_path / "store").iterdir() if p.name.startswith("gen-")]
    assert len(generations) == 1
    store = FeedStore(str(tmp_path / "store"), explicit=True)
    assert [store.read(info) is not None for info in store.feeds().values()] == [True, True]


def test_trixie_root_reads_trixie_fix_data(trixie_rootfs: Path, store: Any, make_root: Callable[..., Path],
                                           tmp_path: Path) -> None:
    """On a real debootstrapped Debian 13 the tracker's trixie records decide, never bookworm's.

    The tracker data is the real bookworm subset plus the trixie record the tracker holds for
    CVE-2023-4911 (glibc, fixed in 2.37-12 before trixie branched). A trixie glibc planted at
    2.37-10 is newer than bookworm's fix (2.36-9+deb12u3) but older than trixie's: only a scanner
    that reads the target's own release finds it."""
    tracker = json.loads((DATA / "debian-tracker" / "kev-bookworm.json").read_text())
    tracker["glibc"]["CVE-2023-4911"]["releases"]["trixie"] = {
        "status": "resolved", "repositories": {"trixie": "2.41-12"}, "fixed_version": "2.37-12",
        "urgency": "not yet assigned"}
    src = tmp_path / "tracker"
    src.mkdir()
    (src / "kev-trixie.json").write_text(json.dumps(tracker))
    feeds = store(src)
    report = scan(trixie_rootfs, feeds)
    assert result(report, "BOD-22-01.1#packages")["status"] == "pass"
    status = (trixie_rootfs / "var/lib/dpkg/status").read_text()
    version = next(s for s in status.split("\n\n") if s.startswith("Package: libc6\n")).split("Version: ")[1].split("\n")[0]
    planted = make_root({"/etc/os-release": (trixie_rootfs / "etc/os-release").read_text(),
                         "/var/lib/dpkg/status": status.replace(f"Version: {version}\n", "Version: 2.37-10\n")})
    report = scan(planted, feeds)
    found = result(report, "BOD-22-01.1#CVE-2023-4911")
    assert found["status"] == "fail" and found["fields"]["packages"][0]["fixed_version"] == "2.37-12"


def test_without_fix_data_the_catalog_is_not_parsed_but_still_verified(make_root: Callable[..., Path],
                                                                      tmp_path: Path) -> None:
    """With only the KEV catalog (no distribution data) nothing can be matched to it, so a scan
    takes its version from the manifest: the two must agree, and a catalog whose bytes no longer
    match the manifest is still refused."""
    import shutil

    from agent.feeds.store import FeedError

    shipped = tmp_path / "shipped"
    shutil.copytree(FeedStore(None).shipped, shipped)
    store = FeedStore(None, shipped=str(shipped))
    info = store.feeds()["kev"]
    assert json.loads(Path(info.file).read_bytes())["catalogVersion"] == info.version
    root = debian_root(make_root, LIBWEBP_OLD)
    report = scan(root, store)
    assert store.parsed == {}  # the catalog was never parsed
    assert report["scan"]["feeds"][0]["version"] == "2025.08.25"
    catalog = Path(info.file)
    catalog.write_bytes(catalog.read_bytes().replace(b"2025.08.25", b"2025.08.26", 1))
    with pytest.raises(FeedError, match="corrupt: its sha256 does not match"):
        scan(root, FeedStore(None, shipped=str(shipped)))
