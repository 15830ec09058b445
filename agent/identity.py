"""Who the scanned host is: a stable id that survives reboots and renames."""
from __future__ import annotations

import hashlib
import hmac

from agent.facts.context import Context
from agent.hosts.base import HostError

# systemd asks applications not to expose machine-id itself but a keyed hash of it
# (sd_id128_get_machine_app_specific); this key is fedharden's own.
APP_KEY = b"fedharden host identity v1"
PATHS = ("/etc/machine-id", "/var/lib/dbus/machine-id", "/proc/sys/kernel/hostname", "/etc/hostname")


def machine_id(ctx: Context) -> str:
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            value = ctx.text(path).strip()
        except HostError:
            continue
        if value and value != "uninitialized":
            return value
    return ""


def host_id(ctx: Context) -> str:
    """A keyed hash of machine-id; without one (a fresh golden image), of the target's name."""
    mid = machine_id(ctx)
    source = f"machine-id:{mid}" if mid else f"target:{ctx.host.name}"
    return hmac.new(APP_KEY, source.encode(), hashlib.sha256).hexdigest()[:32]


MAX_HOSTNAME = 253  # a DNS name; anything longer in the file is not a host name


def hostname(ctx: Context) -> str:
    """The first line that is not a comment, as hostname(5) reads the file; a line too long to
    be a host name (garbage, a disk's contents) or holding a NUL (no host name can) is passed
    over for the next source."""
    paths = ("/proc/sys/kernel/hostname", "/etc/hostname") if ctx.host.live else ("/etc/hostname",)
    for path in paths:
        try:
            text = ctx.text(path)
        except HostError:
            continue
        lines = (line.strip() for line in text.splitlines())
        name = next((line for line in lines if line and not line.startswith("#")), "")
        if name and len(name) <= MAX_HOSTNAME and "\x00" not in name:
            return name
    return ctx.host.name
