"""``fedharden status``: this agent's enrollment, last scan, last report and spool."""
from __future__ import annotations

import json

import click

from agent.commands.options import state_dir_option


@click.command()
@state_dir_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable.")
def status(state_dir: str, as_json: bool) -> None:
    """Enrollment, last scan, last report and spool depth (never the token)."""
    from agent.fleet import status as read_status

    doc = read_status(state_dir)
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    for key, value in doc.items():
        click.echo(f"{key:<14} {value if value is not None else '-'}")
