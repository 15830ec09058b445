"""The fswalk check on walks built in the test."""
from __future__ import annotations

from checks import evaluate
from checks.facts import FactKey, Facts, FsWalk, Unavailable, WalkEntry
from checks.model import Status

KEY = FactKey("fswalk")
PASSWD = WalkEntry("/usr/bin/passwd", "file", 0o4755, 0, 0, "root", "root")
BACKDOOR = WalkEntry("/usr/local/bin/x", "file", 0o4755, 0, 0, "root", "root")


def walked(**lists: tuple[WalkEntry, ...]) -> FsWalk:
    counts = {k: len(lists.get(k, ())) for k in ("world_writable", "sticky_missing", "unowned", "setid")}
    return FsWalk(("/",), ("/proc (proc)",), 1000, 0, counts=counts, limit=1000, **lists)


def status(spec: dict, value: object) -> Status:
    return evaluate(spec, Facts({KEY: value})).status


def test_setid_inventory_against_the_allow_list() -> None:
    spec = {"type": "fswalk", "rule": "setid_allowed", "allow": ["/usr/bin/passwd", "/usr/lib/*/utempter"]}
    assert status(spec, walked(setid=(PASSWD,))) is Status.PASS
    assert status(spec, walked(setid=(PASSWD, BACKDOOR))) is Status.FAIL
    assert status({**spec, "exclude": ["/usr/local"]}, walked(setid=(PASSWD, BACKDOOR))) is Status.PASS
    outcome = evaluate(spec, Facts({KEY: walked(setid=(PASSWD, BACKDOOR))}))
    assert [(e.where, e.actual.endswith("(approved)")) for e in outcome.evidence[:2]] == [
        ("/usr/local/bin/x", False), ("/usr/bin/passwd", True)]


def test_world_writable_sticky_and_owned() -> None:
    ww = WalkEntry("/etc/app.conf", "file", 0o666, 0, 0, "root", "root")
    drop = WalkEntry("/srv/drop", "dir", 0o777, 0, 0, "root", "root")
    orphan = WalkEntry("/srv/old", "file", 0o644, 4242, 0, "", "root")
    assert status({"type": "fswalk", "rule": "world_writable_files"}, walked()) is Status.PASS
    assert status({"type": "fswalk", "rule": "world_writable_files"}, walked(world_writable=(ww,))) is Status.FAIL
    assert status({"type": "fswalk", "rule": "sticky_directories"}, walked(sticky_missing=(drop,))) is Status.FAIL
    outcome = evaluate({"type": "fswalk", "rule": "owned"}, Facts({KEY: walked(unowned=(orphan,))}))
    assert outcome.status is Status.FAIL and "uid 4242 (unknown)" in outcome.evidence[0].actual


def test_truncated_lists_are_an_error_and_a_missing_walk_too() -> None:
    spec = {"type": "fswalk", "rule": "setid_allowed", "allow": ["/usr/bin/*"]}
    capped = FsWalk(("/",), (), 5000, 0, setid=(PASSWD,), counts={"setid": 1500}, limit=1)
    assert status(spec, capped) is Status.ERROR
    assert status(spec, Unavailable("this transport cannot walk the filesystem")) is Status.ERROR
