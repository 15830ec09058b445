"""The agent as a member of a fleet: ``enroll``, ``scan --submit``, ``run`` and ``status``.

Loaded lazily by agent.cli; requests comes in with agent.submit, only when a command here
talks to the collector.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from agent import AgentError, ScanError, UsageError
from agent.reporting import CLONE, REFUSED, Backoff, Delivery, Recorded
from agent.state import DEFAULT_STATE_DIR, StateDir, write_atomic

if TYPE_CHECKING:
    import requests

    from agent.credential import Credential

STATE_ENV = "FEDHARDEN_STATE_DIR"
SECRET_ENV = "FEDHARDEN_ENROLL_SECRET"
LOCK_WAIT = 120.0  # seconds a run waits for another to finish before giving up


def state_dir_option(f: Any) -> Any:
    return click.option("--state-dir", default=DEFAULT_STATE_DIR, show_default=True, envvar=STATE_ENV,
                        type=click.Path(file_okay=False),
                        help=f"Where the agent keeps its state, credential and spool (or ${STATE_ENV}).")(f)


def fail(message: str, code: int = 2) -> None:
    from agent.cli import fail as cli_fail

    cli_fail(message, code)


# ------------------------------------------------------------------------------ enroll


@click.command()
@click.option("--collector", "url", required=True, metavar="URL", help="The collector's base URL (https).")
@click.option("--secret", default=None, envvar=SECRET_ENV, metavar="SECRET",
              help=f"The agency's enrollment secret (better: ${SECRET_ENV} or --secret-file).")
@click.option("--secret-file", type=click.Path(exists=True, dir_okay=False), help="Read the enrollment secret here.")
@click.option("--agency", default=None, metavar="CODE", help="Expected agency; enrollment fails if the secret's differs.")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False),
              help="Verify the collector's certificate against this CA (PEM) instead of the system's.")
@click.option("--pin-sha256", default=None, metavar="HEX", help="Also require the collector certificate's SHA-256.")
@click.option("--root", type=click.Path(file_okay=False),
              help="Enroll the system whose root filesystem is here (its machine-id is the identity).")
@state_dir_option
def enroll(url: str, secret: str | None, secret_file: str | None, agency: str | None, ca_file: str | None,
           pin_sha256: str | None, root: str | None, state_dir: str) -> None:
    """Register this host with a collector and keep its credential (mode 0600) in the state directory."""
    if secret_file:
        with open(secret_file, encoding="utf-8") as fh:
            secret = fh.read().strip()
    if not secret:
        fail(f"enroll needs the agency's enrollment secret: --secret-file, ${SECRET_ENV} or --secret")
    assert secret is not None
    try:
        cred = do_enroll(StateDir(state_dir), url, secret, agency=agency, ca_file=ca_file, pin_sha256=pin_sha256,
                         root=root)
    except AgentError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"enrollment not saved: {state_dir}: {exc.strerror or exc}")
    click.echo(f"enrolled host {cred.host_id} ({cred.hostname}) in agency {cred.agency} at {cred.collector}; "
               f"credential in {StateDir(state_dir).credential_file}")


def do_enroll(sd: StateDir, url: str, secret: str, *, agency: str | None = None, ca_file: str | None = None,
              pin_sha256: str | None = None, root: str | None = None,
              session: requests.Session | None = None) -> Credential:
    from agent import credential, submit
    from agent.cli import open_host
    from agent.facts.context import Context
    from agent.identity import host_id, hostname
    from agent.spool import Spool
    from agent.state import HISTORY, AgentState

    url = submit.check_url(url)
    pin = submit.normalize_pin(pin_sha256) if pin_sha256 else None
    host = open_host(root)
    try:
        ctx = Context(host)
        hid, name, anchor = host_id(ctx), hostname(ctx), credential.anchor(ctx) if root is None else ""
    finally:
        host.close()
    with sd.locked(wait=LOCK_WAIT):
        if pin and not ca_file:
            pem = submit.fetch_pinned_certificate(url, pin)
            ca_path = sd.path / "collector.pem"
            write_atomic(ca_path, pem.encode(), 0o644)
            ca_file = str(ca_path)
        key = credential.instance_key(sd)
        instance = credential.instance_id(key, hid)
        body: dict[str, Any] = {"host_id": hid, "hostname": name, "instance": instance}
        if agency:
            body["agency"] = agency
        answer = submit.enroll(url, secret, body, session or submit.make_session(ca_file, pin), ca_file)
        if answer.get("host_id") not in (None, hid):
            raise submit.SubmitError(f"the collector enrolled host {answer.get('host_id')}, not {hid}")
        got_agency = str(answer.get("agency") or agency or "")
        if agency and got_agency != agency:
            raise submit.SubmitError(f"the enrollment secret belongs to agency {got_agency}, not {agency}")
        cred = credential.new(url, answer["token"], hid, name, got_agency, instance, anchor, ca_file, pin)
        credential.save(sd, cred)
        # A new enrollment starts a new chain: the next report is a full snapshot. It is numbered
        # after the collector's head for the host, kept as known: that head is a previous
        # install's (a release let this one enroll), not a clone's (agent.reporting.foreign_head).
        head, head_sequence = answer.get("last_report_id"), answer.get("last_sequence")
        known_head = isinstance(head, str) and isinstance(head_sequence, int)
        state = sd.load_state() or (AgentState(host_id=hid) if known_head else None)
        if state is not None:
            state.needs_full = True
            if known_head and head not in state.history:
                state.sequence = max(state.sequence, head_sequence)
                state.history = [*state.history, head][-HISTORY:]
            sd.save_state(state)
        Spool(sd.spool_dir).clear()
    return cred


# ------------------------------------------------------------------------------ submit


@dataclass(frozen=True)
class Submitted:
    recorded: Recorded
    delivery: Delivery

    def line(self) -> str:
        report = self.recorded.report
        what = (f"full report #{report['sequence']}" if report["kind"] == "full"
                else f"delta #{report['sequence']} ({self.recorded.delta.describe()})")
        if self.recorded.folded:
            what += " (spool full: queued deltas folded into it)"
        return f"submitted {what}: {self.delivery.describe()}"


def preflight(state_dir: str) -> Credential:
    """Fail fast, before scanning, when submitting cannot work."""
    from agent import credential

    return credential.load(StateDir(state_dir))


def local_anchor() -> str:
    from agent.credential import anchor
    from agent.facts.context import Context
    from agent.hosts import LocalHost

    host = LocalHost()
    try:
        return anchor(Context(host))
    finally:
        host.close()


def submit_report(report: dict[str, Any], sd: StateDir, *, anchor: str = "", session: requests.Session | None = None,
                  backoff: Backoff | None = None, lock_wait: float = LOCK_WAIT) -> Submitted:
    """Record the scan (state + spool), then deliver what is queued. Raises AgentError for a
    problem the user must fix (not enrolled, a clone, a refused credential)."""
    from agent import credential, submit
    from agent.reporting import deliver, record
    from agent.spool import Spool

    cred = credential.load(sd)
    credential.check(cred, report["host"]["id"], anchor)
    spool = Spool(sd.spool_dir)
    with sd.locked(wait=lock_wait):
        recorded = record(sd, spool, report)
        transport = submit.HttpCollector(cred.collector, cred.token,
                                         session or submit.make_session(cred.ca_file, cred.pin_sha256), cred.ca_file)
        delivery = deliver(sd, spool, transport, backoff or Backoff(attempts=4, base=1.0, cap=15.0))
    return Submitted(recorded, delivery)


def flush(sd: StateDir, *, session: requests.Session | None = None, backoff: Backoff | None = None,
          lock_wait: float = LOCK_WAIT) -> Delivery:
    """Deliver what is queued without scanning (run mode retries between scans)."""
    from agent import credential, submit
    from agent.reporting import deliver
    from agent.spool import Spool

    cred = credential.load(sd)
    with sd.locked(wait=lock_wait):
        transport = submit.HttpCollector(cred.collector, cred.token,
                                         session or submit.make_session(cred.ca_file, cred.pin_sha256), cred.ca_file)
        return deliver(sd, Spool(sd.spool_dir), transport, backoff or Backoff(attempts=2, base=1.0, cap=5.0))


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


def after_scan(report: dict[str, Any], state_dir: str, local: bool) -> int | None:
    """``scan --submit``: one line on stderr; an exit code when submission needs a human."""
    try:
        done = submit_report(report, StateDir(state_dir), anchor=local_anchor() if local else "")
    except UsageError as exc:
        fail(str(exc))
    except ScanError as exc:
        fail(f"not submitted: {exc}", 3)
    except OSError as exc:
        fail(f"not submitted: {state_dir}: {exc.strerror or exc}", 3)
    click.echo(f"fedharden: {done.line()}", err=True)
    problem = delivery_problem(done.delivery)
    if problem:
        fail(problem)
    if done.delivery.error is not None:
        click.echo(f"fedharden: collector unavailable ({done.delivery.error.detail}); "
                   f"{done.delivery.remaining} report(s) spooled for the next run", err=True)
    return None


# ------------------------------------------------------------------------------ status


@click.command()
@state_dir_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable.")
def status(state_dir: str, as_json: bool) -> None:
    """Enrollment, last scan, last report and spool depth (never the token)."""
    from agent import credential
    from agent.spool import Spool

    sd = StateDir(state_dir)
    try:
        cred = credential.load(sd)
    except UsageError:
        cred = None
    try:
        last = sd.read_json(sd.last_scan_file)
    except UsageError as exc:
        fail(str(exc))
    state = sd.load_state()
    entries = Spool(sd.spool_dir).entries()
    doc = {
        "enrolled": cred is not None,
        "collector": cred.collector if cred else None,
        "host_id": cred.host_id if cred else None,
        "agency": cred.agency if cred else None,
        "last_scan": last.get("finished_at") if last else None,
        "sequence": state.sequence if state else None,
        "report_id": state.report_id if state else None,
        "spooled": len(entries),
        "spooled_bytes": sum(e.size for e in entries),
    }
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    for key, value in doc.items():
        click.echo(f"{key:<14} {value if value is not None else '-'}")


# ------------------------------------------------------------------------------ run


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--interval", default=3600.0, show_default=True, type=click.FloatRange(1.0),
              help="Seconds between scans.")
@click.option("--splay", default=300.0, show_default=True, type=click.FloatRange(0.0),
              help="Up to this many seconds added at random to each interval, so a fleet does not scan in step.")
@click.option("--once", is_flag=True, help="One scan and submission, then exit with the scan's exit code.")
@state_dir_option
@click.argument("scan_args", nargs=-1, type=click.UNPROCESSED, metavar="[SCAN OPTIONS]...")
def run(interval: float, splay: float, once: bool, state_dir: str, scan_args: tuple[str, ...]) -> None:
    """Scan on start, then every interval (plus a random splay), submitting each time; stop on SIGTERM.

    Other options are those of ``fedharden scan`` (--root, --directive, --waivers, --walk, ...)."""
    try:
        preflight(state_dir)
    except UsageError as exc:
        fail(str(exc))
    from agent.runner import Runner

    args = ["scan", "--submit", "--quiet", "--state-dir", os.path.abspath(state_dir), *scan_args]
    runner = Runner(args, StateDir(state_dir), interval=interval, splay=splay)
    sys.exit(runner.cycle() if once else runner.run())
