"""Configuration files parsed with each program's own rules (see checks.config).

sshd_config is read by agent.facts.sshd with sshd's own rules (checks.sshd), systemd's own
files (timesyncd.conf and its drop-ins) by agent.facts.systemdconf, Postfix's main.cf by
agent.facts.postfix.
"""
from __future__ import annotations

from agent.facts import logindefs, postfix, systemdconf, useradd
from agent.facts.context import Context, unavailable
from agent.hosts.base import HostError, NotFound
from checks.facts import ConfigFile, ConfigSetting, Unavailable


def _key_value(text: str, path: str, equals: bool) -> list[ConfigSetting]:
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if equals:
            key, sep, value = stripped.partition("=")
            if not sep:
                continue
        else:
            parts = stripped.split(None, 1)
            key, value = parts[0], parts[1] if len(parts) > 1 else ""
        value = value.split(" #")[0].strip().strip("\"'")
        out.append(ConfigSetting(key.strip().lower(), value, path, number))
    return out


def sourced(ctx: Context, path: str, dropins: str) -> ConfigFile | Unavailable:
    """The variables after a shell sources ``path`` and then each drop-in (ufw-init sources
    /etc/default/ufw, then /etc/ufw/ufw.conf), evaluated as agent.facts.grub does, never run."""
    from agent.facts.grub import NotEvaluated, Shell

    shell = Shell()
    found = False
    for name in [path, *(ctx.glob(dropins) if dropins else [])]:
        text = ctx.text_or_none(name)
        if text is None:
            continue
        found |= name == path
        try:
            shell.source(text, name)
        except NotEvaluated as exc:
            return Unavailable(f"not evaluated: {exc}")
    settings = []
    for key, value in sorted(shell.vars.items()):
        file, _, line = shell.where[key].rpartition(":")
        settings.append(ConfigSetting(key, value, file, int(line) if line.isdigit() else 0))
    return ConfigFile(path, "shell", found, tuple(settings), case_sensitive=True)


def keyfile(text: str, path: str) -> ConfigFile:
    """A GKeyFile (GLib 2.74 gkeyfile.c), as GDM reads /etc/gdm3/daemon.conf: lines are
    comments (``#`` after optional blanks, or blank), ``[group]`` headers, or ``key=value``
    pairs (the key's trailing blanks and the value's leading blanks dropped; the value's
    trailing blanks kept). A key set twice keeps the later value; a group given twice is one.
    The first line of any other kind stops the parse: what was read before it stays in force
    (GDM goes on with it), and the line is reported. Keys are ``group/key``, case-sensitive."""
    settings: list[ConfigSetting] = []
    problems: list[str] = []
    group = None
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.lstrip(" \t\r\f\v")
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            header = line.rstrip(" \t\r\f\v")
            name = header[1:-1]
            if header.endswith("]") and name and "[" not in name and "]" not in name:
                group = name
                continue
        elif "=" in line and group is not None:
            key, _, value = line.partition("=")
            key = key.rstrip(" \t\r\f\v")
            if key and "[" not in key and "]" not in key:
                settings.append(ConfigSetting(f"{group}/{key}", value.lstrip(" \t\r\f\v"), path, number))
                continue
            if key and key.endswith("]") and "[" in key:  # a translated value (key[locale]): another key
                continue
        problems.append(f"{path}:{number}: not a group, key=value or comment: the rest of the file is not read")
        break
    return ConfigFile(path, "keyfile", True, tuple(settings), problems=tuple(problems), case_sensitive=True)


def parse(ctx: Context, dialect: str, path: str, dropins: str = "") -> ConfigFile | Unavailable:
    """Raises HostError when the main file or a drop-in exists but cannot be read."""
    if dialect == "sshd":
        from agent.facts.sshd import parse_sshd

        return parse_sshd(ctx, path)
    if dialect == "systemd":
        return systemdconf.parse_systemd_conf(ctx, path)
    if dialect == "postfix":
        text = ctx.text_or_none(path)
        if text is None:
            return ConfigFile(path, dialect, exists=False)
        try:
            return postfix.parse_main_cf(text, path)
        except postfix.MainCfError as exc:
            raise HostError(str(exc)) from exc
    if dialect == "shell":
        return sourced(ctx, path, dropins)
    try:
        text = ctx.text(path)
    except NotFound:
        if not dropins:
            return ConfigFile(path, dialect, exists=False)
        text = None
    extra: list[ConfigSetting] = []
    for dropin in ctx.glob(dropins) if dropins else []:
        if (more := ctx.text_or_none(dropin)) is not None:
            extra.extend(_key_value(more, dropin, equals=dialect == "keyequals"))
    if text is None:
        return ConfigFile(path, dialect, False, tuple(extra))
    if dialect == "keyfile":
        return keyfile(text, path)
    if dialect == "login_defs":
        return ConfigFile(path, dialect, True, tuple(logindefs.parse(text, path) + extra))
    if dialect == "useradd":
        return ConfigFile(path, dialect, True, tuple(useradd.parse(text, path)))
    settings = _key_value(text, path, equals=dialect == "keyequals")
    return ConfigFile(path, dialect, True, tuple(settings + extra))


def gather_config(ctx: Context, args: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for arg in args:
        dialect, _, rest = arg.partition(":")
        path, _, dropins = rest.partition("|")
        try:
            out[arg] = parse(ctx, dialect, path, dropins)
        except HostError as exc:
            out[arg] = unavailable(exc)
    return out


def hint_config(args: list[str]) -> list[str]:
    paths = []
    for arg in args:
        path, _, dropins = arg.partition(":")[2].partition("|")
        paths.append(path)
        if dropins:  # the drop-ins' folder (a glob is listed there), or the one file named
            paths.append(dropins.rpartition("/")[0] if any(c in dropins for c in "*?[") else dropins)
        if arg.startswith("systemd:"):
            paths += systemdconf.hint(path)
    if any(arg.startswith("sshd:") for arg in args):
        paths += ["/etc/ssh/sshd_config.d", "/etc/default/ssh"]  # where distributions point Include; SSHD_OPTS
    return paths


def hint_config_metadata(args: list[str]) -> list[str]:
    """sshd's glob(3) of an Include stats each directory on the way (/etc/ssh/sshd_config.d/*)."""
    return ["/etc", "/etc/ssh"] if any(arg.startswith("sshd:") for arg in args) else []


FAMILIES = {"config": gather_config}
PREFETCH = {"config": hint_config}
PREFETCH_METADATA = {"config": hint_config_metadata}
