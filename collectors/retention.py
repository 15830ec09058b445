"""Retention: ``reports`` and ``events`` older than the retention window are deleted, and daily
history older than anything the history endpoint can show.

What is never deleted: a host's current report (``hosts.last_report_id``), whatever its age.
Ingest answers a replay of it "duplicate" from that row; every other row of ``reports`` only
serves the same answer for replays of superseded reports, which then get ``resync`` instead
(the agent answers with a full report). Current state (hosts, results, counters) is never
touched: only the log of how it got there.

Deletion runs in batches of ``BATCH`` rows, one short transaction each, with a pause between
them so ingest (SQLite's single writer included) is never held up for long.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from collectors import ConfigError
from collectors.models import agencies, events, history_directives, history_requirements, hosts, reports
from collectors.rollups import HISTORY_MAX_DAYS
from collectors.storage import Database

log = logging.getLogger("fedharden.collector.retention")
DEFAULT_RETAIN_DAYS = 400  # a year of changes and a month to spare: last year's audit stays answerable
MAX_RETAIN_DAYS = 36500
BATCH = 2000               # rows per transaction
PAUSE = 0.05               # seconds between batches, so waiting writers get their turn
SERVE_MAX_BATCHES = 5000   # per periodic run (10 million rows); the next run continues
PRUNE_LOCK = 0x6665_6470   # advisory lock: one process of a PostgreSQL deployment prunes at a time

Condition = Callable[[Any], Any]  # a WHERE clause on an alias of the table


def parse_days(value: Any, option: str = "--retain-days") -> int:
    """The retention window in days, or ConfigError naming the option."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_RETAIN_DAYS:
        raise ConfigError(f"{option}: a whole number of days from 1 to {MAX_RETAIN_DAYS} is required, not {text!r}")
    return int(text)


@dataclass
class Pruned:
    """What one pruning run deleted (or, with dry_run, would delete)."""

    retain_days: int
    cutoff: dt.datetime   # reports and events received before this go
    history_before: str   # history days before this go
    dry_run: bool = False
    reports: int = 0
    events: int = 0
    history_requirements: int = 0
    history_directives: int = 0
    kept_current: int = 0  # reports older than the cutoff kept because they are a host's current one
    complete: bool = True  # False: stopped before the end (asked to, another process prunes, or the batch cap)

    @property
    def deleted(self) -> int:
        return self.reports + self.events + self.history_requirements + self.history_directives

    def lines(self) -> list[str]:
        verb = "would delete" if self.dry_run else "deleted"
        cutoff = self.cutoff.isoformat(timespec="seconds") + "Z"
        out = [f"reports: {verb} {self.reports} received before {cutoff} ({self.retain_days} days); "
               f"kept {self.kept_current} older that are hosts' current reports",
               f"events: {verb} {self.events} before {cutoff}",
               f"history: {verb} {self.history_requirements} requirement and {self.history_directives} "
               f"directive rows of days before {self.history_before}"]
        if not self.complete:
            out.append("stopped before the end: the next run continues")
        return out


def _not_current(r: Any) -> Any:
    # Through the host's primary key: a report row is current when its host points at it.
    return ~sa.exists().where(hosts.c.id == r.c.host_pk, hosts.c.last_report_id == r.c.report_id)


Step = Callable[[Connection], tuple[int, bool]]  # one batch: (rows deleted, whether the table is done)


def _report_step(cutoff: dt.datetime, batch: int) -> Step:
    """Old reports in (received_at, report_id) order, continuing after the previous batch: the
    current reports kept in the range are read once per run, not again by every batch."""
    after: list[tuple[dt.datetime, str]] = []

    def step(conn: Connection) -> tuple[int, bool]:
        r = reports
        q = sa.select(r.c.report_id, r.c.received_at).where(r.c.received_at < cutoff)
        if after:
            at, report_id = after[0]
            q = q.where(r.c.received_at >= at, sa.or_(r.c.received_at > at, r.c.report_id > report_id))
        rows = conn.execute(q.order_by(r.c.received_at, r.c.report_id).limit(batch)).all()
        if not rows:
            return 0, True
        after[:] = [(rows[-1].received_at, rows[-1].report_id)]
        deleted = conn.execute(r.delete().where(r.c.report_id.in_([row.report_id for row in rows]),
                                                _not_current(r))).rowcount
        return deleted, len(rows) < batch

    return step


def _range_step(table: sa.Table, keys: tuple[str, ...], condition: Condition, batch: int) -> Step:
    """Up to ``batch`` rows matching ``condition`` (every one of them is deleted, so the next
    batch starts at the next rows)."""
    old = table.alias("old")  # the chosen rows come from an alias, never correlated to the DELETE
    chosen = sa.select(*[old.c[k] for k in keys]).where(condition(old)).limit(batch)
    target = table.c[keys[0]] if len(keys) == 1 else sa.tuple_(*[table.c[k] for k in keys])
    statement = table.delete().where(target.in_(chosen))

    def step(conn: Connection) -> tuple[int, bool]:
        deleted = conn.execute(statement).rowcount
        return deleted, deleted < batch

    return step


def _targets(cutoff: dt.datetime, history_before: str, agency_ids: list[int]
             ) -> list[tuple[str, sa.Table, tuple[str, ...], Condition]]:
    """(counter, table, key columns, condition on an alias of the table) for each thing to prune."""
    out: list[tuple[str, sa.Table, tuple[str, ...], Condition]] = [
        ("reports", reports, ("report_id",), lambda r: sa.and_(r.c.received_at < cutoff, _not_current(r)))]
    # Events per agency: the range is read from ix_events_agency_at, with no index of its own
    # to keep up at every insert.

    def agency_events(agency_id: int) -> Condition:
        return lambda e: sa.and_(e.c.agency_id == agency_id, e.c.at < cutoff)

    for agency_id in agency_ids:
        out.append(("events", events, ("id",), agency_events(agency_id)))
    for name, table, keys in (("history_requirements", history_requirements,
                               ("day", "agency_id", "directive", "requirement")),
                              ("history_directives", history_directives, ("day", "agency_id", "directive"))):
        out.append((name, table, keys, lambda h: h.c.day < history_before))
    return out


def _count(table: sa.Table, condition: Condition) -> Any:
    old = table.alias("old")
    return sa.select(sa.func.count()).select_from(old).where(condition(old))


def prune(db: Database, retain_days: int, *, dry_run: bool = False, now: dt.datetime | None = None,
          batch: int = BATCH, pause: float = PAUSE, max_batches: int | None = None,
          stop: threading.Event | None = None, wait_for_lock: bool = True) -> Pruned:
    """Delete reports and events received more than ``retain_days`` ago and daily history older
    than both the window and HISTORY_MAX_DAYS; with ``dry_run``, count them instead.

    Every loop ends: each batch moves forward through rows older than a cutoff fixed at the
    start (new rows are never older), and a short batch finishes its table. ``max_batches``
    bounds the run further; ``stop`` ends it between batches; with ``wait_for_lock=False`` the
    run stops when another process is pruning.
    """
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    history_before = (now.date() - dt.timedelta(days=max(retain_days, HISTORY_MAX_DAYS) - 1)).isoformat()
    done = Pruned(retain_days, now - dt.timedelta(days=retain_days), history_before, dry_run)
    with db.read() as conn:
        agency_ids = sorted(conn.execute(sa.select(agencies.c.id)).scalars())
    targets = _targets(done.cutoff, history_before, agency_ids)
    if dry_run:
        with db.read() as conn:
            for name, table, _, condition in targets:
                setattr(done, name, getattr(done, name) + int(conn.execute(_count(table, condition)).scalar_one()))
    else:
        steps = [(name, _report_step(done.cutoff, batch) if table is reports
                  else _range_step(table, keys, condition, batch)) for name, table, keys, condition in targets]
        done.complete = _run(db, done, steps, pause, max_batches, stop, wait_for_lock)
    with db.read() as conn:
        current = sa.select(sa.func.count()).select_from(reports).where(
            reports.c.received_at < done.cutoff,
            sa.exists().where(hosts.c.id == reports.c.host_pk, hosts.c.last_report_id == reports.c.report_id))
        done.kept_current = int(conn.execute(current).scalar_one())
    return done


def _run(db: Database, done: Pruned, steps: list[tuple[str, Step]], pause: float, max_batches: int | None,
         stop: threading.Event | None, wait_for_lock: bool) -> bool:
    """Each step's batches in their own transactions until its table is done; False when stopped early."""
    batches = 0
    for name, step in steps:
        finished = False
        while not finished:
            if (stop is not None and stop.is_set()) or (max_batches is not None and batches >= max_batches):
                return False
            if batches and pause:
                (stop.wait if stop is not None else time.sleep)(pause)
            with db.write() as conn:
                if not db.advisory_lock(conn, PRUNE_LOCK, wait=wait_for_lock):
                    return False
                deleted, finished = step(conn)
            batches += 1
            setattr(done, name, getattr(done, name) + deleted)
    return True


def run_periodically(db: Database, retain_days: int, interval: float, stop: threading.Event) -> None:
    """The serve process's retention job: prune now and every ``interval`` seconds until stopped.
    Several processes on one database are harmless: one prunes, the others find the lock taken."""
    while not stop.is_set():
        try:
            done = prune(db, retain_days, max_batches=SERVE_MAX_BATCHES, stop=stop, wait_for_lock=False)
            if done.deleted:
                log.info("retention: %s", "; ".join(done.lines()))
            else:
                log.debug("retention: nothing older than %d days to delete", retain_days)
        except Exception:  # keep pruning after a transient database error
            log.exception("retention: pruning failed")
        stop.wait(interval)
