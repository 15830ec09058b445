"""Signed directive updates, end to end on this machine: CISA's repository and an agency's
delegation made with real keys (directives.tufrepo), served by a real HTTP server on loopback,
fetched and verified by the real python-tuf client (agent.directive_updates), installed into a
state directory and evaluated by the command line.

Every attack is refused with one line naming what was wrong, and the set installed before stays
in force, byte for byte."""
from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner

from agent import directive_store as store
from agent.cli import main
from agent.directive_updates import UpdateRefused, UpdateUnavailable, install_bundle, refresh, trust
from directives import tufrepo
from tests.tufsite import (
    Server, Site, build_template, copy_site, installed_state, national_source, past, rewrite_json, serve,
)

pytestmark = pytest.mark.slow  # an HTTP server and a TUF client per test, about 30 s in all


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return build_template(tmp_path_factory.mktemp("tuf") / "site")


@pytest.fixture
def site(template: Site, tmp_path: Path) -> Site:
    return copy_site(template, tmp_path / "site")


@pytest.fixture
def server(site: Site) -> Iterator[Server]:
    yield from serve(site.repo)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def update(server: Server, site: Site, state: Path, agency: str | None = "DOE"):  # type: ignore[no-untyped-def]
    return refresh(server.url, state, agency=agency, trusted_root=site.root)


def refused(server: Server, site: Site, state: Path, *words: str) -> str:
    """The update is refused with one line holding ``words``; the set in force is unchanged."""
    before = installed_state(state)
    with pytest.raises(UpdateRefused) as caught:
        update(server, site, state)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"directive update from {server.url} refused: "), message
    for word in words:
        assert word in message, message
    assert installed_state(state) == before
    assert not [p for p in (state / "directives").iterdir() if p.name.startswith(".tmp-")]
    return message


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


# -- what a host gets ---------------------------------------------------------------------------------


def test_cisa_and_the_agency_directives_are_installed_and_evaluated(site: Site, server: Server, state: Path) -> None:
    site.publish_agency()
    outcome = update(server, site, state)
    assert {(c.id, c.origin, c.version) for c in outcome.added} == {
        ("ED-26-99", "national", "1"), ("DOE-LOCAL-1", "agency-DOE", "")}
    assert outcome.versions["targets"] == site.current("targets")
    assert outcome.versions["agency-DOE"] == 1
    installed = store.current(state)
    assert installed is not None
    assert installed.manifest["data"] == ["directives/data/end_of_support.yaml"]
    assert installed.file("directives/data/end_of_support.yaml").read_bytes() == \
        (site.base / "src" / "data" / "end_of_support.yaml").read_bytes()
    # The scan's directives: the shipped library with both beside it.
    code, out, _ = cli("directives", "list", "--state-dir", str(state))
    assert code == 0
    ids = [line.split()[0] for line in out.splitlines()]
    assert {"ED-26-99", "DOE-LOCAL-1", "BOD-23-02", "HARDEN-30D"} <= set(ids)
    # A second update with nothing new changes nothing.
    again = update(server, site, state)
    assert not again.added and not again.changed
    assert {c.id for c in again.unchanged} == {"ED-26-99", "DOE-LOCAL-1"}


def test_an_agent_fetches_only_its_own_agency(site: Site, server: Server, state: Path) -> None:
    site.publish_agency()
    outcome = update(server, site, state, agency=None)
    assert {c.id for c in outcome.added} == {"ED-26-99"}
    other = update(server, site, state, agency="DHS")  # delegated to nobody: CISA's set only
    assert {c.id for c in other.unchanged} == {"ED-26-99"} and not other.added


def test_a_higher_version_of_a_shipped_directive_replaces_it(site: Site, server: Server, state: Path) -> None:
    site.publish(bod_version="2")
    update(server, site, state)
    code, out, _ = cli("directives", "show", "BOD-23-02", "--state-dir", str(state))
    assert code == 0 and "Mitigating the Risk (version 2)" in out and "version: 2" in out
    # Version 1 again, edited (a publisher's mistake publish itself refuses): not above the
    # shipped one, so the shipped file stays in force.
    files, index = tufrepo.collect(national_source(site.base / "src"), "directives/")
    text = (Path(tufrepo.__file__).parent / "library" / "bod-23-02.yaml").read_text().replace(
        "title: Mitigating the Risk from Internet-Exposed Management Interfaces", "title: Edited", 1)
    files["directives/bod-23-02.yaml"] = text.encode()
    from directives.loader import digest_of

    index["directives"].append({"id": "BOD-23-02", "version": "", "digest": digest_of(text),
                                "paths": ["directives/bod-23-02.yaml"]})
    tufrepo.publish_files(site.repo, site.keys, files, index)
    outcome = update(server, site, state)
    assert [(c.id, c.previous, c.version) for c in outcome.changed] == [("BOD-23-02", "2", "")]
    code, out, _ = cli("directives", "show", "BOD-23-02", "--state-dir", str(state))
    assert code == 0 and "Mitigating the Risk from Internet-Exposed Management Interfaces" in out
    code, out, _ = cli("directives", "status", "--state-dir", str(state))
    assert code == 0
    assert any(line.split()[:2] == ["BOD-23-02", "version"] and line.endswith("not used") for line in out.splitlines())
    assert "BOD-23-02 version 1 (national) left out: the shipped one is version 1" in out


def test_a_directive_withdrawn_by_cisa_leaves_the_host(site: Site, server: Server, state: Path) -> None:
    site.publish(bod_version="2")
    update(server, site, state)
    site.publish()
    outcome = update(server, site, state)
    assert [(c.id, c.origin) for c in outcome.removed] == [("BOD-23-02", "national")]


def test_the_scan_evaluates_a_signed_directive(site: Site, server: Server, state: Path, make_root) -> None:  # type: ignore[no-untyped-def]
    update(server, site, state, agency=None)
    root = make_root({"/etc/os-release": 'ID=debian\nVERSION_ID="12"\n', "/etc/sysctl.d/x.conf": "net.ipv4.ip_forward = 1\n"})
    code, out, err = cli("scan", "--root", str(root), "--directive", "ED-26-99", "--format", "json",
                         "--state-dir", str(state))
    report = json.loads(out)
    assert [(r["requirement"], r["status"]) for r in report["results"]] == [("ED-26-99.1", "fail")], err
    digest = "sha256:" + hashlib.sha256((site.base / "src" / "ed-26-99.yaml").read_bytes()).hexdigest()
    assert [(d["id"], d["digest"]) for d in report["directives"]] == [("ED-26-99", digest)]


def test_status_names_versions_signers_and_expiry(site: Site, server: Server, state: Path) -> None:
    code, out, _ = cli("directives", "status", "--state-dir", str(state))
    assert code == 0 and "no signed directives installed" in out
    site.publish_agency()
    update(server, site, state)
    code, out, _ = cli("directives", "status", "--state-dir", str(state))
    assert code == 0
    targets_key = json.loads((site.keys / "targets.pub.json").read_text())
    targets_keyid = tufrepo._keyid_of(targets_key)
    lines = out.splitlines()
    targets = next(line for line in lines if line.split()[0] == "targets")
    assert f"version {site.current('targets')}" in targets and f"signed by {targets_keyid[:16]}" in targets
    assert "expires" in next(line for line in lines if line.split()[0] == "timestamp")
    assert any(line.split()[:4] == ["DOE-LOCAL-1", "version", "1", "agency-DOE"] and line.endswith("in force")
               for line in lines)


# -- the chain of trust ----------------------------------------------------------------------------------


def test_the_client_follows_root_and_key_rotations(site: Site, server: Server, state: Path) -> None:
    update(server, site, state)
    tufrepo.rotate(site.repo, site.keys, "root")
    tufrepo.rotate(site.repo, site.keys, "timestamp")
    tufrepo.rotate(site.repo, site.keys, "targets")
    site.publish(version="2", title="IP forwarding is off, version 2")
    outcome = update(server, site, state)
    assert outcome.versions["root"] == 4
    assert [(c.id, c.previous, c.version) for c in outcome.changed] == [("ED-26-99", "1", "2")]
    # The old keys, retired, can no longer sign what hosts accept.
    assert len(list((site.keys / "retired").glob("*.timestamp.pem"))) == 1


def test_the_shipped_root_is_a_placeholder_nobody_can_sign_for(site: Site, server: Server, state: Path) -> None:
    with pytest.raises(UpdateRefused, match="not signed by enough trusted keys") as caught:
        refresh(server.url, state)
    assert str(caught.value).endswith("(this agent trusts the placeholder root shipped in the package: install the "
                                      "repository's with fedharden directives trust ROOT.json)")
    assert installed_state(state) == {}


def test_trust_installs_a_root_for_later_updates(site: Site, server: Server, state: Path) -> None:
    assert trust(site.root, state) == 1
    assert {c.id for c in refresh(server.url, state).added} == {"ED-26-99"}
    bogus = state.parent / "bogus.json"
    bogus.write_text(site.root.read_text().replace('"version": 1', '"version": 7'))
    code, _, err = cli("directives", "trust", str(bogus), "--state-dir", str(state))
    assert code == 2 and err.count("\n") == 1 and "not a root signed by its own keys" in err


# -- attacks, each refused -----------------------------------------------------------------------------------


def test_a_tampered_target_is_refused(site: Site, server: Server, state: Path) -> None:
    update(server, site, state)
    site.publish(version="2")
    path = next((site.repo / "targets" / "directives").glob("*.ed-26-99.yaml"), None)
    for target in (site.repo / "targets" / "directives").glob("*.ed-26-99.yaml"):
        target.write_text(target.read_text().replace("severity: critical", "severity: low"))
    assert path is not None
    refused(server, site, state, "tampered", "ed-26-99.yaml")


def test_tampered_metadata_is_refused(site: Site, server: Server, state: Path) -> None:
    update(server, site, state)
    site.publish(version="2")
    targets = site.metadata(f"{site.current('targets')}.targets.json")
    rewrite_json(targets, lambda doc: doc["signed"].update(expires="2099-01-01T00:00:00Z"))
    refused(server, site, state, "not signed by enough trusted keys", "targets")


def test_an_expired_timestamp_is_refused_as_a_freeze(site: Site, server: Server, state: Path) -> None:
    update(server, site, state)
    # What a mirror that keeps serving yesterday's repository shows: a timestamp past its expiry.
    site.publish(version="2")
    tufrepo.renew(tufrepo.Repository(site.repo), tufrepo.KeyDir(site.keys), now=past(3))
    refused(server, site, state, "expired metadata (a freeze attack", "timestamp")


def test_an_older_snapshot_is_refused_as_a_rollback(site: Site, server: Server, state: Path) -> None:
    site.publish(version="2")
    update(server, site, state)
    # A timestamp, validly signed, that points back at an older snapshot.
    from tuf.api.metadata import MetaFile, Metadata, Timestamp

    repo, keys = tufrepo.Repository(site.repo), tufrepo.KeyDir(site.keys)
    old = site.current("snapshot") - 1
    data = site.metadata(f"{old}.snapshot.json").read_bytes()
    ts = repo.timestamp()
    forged = Metadata(Timestamp(version=ts.signed.version + 1, expires=ts.signed.expires,
                                snapshot_meta=MetaFile(old, len(data), {"sha256": hashlib.sha256(data).hexdigest()})))
    forged.sign(keys.signer("timestamp"))
    site.metadata("timestamp.json").write_bytes(forged.to_bytes())
    refused(server, site, state, "older metadata than already trusted (a rollback)", "snapshot")


def test_an_older_timestamp_is_refused_as_a_rollback(site: Site, server: Server, state: Path) -> None:
    saved = site.metadata("timestamp.json").read_bytes()
    site.publish(version="2")
    update(server, site, state)
    site.metadata("timestamp.json").write_bytes(saved)
    refused(server, site, state, "rollback", "timestamp")


def test_mixed_metadata_versions_are_refused(site: Site, server: Server, state: Path) -> None:
    update(server, site, state)
    site.publish(version="2")
    # The snapshot lists targets N; the server hands out targets N-1 under N's name.
    now = site.current("targets")
    shutil.copy(site.metadata(f"{now - 2}.targets.json"), site.metadata(f"{now}.targets.json"))
    refused(server, site, state, "mix-and-match", f"Expected targets v{now}, got v{now - 2}")


def test_the_import_refuses_an_agency_signing_outside_its_delegation(site: Site) -> None:
    from tuf.api.metadata import Metadata, TargetFile, Targets

    md = Metadata(Targets(version=1, expires=past(-30)))
    for path in ("agency/DOE/index.json", "directives/ed-26-99.yaml"):
        md.signed.targets[path] = TargetFile.from_data(path, b"x", ["sha256"])
    md.sign(tufrepo.KeyDir(site.agency_keys).signer("agency-DOE"))
    forged = site.base / "1.agency-DOE.json"
    forged.write_bytes(md.to_bytes())
    with pytest.raises(tufrepo.PublishError, match="signs directives/ed-26-99.yaml, outside its delegation agency/DOE/"):
        tufrepo.import_agency(site.repo, site.keys, forged)
    code, _, err = cli("directives", "import", str(forged), "--repo", str(site.repo), "--keys", str(site.keys))
    assert code == 2 and err.count("\n") == 1 and "outside its delegation" in err


def test_the_import_refuses_metadata_not_signed_by_the_agency_key(site: Site) -> None:
    tufrepo.KeyDir(site.base / "dhs-keys").generate("agency-DOE")  # a key of that name, not the delegated one
    _, path = tufrepo.publish_agency(site.repo, site.base / "dhs-keys", "DOE", national_source(site.base / "x"))
    with pytest.raises(tufrepo.PublishError, match="not signed by the key delegated to agency-DOE"):
        tufrepo.import_agency(site.repo, site.keys, path)


def test_an_agency_key_cannot_sign_for_another_agency_or_cisa(site: Site, server: Server, state: Path) -> None:
    update(server, site, state)
    # DOE's key signs a role for DHS, and CISA's snapshot lists it (as if imported carelessly).
    tufrepo.delegate(site.repo, site.keys, "DHS", site.agency_keys / "agency-DOE.pub.json")
    update(server, site, state, agency="DOE")
    doe = tufrepo.KeyDir(site.base / "dhs")
    doe.generate("agency-DHS")
    tufrepo.delegate(site.repo, site.keys, "DHS", site.base / "dhs" / "agency-DHS.pub.json")
    _, path = tufrepo.publish_agency(site.repo, site.base / "dhs", "DHS", site.base / "asrc"
                                     if (site.base / "asrc").exists() else _agency_dir(site))
    forged = site.metadata(path.name)
    from tuf.api.metadata import Metadata

    md = Metadata.from_bytes(forged.read_bytes())
    md.signatures.clear()
    md.sign(tufrepo.KeyDir(site.agency_keys).signer("agency-DOE"))
    forged.write_bytes(md.to_bytes())
    tufrepo.renew(tufrepo.Repository(site.repo), tufrepo.KeyDir(site.keys), extra_meta={"agency-DHS": 1})
    before = installed_state(state)
    with pytest.raises(UpdateRefused, match="not signed by enough trusted keys"):
        refresh(server.url, state, agency="DHS", trusted_root=site.root)
    assert installed_state(state) == before


def _agency_dir(site: Site) -> Path:
    from tests.tufsite import agency_source

    return agency_source(site.base / "asrc", "DHS-LOCAL-1")


def test_an_agency_index_naming_cisa_paths_is_refused(site: Site, server: Server, state: Path) -> None:
    update(server, site, state)
    from tuf.api.metadata import Metadata, TargetFile, Targets

    index = json.dumps({"format": 1, "directives": [{"id": "ED-26-99", "version": "9", "digest": "sha256:0",
                                                    "paths": ["directives/ed-26-99.yaml"]}]}).encode()
    repo = tufrepo.Repository(site.repo)
    repo.write_target_file("agency/DOE/index.json", index)
    md = Metadata(Targets(version=1, expires=past(-30)))
    md.signed.targets["agency/DOE/index.json"] = TargetFile.from_data("agency/DOE/index.json", index, ["sha256"])
    md.sign(tufrepo.KeyDir(site.agency_keys).signer("agency-DOE"))
    path = site.metadata("1.agency-DOE.json")
    path.write_bytes(md.to_bytes())
    tufrepo.import_agency(site.repo, site.keys, path)
    refused(server, site, state, "agency/DOE/index.json", "directives/ed-26-99.yaml is outside agency/DOE/")


def test_an_agency_directive_with_a_cisa_id_is_refused(site: Site, server: Server, state: Path) -> None:
    update(server, site, state)
    site.publish_agency("BOD-23-02", checked=False)  # publish_agency itself refuses it (tests/directives)
    refused(server, site, state, "agency-DOE may not publish BOD-23-02, an id of CISA's")
    site.publish_agency("ED-26-99", checked=False)
    refused(server, site, state, "agency-DOE may not publish ED-26-99, an id of CISA's")


def test_a_directive_invalid_after_a_valid_signature_is_refused(site: Site, server: Server, state: Path) -> None:
    update(server, site, state)
    files, index = tufrepo.collect(national_source(site.base / "src", version="2"), "directives/")
    broken = files["directives/ed-26-99.yaml"].replace(b"severity: critical", b"severity: catastrophic")
    files["directives/ed-26-99.yaml"] = broken
    index["directives"][0]["digest"] = "sha256:" + hashlib.sha256(broken).hexdigest()
    tufrepo.publish_files(site.repo, site.keys, files, index)
    message = refused(server, site, state, "signed but invalid", "directives/ed-26-99.yaml:", "severity")
    code, _, err = cli("directives", "update", "--url", server.url, "--trusted-root", str(site.root),
                       "--state-dir", str(state))
    assert code == 2 and err == f"fedharden: {message}\n"


def test_an_unreachable_repository_is_not_a_refusal(site: Site, state: Path) -> None:
    with pytest.raises(UpdateUnavailable, match="cannot fetch"):
        refresh("http://127.0.0.1:9/api/v1/tuf/", state, trusted_root=site.root)
    code, _, err = cli("directives", "update", "--url", "http://127.0.0.1:9/api/v1/tuf/", "--trusted-root",
                       str(site.root), "--state-dir", str(state))
    assert code == 3 and err.count("\n") == 1


# -- air-gapped hosts ---------------------------------------------------------------------------------------


def test_a_bundle_installs_offline_and_is_verified_the_same_way(site: Site, server: Server, state: Path) -> None:
    site.publish_agency()
    out = site.base / "bundle.tar"
    code, text, err = cli("directives", "bundle", "--repo", str(site.repo), "--agency", "DOE", "-o", str(out))
    assert code == 0, err
    outcome = install_bundle(out, state, agency="DOE", trusted_root=site.root)
    assert {c.id for c in outcome.added} == {"ED-26-99", "DOE-LOCAL-1"}
    # A later bundle from the same repository, then the old one again: a rollback.
    site.publish(version="2")
    newer = site.base / "newer.tar"
    tufrepo.bundle(site.repo, newer)
    assert [c.id for c in install_bundle(newer, state, trusted_root=site.root).changed] == ["ED-26-99"]
    before = installed_state(state)
    with pytest.raises(UpdateRefused, match="rollback"):
        install_bundle(out, state, agency="DOE", trusted_root=site.root)
    assert installed_state(state) == before


def test_a_bundle_signed_by_an_unknown_key_is_refused(site: Site, state: Path, tmp_path: Path) -> None:
    other = build_template(tmp_path / "other")  # a repository of its own, its own keys
    out = tmp_path / "other.tar"
    tufrepo.bundle(other.repo, out)
    code, _, err = cli("directives", "update", "--from", str(out), "--trusted-root", str(site.root),
                       "--state-dir", str(state))
    assert code == 2 and err.count("\n") == 1
    assert f"directive update from {out} refused: metadata not signed by enough trusted keys" in err
    assert installed_state(state) == {}


def test_a_bundle_with_links_or_escaping_names_is_refused_unread(site: Site, state: Path, tmp_path: Path) -> None:
    out = tmp_path / "evil.tar"
    with tarfile.open(out, "w") as tar:
        info = tarfile.TarInfo("metadata/../../etc/passwd")
        tar.addfile(info)
    with pytest.raises(UpdateRefused, match="is not a metadata or target file"):
        install_bundle(out, state, trusted_root=site.root)
    with tarfile.open(out, "w") as tar:
        link = tarfile.TarInfo("metadata/timestamp.json")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/shadow"
        tar.addfile(link)
    with pytest.raises(UpdateRefused, match="is not a metadata or target file"):
        install_bundle(out, state, trusted_root=site.root)
    (tmp_path / "garbage.tar").write_bytes(b"not a tar")
    with pytest.raises(UpdateRefused, match="not a tar bundle"):
        install_bundle(tmp_path / "garbage.tar", state, trusted_root=site.root)


PROBE = """
import json, sys
from agent.cli import main
try:
    main(["scan", "--root", sys.argv[1], "--directive", "ED-26-99", "--format", "json", "-o", sys.argv[2],
          "--state-dir", sys.argv[3]])
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("tuf", "securesystemslib", "cryptography"))))
"""


def test_a_scan_reads_installed_directives_without_cryptography(site: Site, server: Server, state: Path,
                                                                make_root) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    update(server, site, state, agency=None)
    root = make_root({"/etc/os-release": 'ID=debian\nVERSION_ID="12"\n'})
    out = state.parent / "report.json"
    done = subprocess.run([sys.executable, "-c", PROBE, str(root), str(out), str(state)], capture_output=True,
                          text=True, timeout=120, check=True)
    assert [r["requirement"] for r in json.loads(out.read_text())["results"]] == ["ED-26-99.1"]
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_the_scheduler_updates_before_each_scan_and_goes_on_when_it_fails(
        site: Site, server: Server, state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from agent.reporting import Backoff
    from agent.runner import Runner
    from agent.state import StateDir

    def runner(url: str) -> Runner:
        return Runner([], StateDir(state), Backoff(attempts=1), interval=60, splay=0,
                      before_args=["directives", "update", "--quiet", "--url", url, "--trusted-root", str(site.root),
                                   "--state-dir", str(state)])

    runner(server.url).before()
    installed = store.current(state)
    assert installed is not None and [d.id for d in installed.directives] == ["ED-26-99"]
    before = installed_state(state)
    runner("http://127.0.0.1:9/api/v1/tuf/").before()
    assert capsys.readouterr().err == (
        "fedharden run: directives update failed: directive update from http://127.0.0.1:9/api/v1/tuf/: cannot fetch: "
        "http://127.0.0.1:9/api/v1/tuf/metadata/2.root.json: Connection refused; scanning with the directives in force\n")
    assert installed_state(state) == before


def test_the_signed_end_of_support_table_replaces_the_shipped_one(site: Site, server: Server, state: Path,
                                                                  make_root) -> None:  # type: ignore[no-untyped-def]
    root = make_root({"/etc/os-release": 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12"\n'})

    def judged() -> tuple[str, str]:
        code, out, err = cli("scan", "--root", str(root), "--directive", "BOD-26-02", "--format", "json",
                             "--state-dir", str(state))
        result = json.loads(out)["results"][0]
        return result["status"], " ".join(e["actual"] + " " + e["where"] for e in result["evidence"])

    shipped_status, shipped_evidence = judged()
    assert shipped_status == "manual" and "signed update" not in shipped_evidence  # in Debian LTS by the shipped dates
    site.publish(debian_12="end_of_support: 2031-06-10, extended_until: 2033-06-30")
    update(server, site, state, agency=None)
    status, evidence = judged()
    assert status == "pass" and "2031-06-10" in evidence and "signed update of directives/data/end_of_support.yaml" in evidence


def test_a_signed_data_file_or_profile_that_does_not_parse_is_refused(site: Site, server: Server, state: Path) -> None:
    update(server, site, state)
    files, index = tufrepo.collect(national_source(site.base / "src", version="2"), "directives/")
    files["directives/data/end_of_support.yaml"] = b"source: x\nreleases: [{id: debian}]\n"
    tufrepo.publish_files(site.repo, site.keys, files, index)
    refused(server, site, state, "signed but invalid", "directives/data/end_of_support.yaml:2: $.releases[0]",
            "a release row needs id, version, name, end_of_support")
    files, index = tufrepo.collect(national_source(site.base / "src", version="2",
                                                   profile="title: t\nselect: [NOPE-1.1]\n"), "directives/")
    tufrepo.publish_files(site.repo, site.keys, files, index)
    refused(server, site, state, "signed but invalid", "directives/profiles/test.yaml", "NOPE-1.1")


def test_scan_profile_takes_the_signed_profile_of_that_name(site: Site, server: Server, state: Path,
                                                            make_root) -> None:  # type: ignore[no-untyped-def]
    site.publish(profile="title: only ED-26-99\nselect: [ED-26-99.1]\n")
    update(server, site, state, agency=None)
    root = make_root({"/etc/os-release": 'ID=debian\nVERSION_ID="12"\n'})
    code, out, err = cli("scan", "--root", str(root), "--profile", "test", "--format", "json", "--state-dir", str(state))
    assert [r["requirement"] for r in json.loads(out)["results"]] == ["ED-26-99.1"], err


def test_an_installed_set_that_no_longer_loads_leaves_the_shipped_library_with_a_warning(
        site: Site, server: Server, state: Path) -> None:
    update(server, site, state, agency=None)
    installed = store.current(state)
    assert installed is not None
    # What an agent upgraded under an installed set could meet: a check type it no longer knows.
    path = installed.file("directives/ed-26-99.yaml")
    path.write_text(path.read_text().replace("type: sysctl", "type: retired_check"))
    code, out, err = cli("directives", "list", "--state-dir", str(state))
    assert code == 0 and "ED-26-99" not in out and "HARDEN-30D" in out
    assert err.startswith(f"fedharden: warning: the signed directives in {installed.generation} do not load (")
    assert err.endswith("the shipped library alone is in force until the next directives update\n")
    assert err.count("\n") == 1


def test_an_enrolled_host_updates_from_its_collector_for_its_agency(site: Site, server: Server, state: Path) -> None:
    from agent import credential
    from agent.state import StateDir

    site.publish_agency()
    sd = StateDir(state)
    sd.ensure()
    collector = server.url.removesuffix("/api/v1/tuf/")
    credential.save(sd, credential.new(collector, "fhage_x", "0" * 32, "h", "DOE", "i", "", None, None))
    code, out, err = cli("directives", "trust", str(site.root), "--state-dir", str(state))
    assert code == 0, err
    code, out, err = cli("directives", "update", "--state-dir", str(state))
    assert code == 0, err
    assert {line.split()[0] for line in out.splitlines()[:-1]} == {"ED-26-99", "DOE-LOCAL-1"}
    assert out.splitlines()[-1].startswith("installed gen-") and f"from {server.url} (agency-DOE 1," in out
