"""CISA's Known Exploited Vulnerabilities catalog, validated against CISA's own JSON Schema."""
from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from agent.feeds import FeedError
from agent.packaged import packaged
from checks.vulndata import KevEntry

URL = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
SCHEMA_FILE = "data/known_exploited_vulnerabilities_schema.json"  # CISA's schema, shipped as is


def looks_like(data: Any) -> bool:
    return isinstance(data, dict) and "catalogVersion" in data and "vulnerabilities" in data


@lru_cache(maxsize=None)
def _validator() -> Any:
    import jsonschema

    schema = json.loads(Path(packaged(f"feeds/{SCHEMA_FILE}")).read_text())
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def validate(data: Any, name: str) -> None:
    """Raise FeedError naming the file and the first problem, if the catalog breaks CISA's schema."""
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        first = errors[0]
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.absolute_path)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise FeedError(f"{name}: not a valid KEV catalog: {path}: {first.message}{more}")
    if data["count"] != len(data["vulnerabilities"]):
        raise FeedError(f"{name}: not a valid KEV catalog: count {data['count']} but "
                        f"{len(data['vulnerabilities'])} vulnerabilities (truncated?)")


def released(data: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(data["dateReleased"].replace("Z", "+00:00"))


def entries(data: dict[str, Any], name: str, only: Iterable[str] | None = None) -> dict[str, KevEntry]:
    """Entries by CVE id; ``only`` limits them to the CVEs a scan can match (those in the fix data)."""
    wanted = None if only is None else set(only)
    out: dict[str, KevEntry] = {}
    try:
        for v in data["vulnerabilities"]:
            if wanted is not None and v["cveID"] not in wanted:
                continue
            out[v["cveID"]] = KevEntry(
                cve=v["cveID"], vendor=v["vendorProject"].strip(), product=v["product"].strip(),
                name=v["vulnerabilityName"].strip(), date_added=dt.date.fromisoformat(v["dateAdded"]),
                due_date=dt.date.fromisoformat(v["dueDate"]),
                ransomware=v.get("knownRansomwareCampaignUse", "Unknown"), required_action=v["requiredAction"].strip(),
            )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise FeedError(f"{name}: not a valid KEV catalog: {type(exc).__name__}: {exc}") from None
    return out
