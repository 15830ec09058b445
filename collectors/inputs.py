"""What a request's input must be before anything stores, hashes or encodes it.

- JSON bodies are nested at most ``MAX_DEPTH`` levels (deeper ones would exhaust the
  interpreter's recursion in a parser, a validator or an encoder);
- no string holds a lone UTF-16 surrogate (``"\\ud800"``): it cannot be encoded as UTF-8, so it
  could be neither stored nor hashed;
- no string that is stored in a text column holds a NUL character, which PostgreSQL refuses in
  text (SQLite takes it; both databases refuse it the same way, so a collector's answers do
  not depend on its database). Inside a result's own document (evidence, messages) a NUL is
  data like any other: the document is stored as JSON, where it is escaped;
- no URL path or query parameter holds a NUL.

Each refusal is a BadRequest naming the JSON path (or the parameter) of the first offender.
The checks cost nothing for the common body: the walk runs only when the raw bytes show
deep nesting, a NUL escape or a surrogate escape.

Bodies are parsed by orjson (half the time of the standard parser) when it gives the value the
standard parser gives; anything else (what orjson refuses: NaN, Infinity, numbers out of a
double's range, lone surrogates, invalid UTF-8, a BOM, deep nesting; and integers of 19 digits
or more, which orjson turns into floats past 64 bits) goes to the standard parser, which
decides and words the error as before.
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable
from urllib.parse import parse_qsl

import orjson

from collectors import BadRequest

MAX_DEPTH = 64
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_NUL_ESCAPE = b"\\u0000"
# 19 digits in a row: a number orjson may read past 64 bits (or digits in a string). Found by
# mapping every digit to 0 and searching for the run: a tenth of a regular expression's time.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS = b"0" * 19

Path = tuple[Any, ...]
NulAllowed = Callable[[Path], bool]


def render(path: Path) -> str:
    """``$.a[0].b``; a key that is not a plain name is shown escaped, so the answer is ASCII."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}"
        else:
            out += "[" + json.dumps(part) + "]"  # ensure_ascii: NULs and surrogates become \u escapes
    return out


def nowhere(_: Path) -> bool:
    return False


def parse(raw: bytes, nul_allowed: NulAllowed = nowhere) -> Any:
    """The JSON value of a request body, within the rules above."""
    value = _loads(raw)
    check(value, raw, nul_allowed)
    return value


def _loads(raw: bytes) -> Any:
    if _LONG_DIGITS not in raw.translate(_DIGITS_TO_ZERO):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # the standard parser decides, and words the refusal
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise BadRequest("body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise BadRequest(f"JSON nested deeper than {MAX_DEPTH} levels") from None


def check(value: Any, raw: bytes, nul_allowed: NulAllowed = nowhere) -> None:
    """Walk ``value`` (parsed from ``raw``) when its bytes show anything the rules refuse."""
    deep = raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and not _shallow(value)
    nul = _NUL_ESCAPE in raw
    surrogate = _SURROGATE_ESCAPE.search(raw) is not None
    if deep or nul or surrogate:
        _walk(value, nul and nul_allowed, surrogate)


def _shallow(value: Any, budget: int = MAX_DEPTH) -> bool:
    """Nested at most ``budget`` levels: containers only, no paths (for a full report about half
    the cost of parsing it); the walk with paths runs only to name a problem. Recursive, and
    bounded by ``budget``, far below the interpreter's limit."""
    if type(value) is dict:
        children: Any = value.values()
    elif type(value) is list:
        children = value
    else:
        return True
    if budget < 0:
        return False
    for child in children:
        kind = type(child)
        if (kind is dict or kind is list) and not _shallow(child, budget - 1):
            return False
    return True


def _walk(value: Any, nul: NulAllowed | bool, surrogate: bool) -> None:
    stack: list[tuple[Any, Path]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if len(path) > MAX_DEPTH and isinstance(node, (dict, list)):
            raise BadRequest(f"JSON nested deeper than {MAX_DEPTH} levels", render(path[:MAX_DEPTH]))
        if isinstance(node, str):
            _text(node, path, nul, surrogate)
        elif isinstance(node, dict):
            for key, item in node.items():
                _text(key, (*path, key), nul, surrogate, what="key")
                stack.append((item, (*path, key)))
        elif isinstance(node, list):
            stack.extend((item, (*path, i)) for i, item in enumerate(node))


def _text(value: str, path: Path, nul: NulAllowed | bool, surrogate: bool, what: str = "string") -> None:
    if nul and "\x00" in value and not (callable(nul) and nul(path)):
        raise BadRequest(f"a NUL character is not allowed in this {what}", render(path))
    if surrogate:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadRequest(f"a lone UTF-16 surrogate is not allowed in a {what} (not encodable as UTF-8)",
                             render(path)) from None


def report_nul_allowed(path: Path) -> bool:
    """In a report, a NUL may appear only inside a result's document, outside the fields that
    are stored as columns of their own (key, directive, requirement)."""
    if len(path) < 3 or path[0] not in ("results", "changes"):
        return False
    return len(path) > 3 or path[2] not in ("key", "directive", "requirement")


def url_problem(path: str, query: bytes) -> tuple[str, str] | None:
    """(where, message) when the request's path or a query parameter holds a NUL."""
    if "\x00" in path:
        return "$.path", "a NUL character is not allowed in the URL path"
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                shown = json.dumps(name)[1:-1]
                return f"$.query.{shown}", f"a NUL character is not allowed in the query parameter {shown!r}"
        return "$.query", "a NUL character is not allowed in the query string"
    return None
