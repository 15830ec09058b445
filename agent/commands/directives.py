"""``fedharden directives list|show|validate|coverage|profiles``, and signed distribution:
``keys init|rotate``, ``publish``, ``delegate``, ``import``, ``renew``, ``bundle`` (the
repository side, directives.tufrepo) and ``update``, ``trust``, ``status`` (the agent's side,
agent.directive_updates)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from agent import UsageError
from agent.commands.inputs import load_directives
from agent.commands.options import state_dir_option
from checks.fixes import summary


@click.group()
def directives() -> None:
    """List, show and validate directives; publish and update signed ones."""


@directives.command("list")
@click.option("--directives", "extra", multiple=True, type=click.Path(exists=True), metavar="PATH")
@state_dir_option
def directives_list(extra: tuple[str, ...], state_dir: str) -> None:
    """The directives fedharden evaluates, with their deadlines (signed updates included)."""
    for d in load_directives(extra, state_dir):
        dues = sorted({str(r.due_date()) for r in d.requirements if r.due_date()})
        due = f"due {dues[0]}" if len(dues) == 1 else (f"due {dues[0]}..{dues[-1]}" if dues else "due per finding")
        click.echo(f"{d.id:<16} {len(d.requirements):>3} requirements  issued {d.issued}  {due}  {d.title}")


@directives.command("show")
@click.argument("directive_id")
@click.option("--directives", "extra", multiple=True, type=click.Path(exists=True), metavar="PATH")
@state_dir_option
def directives_show(directive_id: str, extra: tuple[str, ...], state_dir: str) -> None:
    """Every requirement of one directive: what is checked, why, how to fix it, by when."""
    loaded = {d.id: d for d in load_directives(extra, state_dir)}
    if directive_id not in loaded:
        raise UsageError(f"unknown directive {directive_id} (known: {', '.join(sorted(loaded))})")
    d = loaded[directive_id]
    version = f"  version: {d.version}" if d.version else ""
    click.echo(f"{d.id}: {d.title}\nissuer: {d.issuer}  kind: {d.kind}  issued: {d.issued}{version}")
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


# -- signed distribution (The Update Framework): docs/directives.md ------------------------------------

def _repo_option(f: Any) -> Any:
    return click.option("--repo", required=True, type=click.Path(file_okay=False), metavar="REPO",
                        help="The TUF repository directory (metadata/ and targets/).")(f)


def _keys_option(f: Any) -> Any:
    return click.option("--keys", "--key", "keys", required=True, type=click.Path(file_okay=False), metavar="KEYDIR",
                        help="The directory of signing keys (<role>.pem, <role>.pub.json).")(f)


@directives.group("keys")
def keys() -> None:
    """Make and rotate the signing keys of a directive repository."""


@keys.command("init")
@_keys_option
@click.option("--repo", type=click.Path(file_okay=False), metavar="REPO",
              help="Also create the repository, signed with the new keys (CISA's side).")
@click.option("--root-keys", default=1, show_default=True, type=click.IntRange(1, 16),
              help="How many root keys (each kept offline by its own holder).")
@click.option("--threshold", default=1, show_default=True, type=click.IntRange(1, 16),
              help="How many root keys must sign a new root.")
@click.option("--agency", metavar="CODE", help="Make only this agency's key (agency-CODE), for its delegation.")
def keys_init(keys: str, repo: str | None, root_keys: int, threshold: int, agency: str | None) -> None:
    """New Ed25519 keys: root, targets, snapshot and timestamp with --repo, or an agency's with --agency."""
    from directives import tufrepo

    if (repo is None) == (agency is None):
        raise UsageError("keys init: give --repo REPO (CISA's keys and repository) or --agency CODE (an agency's key)")
    if agency is not None:
        key = tufrepo.KeyDir(Path(keys)).generate(tufrepo.agency_role(tufrepo.check_agency(agency)))
        click.echo(f"{keys}/{tufrepo.agency_role(agency)}.pem: key {key.keyid}; give "
                   f"{keys}/{tufrepo.agency_role(agency)}.pub.json to CISA for the delegation")
        return
    assert repo is not None
    tufrepo.init(Path(repo), Path(keys), root_keys=root_keys, threshold=threshold)
    click.echo(f"{repo}: root version 1 ({threshold} of {root_keys} root keys), empty targets; keys in {keys} "
               "(move the root keys offline)")


@keys.command("rotate")
@_repo_option
@_keys_option
@click.option("--role", required=True, type=click.Choice(["root", "targets", "snapshot", "timestamp"]))
def keys_rotate(repo: str, keys: str, role: str) -> None:
    """Replace a role's keys: a new root version signed by the old root keys (and the new ones
    for root); the old private keys move to KEYDIR/retired/."""
    from directives import tufrepo

    version = tufrepo.rotate(Path(repo), Path(keys), role)
    click.echo(f"{repo}: {role} keys rotated; root version {version}")


@directives.command("publish")
@click.argument("source", type=click.Path(file_okay=False))
@_repo_option
@_keys_option
@click.option("--agency", metavar="CODE",
              help="Publish as this agency's delegated role (agency/CODE/...), signed with its key.")
def publish(source: str, repo: str, keys: str, agency: str | None) -> None:
    """Sign the directives of SOURCE (files, folders, data/, profiles/) into REPO: CISA's
    top-level targets, or with --agency that agency's delegated role."""
    from directives import tufrepo

    if agency is None:
        done = tufrepo.publish(Path(repo), Path(keys), Path(source))
        where = f"targets version {done.version}"
    else:
        done, path = tufrepo.publish_agency(Path(repo), Path(keys), agency, Path(source))
        where = f"{done.role} version {done.version} in {path}; CISA imports it with fedharden directives import"
    from directives.versions import shown

    for did, version in done.directives:
        click.echo(f"{did:<16} version {shown(version)}")
    click.echo(f"{repo}: {len(done.files)} files signed, {where}")


@directives.command("delegate")
@click.argument("agency")
@click.option("--agency-key", required=True, type=click.Path(dir_okay=False), metavar="AGENCY.pub.json",
              help="The agency's public key (keys init --agency writes it).")
@_repo_option
@_keys_option
def delegate(agency: str, agency_key: str, repo: str, keys: str) -> None:
    """Delegate agency/AGENCY/* to the agency's key (replacing an earlier one)."""
    from directives import tufrepo

    version = tufrepo.delegate(Path(repo), Path(keys), agency, Path(agency_key))
    click.echo(f"{repo}: agency/{agency}/* delegated to {tufrepo.agency_role(agency)}; targets version {version}")


@directives.command("import")
@click.argument("metadata", type=click.Path(dir_okay=False))
@_repo_option
@_keys_option
@click.option("--agency", metavar="CODE", help="The agency (default: from the file name N.agency-CODE.json).")
def import_agency(metadata: str, repo: str, keys: str, agency: str | None) -> None:
    """Take an agency's signed role metadata into the national snapshot, after checking its
    signature, paths, version and expiry."""
    from directives import tufrepo

    version = tufrepo.import_agency(Path(repo), Path(keys), Path(metadata), code=agency)
    click.echo(f"{repo}: {Path(metadata).name} imported (version {version}); new snapshot and timestamp")


@directives.command("renew")
@_repo_option
@_keys_option
@click.option("--root", "root", is_flag=True, help="Renew the root instead (a threshold of the root keys; yearly).")
def renew(repo: str, keys: str, root: bool) -> None:
    """A new snapshot and timestamp with the online keys (daily: hosts refuse expired ones)."""
    from directives import tufrepo

    if root:
        click.echo(f"{repo}: root version {tufrepo.renew_root(Path(repo), Path(keys))}")
        return
    version = tufrepo.renew(tufrepo.Repository(Path(repo)), tufrepo.KeyDir(Path(keys)))
    click.echo(f"{repo}: snapshot version {version}, timestamp renewed")


@directives.command("bundle")
@_repo_option
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False), metavar="BUNDLE.tar")
@click.option("--agency", metavar="CODE", help="Also carry this agency's own directives.")
def bundle(repo: str, output: str, agency: str | None) -> None:
    """The repository as an air-gapped host needs it, in one tar (directives update --from)."""
    from directives import tufrepo

    members = tufrepo.bundle(Path(repo), Path(output), agency=agency)
    click.echo(f"{output}: {len(members)} files")


@directives.command("update")
@click.option("--from", "bundle_file", type=click.Path(dir_okay=False), metavar="BUNDLE.tar",
              help="Read the repository from a bundle (air-gapped) instead of the collector.")
@click.option("--url", metavar="URL", help="The repository's URL (default: the enrolled collector's /api/v1/tuf/).")
@click.option("--agency", metavar="CODE", help="Also this agency's directives (default: the agency enrolled with).")
@click.option("--trusted-root", type=click.Path(dir_okay=False), metavar="ROOT.json",
              help="Start the chain of trust from this root (only when this agent trusts none yet).")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing when the update succeeds.")
@state_dir_option
def update(bundle_file: str | None, url: str | None, agency: str | None, trusted_root: str | None, quiet: bool,
           state_dir: str) -> None:
    """Fetch, verify (The Update Framework) and install signed directives; the set in force
    changes only when everything verifies."""
    from agent import directive_updates as du

    root = Path(trusted_root) if trusted_root else None
    if agency is None and (bundle_file or url):
        agency = _enrolled_agency(state_dir)
    if bundle_file:
        outcome = du.install_bundle(Path(bundle_file), Path(state_dir), agency=agency, trusted_root=root)
    elif url:
        outcome = du.refresh(url, Path(state_dir), agency=agency, trusted_root=root)
    else:
        outcome = du.refresh_enrolled(Path(state_dir), agency=agency, trusted_root=root)
    if not quiet:
        for line in outcome.lines():
            click.echo(line)
        versions = ", ".join(f"{role} {v}" for role, v in sorted(outcome.versions.items()))
        click.echo(f"installed {outcome.generation} from {outcome.source} ({versions})")


def _enrolled_agency(state_dir: str) -> str | None:
    """The agency in this host's credential, if it enrolled with one."""
    from agent.credential import NotEnrolled, load
    from agent.state import StateDir

    try:
        return load(StateDir(state_dir)).agency or None
    except NotEnrolled:
        return None


@directives.command("trust")
@click.argument("root", type=click.Path(dir_okay=False))
@state_dir_option
def trust(root: str, state_dir: str) -> None:
    """Trust ROOT.json (a root signed by its own keys) instead of the shipped root; the
    metadata trusted so far is dropped and the next update starts from it."""
    from agent import directive_updates as du

    version = du.trust(Path(root), Path(state_dir))
    click.echo(f"{state_dir}: trusting {root} (root version {version}); run fedharden directives update")


@directives.command("status")
@state_dir_option
def status(state_dir: str) -> None:
    """The signed directives installed: each one's version, origin and whether it is in force;
    each role's version, expiry and signing keys."""
    import datetime as dt

    from agent import directive_store as store
    from directives import load_library
    from directives.versions import shown

    installed = store.current(Path(state_dir))
    if installed is None:
        click.echo(f"no signed directives installed in {state_dir}; the shipped library is in force "
                   "(fedharden directives update)")
        return
    m = installed.manifest
    click.echo(f"installed {m['installed_at']} from {m['source']}" + (f" (agency {m['agency']})" if m.get("agency") else ""))
    now = dt.datetime.now(dt.timezone.utc)
    for role, info in sorted(m["roles"].items()):
        expires = dt.datetime.fromisoformat(info["expires"])
        state = "EXPIRED" if expires <= now else "expires"
        keys = ", ".join(k[:16] for k in info["signed_by"])
        click.echo(f"  {role:<14} version {info['version']:<5} {state} {info['expires']}  signed by {keys}")
    from directives import DirectiveError

    try:
        merged, notes = store.merge(load_library(), store.load(installed))
    except DirectiveError as exc:  # the scan warns the same way and evaluates the shipped library
        merged, notes = [], [f"the installed set does not load ({exc.problems[0]}): none of it is in force"]
    in_force = {d.id: d.digest for d in merged}
    for d in installed.directives:
        used = "in force" if in_force.get(d.id) == d.digest else "not used"
        click.echo(f"{d.id:<16} version {shown(d.version):<5} {d.origin:<14} {used}")
    for note in notes:
        click.echo(f"  {note}")
