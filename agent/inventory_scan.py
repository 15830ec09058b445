"""``fedharden scan --inventory hosts.yaml``: many hosts over SSH, a bounded number at a time.

Each host is scanned in its own worker with its own connection and deadline; whatever
happens to one host (refused key, unreachable, timeout, a bug) is recorded as that host's
outcome and never stops the others. One report per host is written to ``--output-dir`` as
``<name>.<ext>`` for each ``--format`` (json by default), a line per host is shown as hosts
finish (a progress bar on a terminal: agent.commands.scan), then a summary. With ``--submit`` each report is then
sent to the collector as its host (agent.remote_fleet). Each host's state is its report's host
status (agent.contract); the exit code is the worst over the hosts: 3 some host could not be
scanned or its report could not be submitted, else 1 some host is non_compliant, else 4 some
host is incomplete, else 0 (every host compliant, needs_review or not_applicable); 2 for usage
errors, before anything is scanned.
"""
from __future__ import annotations

import json
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence, TypeVar, cast

from agent.contract import Report
from agent import AgentError, UsageError
from agent.contract import (EXIT_COULD_NOT_COMPLETE, EXIT_OK, HostStatus, exit_code as status_exit, report_status,
                            worst)
from agent.inventory import Entry
from agent.output.common import safe
from agent.remote import SshSettings, open_ssh

if TYPE_CHECKING:
    from agent.target import Target

T = TypeVar("T")

# ``--submit``: called with the entry, its still-open host (to read the hardware id the
# credential was bound to) and its report, once the files are written; returns one line
# saying what was delivered, raises AgentError when the report could not be submitted
# (agent.remote_fleet.InventorySubmit).
Submit = Callable[[Entry, Any, Report], str]


@dataclass
class Outcome:
    entry: Entry
    state: str = "failed"  # a host status (agent.contract.HostStatus), or "failed": not scanned
    counts: dict[str, int] = field(default_factory=dict)
    reason: str = ""
    seconds: float = 0.0
    round_trips: int = 0
    files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    submitted: bool | None = None  # None: not asked to submit, or not scanned
    submission: str = ""  # what was delivered, or why it was not
    # Wall seconds of this host's connect (TCP, key exchange, login, SFTP start), transfer (SFTP
    # waves and commands), judge (the rest of the scan) and write; CPU seconds of the same in
    # its worker thread, and of its connection's packet thread ("transport": decrypting and
    # dispatching what arrives, the key exchange). Written with the stats.
    phases: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)

    def stats(self) -> dict[str, Any]:
        return {"name": self.entry.name, "state": self.state, "seconds": round(self.seconds, 4),
                "round_trips": self.round_trips, "phases": {k: round(v, 4) for k, v in self.phases.items()},
                "cpu": {k: round(v, 4) for k, v in self.cpu.items()}}

    def submission_line(self, not_submitted: str = "not submitted") -> str:
        return self.submission if self.submitted else f"{not_submitted}: {self.submission}"


@dataclass
class Job:
    """Everything one host's scan needs, shared read-only by the workers. ``run_scan`` is the
    command line's scan (directives, selection, waivers, tailoring, feeds) applied to a host."""

    run_scan: Callable[[Any, tuple[str, ...]], Report]
    formats: Sequence[str]
    output_dir: str
    settings: SshSettings
    submit: Submit | None = None
    stats: str | None = None  # FEDHARDEN_INVENTORY_STATS: a JSON line per host appended here (phases, CPU)
    processes: int = 1  # processes sharing the hosts (agent.host_pool); 1: threads of this one

    def settings_for(self, entry: Entry) -> SshSettings:
        return entry_settings(self.settings, entry)

    def run(self, entry: Entry) -> Outcome:
        from agent.output import FORMATS
        from agent.output.destinations import write_all

        outcome = Outcome(entry)
        started = time.monotonic()
        cpu_started = time.thread_time()
        host = None
        try:
            host = open_ssh(entry.target, self.settings_for(entry))
            scanning, cpu_scanning = time.monotonic(), time.thread_time()
            outcome.phases["connect"] = scanning - started
            outcome.cpu["connect"] = cpu_scanning - cpu_started
            outcome.cpu["transport_connect"] = packet_thread_cpu(host)  # the key exchange, the login
            report = self.run_scan(host, entry.tags)
            writing, cpu_writing = time.monotonic(), time.thread_time()
            outcome.phases["transfer"] = host.transfer_seconds
            outcome.phases["judge"] = writing - scanning - host.transfer_seconds
            outcome.cpu["transfer"] = host.transfer_cpu
            outcome.cpu["judge"] = cpu_writing - cpu_scanning - host.transfer_cpu
            outcome.round_trips = host.round_trips
            outcome.warnings = list(host.warnings)  # this host's own (sudo refused); the rest are in its report
            files = [(os.path.join(self.output_dir, f"{entry.name}.{FORMATS[f].ext}"), FORMATS[f](report, False))
                     for f in self.formats]
            write_all(files)
            outcome.phases["write"] = time.monotonic() - writing
            outcome.cpu["write"] = time.thread_time() - cpu_writing
            outcome.files = [path for path, _ in files]
            outcome.counts = dict(cast("Mapping[str, int]", report["summary"]["counts"]))
            outcome.state = report_status(report).value
            if self.submit is not None:
                self.send(entry, host, report, outcome)
        except AgentError as exc:  # unreachable, refused host key, timeout, an unwritable report
            outcome.reason = str(exc)
        except Exception as exc:  # a bug must not take the other hosts down; say what it was
            outcome.reason = f"internal error {type(exc).__name__}: {exc}"
        finally:
            if host is not None:
                outcome.round_trips = host.round_trips
                outcome.cpu["transport"] = packet_thread_cpu(host)
                host.close()
            outcome.seconds = time.monotonic() - started
            outcome.cpu["worker"] = time.thread_time() - cpu_started
        return outcome

    def send(self, entry: Entry, host: Any, report: Report, outcome: Outcome) -> None:
        """Submit a scanned host's report; a problem is this host's, recorded, never raised."""
        assert self.submit is not None
        try:
            outcome.submission, outcome.submitted = self.submit(entry, host, report), True
            return
        except AgentError as exc:  # not enrolled, refused credential, a clone, the state directory
            why = str(exc)
        except OSError as exc:
            why = f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc)
        except Exception as exc:  # a bug must not take the other hosts down; say what it was
            why = f"internal error {type(exc).__name__}: {exc}"
        outcome.submission, outcome.submitted = why, False


def packet_thread_cpu(host: Any) -> float:
    """CPU seconds of the thread that reads, decrypts and dispatches a connection's packets
    (paramiko's Transport), read before it ends; 0.0 where the platform cannot say."""
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(host.connection.transport.ident))
    except (AttributeError, OSError, TypeError):
        return 0.0


def entry_settings(settings: SshSettings, entry: Entry) -> SshSettings:
    """How to reach one inventory host: its own fields over the command line's."""
    s = settings
    return replace(s, user=entry.user or s.user, port=entry.port, identity=entry.identity or s.identity,
                   jump=entry.jump or s.jump, sudo=s.sudo if entry.sudo is None else entry.sudo,
                   timeout=entry.timeout or s.timeout)


def inventory_settings(target: Target, entries: Sequence[Entry]) -> SshSettings:
    """The command line's SSH settings with every secret asked for once, before any host is
    contacted (raises UsageError for a passphrase that was not given)."""
    settings = target.ssh
    identities = [p for p in {settings.identity, *(e.identity for e in entries)} if p]
    return settings.with_secrets(target.ask_pass, sorted(identities), "the inventory's hosts")


def parallel(entries: Sequence[Entry], work: Callable[[Entry], T], jobs: int, processes: int = 1,
             lost: Callable[[Entry, str], T] | None = None) -> Iterator[T]:
    """``work`` for each entry, results in the order they finish; at most ``jobs`` at a time,
    in threads of this process, or shared by ``processes`` forked ones (agent.host_pool: each
    CPU scans) when ``lost`` says what an entry whose process died gives. ``work`` must not
    raise: a host's trouble is its own result."""
    from agent import host_pool

    if lost is not None and processes > 1 and jobs > 1 and len(entries) > 1 and host_pool.can_fork():
        yield from host_pool.run(entries, work, jobs, processes, lost)
        return
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="fedharden-host") as pool:
        futures: list[Future[T]] = [pool.submit(work, entry) for entry in entries]
        for future in as_completed(futures):
            yield future.result()


def scan_all(entries: Sequence[Entry], job: Job, jobs: int) -> Iterator[Outcome]:
    """Outcomes in the order hosts finish; at most ``jobs`` hosts at a time."""
    outcomes = parallel(entries, job.run, jobs, job.processes, lambda entry, why: Outcome(entry, reason=why))
    if job.stats is None:
        yield from outcomes
        return
    with open(job.stats, "a", encoding="utf-8") as stats:  # a debugging aid: where each host's time went
        for outcome in outcomes:
            stats.write(json.dumps(outcome.stats()) + "\n")
            yield outcome


# Always counted in the summary line, even when no host has them.
SHOWN_ALWAYS = (HostStatus.COMPLIANT, HostStatus.NON_COMPLIANT, HostStatus.INCOMPLETE)


def describe(outcome: Outcome) -> str:
    if outcome.state == "failed":
        return f"not scanned: {safe(outcome.reason)}"
    c = outcome.counts
    text = (f"{outcome.state} ({c.get('pass', 0)} pass, {c.get('fail', 0)} fail, {c.get('error', 0)} error) "
            f"in {outcome.seconds:.1f} s")
    return f"{text}; {outcome.submission_line()}" if outcome.submitted is not None else text


def summary(outcomes: Sequence[Outcome]) -> str:
    width = max(len("HOST"), *(len(o.entry.name) for o in outcomes))
    lines = [f"{'HOST':<{width}}  {'RESULT':<14} {'PASS':>5} {'FAIL':>5} {'ERROR':>5} {'OTHER':>5} {'TIME':>7} "
             f"{'TRIPS':>5}"]
    for o in sorted(outcomes, key=lambda o: o.entry.name):
        if o.state == "failed":
            lines.append(f"{o.entry.name:<{width}}  NOT SCANNED    {safe(o.reason)}")
            continue
        c = o.counts
        other = sum(v for k, v in c.items() if k not in ("pass", "fail", "error"))
        lines.append(f"{o.entry.name:<{width}}  {o.state:<14} {c.get('pass', 0):>5} {c.get('fail', 0):>5} "
                     f"{c.get('error', 0):>5} {other:>5} {o.seconds:>6.1f}s {o.round_trips:>5}")
        for warning in o.warnings:
            lines.append(f"{'':<{width}}  warning: {safe(warning)}")
        if o.submitted is not None:
            lines.append(f"{'':<{width}}  {o.submission_line('NOT SUBMITTED')}")
    states = [o.state for o in outcomes]
    shown = [f"{states.count(s.value)} {s.label}" for s in HostStatus if s.value in states or s in SHOWN_ALWAYS]
    line = f"{len(outcomes)} hosts: {', '.join(shown)}, {states.count('failed')} not scanned"
    sent = [o.submitted for o in outcomes if o.submitted is not None]
    if sent:
        line += f"; {sent.count(True)} submitted, {sent.count(False)} not submitted"
    lines.append(line)
    return "\n".join(lines) + "\n"


def exit_code(outcomes: Sequence[Outcome]) -> int:
    """3 when some host was not scanned (or submitted); else the worst host status's code."""
    if any(o.state == "failed" or o.submitted is False for o in outcomes):
        return EXIT_COULD_NOT_COMPLETE
    if not outcomes:
        return EXIT_OK
    return status_exit(worst(o.state for o in outcomes))


def prepare(target: Target, formats: Sequence[str], output: str | None, output_dir: str | None,
            run_scan: Callable[[Any, tuple[str, ...]], Report],
            submit: Submit | None = None) -> tuple[list[Entry], Job]:
    """``scan --inventory``: the hosts and the job each one gets (``scan_all`` runs them);
    raises UsageError before any host is contacted, and asks for every secret once."""
    from agent import inventory
    from agent.output import FORMATS

    assert target.inventory is not None
    entries = list(inventory.load(target.inventory))
    if output:
        raise UsageError("--output names one file; with --inventory use --output-dir (one report per host)")
    if not output_dir:
        raise UsageError("--inventory needs --output-dir DIR for the reports (one per host)")
    if not os.path.isdir(output_dir):
        raise UsageError(f"--output-dir: {output_dir}: not a directory")
    names = list(formats or ("json",))
    for name in names:
        if "=" in name:
            raise UsageError(f"--format: {name!r}: with --inventory each host's reports go to --output-dir; "
                             "give format names only")
        if name not in FORMATS:
            raise UsageError(f"--format: unknown format {name!r} (choose from {', '.join(sorted(FORMATS))})")
    settings = inventory_settings(target, entries)
    from agent.host_pool import usable_cpus

    return entries, Job(run_scan, names, output_dir, settings, submit,
                        stats=os.environ.get("FEDHARDEN_INVENTORY_STATS") or None, processes=usable_cpus())
