"""Kernel modules: loaded ones from /proc/modules, rules from modprobe.d."""
from __future__ import annotations

from agent.facts.context import Context, unavailable
from agent.hosts.base import HostError, NotFound
from checks.facts import ModprobeRule, Unavailable

MODPROBE_DIRS = ("/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d", "/usr/lib/modprobe.d", "/lib/modprobe.d")


def parse_modprobe(text: str, path: str) -> list[ModprobeRule]:
    out = []
    lines = text.splitlines()
    number = 0
    while number < len(lines):
        start = number + 1
        line = lines[number]
        number += 1
        while line.endswith("\\") and number < len(lines):  # modprobe.d continues lines with '\'
            line = line[:-1] + " " + lines[number]
            number += 1
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] in ("install", "blacklist"):
            out.append(ModprobeRule(words[0], words[1], " ".join(words[2:]), path, start))
    return out


def gather_modprobe(ctx: Context, args: list[str]) -> dict[str, object]:
    rules: list[ModprobeRule] = []
    try:
        for _, path in ctx.config_dir_files(MODPROBE_DIRS, ".conf"):
            rules.extend(parse_modprobe(ctx.text(path), path))
        if (text := ctx.text_or_none("/etc/modprobe.conf")) is not None:
            rules.extend(parse_modprobe(text, "/etc/modprobe.conf"))
    except HostError as exc:
        return {"": unavailable(exc)}
    return {"": tuple(rules)}


def gather_loaded(ctx: Context, args: list[str]) -> dict[str, object]:
    if not ctx.host.live:
        return {"": Unavailable("loaded modules exist only on a running system; modprobe.d judged instead", True)}
    try:
        text = ctx.text("/proc/modules")
    except NotFound:
        return {"": frozenset()}  # a kernel built without loadable module support
    except HostError as exc:
        return {"": unavailable(exc)}
    return {"": frozenset(line.split()[0] for line in text.splitlines() if line.strip())}


FAMILIES = {"modules_loaded": gather_loaded, "modprobe": gather_modprobe}
PREFETCH = {"modules_loaded": lambda args: ["/proc/modules"],
            "modprobe": lambda args: [*MODPROBE_DIRS, "/etc/modprobe.conf"]}
