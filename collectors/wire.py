"""What arrives on the wire: request bodies decoded within their size limit, JSON parsed with
collectors.inputs' bounds, and reports and apply records validated against the agent's own
schemas.

Nothing here touches the database: a body is refused (BadRequest, TooLarge) before ingest
looks at stored state."""
from __future__ import annotations

import datetime as dt
import zlib
from functools import lru_cache
from typing import Any

import orjson

from agent import contract
from agent.contract import validation_errors
from collectors import BadRequest, TooLarge, inputs

DEFAULT_MAX_BODY = 16 * 1024 * 1024


def decode_body(raw: bytes, encoding: str | None, limit: int) -> bytes:
    """The request body, gunzipped when sent with Content-Encoding: gzip, at most ``limit`` bytes."""
    if not encoding or encoding == "identity":
        return raw
    if encoding != "gzip":
        raise BadRequest(f"unsupported Content-Encoding {encoding!r} (use gzip or none)")
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise BadRequest(f"body is not valid gzip: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise TooLarge(f"body is larger than {limit} bytes once decompressed")
    return out


def parse_json(raw: bytes) -> Any:
    """A request body's JSON value (collectors.inputs: bounded depth, no NUL, no lone surrogate)."""
    return inputs.parse(raw)


@lru_cache(maxsize=1)
def _fast_validator() -> Any:
    """The report schema compiled to Python (about 25 times faster than interpreting it), with
    the same format checks as the agent's validator, so both accept the same reports."""
    import fastjsonschema

    from agent.contract import schema

    return fastjsonschema.compile(inline_refs(schema()), formats=date_formats())


def date_formats() -> dict[str, Any]:
    """The agent's validator's checks of the formats the schema uses. Each value's verdict is
    kept (a report's results share a few dates): the same answers, looked up."""
    import jsonschema

    checker = jsonschema.FormatChecker()
    return {name: lru_cache(maxsize=4096)(lambda value, name=name: checker.conforms(value, name))
            for name in ("date", "date-time")}


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with each ``{"$ref": "#/$defs/NAME"}`` replaced by that definition: the same
    checks, in one compiled function. (A reference compiles to a call that formats the JSON path
    of every result and every evidence item, more than half of the check's time.) Only bare
    local references are inlined; a schema with another kind, or a cycle, is kept as it is."""
    defs = schema.get("$defs", {})
    local = ("#/$defs/", f"{schema.get('$id', '')}#/$defs/")  # (a compiler may have made them absolute)

    def inline(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [inline(item, seen) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            prefix = next((p for p in local if ref.startswith(p)), None)
            name = ref[len(prefix):] if prefix else ""
            if len(node) > 1 or name not in defs or name in seen:
                raise _NotInlinable(ref)
            return inline(defs[name], (*seen, name))
        return {key: inline(value, seen) for key, value in node.items() if key != "$defs"}

    try:
        out = dict(inline(schema, ()))
    except _NotInlinable:
        return schema
    if "$id" in out:  # fastjsonschema keeps every schema it compiled by $id: this one is another
        out["$id"] = f"{out['$id']}.inlined"
    return out


class _NotInlinable(Exception):
    pass


@lru_cache(maxsize=1)
def _fast_header_validator() -> Any:
    """agent.contract.header_schema compiled, as _fast_validator is: for patched headers."""
    import fastjsonschema
    import jsonschema

    from agent.contract import header_schema

    checker = jsonschema.FormatChecker()
    formats = {name: (lambda value, name=name: checker.conforms(value, name)) for name in ("date", "date-time")}
    return fastjsonschema.compile(header_schema(), formats=formats)


def header_problems(form: dict[str, Any]) -> list[str]:
    """The schema violations of a patched header form (agent.contract.header_errors words them);
    empty when it is valid, which the compiled check tells in a fraction of the time."""
    import fastjsonschema

    from agent.contract import header_errors, header_of

    header = header_of(form)
    if header is not None:
        try:
            _fast_header_validator()(header)
            return []
        except fastjsonschema.JsonSchemaException:
            pass
    return header_errors(form)


def parse_report(raw: bytes) -> dict[str, Any]:
    """A valid report, or BadRequest naming the JSON path of the first problem."""
    import fastjsonschema

    report = inputs.parse(raw, inputs.report_nul_allowed)
    try:
        _fast_validator()(report)
    except fastjsonschema.JsonSchemaException:
        # The agent's own validator is the judge and words the errors.
        problems = validation_errors(report)
        if problems:
            path, _, message = problems[0].partition(": ")
            raise BadRequest(message, path, problems[:50]) from None
    items = report["results"] if report["kind"] == "full" else report["changes"]
    field = "results" if report["kind"] == "full" else "changes"
    seen: set[str] = set()
    for i, r in enumerate(items):
        if r["key"] in seen:
            raise BadRequest(f"duplicate result key {r['key']!r}", f"$.{field}[{i}].key")
        seen.add(r["key"])
    for i, key in enumerate(report.get("removed") or []):
        if key in seen:
            raise BadRequest(f"key {key!r} is both changed and removed", f"$.removed[{i}]")
    return report


def parse_apply(raw: bytes) -> dict[str, Any]:
    """A valid apply record (agent/schemas/apply.schema.json), or BadRequest naming the JSON path
    of the first problem. Records come once per apply: the agent's validator judges them alone."""
    from agent.contract import apply_errors

    record = inputs.parse(raw)
    problems = apply_errors(record)  # date-times included (rfc3339-validator, a dependency)
    if problems:
        path, _, message = problems[0].partition(": ")
        raise BadRequest(message, path, problems[:50])
    return record  # type: ignore[no-any-return]


def canonical_result(item: dict[str, Any]) -> bytes:
    """agent.contract.canonical's bytes (the agent computes its digests over them) for a result
    valid against the report schema, several times faster: orjson with sorted keys writes the
    same bytes for strings, integers, booleans, null, lists and objects. A float is written in
    other digits by the two (1e-05 and 0.00001; NaN and null), so a result holding one, and an
    integer past 64 bits (which orjson refuses), is encoded by the agent's encoder. Floats can
    only be where the schema lets a number or any value in (_float_fields), which is looked at."""
    for key in _float_fields():
        value = item.get(key)
        if value is not None and _has_float(value):
            return contract.canonical(item)
    try:
        return orjson.dumps(item, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return contract.canonical(item)


@lru_cache(maxsize=1)
def _float_fields() -> tuple[str, ...]:
    """The fields of a result whose value may hold a float, read from the schema: those typed
    number or integer (an integer may be written 5.0) or open to any value, at any depth."""
    from agent.contract import schema

    doc = schema()
    result = doc["$defs"]["result"]
    if result.get("additionalProperties", True) is not False:
        raise RuntimeError("a result may hold any field: the fast encoding assumes the schema lists them")
    return tuple(sorted(key for key, sub in result["properties"].items() if _may_hold_float(sub, doc["$defs"])))


def _may_hold_float(node: Any, defs: dict[str, Any], seen: frozenset[str] = frozenset()) -> bool:
    if not isinstance(node, dict):
        return True  # a boolean schema, or one this reading does not know: assume the worst
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.removeprefix("#/$defs/")
        return name in seen or name not in defs or _may_hold_float(defs[name], defs, seen | {name})
    if "const" in node or "enum" in node:
        values = node["enum"] if "enum" in node else [node["const"]]
        return any(isinstance(v, (float, dict, list)) for v in values)
    types = node.get("type")
    if types is None or any(k in node for k in ("anyOf", "oneOf", "allOf", "not", "if", "patternProperties")):
        return True
    types = [types] if isinstance(types, str) else types
    if "number" in types or "integer" in types:
        return True
    if "object" in types:
        extra = node.get("additionalProperties", True)
        if extra is not False and _may_hold_float(extra if isinstance(extra, dict) else None, defs, seen):
            return True
        if any(_may_hold_float(sub, defs, seen) for sub in node.get("properties", {}).values()):
            return True
    if "array" in types:
        return _may_hold_float(node.get("items"), defs, seen) if "items" in node else True
    return False


def _has_float(value: Any) -> bool:
    """A float anywhere in a JSON value (a bounded walk: inputs.parse refuses deep nesting)."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, float):
            return True
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def utc(value: str) -> dt.datetime:
    """A report's timestamp as naive UTC, the form the database stores."""
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed
