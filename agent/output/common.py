"""Small helpers the renderers share: ordering, evidence as text, file locations, the host
status as the report's summary states it, and text from the scanned host made safe to show."""
from __future__ import annotations

import re
from json.encoder import encode_basestring as _encode_str  # the C one when built, as json.dumps uses
from typing import Any, Iterable

from agent.contract import Evidence, HostStatus, Report, Result

LOCATION = re.compile(r"^(/[^\s:]*)(?::(\d+))?(?:\s.*)?$")


def natural(key: str) -> list[object]:
    """Sort BOD-23-02.2 before BOD-23-02.10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", key)]


def ordered(results: Iterable[Result]) -> list[Result]:
    """Results in a stable order: by directive, then natural key order."""
    return sorted(results, key=lambda r: (r["directive"], natural(r["key"])))


# Characters that a terminal (or a spreadsheet, or a reader of a text file) would act on
# rather than show: C0 and C1 controls, DEL, line and paragraph separators, and the
# bidirectional overrides that reorder what is shown ("Trojan Source").
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def safe(value: object) -> str:
    """Text from the scanned host as it may be shown: every control character (newlines and
    tabs included) escaped as ``\\xNN``, so a hostname or a config value cannot move the
    cursor, retitle the terminal, color the screen or forge a line of the report."""
    return _UNSAFE.sub(_escape, "" if value is None else str(value))


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def json_safe(text: str) -> str:
    """JSON text with the characters JSON leaves raw but a terminal acts on (DEL, C1 controls,
    line separators, bidirectional overrides) written as ``\\uXXXX`` escapes: the same data,
    and no raw control character when the file is shown. They only occur inside strings."""
    if text.isascii() and "\x7f" not in text:  # most reports: two passes in C, no regex
        return text
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def indented_json(value: Any) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False)``, the same text, without the pure-Python
    encoder's generator per nesting level (the C encoder cannot indent): rendering a full
    report's 34,000 nodes that way was a tenth of a root scan."""
    out: list[str] = []
    _json_value(value, "\n", out)
    return "".join(out)


def _json_value(value: Any, newline: str, out: list[str]) -> None:
    # The order of json's own encoder: str, None, True, False, int, float, list/tuple, dict.
    if isinstance(value, str):
        out.append(_encode_str(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_json_float(value))
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        out.append("[")
        separator = inner
        for item in value:
            out.append(separator)
            separator = "," + inner
            _json_value(item, inner, out)
        out.append(newline + "]")
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        out.append("{")
        separator = inner
        for key, item in value.items():
            out.append(separator + _json_key(key) + ": ")
            separator = "," + inner
            _json_value(item, inner, out)
        out.append(newline + "}")
    else:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return _encode_str(key)
    if isinstance(key, float):
        return _encode_str(_json_float(key))
    if key is True or key is False or key is None:
        return _encode_str({True: "true", False: "false", None: "null"}[key])
    if isinstance(key, int):
        return _encode_str(int.__repr__(key))
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def _json_float(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def safe_lines(value: object) -> str:
    """``safe`` for text whose line breaks are meant (a remediation): each line escaped."""
    return "\n".join(safe(line) for line in ("" if value is None else str(value)).split("\n"))


def evidence_line(evidence: Evidence) -> str:
    """One evidence line as text, host values escaped: ``violation: expected X, found Y (where)``;
    a line that expects nothing is ``info: found Y``."""
    found = safe(evidence["actual"])
    text = f"expected {safe(evidence['expected'])}, found {found}" if evidence["expected"] else f"found {found}"
    if evidence["where"]:
        text += f" ({safe(evidence['where'])})"
    verdict = evidence.get("verdict")
    return f"{verdict}: {text}" if verdict else text


def evidence_text(result: Result, sep: str = "\n") -> str:
    return sep.join(evidence_line(e) for e in result["evidence"])


def overall_status(report: Report) -> HostStatus:
    """The host's status as the report's summary states it (agent.contract computed it)."""
    return HostStatus(report["summary"]["status"])


def directive_status(report: Report, directive: str) -> HostStatus:
    """A directive's status from the summary; a directive without results has none to judge."""
    found = report["summary"]["directives"].get(directive)
    return HostStatus(found["status"]) if found else HostStatus.NOT_APPLICABLE


def location(where: str) -> tuple[str, int | None] | None:
    """``/etc/ssh/sshd_config:12`` -> (path, 12); ``/etc/fstab`` -> (path, None); a command -> None."""
    match = LOCATION.match(where.strip())
    if not match:
        return None
    path: str = match.group(1)
    return path, int(match.group(2)) if match.group(2) else None


def summary_text(result: Result) -> str:
    """One line on what was found: the message, else the first piece of evidence."""
    if result.get("message"):
        return safe(result["message"])
    if result["evidence"]:
        return evidence_line(result["evidence"][0])
    return str(result["status"]).replace("_", " ")


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_text(value: object) -> str:
    """Text that XML 1.0 can carry: characters it forbids become \\xNN escapes."""
    return _XML_INVALID.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))
