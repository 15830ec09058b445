"""A bounded property-based run over the collector's OpenAPI document, on SQLite and PostgreSQL.

Every operation the document lists is called with parameters drawn from its own parameter
schemas (hypothesis-jsonschema) mixed with hostile values (NUL, lone surrogates, integers at
and past 2**63, deep nesting, non-dates), and with bodies that are valid documents with one
field replaced by such a value, under each role's token and none. Properties: no answer is a
5xx, and no answer carries another agency's data: each agency's hosts and directives carry a
marker, and a token scoped to one agency never sees the other's marker (a national token
sees neither agency's hosts). The seed and the number of examples are fixed, so the run is
the same every time and its cost is bounded (about 20 s per database here).
"""
from __future__ import annotations

import copy
import json
from typing import Any, Callable
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from tests.collectors.collector_support import Agent, Server, Tokens, result

from collectors.storage import Database

pytestmark = pytest.mark.slow  # a property-based run over the whole API, on both databases

EXAMPLES = 12
SEED = 18
MARKS = {"DOJ": ("hostdoj", "ZZDOJ"), "DOE": ("hostdoe", "ZZDOE")}  # (host marker, directive marker)

HOSTILE = st.sampled_from(["\x00", "a\x00b", "\ud800", "x\udfffy", 2 ** 63, 2 ** 63 - 1, 2 ** 64, -2 ** 63 - 1, -1,
                           1e308, "", " ", "XXXXXXXXXX", "2026-02-30", "9999-12-31T23:59:59Z", "../..", "%00",
                           "' OR 1=1 --", "<script>", "=cmd|' /C calc'!A0", True, None, [], {}, "\u202e", "🙂"])
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
                    | HOSTILE, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                            max_size=3), max_leaves=8)


class Deep:
    """A body nested ``levels`` deep, written out directly (an encoder would recurse)."""

    def __init__(self, levels: int) -> None:
        self.levels = levels

    def __repr__(self) -> str:
        return f"Deep({self.levels})"


def encode(body: Any) -> bytes:
    if isinstance(body, Deep):
        return b"[" * body.levels + b'"x"' + b"]" * body.levels
    return json.dumps(body).encode()  # ensure_ascii: a lone surrogate travels as its \u escape


def url_quote(value: str) -> str:
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def dataset(server: Server, tokens: Tokens) -> dict[str, Any]:
    """Two agencies, each with hosts and a directive of its own, reported through the API."""
    agents: dict[str, Agent] = {}
    for agency, (host_mark, directive_mark) in MARKS.items():
        directive = f"{directive_mark}-1"
        for i in range(2):
            agent = server.enroll(tokens.enroll[agency], Agent(f"{host_mark}-{i}", hostname=f"{host_mark}-web{i}"))
            agent.directives = [{"id": directive, "title": "Own", "issued": "2026-06-02", "digest": "sha256:" + "c" * 64}]
            report = agent.full([result(f"{directive}.1", "fail", directive=directive),
                                 result(f"{directive}.2", "pass", directive=directive)])
            assert server.submit(agent, report).json()["status"] == "accepted"
            agents.setdefault(agency, agent)
    return {"agents": agents}


def tokens_by_role(tokens: Tokens, agents: dict[str, Agent]) -> dict[str, tuple[str | None, set[str]]]:
    """Each role's token and the markers its answers must never carry."""
    doj, doe = MARKS["DOJ"], MARKS["DOE"]
    return {"none": (None, {*doj, *doe}), "agent-DOJ": (agents["DOJ"].token, set(doe)),
            "enroll-DOJ": (tokens.enroll["DOJ"], set(doe)), "soc-DOJ": (tokens.soc["DOJ"], set(doe)),
            "soc-DOE": (tokens.soc["DOE"], set(doj)), "national": (tokens.national, {doj[0], doe[0]}),
            "admin": (tokens.admin, set())}


def param_value(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    return st.one_of(from_schema(schema), HOSTILE, st.none())


def as_query(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def mutated(doc: Any) -> st.SearchStrategy[Any]:
    """``doc`` with one of its fields (at any depth) replaced by a drawn value, or deeply nested."""
    paths: list[tuple[Any, ...]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, (*path, i))

    walk(doc, ())

    def replace(path: tuple[Any, ...], value: Any) -> Any:
        out = copy.deepcopy(doc)
        if not path:
            return value
        node = out
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
        return out

    return st.one_of(st.builds(replace, st.sampled_from(paths), JSON), st.just(Deep(100_000)), st.just(doc))


def body_strategies(agents: dict[str, Agent]) -> dict[str, Callable[[], st.SearchStrategy[Any]]]:
    agent = copy.deepcopy(agents["DOJ"])
    directive = f"{MARKS['DOJ'][1]}-1"
    report = agent.delta([result(f"{directive}.1", "pass", directive=directive)])
    rollups = {"version": "1", "host_detail": False, "directives": [{"directive": "HARDEN-30D", "hosts": 2,
                                                                    "compliant_hosts": 1}],
               "requirements": [{"directive": "HARDEN-30D", "requirement": "HARDEN-30D.1", "due": "2026-07-02",
                                 "counts": {"pass": 1, "fail": 1}}]}
    hosts = {"version": "1", "after": 0, "upto": None, "hosts": [
        {"position": 1, "host_id": "fwd-1", "hostname": "fwd", "os": "Debian", "last_scan": "2026-12-01T00:00:00Z",
         "directives": [{"directive": "HARDEN-30D", "counts": {"pass": 3, "fail": 1}, "fail_due": "2026-07-02"}]}]}
    enroll = {"host_id": "fuzz-host", "hostname": "fuzz", "instance": "f" * 32}
    applied = {"schema_version": "1.0", "apply_id": "20261210T101500Z-a1b2c3", "revision": 1, "host_id": agent.host_id,
               "agent": {"name": "fedharden", "version": "0.1.0"}, "root": "/", "by": {"user": "root", "uid": 0},
               "started_at": "2026-12-10T10:15:00Z", "finished_at": "2026-12-10T10:16:00Z", "outcome": "applied",
               "include_disruptive": False, "requirements": [f"{directive}.1"], "disruptive": [],
               "fixed": [], "failing": [{"requirement": f"{directive}.1", "why": "still weak"}]}
    return {"/api/v1/reports": lambda: mutated(report), "/api/v1/applies": lambda: mutated(applied),
            "/api/v1/federation/rollups": lambda: mutated(rollups),
            "/api/v1/federation/hosts": lambda: mutated(hosts), "/api/v1/enroll": lambda: mutated(enroll)}


def test_no_5xx_and_no_cross_agency_data(server: Server, tokens: Tokens, db: Database) -> None:
    agents = dataset(server, tokens)["agents"]
    roles = tokens_by_role(tokens, agents)
    document = server.request("GET", "/openapi.json").json()
    bodies = body_strategies(agents)
    operations = [(path, method, op) for path, ops in sorted(document["paths"].items())
                  for method, op in sorted(ops.items())]
    assert len(operations) >= 15
    calls: list[int] = []

    @seed(SEED)
    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, print_blob=False,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        for path, method, op in operations:
            url, query = path, {}
            for p in op.get("parameters", []):
                value = as_query(data.draw(param_value(p["schema"]), label=f"{path} {p['name']}"))
                if p["in"] == "path":
                    url = url.replace("{" + p["name"] + "}", url_quote(value or "x"))
                elif value is not None:
                    query[p["name"]] = value
            if query:
                url += "?" + "&".join(f"{url_quote(k)}={url_quote(v)}" for k, v in query.items())
            body = data.draw(bodies[path](), label=f"{path} body") if path in bodies else None
            raw = encode(body) if path in bodies else None
            for role, (token, forbidden) in roles.items():
                resp = server.request(method.upper(), url, token, data=raw, headers={"Content-Type": "application/json"})
                calls.append(resp.status_code)
                where = f"{method.upper()} {url} {query} as {role}"
                assert resp.status_code < 500, f"{where}: {resp.status_code} {resp.text[:300]}"
                asked = (url + repr(query) + repr(body)).lower()
                leaked = {m for m in forbidden if m.lower() in resp.text.lower() and m.lower() not in asked}
                assert not leaked, f"{where}: answer carries {leaked}: {resp.text[:300]}"

    run()
    assert len(calls) >= EXAMPLES * len(operations) * len(roles)
    assert {200, 400, 401, 403} <= set(calls)  # the run reached past authentication and validation
