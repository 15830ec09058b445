"""The directories root's PATH can hold: fact family ``root_path``.

Root's PATH is what login, su, sudo or sshd start it with and what the shell's startup files
then assign; fedharden runs none of them. It collects every PATH value those files can give:
ENV_SUPATH of /etc/login.defs (login and su for root), PATH= of /etc/environment and
/etc/security/pam_env.conf (pam_env),
sudo's ``secure_path`` (every Defaults entry, as sudo reads the policy), and each ``PATH=...``
assignment (optionally after ``export``, ``readonly``, ``;``) of
/etc/profile, /etc/profile.d/*.sh, /etc/bash.bashrc and root's .bash_profile, .bash_login,
.profile and .bashrc. Quotes are removed, ``$PATH`` / ``${PATH}`` entries are the value kept
from before, entries with another ``$`` or a backquote are unresolved (a person judges them).
Each absolute entry's metadata is taken following links, resolved here from the cached
listings of /, /usr and /usr/local so that a remote host answers from its first batch.
"""
from __future__ import annotations

import re

from agent.facts.accounts import names
from agent.facts.context import Context, unavailable
from agent.hosts.base import HostError, NotFound
from checks.facts import FileInfo, PathEntry, RootPath

SHELL_FILES = ("/etc/profile", "/etc/profile.d/*.sh", "/etc/bash.bashrc", "/root/.bash_profile", "/root/.bash_login",
               "/root/.profile", "/root/.bashrc")
ASSIGNMENT = re.compile(r"""(?:^|[\s;&|(])(?:(?:export|readonly|declare\s+-\w+|typeset\s+-\w+|local)\s+)?PATH(\+?)="""
                        r"""("[^"]*"|'[^']*'|[^\s;&|)]*)""")
KEEP = {"$PATH", "${PATH}"}
MAX_LINKS = 16


def _values(text: str, path: str) -> list[tuple[str, str]]:
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#"):
            continue
        for found in ASSIGNMENT.finditer(line):
            value = found.group(2).strip("\"'")
            if found.group(1):  # PATH+=":/x" appends to the value before: its leading ':' joins them
                value = value.removeprefix(":")
            out.append((value, f"{path}:{number}"))
    return out


def _login_defs(text: str, path: str) -> list[tuple[str, str]]:
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if len(words) >= 2 and words[0] == "ENV_SUPATH":
            out.append((words[1].removeprefix("PATH="), f"{path}:{number} (ENV_SUPATH)"))
    return out


def _environment(text: str, path: str) -> list[tuple[str, str]]:
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        found = re.match(r"\s*(?:export\s+)?PATH=(.*)$", line)
        if found:
            out.append((found.group(1).strip().strip("\"'"), f"{path}:{number}"))
    return out


def _pam_env(text: str, path: str) -> list[tuple[str, str]]:
    """pam_env.conf(5): ``PATH DEFAULT=value OVERRIDE=value`` (either may be absent)."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if words[:1] == ["PATH"]:
            for word in words[1:]:
                key, _, value = word.partition("=")
                if key in ("DEFAULT", "OVERRIDE"):
                    out.append((value.strip("\"'"), f"{path}:{number} ({key})"))
    return out


def _secure_path(ctx: Context) -> list[tuple[str, str]]:
    """sudo's secure_path, global and scoped, from the policy as sudo reads it."""
    from agent.facts.sudoers import read_sudoers

    policy = read_sudoers(ctx, "/etc/sudoers")
    return [(d.value, f"{d.where} (secure_path)") for d in policy.defaults
            if d.name == "secure_path" and isinstance(d.value, str)]


def _resolve(ctx: Context, path: str) -> str:
    """The path with its symbolic links resolved, component by component (bounded)."""
    parts = [p for p in path.split("/") if p]
    done = ""
    hops = 0
    while parts:
        name = parts.pop(0)
        if name == ".":
            continue
        if name == "..":
            done = done.rpartition("/")[0]
            continue
        candidate = f"{done}/{name}"
        try:
            st = ctx.host.stat(candidate, follow=False)
        except NotFound:
            return "/".join([candidate, *parts]) if parts else candidate
        if st.kind == "link" and hops < MAX_LINKS:
            hops += 1
            target = ctx.host.readlink(candidate)
            parts = [p for p in target.split("/") if p] + parts
            done = "" if target.startswith("/") else done
            continue
        done = candidate
    return done or "/"


def gather_root_path(ctx: Context, args: list[str]) -> dict[str, object]:
    try:
        values: list[tuple[str, str]] = []
        sources: list[str] = []
        for path, reader in (("/etc/login.defs", _login_defs), ("/etc/environment", _environment),
                             ("/etc/security/pam_env.conf", _pam_env)):
            text = ctx.text_or_none(path)
            if text is not None:
                sources.append(path)
                values += reader(text, path)
        values += _secure_path(ctx)
        files = [p for pattern in SHELL_FILES for p in ctx.glob(pattern)]
        ctx.host.prefetch(files)
        for path in files:
            try:
                if ctx.host.stat(path).kind != "file":
                    continue
            except NotFound:
                continue
            text = ctx.text_or_none(path)
            if text is not None:
                sources.append(path)
                values += _values(text, path)
        users, groups = names(ctx, "/etc/passwd"), names(ctx, "/etc/group")
        entries: list[PathEntry] = []
        unresolved: list[PathEntry] = []
        # every directory named, in one batch (the common ones are known from the listings hinted below)
        ctx.host.prefetch([], metadata=[e for value, _ in values for e in value.split(":") if e.startswith("/")])
        for value, where in values:
            for entry in value.split(":"):
                if entry in KEEP:
                    continue
                if "$" in entry or "`" in entry or "@{" in entry:
                    unresolved.append(PathEntry(entry, where))
                    continue
                if not entry.startswith("/"):
                    entries.append(PathEntry(entry, where))
                    continue
                try:
                    st = ctx.host.stat(_resolve(ctx, entry))
                    info = FileInfo(entry, True, st.kind, st.mode, st.uid, st.gid, users.get(st.uid, ""),
                                    groups.get(st.gid, ""))
                except NotFound:
                    info = FileInfo(entry, False)
                entries.append(PathEntry(entry, where, info))
        return {"": RootPath(tuple(entries), tuple(sources), tuple(unresolved))}
    except HostError as exc:
        return {"": unavailable(exc)}


FAMILIES = {"root_path": gather_root_path}
# The usual PATH directories hang off /, /usr and /usr/local: their listings answer the stats.
PREFETCH = {"root_path": lambda args: ["/etc/login.defs", "/etc/environment", "/etc/security/pam_env.conf", "/etc/profile",
                                       "/etc/profile.d", "/etc/bash.bashrc", "/root", "/etc/passwd", "/etc/group", "/etc/sudoers",
                                       "/etc/sudoers.d", "/", "/usr",
                                       "/usr/local"]}
