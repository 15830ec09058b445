"""Include fan-out and loops cannot run away: one parse reads a bounded number of files and
lines, whatever the depth, and passing the bound makes the whole configuration an error that
names the bound."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import pytest

from agent.facts import gather
from agent.facts.context import MAX_INCLUDED_FILES, MAX_INCLUDED_LINES, Context, IncludeLimit, Includes
from agent.hosts import RootfsHost
from checks.facts import ConfigFile, FactKey, Unavailable

MakeRoot = Callable[..., Path]
SSHD = FactKey("config", "sshd:/etc/ssh/sshd_config")


def sshd_fact(root: Path) -> object:
    return gather(Context(RootfsHost(str(root))), {SSHD}).get(SSHD)


def test_three_files_each_including_all_three_stop_at_the_file_bound(make_root: MakeRoot) -> None:
    fan = "Include /etc/ssh/inc/*.conf\nPermitRootLogin no\n"
    root = make_root({"/etc/ssh/sshd_config": "Include /etc/ssh/inc/*.conf\n",
                      "/etc/ssh/inc/a.conf": fan, "/etc/ssh/inc/b.conf": fan, "/etc/ssh/inc/c.conf": fan})
    started = time.monotonic()
    fact = sshd_fact(root)
    assert time.monotonic() - started < 10
    assert isinstance(fact, Unavailable) and not fact.not_applicable
    assert fact.reason.startswith(f"/etc/ssh/sshd_config: more than {MAX_INCLUDED_FILES} files read through includes "
                                  "in one parse (the bound; an include loop or fan-out), at /etc/ssh/inc/")


def test_lines_are_bounded_across_included_files(make_root: MakeRoot) -> None:
    per_file = MAX_INCLUDED_LINES // 3
    big = "# filler\n" * per_file
    root = make_root({"/etc/ssh/sshd_config": "Include /etc/ssh/big/*.conf\n",
                      **{f"/etc/ssh/big/{n}.conf": big for n in range(4)}})
    fact = sshd_fact(root)
    assert isinstance(fact, Unavailable)
    assert fact.reason == (f"/etc/ssh/sshd_config: more than {MAX_INCLUDED_LINES} lines read through includes in one "
                           "parse (the bound), at /etc/ssh/big/3.conf")  # 1 + 3 * (bound // 3) lines fit


def test_a_file_including_itself_stops_at_the_depth_limit_within_the_bound(make_root: MakeRoot) -> None:
    root = make_root({"/etc/ssh/sshd_config": "Include sshd_config\nPermitRootLogin no\n"})
    fact = sshd_fact(root)
    assert isinstance(fact, ConfigFile)
    assert fact.effective("permitrootlogin").value == "no"  # type: ignore[union-attr]
    assert fact.problems == ("/etc/ssh/sshd_config line 1: too many recursive configuration includes",)


def test_the_budget_any_include_following_parser_uses(make_root: MakeRoot) -> None:
    root = make_root({"/etc/a": "one\ntwo\n", "/etc/b": "three"})
    ctx = Context(RootfsHost(str(root)))
    budget = Includes(ctx, "/etc/main", max_files=3, max_lines=10)
    assert [budget.text("/etc/a"), budget.text("/etc/b"), budget.text("/etc/a")] == ["one\ntwo\n", "three", "one\ntwo\n"]
    assert (budget.files, budget.lines) == (3, 5)
    with pytest.raises(IncludeLimit, match=r"^/etc/main: more than 3 files read through includes in one parse"):
        budget.text("/etc/b")
    lines = Includes(ctx, "/etc/main", max_files=10, max_lines=3)
    lines.text("/etc/a")
    with pytest.raises(IncludeLimit, match=r"^/etc/main: more than 3 lines read through includes in one parse \(the bound\), at /etc/a$"):
        lines.text("/etc/a")
    assert ctx.includes("/etc/other").files == 0  # each parse starts afresh


@pytest.mark.parametrize("family, arg, files", [
    ("sudoers", "/etc/sudoers", {"/etc/sudoers": "@includedir /etc/sudoers.d\n",
                                 **{f"/etc/sudoers.d/{n}": "@includedir /etc/sudoers.d\n" for n in "abc"}}),
    ("pam", "/etc/pam.d/common-auth", {"/etc/pam.d/common-auth": "@include fan-a\n",
                                       **{f"/etc/pam.d/fan-{n}": "@include fan-a\n@include fan-b\n@include fan-c\n"
                                          for n in "abc"}}),
])
def test_sudoers_and_pam_includes_share_the_bound(make_root: MakeRoot, family: str, arg: str,
                                                  files: dict[str, str]) -> None:
    key = FactKey(family, arg)
    root = make_root(files)
    started = time.monotonic()
    fact = gather(Context(RootfsHost(str(root))), {key}).get(key)
    assert time.monotonic() - started < 20
    assert isinstance(fact, Unavailable) and not fact.not_applicable
    assert fact.reason.startswith(f"{arg}: more than {MAX_INCLUDED_FILES} files read through includes in one parse")
