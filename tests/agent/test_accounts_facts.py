"""Account databases, /etc/shells and interactive homes read from fixture roots."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from agent.facts import accounts as gatherer
from agent.facts import gather
from agent.facts.accounts import parse_group, parse_passwd, parse_shells
from agent.facts.context import Context
from agent.hosts import RootfsHost
from checks.facts import Account, FactKey, Group, Homes

MakeRoot = Callable[..., Path]


def test_passwd_keeps_the_password_field_and_group_members() -> None:
    assert parse_passwd("root:x:0:0:root:/root:/bin/bash\nbad:x:z:0::/:/bin/sh\n+nis::::::\n") == \
        (Account("root", 0, 0, "/root", "/bin/bash", 1, "x"),)
    assert parse_group("root:x:0:\n# c\nops:x:10:alice, bob,\nbad:x:q:\nshort:x\n") == \
        (Group("root", 0, (), 1), Group("ops", 10, ("alice", "bob"), 3))


def test_shells_as_getusershell_reads_them() -> None:
    text = "# /etc/shells: valid login shells\n/bin/sh\n  /bin/bash # comment\nbogus\nx/usr/bin/zsh\n#/bin/csh\n\n"
    assert parse_shells(text) == ("/bin/sh", "/bin/bash", "/usr/bin/zsh")


def homes_of(root: Path) -> Homes:
    value = gather(Context(RootfsHost(str(root))), [FactKey("homes")]).get(FactKey("homes"))
    assert isinstance(value, Homes), value
    return value


def test_interactive_homes_and_dot_files(make_root: MakeRoot) -> None:
    uid, gid = os.getuid(), os.getgid()
    root = make_root({
        "/etc/passwd": (f"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n"
                        f"svc:x:999:999::/srv/svc:/bin/bash\nalice:x:1000:{gid}::/home/alice:/bin/bash\n"
                        f"bob:x:1001:{gid}::/home/bob:/bin/bash\nnobody:x:65534:65534::/nonexistent:/bin/sh\n"
                        f"carol:x:1002:{gid}::relative:/bin/bash\ndave:x:1003:{gid}::/home/dave:/usr/bin/fish\n"),
        "/etc/group": f"root:x:0:\nstaff:x:{gid}:\n",
        "/etc/shells": "/bin/sh\n/bin/bash\n",
        "/etc/login.defs": "UID_MIN 1000\n",
        "/root/.profile": "\n",
        "/home/alice/.bashrc": "\n", "/home/alice/notes": "\n", "/home/alice/.ssh/authorized_keys": "\n",
    }, modes={"/home/alice/.bashrc": 0o664})
    os.symlink("/etc/hosts.equiv", root / "home/alice/.rhosts")
    found = homes_of(root)
    # root, alice, bob (absent home) and carol (not absolute); not daemon (nologin), svc (below
    # UID_MIN), nobody, or dave (a shell /etc/shells does not list).
    assert [h.user for h in found.homes] == ["root", "alice", "bob", "carol"]
    alice = found.homes[1]
    assert alice.info.kind == "dir" and alice.problem == "" and not alice.truncated
    assert {d.path.rsplit("/", 1)[1]: (d.kind, d.mode) for d in alice.dotfiles} == \
        {".bashrc": ("file", 0o664), ".rhosts": ("link", alice.dotfiles[1].mode), ".ssh": ("dir", 0o755)}
    assert alice.dotfiles[0].uid == uid
    assert not found.homes[2].info.exists and found.homes[3].problem == "not an absolute path"


def test_homes_are_bounded(make_root: MakeRoot) -> None:
    """Past MAX_HOMES accounts, or MAX_DOTFILES dot files in a home, the fact says it saw a part."""
    count = gatherer.MAX_HOMES + 1
    lines = "".join(f"u{i}:x:{1000 + i}:1000::/home/u{i}:/bin/sh\n" for i in range(count))
    files: dict[str, str | bytes] = {"/etc/passwd": lines, "/etc/shells": "/bin/sh\n"}
    files.update({f"/home/u0/.f{i}": "" for i in range(gatherer.MAX_DOTFILES + 1)})
    found = homes_of(make_root(files))
    assert found.truncated and len(found.homes) == gatherer.MAX_HOMES
    assert found.homes[0].truncated and len(found.homes[0].dotfiles) == gatherer.MAX_DOTFILES
