"""Load and validate directive YAML: schema, check parameters, ids, duplicate keys.

Every problem is reported as ``file:line: $.json.path: message`` so a user can go
straight to it. Nothing is loaded from a file that has any problem.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from directives import params
from directives.errors import DirectiveError as DirectiveError  # re-exported for older imports
from directives.model import Directive, Requirement
from directives.packaged import packaged
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


@lru_cache(maxsize=None)
def _fix_validator(type_name: str) -> Any:
    import jsonschema

    from checks.fixes import FIX_TYPES

    return jsonschema.Draft202012Validator(FIX_TYPES[type_name].schema, format_checker=jsonschema.FormatChecker())


def _validate_fix(spec: Any, doc: YamlDoc, path: tuple[Any, ...]) -> None:
    """A fix spec's parameters against its type's schema; an ``all`` part by part."""
    from checks.fixes import COMPOUND, FIX_TYPES

    if not isinstance(spec, dict):
        doc.problem(path, "a fix must be a mapping")
        return
    if COMPOUND in spec:
        children = spec[COMPOUND]
        if set(spec) != {COMPOUND} or not isinstance(children, list) or not children:
            doc.problem(path, f"a compound fix is {{{COMPOUND}: [fix, ...]}} and nothing else")
            return
        for i, child in enumerate(children):
            if isinstance(child, dict) and child.get("type") == "manual":
                doc.problem(path + (COMPOUND, i), "a manual fix stands alone (fix: {type: manual, question: ...}), "
                                                  "never as a part of an all")
            _validate_fix(child, doc, path + (COMPOUND, i))
        return
    name = spec.get("type")
    if name not in FIX_TYPES:
        doc.problem(path + ("type",), f"unknown fix type {name!r} (known: {', '.join(sorted(FIX_TYPES))}; or all)")
        return
    doc.validate(_fix_validator(name), spec, path)


def _check_remediation(req: dict[str, Any], i: int, doc: YamlDoc) -> None:
    """A structured fix generates the remediation text, so a written one beside it is an error;
    without one (or with a manual fix) the text must be written."""
    from checks.fixes import is_manual

    fix = req.get("fix")
    structured = isinstance(fix, dict) and bool(fix) and not _manual(fix, is_manual)
    if structured and "remediation" in req:
        doc.problem(("requirements", i, "remediation"),
                    "remove it: a requirement with a structured fix has its remediation text generated from the fix")
    elif not structured and "remediation" not in req:
        doc.problem(("requirements", i), "remediation is required (unless a structured fix: generates it)")


def _manual(fix: dict[str, Any], is_manual: Any) -> bool:
    """Whether a fix is manual; a malformed one is not (its own validation says what is wrong)."""
    try:
        return bool(is_manual(fix))
    except (KeyError, TypeError, AttributeError):
        return False


MANIFEST = "library/validated.json"


@lru_cache(maxsize=None)
def validated_digests() -> frozenset[str]:
    """Digests of the shipped directive files as the test suite validated them
    (`python -m directives` rewrites it; tests/directives/test_library_manifest.py keeps it true). A shipped file with a
    listed digest skips JSON Schema validation, which is most of a scan's start-up cost;
    any other file, or a shipped one edited in place, is validated in full."""
    try:
        return frozenset(json.loads(Path(packaged(MANIFEST)).read_text()).values())
    except (OSError, ValueError):
        return frozenset()


def digest_of(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def parse(text: str, name: str, trusted: frozenset[str] = frozenset()) -> Directive:
    """Validate one single-file directive's text; raises DirectiveError listing every problem.
    ``trusted``: digests validated already, beside the shipped ones (a signed set, validated
    when it was installed: agent.directive_store)."""
    doc = YamlDoc(text, name)
    if not isinstance(doc.data, dict):
        raise DirectiveError([f"{name}:1: $: a directive must be a mapping"])
    if "sections" in doc.data:
        doc.problem(("sections",), f"sections belong in a directive folder's {HEADER} (this file holds requirements)")
    digest = digest_of(text)
    if digest not in validated_digests() and digest not in trusted:
        doc.validate(schema_validator("directive.schema.json"))
    return _build(doc, [doc], name, digest, trusted)


HEADER = "directive.yaml"  # a directive folder's header file; its sections are <stem>.yaml beside it


def folder_digest(files: Iterable[tuple[str, str]]) -> str:
    """The digest of a directive folder as a whole: SHA-256 over each file (directive.yaml, then
    the sections in order) written as its name, NUL, its length in bytes, NUL, its bytes; a
    section moved, renamed or edited changes it."""
    sha = hashlib.sha256()
    for name, text in files:
        data = text.encode()
        sha.update(f"{name}\0{len(data)}\0".encode())
        sha.update(data)
    return "sha256:" + sha.hexdigest()


def parse_folder(path: str, trusted: frozenset[str] = frozenset()) -> Directive:
    """Validate a directive folder: directive.yaml and its section files; raises DirectiveError
    listing every problem, each at its own file and line."""
    header_path = os.path.join(path, HEADER)
    head_text = read_text(header_path)
    head = YamlDoc(head_text, header_path)
    if not isinstance(head.data, dict):
        raise DirectiveError([f"{header_path}:1: $: a directive must be a mapping"])
    if "requirements" in head.data:
        head.problem(("requirements",), "a directive folder keeps its requirements in section files (list them in sections:)")
    stems = _section_stems(head)
    head.raise_problems()
    listed = {f"{stem}.yaml" for stem in stems}
    try:
        names = sorted(os.listdir(path))
    except OSError as exc:
        raise DirectiveError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    problems = [f"{os.path.join(path, n)}: not a section of {header_path} (list its stem in sections: or remove it)"
                for n in names if n != HEADER and n not in listed and not n.startswith(".")]
    texts: list[tuple[str, str]] = [(HEADER, head_text)]
    parts: list[YamlDoc] = []
    for i, stem in enumerate(stems):
        file = os.path.join(path, f"{stem}.yaml")
        if not os.path.isfile(file):
            problems.append(f"{head.where(('sections', i))}: $.sections[{i}]: section file {file} does not exist")
            continue
        try:
            text = read_text(file)
            parts.append(YamlDoc(text, file))
        except DirectiveError as exc:
            problems.extend(exc.problems)
            continue
        texts.append((f"{stem}.yaml", text))
    if problems:
        raise DirectiveError(problems)
    digest = folder_digest(texts)
    if digest not in validated_digests() and digest not in trusted:
        head.validate(schema_validator("directive.schema.json"))
        for part in parts:
            if not isinstance(part.data, dict):
                part.problem((), "a section file must be a mapping holding requirements:")
            else:
                part.validate(schema_validator("directive.schema.json", "section"))
    return _build(head, parts, path, digest, trusted)


def _section_stems(head: YamlDoc) -> list[str]:
    """The header's section stems; every one a plain file stem (never a path), none twice."""
    raw = head.data.get("sections")
    if not isinstance(raw, list) or not raw:
        head.problem(("sections",), "a directive folder's directive.yaml lists its section file stems in sections:")
        return []
    stems: list[str] = []
    for i, stem in enumerate(raw):
        if not isinstance(stem, str) or not SECTION_STEM.match(stem):
            head.problem(("sections", i), f"{stem!r} is not a section stem (lower-case letters, digits, '-' and '_')")
        elif stem in stems:
            head.problem(("sections", i), f"section {stem} is listed twice")
        else:
            stems.append(stem)
    return stems


SECTION_STEM = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def _build(head: YamlDoc, parts: list[YamlDoc], source: str, digest: str,
           trusted: frozenset[str] = frozenset()) -> Directive:
    """The directive from its header document and the documents holding its requirements (the
    header itself for a single file); problems are reported in the file they are in."""
    data = head.data
    full = digest not in validated_digests() and digest not in trusted
    declared = _parameters(data, head, full)
    defaults = {p.id: p.default for p in declared}
    requirements: list[dict[str, Any]] = []
    seen: dict[str, tuple[YamlDoc, int]] = {}
    for doc in parts:
        raw = doc.data.get("requirements") if isinstance(doc.data, dict) else None
        for i, req in enumerate(raw if isinstance(raw, list) else []):
            if not isinstance(req, dict):
                continue
            requirements.append(req)
            resolvable = _check_references(req, i, defaults, doc)
            for key in ("check", "only_if"):
                if key in req and full and resolvable:
                    _validate_check(params.resolve(req[key], defaults), doc, ("requirements", i, key))
            if "fix" in req and full and resolvable:
                _validate_fix(resolve_fix(req["fix"], defaults), doc, ("requirements", i, "fix"))
            if full:
                _check_remediation(req, i, doc)
            rid = req.get("id")
            if isinstance(rid, str):
                if rid in seen:
                    other, j = seen[rid]
                    also = f"requirements[{j}]" if other is doc else f"{other.where(('requirements', j, 'id'))}"
                    doc.problem(("requirements", i, "id"), f"duplicate requirement id {rid} (also {also})")
                seen.setdefault(rid, (doc, i))
                if isinstance(data.get("id"), str) and not rid.startswith(data["id"] + "."):
                    doc.problem(("requirements", i, "id"), f"requirement id {rid} must start with {data['id']}.")
    applies = data.get("applies_to")
    if full and isinstance(applies, dict) and isinstance(applies.get("evident"), dict):
        _validate_check(applies["evident"], head, ("applies_to", "evident"))
    problems = [*head.problems, *(p for doc in parts if doc is not head for p in doc.problems)]
    if problems:
        raise DirectiveError(problems)

    issued = dt.date.fromisoformat(data["issued"])
    reqs = tuple(build_requirement(r, data["id"], issued, defaults) for r in requirements)
    return Directive(
        id=data["id"], title=data["title"], issuer=data["issuer"], kind=data["kind"], issued=issued,
        url=data.get("url", ""), summary=data.get("summary", ""), applies_to=data.get("applies_to", {}),
        requirements=reqs, source=source, digest=digest, parameters=tuple(declared),
        version=str(data.get("version", "")),
    )


def resolve_fix(spec: Any, values: dict[str, Any]) -> Any:
    """A fix spec with ``{param: ID}`` replaced by values and ``{{ID}}`` inside its strings."""
    spec = params.resolve(spec, values)

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return params.interpolate(node, values)
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(spec)


def build_requirement(raw: dict[str, Any], directive_id: str, issued: dt.date, values: dict[str, Any]) -> Requirement:
    """A requirement as written, with parameter values substituted (the defaults, or a tailoring's).
    With a structured fix its remediation text is generated from the fix (checks.fixes.describe)."""
    from checks.fixes import describe, is_manual

    used = tuple(sorted(params.references({k: raw.get(k) for k in ("check", "only_if", "fix", *params.TEXT_FIELDS)})))
    text = {k: params.interpolate(raw.get(k, ""), values) for k in params.TEXT_FIELDS}
    fix = resolve_fix(raw["fix"], values) if raw.get("fix") is not None else None
    remediation = text["remediation"]
    if fix is not None and not is_manual(fix):
        remediation = describe(fix, raw["id"])
    return Requirement(
        id=raw["id"], title=text["title"], severity=raw["severity"], due=raw["due"], rationale=text["rationale"],
        remediation=remediation, references=raw["references"], check=params.resolve(raw["check"], values),
        only_if=params.resolve(raw["only_if"], values) if raw.get("only_if") is not None else None,
        directive_id=directive_id, issued=issued, parameters=used, template=raw if used else None, fix=fix,
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
    for key in ("check", "only_if", "fix"):
        if key in req:
            params.resolve(req[key], values, lambda path, name: doc.problem(
                ("requirements", i, key, *path), f"unknown parameter {name!r} (parameters: {known})"))  # noqa: B023 (called at once)
    for key in params.TEXT_FIELDS:
        if isinstance(req.get(key), str):
            params.interpolate(req[key], values, lambda name, key=key: doc.problem(  # type: ignore[misc]
                ("requirements", i, key), f"unknown parameter {{{{{name}}}}} (parameters: {known})"))
    return len(doc.problems) == before


def load_file(path: str, trusted: frozenset[str] = frozenset()) -> Directive:
    """A directive from a file, or from a directive folder (a directory holding directive.yaml,
    or that directive.yaml itself); ``trusted`` as for ``parse``."""
    if os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, HEADER)):
            try:
                os.listdir(path)
            except OSError as exc:
                raise DirectiveError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
            raise DirectiveError([f"{path}: not a directive folder (no {HEADER} in it)"])
        return parse_folder(path, trusted)
    folder = os.path.dirname(path) or "."
    if os.path.basename(path) == HEADER:
        return parse_folder(folder, trusted)
    if os.path.isfile(os.path.join(folder, HEADER)):
        raise DirectiveError([f"{path}: a section of the directive folder {folder}; load the folder"])
    return parse(read_text(path), path, trusted)


def write_manifest() -> str:
    """Validate every shipped directive in full and record its digest (a folder's is over all its
    files: folder_digest); run after editing the library."""
    target = packaged(MANIFEST)
    validated_digests.cache_clear()
    with open(target, "w", encoding="utf-8") as fh:
        fh.write("{}\n")
    validated_digests.cache_clear()
    loaded = load_paths(library_paths())  # raises DirectiveError when any shipped directive is invalid
    entries = {os.path.basename(d.source): d.digest for d in loaded}
    with open(target, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(entries, indent=2, sort_keys=True) + "\n")
    validated_digests.cache_clear()
    return target


def library_paths() -> list[str]:
    """The directives shipped with the package: single files and directive folders."""
    return directory_files(packaged("library"))



def load_paths(paths: Iterable[str], loaded_before: Iterable[Directive] = ()) -> list[Directive]:
    """Load several directives (files or folders) after those already loaded; problems from every
    one are reported together. Directive and requirement ids must be unique across the set."""
    problems: list[str] = []
    loaded: list[Directive] = list(loaded_before)
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
    """The shipped library (from its compiled cache when current: directives.library_cache) and
    then ``extra``, which always takes the full path."""
    from directives import library_cache

    return load_paths(extra, library_cache.load(lambda: load_paths(library_paths())))


def directory_files(path: str) -> list[str]:
    """The directives of a directory, sorted, for ``--directives DIR``: the directory itself when it
    is a directive folder (holds directive.yaml), else its YAML files and directive folders."""
    if os.path.isfile(os.path.join(path, HEADER)):
        return [path]
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return [path]  # loading it says why it cannot be read
    return [os.path.join(path, n) for n in names
            if n.endswith((".yaml", ".yml")) and os.path.isfile(os.path.join(path, n))
            or os.path.isfile(os.path.join(path, n, HEADER))]
