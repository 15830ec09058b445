"""The inventory file of ``fedharden scan --inventory``: which hosts to scan over SSH, and how.

::

    defaults:                     # optional; any host field but host and name
      user: scanner
      identity: ~/.ssh/fedharden_ed25519
      sudo: true
    hosts:
      - web1.example.gov          # [user@]host[:port]
      - host: db1.example.gov
        name: db1                 # label and report file name (default: the host)
        port: 2222
        jump: admin@bastion.example.gov
        timeout: 600
        tags: [prod, dmz]

Every problem is reported as one line ``FILE:LINE: hosts[i].field: message`` (UsageError).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from agent import UsageError

FIELDS = {"host", "name", "user", "port", "identity", "jump", "sudo", "timeout", "tags"}
DEFAULT_FIELDS = FIELDS - {"host", "name"}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class Entry:
    name: str
    target: str  # [user@]host[:port] as given, with port and user applied below
    user: str = ""
    port: int = 22
    identity: str | None = None
    jump: str | None = None
    sudo: bool | None = None
    timeout: float | None = None
    tags: tuple[str, ...] = ()
    line: int = 0


class _Problem(Exception):
    def __init__(self, node: Any, where: str, message: str) -> None:
        super().__init__(message)
        self.line = node.start_mark.line + 1 if node is not None else 1
        self.where = where
        self.message = message


def _compose(path: str) -> Any:
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise UsageError(f"--inventory: {path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"--inventory: {path}: not UTF-8 text") from None
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(f"{path}:{line}: invalid YAML: {problem}") from None


def _mapping(node: Any, where: str) -> dict[str, tuple[Any, Any]]:
    """key -> (key node, value node); duplicate and non-string keys are errors."""
    if node is None or node.tag != "tag:yaml.org,2002:map":
        raise _Problem(node, where, "must be a mapping")
    out: dict[str, tuple[Any, Any]] = {}
    for key, value in node.value:
        if key.tag != "tag:yaml.org,2002:str":
            raise _Problem(key, where, f"key {key.value!r} must be a string")
        if key.value in out:
            raise _Problem(key, f"{where}.{key.value}",
                           f"duplicate key (first on line {out[key.value][0].start_mark.line + 1})")
        out[key.value] = (key, value)
    return out


def _scalar(node: Any, where: str, kind: str) -> Any:
    import yaml

    if not isinstance(node, yaml.ScalarNode):
        raise _Problem(node, where, f"must be {kind}")
    value = yaml.SafeLoader(  # resolve the scalar's type as a YAML loader does
        "").construct_object(node, deep=True)
    return value


def _field(name: str, node: Any, where: str) -> Any:
    value = _scalar(node, where, "a value") if name != "tags" else None
    if name in ("host", "name", "user", "identity", "jump"):
        if not isinstance(value, str) or not value.strip():
            raise _Problem(node, where, "must be a non-empty string")
        if name == "name" and not NAME.match(value):
            raise _Problem(node, where, "must be letters, digits, '.', '_' or '-' (it names the report file)")
        return value.strip()
    if name == "port":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            raise _Problem(node, where, "must be an integer from 1 to 65535")
        return value
    if name == "sudo":
        if not isinstance(value, bool):
            raise _Problem(node, where, "must be true or false")
        return value
    if name == "timeout":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 1:
            raise _Problem(node, where, "must be a number of seconds, at least 1")
        return float(value)
    # tags
    if node.tag != "tag:yaml.org,2002:seq":
        raise _Problem(node, where, "must be a list of strings")
    tags = []
    for i, item in enumerate(node.value):
        tag = _scalar(item, f"{where}[{i}]", "a string")
        if not isinstance(tag, str) or not tag:
            raise _Problem(item, f"{where}[{i}]", "must be a non-empty string")
        tags.append(tag)
    return tuple(tags)


def _fields(mapping: dict[str, tuple[Any, Any]], where: str, allowed: set[str]) -> dict[str, Any]:
    out = {}
    for name, (key, value) in mapping.items():
        if name not in allowed:
            raise _Problem(key, f"{where}.{name}", f"unknown field (known: {', '.join(sorted(allowed))})")
        out[name] = _field(name, value, f"{where}.{name}")
    return out


def _default_name(target: str) -> str:
    from agent.hosts.sshconnect import Target

    t = Target.parse(target)
    name = t.host if t.port == 22 else f"{t.host}_{t.port}"
    return re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip("._-") or "host"


def _entries(root: Any) -> list[Entry]:
    from agent.hosts.sshconnect import Target

    top = _mapping(root, "$")
    for name, (key, _) in top.items():
        if name not in ("defaults", "hosts"):
            raise _Problem(key, name, "unknown top-level key (known: defaults, hosts)")
    defaults = _fields(_mapping(top["defaults"][1], "defaults"), "defaults", DEFAULT_FIELDS) if "defaults" in top else {}
    if "hosts" not in top:
        raise _Problem(root, "hosts", "missing: the list of hosts to scan")
    hosts_node = top["hosts"][1]
    if hosts_node.tag != "tag:yaml.org,2002:seq" or not hosts_node.value:
        raise _Problem(hosts_node, "hosts", "must be a non-empty list")
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    for i, node in enumerate(hosts_node.value):
        where = f"hosts[{i}]"
        if node.tag == "tag:yaml.org,2002:map":
            fields = _fields(_mapping(node, where), where, FIELDS)
            if "host" not in fields:
                raise _Problem(node, f"{where}.host", "missing")
            target_node = _mapping(node, where)["host"][1]
        else:
            fields = {"host": _field("host", node, where)}
            target_node = node
        merged = {**defaults, **fields}
        try:
            target = Target.parse(merged["host"], merged.get("user", ""), merged.get("port", 22))
        except UsageError as exc:
            raise _Problem(target_node, f"{where}.host", str(exc)) from None
        name = fields.get("name") or _default_name(merged["host"])
        line = node.start_mark.line + 1
        if name in seen:
            raise _Problem(node, f"{where}.name", f"{name!r} is already used on line {seen[name]} "
                                                  "(give each host its own name)")
        seen[name] = line
        entries.append(Entry(name=name, target=f"{target.user + '@' if target.user else ''}"
                                                f"{'[' + target.host + ']' if ':' in target.host else target.host}"
                                                f":{target.port}",
                             user=target.user, port=target.port, identity=merged.get("identity"),
                             jump=merged.get("jump"), sudo=merged.get("sudo"), timeout=merged.get("timeout"),
                             tags=merged.get("tags", ()), line=line))
    return entries


def load(path: str) -> list[Entry]:
    """The inventory's hosts; raises UsageError with one line naming file:line and field."""
    root = _compose(path)
    if root is None:
        raise UsageError(f"{path}:1: hosts: missing: the inventory is empty")
    try:
        return _entries(root)
    except _Problem as problem:
        raise UsageError(f"{path}:{problem.line}: {problem.where}: {problem.message}") from None
