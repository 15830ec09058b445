"""This host's enrollment: the agent token, who the host is, and how clones are told apart.

``credential.json`` (mode 0600, in the state directory) holds the collector URL, the agent
token bound to this host, the TLS settings, and the identity the host had when it enrolled:

- ``host_id``: the keyed hash of machine-id (agent.identity). A state directory copied to
  another machine, or a clone whose machine-id was regenerated, no longer matches it.
- ``instance``: derived from ``instance.key``, random bytes made once per install. Sent at
  enrollment so a collector can refuse a second install claiming the same host id.
- ``anchor``: a hash of the hardware id the firmware reports (DMI product UUID) when it can
  be read. Hypervisors give clones a new one, so a VM cloned together with its machine-id
  and its state directory is caught here.

A mismatch stops submission with one line saying what to do (give the clone its own
machine-id, then enroll it); reports of two machines are never merged under one id.

Exceptions::

    NotEnrolled(UsageError)       no credential in the state directory
    IdentityMismatch(UsageError)  this machine is not the one that enrolled
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from agent import UsageError
from agent.facts.context import Context
from agent.hosts.base import HostError
from agent.state import StateDir

ANCHOR_PATH = "/sys/class/dmi/id/product_uuid"
CLONE_HINT = ("give this machine its own machine-id (rm /etc/machine-id && systemd-machine-id-setup), "
              "then run fedharden enroll")


class NotEnrolled(UsageError):
    """The state directory holds no credential."""


class IdentityMismatch(UsageError):
    """The machine running now is not the one that enrolled (a clone, or a copied state)."""


@dataclass(frozen=True)
class Credential:
    collector: str
    token: str = field(repr=False)
    host_id: str
    hostname: str
    agency: str
    instance: str
    anchor: str = ""
    ca_file: str | None = None
    pin_sha256: str | None = None
    enrolled_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"version": 1, **asdict(self)}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Credential:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in doc.items() if k in names})


def instance_key(state_dir: StateDir) -> bytes:
    """The install's random key, made on first use (the caller holds the lock)."""
    try:
        return bytes.fromhex(state_dir.instance_file.read_text().strip())
    except FileNotFoundError:
        pass
    except ValueError:
        raise NotEnrolled(f"{state_dir.instance_file}: unreadable; remove it and run fedharden enroll") from None
    key = secrets.token_bytes(32)
    from agent.state import write_atomic

    write_atomic(state_dir.instance_file, key.hex().encode() + b"\n", 0o600)
    return key


def instance_id(key: bytes, host_id: str) -> str:
    """A public handle for the install: reveals nothing of the key."""
    return hmac.new(key, f"fedharden instance v1:{host_id}".encode(), hashlib.sha256).hexdigest()[:32]


def anchor(ctx: Context) -> str:
    """A hash of the firmware's hardware id; empty where none can be read (containers, images)."""
    try:
        value = ctx.text(ANCHOR_PATH).strip().lower()
    except HostError:
        return ""
    if not value or set(value) <= {"0", "-", "f"}:
        return ""
    return hashlib.sha256(f"fedharden anchor v1:{value}".encode()).hexdigest()[:32]


ENROLL_HINT = "run fedharden enroll --collector URL"


def load(state_dir: StateDir, enroll_hint: str = ENROLL_HINT) -> Credential:
    """``enroll_hint``: the command that enrolls this state directory's host."""
    doc = state_dir.read_json(state_dir.credential_file)
    if doc is None:
        raise NotEnrolled(f"not enrolled (no credential in {state_dir.path}): {enroll_hint}")
    try:
        return Credential.from_json(doc)
    except TypeError:
        raise NotEnrolled(f"{state_dir.credential_file}: incomplete; run fedharden enroll again") from None


def save(state_dir: StateDir, credential: Credential) -> None:
    state_dir.write_json(state_dir.credential_file, credential.to_json(), 0o600)


def check(credential: Credential, host_id: str, current_anchor: str) -> None:
    """Refuse to submit as a host this machine is not."""
    if host_id != credential.host_id:
        raise IdentityMismatch(
            f"this machine (host id {host_id}) is not the one that enrolled (host id {credential.host_id}): "
            "its machine-id changed or the state directory was copied from another machine; "
            "run fedharden enroll")
    if credential.anchor and current_anchor and current_anchor != credential.anchor:
        raise IdentityMismatch(
            "the hardware id differs from the one at enrollment with the same machine-id and state: "
            f"this looks like a cloned image; {CLONE_HINT}")


def new(collector: str, token: str, host_id: str, hostname: str, agency: str, instance: str, anchor_value: str,
        ca_file: str | None, pin_sha256: str | None) -> Credential:
    return Credential(collector=collector, token=token, host_id=host_id, hostname=hostname, agency=agency,
                      instance=instance, anchor=anchor_value,
                      ca_file=os.path.abspath(ca_file) if ca_file else None, pin_sha256=pin_sha256,
                      enrolled_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
