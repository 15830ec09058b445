"""Account databases: /etc/passwd, /etc/shadow, /etc/group and /etc/shells of the target
itself, and the home directories of its interactive accounts (fact family ``homes``)."""
from __future__ import annotations

import re

from agent.facts.context import Context, unavailable
from agent.hosts.base import HostError, NotFound
from checks.facts import Account, FileInfo, Group, HomeDir, Homes, ShadowEntry

# Bounds on the home directory walk: accounts judged and dot files listed per home. Past either
# the fact says so (truncated) and a check cannot pass on the part it saw.
MAX_HOMES = 2000
MAX_DOTFILES = 500
NOBODY = 65534


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def parse_passwd(text: str) -> tuple[Account, ...]:
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split(":")
        if len(fields) < 7 or line.startswith(("#", "+", "-")):
            continue
        uid, gid = _int(fields[2]), _int(fields[3])
        if uid is None or gid is None:
            continue
        out.append(Account(fields[0], uid, gid, fields[5], fields[6], number, fields[1]))
    return tuple(out)


def parse_group(text: str) -> tuple[Group, ...]:
    """/etc/group lines NAME:PASSWORD:GID:MEMBERS (members comma-separated, blanks dropped)."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split(":")
        if len(fields) < 4 or line.startswith(("#", "+", "-")):
            continue
        gid = _int(fields[2])
        if gid is None:
            continue
        members = tuple(m.strip() for m in fields[3].split(",") if m.strip())
        out.append(Group(fields[0], gid, members, number))
    return tuple(out)


def parse_shells(text: str) -> tuple[str, ...]:
    """/etc/shells as glibc's getusershell(3) reads it (initshells): on each line, from the first
    '/' (unless a '#' comes before it) up to a blank or '#'; lines without one are skipped."""
    out = []
    for line in text.splitlines():
        found = re.match(r"[^#/]*/([^#\s]*)", line)
        if found:
            out.append("/" + found.group(1))
    return tuple(out)


def shells(ctx: Context) -> tuple[str, ...]:
    """Valid login shells. Without /etc/shells glibc's getusershell falls back to /bin/sh and
    /bin/csh."""
    def load() -> tuple[str, ...]:
        text = ctx.text_or_none("/etc/shells")
        return ("/bin/sh", "/bin/csh") if text is None else parse_shells(text)

    return ctx.memo("shells", load)


def interactive(account: Account, valid: tuple[str, ...], uid_min: int) -> bool:
    """An account a person logs in to: a shell /etc/shells lists and that is not nologin or
    false, and root or a UID from UID_MIN up (nobody excluded)."""
    if account.shell not in valid or account.shell.rsplit("/", 1)[-1] in ("nologin", "false"):
        return False
    return account.uid == 0 or (account.uid >= uid_min and account.uid != NOBODY)


def parse_shadow(text: str) -> tuple[ShadowEntry, ...]:
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        f = line.split(":")
        if len(f) < 8 or line.startswith("#"):
            continue
        out.append(ShadowEntry(f[0], f[1], _int(f[2]), _int(f[3]), _int(f[4]), _int(f[5]), _int(f[6]), number))
    return tuple(out)


def names_by_id(text: str) -> dict[int, str]:
    """uid -> name from passwd text, or gid -> name from group text (first entry wins)."""
    out: dict[int, str] = {}
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and (number := _int(fields[2])) is not None:
            out.setdefault(number, fields[0])
    return out


def names(ctx: Context, path: str) -> dict[int, str]:
    """uid -> name (/etc/passwd) or gid -> name (/etc/group), read once per scan; empty when
    unreadable (a file's owner is then shown by number)."""
    def load() -> dict[int, str]:
        try:
            return names_by_id(ctx.text(path))
        except HostError:
            return {}

    return ctx.memo(f"names:{path}", load)


def passwd(ctx: Context) -> tuple[Account, ...]:
    return ctx.memo("passwd", lambda: parse_passwd(ctx.text("/etc/passwd")))


def gather_passwd(ctx: Context, args: list[str]) -> dict[str, object]:
    try:
        return {"": passwd(ctx)}
    except HostError as exc:
        return {"": unavailable(exc)}


def gather_shadow(ctx: Context, args: list[str]) -> dict[str, object]:
    try:
        return {"": parse_shadow(ctx.text("/etc/shadow"))}
    except HostError as exc:
        return {"": unavailable(exc)}


def gather_group(ctx: Context, args: list[str]) -> dict[str, object]:
    try:
        return {"": parse_group(ctx.text("/etc/group"))}
    except HostError as exc:
        return {"": unavailable(exc)}


def gather_shells(ctx: Context, args: list[str]) -> dict[str, object]:
    try:
        return {"": shells(ctx)}
    except HostError as exc:
        return {"": unavailable(exc)}


def uid_min(ctx: Context) -> int:
    """UID_MIN as useradd reads /etc/login.defs (1000 when unset or refused)."""
    from agent.facts.logindefs import parse

    text = ctx.text_or_none("/etc/login.defs")
    found = [s.value for s in parse(text, "/etc/login.defs") if s.key == "uid_min"] if text else []
    return int(found[-1]) if found and found[-1].lstrip("-").isdigit() else 1000


def _info(path: str, st: object, users: dict[int, str], groups: dict[int, str]) -> FileInfo:
    from agent.hosts.base import PathStat

    assert isinstance(st, PathStat)
    return FileInfo(path, True, st.kind, st.mode, st.uid, st.gid, users.get(st.uid, ""), groups.get(st.gid, ""))


def gather_homes(ctx: Context, args: list[str]) -> dict[str, object]:
    """Each interactive account's home directory (stat) and its dot files (lstat), bounded.
    Two batches for a remote host: the account files, then the homes (listing a directory
    brings its entries' lstat along)."""
    try:
        accounts, valid, low = passwd(ctx), shells(ctx), uid_min(ctx)
    except HostError as exc:
        return {"": unavailable(exc)}
    users, groups = names(ctx, "/etc/passwd"), names(ctx, "/etc/group")
    chosen = [a for a in accounts if interactive(a, valid, low)]
    truncated = len(chosen) > MAX_HOMES
    chosen = chosen[:MAX_HOMES]
    ctx.host.prefetch([a.home for a in chosen if a.home.startswith("/")])
    out: list[HomeDir] = []
    listed: list[tuple[Account, FileInfo, list[str], bool, str]] = []
    for account in chosen:
        if not account.home.startswith("/"):
            listed.append((account, FileInfo(account.home, False), [], False, "not an absolute path"))
            continue
        try:
            info = _info(account.home, ctx.host.stat(account.home), users, groups)
        except NotFound:
            listed.append((account, FileInfo(account.home, False), [], False, ""))
            continue
        except HostError as exc:
            listed.append((account, FileInfo(account.home, False), [], False, exc.reason))
            continue
        dotfiles: list[str] = []
        problem = ""
        if info.kind == "dir":
            try:
                dotfiles = [n for n in ctx.host.listdir(account.home) if n.startswith(".") and n not in (".", "..")]
            except HostError as exc:
                problem = f"{account.home}: cannot be listed ({exc.reason})"
        listed.append((account, info, dotfiles[:MAX_DOTFILES], len(dotfiles) > MAX_DOTFILES, problem))
    for account, info, found, cut, problem in listed:
        dots = []
        for name in found:
            path = f"{info.path.rstrip('/')}/{name}"
            try:
                dots.append(_info(path, ctx.host.stat(path, follow=False), users, groups))
            except NotFound:
                continue  # removed while listed
            except HostError as exc:
                problem = problem or f"{path}: {exc.reason}"
        out.append(HomeDir(account.name, account.uid, account.gid, info.path, info, tuple(dots), cut, problem))
    return {"": Homes(tuple(out), low, truncated)}


FAMILIES = {"passwd": gather_passwd, "shadow": gather_shadow, "group": gather_group, "shells": gather_shells,
            "homes": gather_homes}
PREFETCH = {"passwd": lambda args: ["/etc/passwd"], "shadow": lambda args: ["/etc/shadow"],
            "group": lambda args: ["/etc/group"], "shells": lambda args: ["/etc/shells"],
            # Where homes usually are: listed with the first batch, so a remote host has root's dot
            # files and the other homes' metadata before the accounts are even read.
            "homes": lambda args: ["/etc/passwd", "/etc/group", "/etc/shells", "/etc/login.defs", "/root", "/home"]}
