"""``fedharden fix``: plan the structured fixes of failing requirements, apply them (this host as
root, or an image with ``--root``) with backups, re-scan, and roll an apply back; or write the
plan as a Bash script or an Ansible playbook (``--format bash|ansible``) to roll out elsewhere.

Exit codes: 0 when the plan is empty or every applied requirement now passes, 1 when the
re-scan still finds one failing, 2 for a usage mistake, 3 when an apply stopped (everything it
changed rolled back).
"""
from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

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
@click.option("--submit", is_flag=True, help="After an apply, report the re-scan to the collector the host "
              "enrolled with, as scan --submit does.")
@state_dir_option
@retry_option
@click.pass_context
def fix(ctx: click.Context, mode: str, rollback_id: str | None, root: str | None, scan_now: bool,
        report_file: str | None, requirements: tuple[str, ...], directive_ids: tuple[str, ...], severity: str,
        profile: str | None, extra: tuple[str, ...], include_disruptive: bool, fmt: str, output: str | None,
        submit: bool, state_dir: str, retry_delay: float) -> None:
    """Plan, apply or roll back the fixes of failing requirements."""
    from agent.fixing.targetfs import TargetFS

    if root is not None and not os.path.isdir(os.path.join(root, "etc")):
        raise UsageError(f"--root: {root}: not a root filesystem (no /etc)")
    target = TargetFS(root or "/")
    if rollback_id is not None:
        rollback(target, state_dir, None if rollback_id == "latest" else rollback_id)
        return
    if mode == "apply" and target.live and os.geteuid() != 0:
        raise UsageError("fix --apply changes this host: run it as root (or give --root DIR for an image)")
    if fmt in ("bash", "ansible") and mode != "plan":
        raise UsageError(f"--format {fmt} writes the plan as a script to run elsewhere: leave out --apply")
    if scan_now and report_file:
        raise UsageError("--scan-now and --report: give one")
    if submit:
        if mode != "apply":
            raise UsageError("--submit reports an apply's re-scan: give --apply")
        from agent.fleet import preflight

        preflight(state_dir, remote=False)
    from agent.commands.inputs import load_directives, load_tailoring, profile_path
    from agent.fixing import cycle
    from agent.fixing.planner import Choice, make_plan

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
    chosen = tailoring.apply(loaded) if tailoring else loaded
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
    from agent.fixing.session import apply_and_rescan

    session = apply_and_rescan(target, chosen, failing, Choice(requirements, directive_ids, severity,
                                                               include_disruptive),
                               state_dir, lambda: scan_target(root, chosen, directive_ids), first=plan)
    for warning in session.warnings:
        click.echo(f"fedharden: warning: {warning}", err=True)
    assert session.journal is not None
    verdict = session.verdict
    rounds = f" in {len(session.plans)} rounds" if len(session.plans) > 1 else ""
    click.echo(f"applied {session.journal.id}{rounds}: {verdict.line()}")
    click.echo(f"undo with: fedharden fix --rollback {session.journal.id}"
               + (f" --root {root}" if root else "") + f" --state-dir {state_dir}")
    if submit and session.report is not None:
        from agent.commands.scan import submit_one

        submit_one(session.report, state_dir, host_hardware(root), False, retry_delay)
    ctx.exit(1 if verdict.failing else 0)


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


def rollback(target: object, state_dir: str, apply_id: str | None) -> None:
    from agent import ScanError
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
    journal.finish("rolled_back" if not problems else "rollback_incomplete", rollback_problems=problems)
    files = sum(1 for e in journal.data["entries"] if "local" in e)
    if problems:
        raise ScanError(f"rollback of {journal.id} incomplete: {'; '.join(problems)}")
    click.echo(f"rolled back {journal.id}: {files} file(s) restored")
