"""Load and validate directive YAML: schema, check parameters, ids, duplicate keys.

Every problem is reported as ``file:line: $.json.path: message`` so a user can go
straight to it. Nothing is loaded from a file that has any problem.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable

from directives.errors import DirectiveError as DirectiveError  # re-exported for older imports
from directives import params
from directives.model import Directive, Requirement
from directives.yamldoc import YamlDoc, read_text, schema_validator


@lru_cache(maxsize=None)
def _check_validator(type_name: str) -> Any:
    import jsonschema

    from checks import CHECK_TYPES

    return jsonschema.Draft202012Validator(CHECK_TYPES[type_name].schema, format_checker=jsonschema.FormatChecker())


def _validate_check(spec: Any, doc: YamlDoc, path: tuple[Any, ...]) -> None:
    from checks import CHECK_TYPES
    from checks.registry import COMPOUND_KEYS

    if not isinstance(spec, dict):
        doc.problem(path, "a check must be a mapping")
        return
    compound = [k for k in COMPOUND_KEYS if k in spec]
    name = compound[0] if compound else spec.get("type")
    if name not in CHECK_TYPES:
        known = ", ".join(sorted(k for k in CHECK_TYPES if k not in COMPOUND_KEYS))
        doc.problem(path + ("type",), f"unknown check type {name!r} (known: {known}; or all/any/none)")
        return
    doc.validate(_check_validator(name), spec, path)
    if compound and isinstance(spec.get(name), list):
        for i, child in enumerate(spec[name]):
            _validate_check(child, doc, path + (name, i))


MANIFEST = "library/validated.json"


@lru_cache(maxsize=None)
def validated_digests() -> frozenset[str]:
    """Digests of the shipped directive files as the test suite validated them
    (`python -m directives` rewrites it; tests/directives/test_library_manifest.py keeps it true). A shipped file with a
    listed digest skips JSON Schema validation, which is most of a scan's start-up cost;
    any other file, or a shipped one edited in place, is validated in full."""
    try:
        return frozenset(json.loads(resources.files("directives").joinpath(MANIFEST).read_text()).values())
    except (OSError, ValueError):
        return frozenset()


def digest_of(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def parse(text: str, name: str) -> Directive:
    """Validate one directive's text; raises DirectiveError listing every problem."""
    doc = YamlDoc(text, name)
    data = doc.data
    if not isinstance(data, dict):
        raise DirectiveError([f"{name}:1: $: a directive must be a mapping"])
    digest = digest_of(text)
    full = digest not in validated_digests()
    if full:
        doc.validate(schema_validator("directive.schema.json"))
    declared = _parameters(data, doc, full)
    defaults = {p.id: p.default for p in declared}
    raw = data.get("requirements")
    requirements: list[Any] = raw if isinstance(raw, list) else []
    seen: dict[str, int] = {}
    for i, req in enumerate(requirements):
        if not isinstance(req, dict):
            continue
        resolvable = _check_references(req, i, defaults, doc)
        for key in ("check", "only_if"):
            if key in req and full and resolvable:
                _validate_check(params.resolve(req[key], defaults), doc, ("requirements", i, key))
        rid = req.get("id")
        if isinstance(rid, str):
            if rid in seen:
                doc.problem(("requirements", i, "id"), f"duplicate requirement id {rid} (also requirements[{seen[rid]}])")
            seen.setdefault(rid, i)
            if isinstance(data.get("id"), str) and not rid.startswith(data["id"] + "."):
                doc.problem(("requirements", i, "id"), f"requirement id {rid} must start with {data['id']}.")
    applies = data.get("applies_to")
    if full and isinstance(applies, dict) and isinstance(applies.get("evident"), dict):
        _validate_check(applies["evident"], doc, ("applies_to", "evident"))
    doc.raise_problems()

    issued = dt.date.fromisoformat(data["issued"])
    reqs = tuple(build_requirement(r, data["id"], issued, defaults) for r in requirements)
    return Directive(
        id=data["id"], title=data["title"], issuer=data["issuer"], kind=data["kind"], issued=issued,
        url=data.get("url", ""), summary=data.get("summary", ""), applies_to=data.get("applies_to", {}),
        requirements=reqs, source=name, digest=digest, parameters=tuple(declared),
    )


def build_requirement(raw: dict[str, Any], directive_id: str, issued: dt.date, values: dict[str, Any]) -> Requirement:
    """A requirement as written, with parameter values substituted (the defaults, or a tailoring's)."""
    used = tuple(sorted(params.references({k: raw.get(k) for k in ("check", "only_if", *params.TEXT_FIELDS)})))
    text = {k: params.interpolate(raw[k], values) for k in params.TEXT_FIELDS}
    return Requirement(
        id=raw["id"], title=text["title"], severity=raw["severity"], due=raw["due"], rationale=text["rationale"],
        remediation=text["remediation"], references=raw["references"], check=params.resolve(raw["check"], values),
        only_if=params.resolve(raw["only_if"], values) if raw.get("only_if") is not None else None,
        directive_id=directive_id, issued=issued, parameters=used, template=raw if used else None,
    )


def _parameters(data: dict[str, Any], doc: YamlDoc, full: bool) -> list[params.Parameter]:
    """The directive's declared parameters; duplicates and defaults that do not fit are problems."""
    raw = data.get("parameters")
    entries: list[Any] = raw if isinstance(raw, list) else []
    declared: dict[str, params.Parameter] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("id", "title", "type")) \
                or "default" not in entry:
            continue  # the schema has said what is wrong
        parameter = params.from_json(entry)
        if parameter.id in declared:
            doc.problem(("parameters", i, "id"), f"duplicate parameter id {parameter.id}")
            continue
        if full:
            for message in params.value_errors(parameter, parameter.default):
                doc.problem(("parameters", i, "default"), message)
        declared[parameter.id] = parameter
    return list(declared.values())


def _check_references(req: dict[str, Any], i: int, values: dict[str, Any], doc: YamlDoc) -> bool:
    """Whether every ``{param: ID}`` and ``{{ID}}`` of a requirement names a declared parameter."""
    before = len(doc.problems)
    known = ", ".join(sorted(values)) or "none declared"
    for key in ("check", "only_if"):
        if key in req:
            params.resolve(req[key], values, lambda path, name: doc.problem(
                ("requirements", i, key, *path), f"unknown parameter {name!r} (parameters: {known})"))  # noqa: B023 (called at once)
    for key in params.TEXT_FIELDS:
        if isinstance(req.get(key), str):
            params.interpolate(req[key], values, lambda name, key=key: doc.problem(  # type: ignore[misc]
                ("requirements", i, key), f"unknown parameter {{{{{name}}}}} (parameters: {known})"))
    return len(doc.problems) == before


def load_file(path: str) -> Directive:
    return parse(read_text(path), path)


def write_manifest() -> str:
    """Validate every shipped file in full and record its digest (run after editing the library)."""
    entries = {}
    for path in library_paths():
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        entries[os.path.basename(path)] = digest_of(text)
    target = str(resources.files("directives").joinpath(MANIFEST))
    validated_digests.cache_clear()
    with open(target, "w", encoding="utf-8") as fh:
        fh.write("{}\n")
    validated_digests.cache_clear()
    load_paths(library_paths())  # raises DirectiveError when any shipped file is invalid
    with open(target, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(entries, indent=2, sort_keys=True) + "\n")
    validated_digests.cache_clear()
    return target


def library_paths() -> list[str]:
    """The directive files shipped with the package."""
    root = resources.files("directives").joinpath("library")
    return sorted(str(p) for p in root.iterdir() if p.name.endswith((".yaml", ".yml")))



def load_paths(paths: Iterable[str]) -> list[Directive]:
    """Load several files; problems from every file are reported together. Directive and
    requirement ids must be unique across the set."""
    problems: list[str] = []
    loaded: list[Directive] = []
    for path in paths:
        try:
            loaded.append(load_file(path))
        except DirectiveError as exc:
            problems.extend(exc.problems)
    owners: dict[str, str] = {}
    for directive in loaded:
        for rid in [directive.id, *(r.id for r in directive.requirements)]:
            if rid in owners and owners[rid] != directive.source:
                problems.append(f"{directive.source}:1: $.id: id {rid} is already used by {owners[rid]}")
            owners.setdefault(rid, directive.source)
    if problems:
        raise DirectiveError(problems)
    return loaded


def load_library(extra: Iterable[str] = ()) -> list[Directive]:
    return load_paths([*library_paths(), *extra])


def directory_files(path: str) -> list[str]:
    """YAML files of a directory, sorted, for ``--directives DIR``."""
    return sorted(os.path.join(path, n) for n in os.listdir(path) if n.endswith((".yaml", ".yml")))
