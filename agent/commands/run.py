"""``fedharden run``: the long-running agent (agent.runner), or one cycle of it (``--once``)."""
from __future__ import annotations

import os

import click

from agent.commands.options import retry_backoff, retry_option, state_dir_option


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--interval", default=3600.0, show_default=True, type=click.FloatRange(1.0),
              help="Seconds between scans.")
@click.option("--splay", default=300.0, show_default=True, type=click.FloatRange(0.0),
              help="Up to this many seconds added at random to each interval, so a fleet does not scan in step.")
@click.option("--once", is_flag=True, help="One scan and submission, then exit with the scan's exit code.")
@click.option("--directive-updates/--no-directive-updates", default=True, show_default=True,
              help="Before each scan, update the signed directives from the collector (fedharden directives update).")
@state_dir_option
@retry_option
@click.argument("scan_args", nargs=-1, type=click.UNPROCESSED, metavar="[SCAN OPTIONS]...")
@click.pass_context
def run(ctx: click.Context, interval: float, splay: float, once: bool, directive_updates: bool, state_dir: str,
        retry_delay: float, scan_args: tuple[str, ...]) -> None:
    """Scan on start, then every interval (plus a random splay), submitting each time; stop on SIGTERM.
    Before each scan, the signed directives are updated from the collector enrolled with.

    Other options are those of ``fedharden scan`` (--root, --directive, --waivers, --walk, --ssh,
    --inventory, ...)."""
    from agent.fleet import preflight
    from agent.runner import Runner
    from agent.state import StateDir

    # Hosts scanned over SSH submit through their own credentials, not this host's.
    remote = any(a.split("=", 1)[0] in ("--ssh", "--inventory") for a in scan_args)
    preflight(state_dir, remote)
    args = ["scan", "--submit", "--quiet", "--state-dir", os.path.abspath(state_dir),
            "--retry-delay", repr(retry_delay), *scan_args]
    # Hosts scanned over SSH use the scanning host's directives: it updates them if it is enrolled itself.
    enrolled = StateDir(state_dir).credential_file.exists()
    before = ["directives", "update", "--quiet", "--state-dir", os.path.abspath(state_dir)] \
        if directive_updates and (enrolled or not remote) else []
    runner = Runner(args, StateDir(state_dir), retry_backoff(retry_delay), interval=interval, splay=splay,
                    before_args=before)
    ctx.exit(runner.cycle() if once else runner.run())
