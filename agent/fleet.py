"""The agent as a member of a fleet: enrollment, submission after a scan (and of the apply
records ``fix --submit`` queues, agent.apply_spool), delivery retries and the local status;
the commands ``enroll``, ``scan --submit``, ``fix --submit``, ``run`` and ``status``
(agent.commands) call these and print what they return.

This host, a mounted root (``--root``) and remote hosts over SSH (``--ssh``, ``--inventory``;
agent.remote_fleet) enroll and submit through the same functions here; a remote host's state
directory is ``<state-dir>/remote/<host_id>/`` (agent.state). Problems are raised as
agent exceptions carrying their exit code, never printed here.

requests comes in with agent.submit, only when a function here talks to the collector.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent import ScanError, UsageError
from agent.reporting import CLONE, REFUSED, Backoff, Delivery, Recorded
from agent.state import StateDir, write_atomic

if TYPE_CHECKING:
    from agent.apply_spool import RecordDelivery
    from agent.contract import ApplyRecord, Report
    import requests

    from agent.credential import Credential
    from agent.submit import HttpCollector
    from agent.target import Target

SECRET_ENV = "FEDHARDEN_ENROLL_SECRET"
LOCK_WAIT = 120.0  # seconds a run waits for another to finish before giving up
REMOTE_HINT = "run fedharden enroll --collector URL --inventory HOSTS.yaml (or --ssh USER@HOST)"
# A remote host whose id another install already enrolled (HTTP 409, other_install): nearly
# always the host's own agent, so the host reports for itself already.
ALREADY_REPORTS = ("host {host_id} is already enrolled in this collector by another install (HTTP 409): it most "
                   "likely runs its own fedharden agent and reports for itself; do not also scan and submit it "
                   "agentlessly (scan it without --submit, or leave it out of the inventory you submit); if that "
                   "agent is gone for good, an admin can run `fedharden collector host release {host_id}`")


class NotSubmitted(UsageError):
    """The collector refused a report for a reason a human must fix (a clone, a revoked token)."""


# ------------------------------------------------------------------------------ enroll


def enrollment_secret(secret: str | None, secret_file: str | None) -> str:
    """The agency's enrollment secret, from its file when one is named."""
    if secret_file:
        try:
            with open(secret_file, encoding="utf-8") as fh:
                secret = fh.read().strip()
        except OSError as exc:
            raise UsageError(f"--secret-file: {secret_file}: cannot read: {exc.strerror or exc}") from None
    if not secret:
        raise UsageError(f"enroll needs the agency's enrollment secret: --secret-file, ${SECRET_ENV} or --secret")
    return secret


def enroll_here(state: StateDir, target: Target, access: CollectorAccess) -> Credential:
    """Enroll this host, or the system whose root filesystem ``target`` names, into ``state``."""
    host = target.open()
    try:
        return do_enroll(state, host, access, anchor=target.root is None)
    except OSError as exc:
        raise UsageError(f"enrollment not saved: {state.path}: {exc.strerror or exc}") from None
    finally:
        host.close()


@dataclass(frozen=True)
class CollectorAccess:
    """Where to enroll and with what, checked once before any host is read."""

    url: str
    secret: str = field(repr=False)
    agency: str | None = None
    ca_file: str | None = None
    pin: str | None = None
    pinned_pem: str | None = None  # a pin without a CA file: the certificate, fetched (and checked) once


def collector_access(url: str, secret: str, agency: str | None = None, ca_file: str | None = None,
                     pin_sha256: str | None = None) -> CollectorAccess:
    """The collector's URL and pin checked, and a pinned certificate fetched, once for all hosts."""
    from agent import submit

    url = submit.check_url(url)
    pin = submit.normalize_pin(pin_sha256) if pin_sha256 else None
    pem = submit.fetch_pinned_certificate(url, pin) if pin and not ca_file else None
    return CollectorAccess(url, secret, agency, ca_file, pin, pem)


def do_enroll(state: StateDir, host: Any, access: CollectorAccess, *, anchor: bool = True, remote: bool = False,
              session: requests.Session | None = None) -> Credential:
    """Enroll the open ``host`` as itself: this host or a mounted root into ``state``, a remote
    host (``remote``) into ``state``'s ``remote/<host_id>/``. ``anchor``: read the hardware id
    (not for a mounted root: it would be this machine's)."""
    from agent import credential, submit
    from agent.facts.context import Context
    from agent.identity import host_id, hostname
    from agent.spool import Spool
    from agent.state import HISTORY, AgentState

    ctx = Context(host)
    hid, name, hardware = host_id(ctx), hostname(ctx), credential.anchor(ctx) if anchor else ""
    sd = state.remote(hid) if remote else state
    with sd.locked(wait=LOCK_WAIT):
        ca_file = access.ca_file
        if access.pinned_pem is not None:
            ca_path = sd.path / "collector.pem"
            write_atomic(ca_path, access.pinned_pem.encode(), 0o644)
            ca_file = str(ca_path)
        key = credential.instance_key(sd)
        instance = credential.instance_id(key, hid)
        body: dict[str, Any] = {"host_id": hid, "hostname": name, "instance": instance}
        if access.agency:
            body["agency"] = access.agency
        try:
            answer = submit.enroll(access.url, access.secret, body,
                                   session or submit.make_session(ca_file, access.pin), ca_file)
        except submit.EnrollConflict as exc:
            if remote and exc.reason == "other_install":
                raise submit.EnrollConflict(ALREADY_REPORTS.format(host_id=hid), exc.reason) from None
            raise
        if answer.get("host_id") not in (None, hid):
            raise submit.CollectorRefused(f"the collector enrolled host {answer.get('host_id')}, not {hid}")
        got_agency = str(answer.get("agency") or access.agency or "")
        if access.agency and got_agency != access.agency:
            raise submit.CollectorRefused(f"the enrollment secret belongs to agency {got_agency}, not {access.agency}")
        cred = credential.new(access.url, answer["token"], hid, name, got_agency, instance, hardware, ca_file,
                              access.pin)
        credential.save(sd, cred)
        # A new enrollment starts a new chain: the next report is a full snapshot. It is numbered
        # after the collector's head for the host, kept as known: that head is a previous
        # install's (a release let this one enroll), not a clone's (agent.reporting.foreign_head).
        head, head_sequence = answer.get("last_report_id"), answer.get("last_sequence")
        known_head = isinstance(head, str) and isinstance(head_sequence, int)
        state_now = sd.load_state() or (AgentState(host_id=hid) if known_head else None)
        if state_now is not None:
            state_now.needs_full = True
            if isinstance(head, str) and isinstance(head_sequence, int) and head not in state_now.history:
                state_now.sequence = max(state_now.sequence, head_sequence)
                state_now.history = [*state_now.history, head][-HISTORY:]
            sd.save_state(state_now)
        Spool(sd.spool_dir).clear()
    return cred


# ------------------------------------------------------------------------------ submit


@dataclass(frozen=True)
class Submitted:
    recorded: Recorded
    delivery: Delivery
    records: RecordDelivery | None = None  # apply records (agent.apply_spool), sent after the reports

    def line(self) -> str:
        report = self.recorded.report
        what = (f"full report #{report['sequence']}" if report["kind"] == "full"
                else f"delta #{report['sequence']} ({self.recorded.delta.describe()})")
        if self.recorded.folded:
            what += " (spool full: queued deltas folded into it)"
        records = self.records.describe() if self.records is not None else ""
        return f"submitted {what}: {self.delivery.describe()}" + (f", {records}" if records else "")

    def short(self) -> str:
        """One line for an inventory's summary: what was made and whether it arrived."""
        report, delivery = self.recorded.report, self.delivery
        what = f"{'full report' if report['kind'] == 'full' else 'delta'} #{report['sequence']}"
        if delivery.error is None and not delivery.remaining:
            return f"submitted {what}: delivered" + (" (after a resync)" if delivery.resyncs else "")
        reason = f" ({delivery.error.detail})" if delivery.error is not None else ""
        return f"submitted {what}: collector unavailable{reason}, {delivery.remaining} report(s) spooled for the next run"


def preflight(state_dir: str, remote: bool = False) -> None:
    """Fail fast, before scanning, when submitting cannot work: a scan of this host (or a root)
    needs its credential; remote hosts need a state directory to keep theirs in (whether each
    is enrolled is known once it is reached)."""
    from agent import credential

    sd = StateDir(state_dir)
    if remote:
        sd.ensure_remote_dir()
    else:
        credential.load(sd)


def host_anchor(host: Any) -> str:
    """The hardware id of the open ``host`` as enrollment kept it (empty when unreadable)."""
    from agent.credential import anchor
    from agent.facts.context import Context

    return anchor(Context(host))


def submit_report(report: Report, sd: StateDir, backoff: Backoff, *, anchor: str = "",
                  session: requests.Session | None = None, lock_wait: float = LOCK_WAIT,
                  enroll_hint: str | None = None) -> Submitted:
    """Record the scan (state + spool), then deliver what is queued, retrying an unavailable
    collector as ``backoff`` says. Raises UsageError for a problem the user must fix (not
    enrolled, a clone); a collector that stays unavailable leaves the report spooled."""
    from agent import credential
    from agent.reporting import deliver, record
    from agent.spool import Spool

    cred = credential.load(sd, enroll_hint or credential.ENROLL_HINT)
    credential.check(cred, report["host"]["id"], anchor)
    spool = Spool(sd.spool_dir)
    with sd.locked(wait=lock_wait):
        recorded = record(sd, spool, report)
        transport = collector(cred, session)
        delivery = deliver(sd, spool, transport, backoff)
        records = deliver_records(sd, transport, backoff) if delivery.error is None else None
    return Submitted(recorded, delivery, records)


def collector(cred: Credential, session: requests.Session | None = None) -> HttpCollector:
    """The HTTPS transport to the collector ``cred`` enrolled with (a new session unless given)."""
    from agent import submit

    return submit.HttpCollector(cred.collector, cred.token,
                                session or submit.make_session(cred.ca_file, cred.pin_sha256), cred.ca_file)


def deliver_records(sd: StateDir, transport: Any, backoff: Backoff) -> RecordDelivery | None:
    """The queued apply records, after the reports (None when none waits). The caller holds the lock."""
    from agent import apply_spool

    return apply_spool.deliver(sd, transport, backoff) if apply_spool.queued(sd) else None


def queue_apply(state_dir: str, journal: dict[str, Any]) -> ApplyRecord:
    """``fix --submit``: the record of this apply (agent.fixing.record), queued for the
    collector the host (or root) enrolled with; the next submission delivers it."""
    from agent import apply_spool, credential
    from agent.fixing.record import record_of

    sd = StateDir(state_dir)
    cred = credential.load(sd)
    made = record_of(journal, cred.host_id)
    with sd.locked(wait=LOCK_WAIT):
        apply_spool.queue(sd, made)
    return made


def submit_records(state_dir: str, backoff: Backoff) -> RecordDelivery | None:
    """Deliver the queued apply records now, with no report (an apply that stopped)."""
    from agent import credential

    sd = StateDir(state_dir)
    cred = credential.load(sd)
    with sd.locked(wait=LOCK_WAIT):
        return deliver_records(sd, collector(cred), backoff)


def flush(sd: StateDir, backoff: Backoff, *, session: requests.Session | None = None,
          lock_wait: float = LOCK_WAIT) -> Delivery:
    """Deliver what is queued without scanning (run mode retries between scans), apply records too."""
    from agent import credential
    from agent.reporting import deliver
    from agent.spool import Spool

    cred = credential.load(sd)
    with sd.locked(wait=lock_wait):
        transport = collector(cred, session)
        delivery = deliver(sd, Spool(sd.spool_dir), transport, backoff)
        if delivery.error is None:
            deliver_records(sd, transport, backoff)  # they wait for the next run otherwise, as reports do
        return delivery


def delivery_problem(delivery: Delivery) -> str | None:
    """A one-line message when delivery stopped for a reason a human must fix."""
    error = delivery.error
    if error is None:
        return None
    if error.kind == CLONE:
        return error.detail
    if error.kind == REFUSED:
        hint = ""
        if error.status_code == 401:
            hint = ("; the token is unknown or revoked (another enrollment of this host id, by a clone "
                    "with the same machine-id or a reinstall, revokes it): run fedharden enroll")
        return f"{error.detail}{hint} ({delivery.remaining} report(s) kept in the spool)"
    return None


def submit_scanned(report: Report, state_dir: str, anchor: str, backoff: Backoff,
                   remote: bool = False) -> Submitted:
    """``scan --submit``: record and deliver one scan's report. ``anchor``: the scanned host's
    hardware id (empty for a root); ``remote``: a host scanned over SSH, submitted through its
    own state directory.

    A collector that cannot be reached is not an error here: the report waits in the spool for
    the next run (``Submitted.delivery.error``), and the scan exits with its own status. Raises
    UsageError for what a human must fix (not enrolled, a clone, a refused credential:
    NotSubmitted, after the report was recorded), ScanError when the report could not even be
    recorded (the state directory locked or unwritable)."""
    top = StateDir(state_dir)
    sd = top.remote(report["host"]["id"]) if remote else top
    try:
        return submit_report(report, sd, backoff, anchor=anchor, enroll_hint=REMOTE_HINT if remote else None)
    except ScanError as exc:
        raise ScanError(f"not submitted: {exc}") from exc
    except OSError as exc:
        raise ScanError(f"not submitted: {state_dir}: {exc.strerror or exc}") from exc


def check_delivered(done: Submitted) -> None:
    """Raise NotSubmitted when delivery stopped for a reason a human must fix."""
    problem = delivery_problem(done.delivery)
    if problem:
        raise NotSubmitted(problem)


# ------------------------------------------------------------------------------ status


def status(state_dir: str) -> dict[str, Any]:
    """Enrollment, last scan, last report and spool depth (never the token)."""
    from agent import credential
    from agent.apply_spool import queued
    from agent.spool import Spool

    sd = StateDir(state_dir)
    try:
        cred = credential.load(sd)
    except UsageError:
        cred = None
    last = sd.read_json(sd.last_scan_file)
    state = sd.load_state()
    entries = Spool(sd.spool_dir).entries()
    # hosts scanned over SSH and enrolled as themselves (agent.remote_fleet)
    remote_hosts = sum(1 for r in sd.remote_hosts() if r.credential_file.exists())
    return {
        "enrolled": cred is not None,
        "collector": cred.collector if cred else None,
        "host_id": cred.host_id if cred else None,
        "agency": cred.agency if cred else None,
        "last_scan": last.get("finished_at") if last else None,
        # The host status of that scan (agent.contract); absent in records of older agents.
        "last_status": (last.get("summary") or {}).get("status") if last else None,
        "sequence": state.sequence if state else None,
        "report_id": state.report_id if state else None,
        "spooled": len(entries),
        "spooled_bytes": sum(e.size for e in entries),
        "spooled_applies": len(queued(sd)),  # apply records waiting (fix --submit; agent.apply_spool)
        "remote_hosts": remote_hosts,
    }

