"""``fedharden run``: scan on start, then every interval plus a random splay, until SIGTERM.

Each scan runs in a child process (``fedharden run --once``), so the long-running parent
stays small whatever a scan allocates: memory in run mode is that of one manual scan, and a
crash in a scan cannot take the scheduler down. Between scans, while reports wait in the
spool (this host's, or a remote host's under ``remote/``), the parent retries delivery with
exponential backoff and jitter (``schedule``: from 30 seconds up to the interval), each
retry itself trying the collector as ``backoff`` says.

Before each scan, ``before_args`` (``fedharden directives update``) refreshes the signed
directives from the collector the host enrolled with, in a child too (python-tuf never
loads into the parent). Its failure is one line of this log with the child's reason, and the
scan goes on with the set in force: a repository that cannot be reached or is refused never
keeps a host from scanning and reporting.

SIGTERM or SIGINT: no new scan starts; a scan in progress gets ``grace`` seconds to finish
(its writes are atomic, so stopping it later is safe too), then the process exits 0.
"""
from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from types import FrameType
from typing import Callable, Sequence

from agent import AgentError
from agent.contract import EXIT_FAIL, EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE
from agent.reporting import Backoff
from agent.spool import Spool
from agent.state import StateDir

RETRY_FIRST = 30.0  # seconds before the first delivery retry after a failed one
BEFORE_TIMEOUT = 300.0  # seconds the directive update before a scan may take


def log(message: str) -> None:
    print(f"fedharden run: {message}", file=sys.stderr, flush=True)


class Runner:
    def __init__(self, cycle_args: Sequence[str], state_dir: StateDir, backoff: Backoff, *, interval: float,
                 splay: float, grace: float = 60.0, rand: Callable[[], float] = random.random,
                 python: str = sys.executable, before_args: Sequence[str] = ()) -> None:
        self.cycle_args = list(cycle_args)
        # A command run before each scan, in a child of its own (``directives update``): its
        # failure is logged and the scan goes on with the directives in force.
        self.before_args = list(before_args)
        self.state_dir = state_dir
        self.backoff = backoff  # each delivery retry's own attempts
        self.interval, self.splay, self.grace = interval, splay, grace
        self.rand = rand
        # When to retry delivery between scans: the same jittered doubling, in its own units.
        self.schedule = Backoff(attempts=0, base=RETRY_FIRST, cap=max(interval, RETRY_FIRST), rand=rand)
        self.python = python
        self.stop = threading.Event()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if not self.stop.is_set():
            log(f"{signal.Signals(signum).name}: stopping after the current step")
        self.stop.set()

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        log(f"scanning now, then every {self.interval:g}s plus up to {self.splay:g}s")
        while not self.stop.is_set():
            self.cycle()
            self.pause(self.interval + self.rand() * self.splay)
        log("stopped")
        return 0

    def cycle(self) -> int:
        """One ``run --once`` in a child process; its exit code."""
        if self.before_args and not self.stop.is_set():
            self.before()
        started = time.monotonic()
        child = subprocess.Popen([self.python, "-m", "agent.cli", *self.cycle_args], stdin=subprocess.DEVNULL,
                                 start_new_session=True)  # terminal signals reach the parent only
        stopping_since: float | None = None
        while True:
            try:
                code = child.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if self.stop.is_set():
                    stopping_since = stopping_since or time.monotonic()
                    if time.monotonic() - stopping_since > self.grace:
                        log(f"scan still running after {self.grace:g}s: stopping it")
                        child.terminate()
                        code = child.wait()
                        break
        # 0, 1 and 4 are the host's status (agent.contract.exit_code), results rather than trouble;
        # 4 is said once per cycle all the same, as nobody reads the report of a scheduled scan.
        if code == EXIT_USAGE:
            log("the last cycle needs attention (see the message above); retrying at the next interval")
        elif code == EXIT_INCOMPLETE:
            log("the host's status is incomplete: some requirements could not be judged "
                "(fedharden status: last_status; a scan shows them as ERROR rows)")
        elif code not in (EXIT_OK, EXIT_FAIL, -signal.SIGTERM):
            log(f"the last cycle ended with exit code {code} after {time.monotonic() - started:.1f}s")
        return code

    def before(self) -> None:
        """The command before the scan (the directive update), bounded by BEFORE_TIMEOUT and by a
        stop. Its standard error is read here, so a failure is one line of this log, carrying
        the child's reason, and never a step that blocks the scan and its report."""
        what = " ".join(self.before_args[:2])
        child = subprocess.Popen([self.python, "-m", "agent.cli", *self.before_args], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace",
                                 start_new_session=True)
        deadline = time.monotonic() + BEFORE_TIMEOUT
        while True:
            try:
                _, err = child.communicate(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if self.stop.is_set() or time.monotonic() > deadline:
                    child.terminate()
                    child.communicate()
                    if not self.stop.is_set():
                        log(f"{what} still running after {BEFORE_TIMEOUT:g}s: stopped; scanning with the "
                            "directives in force")
                    return
        if child.returncode == 0:
            sys.stderr.write(err)  # its warnings, if any, as it wrote them
            return
        lines = [line.strip() for line in err.splitlines() if line.strip()]
        reason = lines[-1].removeprefix("fedharden: ") if lines else f"exit code {child.returncode}"
        log(f"{what} failed: {reason}; scanning with the directives in force")

    def pause(self, seconds: float) -> None:
        """Wait ``seconds`` or until stopped, retrying delivery while reports are spooled."""
        deadline = time.monotonic() + seconds
        failed = 0
        next_retry = time.monotonic() + self.schedule.delay(failed)
        while not self.stop.is_set():
            now = time.monotonic()
            if now >= deadline:
                return
            if now >= next_retry and (waiting := self.waiting()):
                if self.flush(waiting):
                    next_retry = deadline
                else:
                    failed += 1
                    next_retry = time.monotonic() + self.schedule.delay(failed)
            self.stop.wait(max(0.0, min(deadline, next_retry) - time.monotonic()))

    def waiting(self) -> list[StateDir]:
        """The state directories whose spool holds reports: this host's, and those of remote
        hosts scanned over SSH (``run --inventory``)."""
        dirs = [self.state_dir]
        try:
            dirs += self.state_dir.remote_hosts()
        except AgentError:
            pass  # an unreadable remote/ is for the next scan to report
        return [sd for sd in dirs if Spool(sd.spool_dir).entries()]

    def flush(self, dirs: Sequence[StateDir] | None = None) -> bool:
        """Try to deliver the spools now; True when they are empty afterwards."""
        from agent.fleet import delivery_problem, flush

        empty = True
        for sd in self.waiting() if dirs is None else dirs:
            which = "" if sd is self.state_dir else f" (remote host {sd.path.name})"
            try:
                delivery = flush(sd, self.backoff, lock_wait=5.0)
            except (AgentError, OSError) as exc:
                log(f"delivery retry{which}: {exc}")
                empty = False
                continue
            problem = delivery_problem(delivery)
            if problem:
                log(f"{problem}{which}")
            elif delivery.sent or delivery.error:
                log(f"delivery retry{which}: {delivery.describe()}"
                    + (f" ({delivery.error.detail})" if delivery.error else ""))
            empty = empty and delivery.remaining == 0
        return empty
