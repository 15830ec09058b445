"""The ``fedharden`` command line. The only place that catches broadly and picks exit codes
(agent.contract): 0 the host is compliant, needs review or nothing applies, 1 any requirement
fails, 4 incomplete (nothing fails but something could not be judged), 2 usage or invalid
input, 3 the scan could not complete.
"""
from __future__ import annotations

import importlib
import os
import sys
from typing import Any, Sequence

import click

from agent import AgentError, ScanError, UsageError, __version__
from agent.contract import EXIT_COULD_NOT_COMPLETE, EXIT_OK, EXIT_USAGE, exit_code, report_status
from agent.output import FORMATS as OUTPUT_FORMATS
from agent.remote import check_combination, remote_options


# Subcommands whose modules are heavy (HTTP clients, web stack) load only when invoked.
LAZY_COMMANDS: dict[str, str] = {"feeds": "agent.feeds.cli:feeds"}
LAZY_COMMANDS["collector"] = "collectors.cli:collector"


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS:
            module, _, attr = LAZY_COMMANDS[name].partition(":")
            return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]
        return super().get_command(ctx, name)


def fail(message: str, code: int = EXIT_USAGE) -> None:
    """Print a one-line error and exit; the CLI's single way out for user mistakes. A message
    may quote the scanned host (a path, an SSH banner): control characters are escaped."""
    from agent.output.common import safe

    click.echo(f"fedharden: {safe(message)}", err=True)
    sys.exit(code)


def load_directives(extra: Sequence[str]) -> list[Any]:
    from directives import DirectiveError, load_library
    from directives.loader import directory_files

    paths: list[str] = []
    for item in extra:
        paths.extend(directory_files(item) if os.path.isdir(item) else [item])
    try:
        return load_library(paths)
    except DirectiveError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        sys.exit(EXIT_USAGE)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fedharden")
def main() -> None:
    """Evaluate hosts against CISA directives and a 30-day hardening baseline."""


@main.command()
@click.option("--root", type=click.Path(file_okay=False), help="Scan a root filesystem mounted or unpacked here.")
@click.option("--directive", "directive_ids", multiple=True, metavar="ID", help="Only this directive (repeatable).")
@click.option("--severity", type=click.Choice(["critical", "high", "medium", "low"]), default="low",
              show_default=True, help="Only requirements of this severity or higher.")
@click.option("--directives", "extra", multiple=True, type=click.Path(exists=True), metavar="PATH",
              help="Also evaluate these directive files or directories (repeatable).")
@click.option("--format", "formats", multiple=True, metavar="FMT[=FILE]",
              help="Output format, repeatable, each to its own file with FMT=FILE: "
                   f"{', '.join(OUTPUT_FORMATS)} (default: table).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the one format without a file here.")
@click.option("--output-dir", type=click.Path(file_okay=False), help="Write formats without a file here as fedharden.EXT.")
@click.option("--waivers", "waivers_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Accepted risks (YAML): an unexpired waiver turns a fail into waived.")
@click.option("--tailoring", "tailoring_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Select or deselect requirements and set tunable parameters (YAML).")
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
              "hosts scanned over SSH as themselves, each enrolled with fedharden enroll --ssh/--inventory.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing on standard output (files are still written).")
@click.option("--state-dir", default="/var/lib/fedharden", show_default=True, envvar="FEDHARDEN_STATE_DIR",
              type=click.Path(file_okay=False), help="The agent's state, credential and spool (with --submit).")
@click.option("--tag", "tags", multiple=True, metavar="TAG",
              help="A tag of this host (repeatable), as in an inventory: scopes waivers; role:NAME declares "
                   "a role a directive is scoped to (role:router, role:firewall, role:vpn, ...).")
@remote_options
def scan(root: str | None, directive_ids: tuple[str, ...], severity: str, extra: tuple[str, ...],
         formats: tuple[str, ...], output: str | None, output_dir: str | None, waivers_file: str | None,
         tailoring_file: str | None, baseline_file: str | None, color: bool | None, feeds_dir: str | None,
         walk: bool, submit: bool, quiet: bool, state_dir: str, tags: tuple[str, ...], **remote: Any) -> None:
    """Evaluate this host (or a root filesystem, or hosts over SSH) and print what fails, why, and by when."""
    from agent.feeds.store import FeedStore
    from agent.output import destinations
    from agent.scan import Scan, Selection

    over_ssh = bool(remote["ssh_target"] or remote["inventory"])
    try:
        check_combination(root, remote)  # before --submit's preflight: its errors come first
    except UsageError as exc:
        fail(str(exc))
    if submit:
        from agent.fleet import preflight

        try:
            preflight(state_dir, remote=over_ssh)  # remote hosts: each one's credential, once reached
        except UsageError as exc:
            fail(str(exc))

    try:
        plan = destinations.plan(formats, output, output_dir)
    except UsageError as exc:
        fail(str(exc))
    loaded = load_directives(extra)
    known = {d.id for d in loaded}
    unknown = [d for d in directive_ids if d not in known]
    if unknown:
        fail(f"--directive: unknown directive {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    waivers = load_policy("waivers", waivers_file, loaded) if waivers_file else None
    tailoring = load_policy("tailoring", tailoring_file, loaded) if tailoring_file else None
    baseline = load_baseline(baseline_file) if baseline_file else None
    if remote["inventory"]:
        from agent.inventory_scan import inventory_command

        def run_scan(host: Any, tags: tuple[str, ...]) -> dict[str, Any]:
            return Scan(host, loaded, Selection(directive_ids, severity, walk), waivers=waivers, feeds=feeds,
                        tailoring=tailoring, tags=tags).run()

        try:
            feeds = FeedStore.configured(feeds_dir)
            feeds.generation()
        except UsageError as exc:
            fail(str(exc))
        sender = None
        if submit:
            from agent.remote_fleet import InventorySubmit

            sender = InventorySubmit(state_dir)
        sys.exit(inventory_command(remote, root, formats, output, output_dir, run_scan, sender, quiet))
    hardware = ""
    try:
        host = open_host(root, remote)
        try:
            feeds = FeedStore.configured(feeds_dir)
            feeds.generation()  # a feeds directory that was named but does not exist is a usage error
            # This host's agent keeps its record where --state-dir says (BOD 23-01 reads it), and
            # when each result was first seen failing (deadlines from discovery); an image or a
            # host over SSH keeps them on the target.
            local_state = os.path.abspath(state_dir) if root is None and not over_ssh else None
            first_seen = failing_since(local_state) if local_state else {}
            report = Scan(host, loaded, Selection(directive_ids, severity, walk), waivers=waivers, feeds=feeds,
                          tailoring=tailoring, tags=tags, state_dir=local_state, first_seen=first_seen).run()
            if submit and root is None:  # a mounted root's hardware id would be this machine's
                from agent.fleet import host_anchor

                hardware = host_anchor(host)  # over the still-open connection for --ssh
        finally:
            host.close()
    except UsageError as exc:
        fail(str(exc))
    except (ScanError, AgentError) as exc:
        fail(f"scan could not complete: {exc}", EXIT_COULD_NOT_COMPLETE)
    except Exception as exc:  # a bug, not a user mistake: say so in one line, keep the exit code honest
        if os.environ.get("FEDHARDEN_DEBUG"):
            raise
        fail(f"scan could not complete: internal error {type(exc).__name__}: {exc} "
             "(set FEDHARDEN_DEBUG=1 for the traceback)", EXIT_COULD_NOT_COMPLETE)
    use_color = wants_color(color, any(d.path is None for d in plan) and sys.stdout.isatty())
    try:
        rendered = destinations.render(plan, report, use_color, baseline)
        destinations.write_all([(d.path, text) for d, text in rendered if d.path is not None])
    except UsageError as exc:
        fail(str(exc))
    for d, text in rendered:
        if d.path is None and not quiet:
            click.echo(text, nl=False, color=use_color)  # click would strip the colors from a pipe
    if submit:
        from agent.fleet import after_scan

        after_scan(report, state_dir, hardware, remote=over_ssh)
    sys.exit(exit_code(report_status(report)))


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


def load_policy(kind: str, path: str, loaded: Sequence[Any]) -> Any:
    """A waivers or tailoring file checked against the loaded directives; problems exit 2."""
    from directives import DirectiveError
    from directives.tailoring import load_tailoring
    from directives.waivers import load_waivers

    try:
        if kind == "waivers":
            return load_waivers(path, {r.id for d in loaded for r in d.requirements})
        return load_tailoring(path, loaded)
    except DirectiveError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        sys.exit(EXIT_USAGE)


def load_baseline(path: str) -> dict[str, Any]:
    """An earlier full report, validated against the report schema."""
    import json

    from agent.report import validation_errors

    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        fail(f"--baseline: {path}: cannot read: {exc.strerror or exc}")
    except (ValueError, UnicodeDecodeError) as exc:
        fail(f"--baseline: {path}: not JSON: {exc}")
    problems = validation_errors(data)
    if problems:
        fail(f"--baseline: {path}: not a fedharden report: {problems[0]}")
    if data["kind"] != "full":
        fail(f"--baseline: {path}: a {data['kind']} report; a full report is needed")
    return data  # type: ignore[no-any-return]


def open_host(root: str | None, remote: dict[str, Any] | None = None) -> Any:
    from agent.hosts import LocalHost, RootfsHost
    from agent.remote import single

    ssh_host = single(root, remote or {})
    if ssh_host is not None:
        return ssh_host
    if root is None:
        return LocalHost()
    if not os.path.isdir(root):
        raise UsageError(f"--root: {root}: not a directory")
    host = RootfsHost(root)
    missing = not_a_root(host)
    if missing:
        host.close()
        raise UsageError(f"--root: {root}: not a root filesystem (no {', no '.join(missing)})")
    return host


# What makes a directory a root filesystem worth scanning: without /etc and an os-release every
# requirement would be an error. A package database is named when missing too, but not required:
# an image of configuration files only can still be judged.
PACKAGE_DATABASES = ("/var/lib/dpkg/status", "/var/lib/rpm", "/usr/lib/sysimage/rpm")


def not_a_root(host: Any) -> list[str]:
    """What a root lacks to be a root filesystem, read through the root's own Host (links
    resolve inside it); empty when it is one. Only /etc and an os-release are required; the
    package database is named alongside them when they are missing."""
    from agent.hosts.base import HostError

    def kind(path: str) -> str:
        try:
            return str(host.stat(path).kind)
        except HostError:
            return ""

    required: list[str] = []
    if kind("/etc") != "dir":
        required.append("/etc")
    if not (kind("/etc/os-release") or kind("/usr/lib/os-release")):  # there, if unreadable: judged as such
        required.append("/etc/os-release or /usr/lib/os-release")
    if required and not any(kind(p) for p in PACKAGE_DATABASES):
        required.append("dpkg or rpm database")
    return required


@main.group()
def directives() -> None:
    """List, show and validate directives."""


@directives.command("list")
@click.option("--directives", "extra", multiple=True, type=click.Path(exists=True), metavar="PATH")
def directives_list(extra: tuple[str, ...]) -> None:
    """The directives fedharden evaluates, with their deadlines."""
    for d in load_directives(extra):
        dues = sorted({str(r.due_date()) for r in d.requirements if r.due_date()})
        due = f"due {dues[0]}" if len(dues) == 1 else (f"due {dues[0]}..{dues[-1]}" if dues else "due per finding")
        click.echo(f"{d.id:<16} {len(d.requirements):>3} requirements  issued {d.issued}  {due}  {d.title}")


@directives.command("show")
@click.argument("directive_id")
@click.option("--directives", "extra", multiple=True, type=click.Path(exists=True), metavar="PATH")
def directives_show(directive_id: str, extra: tuple[str, ...]) -> None:
    """Every requirement of one directive: what is checked, why, how to fix it, by when."""
    loaded = {d.id: d for d in load_directives(extra)}
    if directive_id not in loaded:
        fail(f"unknown directive {directive_id} (known: {', '.join(sorted(loaded))})")
    d = loaded[directive_id]
    click.echo(f"{d.id}: {d.title}\nissuer: {d.issuer}  kind: {d.kind}  issued: {d.issued}")
    if d.url:
        click.echo(f"url: {d.url}")
    if d.summary:
        click.echo(f"\n{d.summary.strip()}")
    for p in d.parameters:
        bounds = ", ".join(f"{k} {v}" for k, v in p.bounds.items())
        click.echo(f"parameter {d.id}.{p.id} = {p.default!r} ({p.type}{', ' + bounds if bounds else ''}): {p.title}")
    for r in d.requirements:
        due = r.due_text()
        click.echo(f"\n{r.id}  [{r.severity}]  due {due}\n  {r.title}")
        click.echo(f"  rationale: {' '.join(r.rationale.split())}")
        click.echo("  remediation:\n" + "\n".join("    " + line for line in r.remediation.strip().splitlines()))
        refs = "; ".join(f"{k}: {', '.join(v)}" for k, v in r.references.items() if v)
        click.echo(f"  references: {refs}")


@directives.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path())
def directives_validate(files: tuple[str, ...]) -> None:
    """Validate directive files; one line per problem as file:line: $.path: message."""
    from directives import DirectiveError, load_file

    bad = 0
    for path in files:
        try:
            d = load_file(path)
        except DirectiveError as exc:
            bad += 1
            for problem in exc.problems:
                click.echo(problem, err=True)
            continue
        click.echo(f"{path}: ok ({d.id}, {len(d.requirements)} requirements)")
    sys.exit(EXIT_USAGE if bad else EXIT_OK)


# The agent as a fleet member: enrollment, the long-running mode, local status (agent.fleet).
LAZY_COMMANDS.update({"enroll": "agent.fleet:enroll", "run": "agent.fleet:run", "status": "agent.fleet:status"})
importlib.import_module("agent.directives_cli").register(main)  # directives coverage/profiles, scan --profile

if __name__ == "__main__":  # pragma: no cover
    main()
