"""YAML with line numbers: the machinery every policy file (directives, waivers, tailoring)
shares, so each problem is reported as ``file:line: $.json.path: message``."""
from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from directives.errors import DirectiveError
from directives.packaged import packaged

if TYPE_CHECKING:
    import yaml


@lru_cache(maxsize=None)
def _loader() -> Any:
    """The YAML loader class, imported on the first parse: a scan whose directives come from the
    compiled library cache (directives.library_cache) reads no YAML and does not pay for it."""
    try:  # the C parser is several times faster; the pure one behaves the same
        from yaml import CSafeLoader
        return CSafeLoader
    except ImportError:  # pragma: no cover
        from yaml import SafeLoader
        return SafeLoader


def json_path(parts: Iterable[Any]) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


class YamlDoc:
    """A YAML document turned into JSON-compatible data, remembering each node's line.

    Dates become ISO strings; duplicate keys and merge keys are problems. Unparseable text
    raises ``error`` (a DirectiveError subclass) at once, and so does empty text unless
    ``empty_ok`` (then ``data`` is None). Every YAML file the product reads goes through this
    class (tests/test_one_yaml_loader.py), so each reports problems the same way.
    """

    def __init__(self, text: str, name: str, error: type[DirectiveError] = DirectiveError, empty_ok: bool = False) -> None:
        self.name = name
        self.error = error
        self.lines: dict[tuple[Any, ...], int] = {}
        self.problems: list[str] = []
        import yaml

        loader = _loader()(text)
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark else 1
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise error([f"{name}:{line}: $: invalid YAML: {problem}"]) from None
        finally:
            loader.dispose()
        if node is None:
            if not empty_ok:
                raise error([f"{name}:1: $: empty document"])
            self.data: Any = None
            return
        self._nodes = (yaml.MappingNode, yaml.SequenceNode)
        self._loader = _loader()("")
        self.data = self._convert(node, ())
        self._loader.dispose()

    def line(self, path: Iterable[Any]) -> int:
        parts = tuple(path)
        while parts and parts not in self.lines:
            parts = parts[:-1]
        return self.lines.get(parts, 1)

    def problem(self, path: Iterable[Any], message: str) -> None:
        parts = tuple(path)
        self.problems.append(f"{self.name}:{self.line(parts)}: {json_path(parts)}: {message}")

    def key_line(self, path: Iterable[Any], key: str) -> int:
        """The line of a mapping key itself (a problem with the key, not its value)."""
        return self.lines.get((*path, key, "#first"), self.line(path))

    def where(self, path: Iterable[Any]) -> str:
        """``file:line`` of a node, for reports that point back at the policy file."""
        return f"{self.name}:{self.line(path)}"

    def validate(self, validator: Any, data: Any = None, prefix: tuple[Any, ...] = ()) -> None:
        """Record every JSON Schema violation of ``data`` (default: the whole document)."""
        target = self.data if data is None else data
        for error in sorted(validator.iter_errors(target), key=lambda e: list(map(str, e.absolute_path))):
            self.problem(prefix + tuple(error.absolute_path), error.message)

    def raise_problems(self) -> None:
        if self.problems:
            raise self.error(self.problems)

    def _convert(self, node: yaml.Node, path: tuple[Any, ...]) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, self._nodes[0]):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self._scalar(key_node)
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self.problem(path, "merge keys (<<) are not allowed")
                    continue
                key = str(key)
                if key in out:
                    self.lines[path + (key,)] = key_node.start_mark.line + 1
                    self.problem(path + (key,), f"duplicate key {key!r} (first at line {self.lines[path + (key, '#first')]})")
                    continue
                self.lines[path + (key, "#first")] = key_node.start_mark.line + 1
                out[key] = self._convert(value_node, path + (key,))
            return out
        if isinstance(node, self._nodes[1]):
            return [self._convert(item, path + (i,)) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _scalar(self, node: yaml.Node) -> Any:
        try:
            value = self._loader.construct_object(node, deep=True)
        except ValueError:  # a timestamp-shaped scalar that is no date (2026-02-30): the schema says so
            return str(node.value)
        if isinstance(value, (dt.date, dt.datetime)):
            return value.isoformat()
        return value


def read_text(path: str, error: type[DirectiveError] = DirectiveError) -> str:
    """A policy file's text; unreadable or non-UTF-8 files raise ``error`` with one line."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise error([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error([f"{path}:1: $: not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None


@lru_cache(maxsize=None)
def schema_validator(name: str, definition: str = "") -> Any:
    """A Draft 2020-12 validator for one of the schemas shipped in directives/schemas/, or for
    one of its ``$defs`` (a directive folder's section file)."""
    import jsonschema

    schema = json.loads(Path(packaged(f"schemas/{name}")).read_text())
    if definition:
        schema = {"$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"}
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


class Tagged(str):
    """A string written with a local tag (``!unsafe`` for Ansible: a value it must not template)."""

    tag = "!unsafe"


def _tagged(dumper: yaml.SafeDumper, value: Tagged) -> yaml.Node:
    # A literal block for file contents where YAML allows one (the emitter falls back to quotes).
    return dumper.represent_scalar(value.tag, str(value), style="|" if "\n" in value else None)


def dump(data: Any) -> str:
    """YAML for files the project writes (playbooks): block style, keys in the order given,
    ``Tagged`` strings with their tag; every other value as the safe dumper writes it."""
    import yaml  # here, not at import: a scan with a warm library cache loads no YAML module

    class Dumper(yaml.SafeDumper):
        pass

    Dumper.add_representer(Tagged, _tagged)
    return yaml.dump(data, Dumper=Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=100)
