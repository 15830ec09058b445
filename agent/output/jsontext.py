"""Indented JSON text, byte for byte what ``json.dumps(value, indent=2, ensure_ascii=False)``
writes, about twice as fast.

The standard library encodes with C only without ``indent``; with it, every piece of text
passes up a chain of generators, one per level of nesting, which for a report of a few hundred
results costs more than gathering most of its facts over SSH (an inventory renders one per
host). Here containers recurse and the pieces are appended to one list. Strings are escaped
by the standard library's own C function; numbers are written as it writes them. Anything
else (a value JSON has no form for, a key that is not a string, number, boolean or null) is
left to ``json.dumps``, so errors are its own.
"""
from __future__ import annotations

import json
from json.encoder import encode_basestring  # type: ignore[attr-defined]  # C; the escaping of ensure_ascii=False
from typing import Any

INDENT = "  "


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value == float("inf"):
        return "Infinity"
    if value == -float("inf"):
        return "-Infinity"
    return float.__repr__(value)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return int.__repr__(key)
    if isinstance(key, float):
        return _float(key)
    raise TypeError("keys must be str, int, float, bool or None")


class _Unsupported(Exception):
    """A value this encoder leaves to json.dumps."""


def _write(value: Any, pad: str, out: list[str]) -> None:
    """A list, tuple or dict (not empty ones' contents) at indentation ``pad``."""
    inner = pad + INDENT
    separator = ",\n" + inner
    if isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        out.append("{\n" + inner)
        first = True
        for key, item in value.items():
            if first:
                first = False
            else:
                out.append(separator)
            name = encode_basestring(_key(key)) + ": "
            if isinstance(item, str):  # most values: one piece with the key
                out.append(name + encode_basestring(item))
            else:
                out.append(name)
                _item(item, inner, out)
        out.append("\n" + pad + "}")
        return
    if not value:
        out.append("[]")
        return
    out.append("[\n" + inner)
    first = True
    for item in value:
        if first:
            first = False
        else:
            out.append(separator)
        _item(item, inner, out)
    out.append("\n" + pad + "]")


def _item(value: Any, pad: str, out: list[str]) -> None:
    # The order of the tests is json.encoder's: a str or int subclass is written as its base.
    if isinstance(value, str):
        out.append(encode_basestring(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_float(value))
    elif isinstance(value, (list, tuple, dict)):
        _write(value, pad, out)
    else:
        raise _Unsupported


def dumps(value: Any) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False)``."""
    out: list[str] = []
    try:
        _item(value, "", out)
    except (_Unsupported, TypeError, RecursionError):
        return json.dumps(value, indent=2, ensure_ascii=False)  # its own result, or its own error
    return "".join(out)
