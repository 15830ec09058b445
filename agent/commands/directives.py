"""``fedharden directives list|show|validate|coverage|profiles``."""
from __future__ import annotations

import sys

import click

from agent import UsageError
from agent.commands.inputs import load_directives
from checks.fixes import summary


@click.group()
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
        raise UsageError(f"unknown directive {directive_id} (known: {', '.join(sorted(loaded))})")
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
        if r.fix is not None:
            click.echo(f"  fix: {summary(r.fix)}")
        refs = "; ".join(f"{k}: {', '.join(v)}" for k, v in r.references.items() if v)
        click.echo(f"  references: {refs}")


@directives.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.pass_context
def directives_validate(ctx: click.Context, files: tuple[str, ...]) -> None:
    """Validate directive files; one line per problem as file:line: $.path: message."""
    from agent.contract import EXIT_OK, EXIT_USAGE
    from directives import DirectiveError, load_file

    bad = 0
    for path in files:
        try:
            d = load_file(path)
        except DirectiveError as exc:  # every file is checked: its problems, then the next file
            bad += 1
            for problem in exc.problems:
                click.echo(problem, err=True)
            continue
        click.echo(f"{path}: ok ({d.id}, {len(d.requirements)} requirements)")
    ctx.exit(EXIT_USAGE if bad else EXIT_OK)


@directives.command("coverage")
@click.option("--against", "against", required=True, metavar="BENCHMARK[:LEVEL]",
              help="cis-debian12:l1_server, cis-debian12:l2_server, cis-debian12:l1_workstation, "
                   "cis-debian12:l2_workstation or stig-ubuntu2204.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--directives", "extra", multiple=True, type=click.Path(exists=True), metavar="PATH",
              help="Also count these directive files or folders.")
def coverage(against: str, fmt: str, extra: tuple[str, ...]) -> None:
    """Per control of a benchmark level: covered (by which requirements), partly covered (which
    mapped rules are missing), manual, or not covered; then totals."""
    from directives.controls import parse_against
    from directives.coverage import RENDERERS, coverage as measure

    try:
        bench, level = parse_against(against)
    except ValueError as exc:
        raise UsageError(f"--against: {exc}") from None
    sys.stdout.write(RENDERERS[fmt](measure(bench, level, load_directives(extra))))


@directives.command("profiles")
def profiles() -> None:
    """The shipped profiles (scan --profile NAME), with how many requirements each selects."""
    from directives.cis_profiles import PROFILES, path_of
    from directives.controls import benchmark
    from directives.coverage import coverage as measure
    from directives.tailoring import load_tailoring

    loaded = load_directives(())
    for name, (bench_name, level, title) in PROFILES.items():
        tailoring = load_tailoring(path_of(name), loaded)
        totals = measure(benchmark(bench_name), level, loaded).totals
        click.echo(f"{name:<20} {len(tailoring.select):>3} requirements  {totals['fully_covered']:>3} of "
                   f"{totals['automated']} automated controls fully covered  {title}")
