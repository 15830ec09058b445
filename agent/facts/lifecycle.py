"""The OS release against the end-of-support table (directives/data/end_of_support.yaml as
shipped, or as a signed update installed it: ``Context.data``), and the scan's clock. Fact
families ``os_lifecycle`` and ``clock``."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from agent.facts.context import Context
from agent.facts.osinfo import os_release
from checks.facts import Lifecycle, OsLifecycle, OsRelease, Unavailable
from directives import DirectiveError
from directives.datafiles import END_OF_SUPPORT, parse_end_of_support
from directives.packaged import packaged
from directives.yamldoc import YamlDoc

TABLE = "data/end_of_support.yaml"


def parse_table() -> dict[str, Any]:
    doc = YamlDoc(Path(packaged(TABLE)).read_text(), f"directives/{TABLE}")
    doc.raise_problems()  # shipped data: a duplicate key is a packaging bug, not a silent overwrite
    assert isinstance(doc.data, dict)
    return doc.data


@lru_cache(maxsize=None)
def table() -> dict[str, Any]:
    """The table, from the compiled cache of shipped files when current (no YAML parser loaded)."""
    from directives import library_cache

    data = library_cache.data_file(TABLE, parse_table)
    return data if isinstance(data, dict) and isinstance(data.get("releases"), list) else parse_table()


def lookup(release: OsRelease, rows: list[dict[str, Any]]) -> Lifecycle | None:
    """The row for this release: VERSION_ID exactly, or its major version for rows without a dot."""
    major = release.version_id.split(".")[0]
    for row in rows:
        version = str(row["version"])
        if row["id"] == release.id and (version == release.version_id or ("." not in version and version == major)):
            return Lifecycle(row["name"], str(row["end_of_support"]), str(row.get("extended_until", "") or ""),
                             row.get("extended", ""))
    return None


@lru_cache(maxsize=None)
def signed_table(path: str) -> dict[str, Any]:
    """The table a signed update installed (agent.directive_store), parsed as publish and the
    install parsed it."""
    with open(path, encoding="utf-8") as fh:
        return parse_end_of_support(fh.read(), path)


def gather_lifecycle(ctx: Context, args: list[str]) -> dict[str, object]:
    release = os_release(ctx)
    if not isinstance(release, OsRelease):
        return {"": release}
    signed = (ctx.data or {}).get(END_OF_SUPPORT)
    try:
        data = signed_table(signed) if signed else table()
    except (OSError, DirectiveError) as exc:  # the agent's own file: unknown, never compliant
        return {"": Unavailable(f"the signed end-of-support table cannot be read: {exc}")}
    where = f"signed update of directives/{TABLE}" if signed else f"directives/{TABLE}"
    return {"": OsLifecycle(release.id, release.version_id, release.pretty_name, lookup(release, data["releases"]),
                            f"{where} ({data['source']})")}


def gather_clock(ctx: Context, args: list[str]) -> dict[str, object]:
    return {"": ctx.now.isoformat()}


FAMILIES = {"os_lifecycle": gather_lifecycle, "clock": gather_clock}
