"""Group commit: reports of many hosts applied in one transaction get exactly the answers, and
leave exactly the state, that applying them one by one would."""
from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa
from tests.collectors.collector_support import Agent, Server, Tokens, from_counters, recount, result

from agent.contract import state_digest
from collectors import Conflict, Forbidden, Resync
from collectors.auth import Principal, lookup
from collectors.apply import Submission, ingest, ingest_many
from collectors.enrollment import enroll
from agent.contract import host_status
from collectors.models import HOST_COUNT_COLUMNS, STATUSES, agg_directives, host_directives, hosts, reports, results
from collectors.storage import Database

BASELINE = [result("H.1", "pass"), result("H.2", "fail"), result("B.1", "pass", directive="BOD-23-02")]


def enrolled(db: Database, tokens: Tokens, name: str, agency: str = "DOJ") -> tuple[Agent, Principal]:
    with db.read() as conn:
        enroller = lookup(conn, tokens.enroll[agency])
    token = enroll(db, enroller, {"host_id": name, "hostname": name})["token"]
    with db.read() as conn:
        return Agent(name, hostname=name, token=token), lookup(conn, token)


def summaries_from_results(db: Database) -> dict[tuple[int, str], tuple[int, ...]]:
    """host_directives as a recount of each host's raw results would make it."""
    out: dict[tuple[int, str], list[Any]] = {}
    with db.read() as conn:
        for pk, directive, status, due in conn.execute(sa.select(results.c.host_pk, results.c.directive,
                                                                 results.c.status, results.c.due)):
            row = out.setdefault((pk, directive), [0] * len(STATUSES) + [""])
            row[STATUSES.index(status)] += 1
            if status == "fail" and due and (not row[-1] or due < row[-1]):
                row[-1] = due
    return {k: tuple(v) for k, v in out.items()}


def stored_summaries(db: Database) -> dict[tuple[int, str], tuple[int, ...]]:
    with db.read() as conn:
        return {(r.host_pk, r.directive): tuple(getattr(r, f"n_{s}") for s in STATUSES) + (r.fail_min_due,)
                for r in conn.execute(sa.select(host_directives))}


Counters = dict[tuple[int, str], tuple[int, ...]]


def host_counters(db: Database) -> tuple[Counters, Counters]:
    """Hosts per agency and directive, and hosts per host status: from the counters, and
    recounted from the hosts' summaries with agent.contract.host_status."""
    a = agg_directives
    with db.read() as conn:
        kept = {(agency, d): tuple(int(v) for v in values) for agency, d, *values in conn.execute(
            sa.select(a.c.agency_id, a.c.directive, *[sa.func.sum(a.c[c]) for c in HOST_COUNT_COLUMNS])
            .group_by(a.c.agency_id, a.c.directive)) if any(values)}
        counted: dict[tuple[int, str], list[int]] = {}
        for r in conn.execute(sa.select(host_directives)):
            row = counted.setdefault((r.agency_id, r.directive), [0] * len(HOST_COUNT_COLUMNS))
            row[0] += 1
            status = host_status({s: getattr(r, f"n_{s}") for s in STATUSES})
            row[HOST_COUNT_COLUMNS.index(f"{status.value}_hosts")] += 1
    return kept, {k: tuple(v) for k, v in counted.items()}


def consistent(db: Database) -> None:
    assert from_counters(db) == recount(db)
    assert stored_summaries(db) == summaries_from_results(db)
    kept, counted = host_counters(db)
    assert kept == counted


def test_one_round_answers_each_report_as_if_alone(db: Database, tokens: Tokens) -> None:
    pairs = [enrolled(db, tokens, f"h{i}", "DOJ" if i % 2 else "DOE") for i in range(6)]
    fulls = []
    for agent, principal in pairs:
        full = agent.full(BASELINE)
        assert ingest(db, principal, full)[1]["status"] == "accepted"
        agent.accepted(full)
        fulls.append(full)
    (a0, p0), (a1, p1), (a2, p2), (a3, p3), (a4, p4), (a5, p5) = pairs

    ok0 = a0.delta([result("H.1", "fail")])
    ok1 = a1.delta([result("H.2", "pass")], ["B.1"])
    a1.accepted(ok1)
    ok1_next = a1.delta([result("H.3", "fail", due="2026-08-01")])  # the same host again: applied after ok1
    unknown_base = a2.delta([result("H.1", "fail")])
    unknown_base["base"] = "r-nothing-known"
    stolen = a4.delta([result("H.1", "fail")])
    stolen["host"] = dict(stolen["host"], id=a5.host_id)
    bad_digest = a5.delta([result("H.1", "error")])
    bad_digest["state_digest"] = "sum256:" + "0" * 64
    subs = [Submission(p0, ok0), Submission(p1, ok1), Submission(p1, ok1_next), Submission(p2, unknown_base),
            Submission(p3, fulls[3]), Submission(p4, stolen), Submission(p5, bad_digest)]

    with db.read() as conn:
        before = {r.host_id: r.last_report_id for r in conn.execute(sa.select(hosts.c.host_id, hosts.c.last_report_id))}
    out = ingest_many(db, subs)

    assert [o[1]["status"] for o in out[:3]] == ["accepted"] * 3, out
    assert (out[1][1]["changed"], out[1][1]["removed"], out[2][1]["changed"]) == (1, 1, 1)
    assert isinstance(out[3], Resync) and out[3].reason == "unknown_base"
    assert out[4][1]["status"] == "duplicate"
    assert isinstance(out[5], Forbidden)
    assert isinstance(out[6], Resync) and out[6].reason == "digest_mismatch"
    with db.read() as conn:
        after = {r.host_id: r.last_report_id for r in conn.execute(sa.select(hosts.c.host_id, hosts.c.last_report_id))}
    assert after == {**before, "h0": ok0["report_id"], "h1": ok1_next["report_id"]}
    consistent(db)


def test_deltas_keep_summaries_and_host_rows_exact(db: Database, tokens: Tokens) -> None:
    """Every step, whatever it replaces, removes or adds, leaves the summaries and host rows
    a recount of the results gives, and another host's same keys in the round are its own."""
    agent, principal = enrolled(db, tokens, "h")
    other, other_principal = enrolled(db, tokens, "o")  # in every round too, with the same keys
    full = [result("H.1", "fail", due="2026-01-01"), result("H.2", "fail", due="2026-03-01"), result("H.3", "pass"),
            result("H.4", "fail", due=None), result("B.1", "fail", directive="BOD-23-02", due="2026-02-01")]

    def host_row(name: str) -> tuple[Any, ...]:
        with db.read() as conn:
            row = conn.execute(sa.select(hosts).where(hosts.c.host_id == name)).one()
        return (row.total, row.fail_min_due, *(getattr(row, f"n_{s}") for s in STATUSES))

    def recounted(items: list[dict[str, Any]]) -> tuple[Any, ...]:
        dues = [r["due"] for r in items if r["status"] == "fail" and r["due"]]
        return (len(items), min(dues) if dues else "", *(sum(r["status"] == s for r in items) for s in STATUSES))

    for a, p in ((agent, principal), (other, other_principal)):
        report = a.full(full)
        assert ingest(db, p, report)[1]["status"] == "accepted"
        a.accepted(report)
    steps = [([result("H.1", "pass")], []),  # the earliest failing due date goes: the next one remains
             ([], ["H.2"]),  # removed: HARDEN-30D keeps failing only without a date; B.1's date is the host's
             ([result("H.3", "fail", due="2025-12-01"), result("H.5", "waived")], []),
             ([result("B.1", "pass", directive="BOD-23-02")], ["H.4"]),
             ([result("H.3", "fail", due="2025-12-01", actual="still")], []),  # fail to fail, same due
             ([], ["H.1", "H.3", "H.5"])]  # HARDEN-30D left with nothing: its summary goes
    for changes, removed in steps:
        mine, theirs = agent.delta(changes, removed), other.delta([result("H.3", "fail", due="2027-01-01")]
                                                                  if "H.3" in other.state else [])
        out = ingest_many(db, [Submission(principal, mine), Submission(other_principal, theirs)])
        assert [o[1]["status"] for o in out] == ["accepted"] * 2, out
        agent.accepted(mine)
        other.accepted(theirs)
        consistent(db)
        assert host_row("h") == recounted(list(agent.state.values()))
        assert host_row("o") == recounted(list(other.state.values()))
    assert stored_summaries(db) and all(d != "HARDEN-30D" for (pk, d) in stored_summaries(db)
                                        if pk == principal.host_pk)


def test_random_deltas_and_full_reports_keep_every_summary_exact(db: Database, tokens: Tokens) -> None:
    """A delta moves the stored digest and summaries by the rows it replaces alone: after any
    mix of replaced, added and removed results (and the odd full report), in rounds of several
    hosts, everything stored is what a recount of the results gives."""
    rng = random.Random(7)
    dues = [None, "2026-01-01", "2026-02-01", "2026-03-01"]
    directives = ["HARDEN-30D", "BOD-23-02"]

    def random_result(key: str) -> dict[str, Any]:
        return result(key, rng.choice(STATUSES), directive=rng.choice(directives), due=rng.choice(dues),
                      actual=rng.choice(["", "x", "y"]))

    pairs = [enrolled(db, tokens, f"r{i}", "DOJ" if i % 2 else "DOE") for i in range(3)]
    for agent, principal in pairs:
        report = agent.full([random_result(f"K.{k}") for k in range(8)])
        assert ingest(db, principal, report)[1]["status"] == "accepted"
        agent.accepted(report)
    for step in range(40):
        subs = []
        for agent, principal in pairs:
            if step % 13 == 12:
                report = agent.full([random_result(f"K.{k}") for k in rng.sample(range(12), rng.randint(1, 9))])
            else:
                keys = sorted(agent.state)
                removed = rng.sample(keys, rng.randint(0, min(2, len(keys) - 1)))
                kept = [k for k in keys if k not in removed]
                changes = [random_result(k) for k in rng.sample(kept, rng.randint(0, min(2, len(kept))))]
                changes += [random_result(f"K.{k}") for k in rng.sample(range(12), 2) if f"K.{k}" not in agent.state]
                report = agent.delta(changes, removed)
            subs.append(Submission(principal, report))
        out = ingest_many(db, subs)
        assert [o[1]["status"] for o in out] == ["accepted"] * len(pairs), out
        for (agent, _), sub in zip(pairs, subs):
            agent.accepted(sub.report)
        consistent(db)
        with db.read() as conn:
            for agent, _ in pairs:
                row = conn.execute(sa.select(hosts).where(hosts.c.host_id == agent.host_id)).one()
                items = list(agent.state.values())
                fail_dues = [r["due"] for r in items if r["status"] == "fail" and r["due"]]
                assert (row.total, row.fail_min_due, row.state_digest) == (
                    len(items), min(fail_dues) if fail_dues else "", state_digest(items)), step


def test_a_delta_of_many_changes_is_read_in_chunks(db: Database, tokens: Tokens, monkeypatch: Any) -> None:
    """The rows a round's deltas replace are looked up in chunks where the database limits the
    parameters of a statement (SQLite): a chunk boundary inside a host's keys loses none."""
    import collectors.storage

    monkeypatch.setattr(collectors.storage, "SQLITE_PAIRS", 7)
    pairs = [enrolled(db, tokens, f"m{i}") for i in range(2)]
    for agent, principal in pairs:
        report = agent.full([result(f"M.{k}", "pass" if k % 3 else "fail") for k in range(30)])
        assert ingest(db, principal, report)[1]["status"] == "accepted"
        agent.accepted(report)
    subs = [Submission(principal, agent.delta([result(f"M.{k}", "fail") for k in range(0, 30, 2)],
                                              [f"M.{k}" for k in range(1, 12, 2)]))
            for agent, principal in pairs]
    out = ingest_many(db, subs)
    assert [(o[1]["status"], o[1]["removed"]) for o in out] == [("accepted", 6)] * 2, out
    consistent(db)


def test_a_database_error_in_a_round_retries_its_reports_one_by_one(db: Database, tokens: Tokens) -> None:
    (a, pa), (b, pb), (c, pc) = (enrolled(db, tokens, name) for name in ("x", "y", "z"))
    first, second, third = a.full(BASELINE), b.full(BASELINE), c.full(BASELINE[:1])
    second["report_id"] = first["report_id"]  # two hosts claim one report id: the round's insert fails

    out = ingest_many(db, [Submission(pa, first), Submission(pb, second), Submission(pc, third)])

    assert out[0][1]["status"] == "accepted" and out[2][1]["status"] == "accepted"
    assert isinstance(out[1], Conflict)  # as alone: the id is taken by the time its turn comes
    with db.read() as conn:
        y = conn.execute(sa.select(hosts).where(hosts.c.host_id == "y")).one()
        assert y.last_report_id is None and y.total == 0  # nothing of the refused report
        assert conn.execute(sa.select(sa.func.count()).select_from(results).where(results.c.host_pk == y.id)
                            ).scalar_one() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(reports)).scalar_one() == 2
    consistent(db)


def test_concurrent_agents_over_http_leave_consistent_counters(server: Server, tokens: Tokens, db: Database) -> None:
    rng = random.Random(11)
    keys = [f"H.{i}" for i in range(10)] + ["B.1", "B.2"]

    def make(key: str) -> dict[str, Any]:
        return result(key, rng.choice(["pass", "fail", "error", "waived"]),
                      directive="BOD-23-02" if key.startswith("B") else "HARDEN-30D",
                      due=rng.choice(["2020-01-01", "2999-01-01", None]))

    agents = [server.enroll(tokens.enroll["DOJ" if i % 3 else "DOE"], Agent(f"c{i}")) for i in range(16)]
    plans = []
    for agent in agents:  # each agent's reports in order; the agents run at once
        plan = [agent.full([make(k) for k in keys])]
        state = {r["key"] for r in plan[0]["results"]}
        for _ in range(6):
            plan.append(("delta", [make(k) for k in rng.sample(keys, 2)], rng.sample(sorted(state), 1)))
        plans.append(plan)

    def run(i: int) -> list[str]:
        agent, plan = agents[i], plans[i]
        answers = []
        first = plan[0]
        answers.append(server.submit(agent, first).json()["status"])
        for _, changes, removed in plan[1:]:
            removed = [k for k in removed if k in agent.state and k not in {c["key"] for c in changes}]
            report = agent.delta(changes, removed)
            answers.append(server.submit(agent, report).json()["status"])
            answers.append(server.submit(agent, report).json()["status"])  # a replay, as after a lost answer
        return answers

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(run, range(len(agents))))
    assert all(a == ["accepted"] + ["accepted", "duplicate"] * 6 for a in answers), answers
    consistent(db)
