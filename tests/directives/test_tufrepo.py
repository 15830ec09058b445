"""The repository side of signed directive distribution (directives.tufrepo and its commands):
what a key ceremony, a publication, a delegation and an import write, checked with python-tuf's
own metadata API, and what each refuses."""
from __future__ import annotations

import json
import os
import stat
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from tuf.api.metadata import Metadata, Root, Targets

from agent.cli import main
from directives import tufrepo
from tests.tufsite import Site, agency_source, build_template, copy_site, national_source, past


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return build_template(tmp_path_factory.mktemp("tufrepo") / "site")


@pytest.fixture
def site(template: Site, tmp_path: Path) -> Site:
    return copy_site(template, tmp_path / "site")


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def load(path: Path) -> Metadata:  # type: ignore[type-arg]
    return Metadata.from_bytes(path.read_bytes())


def test_keys_init_makes_every_role_key_and_a_signed_repository(tmp_path: Path) -> None:
    repo, keys = tmp_path / "repo", tmp_path / "keys"
    code, out, err = cli("directives", "keys", "init", "--repo", str(repo), "--keys", str(keys),
                         "--root-keys", "3", "--threshold", "2")
    assert code == 0, err
    assert sorted(p.name for p in keys.glob("*.pem")) == ["root-1.pem", "root-2.pem", "root-3.pem", "snapshot.pem",
                                                         "targets.pem", "timestamp.pem"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in keys.glob("*.pem"))
    root = load(repo / "metadata" / "1.root.json")
    assert isinstance(root.signed, Root) and root.signed.consistent_snapshot
    assert root.signed.roles["root"].threshold == 2 and len(root.signed.roles["root"].keyids) == 3
    root.signed.verify_delegate("root", root.signed_bytes, root.signatures)
    for role in ("targets", "snapshot", "timestamp"):
        name = "timestamp.json" if role == "timestamp" else f"1.{role}.json"
        md = load(repo / "metadata" / name)
        root.signed.verify_delegate(role, md.signed_bytes, md.signatures)
    # Short expiry for the online roles, long for the offline ones.
    timestamp = load(repo / "metadata" / "timestamp.json").signed
    assert (timestamp.expires - past(0)).days <= 1 and (root.signed.expires - past(0)).days >= 364
    # Again: refused, nothing overwritten.
    before = (keys / "targets.pem").read_bytes()
    code, _, err = cli("directives", "keys", "init", "--repo", str(repo), "--keys", str(keys))
    assert code == 2 and err.count("\n") == 1 and "a repository exists here" in err
    assert (keys / "targets.pem").read_bytes() == before


def test_keys_init_for_an_agency_makes_its_key_only(tmp_path: Path) -> None:
    code, out, _ = cli("directives", "keys", "init", "--agency", "DOE", "--keys", str(tmp_path / "k"))
    assert code == 0 and "agency-DOE.pub.json" in out
    assert sorted(p.name for p in (tmp_path / "k").iterdir()) == ["agency-DOE.pem", "agency-DOE.pub.json"]
    code, _, err = cli("directives", "keys", "init", "--agency", "DOE", "--keys", str(tmp_path / "k"))
    assert code == 2 and "a key of that name exists" in err
    code, _, err = cli("directives", "keys", "init", "--agency", "../x", "--keys", str(tmp_path / "k"))
    assert code == 2 and err.count("\n") == 1 and "agency code '../x'" in err


def test_publish_signs_each_file_and_an_index(site: Site) -> None:
    src = national_source(site.base / "src", bod_version="2")
    os.mkdir(src / "profiles")
    (src / "profiles" / "p.yaml").write_text("title: t\nselect: [ED-26-99.1]\n")
    code, out, err = cli("directives", "publish", str(src), "--repo", str(site.repo), "--key", str(site.keys))
    assert code == 0, err
    assert "BOD-23-02        version 2" in out and "ED-26-99         version 1" in out
    targets = load(site.metadata(f"{site.current('targets')}.targets.json")).signed
    assert isinstance(targets, Targets)
    assert sorted(targets.targets) == ["directives/bod-23-02.yaml", "directives/data/end_of_support.yaml",
                                       "directives/ed-26-99.yaml", "directives/index.json",
                                       "directives/profiles/p.yaml"]
    for path, info in targets.targets.items():  # each under its consistent-snapshot name
        directory, _, name = path.rpartition("/")
        data = (site.repo / "targets" / directory / f"{info.hashes['sha256']}.{name}").read_bytes()
        info.verify_length_and_hashes(data)
    index_info = targets.targets["directives/index.json"]
    index = json.loads((site.repo / "targets" / "directives" / f"{index_info.hashes['sha256']}.index.json").read_text())
    assert [(e["id"], e["version"], e["paths"]) for e in index["directives"]] == [
        ("BOD-23-02", "2", ["directives/bod-23-02.yaml"]), ("ED-26-99", "1", ["directives/ed-26-99.yaml"])]
    assert index["profiles"] == ["directives/profiles/p.yaml"]
    # The delegation made before survives a publication.
    assert targets.delegations is not None and targets.delegations.roles is not None
    role = targets.delegations.roles["agency-DOE"]
    assert role.paths == ["agency/DOE/*"] and role.terminating


def test_a_directive_folder_is_published_file_by_file(site: Site, tmp_path: Path) -> None:
    import shutil

    src = tmp_path / "src"
    src.mkdir()
    shutil.copytree(Path(tufrepo.__file__).parent / "library" / "harden-30d", src / "harden-30d")
    done = tufrepo.publish(site.repo, site.keys, src)
    assert done.directives == (("HARDEN-30D", ""),)
    assert "directives/harden-30d/directive.yaml" in done.files and "directives/harden-30d/ssh.yaml" in done.files


def test_publish_refuses_an_invalid_directive_and_signs_nothing(site: Site) -> None:
    src = national_source(site.base / "src")
    (src / "ed-26-99.yaml").write_text((src / "ed-26-99.yaml").read_text().replace("severity: critical", "severity: x"))
    before = sorted(p.name for p in (site.repo / "metadata").iterdir())
    code, _, err = cli("directives", "publish", str(src), "--repo", str(site.repo), "--keys", str(site.keys))
    assert code == 2 and err.startswith(f"{src}/ed-26-99.yaml:10: $.requirements[0].severity:")
    assert sorted(p.name for p in (site.repo / "metadata").iterdir()) == before


def test_publish_needs_the_targets_key(site: Site) -> None:
    (site.keys / "targets.pem").unlink()
    code, _, err = cli("directives", "publish", str(national_source(site.base / "src")), "--repo", str(site.repo),
                       "--keys", str(site.keys))
    assert code == 2 and err == f"{site.keys}/targets.pem: no such key\n"


def test_an_agency_publication_is_imported_once_and_never_rolled_back(site: Site) -> None:
    code, out, err = cli("directives", "publish", str(agency_source(site.base / "asrc")), "--agency", "DOE",
                         "--repo", str(site.repo), "--keys", str(site.agency_keys))
    assert code == 0, err
    first = site.metadata("1.agency-DOE.json")
    code, out, err = cli("directives", "import", str(first), "--repo", str(site.repo), "--keys", str(site.keys))
    assert code == 0, err
    assert site.current("agency-DOE") == 1
    code, _, err = cli("directives", "import", str(first), "--repo", str(site.repo), "--keys", str(site.keys))
    assert code == 2 and "version 1 is not above the listed 1" in err
    site.publish_agency()
    assert site.current("agency-DOE") == 2
    agency = load(site.metadata("2.agency-DOE.json")).signed
    assert sorted(agency.targets) == ["agency/DOE/index.json", "agency/DOE/local.yaml"]


def test_the_import_refuses_expired_agency_metadata(site: Site) -> None:
    _, path = tufrepo.publish_agency(site.repo, site.agency_keys, "DOE", agency_source(site.base / "asrc"),
                                     now=past(200))
    with pytest.raises(tufrepo.PublishError, match="expired"):
        tufrepo.import_agency(site.repo, site.keys, path)


def test_the_import_refuses_an_agency_without_a_delegation(site: Site) -> None:
    tufrepo.KeyDir(site.base / "k").generate("agency-DHS")
    _, path = tufrepo.publish_agency(site.repo, site.base / "k", "DHS", agency_source(site.base / "asrc", "DHS-1"))
    with pytest.raises(tufrepo.PublishError, match="delegates nothing to agency-DHS"):
        tufrepo.import_agency(site.repo, site.keys, path)


def test_rotating_root_needs_a_threshold_of_the_old_root_keys(site: Site) -> None:
    (site.keys / "root-2.pem").unlink()
    (site.keys / "root-3.pem").unlink()
    code, _, err = cli("directives", "keys", "rotate", "--role", "targets", "--repo", str(site.repo),
                       "--keys", str(site.keys))
    assert code == 2 and err.count("\n") == 1 and "holds 1 of the 2 root keys the root requires" in err
    assert not (site.repo / "metadata" / "2.root.json").exists()


def test_rotation_writes_a_root_the_old_one_vouches_for(site: Site) -> None:
    old_root = load(site.metadata("1.root.json")).signed
    code, out, err = cli("directives", "keys", "rotate", "--role", "root", "--repo", str(site.repo),
                         "--keys", str(site.keys))
    assert code == 0 and "root version 2" in out, err
    new = load(site.metadata("2.root.json"))
    old_root.verify_delegate("root", new.signed_bytes, new.signatures)  # the old keys sign the new root
    new.signed.verify_delegate("root", new.signed_bytes, new.signatures)  # and so do the new ones
    assert not set(new.signed.roles["root"].keyids) & set(old_root.roles["root"].keyids)
    assert len(list((site.keys / "retired").glob("*.root-*.pem"))) == 3
    assert load(site.metadata("root.json")).signed.version == 2


def test_renew_moves_snapshot_and_timestamp_forward(site: Site) -> None:
    before = site.current("snapshot")
    code, out, _ = cli("directives", "renew", "--repo", str(site.repo), "--keys", str(site.keys))
    assert code == 0 and site.current("snapshot") == before + 1


def test_a_bundle_holds_the_root_chain_metadata_and_targets(site: Site) -> None:
    site.publish_agency()
    tufrepo.rotate(site.repo, site.keys, "timestamp")
    out = site.base / "b.tar"
    members = tufrepo.bundle(site.repo, out, agency="DOE")
    with tarfile.open(out) as tar:
        names = tar.getnames()
        assert all(m.isreg() and m.mode == 0o644 for m in tar.getmembers())
    assert names == members
    assert {"metadata/1.root.json", "metadata/2.root.json", "metadata/timestamp.json",
            f"metadata/{site.current('snapshot')}.snapshot.json", f"metadata/{site.current('targets')}.targets.json",
            "metadata/1.agency-DOE.json"} <= set(names)
    assert any(n.startswith("targets/agency/DOE/") and n.endswith(".local.yaml") for n in names)
    assert any(n.startswith("targets/directives/") and n.endswith(".ed-26-99.yaml") for n in names)
    assert tufrepo.read_bundle(out).keys() == set(names)
    # Without --agency, no agency's target bytes travel.
    assert not [n for n in tufrepo.bundle(site.repo, site.base / "c.tar") if n.startswith("targets/agency/")]


def test_publish_refuses_a_data_file_that_does_not_parse(site: Site) -> None:
    src = national_source(site.base / "src")
    (src / "data" / "end_of_support.yaml").write_text("source: x\nsource: y\nreleases: []\n")
    code, _, err = cli("directives", "publish", str(src), "--repo", str(site.repo), "--keys", str(site.keys))
    assert code == 2 and err.startswith(f"{src}/data/end_of_support.yaml:2:") and "duplicate" in err


def test_renew_root_keeps_the_keys_and_moves_the_expiry(site: Site) -> None:
    code, out, err = cli("directives", "renew", "--root", "--repo", str(site.repo), "--keys", str(site.keys))
    assert code == 0 and "root version 2" in out, err
    old, new = load(site.metadata("1.root.json")).signed, load(site.metadata("2.root.json"))
    old.verify_delegate("root", new.signed_bytes, new.signatures)
    assert new.signed.roles == old.roles and new.signed.expires >= old.expires


def test_changes_to_one_repository_take_turns(site: Site) -> None:
    import threading

    with tufrepo.locked(site.repo):
        done: list[int] = []
        worker = threading.Thread(target=lambda: done.append(
            tufrepo.renew(tufrepo.Repository(site.repo), tufrepo.KeyDir(site.keys))))
        before = site.current("snapshot")
        worker.start()
        worker.join(0.5)
        assert worker.is_alive() and site.current("snapshot") == before  # waiting for the lock
    worker.join(30)
    assert done == [before + 1]


def test_publish_refuses_a_changed_shipped_directive_without_a_higher_version(site: Site) -> None:
    src = national_source(site.base / "src", bod_version="1")
    code, _, err = cli("directives", "publish", str(src), "--repo", str(site.repo), "--keys", str(site.keys))
    assert code == 2 and err == (f"{src}/bod-23-02.yaml: BOD-23-02 differs from the shipped one but its version 1 is "
                                 "not above the shipped 1: hosts would keep the shipped one (declare version:)\n")
    # The shipped file as it is: published, and hosts take it for what it is.
    import shutil

    shutil.copy(Path(tufrepo.__file__).parent / "library" / "bod-23-02.yaml", src / "bod-23-02.yaml")
    assert ("BOD-23-02", "") in tufrepo.publish(site.repo, site.keys, src).directives


def test_an_agency_may_not_publish_an_id_of_cisa(site: Site) -> None:
    code, _, err = cli("directives", "publish", str(agency_source(site.base / "asrc", "BOD-23-02")), "--agency", "DOE",
                       "--repo", str(site.repo), "--keys", str(site.agency_keys))
    assert code == 2 and err.endswith("BOD-23-02 is an id of CISA's; an agency's directives need ids of their own\n")
