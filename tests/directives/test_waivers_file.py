"""The waivers file: schema, known requirement ids, one line per problem as file:line: $.path: message."""
from __future__ import annotations

import datetime as dt

import pytest

from directives.errors import DirectiveError, WaiverError
from directives.waivers import Waiver, parse_waivers

KNOWN = {"HARDEN-30D.SSH.1", "HARDEN-30D.SSH.7", "BOD-22-01.1"}


def problems(text: str) -> list[str]:
    with pytest.raises(WaiverError) as exc:
        parse_waivers(text, "w.yaml", KNOWN)
    assert isinstance(exc.value, DirectiveError)
    return exc.value.problems


def test_a_full_waiver_loads_with_its_source_line() -> None:
    (w,) = parse_waivers(
        "# accepted risks\nwaivers:\n"
        "  - requirement: HARDEN-30D.SSH.7\n"
        "    justification: '  Vendor appliance needs it  '\n"
        "    approver: Jane Doe\n"
        "    start: 2026-07-01\n"
        "    expires: 2026-12-31\n"
        "    ticket: POAM-1\n"
        "    hosts: [web-*]\n"
        "    tags: [dmz]\n", "w.yaml", KNOWN)
    assert w == Waiver(requirement="HARDEN-30D.SSH.7", justification="Vendor appliance needs it",
                       expires=dt.date(2026, 12, 31), approver="Jane Doe", start=dt.date(2026, 7, 1),
                       ticket="POAM-1", hosts=("web-*",), tags=("dmz",), source="w.yaml:3")


def test_unknown_requirement_is_one_line_with_file_line_and_field() -> None:
    assert problems("waivers:\n  - requirement: HARDEN-30D.SSH.17\n    justification: x\n    expires: 2026-01-01\n") == [
        "w.yaml:2: $.waivers[0].requirement: unknown requirement id HARDEN-30D.SSH.17 (did you mean HARDEN-30D.SSH.7?)"]


@pytest.mark.parametrize("entry, expected", [
    ("  - requirement: HARDEN-30D.SSH.1\n    expires: 2026-01-01\n",
     "w.yaml:2: $.waivers[0]: 'justification' is a required property"),
    ("  - requirement: HARDEN-30D.SSH.1\n    justification: x\n",
     "w.yaml:2: $.waivers[0]: 'expires' is a required property"),
    ("  - requirement: HARDEN-30D.SSH.1\n    justification: '   '\n    expires: 2026-01-01\n",
     "w.yaml:3: $.waivers[0].justification: '   ' does not match '\\\\S'"),
    ("  - requirement: HARDEN-30D.SSH.1\n    justification: x\n    expires: 2026-02-30\n",
     "w.yaml:4: $.waivers[0].expires: '2026-02-30' is not a 'date'"),
    ("  - requirement: HARDEN-30D.SSH.1\n    justification: x\n    expires: 2026-01-01\n    start: 2026-02-01\n",
     "w.yaml:4: $.waivers[0].expires: expires (2026-01-01) is before start (2026-02-01)"),
    ("  - requirement: HARDEN-30D.SSH.1\n    justification: x\n    expires: 2026-01-01\n    approved_by: me\n",
     "w.yaml:2: $.waivers[0]: Additional properties are not allowed ('approved_by' was unexpected)"),
    ("  - requirement: HARDEN-30D.SSH.1\n    justification: x\n    justification: y\n    expires: 2026-01-01\n",
     "w.yaml:4: $.waivers[0].justification: duplicate key 'justification' (first at line 3)"),
])
def test_invalid_waivers(entry: str, expected: str) -> None:
    assert expected in problems("waivers:\n" + entry)


def test_not_yaml_and_not_a_mapping() -> None:
    assert problems("waivers: [\n")[0].startswith("w.yaml:2: $: invalid YAML")
    assert problems("- a\n") == ["w.yaml:1: $: a waivers file must be a mapping with a 'waivers' list"]


def test_states_by_date() -> None:
    w = Waiver("X.1", "why", expires=dt.date(2026, 12, 31), start=dt.date(2026, 7, 1))
    assert w.state(dt.date(2026, 6, 30)) == "pending"
    assert w.state(dt.date(2026, 7, 1)) == "active"
    assert w.state(dt.date(2026, 12, 31)) == "active"  # the expiry day itself is covered
    assert w.state(dt.date(2027, 1, 1)) == "expired"


def test_scope_by_host_and_tags() -> None:
    w = Waiver("X.1", "why", expires=dt.date(2026, 12, 31), hosts=("web-*", "abc123"), tags=("dmz",))
    assert w.scoped_to("web-01", "zzz", {"dmz", "prod"})
    assert w.scoped_to("db-01", "abc123", {"dmz"})  # by host id
    assert not w.scoped_to("web-01", "zzz", {"prod"})
    assert not w.scoped_to("db-01", "zzz", {"dmz"})
    assert Waiver("X.1", "why", expires=dt.date(2026, 12, 31)).scoped_to("any", "id", set())
