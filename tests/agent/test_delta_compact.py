"""Compact deltas (report schema 1.1) from real scans of a fixture root: an unchanged scan
travels without its header, a directive added, changed or removed is a delta of its own
results (never a full report), and the header patch applied to the base gives the header."""
from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.contract import apply_patch, header_digest, header_errors, header_form, header_patch, validation_errors
from agent.hosts import RootfsHost
from agent.reporting import Recorded, record
from agent.scan import Scan, Selection
from agent.spool import Spool, encode
from agent.state import StateDir
from directives import load_library
from directives.model import Directive
from tests.agent.test_delta import FILES, MODES

MakeRoot = Callable[..., Path]
NOW = dt.datetime(2026, 8, 1, 12, 0, tzinfo=dt.timezone.utc)
# What an unchanged scan sends: the envelope, the digests and the scan's own times; nothing of
# the header. A field added here, or a header member that travels unchanged, fails this test.
UNCHANGED_KEYS = {"schema_version", "kind", "report_id", "generated_at", "sequence", "base", "state_digest",
                  "header_digest", "scan", "changes", "removed"}
UNCHANGED_MAX_BYTES = 520  # 499 in the benchmark of 2026-12-05 (ids and digests have fixed lengths)


def revised(library: list[Directive], directive: str) -> list[Directive]:
    """The library with ``directive`` at version 2: its first requirement reworded."""
    def bump(d: Directive) -> Directive:
        first, *rest = d.requirements
        return dataclasses.replace(d, version="2", digest="sha256:" + "e" * 64,
                                   requirements=(dataclasses.replace(first, title="Reworded"), *rest))
    return [bump(d) if d.id == directive else d for d in library]


def scan(root: Path, directives: tuple[str, ...] = ("HARDEN-30D",), library: list[Directive] | None = None,
         now: dt.datetime = NOW) -> Any:
    return Scan(RootfsHost(str(root)), library or load_library(), Selection(directives), now=now).run()


@pytest.fixture
def root(make_root: MakeRoot) -> Path:
    return make_root(FILES, MODES)


def recorded(tmp_path: Path, *scans: Any) -> list[Recorded]:
    sd = StateDir(tmp_path / "state")
    spool = Spool(sd.spool_dir)
    with sd.locked():
        return [record(sd, spool, s) for s in scans]


def header_after(first: Recorded, *deltas: Recorded) -> dict[str, Any]:
    """The header form a collector holds after ``first`` (a full report) and ``deltas`` applied."""
    form = header_form(first.report)
    for d in deltas:
        form = apply_patch(form, d.wire.get("header", {}))
        assert header_digest(form) == d.wire["header_digest"]
    return form


@pytest.mark.slow  # three whole scans
def test_an_unchanged_scan_sends_no_header(root: Path, tmp_path: Path) -> None:
    full, unchanged, again = recorded(tmp_path, scan(root), scan(root), scan(root))
    wire = unchanged.wire
    assert validation_errors(wire) == [] and validation_errors(unchanged.report) == []
    assert set(wire) == UNCHANGED_KEYS and set(wire["scan"]) == {"started_at", "finished_at", "duration_ms"}
    assert (wire["schema_version"], wire["base"], wire["changes"], wire["removed"]) == (
        "1.1", full.report["report_id"], [], [])
    assert len(encode(wire)) <= UNCHANGED_MAX_BYTES, encode(wire)
    assert set(again.wire) == UNCHANGED_KEYS
    assert header_after(full, unchanged, again) == header_form(again.report)
    # The spool holds exactly what travels.
    assert unchanged.entry.path.read_bytes() == encode(wire)


@pytest.mark.slow
def test_a_changed_directive_travels_as_a_delta_of_the_results_it_changed(root: Path, tmp_path: Path) -> None:
    library = load_library()
    full, changed = recorded(tmp_path, scan(root), scan(root, library=revised(library, "HARDEN-30D")))
    assert changed.report["kind"] == "delta", "a changed directive must not force a full report"
    first = next(d for d in library if d.id == "HARDEN-30D").requirements[0].id
    assert {r["requirement"] for r in changed.wire["changes"]} == {first} and changed.wire["removed"] == []
    assert changed.wire["header"] == {"directives": {"HARDEN-30D": {"digest": "sha256:" + "e" * 64, "version": "2"}}}
    assert validation_errors(changed.wire) == []
    assert header_after(full, changed) == header_form(changed.report)
    assert header_errors(header_after(full, changed)) == []  # what the collector checks the patched header with
    assert changed.report["state_digest"] == changed.wire["state_digest"]


@pytest.mark.slow
def test_an_added_then_removed_directive_travels_as_its_results_then_their_removal(root: Path,
                                                                                  tmp_path: Path) -> None:
    full, added, removed = recorded(tmp_path, scan(root), scan(root, ("HARDEN-30D", "BOD-23-02")), scan(root))
    assert (added.report["kind"], removed.report["kind"]) == ("delta", "delta")
    keys = {r["key"] for r in added.wire["changes"]}
    assert {r["directive"] for r in added.wire["changes"]} == {"BOD-23-02"} and len(keys) == 10
    assert list(added.wire["header"]["directives"]) == ["BOD-23-02"]
    assert set(removed.wire["removed"]) == keys and removed.wire["changes"] == []
    assert removed.wire["header"]["directives"] == {"BOD-23-02": None}
    assert header_after(full, added, removed) == header_form(removed.report)


JSON = st.recursive(st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                    max_leaves=12)
FORMS = st.dictionaries(st.sampled_from(["agent", "host", "scan", "directives", "warnings"]), JSON, max_size=5)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(old=FORMS, new=FORMS)
def test_a_patch_applied_to_its_base_gives_the_new_header(old: dict[str, Any], new: dict[str, Any]) -> None:
    patch = header_patch(old, new)
    assert apply_patch(old, patch) == new
    assert (patch == {}) == (old == new)
