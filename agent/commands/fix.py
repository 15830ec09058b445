"""``fedharden fix``: plan the structured fixes of failing requirements, apply them (this host as
root, or an image with ``--root``) with backups, re-scan, and roll an apply back; or write the
plan as a Bash script or an Ansible playbook (``--format bash|ansible``) to roll out elsewhere.

With ``--submit``, an apply (or a rollback) is reported to the collector the host enrolled with:
the re-scan's report, and the record of the apply (agent.fixing.record: who, when, what it set
out to fix, what it fixed, what still fails, the outcome), queued in the state directory first.

Exit codes: 0 when the plan is empty or every applied requirement now passes, 1 when the
re-scan still finds one failing, 2 for a usage mistake, 3 when an apply stopped (everything it
changed rolled back).
"""
from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, Callable

import click

from agent import UsageError
from agent.commands.options import retry_option, state_dir_option

if TYPE_CHECKING:
    from agent.contract import Report

SEVERITIES = ["critical", "high", "medium", "low"]


@click.command()
@click.option("--plan", "mode", flag_value="plan", default=True, help="Print what would change (the default).")
@click.option("--apply", "mode", flag_value="apply", help="Make the changes (backed up first), then re-scan.")
@click.option("--rollback", "rollback_id", is_flag=False, flag_value="latest", default=None, metavar="[ID]",
              help="Restore the backups of an apply (the latest one not rolled back, or ID).")
@click.option("--root", type=click.Path(file_okay=False), help="Fix a root filesystem mounted or unpacked here.")
@click.option("--scan-now", is_flag=True, help="Scan now to find what fails (default: the last scan recorded "
              "in the state directory).")
@click.option("--report", "report_file", type=click.Path(dir_okay=False), metavar="REPORT.json",
              help="Plan for the failures of this report (fedharden scan --format json).")
@click.option("--requirement", "requirements", multiple=True, metavar="ID", help="Only this requirement (repeatable).")
@click.option("--directive", "directive_ids", multiple=True, metavar="ID", help="Only this directive (repeatable).")
@click.option("--severity", type=click.Choice(SEVERITIES), default="low", show_default=True,
              help="Only requirements of this severity or higher.")
@click.option("--profile", metavar="NAME|FILE", help="Only the requirements of this profile (as scan --profile).")
@click.option("--directives", "extra", multiple=True, type=click.Path(exists=True), metavar="PATH",
              help="Also these directive files or directories (repeatable).")
@click.option("--include-disruptive", is_flag=True,
              help="Also the changes that can lock an operator out (sshd login settings, PAM, firewall, sudo).")
@click.option("--format", "fmt", type=click.Choice(["diff", "json", "bash", "ansible"]), default="diff",
              show_default=True, help="How to print the plan: a diff, JSON, or an idempotent Bash script or "
              "Ansible playbook that carries it out (for a configuration management rollout).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the plan here instead of printing it.")
@click.option("--submit", is_flag=True, help="After an apply or a rollback, report it and the re-scan to the "
              "collector the host enrolled with (the re-scan as scan --submit does).")
@click.option("--by", "by_name", metavar="NAME", help="Who runs it, for the apply's record (a person or a change "
              "ticket; the invoking user is recorded anyway).")
@state_dir_option
@retry_option
@click.pass_context
def fix(ctx: click.Context, mode: str, rollback_id: str | None, root: str | None, scan_now: bool,
        report_file: str | None, requirements: tuple[str, ...], directive_ids: tuple[str, ...], severity: str,
        profile: str | None, extra: tuple[str, ...], include_disruptive: bool, fmt: str, output: str | None,
        submit: bool, by_name: str | None, state_dir: str, retry_delay: float) -> None:
    """Plan, apply or roll back the fixes of failing requirements."""
    from agent.fixing.record import invoking_user
    from agent.fixing.targetfs import TargetFS

    if root is not None and not os.path.isdir(os.path.join(root, "etc")):
        raise UsageError(f"--root: {root}: not a root filesystem (no /etc)")
    if by_name is not None and (not by_name.strip() or len(by_name) > 200 or not by_name.isprintable()):
        raise UsageError("--by: a name of 1 to 200 printable characters")
    target = TargetFS(root or "/")
    by = invoking_user(by_name)
    if submit and (mode == "apply" or rollback_id is not None):
        from agent.fleet import preflight

        preflight(state_dir, remote=False)
    if rollback_id is not None:
        # The re-scan's directives are read before anything is restored: a mistake in them stops here.
        rescan_with = choose(extra, directive_ids, requirements, profile) if submit else []
        journal = rollback(target, state_dir, None if rollback_id == "latest" else rollback_id, by)
        if submit:
            submit_apply(journal, state_dir, lambda: scan_target(root, rescan_with, directive_ids), root, retry_delay)
        problems = journal["rollback_problems"]
        if problems:
            from agent import ScanError

            raise ScanError(f"rollback of {journal['id']} incomplete: {'; '.join(problems)}")
        return
    if mode == "apply" and target.live and os.geteuid() != 0:
        raise UsageError("fix --apply changes this host: run it as root (or give --root DIR for an image)")
    if fmt in ("bash", "ansible") and mode != "plan":
        raise UsageError(f"--format {fmt} writes the plan as a script to run elsewhere: leave out --apply")
    if scan_now and report_file:
        raise UsageError("--scan-now and --report: give one")
    if submit and mode != "apply":
        raise UsageError("--submit reports an apply or a rollback: give --apply or --rollback")
    from agent.fixing import cycle
    from agent.fixing.planner import Choice, make_plan

    chosen = choose(extra, directive_ids, requirements, profile)
    if scan_now:
        failing = cycle.failing(scan_target(root, chosen, directive_ids)["results"])
    elif report_file:
        failing = cycle.from_report(report_file)
    else:
        failing = cycle.from_state(state_dir, f"rootfs:{os.path.abspath(root)}" if root else "local")
    plan = make_plan(target, chosen, failing, Choice(requirements, directive_ids, severity, include_disruptive))
    text = render(plan, fmt, target.root)
    if output:
        from agent.output.destinations import write_all

        write_all([(output, text)])
    elif mode == "plan" or plan.changes:
        click.echo(text, nl=False)
    if mode == "plan":
        return
    if not plan.changes:
        click.echo("nothing to apply")
        return
    from agent.fixing import ApplyFailed
    from agent.fixing.session import apply_and_rescan

    try:
        session = apply_and_rescan(target, chosen, failing, Choice(requirements, directive_ids, severity,
                                                                   include_disruptive),
                                   state_dir, lambda: scan_target(root, chosen, directive_ids), first=plan,
                                   about={"by": by, "include_disruptive": include_disruptive})
    except ApplyFailed as exc:
        if submit and exc.apply_id:  # the SOC hears of the attempt too: nothing changed, and why
            from agent.fixing.journal import find

            submit_apply(find(state_dir, exc.apply_id).data, state_dir, None, root, retry_delay)
        raise
    for warning in session.warnings:
        click.echo(f"fedharden: warning: {warning}", err=True)
    assert session.journal is not None
    verdict = session.verdict
    rounds = f" in {len(session.plans)} rounds" if len(session.plans) > 1 else ""
    click.echo(f"applied {session.journal.id}{rounds}: {verdict.line()}")
    click.echo(f"undo with: fedharden fix --rollback {session.journal.id}"
               + (f" --root {root}" if root else "") + f" --state-dir {state_dir}")
    if submit:
        submit_apply(session.journal.data, state_dir, lambda: session.report, root, retry_delay)
    ctx.exit(1 if verdict.failing else 0)


def choose(extra: tuple[str, ...], directive_ids: tuple[str, ...], requirements: tuple[str, ...],
           profile: str | None) -> list[Any]:
    """The directives to plan from and re-scan with, as --directives, --directive,
    --requirement and --profile select them."""
    from agent.commands.inputs import load_directives, load_tailoring, profile_path

    loaded = load_directives(extra)
    known = {d.id for d in loaded}
    unknown = [d for d in directive_ids if d not in known]
    if unknown:
        raise UsageError(f"--directive: unknown directive {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    all_ids = {r.id for d in loaded for r in d.requirements}
    missing = [r for r in requirements if r not in all_ids]
    if missing:
        raise UsageError(f"--requirement: unknown requirement {', '.join(missing)}")
    tailoring = load_tailoring(profile_path(profile), loaded) if profile else None
    return list(tailoring.apply(loaded) if tailoring else loaded)


def submit_apply(journal: dict[str, Any], state_dir: str, rescan: Callable[[], Report | None] | None,
                 root: str | None, retry_delay: float) -> None:
    """``--submit``: queue the apply's record, then report the re-scan (``rescan``; none after an
    apply that stopped) and deliver both; a record the collector could not take waits in the
    state directory for the next submission."""
    from agent.apply_spool import queued
    from agent.commands.options import delivery_backoff
    from agent.commands.scan import submit_one
    from agent.fleet import queue_apply, submit_records
    from agent.state import StateDir

    record = queue_apply(state_dir, journal)
    report = rescan() if rescan is not None else None
    if report is not None:
        records = submit_one(report, state_dir, host_hardware(root), False, retry_delay).records
    else:
        records = submit_records(state_dir, delivery_backoff(retry_delay))
        if records is not None and records.sent:
            click.echo(f"fedharden: submitted apply record {record['apply_id']} ({record['outcome']})", err=True)
    if records is not None and records.error is not None:
        click.echo(f"fedharden: apply record not delivered: {records.error.detail}", err=True)
    if any(p.name == f"{record['apply_id']}.json" for p in queued(StateDir(state_dir))):
        click.echo(f"fedharden: the record of apply {record['apply_id']} is spooled for the next submission", err=True)


def render(plan: Any, fmt: str, root: str) -> str:
    from agent.fixing import diff

    if fmt == "json":
        return json.dumps(plan.to_json(), indent=2) + "\n"
    if fmt in ("bash", "ansible"):
        from agent.fixing import ansible, bash

        source = "planned on this host" if root == "/" else f"planned on the image {root}"
        return (bash if fmt == "bash" else ansible).render(plan, source)
    return str(diff.render(plan, root))


def host_hardware(root: str | None) -> str:
    """This host's hardware anchor for a submission (none for an image: it would be this machine's)."""
    if root is not None:
        return ""
    from agent.fleet import host_anchor
    from agent.target import Target

    host = Target.parse().open()
    try:
        return str(host_anchor(host))
    finally:
        host.close()


def scan_target(root: str | None, directives: list[Any], directive_ids: tuple[str, ...]) -> Report:
    from agent.fixing import cycle
    from agent.target import Target

    host = Target.parse(root=root).open()
    try:
        return cycle.scan(host, directives, directive_ids)
    finally:
        host.close()


def rollback(target: object, state_dir: str, apply_id: str | None, by: Any) -> dict[str, Any]:
    """Restore the backups of an apply; its journal, with the problems met (the caller raises)."""
    from agent.fixing.journal import find, restore
    from agent.fixing.targetfs import TargetFS

    journal = find(state_dir, apply_id)
    if journal.data.get("status") == "rolled_back":
        raise UsageError(f"apply {journal.id} was rolled back already")
    assert isinstance(target, TargetFS)
    if os.path.abspath(journal.data["root"]) != target.root:
        raise UsageError(f"apply {journal.id} changed {journal.data['root']}, not {target.root}: "
                         + (f"give --root {journal.data['root']}" if journal.data["root"] != "/" else "leave out --root"))
    problems = restore(journal, target)
    journal.rolled_back(problems, by)
    files = sum(1 for e in journal.data["entries"] if "local" in e)
    if not problems:
        click.echo(f"rolled back {journal.id}: {files} file(s) restored")
    return journal.data
