"""The typed report contract (agent/contract.py) is the schema's twin: every object of
report.schema.json has a TypedDict with the same keys, the same required ones, and the same
enumerations, so reading a field by a name the schema does not have is a type error."""
from __future__ import annotations

import json
import typing
from importlib import resources
from typing import Any

import pytest

from agent import contract
from checks.model import Severity, Status

SCHEMA: dict[str, Any] = json.loads(resources.files("agent").joinpath("schemas/report.schema.json").read_text())
DEFS = SCHEMA["$defs"]
REPORT = DEFS["report"]  # schema 1.0: a full report, or a delta with the whole header
COMPACT = DEFS["compact_delta"]  # schema 1.1: a delta whose header is a patch

TWINS: list[tuple[type, dict[str, Any]]] = [
    (contract.Report, REPORT),
    (contract.AgentInfo, REPORT["properties"]["agent"]),
    (contract.HostInfo, REPORT["properties"]["host"]),
    (contract.OsInfo, REPORT["properties"]["host"]["properties"]["os"]),
    (contract.ScanInfo, REPORT["properties"]["scan"]),
    (contract.DirectiveRef, REPORT["properties"]["directives"]["items"]),
    (contract.CompactDelta, COMPACT),
    (contract.CompactScan, COMPACT["properties"]["scan"]),
    (contract.Result, DEFS["result"]),
    (contract.Evidence, DEFS["evidence"]),
    (contract.Waiver, DEFS["waiver"]),
    (contract.Tailoring, DEFS["tailoring"]),
    (contract.Counts, DEFS["counts"]),
    (contract.DirectiveSummary, DEFS["directive_summary"]),
    (contract.Summary, DEFS["summary"]),
    (contract.Feed, DEFS["feed"]),
]


@pytest.mark.parametrize(("typed", "schema"), TWINS, ids=[t.__name__ for t, _ in TWINS])
def test_typed_dict_has_the_schemas_keys(typed: Any, schema: dict[str, Any]) -> None:
    assert set(typed.__annotations__) == set(schema["properties"])
    assert set(typed.__required_keys__) == set(schema.get("required", []))


def test_every_object_of_the_schema_has_a_twin() -> None:
    twinned = {id(schema) for _, schema in TWINS}
    objects = [name for name, d in DEFS.items() if d.get("type") == "object"]
    assert [n for n in objects if id(DEFS[n]) not in twinned] == []


def _literal(typed: Any, key: str) -> set[str]:
    hint = typing.get_type_hints(typed)[key]
    while typing.get_origin(hint) in (typing.NotRequired, typing.Required):
        hint = typing.get_args(hint)[0]
    return set(typing.get_args(hint))


def test_the_vocabularies_are_the_schemas() -> None:
    assert list(contract.STATUSES) == DEFS["status"]["enum"] == [s.value for s in Status]
    assert _literal(contract.Result, "status") == set(DEFS["status"]["enum"])
    assert list(contract.SEVERITIES) == DEFS["result"]["properties"]["severity"]["enum"] == [s.value for s in Severity]
    assert _literal(contract.Result, "severity") == set(contract.SEVERITIES)
    assert list(contract.HOST_STATUSES) == DEFS["host_status"]["enum"]
    assert _literal(contract.Summary, "status") == set(contract.HOST_STATUSES)
    assert _literal(contract.Evidence, "verdict") == set(DEFS["evidence"]["properties"]["verdict"]["enum"])
    assert _literal(contract.Waiver, "state") == set(DEFS["waiver"]["properties"]["state"]["enum"])
    assert _literal(contract.Report, "schema_version") == {REPORT["properties"]["schema_version"]["const"]}
    assert _literal(contract.CompactDelta, "schema_version") == {COMPACT["properties"]["schema_version"]["const"]}


def test_severity_and_host_status_carry_their_order() -> None:
    assert sorted(Severity, key=lambda s: s.rank) == [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW]
    assert Severity("high").label == "HIGH"
    assert contract.worst(["compliant", "incomplete", "needs_review"]) is contract.HostStatus.INCOMPLETE


APPLY: dict[str, Any] = json.loads(resources.files("agent").joinpath("schemas/apply.schema.json").read_text())
APPLY_TWINS: list[tuple[type, dict[str, Any]]] = [
    (contract.ApplyRecord, APPLY),
    (contract.AgentInfo, APPLY["properties"]["agent"]),
    (contract.Actor, APPLY["$defs"]["actor"]),
    (contract.FailingRequirement, APPLY["$defs"]["failing"]),
    (contract.RollbackInfo, APPLY["$defs"]["rollback"]),
]


@pytest.mark.parametrize(("typed", "schema"), APPLY_TWINS, ids=[t.__name__ for t, _ in APPLY_TWINS])
def test_the_apply_records_typed_dicts_have_the_schemas_keys(typed: Any, schema: dict[str, Any]) -> None:
    assert set(typed.__annotations__) == set(schema["properties"])
    assert set(typed.__required_keys__) == set(schema.get("required", []))


def test_the_apply_records_vocabulary_is_the_schemas() -> None:
    assert list(contract.APPLY_OUTCOMES) == APPLY["properties"]["outcome"]["enum"]
    assert _literal(contract.ApplyRecord, "outcome") == set(contract.APPLY_OUTCOMES)
    objects = [n for n, d in APPLY["$defs"].items() if d.get("type") == "object"]
    assert sorted(objects) == ["actor", "failing", "rollback"]
