"""Benchmark coverage and shipped profiles on the command line:

    fedharden directives coverage --against cis-debian12:l1_server [--format table|json|csv]
    fedharden directives profiles
    fedharden scan --profile cis-l1-server        (or --profile FILE: a copied, edited profile)

agent/cli.py calls ``register(main)`` once; this module adds the two subcommands to the
``directives`` group and the ``--profile`` option to ``scan``. A profile is a tailoring file,
so ``--profile`` hands ``scan`` the profile's path as its ``--tailoring`` file (the two are one
choice: giving both is a usage error)."""
from __future__ import annotations

import functools
import os
import sys
from typing import Any, Callable

import click


def register(main: click.Group) -> None:
    group = main.get_command(click.Context(main), "directives")
    scan = main.get_command(click.Context(main), "scan")
    assert isinstance(group, click.Group) and scan is not None and scan.callback is not None
    group.add_command(coverage)
    group.add_command(profiles)
    scan.params.append(click.Option(
        ["--profile"], metavar="NAME|FILE",
        help="A shipped profile (fedharden directives profiles: cis-l1-server, ...) or a copy of one: "
             "a tailoring file selecting the requirements mapped to a CIS level."))
    scan.callback = _with_profile(scan.callback)


def _with_profile(scan: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(scan)
    def run(*args: Any, profile: str | None = None, **kwargs: Any) -> Any:
        if profile is not None:
            if kwargs.get("tailoring_file"):
                _fail("--profile and --tailoring: give one (a profile is a tailoring file; copy it to tailor it)")
            kwargs["tailoring_file"] = profile_path(profile)
        return scan(*args, **kwargs)
    return run


def profile_path(value: str) -> str:
    """A shipped profile's file by name, or the file a path names; unknown names exit 2."""
    from directives.cis_profiles import PROFILES, path_of

    if value in PROFILES:
        return path_of(value)
    if os.sep in value or value.endswith((".yaml", ".yml")) or os.path.exists(value):
        if not os.path.isfile(value):
            _fail(f"--profile: {value}: no such file")
        return value
    _fail(f"--profile: unknown profile {value!r} (shipped: {', '.join(PROFILES)}; or the path of a copied profile)")
    raise AssertionError  # unreachable: _fail exits


def _fail(message: str) -> None:
    from agent.cli import fail

    fail(message)


@click.command("coverage")
@click.option("--against", "against", required=True, metavar="BENCHMARK[:LEVEL]",
              help="cis-debian12:l1_server, cis-debian12:l2_server, cis-debian12:l1_workstation, "
                   "cis-debian12:l2_workstation or stig-ubuntu2204.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--directives", "extra", multiple=True, type=click.Path(exists=True), metavar="PATH",
              help="Also count these directive files or folders.")
def coverage(against: str, fmt: str, extra: tuple[str, ...]) -> None:
    """Per control of a benchmark level: covered (by which requirements), partly covered (which
    mapped rules are missing), manual, or not covered; then totals."""
    from agent.cli import load_directives
    from directives.controls import parse_against
    from directives.coverage import RENDERERS, coverage as measure

    try:
        bench, level = parse_against(against)
    except ValueError as exc:
        _fail(f"--against: {exc}")
        return
    result = measure(bench, level, load_directives(extra))
    sys.stdout.write(RENDERERS[fmt](result))


@click.command("profiles")
def profiles() -> None:
    """The shipped profiles (scan --profile NAME), with how many requirements each selects."""
    from agent.cli import load_directives
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
