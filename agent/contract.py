"""The report contract's vocabulary, defined once: result statuses, host statuses and the one
function that turns a directive's (or a host's) result counts into a host status.

The agent, every renderer, the exit code and the collector read a host's status from here,
so that "compliant" means the same everywhere. Unknown is never compliant:

| status           | when                                                              |
|------------------|-------------------------------------------------------------------|
| `non_compliant`  | at least one `fail` (waived results are not fails)                |
| `incomplete`     | no `fail`, at least one `error` (something could not be judged)   |
| `needs_review`   | no `fail`/`error`, at least one `manual`                          |
| `compliant`      | no `fail`/`error`/`manual`, at least one `pass` or `waived`       |
| `not_applicable` | every result `not_applicable` (or no result at all)               |

A host's overall status is the worst of its directives' statuses, in the order above.
"""

import hashlib
import json
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, NotRequired, Sequence, TypedDict

from agent.packaged import packaged
from checks.model import Severity, Status

__all__ = ["Status", "Severity", "HostStatus", "STATUSES", "SEVERITIES", "HOST_STATUSES",
           "host_status", "worst", "exit_code", "report_status", "counts", "score", "summarize",
           "canonical", "result_hash", "state_digest", "digest_text", "digest_value", "DIGEST_PREFIX",
           "schema", "validation_errors", "COMPACT_VERSION", "SCAN_TIMES", "header_form", "header_digest", "header_patch",
           "apply_patch", "directives_of", "header_errors", "header_of", "header_schema",
           "ApplyRecord", "Actor", "FailingRequirement", "RollbackInfo", "APPLY_OUTCOMES", "apply_schema",
           "apply_errors",
           "Report", "CompactDelta", "CompactScan", "Result", "Evidence", "Summary", "DirectiveSummary", "Counts", "DirectiveRef",
           "HostInfo", "OsInfo", "ScanInfo", "Feed", "Waiver", "Tailoring", "AgentInfo",
           "EXIT_OK", "EXIT_FAIL", "EXIT_USAGE", "EXIT_COULD_NOT_COMPLETE", "EXIT_INCOMPLETE"]

# The agent's exit codes. 0, 1 and 4 say what the scan found (``exit_code``); 2 and 3 say
# that it did not get that far.
EXIT_OK = 0  # compliant, needs_review or not_applicable
EXIT_FAIL = 1  # non_compliant: at least one requirement fails
EXIT_USAGE = 2  # usage error or invalid input (an option, a directive file, a directory that is no root)
EXIT_COULD_NOT_COMPLETE = 3  # the scan (or its submission) could not complete
EXIT_INCOMPLETE = 4  # incomplete: nothing fails, but something could not be judged


class HostStatus(str, Enum):
    NON_COMPLIANT = "non_compliant"
    INCOMPLETE = "incomplete"
    NEEDS_REVIEW = "needs_review"
    COMPLIANT = "compliant"
    NOT_APPLICABLE = "not_applicable"

    def __str__(self) -> str:
        return self.value

    @property
    def rank(self) -> int:
        """0 is the worst; ``worst`` picks the lowest rank."""
        return _ORDER.index(self)

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")

    @property
    def meaning(self) -> str:
        """One line a sysadmin reads under the status."""
        return _MEANING[self]

    @property
    def acceptable(self) -> bool:
        """Whether the agent exits 0 for it: nothing failed and nothing went unjudged."""
        return self in (HostStatus.COMPLIANT, HostStatus.NEEDS_REVIEW, HostStatus.NOT_APPLICABLE)


_ORDER = tuple(HostStatus)

# The vocabularies as the strings a report carries, in their order (worst first for severities
# and host statuses; a result's statuses in the schema's order).
STATUSES: tuple[str, ...] = tuple(s.value for s in Status)
SEVERITIES: tuple[str, ...] = tuple(s.value for s in Severity)
HOST_STATUSES: tuple[str, ...] = tuple(s.value for s in HostStatus)
_MEANING = {
    HostStatus.NON_COMPLIANT: "at least one requirement fails",
    HostStatus.INCOMPLETE: "nothing fails, but some requirements could not be judged (ERROR): "
                           "not compliant until they are",
    HostStatus.NEEDS_REVIEW: "nothing fails; some requirements need a person to confirm them (MANUAL)",
    HostStatus.COMPLIANT: "every requirement judged passes (or is waived)",
    HostStatus.NOT_APPLICABLE: "no requirement applies here",
}


def host_status(counts: "Counts | Mapping[str, int]") -> HostStatus:
    """The status of a directive (or a whole host) from its result counts by status name."""
    def n(status: Status) -> int:
        return int(counts.get(status.value, 0) or 0)  # type: ignore[call-overload]  # Counts or a plain mapping

    if n(Status.FAIL):
        return HostStatus.NON_COMPLIANT
    if n(Status.ERROR):
        return HostStatus.INCOMPLETE
    if n(Status.MANUAL):
        return HostStatus.NEEDS_REVIEW
    if n(Status.PASS) or n(Status.WAIVED):
        return HostStatus.COMPLIANT
    return HostStatus.NOT_APPLICABLE


def worst(statuses: Iterable[HostStatus | str]) -> HostStatus:
    """The worst of several statuses; ``not_applicable`` when there are none."""
    ranked = [HostStatus(s) for s in statuses]
    return min(ranked, key=lambda s: s.rank) if ranked else HostStatus.NOT_APPLICABLE


def exit_code(status: HostStatus | str) -> int:
    """The exit code for a scanned host's status: 0 when acceptable, 1 non_compliant, 4 incomplete."""
    status = HostStatus(status)
    if status.acceptable:
        return EXIT_OK
    return EXIT_FAIL if status is HostStatus.NON_COMPLIANT else EXIT_INCOMPLETE


def report_status(report: Mapping[str, object]) -> HostStatus:
    """A report's overall host status, as its summary states it (never re-derived)."""
    summary = report["summary"]
    assert isinstance(summary, Mapping)
    return HostStatus(summary["status"])


# --- The report as it travels (agent/schemas/report.schema.json) ------------------------------
# A report stays a JSON-shaped dict on the wire and on disk; these types name its fields so that
# the agent, every renderer and the collector read them by name and a type checker catches a
# misspelt one. tests/agent/test_contract.py holds them equal to the schema, key for key.

StatusName = Literal["pass", "fail", "error", "not_applicable", "waived", "manual"]
SeverityName = Literal["critical", "high", "medium", "low"]
HostStatusName = Literal["non_compliant", "incomplete", "needs_review", "compliant", "not_applicable"]


class Evidence(TypedDict):
    expected: str
    actual: str
    where: str
    verdict: NotRequired[Literal["ok", "violation", "info"]]


class Waiver(TypedDict):
    requirement: str
    justification: str
    expires: str
    state: Literal["active", "expired", "pending"]
    finding: NotRequired[str]
    approver: NotRequired[str]
    start: NotRequired[str | None]
    ticket: NotRequired[str]
    source: NotRequired[str]
    hosts: NotRequired[list[str]]
    tags: NotRequired[list[str]]


class Result(TypedDict):
    key: str
    directive: str
    requirement: str
    title: str
    severity: SeverityName
    status: StatusName
    evidence: list[Evidence]
    due: str | None
    overdue: bool
    references: dict[str, list[str]]
    message: NotRequired[str]
    days_left: NotRequired[int | None]
    remediation: NotRequired[str]
    finding: NotRequired[str]
    cve: NotRequired[str]
    fields: NotRequired[dict[str, object]]
    waiver: NotRequired[Waiver]
    failing_since: NotRequired[str | None]


# "pass" is a keyword, hence the functional form.
Counts = TypedDict("Counts", {"pass": int, "fail": int, "error": int, "not_applicable": int,
                              "waived": int, "manual": int}, total=False)


class DirectiveSummary(TypedDict):
    counts: Counts
    score: float | None
    overdue: int
    status: HostStatusName


class Summary(TypedDict):
    total: int
    counts: Counts
    score: float | None
    overdue: int
    status: HostStatusName
    directives: dict[str, DirectiveSummary]
    compliant: NotRequired[bool]


class AgentInfo(TypedDict):
    name: Literal["fedharden"]
    version: str


class OsInfo(TypedDict, total=False):
    id: str
    version_id: str
    pretty_name: str
    codename: str
    family: str


class HostInfo(TypedDict):
    id: str
    hostname: str
    target: str
    agency: NotRequired[str]
    tags: NotRequired[list[str]]
    os: NotRequired[OsInfo]


class Feed(TypedDict):
    name: str
    version: str
    source: NotRequired[str]
    released: NotRequired[str | None]
    age_hours: NotRequired[float | None]
    stale: NotRequired[bool]
    title: NotRequired[str]
    detail: NotRequired[str]
    checked_at: NotRequired[str | None]
    kev_catalog: NotRequired[str]


class Tailoring(TypedDict):
    title: str
    digest: str
    select: list[str]
    deselect: list[dict[str, str]]
    parameters: list[dict[str, object]]
    description: NotRequired[str]
    version: NotRequired[str]
    source: NotRequired[str]


class ScanInfo(TypedDict):
    started_at: str
    finished_at: str
    live: bool
    duration_ms: NotRequired[int]
    feeds: NotRequired[list[Feed]]
    waivers: NotRequired[list[Waiver]]
    tailoring: NotRequired[Tailoring]


class DirectiveRef(TypedDict):
    id: str
    title: str
    issued: str
    digest: str
    kind: NotRequired[str]
    url: NotRequired[str]
    requirements: NotRequired[int]
    version: NotRequired[str]


class Report(TypedDict):
    schema_version: Literal["1.0"]
    kind: Literal["full", "delta"]
    report_id: str
    generated_at: str
    agent: AgentInfo
    host: HostInfo
    scan: ScanInfo
    directives: list[DirectiveRef]
    summary: Summary
    sequence: int
    state_digest: str
    base: NotRequired[str | None]
    results: NotRequired[list[Result]]  # kind=full
    changes: NotRequired[list[Result]]  # kind=delta
    removed: NotRequired[list[str]]  # kind=delta
    warnings: NotRequired[list[str]]


class CompactScan(TypedDict):
    started_at: str
    finished_at: str
    duration_ms: NotRequired[int]


class CompactDelta(TypedDict):
    """A delta of schema 1.1: the header travels as a patch of what changed (see header_form)."""

    schema_version: Literal["1.1"]
    kind: Literal["delta"]
    report_id: str
    generated_at: str
    sequence: int
    base: str
    state_digest: str
    header_digest: str
    scan: CompactScan
    changes: list[Result]
    removed: list[str]
    header: NotRequired[dict[str, Any]]


# --- Summaries: counts, score and host status per directive and overall -------------------------

def counts(statuses: Iterable[str]) -> Counts:
    out: dict[str, int] = dict.fromkeys(STATUSES, 0)
    for status in statuses:
        out[status] += 1
    return out  # type: ignore[return-value]  # every status, by the schema's names


def score(c: Counts | Mapping[str, int]) -> float | None:
    """pass / (pass + fail); waived, error, manual and not_applicable are shown, not scored."""
    judged = c["pass"] + c["fail"]
    return round(c["pass"] / judged, 4) if judged else None


def summarize(results: Sequence[Mapping[str, Any]]) -> Summary:
    """Counts, score and host status per directive and overall (agent.contract.host_status);
    the overall status is the worst of the directives', so an unjudged directive is never
    hidden by the others."""
    by_directive: dict[str, list[Mapping[str, Any]]] = {}
    for r in results:
        by_directive.setdefault(r["directive"], []).append(r)
    total = counts(r["status"] for r in results)
    directives: dict[str, DirectiveSummary] = {
        d: {
            "counts": (c := counts(r["status"] for r in rs)),
            "score": score(c),
            "overdue": sum(1 for r in rs if r["overdue"]),
            "status": host_status(c).value,
        }
        for d, rs in sorted(by_directive.items())
    }
    status = worst(HostStatus(d["status"]) for d in directives.values())
    return {
        "total": len(results),
        "counts": total,
        "score": score(total),
        "overdue": sum(1 for r in results if r["overdue"]),
        "status": status.value,
        "compliant": status is HostStatus.COMPLIANT,
        "directives": directives,
    }


# --- The wire: canonical JSON, the state digest, the schema -------------------------------------

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(value: Any) -> bytes:
    """UTF-8 JSON with sorted keys and no spaces (one encoder for all: json.dumps with these
    options would build a new one per call, a sixth of the time for a result)."""
    return _CANONICAL.encode(value).encode()


DIGEST_PREFIX = "sum256:"
_MOD = 1 << 256


def result_hash(doc: bytes) -> int:
    """One result's share of the state digest: SHA-256 of its canonical JSON, as an integer."""
    return int.from_bytes(hashlib.sha256(doc).digest(), "big")


def state_digest(results: Iterable[Mapping[str, Any]]) -> str:
    """The digest both sides compute over a full state (see the schema's description): the sum
    modulo 2**256 of every result's hash. A sum, not a hash of the whole list, so that the
    collector checks a delta from the stored digest and the rows the delta replaces alone,
    whatever the size of the state (agent and collector keys are unique, so a sum over a set)."""
    return digest_text(sum(result_hash(canonical(r)) for r in results))


def digest_text(total: int) -> str:
    return f"{DIGEST_PREFIX}{total % _MOD:064x}"


def digest_value(digest: str) -> int | None:
    """The sum a digest text stands for; None for a text of another form (an older agent's)."""
    if not digest.startswith(DIGEST_PREFIX) or len(digest) != len(DIGEST_PREFIX) + 64:
        return None
    try:
        return int(digest[len(DIGEST_PREFIX):], 16)
    except ValueError:
        return None


# --- The header of a compact delta (schema 1.1) ----------------------------------------------------

COMPACT_VERSION: Literal["1.1"] = "1.1"
SCAN_TIMES = ("started_at", "finished_at", "duration_ms")  # a scan's own: in every compact delta


def _without_nulls(value: Any) -> Any:
    """``value`` without null members in its objects and their objects; lists travel whole in a
    merge patch, so what they hold is kept as it is."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


def header_form(report: Mapping[str, Any]) -> dict[str, Any]:
    """The header as a compact delta patches it and ``header_digest`` covers it: agent, host,
    scan without its own times, directives, warnings. Directives and feeds are maps by id and
    by name, so that a patch names the one that changed (and a removed directive is a null).
    Left out: a feed's ``age_hours`` (it grows with every scan: started_at minus checked_at)
    and null members (in a merge patch a null removes a member)."""
    scan = {k: v for k, v in report["scan"].items() if k not in SCAN_TIMES}
    if "feeds" in scan:
        scan["feeds"] = {f["name"]: {k: v for k, v in f.items() if k not in ("name", "age_hours")}
                         for f in scan["feeds"]}
    form = {"agent": report["agent"], "host": report["host"], "scan": scan,
            "directives": {d["id"]: {k: v for k, v in d.items() if k != "id"} for d in report["directives"]},
            "warnings": report.get("warnings") or []}
    return dict(_without_nulls(form))


def header_digest(form: Mapping[str, Any]) -> str:
    """What the collector checks its stored header against: SHA-256 of the form's canonical JSON."""
    return "sha256:" + hashlib.sha256(canonical(form)).hexdigest()


_ABSENT = object()


def header_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7396) that turns ``old`` into ``new``: members that changed,
    objects patched member by member, a removed member as null, lists whole."""
    patch: dict[str, Any] = {k: None for k in old if k not in new}
    for key, value in new.items():
        before = old.get(key, _ABSENT)
        if before == value:
            continue
        patch[key] = header_patch(before, value) if isinstance(value, dict) and isinstance(before, dict) else value
    return patch


def apply_patch(doc: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """``doc`` with a JSON merge patch (RFC 7396) applied; ``doc`` itself is left as it was."""
    out = dict(doc)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            before = out.get(key)
            out[key] = apply_patch(before if isinstance(before, dict) else {}, value)
        else:
            out[key] = value
    return out


def directives_of(form: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(id, version, digest) of every directive of a header form, by id; version "" when the
    directive declares none."""
    return sorted((i, str(d.get("version", "")), d["digest"]) for i, d in form["directives"].items())


_HEADER = ("agent", "host", "scan", "directives", "warnings")


def header_of(form: Mapping[str, Any]) -> dict[str, Any] | None:
    """The report header a header form stands for (its lists again, placeholder scan times), to
    validate a patched form; None when its directives or feeds are not objects of objects."""
    scan, directives = form.get("scan"), form.get("directives")
    feeds = scan.get("feeds", {}) if isinstance(scan, dict) else None
    if not isinstance(scan, dict) or not isinstance(directives, dict) or not isinstance(feeds, dict) or not all(
            isinstance(v, dict) for v in (*feeds.values(), *directives.values())):
        return None
    epoch = "1970-01-01T00:00:00Z"
    header = {**form, "scan": {**scan, "started_at": epoch, "finished_at": epoch},
              "directives": [{"id": i, **d} for i, d in directives.items()]}
    if "feeds" in scan:
        header["scan"]["feeds"] = [{"name": n, **f} for n, f in feeds.items()]
    return header


@lru_cache(maxsize=1)
def header_schema() -> dict[str, Any]:
    """The report schema's header members as a schema of their own (same $id, same $defs)."""
    root = schema()
    return {"$schema": root["$schema"], "$id": root["$id"], "$defs": root["$defs"], "type": "object",
            "required": list(_HEADER), "additionalProperties": False,
            "properties": {k: root["$defs"]["report"]["properties"][k] for k in _HEADER}}


def header_errors(form: Mapping[str, Any]) -> list[str]:
    """Every schema violation of a header form (a patched one: the patch is free-form), as
    ``$.json.path: message`` of the report header it stands for; empty when valid."""
    header = header_of(form)
    if header is None:
        return ["$: the header's scan, directives and feeds must be objects of objects"]
    return schema_errors(header_schema(), header)


@lru_cache(maxsize=None)
def schema() -> dict[str, Any]:
    return json.loads(Path(packaged("schemas/report.schema.json")).read_text())


def validation_errors(report: Any) -> list[str]:
    """Every schema violation as ``$.json.path: message``; empty when the report is valid."""
    return schema_errors(schema(), report)


def schema_errors(document_schema: dict[str, Any], value: Any) -> list[str]:
    """Every violation of ``document_schema`` by ``value`` as ``$.json.path: message``, in path
    order (formats checked: date and date-time)."""
    import jsonschema  # type: ignore[import-untyped]  # no stubs; imported on use, off the scan path

    validator = jsonschema.Draft202012Validator(document_schema, format_checker=jsonschema.FormatChecker())
    out = []
    for error in sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path))):
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        out.append(f"{path}: {error.message}")
    return out


# --- The apply record (agent/schemas/apply.schema.json) -------------------------------------------
# What one fix --apply did, as fix --submit reports it (POST /api/v1/applies): an event beside
# the reports, keyed by its apply id, never a change of the host's status (only a re-scan is).

APPLY_OUTCOMES = ("applied", "failed", "rolled_back", "rollback_incomplete")


class Actor(TypedDict):
    """Who ran it: the invoking user (SUDO_USER, else the effective user) and uid, and the name
    the operator gave with fix --by."""

    user: str
    uid: int | None
    sudo: NotRequired[bool]
    name: NotRequired[str]


class FailingRequirement(TypedDict):
    """A requirement the re-scan still found failing, with its first reason."""

    requirement: str
    why: str


class RollbackInfo(TypedDict):
    """fix --rollback of the apply: when and by whom."""

    at: str
    by: Actor


class ApplyRecord(TypedDict):
    """One apply, as the collector stores it per host (the highest revision of its apply id)."""

    schema_version: Literal["1.0"]
    apply_id: str
    revision: int
    host_id: str
    agent: AgentInfo
    root: str
    by: Actor
    started_at: str
    finished_at: str | None
    outcome: Literal["applied", "failed", "rolled_back", "rollback_incomplete"]
    error: NotRequired[str]
    include_disruptive: bool
    requirements: list[str]
    disruptive: list[str]
    fixed: list[str]
    failing: list[FailingRequirement]
    warnings: NotRequired[list[str]]
    rollback: NotRequired[RollbackInfo]
    rollback_problems: NotRequired[list[str]]


@lru_cache(maxsize=None)
def apply_schema() -> dict[str, Any]:
    return json.loads(Path(packaged("schemas/apply.schema.json")).read_text())


def apply_errors(record: Any) -> list[str]:
    """Every schema violation of an apply record as ``$.json.path: message``; empty when valid."""
    return schema_errors(apply_schema(), record)
