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

Every problem is reported as one line ``FILE:LINE: hosts[i].field: message`` (UsageError); a
problem with the YAML itself (a syntax error, a duplicate key) as every policy file reports it,
``FILE:LINE: $.hosts[i].field: message`` (directives/yamldoc.py reads the file).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from agent import UsageError
from directives.yamldoc import YamlDoc

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
    def __init__(self, line: int, where: str, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.where = where
        self.message = message


NodePath = tuple[Any, ...]  # a node's place in the document, as YamlDoc records its line


def _read(path: str) -> YamlDoc:
    """The inventory parsed by the product's one line-aware YAML loader."""
    from directives.errors import DirectiveError

    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise UsageError(f"--inventory: {path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"--inventory: {path}: not UTF-8 text") from None
    try:
        doc = YamlDoc(text, path, empty_ok=True)
    except DirectiveError as exc:  # invalid YAML: one line, file:line
        raise UsageError(exc.problems[0]) from None
    if doc.problems:  # a duplicate key, a merge key
        raise UsageError(doc.problems[0])
    return doc


def _mapping(doc: YamlDoc, path: NodePath, where: str) -> dict[str, Any]:
    value = _at(doc, path)
    if not isinstance(value, dict):
        raise _Problem(doc.line(path), where, "must be a mapping")
    return value


def _at(doc: YamlDoc, path: NodePath) -> Any:
    value = doc.data
    for part in path:
        value = value[part]
    return value


def _scalar(doc: YamlDoc, path: NodePath, where: str, kind: str) -> Any:
    value = _at(doc, path)
    if isinstance(value, (dict, list)):
        raise _Problem(doc.line(path), where, f"must be {kind}")
    return value


def _field(doc: YamlDoc, name: str, path: NodePath, where: str) -> Any:
    value = _scalar(doc, path, where, "a value") if name != "tags" else None
    line = doc.line(path)
    if name in ("host", "name", "user", "identity", "jump"):
        if not isinstance(value, str) or not value.strip():
            raise _Problem(line, where, "must be a non-empty string")
        if name == "name" and not NAME.match(value):
            raise _Problem(line, where, "must be letters, digits, '.', '_' or '-' (it names the report file)")
        return value.strip()
    if name == "port":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            raise _Problem(line, where, "must be an integer from 1 to 65535")
        return value
    if name == "sudo":
        if not isinstance(value, bool):
            raise _Problem(line, where, "must be true or false")
        return value
    if name == "timeout":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 1:
            raise _Problem(line, where, "must be a number of seconds, at least 1")
        return float(value)
    # tags
    items = _at(doc, path)
    if not isinstance(items, list):
        raise _Problem(line, where, "must be a list of strings")
    tags = []
    for i in range(len(items)):
        tag = _scalar(doc, (*path, i), f"{where}[{i}]", "a string")
        if not isinstance(tag, str) or not tag:
            raise _Problem(doc.line((*path, i)), f"{where}[{i}]", "must be a non-empty string")
        tags.append(tag)
    return tuple(tags)


def _fields(doc: YamlDoc, path: NodePath, where: str, allowed: set[str]) -> dict[str, Any]:
    out = {}
    for name in _mapping(doc, path, where):
        if name not in allowed:
            raise _Problem(doc.key_line(path, name), f"{where}.{name}", f"unknown field (known: {', '.join(sorted(allowed))})")
        out[name] = _field(doc, name, (*path, name), f"{where}.{name}")
    return out


def _default_name(target: str) -> str:
    from agent.hosts.sshconnect import Target

    t = Target.parse(target)
    name = t.host if t.port == 22 else f"{t.host}_{t.port}"
    return re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip("._-") or "host"


def _entries(doc: YamlDoc) -> list[Entry]:
    from agent.hosts.sshconnect import Target

    top = _mapping(doc, (), "$")
    for name in top:
        if name not in ("defaults", "hosts"):
            raise _Problem(doc.key_line((), name), name, "unknown top-level key (known: defaults, hosts)")
    defaults = _fields(doc, ("defaults",), "defaults", DEFAULT_FIELDS) if "defaults" in top else {}
    if "hosts" not in top:
        raise _Problem(doc.line(()), "hosts", "missing: the list of hosts to scan")
    hosts = top["hosts"]
    if not isinstance(hosts, list) or not hosts:
        raise _Problem(doc.line(("hosts",)), "hosts", "must be a non-empty list")
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    for i, node in enumerate(hosts):
        where = f"hosts[{i}]"
        path: NodePath = ("hosts", i)
        line = doc.line(path)
        if isinstance(node, dict):
            fields = _fields(doc, path, where, FIELDS)
            if "host" not in fields:
                raise _Problem(line, f"{where}.host", "missing")
            target_path: NodePath = (*path, "host")
        else:
            fields = {"host": _field(doc, "host", path, where)}
            target_path = path
        merged = {**defaults, **fields}
        try:
            target = Target.parse(merged["host"], merged.get("user", ""), merged.get("port", 22))
        except UsageError as exc:
            raise _Problem(doc.line(target_path), f"{where}.host", str(exc)) from None
        name = fields.get("name") or _default_name(merged["host"])
        if name in seen:
            raise _Problem(line, f"{where}.name", f"{name!r} is already used on line {seen[name]} "
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
    doc = _read(path)
    if doc.data is None:
        raise UsageError(f"{path}:1: hosts: missing: the inventory is empty")
    try:
        return _entries(doc)
    except _Problem as problem:
        raise UsageError(f"{path}:{problem.line}: {problem.where}: {problem.message}") from None
