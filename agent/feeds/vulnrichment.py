"""CISA Vulnrichment: SSVC decision points in the CISA ADP container of CVE JSON 5 records.

Only the three decision points the risk-tiered deadline table uses are kept, in a compact
index by CVE id: Exploitation, Automatable, Technical Impact.
"""
from __future__ import annotations

from typing import Any

from checks.vulndata import Ssvc

_KEYS = {"Exploitation": "exploitation", "Automatable": "automatable", "Technical Impact": "technical_impact"}


def looks_like(data: Any) -> bool:
    return isinstance(data, dict) and data.get("dataType") == "CVE_RECORD" and isinstance(data.get("containers"), dict)


def decision(record: dict[str, Any]) -> tuple[str, dict[str, str]] | None:
    """(CVE id, {exploitation, automatable, technical_impact, updated}) or None without SSVC."""
    cve = record.get("cveMetadata", {}).get("cveId", "")
    for adp in record.get("containers", {}).get("adp", []) or []:
        if not isinstance(adp, dict):
            continue
        for metric in adp.get("metrics", []) or []:
            other = metric.get("other", {}) if isinstance(metric, dict) else {}
            if other.get("type") != "ssvc":
                continue
            content = other.get("content", {})
            values = {"updated": str(content.get("timestamp", ""))}
            for option in content.get("options", []):
                for key, value in option.items():
                    if key in _KEYS:
                        values[_KEYS[key]] = str(value).lower()
            return (content.get("id") or cve), values
    return None


def ssvc(index: dict[str, Any]) -> dict[str, Ssvc]:
    return {
        cve: Ssvc(v.get("exploitation", "unknown"), v.get("automatable", "unknown"), v.get("technical_impact", "unknown"))
        for cve, v in index.get("cves", {}).items()
    }
