"""Small helpers the renderers share: ordering, evidence as text, file locations."""
from __future__ import annotations

import re
from typing import Any, Iterable

LOCATION = re.compile(r"^(/[^\s:]*)(?::(\d+))?(?:\s.*)?$")
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def natural(key: str) -> list[object]:
    """Sort BOD-23-02.2 before BOD-23-02.10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", key)]


def ordered(results: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Results in a stable order: by directive, then natural key order."""
    return sorted(results, key=lambda r: (r["directive"], natural(r["key"])))


def evidence_line(evidence: dict[str, str]) -> str:
    text = f"expected {evidence['expected']}, found {evidence['actual']}"
    return f"{text} ({evidence['where']})" if evidence["where"] else text


def evidence_text(result: dict[str, Any], sep: str = "\n") -> str:
    return sep.join(evidence_line(e) for e in result["evidence"])


def location(where: str) -> tuple[str, int | None] | None:
    """``/etc/ssh/sshd_config:12`` -> (path, 12); ``/etc/fstab`` -> (path, None); a command -> None."""
    match = LOCATION.match(where.strip())
    if not match:
        return None
    path: str = match.group(1)
    return path, int(match.group(2)) if match.group(2) else None


def summary_text(result: dict[str, Any]) -> str:
    """One line on what was found: the message, else the first piece of evidence."""
    if result.get("message"):
        return str(result["message"])
    if result["evidence"]:
        return evidence_line(result["evidence"][0])
    return str(result["status"]).replace("_", " ")


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_text(value: object) -> str:
    """Text that XML 1.0 can carry: characters it forbids become \\xNN escapes."""
    return _XML_INVALID.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))
