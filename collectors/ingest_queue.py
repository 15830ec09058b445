"""Group commit for ingest: reports that arrive together are written together.

Each HTTP request parks its report body here and awaits its answer. The writer thread takes
every report waiting (up to ``max_batch``, at most one per known host), looks up in one query
the tokens the token cache does not hold (an agent reporting hourly is never in it), parses
the reports and applies them with collectors.apply.ingest_many, in one transaction. Under
load one commit, one lock of each shared counter and one round trip per statement serve
dozens of reports; a report that arrives alone waits for nobody. Answers are those of
one-by-one ingest.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from collectors import AuthError, CollectorError, Unavailable
from collectors.auth import Principal, TokenCache, lookup_many, now
from collectors.apply import Answer, Outcome, Submission, every, ingest_many
from collectors.wire import parse_report
from collectors.storage import Database

log = logging.getLogger("fedharden.collector")

MAX_BATCH = 64


@dataclass
class _Parked:
    secret: str = field(repr=False)
    principal: Principal | None  # None: not in the token cache; the writer looks it up
    raw: bytes
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Answer]
    received: dt.datetime = field(default_factory=now)


class IngestQueue:
    """Reports waiting to be written, and the one writer thread that writes them (started with
    the first report). One per process: a second writer measured slower, both contending for
    the interpreter lock; more processes (``--workers``) scale out on PostgreSQL."""

    def __init__(self, db: Database, cache: TokenCache, max_batch: int = MAX_BATCH) -> None:
        self.db = db
        self.cache = cache
        self.max_batch = max_batch
        self._waiting: deque[_Parked] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False

    async def submit(self, secret: str, principal: Principal | None, raw: bytes) -> Answer:
        """The report's answer; raises its refusal (CollectorError) or database error."""
        loop = asyncio.get_running_loop()
        parked = _Parked(secret, principal, raw, loop, loop.create_future())
        with self._cond:
            if self._stopping:
                raise Unavailable("the collector is shutting down; retry later")
            if self._thread is None:
                self._thread = threading.Thread(target=self._write_loop, name="fedharden-ingest", daemon=True)
                self._thread.start()
            self._waiting.append(parked)
            self._cond.notify()
        return await parked.future

    def stop(self, timeout: float = 10.0) -> None:
        """Finish what is waiting, then end the writer."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._cond:  # an app served again (tests do) starts a new writer with its next report
            self._thread, self._stopping = None, False

    def _take(self) -> list[_Parked]:
        """Up to max_batch waiting reports, at most one per known host (the lock is held)."""
        batch: list[_Parked] = []
        hosts: set[int | None] = set()
        kept: deque[_Parked] = deque()
        while self._waiting:
            parked = self._waiting.popleft()
            host = parked.principal.host_pk if parked.principal else None
            if len(batch) < self.max_batch and (host is None or host not in hosts):
                batch.append(parked)
                hosts.add(host)
            else:
                kept.append(parked)  # its host's earlier report goes first; order is kept
        self._waiting = kept
        return batch

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                batch = self._take()
                while not batch:
                    if self._stopping and not self._waiting:
                        return
                    self._cond.wait()
                    batch = self._take()
            try:
                outcomes = self._apply(batch)
            except Exception as exc:  # a bug or a lost database: every report of the batch learns it
                log.exception("ingest batch of %d reports failed", len(batch))
                outcomes = [exc] * len(batch)
            for parked, outcome in zip(batch, outcomes):
                parked.loop.call_soon_threadsafe(_settle, parked.future, outcome)

    def _apply(self, batch: list[_Parked]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(batch)
        subs: list[Submission] = []
        where: list[int] = []
        found: dict[str, Principal] = {}
        unknown = [p.secret for p in batch if p.principal is None]
        if unknown:
            with self.db.read() as conn:
                found = lookup_many(conn, unknown)
            for secret, known in found.items():
                self.cache.put(secret, known)
        for i, parked in enumerate(batch):
            try:
                principal = parked.principal or found.get(parked.secret)
                if principal is None:
                    raise AuthError("unknown or revoked token")
                principal.require("agent")
                subs.append(Submission(principal, parse_report(parked.raw), parked.received))
                where.append(i)
            except CollectorError as exc:
                outcomes[i] = exc
        for i, outcome in zip(where, ingest_many(self.db, subs)):
            outcomes[i] = outcome
        return every(outcomes)


def _settle(future: asyncio.Future[Answer], outcome: Outcome) -> None:
    if future.cancelled():  # the client went away; its report is applied all the same
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
