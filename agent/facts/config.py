"""Configuration files parsed with each program's own rules (see checks.config).

sshd_config is read by agent.facts.sshd with sshd's own rules (checks.sshd).
"""
from __future__ import annotations

from agent.facts import logindefs
from agent.facts.context import Context, unavailable
from agent.hosts.base import HostError, NotFound
from checks.facts import ConfigFile, ConfigSetting


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


def parse(ctx: Context, dialect: str, path: str, dropins: str = "") -> ConfigFile:
    """Raises HostError when the main file or a drop-in exists but cannot be read."""
    if dialect == "sshd":
        from agent.facts.sshd import parse_sshd

        return parse_sshd(ctx, path)
    if dialect == "systemd":
        from agent.facts import systemdconf

        return systemdconf.parse(ctx, path)
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
    if dialect == "login_defs":
        return ConfigFile(path, dialect, True, tuple(logindefs.parse(text, path) + extra))
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
    paths = [arg.partition(":")[2].partition("|")[0] for arg in args]
    if any(arg.startswith("systemd:") for arg in args):
        from agent.facts.systemdconf import places

        paths += [p for arg in args if arg.startswith("systemd:") for p in places(arg.partition(":")[2])]
    if any(arg.startswith("sshd:") for arg in args):
        paths += ["/etc/ssh/sshd_config.d", "/etc/default/ssh"]  # where distributions point Include; SSHD_OPTS
    return paths


FAMILIES = {"config": gather_config}
PREFETCH = {"config": hint_config}
