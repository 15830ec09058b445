"""collectors.plan without a database: what a report writes, given what the collector holds."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from agent.contract import canonical, state_digest
from collectors import BadRequest, Resync
from collectors.models import NO_DUE
from collectors.plan import (DIRECTIVE_COUNTERS, HostState, Stored, StoredState, directives_digest, plan_writes,
                             summaries_of)
from tests.collectors.collector_support import Agent, result

RECEIVED = dt.datetime(2026, 7, 1, 12, 0, 0)
HARDEN = "HARDEN-30D"


def held(agent: Agent, *, tags: str = "", **host: Any) -> StoredState:
    """What a collector holds once it accepted ``agent``'s last report (taken before the next
    report changes the agent's state)."""
    rows = {k: Stored(r["directive"], r["requirement"], r["status"], r["due"] or NO_DUE, canonical(r).decode())
            for k, r in agent.state.items()}
    summaries = summaries_of((s.directive, s.status, s.due) for s in rows.values())
    fields: dict[str, Any] = dict(id=7, host_id=agent.host_id, agency_id=3, shard=7, last_report_id=agent.last_report_id,
                                  last_sequence=agent.sequence, state_digest=state_digest(agent.state.values()),
                                  directives_digest=directives_digest({"directives": agent.directives}),
                                  total=len(rows), tags=tags)
    fields.update(host)
    return StoredState(HostState(**fields), rows, summaries)


def only(stored: StoredState, keys: list[str]) -> StoredState:
    """The stored rows of ``keys`` alone: what the lookup for a delta reads."""
    return StoredState(stored.host, {k: stored.results[k] for k in keys if k in stored.results}, stored.summaries)


def new_host(agent: Agent) -> StoredState:
    return StoredState(HostState(id=7, host_id=agent.host_id, agency_id=3, shard=7, last_report_id=None,
                                 last_sequence=None, state_digest=None, directives_digest=None, total=0, tags=None),
                       {}, {})


def accepted(agent: Agent, results: list[dict[str, Any]]) -> Agent:
    """``agent`` once the collector accepted its full report of ``results``."""
    agent.accepted(agent.full(results))
    return agent


def named(stored: StoredState, report: dict[str, Any]) -> StoredState:
    """The stored rows a delta names."""
    return only(stored, [c["key"] for c in report["changes"]] + list(report["removed"]))


def test_a_first_full_report_adds_every_result_and_counts_the_host_once() -> None:
    agent = Agent("web")
    report = agent.full([result("R.1", "pass"), result("R.2", "fail", due="2026-07-02"),
                         result("B.1", "manual", directive="BOD-23-02", due=None)])

    plan = plan_writes(new_host(agent), report, RECEIVED)

    assert plan.answer == {"status": "accepted", "report_id": report["report_id"], "host_id": "web",
                           "sequence": 1, "state_digest": report["state_digest"], "changed": 3, "removed": 0}
    assert [(r["key"], r["status"], r["due"]) for r in plan.results] == [
        ("R.1", "pass", "2026-07-02"), ("R.2", "fail", "2026-07-02"), ("B.1", "manual", NO_DUE)]
    assert plan.results[1]["failing_since"] is not None and plan.results[0]["failing_since"] is None
    assert plan.events == []  # the first state of a host is no change
    assert plan.deleted_results == []
    assert plan.requirement_counts[(3, HARDEN, "R.2", "2026-07-02", 7)]["fail"] == 1
    assert plan.requirement_counts[(3, "BOD-23-02", "B.1", NO_DUE, 7)]["manual"] == 1
    # one host more per directive, by its status there
    harden = dict(zip(DIRECTIVE_COUNTERS, plan.directive_counts[(3, HARDEN, 7)]))
    bod = dict(zip(DIRECTIVE_COUNTERS, plan.directive_counts[(3, "BOD-23-02", 7)]))
    assert harden["hosts"] == 1 and harden["non_compliant_hosts"] == 1 and sum(harden.values()) == 2
    assert bod["hosts"] == 1 and bod["needs_review_hosts"] == 1 and sum(bod.values()) == 2
    assert plan.host_directives[HARDEN]["fail_min_due"] == "2026-07-02"
    assert (plan.host["total"], plan.host["n_pass"], plan.host["n_fail"], plan.host["n_manual"]) == (3, 1, 1, 1)
    assert plan.host["fail_min_due"] == "2026-07-02" and plan.host["last_report_id"] == report["report_id"]
    assert plan.report["changed"] == 3 and plan.report["kind"] == "full"


def test_a_full_report_replaces_adds_and_removes_against_the_stored_state() -> None:
    agent = accepted(Agent("web"), [result("R.1", "pass"), result("R.2", "pass"), result("R.3", "fail")])
    stored = held(agent)
    report = agent.full([result("R.1", "pass"), result("R.2", "fail", due="2026-07-10"), result("R.4", "error")])

    plan = plan_writes(stored, report, RECEIVED)

    assert [r["key"] for r in plan.results] == ["R.2", "R.4"]  # R.1 is unchanged: not written
    assert plan.deleted_results == [{"host_pk": 7, "key": "R.3"}]
    assert sorted((e["key"], e["old_status"], e["new_status"]) for e in plan.events) == [
        ("R.2", "pass", "fail"), ("R.3", "fail", None), ("R.4", None, "error")]
    counts = plan.requirement_counts
    assert counts[(3, HARDEN, "R.2", "2026-07-02", 7)]["pass"] == -1  # the replaced row leaves its due date
    assert counts[(3, HARDEN, "R.2", "2026-07-10", 7)]["fail"] == 1
    assert counts[(3, HARDEN, "R.3", "2026-07-02", 7)]["fail"] == -1
    assert counts[(3, HARDEN, "R.4", "2026-07-02", 7)]["error"] == 1
    assert (3, HARDEN, "R.1", "2026-07-02", 7) not in counts
    assert plan.answer["changed"] == 2 and plan.answer["removed"] == 1
    assert plan.host["total"] == 3 and plan.host["fail_min_due"] == "2026-07-10"
    # still non-compliant on HARDEN-30D: the directive's host counters do not move
    assert not any(plan.directive_counts.get((3, HARDEN, 7), [0]))


def test_a_delta_moves_the_stored_digest_by_the_rows_it_replaces() -> None:
    agent = accepted(Agent("web"), [result(f"R.{i}", "pass") for i in range(10)])
    before = held(agent)
    report = agent.delta([result("R.3", "fail"), result("R.20", "pass")], ["R.5", "R.6"])
    stored = named(before, report)
    assert set(stored.results) == {"R.3", "R.5", "R.6"}  # R.20 is new: nothing stored to read

    plan = plan_writes(stored, report, RECEIVED)

    assert plan.answer["state_digest"] == report["state_digest"] == state_digest(agent.state.values())
    assert plan.host["state_digest"] == report["state_digest"]
    assert plan.host["total"] == 10 + 1 - 2
    assert [r["key"] for r in plan.results] == ["R.3", "R.20"]
    assert [d["key"] for d in plan.deleted_results] == ["R.5", "R.6"]
    summary = plan.summaries[HARDEN]["counts"]
    assert (summary["pass"], summary["fail"]) == (8, 1)
    assert plan.host_directives[HARDEN]["n_pass"] == 8
    harden = dict(zip(DIRECTIVE_COUNTERS, plan.directive_counts[(3, HARDEN, 7)]))
    assert harden == {**dict.fromkeys(DIRECTIVE_COUNTERS, 0), "compliant_hosts": -1, "non_compliant_hosts": 1}


def test_a_delta_whose_digest_does_not_follow_is_a_resync_naming_both() -> None:
    agent = accepted(Agent("web"), [result("R.1", "pass"), result("R.2", "pass")])
    # the collector's state differs from the agent's: R.2 is failing there
    drifted = [result("R.1", "pass"), result("R.2", "fail")]
    before = held(agent, state_digest=state_digest(drifted))
    report = agent.delta([result("R.1", "fail")])
    stored = named(before, report)

    with pytest.raises(Resync) as caught:
        plan_writes(stored, report, RECEIVED)

    body = caught.value.body()
    assert body["reason"] == "digest_mismatch" and body["expected"] == report["state_digest"]
    assert body["computed"] != report["state_digest"] and body["last_report_id"] == agent.last_report_id


def test_a_full_report_with_a_wrong_digest_is_a_bad_request() -> None:
    agent = Agent("web")
    report = agent.full([result("R.1", "pass")])
    report["state_digest"] = state_digest([result("R.1", "fail")])

    with pytest.raises(BadRequest) as caught:
        plan_writes(new_host(agent), report, RECEIVED)
    assert caught.value.path == "$.state_digest"


def test_a_delta_removing_a_key_the_collector_does_not_hold_is_a_resync() -> None:
    agent = accepted(Agent("web"), [result("R.1", "pass"), result("R.2", "pass")])
    before = held(agent)
    report = agent.delta([], ["R.2"])
    stored = only(before, ["R.1"])  # R.2 is not stored

    with pytest.raises(Resync) as caught:
        plan_writes(stored, report, RECEIVED)
    assert caught.value.reason == "unknown_key" and "$.removed[0]" in str(caught.value)


@pytest.mark.parametrize("change, reason", [
    ({"sequence": 1}, "out_of_order"),
    ({"base": "r-elsewhere"}, "unknown_base"),
    ({"directives": [{"id": HARDEN, "title": "Hardening", "issued": "2026-06-02", "digest": "sha256:" + "c" * 64}]},
     "directives_changed"),
])
def test_a_delta_out_of_order_is_a_resync(change: dict[str, Any], reason: str) -> None:
    agent = accepted(Agent("web"), [result("R.1", "pass")])
    before = held(agent)
    report = {**agent.delta([result("R.1", "fail")]), **change}

    with pytest.raises(Resync) as caught:
        plan_writes(named(before, report), report, RECEIVED)
    assert caught.value.reason == reason


def test_a_delta_for_a_host_without_state_or_with_an_older_digest_is_a_resync() -> None:
    agent = accepted(Agent("web"), [result("R.1", "pass")])
    no_state, older = held(agent, last_report_id=None), held(agent, state_digest="sha256:" + "0" * 64)
    report = agent.delta([result("R.1", "fail")])
    with pytest.raises(Resync) as caught:
        plan_writes(named(no_state, report), report, RECEIVED)
    assert caught.value.reason == "no_state"
    with pytest.raises(Resync) as caught:
        plan_writes(named(older, report), report, RECEIVED)
    assert caught.value.reason == "digest_mismatch" and "older form" in str(caught.value)


def test_fixing_the_earliest_failing_result_reads_the_due_date_back() -> None:
    agent = accepted(Agent("web"), [result("R.1", "fail", due="2026-07-01"), result("R.2", "fail", due="2026-08-01"),
                                    result("R.3", "pass")])
    before = held(agent)
    report = agent.delta([result("R.1", "pass", due="2026-07-01")])
    plan = plan_writes(named(before, report), report, RECEIVED)

    # the delta names R.1 only: whether another failing result shares its due date is in the database
    assert plan.recount == {HARDEN}
    plan.settle({(7, HARDEN): "2026-08-01"})
    assert plan.host_directives[HARDEN]["fail_min_due"] == "2026-08-01"
    assert plan.summaries[HARDEN]["fail_min_due"] == "2026-08-01"
    assert plan.host["fail_min_due"] == "2026-08-01"


def test_fixing_the_last_failing_result_needs_no_read_back() -> None:
    agent = accepted(Agent("web"), [result("R.1", "fail", due="2026-07-01"), result("R.2", "pass")])
    before = held(agent)
    report = agent.delta([result("R.1", "pass", due="2026-07-01")])
    plan = plan_writes(named(before, report), report, RECEIVED)

    assert plan.host_directives[HARDEN]["fail_min_due"] == NO_DUE and plan.host["fail_min_due"] == NO_DUE
    plan.settle({})
    assert plan.host["fail_min_due"] == NO_DUE


def test_tags_are_written_only_when_the_set_changes() -> None:
    agent = accepted(Agent("web"), [result("R.1", "pass")])
    before = held(agent, tags="dmz\nprod")
    same = agent.full([result("R.1", "pass")])
    same["host"]["tags"] = ["prod", "dmz"]
    plan = plan_writes(before, same, RECEIVED)
    assert (plan.tags_added, plan.tags_removed, plan.host["tags"]) == ([], [], "dmz\nprod")

    other = agent.full([result("R.1", "pass")])
    other["host"]["tags"] = ["prod", "pci"]
    plan = plan_writes(before, other, RECEIVED)
    assert plan.tags_removed == ["dmz"]
    assert plan.tags_added == [{"host_pk": 7, "tag": "pci", "agency_id": 3}]
    assert plan.host["tags"] == "pci\nprod"


def test_an_agent_clock_ahead_of_the_collector_is_clamped() -> None:
    agent = Agent("web")
    report = agent.full([result("R.1", "fail")])
    report["generated_at"] = "2030-01-01T00:00:00Z"
    plan = plan_writes(new_host(agent), report, RECEIVED)
    assert plan.host["last_scan"] == RECEIVED and plan.report["generated_at"] == RECEIVED
    assert plan.results[0]["failing_since"] == RECEIVED
