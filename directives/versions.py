"""The order of a directive's declared versions (``version:``), for signed updates: a signed
directive replaces the shipped one of the same id only when its version is higher."""
from __future__ import annotations


def version_key(version: str) -> tuple[int, ...] | None:
    """A declared version as numbers: "" (none declared) counts as 1, "2.1" as (2, 1); None
    when a part is not a number ("2026a"), which orders against nothing."""
    if not version:
        return (1,)
    parts = version.split(".")
    if not all(p.isdigit() for p in parts):
        return None
    return tuple(int(p) for p in parts)


def higher(candidate: str, current: str) -> bool:
    """Whether ``candidate`` is a higher version than ``current`` (False when either is not numeric)."""
    new, old = version_key(candidate), version_key(current)
    return new is not None and old is not None and new > old


def shown(version: str) -> str:
    return version or "1"
