"""The one filesystem walk, on fixture roots: pruning, symlinks, owners from the target."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from agent.facts.context import Context
from agent.facts.fswalk import walk
from agent.hosts import RootfsHost
from checks.facts import FsWalk

MakeRoot = Callable[..., Path]
BASE = {"/etc/passwd": "root:x:0:0::/root:/bin/bash\n", "/etc/group": "root:x:0:\n"}


def walked(root: Path) -> FsWalk:
    result = walk(Context(RootfsHost(str(root))))
    assert isinstance(result, FsWalk)
    return result


def test_findings_and_owners_from_the_target(make_root: MakeRoot) -> None:
    root = make_root({**BASE, "/srv/ww": "x", "/srv/orphan": "x", "/usr/bin/tool": "x", "/srv/drop/.keep": ""},
                     {"/srv/ww": 0o666, "/usr/bin/tool": 0o2755, "/srv/drop": 0o777})
    os.chown(root / "srv/orphan", 4242, 0)
    result = walked(root)
    assert [e.path for e in result.world_writable] == ["/srv/ww"]
    assert [e.path for e in result.sticky_missing] == ["/srv/drop"]
    assert [(e.path, e.uid, e.owner) for e in result.unowned] == [("/srv/orphan", 4242, "")]
    assert [(e.path, e.mode) for e in result.setid] == [("/usr/bin/tool", 0o2755)]
    assert result.examined >= 8 and result.errors == 0


def test_symlinks_are_not_followed_and_runtime_dirs_are_pruned(make_root: MakeRoot, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("x")
    os.chmod(outside / "secret", 0o4777)
    root = make_root({**BASE, "/proc/1/status": "x", "/dev/null2": "x"}, {"/proc/1/status": 0o666})
    os.symlink(str(outside), root / "escape")
    os.symlink("/", root / "loop")
    result = walked(root)
    assert result.world_writable == () and result.setid == ()
    assert "/proc (runtime state of an image)" in result.skipped


class SlowRoot(RootfsHost):
    """A root whose disk is slow: each directory listed and the account files read take time,
    as on a loaded machine with a cold cache."""

    def walk(self, top: str, prune: list[str], errors: list[str]):  # type: ignore[no-untyped-def,override]
        import time

        for item in super().walk(top, prune, errors):
            time.sleep(0.02)
            yield item

    def read(self, path: str) -> bytes:
        import time

        time.sleep(0.2)
        return super().read(path)


def test_the_walk_reports_its_whole_wall_time(make_root: MakeRoot) -> None:
    import time

    from checks import evaluate
    from checks.facts import FactKey, Facts

    root = make_root({**BASE, **{f"/srv/d{i}/f": "x" for i in range(15)}})
    started = time.perf_counter()
    result = walk(Context(SlowRoot(str(root))))
    elapsed = time.perf_counter() - started
    assert isinstance(result, FsWalk)
    # Listing, reading the account files and judging every entry: all of it, and nothing else.
    assert elapsed * 0.95 <= result.seconds <= round(elapsed, 3)  # the walk reports milliseconds, rounded
    assert result.seconds >= 0.02 * result.examined + 2 * 0.2
    outcome = evaluate({"type": "fswalk", "rule": "owned"}, Facts({FactKey("fswalk"): result}))
    summary = outcome.evidence[-1]
    assert summary.actual == f"{result.examined} files and directories examined in {result.seconds:.1f} s"
