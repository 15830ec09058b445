"""systemd-sysctl's reading of sysctl.d (sysctl.d(5), systemd 252), as pure functions.

- Keys are normalized as ``sysctl_normalize`` does: when the first separator is a dot, dots
  and slashes swap (``net.ipv4.conf.eth0/100.rp_filter`` is interface ``eth0.100``); the
  result is kept in slash form, repeated slashes folded and ``.`` components dropped.
- The options form an ordered map: an assignment of a key already present with the same value
  is a no-op; with another value the earlier one is removed and the new one goes to the end.
- ``-key = value`` only ignores a failed write; ``-key`` with no ``=`` is an exclusion: the
  key is "explicitly set" to nothing, so no glob touches it.
- A key with ``*?[`` is a glob, applied in map order to every matching parameter that has no
  explicit entry: an explicit key beats a glob wherever either appears.
"""
from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Iterable

from checks.facts import SysctlSetting

GLOB_CHARS = re.compile(r"[*?\[]")


def normalize(key: str) -> str:
    """``sysctl_normalize``: the key in slash form, the way systemd-sysctl stores it."""
    first = re.search(r"[./]", key)
    if first is not None and first.group() == ".":
        key = key.translate(str.maketrans("./", "/."))
    parts = [p for p in key.split("/") if p not in ("", ".")]
    return "/".join(parts)


def dotted(key: str) -> str:
    """A slash-form key as ``sysctl`` prints it (dots inside a component become slashes)."""
    return key.translate(str.maketrans("./", "/."))


def is_glob(key: str) -> bool:
    return GLOB_CHARS.search(key) is not None


def options(settings: Iterable[SysctlSetting]) -> dict[str, SysctlSetting]:
    """The ordered option map systemd-sysctl builds from ``settings`` (in file order)."""
    out: dict[str, SysctlSetting] = {}
    for setting in settings:
        key = normalize(setting.key)
        if not key:
            continue
        existing = out.get(key)
        if existing is not None:
            if existing.value == setting.value:
                continue
            del out[key]
        out[key] = setting
    return out


def glob_matches(pattern: str, key: str) -> bool:
    """glob(3) on /proc/sys paths: component by component, ``*`` never crosses a slash and a
    leading dot must be matched literally."""
    want, have = pattern.split("/"), key.split("/")
    if len(want) != len(have):
        return False
    for w, h in zip(want, have):
        if h.startswith(".") and not w.startswith("."):
            return False
        if not fnmatchcase(h, w):
            return False
    return True


def applied(opts: dict[str, SysctlSetting], key: str) -> SysctlSetting | None:
    """The setting whose value ``key`` (slash form, an existing parameter) ends with, or None
    when systemd-sysctl leaves it alone (not named, or excluded with ``-key``)."""
    if key in opts:
        explicit = opts[key]
        return explicit if explicit.value is not None else None
    found = None
    for pattern, setting in opts.items():
        if setting.value is not None and is_glob(pattern) and glob_matches(pattern, key):
            found = setting
    return found


def persisted_sysctl(settings: tuple[SysctlSetting, ...], key: str) -> SysctlSetting | None:
    """The assignment systemd-sysctl leaves ``key`` (any form) with, or None."""
    return applied(options(settings), normalize(key))


def interface_globs(opts: dict[str, SysctlSetting], family: str, parameter: str) -> list[tuple[str, SysctlSetting]]:
    """Globs that can set ``parameter`` of some interface of ``family`` (``net/ipv4/conf``):
    systemd applies them at boot and, through udev, to every interface that appears later."""
    prefix = family.split("/")
    out = []
    for pattern, setting in opts.items():
        parts = pattern.split("/")
        if setting.value is None or not is_glob(pattern) or len(parts) != len(prefix) + 2:
            continue
        if not is_glob(parts[len(prefix)]):
            continue
        if all(fnmatchcase(h, w) for w, h in zip(parts[:len(prefix)], prefix)) and fnmatchcase(parameter, parts[-1]):
            out.append((pattern, setting))
    return out


# The one side effect among the parameters fedharden judges (net/ipv4/devinet.c,
# inet_forward_change): turning IPv4 forwarding on or off through ip_forward or
# conf/all/forwarding sets conf/all/accept_redirects to the opposite, when the value changes.
FORWARDING = ("net/ipv4/ip_forward", "net/ipv4/conf/all/forwarding")


def kernel_write(state: dict[str, str], key: str, value: str) -> None:
    """One write to /proc/sys as the kernel takes it, on ``state`` (slash keys -> values)."""
    if key in FORWARDING:
        before = state.get(FORWARDING[0], state.get(FORWARDING[1]))
        on = _int(value)
        if on is None:
            return
        if before is None or _int(before) != on:
            state["net/ipv4/conf/all/accept_redirects"] = "0" if on else "1"
        for alias in FORWARDING:
            state[alias] = str(on)
        return
    number = _int(value)
    state[key] = str(number) if number is not None else value


def _int(value: str) -> int | None:
    try:
        return int(value.strip())
    except ValueError:
        return None


def simulate(opts: dict[str, SysctlSetting], initial: dict[str, str]) -> dict[str, str]:
    """The values ``initial`` (every existing parameter of interest) ends with after
    systemd-sysctl's apply_all: options in map order, a glob written to each matching
    parameter that has no explicit entry, exclusions skipped."""
    state = dict(initial)
    for key, setting in opts.items():
        if setting.value is None:
            continue
        if not is_glob(key):
            if key in state or key in FORWARDING:
                kernel_write(state, key, setting.value)
            continue
        for target in sorted(initial):
            if target not in opts and glob_matches(key, target):
                kernel_write(state, target, setting.value)
    return {key: state[key] for key in initial}
