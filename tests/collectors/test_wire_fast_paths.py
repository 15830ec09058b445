"""The collector's fast paths give what the reference ways give: bodies parsed by orjson equal
the standard parser's values, results encoded by orjson carry the agent's canonical bytes (so
the digests agree), the schema with its references inlined accepts exactly what the schema as
written accepts, and large upserts through COPY write what one statement per row writes."""
from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import struct
from typing import Any

import fastjsonschema
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.contract import canonical, digest_text, result_hash, schema, state_digest
from collectors import BadRequest, inputs
from collectors.storage import COPY_ROWS, Database
from collectors.wire import _float_fields, _has_float, canonical_result, date_formats, inline_refs, parse_report
from tests.collectors.collector_support import Agent, Server, Tokens, result

# JSON values with what tells the two encoders and parsers apart: floats of every size (shown in
# exponent form by one, not the other), integers past 64 bits, escapes, non-ASCII keys.
FLOATS = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([1e-05, 1e16, 1e22, -0.0, 5e-324, 0.1])
INTS = st.integers() | st.sampled_from([2**63 - 1, 2**63, 2**64, -2**63, -2**63 - 1, 10**30])
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12) | st.sampled_from(
    ["\u2028", "\x7f", "\x00", "\\", '"', "\ufeff", "é", "\U0001f512", "\x1f"])
SCALARS = st.none() | st.booleans() | INTS | FLOATS | TEXT
VALUES = st.recursive(SCALARS, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(TEXT, kids, max_size=4),
                      max_leaves=20)


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (1 is not 1.0, -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


@settings(max_examples=300, deadline=None)
@given(VALUES, st.booleans())
def test_bodies_parse_to_the_standard_parsers_values(value: Any, spaced: bool) -> None:
    raw = (json.dumps(value) if spaced else json.dumps(value, separators=(",", ":"), ensure_ascii=False)).encode()
    assert same(inputs.parse(raw, lambda _: True), json.loads(raw))


@pytest.mark.parametrize("raw", [b"[NaN]", b'{"a": Infinity}', b"[-Infinity]", b"[1e400]", b"[18446744073709551616]",
                                 b"[-9223372036854775809]", b"\xef\xbb\xbf[1]", '[1]'.encode("utf-16"), b"[1] ",
                                 b'{"a": 1, "a": 2}'])
def test_what_orjson_refuses_or_reads_otherwise_goes_to_the_standard_parser(raw: bytes) -> None:
    assert same(inputs.parse(raw), json.loads(raw))


@pytest.mark.parametrize("raw, message", [(b"[1,]", "malformed JSON"), (b"\xff", "not UTF-8"),
                                          (b'["\\ud800"]', "lone UTF-16 surrogate"),
                                          (b"[" * 70 + b"]" * 70, "nested deeper than 64")])
def test_refusals_are_worded_as_before(raw: bytes, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        inputs.parse(raw)


def results_with(fields: Any) -> dict[str, Any]:
    item = result("HARDEN-30D.999", "fail")
    item["fields"] = fields
    return item


EVIDENCE = st.fixed_dictionaries({"expected": TEXT, "actual": TEXT, "where": TEXT},
                                  optional={"verdict": st.sampled_from(["ok", "violation", "info"])})
RESULTS = st.fixed_dictionaries(
    {"key": TEXT, "directive": st.just("HARDEN-30D"), "requirement": st.just("HARDEN-30D.1"), "title": TEXT,
     "severity": st.sampled_from(["critical", "high", "medium", "low"]),
     "status": st.sampled_from(["pass", "fail", "error", "not_applicable", "manual", "waived"]),
     "evidence": st.lists(EVIDENCE, max_size=3), "due": st.none() | st.just("2026-07-02"), "overdue": st.booleans(),
     "references": st.dictionaries(TEXT, st.lists(TEXT, max_size=2), max_size=2)},
    optional={"message": TEXT, "days_left": st.none() | st.integers(-2**31, 2**31 - 1) | st.just(5.0),
              "remediation": TEXT, "finding": TEXT, "fields": st.dictionaries(TEXT, VALUES, max_size=3),
              "waiver": st.fixed_dictionaries({"requirement": TEXT, "justification": TEXT, "expires": st.just("2026-09-01"),
                                               "state": st.just("active")},
                                              optional={"note": VALUES, "tags": st.lists(TEXT, max_size=2)}),
              "failing_since": st.none() | st.just("2026-06-01T00:00:00Z")})


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(RESULTS, st.booleans())
def test_a_result_is_encoded_to_the_agents_canonical_bytes(item: dict[str, Any], spaced: bool) -> None:
    """Whatever a valid result holds, its bytes (hence its share of the digest) are the agent's."""
    raw = (json.dumps(item) if spaced else json.dumps(item, separators=(",", ":"), ensure_ascii=False)).encode()
    parsed = inputs.parse(raw, lambda _: True)  # NUL allowed: inside a report, where a result's text may hold one
    assert canonical_result(parsed) == canonical(json.loads(raw)) == canonical(item)


def test_floats_nan_and_big_integers_take_the_agents_encoder() -> None:
    for fields in ({"ratio": 1e-05}, {"n": 1e16}, {"deep": [[{"x": 0.5}]]}, {"big": 2**70}, {"nan": float("nan")}):
        item = results_with(fields)
        assert canonical_result(item) == canonical(item)
    item = {**result("HARDEN-30D.2"), "days_left": 5.0, "waiver": {"requirement": "HARDEN-30D.2", "justification": "j",
                                                                   "expires": "2026-09-01", "state": "active",
                                                                   "score": 0.25}}
    assert canonical_result(item) == canonical(item)
    raw = b'{"key": "K", "fields": {"x": NaN, "y": -Infinity}}'
    assert canonical_result(inputs.parse(raw)) == canonical(json.loads(raw)) == b'{"fields":{"x":NaN,"y":-Infinity},"key":"K"}'


def test_the_fields_that_may_hold_a_float_are_read_from_the_schema() -> None:
    """days_left is an integer (which JSON Schema lets be 5.0), fields and a waiver are open."""
    assert _float_fields() == ("days_left", "fields", "waiver")
    assert _has_float({"a": [1, {"b": 2.0}]}) and not _has_float({"a": [1, {"b": "2.0"}], "c": None})


def test_full_reports_digests_agree_through_the_collector() -> None:
    """Reports as an agent builds them: the collector accepts their digests (plan_writes checks
    them against its own encoding), including results holding floats and exotic text."""
    agent = Agent("h")
    items = [result(f"HARDEN-30D.{i}", "fail" if i % 3 else "pass", actual=f"välue {i} \u2028 \"q\"") for i in range(80)]
    items.append(results_with({"ratio": 0.1, "big": 2**65, "n": [1, None, True]}))
    report = parse_report(json.dumps(agent.full(items)).encode())
    assert report["state_digest"] == state_digest(items)
    assert digest_text(sum(result_hash(canonical_result(r)) for r in report["results"])) == report["state_digest"]
    assert "".join(canonical_result(r).decode() for r in report["results"]) == "".join(
        canonical(r).decode() for r in items)


@functools.lru_cache(maxsize=1)
def validators() -> tuple[Any, Any]:
    # A copy: fastjsonschema rewrites the references of the schema it compiles, in place.
    return (fastjsonschema.compile(copy.deepcopy(schema()), formats=date_formats()),
            fastjsonschema.compile(inline_refs(schema()), formats=date_formats()))


def valid_report() -> dict[str, Any]:
    agent = Agent("h")  # a copy: the report shares the test support's directive entries
    return copy.deepcopy(agent.full([result("HARDEN-30D.1", "fail"), {**result("HARDEN-30D.2"), "fields": {"x": [1.5]}}]))


PLACES = [(), ("host",), ("results", 0), ("results", 1), ("results", 0, "evidence", 0), ("summary",), ("directives", 0),
          ("agent",), ("scan",)]


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PLACES), st.sampled_from(["kind", "sequence", "id", "status", "due", "key", "days_left",
                                                 "counts", "expected", "digest", "fields", "extra", "verdict",
                                                 "issued", "results", "name", "started_at"]), VALUES | RESULTS)
def test_the_inlined_schema_accepts_what_the_written_one_accepts(place: tuple[Any, ...], field: str, value: Any) -> None:
    """A valid report with one field anywhere set to anything: both schemas give the same verdict."""
    report = valid_report()
    node: Any = report
    for step in place:
        node = node[step]
    node[field] = value
    written, inlined = validators()

    def verdict(validate: Any) -> bool:
        try:
            validate(report)
            return True
        except fastjsonschema.JsonSchemaException:
            return False

    assert verdict(written) == verdict(inlined)


def test_a_schema_whose_references_cannot_be_inlined_is_kept() -> None:
    cyclic = {"$defs": {"a": {"type": "array", "items": {"$ref": "#/$defs/a"}}}, "$ref": "#/$defs/a"}
    assert inline_refs(cyclic) is cyclic
    remote = {"properties": {"x": {"$ref": "https://example.org/x.json"}}}
    assert inline_refs(remote) is remote
    assert inline_refs({"$defs": {"n": {"type": "integer"}}, "items": {"$ref": "#/$defs/n"}}) == {
        "items": {"type": "integer"}}
    # fastjsonschema keeps compiled schemas by $id, process-wide: the inlined one has its own;
    # and it makes the references of what it compiles absolute, which are inlined as well
    assert inline_refs(schema())["$id"] != schema()["$id"]
    written = copy.deepcopy(schema())
    fastjsonschema.compile(written)
    assert "$ref" not in json.dumps(inline_refs(written)) and "$ref" not in json.dumps(inline_refs(schema()))
    assert inline_refs(written) == inline_refs(schema())


# ------------------------------------------------------------------ upserts through COPY


def rows(host_pk: int, n: int, status: str, at: dt.datetime) -> list[dict[str, Any]]:
    return [{"host_pk": host_pk, "key": f"K.{i}", "directive": "K", "requirement": f"K.{i}", "status": status,
             "due": "2026-07-02", "failing_since": at if status == "fail" else None, "updated_at": at,
             "doc": json.dumps({"i": i, "s": status, "text": "tab\there \\ back\nline é"})} for i in range(n)]


def test_large_upserts_write_what_small_ones_write(db: Database) -> None:
    """The same rows upserted in one large batch (COPY on PostgreSQL) and in small ones (one
    statement per row): the same table, failing_since kept while a result keeps failing; and a
    round rolled back leaves the next one working (its temporary table is made again)."""
    from collectors.admin import add_agency
    from collectors.apply import _result_assignments
    from collectors.models import hosts, results

    t1, t2 = dt.datetime(2026, 7, 1), dt.datetime(2026, 7, 2)
    with db.write() as conn:
        agency = add_agency(conn, "AG", "Agency")
        conn.execute(hosts.insert(), [{"id": pk, "host_id": f"h{pk}", "agency_id": agency, "enrolled_at": t1, "shard": 0}
                                      for pk in (1, 2)])

    def upsert(batch: list[dict[str, Any]], size: int) -> None:
        with db.write() as conn:
            for at in range(0, len(batch), size):
                db.upsert(conn, results, batch[at:at + size], ("host_pk", "key"), _result_assignments, "result")

    n = 2 * COPY_ROWS
    with pytest.raises(sa.exc.IntegrityError):  # a host that does not exist: the first round fails whole
        upsert(rows(99, n, "fail", t1), n)
    for pk, size in ((1, n), (2, 1)):  # host 1 in one batch, host 2 row by row
        upsert(rows(pk, n, "fail", t1), size)
        upsert(rows(pk, n, "fail", t2), size)  # still failing: failing_since stays t1
        upsert(rows(pk, n // 2, "pass", t2), size)  # half pass now
    with db.read() as conn:
        table = {pk: sorted(tuple(r) for r in conn.execute(
            sa.select(results.c.key, results.c.status, results.c.failing_since, results.c.updated_at, results.c.doc)
            .where(results.c.host_pk == pk)).all()) for pk in (1, 2)}
    assert table[1] == table[2] and len(table[1]) == n
    assert {r[2] for r in table[1] if r[1] == "fail"} == {t1} and {r[2] for r in table[1] if r[1] == "pass"} == {None}
    assert [json.loads(r[4])["text"] for r in table[1][:1]] == ["tab\there \\ back\nline é"]


def test_large_reports_store_exactly_the_agents_state(server: Server, tokens: Tokens, db: Database) -> None:
    """Full reports of more results than COPY_ROWS (their rows inserted, or upserted, in bulk on
    PostgreSQL): a first one, then one changing, adding and dropping results, then a delta. The
    stored documents are the agent's canonical texts, and a failing result keeps its failing_since."""
    from collectors.models import hosts, results

    n = COPY_ROWS + 36
    agent = server.enroll(tokens.enroll["DOJ"], Agent("bulk"))
    items = [result(f"HARDEN-30D.{i}", "fail" if i % 4 == 0 else "pass", actual=f"v{i} \t\\ é") for i in range(n)]
    assert server.submit(agent, agent.full(items)).json()["status"] == "accepted"
    with db.read() as conn:
        since = dict(conn.execute(sa.select(results.c.key, results.c.failing_since)
                                  .where(results.c.status == "fail")).all())
    items = [result(f"HARDEN-30D.{i}", "fail" if i % 4 == 0 or i % 5 == 0 else "pass",
                     actual=f"w{i}" if i % 3 == 0 else f"v{i} \t\\ é") for i in range(10, n + 10)]
    answer = server.submit(agent, agent.full(items)).json()
    assert answer["status"] == "accepted" and answer["removed"] == 10, answer
    answer = server.submit(agent, agent.delta([result("HARDEN-30D.16", "pass")], removed=["HARDEN-30D.12"])).json()
    assert answer["status"] == "accepted", answer
    with db.read() as conn:
        stored = dict(conn.execute(sa.select(results.c.key, results.c.doc)).all())
        kept = dict(conn.execute(sa.select(results.c.key, results.c.failing_since)
                                 .where(results.c.status == "fail")).all())
        total = conn.execute(sa.select(hosts.c.total).where(hosts.c.host_id == "bulk")).scalar_one()
    assert stored == {k: canonical(r).decode() for k, r in agent.state.items()} and total == len(agent.state)
    assert all(kept[k] == since[k] for k in kept if k in since)  # failing before and after: the first date stays
