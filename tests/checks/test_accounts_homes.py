"""The account-database rules of the ``accounts`` check and the ``home_dirs`` check, judged on
facts built in the test: a pass and a fail for each rule."""
from __future__ import annotations

from typing import Any

from checks import evaluate
from checks.facts import Account, FactKey, Facts, FileInfo, Group, HomeDir, Homes, ShadowEntry, Unavailable
from checks.model import Status

ROOT = Account("root", 0, 0, "/root", "/bin/bash", 1, "x")
DAEMON = Account("daemon", 1, 1, "/usr/sbin", "/usr/sbin/nologin", 2, "x")
ALICE = Account("alice", 1000, 1000, "/home/alice", "/bin/bash", 3, "x")
GROUPS = (Group("root", 0, (), 1), Group("daemon", 1, (), 2), Group("shadow", 42, (), 3), Group("alice", 1000, (), 4))


def judge(spec: dict[str, Any], **values: object) -> Status:
    return evaluate(spec, Facts({FactKey(k): v for k, v in values.items()})).status


def rule(name: str, **extra: object) -> dict[str, Any]:
    return {"type": "accounts", "rule": name, **extra}


def test_all_shadowed() -> None:
    assert judge(rule("all_shadowed"), passwd=(ROOT, ALICE)) is Status.PASS
    hashed = Account("bob", 1001, 1000, "/home/bob", "/bin/bash", 4, "$y$j9T$abc")
    assert judge(rule("all_shadowed"), passwd=(ROOT, hashed)) is Status.FAIL
    assert judge(rule("all_shadowed"), passwd=(Account("root", 0, 0, "/root", "/bin/bash", 1, ""),)) is Status.FAIL


def test_root_gid_zero() -> None:
    assert judge(rule("root_gid_zero"), passwd=(ROOT, Account("sync", 5, 0, "/bin", "/bin/sync", 2, "x"))) is Status.PASS
    assert judge(rule("root_gid_zero"), passwd=(Account("root", 0, 1, "/root", "/bin/bash", 1, "x"),)) is Status.FAIL
    assert judge(rule("root_gid_zero"), passwd=(ROOT, Account("ops", 1001, 0, "/home/ops", "/bin/sh", 2, "x"))) \
        is Status.FAIL
    assert judge(rule("root_gid_zero"), passwd=(DAEMON,)) is Status.FAIL  # no root at all


def test_unique_user_and_group_names_and_gids() -> None:
    assert judge(rule("unique_user_names"), passwd=(ROOT, ALICE)) is Status.PASS
    twin = Account("alice", 1001, 1000, "/home/a2", "/bin/bash", 4, "x")
    assert judge(rule("unique_user_names"), passwd=(ROOT, ALICE, twin)) is Status.FAIL
    assert judge(rule("unique_gids"), passwd=(ROOT,), group=GROUPS) is Status.PASS
    assert judge(rule("unique_gids"), passwd=(ROOT,), group=(*GROUPS, Group("dev", 1000, (), 5))) is Status.FAIL
    assert judge(rule("unique_group_names"), passwd=(ROOT,), group=GROUPS) is Status.PASS
    assert judge(rule("unique_group_names"), passwd=(ROOT,), group=(*GROUPS, Group("alice", 1001, (), 5))) \
        is Status.FAIL


def test_gids_exist_and_gid0() -> None:
    assert judge(rule("passwd_gids_exist"), passwd=(ROOT, ALICE), group=GROUPS) is Status.PASS
    assert judge(rule("passwd_gids_exist"), passwd=(ROOT, ALICE), group=GROUPS[:3]) is Status.FAIL
    assert judge(rule("gid0_only_root"), passwd=(ROOT,), group=GROUPS) is Status.PASS
    assert judge(rule("gid0_only_root"), passwd=(ROOT,), group=(*GROUPS, Group("wheel", 0, (), 5))) is Status.FAIL


def test_group_empty() -> None:
    spec = rule("group_empty", group="shadow")
    assert judge(spec, passwd=(ROOT, ALICE), group=GROUPS) is Status.PASS
    member = (*GROUPS[:2], Group("shadow", 42, ("alice",), 3))
    assert judge(spec, passwd=(ROOT, ALICE), group=member) is Status.FAIL
    primary = Account("backup", 34, 42, "/var/backups", "/usr/sbin/nologin", 4, "x")
    assert judge(spec, passwd=(ROOT, primary), group=GROUPS) is Status.FAIL
    # An absent group: nobody is in it (default), or the requirement needs it (su's pam_wheel group).
    assert judge(rule("group_empty", group="sugroup"), passwd=(ROOT,), group=GROUPS) is Status.PASS
    assert judge(rule("group_empty", group="sugroup", missing_group="fail"), passwd=(ROOT,), group=GROUPS) \
        is Status.FAIL


def shadow(name: str, field: str, last: int | None = 19000, inactive: int | None = None) -> ShadowEntry:
    return ShadowEntry(name, field, last, 0, 99999, 7, inactive, 1)


def test_root_access_controlled() -> None:
    for field in ("*", "!", "!$y$j9T$abc", "$y$j9T$abc"):
        assert judge(rule("root_access_controlled"), shadow=(shadow("root", field),)) is Status.PASS, field
    assert judge(rule("root_access_controlled"), shadow=(shadow("root", ""),)) is Status.FAIL
    assert judge(rule("root_access_controlled"), shadow=(shadow("daemon", "*"),)) is Status.FAIL


def test_invalid_shell_locked() -> None:
    shells = ("/bin/sh", "/bin/bash")
    spec = rule("invalid_shell_locked")
    locked = (shadow("root", "$y$j9T$r"), shadow("daemon", "*"), shadow("alice", "$y$j9T$a"))
    assert judge(spec, passwd=(ROOT, DAEMON, ALICE), shadow=locked, shells=shells) is Status.PASS
    open_daemon = (shadow("root", "$y$j9T$r"), shadow("daemon", "$y$j9T$d"))
    assert judge(spec, passwd=(ROOT, DAEMON), shadow=open_daemon, shells=shells) is Status.FAIL
    # A shell missing from /etc/shells is not valid, however usual it looks.
    assert judge(spec, passwd=(ROOT, ALICE), shadow=locked, shells=("/bin/sh",)) is Status.FAIL
    assert judge(spec, passwd=(ROOT, DAEMON), shadow=(shadow("root", "*"),), shells=shells) is Status.FAIL  # no entry


def test_last_change_past() -> None:
    now = "2026-11-26T12:00:00+00:00"  # day 20783
    assert judge(rule("last_change_past"), shadow=(shadow("a", "*", 20783), shadow("b", "*", None)), clock=now) \
        is Status.PASS
    assert judge(rule("last_change_past"), shadow=(shadow("a", "*", 20784),), clock=now) is Status.FAIL


# --- home_dirs ----------------------------------------------------------------------------

def home(user: str = "alice", mode: int = 0o750, uid: int = 1000, gid: int = 1000, kind: str = "dir",
         dots: tuple[FileInfo, ...] = (), exists: bool = True, **extra: Any) -> HomeDir:
    path = "/root" if user == "root" else f"/home/{user}"
    info = FileInfo(path, exists, kind, mode, uid, gid, user, user) if exists else FileInfo(path, False)
    owner = 0 if user == "root" else 1000
    return HomeDir(user, owner, owner, path, info, dots, **extra)


def dot(name: str, mode: int = 0o640, uid: int = 1000, gid: int = 1000, kind: str = "file", user: str = "alice") -> FileInfo:
    base = "/root" if user == "root" else f"/home/{user}"
    return FileInfo(f"{base}/{name}", True, kind, mode, uid, gid)


HOMES = {"type": "home_dirs", "rule": "homes", "owner": True, "group": True, "max_mode": "0750"}
DOTS = {"type": "home_dirs", "rule": "dotfiles", "forbid": [".rhosts", ".forward", ".netrc"], "owned": True,
        "max_mode": "0640", "root_max_mode": "0644", "modes": {".bash_history": "0600"}}


def homes(*items: HomeDir, truncated: bool = False) -> Homes:
    return Homes(items, 1000, truncated)


def test_home_directories() -> None:
    assert judge(HOMES, homes=homes(home(), home("root", 0o700, 0, 0))) is Status.PASS
    assert judge(HOMES, homes=homes()) is Status.PASS  # no interactive account at all
    assert judge(HOMES, homes=homes(home(exists=False))) is Status.FAIL
    assert judge(HOMES, homes=homes(home(mode=0o755))) is Status.FAIL
    assert judge(HOMES, homes=homes(home(uid=0))) is Status.FAIL
    assert judge(HOMES, homes=homes(home(gid=100))) is Status.FAIL
    assert judge(HOMES, homes=homes(home(kind="file"))) is Status.FAIL
    assert judge(HOMES, homes=homes(home(), truncated=True)) is Status.ERROR  # more accounts than listed
    assert judge(HOMES, homes=Unavailable("/etc/passwd: permission denied")) is Status.ERROR


def test_dot_files() -> None:
    good = home(dots=(dot(".profile"), dot(".bash_history", 0o600), dot(".ssh", 0o700, kind="dir"),
                      dot(".vimrc", 0o777, kind="link")))
    assert judge(DOTS, homes=homes(good)) is Status.PASS
    assert judge(DOTS, homes=homes(home(dots=(dot(".netrc", 0o600),)))) is Status.FAIL
    assert judge(DOTS, homes=homes(home(dots=(dot(".forward", kind="link"),)))) is Status.FAIL
    assert judge(DOTS, homes=homes(home(dots=(dot(".bashrc", 0o644),)))) is Status.FAIL
    assert judge(DOTS, homes=homes(home(dots=(dot(".bash_history", 0o640),)))) is Status.FAIL
    assert judge(DOTS, homes=homes(home(dots=(dot(".profile", uid=1001),)))) is Status.FAIL
    assert judge(DOTS, homes=homes(home(dots=(dot(".ssh", 0o700, gid=0, kind="dir"),)))) is Status.FAIL
    # Root's own files are held to 0644, not 0640.
    root = home("root", 0o700, 0, 0, dots=(dot(".bashrc", 0o644, 0, 0, user="root"),))
    assert judge(DOTS, homes=homes(root)) is Status.PASS
    root_writable = home("root", 0o700, 0, 0, dots=(dot(".bashrc", 0o664, 0, 0, user="root"),))
    assert judge(DOTS, homes=homes(root_writable)) is Status.FAIL
    # What could not be seen is never a pass, but a failure seen elsewhere still fails.
    assert judge(DOTS, homes=homes(home(dots=(dot(".profile"),), truncated=True))) is Status.ERROR
    assert judge(DOTS, homes=homes(home(problem="/home/alice: cannot be listed (permission denied)"))) is Status.ERROR
    assert judge(DOTS, homes=homes(home(dots=(dot(".netrc"),), truncated=True))) is Status.FAIL
    # A missing home has no dot files to judge (the homes rule fails it).
    assert judge(DOTS, homes=homes(home(exists=False))) is Status.PASS


# --- root_path ----------------------------------------------------------------------------

def test_root_path() -> None:
    from checks.facts import PathEntry, RootPath

    good = FileInfo("/usr/bin", True, "dir", 0o755, 0, 0, "root", "root")
    spec = {"type": "root_path"}
    assert judge(spec, root_path=RootPath((PathEntry("/usr/bin", "/etc/profile:3", good),), ("/etc/profile",))) \
        is Status.PASS
    for bad in (PathEntry("", "/root/.bashrc:1"), PathEntry(".", "/root/.profile:2"), PathEntry("bin", "/etc/profile:1"),
                PathEntry("/opt/x", "/etc/login.defs:9 (ENV_SUPATH)", FileInfo("/opt/x", False)),
                PathEntry("/tmp/x", "/etc/profile:1", FileInfo("/tmp/x", True, "dir", 0o777, 0, 0)),
                PathEntry("/home/a/bin", "/etc/profile:1", FileInfo("/home/a/bin", True, "dir", 0o755, 1000, 1000)),
                PathEntry("/usr/bin/ls", "/etc/profile:1", FileInfo("/usr/bin/ls", True, "file", 0o755, 0, 0))):
        assert judge(spec, root_path=RootPath((bad,), ())) is Status.FAIL, bad
    # A directory missing from another user's branch of /etc/profile, or a variable, is asked.
    other = PathEntry("/usr/games", "/etc/profile:7", FileInfo("/usr/games", False))
    assert judge(spec, root_path=RootPath((other,), ())) is Status.MANUAL
    asked = RootPath((PathEntry("/usr/bin", "/etc/profile:3", good),), (), (PathEntry("$HOME/bin", "/root/.bashrc:4"),))
    assert judge(spec, root_path=asked) is Status.MANUAL
