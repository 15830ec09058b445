"""The collector's tables (SQLAlchemy Core). The migrations in collectors/migrations create
exactly these; tests check the two agree.

Raw state is ``results`` (one row per host per result key, with the result document as the
agent sent it). Rollups are never computed from it: ``agg_requirements`` and
``agg_directives`` are counters maintained in the same transaction as each report, split in
``SHARDS`` rows per key so concurrent reports from different hosts wait less on one row (more
shards: fewer waits at ingest, more rows for every rollup to read).
Shard ``FEDERATED_SHARD`` holds rollups pushed by an agency collector (federation).
"""
from __future__ import annotations

import sqlalchemy as sa

from agent.contract import STATUSES, HostStatus

COUNT_COLUMNS = tuple(f"n_{s}" for s in STATUSES)
SHARDS = 4
FEDERATED_SHARD = -1
FAILING_FINDING = "status = 'fail' AND key LIKE '%#%'"  # literal, so the partial index below matches
NO_DUE = ""  # results without a due date (dates are stored as ISO text: they compare as strings)
# Hosts per directive by host status (agent.contract.host_status of the host's counts for the
# directive), and hosts without a failing result whose status an older agency collector did
# not report (federation) or a snapshot taken before the statuses were counted did not hold:
# never counted as compliant.
HOST_STATUS_COLUMNS = tuple(f"{s.value}_hosts" for s in HostStatus)
UNKNOWN_HOSTS = "unknown_hosts"
HOST_COUNT_COLUMNS = ("hosts", *HOST_STATUS_COLUMNS, UNKNOWN_HOSTS)

metadata = sa.MetaData()


def _counts() -> list[sa.Column[int]]:
    return [sa.Column(c, sa.Integer, nullable=False, server_default="0") for c in COUNT_COLUMNS]


def _host_counts() -> list[sa.Column[int]]:
    return [sa.Column(c, sa.Integer, nullable=False, server_default="0") for c in HOST_COUNT_COLUMNS]


agencies = sa.Table(
    "agencies", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("code", sa.String(50), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

tokens = sa.Table(
    "tokens", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # agent, soc, national, admin, or enroll (an agency's enrollment secret)
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("agency_id", sa.Integer, sa.ForeignKey("agencies.id"), nullable=True),
    sa.Column("host_pk", sa.Integer, sa.ForeignKey("hosts.id"), nullable=True),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),  # sha256 hex of the secret
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("revoked_at", sa.DateTime, nullable=True),
)

hosts = sa.Table(
    "hosts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("host_id", sa.String(200), nullable=False, unique=True),
    sa.Column("agency_id", sa.Integer, sa.ForeignKey("agencies.id"), nullable=False),
    sa.Column("hostname", sa.String(255), nullable=False, server_default=""),
    sa.Column("target", sa.String(1000), nullable=False, server_default=""),
    sa.Column("os", sa.String(200), nullable=False, server_default=""),
    sa.Column("agent_version", sa.String(50), nullable=False, server_default=""),
    sa.Column("enrolled_at", sa.DateTime, nullable=False),
    # the enrolling install's instance id (a keyed hash of a random per-install key): a second
    # install with the same machine-id, such as a cloned image, is refused, never merged
    sa.Column("instance", sa.String(64), nullable=True),
    sa.Column("last_seen", sa.DateTime, nullable=True),
    sa.Column("last_scan", sa.DateTime, nullable=True),
    sa.Column("last_report_id", sa.String(100), nullable=True),
    sa.Column("last_sequence", sa.BigInteger, nullable=True),
    sa.Column("state_digest", sa.String(71), nullable=True),
    # digest of the directive ids and content digests the last report was made with
    sa.Column("directives_digest", sa.String(71), nullable=True),
    sa.Column("shard", sa.SmallInteger, nullable=False),
    sa.Column("total", sa.Integer, nullable=False, server_default="0"),
    *_counts(),
    sa.Column("fail_min_due", sa.String(10), nullable=False, server_default=NO_DUE),
    # the host's tags from its last report, one per line, sorted; host_tags indexes them
    sa.Column("tags", sa.Text, nullable=False, server_default=""),
    sa.Index("ix_hosts_agency", "agency_id", "hostname"),
)

# The header of each host's last report in agent.contract.header_form (canonical JSON): what a
# compact delta (schema 1.1) patches, and its agent.contract.header_digest, which every delta
# is checked against (the document is read only for a delta whose header changed).
host_headers = sa.Table(
    "host_headers", metadata,
    sa.Column("host_pk", sa.Integer, sa.ForeignKey("hosts.id"), primary_key=True),
    sa.Column("digest", sa.String(71), nullable=False),
    sa.Column("doc", sa.Text, nullable=False),
)

# Which version of each directive a host evaluated in its last report: the directive's
# declared version ("" when it declares none) and content digest. Rewritten when they change.
host_directive_versions = sa.Table(
    "host_directive_versions", metadata,
    sa.Column("host_pk", sa.Integer, sa.ForeignKey("hosts.id"), primary_key=True),
    sa.Column("directive", sa.String(100), primary_key=True),
    sa.Column("agency_id", sa.Integer, nullable=False),
    sa.Column("version", sa.String(50), nullable=False, server_default=""),
    sa.Column("digest", sa.String(71), nullable=False),
    sa.Column("since", sa.DateTime, nullable=False),  # when the collector first saw this host evaluate it
    sa.Index("ix_host_directive_versions_agency", "agency_id", "directive", "version", "host_pk"),
)

host_directives = sa.Table(
    "host_directives", metadata,
    sa.Column("host_pk", sa.Integer, sa.ForeignKey("hosts.id"), primary_key=True),
    sa.Column("directive", sa.String(100), primary_key=True),
    sa.Column("agency_id", sa.Integer, nullable=False),
    *_counts(),
    sa.Column("fail_min_due", sa.String(10), nullable=False, server_default=NO_DUE),
    sa.Index("ix_host_directives_agency", "agency_id", "directive"),
)

host_tags = sa.Table(
    "host_tags", metadata,
    sa.Column("host_pk", sa.Integer, sa.ForeignKey("hosts.id"), primary_key=True),
    sa.Column("tag", sa.String(100), primary_key=True),
    sa.Column("agency_id", sa.Integer, nullable=False),
    sa.Index("ix_host_tags_agency_tag", "agency_id", "tag", "host_pk"),
)

results = sa.Table(
    "results", metadata,
    sa.Column("host_pk", sa.Integer, sa.ForeignKey("hosts.id"), primary_key=True),
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("directive", sa.String(100), nullable=False),
    sa.Column("requirement", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("due", sa.String(10), nullable=False, server_default=NO_DUE),
    sa.Column("failing_since", sa.DateTime, nullable=True),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("doc", sa.Text, nullable=False),  # the result object, canonical JSON
    # failing per-finding results (KEV: key "requirement#finding") by due date: the overdue
    # list reads this small index, not the whole table; queries repeat its condition verbatim
    sa.Index("ix_results_failing_findings", "due", "host_pk", "key", sqlite_where=sa.text(FAILING_FINDING),
             postgresql_where=sa.text(FAILING_FINDING)),
)

reports = sa.Table(
    "reports", metadata,
    sa.Column("report_id", sa.String(100), primary_key=True),
    sa.Column("host_pk", sa.Integer, sa.ForeignKey("hosts.id"), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("sequence", sa.BigInteger, nullable=False),
    sa.Column("state_digest", sa.String(71), nullable=False),
    sa.Column("generated_at", sa.DateTime, nullable=False),
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.Column("changed", sa.Integer, nullable=False),
    # retention deletes by age in small batches: each batch reads the oldest rows from here
    sa.Index("ix_reports_received_at", "received_at"),
)

events = sa.Table(
    "events", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("agency_id", sa.Integer, nullable=False),
    sa.Column("host_pk", sa.Integer, nullable=False),
    sa.Column("key", sa.String(300), nullable=False),
    sa.Column("directive", sa.String(100), nullable=False),
    sa.Column("requirement", sa.String(200), nullable=False),
    sa.Column("old_status", sa.String(16), nullable=True),  # null: the result is new
    sa.Column("new_status", sa.String(16), nullable=True),  # null: the result was removed
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("report_id", sa.String(100), nullable=False),
    sa.Index("ix_events_agency_at", "agency_id", "at"),
    sa.Index("ix_events_host_at", "host_pk", "at"),
)

agg_requirements = sa.Table(
    "agg_requirements", metadata,
    sa.Column("agency_id", sa.Integer, primary_key=True),
    sa.Column("directive", sa.String(100), primary_key=True),
    sa.Column("requirement", sa.String(200), primary_key=True),
    sa.Column("due", sa.String(10), primary_key=True),
    sa.Column("shard", sa.SmallInteger, primary_key=True),
    *_counts(),
)

agg_directives = sa.Table(
    "agg_directives", metadata,
    sa.Column("agency_id", sa.Integer, primary_key=True),
    sa.Column("directive", sa.String(100), primary_key=True),
    sa.Column("shard", sa.SmallInteger, primary_key=True),
    *_host_counts(),
)

history_requirements = sa.Table(
    "history_requirements", metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("agency_id", sa.Integer, primary_key=True),
    sa.Column("directive", sa.String(100), primary_key=True),
    sa.Column("requirement", sa.String(200), primary_key=True),
    *_counts(),
    sa.Column("n_overdue", sa.Integer, nullable=False, server_default="0"),
    sa.Column("due", sa.String(10), nullable=False, server_default=NO_DUE),
)

history_directives = sa.Table(
    "history_directives", metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("agency_id", sa.Integer, primary_key=True),
    sa.Column("directive", sa.String(100), primary_key=True),
    *_host_counts(),
)

# Host summaries an agency collector forwards when it opts in (federation, national side): per
# host and directive, never results or evidence. Their own tables, so they never meet the
# agent-enrolled hosts (host ids are unique per agency here, not globally) and ingest never
# sees them. ``position`` is the agency's ordering key: each forwarded page replaces a range.
federated_hosts = sa.Table(
    "federated_hosts", metadata,
    sa.Column("agency_id", sa.Integer, sa.ForeignKey("agencies.id"), primary_key=True),
    sa.Column("host_id", sa.String(200), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("hostname", sa.String(255), nullable=False, server_default=""),
    sa.Column("os", sa.String(200), nullable=False, server_default=""),
    sa.Column("last_scan", sa.DateTime, nullable=True),
    sa.Column("total", sa.Integer, nullable=False, server_default="0"),
    *_counts(),
    sa.Column("fail_min_due", sa.String(10), nullable=False, server_default=NO_DUE),
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.Index("ix_federated_hosts_position", "agency_id", "position"),
)

federated_host_directives = sa.Table(
    "federated_host_directives", metadata,
    sa.Column("agency_id", sa.Integer, primary_key=True),
    sa.Column("host_id", sa.String(200), primary_key=True),
    sa.Column("directive", sa.String(100), primary_key=True),
    *_counts(),
    sa.Column("fail_min_due", sa.String(10), nullable=False, server_default=NO_DUE),
)

# What each ``fedharden fix --apply`` did to a host, as its agent reported it (POST
# /api/v1/applies; agent/schemas/apply.schema.json): one row per apply id, the highest revision
# of its record (a rollback supersedes the apply's). Never counted in a host's status: only the
# re-scan's report changes that.
host_applies = sa.Table(
    "host_applies", metadata,
    sa.Column("host_pk", sa.Integer, sa.ForeignKey("hosts.id"), primary_key=True),
    sa.Column("apply_id", sa.String(100), primary_key=True),
    sa.Column("agency_id", sa.Integer, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("outcome", sa.String(24), nullable=False),
    sa.Column("by_user", sa.String(200), nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime, nullable=True),
    sa.Column("received_at", sa.DateTime, nullable=False),  # the first revision
    sa.Column("updated_at", sa.DateTime, nullable=False),  # the revision stored
    sa.Column("doc", sa.Text, nullable=False),  # the record, canonical JSON, times in UTC with Z
    sa.Index("ix_host_applies_host_started", "host_pk", "started_at"),
)

# Administrative actions that change who may report for a host or use a token: when, by whom
# (the operating-system user of the command line, or the token that asked), on what.
audit = sa.Table(
    "audit", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(50), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("detail", sa.Text, nullable=False, server_default=""),
    sa.Index("ix_audit_at", "at"),
)

settings = sa.Table(
    "settings", metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
