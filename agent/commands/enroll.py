"""``fedharden enroll``: register this host, a mounted root, or hosts over SSH with a collector.

Exit codes: 0 enrolled; 2 something to fix (an option, the secret, the collector's refusal);
3 the collector (or a host over SSH) could not be reached, or some inventory host was not
enrolled.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import click

from agent.commands.options import state_dir_option, target_options
from agent.fleet import SECRET_ENV

if TYPE_CHECKING:
    from agent.target import Target


@click.command()
@click.option("--collector", "url", required=True, metavar="URL", help="The collector's base URL (https).")
@click.option("--secret", default=None, envvar=SECRET_ENV, metavar="SECRET",
              help=f"The agency's enrollment secret (better: ${SECRET_ENV} or --secret-file).")
@click.option("--secret-file", type=click.Path(exists=True, dir_okay=False), help="Read the enrollment secret here.")
@click.option("--agency", default=None, metavar="CODE", help="Expected agency; enrollment fails if the secret's differs.")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False),
              help="Verify the collector's certificate against this CA (PEM) instead of the system's.")
@click.option("--pin-sha256", default=None, metavar="HEX", help="Also require the collector certificate's SHA-256.")
@state_dir_option
@target_options("enroll", "enrolled", "enrollments",
                "Enroll the system whose root filesystem is here (its machine-id is the identity).")
@click.pass_context
def enroll(ctx: click.Context, target: Target, url: str, secret: str | None, secret_file: str | None,
           agency: str | None, ca_file: str | None, pin_sha256: str | None, state_dir: str) -> None:
    """Register this host (or hosts over SSH) with a collector and keep each one's credential
    (mode 0600) in the state directory."""
    from agent.contract import EXIT_COULD_NOT_COMPLETE, EXIT_OK
    from agent.fleet import collector_access, enroll_here, enrollment_secret
    from agent.state import StateDir

    access = collector_access(url, enrollment_secret(secret, secret_file), agency, ca_file, pin_sha256)
    sd = StateDir(state_dir)
    if target.kind == "ssh":
        from agent.remote_fleet import enroll_one, enrolled_line

        cred, warnings = enroll_one(sd, access, target)
        for warning in warnings:
            click.echo(f"fedharden: warning: {warning}", err=True)
        click.echo(f"{enrolled_line(cred)} at {cred.collector}; credential in "
                   f"{sd.remote(cred.host_id).credential_file}")
        return
    if target.kind == "inventory":
        from agent.remote_fleet import enroll_inventory

        enrollments = enroll_inventory(sd, access, target)
        done: list[bool] = []
        total = len(enrollments.entries)
        for entry, ok, line in enrollments.outcomes:
            done.append(ok)
            click.echo(f"[{len(done)}/{total}] {entry.name}: {line}")
        click.echo(f"{len(done)} hosts: {done.count(True)} enrolled, {done.count(False)} not enrolled "
                   f"(credentials in {sd.remote_dir})")
        ctx.exit(EXIT_OK if all(done) else EXIT_COULD_NOT_COMPLETE)
    cred = enroll_here(sd, target, access)
    click.echo(f"enrolled host {cred.host_id} ({cred.hostname}) in agency {cred.agency} at {cred.collector}; "
               f"credential in {sd.credential_file}")
