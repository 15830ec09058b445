"""Kernel parameters: running values from /proc/sys, persisted ones from sysctl.d."""
from __future__ import annotations

from agent.facts.context import Context, unavailable
from agent.hosts.base import HostError, NotFound
from checks.facts import SysctlSetting, Unavailable

# systemd-sysctl's search path, earliest first; a file name found earlier shadows later ones.
SYSCTL_DIRS = ("/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d")


def normalize(key: str) -> str:
    """sysctl accepts slashes or dots; the first separator decides which."""
    key = key.strip().lstrip("-")
    dot, slash = key.find("."), key.find("/")
    if slash != -1 and (dot == -1 or slash < dot):
        return key.replace(".", "\0").replace("/", ".").replace("\0", "/")
    return key


def parse_sysctl(text: str, path: str) -> list[SysctlSetting]:
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        key, sep, value = stripped.partition("=")
        if sep:
            out.append(SysctlSetting(normalize(key), " ".join(value.split()), path, number))
    return out


def gather_persisted(ctx: Context, args: list[str]) -> dict[str, object]:
    settings: list[SysctlSetting] = []
    try:
        files = [p for _, p in ctx.config_dir_files(SYSCTL_DIRS, ".conf")]
        read_conf = True
        for path in files:
            try:
                # /etc/sysctl.d/99-sysctl.conf is, by distro convention, a link to /etc/sysctl.conf.
                if ctx.host.stat(path, follow=False).kind == "link" and ctx.host.readlink(path).endswith("sysctl.conf"):
                    read_conf = False
            except HostError:
                pass
            settings.extend(parse_sysctl(ctx.text(path), path))
        if read_conf and (text := ctx.text_or_none("/etc/sysctl.conf")) is not None:
            settings.extend(parse_sysctl(text, "/etc/sysctl.conf"))
    except HostError as exc:
        return {"": unavailable(exc)}
    return {"": tuple(settings)}


def gather_runtime(ctx: Context, keys: list[str]) -> dict[str, object]:
    if not ctx.host.live:
        reason = "running kernel parameters exist only on a running system; persisted values judged instead"
        return {k: Unavailable(reason, not_applicable=True) for k in keys}
    out: dict[str, object] = {}
    ctx.host.prefetch(["/proc/sys/" + k.replace(".", "/") for k in keys])
    for key in keys:
        try:
            out[key] = " ".join(ctx.text("/proc/sys/" + key.replace(".", "/")).split())
        except NotFound:
            out[key] = None
        except HostError as exc:
            out[key] = unavailable(exc)
    return out


FAMILIES = {"sysctl": gather_runtime, "sysctl_persisted": gather_persisted}
PREFETCH = {"sysctl": lambda keys: ["/proc/sys/" + k.replace(".", "/") for k in keys],
            "sysctl_persisted": lambda args: [*SYSCTL_DIRS, "/etc/sysctl.conf"]}
