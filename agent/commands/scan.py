"""``fedharden scan``: evaluate this host, a root filesystem, or hosts over SSH.

Exit codes (agent.contract): the host's status, 0, 1 or 4; 2 for a usage mistake, before
anything is scanned; 3 when the scan could not complete. With ``--submit`` the report is then
recorded and sent to the collector; a collector that cannot be reached is not a failure of the
scan: the report waits in the spool for the next run (said on standard error), and the exit
code stays the scan's. What a human must fix (not enrolled, a clone, a revoked token) exits 2.
"""
from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, Sequence

import click

from agent import ScanError, UsageError
from agent.commands.options import delivery_backoff, retry_option, state_dir_option, target_options
from agent.output import FORMATS
from checks.record import record

if TYPE_CHECKING:
    from agent.contract import Report
    from agent.fleet import Submitted
    from agent.inventory import Entry
    from agent.inventory_scan import Job, Outcome
    from agent.target import Target

SEVERITIES = ["critical", "high", "medium", "low"]


@click.command()
@click.option("--directive", "directive_ids", multiple=True, metavar="ID", help="Only this directive (repeatable).")
@click.option("--severity", type=click.Choice(SEVERITIES), default="low",
              show_default=True, help="Only requirements of this severity or higher.")
@click.option("--directives", "extra", multiple=True, type=click.Path(exists=True), metavar="PATH",
              help="Also evaluate these directive files or directories (repeatable).")
@click.option("--format", "formats", multiple=True, metavar="FMT[=FILE]",
              help="Output format, repeatable, each to its own file with FMT=FILE: "
                   f"{', '.join(FORMATS)} (default: table).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the one format without a file here.")
@click.option("--output-dir", type=click.Path(file_okay=False), help="Write formats without a file here as fedharden.EXT.")
@click.option("--waivers", "waivers_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Accepted risks (YAML): an unexpired waiver turns a fail into waived.")
@click.option("--tailoring", "tailoring_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Select or deselect requirements and set tunable parameters (YAML).")
@click.option("--profile", metavar="NAME|FILE",
              help="A shipped profile (fedharden directives profiles: cis-l1-server, ...) or a copy of one: "
                   "a tailoring file selecting the requirements mapped to a CIS level.")
@click.option("--baseline", "baseline_file", type=click.Path(dir_okay=False), metavar="REPORT.json",
              help="An earlier JSON report of this host: SARIF marks results new, unchanged, updated or absent.")
@click.option("--color/--no-color", default=None,
              help="Color the table, also through a pipe (default: on a terminal, unless NO_COLOR is set).")
@click.option("--feeds-dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Vulnerability feed store (default: $FEDHARDEN_FEEDS_DIR, else the agent's state directory; "
                   "the shipped KEV snapshot when empty).")
@click.option("--walk", is_flag=True, help="Also judge the requirements that walk every local filesystem "
              "(world-writable, unowned and set-ID files): seconds instead of milliseconds; use it in scheduled scans.")
@click.option("--submit", is_flag=True, help="Also report to the collector the host enrolled with (a delta); "
              "hosts scanned over SSH as themselves, each enrolled with fedharden enroll --ssh/--inventory. "
              "An unreachable collector is not a failure: the report is spooled for the next run.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing on standard output (files are still written).")
@state_dir_option
@retry_option
@click.option("--tag", "tags", multiple=True, metavar="TAG",
              help="A tag of this host (repeatable), as in an inventory: scopes waivers; role:NAME declares "
                   "a role a directive is scoped to (role:router, role:firewall, role:vpn, ...).")
@target_options("scan", "scanned", "scans", "Scan a root filesystem mounted or unpacked here.")
@click.pass_context
def scan(ctx: click.Context, target: Target, directive_ids: tuple[str, ...], severity: str, extra: tuple[str, ...],
         formats: tuple[str, ...], output: str | None, output_dir: str | None, waivers_file: str | None,
         tailoring_file: str | None, profile: str | None, baseline_file: str | None, color: bool | None,
         feeds_dir: str | None, walk: bool, submit: bool, quiet: bool, state_dir: str, retry_delay: float, tags: tuple[str, ...]) -> None:
    """Evaluate this host (or a root filesystem, or hosts over SSH) and print what fails, why, and by when."""
    from agent.commands.inputs import load_baseline, load_directives, load_tailoring, load_waivers, profile_path
    from agent.contract import exit_code, report_status
    from agent.output import destinations

    if profile is not None:  # a profile is a tailoring file: the two are one choice
        if tailoring_file:
            raise UsageError("--profile and --tailoring: give one (a profile is a tailoring file; copy it to tailor it)")
        tailoring_file = profile_path(profile, state_dir)

    if submit:  # remote hosts: each one's credential, once reached
        from agent.fleet import preflight

        preflight(state_dir, remote=target.remote)
    plan = destinations.plan(formats, output, output_dir)
    loaded = load_directives(extra, state_dir)
    known = {d.id for d in loaded}
    unknown = [d for d in directive_ids if d not in known]
    if unknown:
        raise UsageError(f"--directive: unknown directive {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    waivers = load_waivers(waivers_file, loaded) if waivers_file else None
    tailoring = load_tailoring(tailoring_file, loaded) if tailoring_file else None
    baseline = load_baseline(baseline_file) if baseline_file else None
    from agent.directive_store import data_files

    settings = Settings(loaded, directive_ids, severity, walk, waivers, tailoring, feeds_dir, tags, data_files(state_dir))
    if target.kind == "inventory":
        ctx.exit(scan_inventory(target, settings, formats, output, output_dir, quiet,
                                state_dir if submit else None, retry_delay))
    report, hardware = scan_one(target, settings, state_dir, anchor=submit and target.root is None)
    use_color = wants_color(color, any(d.path is None for d in plan) and sys.stdout.isatty())
    rendered = destinations.render(plan, report, use_color, baseline)
    destinations.write_all([(d.path, text) for d, text in rendered if d.path is not None])
    for d, text in rendered:
        if d.path is None and not quiet:
            click.echo(text, nl=False, color=use_color)  # click would strip the colors from a pipe
    if submit:
        submit_one(report, state_dir, hardware, target.remote, retry_delay)
    ctx.exit(exit_code(report_status(report)))


@record
class Settings:
    """What to evaluate, as the command line chose it, for one host or each of many."""

    loaded: list[Any]
    directive_ids: tuple[str, ...]
    severity: str
    walk: bool
    waivers: Any
    tailoring: Any
    feeds_dir: str | None
    tags: tuple[str, ...]
    data: Any = None  # signed data files in force, by name (agent.directive_store.data_files)

    def feeds(self) -> Any:
        from agent.feeds.store import FeedStore

        feeds = FeedStore.configured(self.feeds_dir)
        feeds.generation()  # a feeds directory that was named but does not exist is a usage error
        return feeds

    def scan(self, host: Any, feeds: Any, tags: tuple[str, ...], **kwargs: Any) -> Report:
        from agent.scan import Scan, Selection

        return Scan(host, self.loaded, Selection(self.directive_ids, self.severity, self.walk), waivers=self.waivers,
                    feeds=feeds, tailoring=self.tailoring, tags=tags, data=self.data, **kwargs).run()


def scan_one(target: Target, settings: Settings, state_dir: str, anchor: bool) -> tuple[Report, str]:
    """The report of this host, a root or one SSH host, and (``anchor``: for --submit) the
    hardware id read over the still-open host."""
    hardware = ""
    try:
        host = target.open()
        for warning in getattr(host, "warnings", ()):
            click.echo(f"fedharden: warning: {warning}", err=True)
        try:
            feeds = settings.feeds()
            # This host's agent keeps its record where --state-dir says (BOD 23-01 reads it), and
            # when each result was first seen failing (deadlines from discovery); an image or a
            # host over SSH keeps them on the target.
            local_state = os.path.abspath(state_dir) if target.kind == "local" else None
            first_seen = failing_since(local_state) if local_state else {}
            report = settings.scan(host, feeds, settings.tags, state_dir=local_state, first_seen=first_seen)
            if anchor:  # a mounted root's hardware id would be this machine's
                from agent.fleet import host_anchor

                hardware = host_anchor(host)  # over the still-open connection for --ssh
        finally:
            host.close()
    except ScanError as exc:
        raise ScanError(f"scan could not complete: {exc}") from exc
    return report, hardware


def scan_inventory(target: Target, settings: Settings, formats: tuple[str, ...], output: str | None,
                   output_dir: str | None, quiet: bool, submit_to: str | None, retry_delay: float) -> int:
    """``scan --inventory``: each host's reports in ``output_dir``; ``submit_to``: the state
    directory to submit each report through (agent.remote_fleet)."""
    from agent.commands.options import retry_backoff
    from agent.inventory_scan import exit_code, prepare, summary

    feeds = settings.feeds()

    def run_scan(host: Any, tags: tuple[str, ...]) -> Report:
        return settings.scan(host, feeds, tags)

    sender = None
    if submit_to is not None:
        from agent.remote_fleet import InventorySubmit

        # One retry per host: many hosts share one collector, and the next run delivers what is spooled.
        sender = InventorySubmit(submit_to, retry_backoff(retry_delay))
    entries, job = prepare(target, formats, output, output_dir, run_scan, sender)
    outcomes = run_with_progress(entries, job, target.jobs, sys.stderr.isatty())
    if not quiet:
        click.echo(summary(outcomes), nl=False)
    return exit_code(outcomes)


def run_with_progress(entries: Sequence[Entry], job: Job, jobs: int, terminal: bool) -> list[Outcome]:
    """A progress bar on a terminal, else one plain line per host as it finishes (stderr)."""
    from agent.inventory_scan import describe, scan_all

    outcomes: list[Outcome] = []
    if terminal:
        bar: Any
        with click.progressbar(length=len(entries), label="scanning", file=sys.stderr, show_pos=True,
                               item_show_func=lambda o: o.entry.name if o else "") as bar:
            for outcome in scan_all(entries, job, jobs):
                outcomes.append(outcome)
                bar.update(1, outcome)
        return outcomes
    for outcome in scan_all(entries, job, jobs):
        outcomes.append(outcome)
        click.echo(f"fedharden: [{len(outcomes)}/{len(entries)}] {outcome.entry.name}: {describe(outcome)}", err=True)
    return outcomes


def submit_one(report: Report, state_dir: str, hardware: str, remote: bool, retry_delay: float) -> Submitted:
    """``--submit`` after one host's scan: what was delivered, on standard error."""
    from agent.fleet import check_delivered, submit_scanned

    done = submit_scanned(report, state_dir, hardware, delivery_backoff(retry_delay), remote=remote)
    click.echo(f"fedharden: {done.line()}", err=True)
    check_delivered(done)
    if done.delivery.error is not None:
        click.echo(f"fedharden: collector unavailable ({done.delivery.error.detail}); "
                   f"{done.delivery.remaining} report(s) spooled for the next run", err=True)
    return done


def wants_color(flag: bool | None, to_terminal: bool) -> bool:
    """--color / --no-color decide; without either, color on a terminal unless NO_COLOR is set
    (no-color.org: a command-line flag overrides the variable)."""
    if flag is not None:
        return flag
    return to_terminal and not os.environ.get("NO_COLOR")


def failing_since(state_dir: str) -> dict[str, Any]:
    """When each result of this host was first seen failing, from its last state (empty when
    there is none or it cannot be read: deadlines from discovery then count from today)."""
    from agent.state import StateDir, first_seen

    try:
        return first_seen(StateDir(state_dir).load_state())
    except (OSError, ValueError, UsageError):
        return {}
