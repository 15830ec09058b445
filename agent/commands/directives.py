"""``fedharden directives list|show|validate``."""
from __future__ import annotations

import click

from agent import UsageError
from agent.commands.inputs import load_directives


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
