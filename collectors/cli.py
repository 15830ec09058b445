"""``fedharden collector ...``: serve, migrate, and administration on the database.

Imports only click at module level; the collector stack (an extra) loads inside the group, so
without it the command prints how to install it and exits 2.
"""
from __future__ import annotations

import importlib
import json
import os
import sys
from typing import Any, Callable

import click

EXTRA_HINT = "the collector needs its extra: pip install 'fedharden[collector]'"
STACK = ("fastapi", "uvicorn", "sqlalchemy", "alembic", "psycopg")
DB_ENV = "FEDHARDEN_COLLECTOR_DB"
EXIT_USAGE = 2


def fail(message: str) -> None:
    click.echo(f"fedharden: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _database(url: str | None) -> Any:
    from collectors.storage import DEFAULT_DB, Database

    return Database(url or os.environ.get(DB_ENV) or DEFAULT_DB, pool_size=2)


def db_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--db", "db_url", metavar="URL",
                        help=f"sqlite:///PATH (default: ./fedharden-collector.sqlite3) or postgresql://...; "
                             f"or ${DB_ENV}.")(f)


def guarded(f: Callable[..., Any]) -> Callable[..., Any]:
    """The CLI boundary: a collector or database error is one line and exit 2, never a traceback."""
    import functools

    @functools.wraps(f)
    def run(*args: Any, **kwargs: Any) -> Any:
        from sqlalchemy.exc import SQLAlchemyError

        from collectors import CollectorError
        from collectors.storage import redact

        try:
            return f(*args, **kwargs)
        except CollectorError as exc:
            fail(str(exc))
        except SQLAlchemyError as exc:
            url = kwargs.get("db_url") or os.environ.get(DB_ENV) or ""
            detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            fail(f"database {redact(url) if url else ''}: {detail}".replace(" :", ":"))

    return run


@click.group()
def collector() -> None:
    """The central collector: ingest reports, roll up progress, federate upstream."""
    for module in STACK:
        try:
            importlib.import_module(module)
        except ImportError:
            fail(EXTRA_HINT)


@collector.command()
@db_option
@guarded
def migrate(db_url: str | None) -> None:
    """Create or upgrade the database schema (idempotent)."""
    before, after = _database(db_url).migrate()
    click.echo(f"schema at {after}" + (f" (was {before or 'empty'})" if before != after else " (nothing to do)"))


@collector.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8600, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Processes; use several on PostgreSQL, one on SQLite.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), help="Serve HTTPS with this certificate (PEM).")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), help="... and this private key (PEM).")
@click.option("--db-pool", default=16, show_default=True, type=click.IntRange(1, 200),
              help="Database connections (and request threads) per worker.")
@click.option("--max-body", default=16 * 1024 * 1024, show_default=True, type=click.IntRange(1024),
              help="Largest accepted request body in bytes (413 above).")
@click.option("--snapshot-interval", default=300.0, show_default=True, type=float,
              help="Seconds between daily-history snapshots (0: off).")
@click.option("--retain-days", metavar="N", help="Delete reports and events older than N days, every hour "
              "(default: 400; see docs/collector.md, Retention).")
@click.option("--upstream", metavar="URL", help="National collector to forward this agency's rollups to.")
@click.option("--upstream-token-file", type=click.Path(exists=True, dir_okay=False),
              help="File holding the token the national collector issued to this agency "
                   "(or $FEDHARDEN_UPSTREAM_TOKEN).")
@click.option("--upstream-agency", metavar="CODE", help="Local agency whose rollups go upstream (default: the only one).")
@click.option("--upstream-detail", default="rollups", show_default=True, type=click.Choice(["rollups", "hosts"]),
              help="hosts: also forward each host's summary (hostname, OS, last scan, counts per directive; "
                   "never results or evidence).")
@click.option("--upstream-interval", default=300.0, show_default=True, type=float,
              help="Forward at least this often (seconds); changes go within a few seconds.")
@click.option("--directives-repo", metavar="DIR", type=click.Path(exists=True, file_okay=False),
              help="Serve this directive repository (TUF: metadata/ and targets/, as published) read-only "
                   "at /api/v1/tuf/.")
@click.option("--directives-upstream", metavar="URL",
              help="Mirror the directive repository served at URL (a collector's .../api/v1/tuf/), verified "
                   "with --directives-root, and serve it at /api/v1/tuf/.")
@click.option("--directives-root", metavar="FILE", type=click.Path(exists=True, dir_okay=False),
              help="The repository's root.json, obtained out of band: the mirror's root of trust.")
@click.option("--directives-local", metavar="DIR", type=click.Path(exists=True, file_okay=False),
              help="This agency's own target files (its delegated role's), served beside the mirror "
                   "once their hashes match the verified metadata.")
@click.option("--directives-dir", metavar="DIR", default="fedharden-directives", show_default=True,
              help="Where the mirror keeps its verified copy.")
@click.option("--directives-interval", default=300.0, show_default=True, type=click.FloatRange(1.0),
              help="Seconds between refreshes of the mirror (one at start).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@guarded
def serve(db_url: str | None, host: str, port: int, workers: int, tls_cert: str | None, tls_key: str | None,
          db_pool: int, max_body: int, snapshot_interval: float, retain_days: str | None, upstream: str | None,
          upstream_token_file: str | None, upstream_agency: str | None, upstream_detail: str,
          upstream_interval: float, directives_repo: str | None, directives_upstream: str | None,
          directives_root: str | None, directives_local: str | None, directives_dir: str,
          directives_interval: float, log_level: str) -> None:
    """Serve the collector API (loopback by default; HTTPS with --tls-cert and --tls-key)."""
    import uvicorn

    from collectors import ConfigError
    from collectors.app import Settings, upstream_agency as check_agency
    from collectors.retention import DEFAULT_RETAIN_DAYS, parse_days
    from collectors.storage import redact

    if bool(tls_cert) != bool(tls_key):
        raise ConfigError("--tls-cert and --tls-key go together")
    days = DEFAULT_RETAIN_DAYS if retain_days is None else parse_days(retain_days)
    token = os.environ.get("FEDHARDEN_UPSTREAM_TOKEN")
    if upstream_token_file:
        with open(upstream_token_file, encoding="utf-8") as fh:
            token = fh.read().strip()
    if upstream and not token:
        raise ConfigError("--upstream needs a token: --upstream-token-file or $FEDHARDEN_UPSTREAM_TOKEN")
    if upstream_detail != "rollups" and not upstream:
        raise ConfigError("--upstream-detail needs --upstream")
    directives = _directive_settings(directives_repo, directives_upstream, directives_root, directives_local,
                                     directives_dir, directives_interval)
    db = _database(db_url)
    if db.is_sqlite and workers > 1:
        raise ConfigError("--workers above 1 needs PostgreSQL (SQLite has one writer)")
    db.migrate()  # once here, so workers start on a ready schema
    if upstream:
        check_agency(db, upstream_agency)
    db.dispose()
    settings = Settings(db=db.url, max_body=max_body, snapshot_interval=snapshot_interval, retain_days=days,
                        upstream=upstream, upstream_token=token, upstream_agency=upstream_agency,
                        upstream_detail=upstream_detail, upstream_interval=upstream_interval, migrate=False,
                        pool_size=db_pool, **directives)
    os.environ.update(settings.to_env())
    scheme = "https" if tls_cert else "http"
    click.echo(f"fedharden collector on {scheme}://{host}:{port} (database {redact(db.url)}, "
               f"{workers} worker{'s' if workers > 1 else ''})", err=True)
    uvicorn.run("collectors.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                ssl_certfile=tls_cert, ssl_keyfile=tls_key, log_level=log_level, access_log=False,
                server_header=False, timeout_graceful_shutdown=10, log_config=_log_config(log_level))


def _directive_settings(repo: str | None, upstream: str | None, root: str | None, local: str | None, store: str,
                        interval: float) -> dict[str, Any]:
    """The directive repository's settings, checked: one source, and a root of trust for a mirror."""
    from collectors import ConfigError

    if repo and upstream:
        raise ConfigError("--directives-repo and --directives-upstream exclude each other: serve a repository "
                          "as published, or mirror one")
    if upstream:
        if not upstream.startswith(("http://", "https://")):
            raise ConfigError(f"--directives-upstream {upstream}: not an http:// or https:// URL")
        if not root:
            raise ConfigError("--directives-upstream needs --directives-root: the root.json the mirror verifies "
                              "the upstream with")
        _check_root(root)
    elif local or root:
        raise ConfigError(f"{'--directives-local' if local else '--directives-root'} needs --directives-upstream")
    if repo and not os.path.isdir(os.path.join(repo, "metadata")):
        raise ConfigError(f"--directives-repo {repo}: no metadata/ folder (a TUF repository as published)")
    absolute = {k: os.path.abspath(v) if v else None for k, v in (("directives_repo", repo), ("directives_root", root),
                                                                 ("directives_local", local))}
    return {**absolute, "directives_upstream": upstream, "directives_dir": os.path.abspath(store),
            "directives_interval": interval}


def _check_root(path: str) -> None:
    """--directives-root is a TUF root signed by a threshold of its own keys, or one line and exit 2."""
    from tuf.api.metadata import Metadata, Root

    from collectors import ConfigError

    try:
        with open(path, "rb") as fh:
            md = Metadata[Root].from_bytes(fh.read())
        if not isinstance(md.signed, Root):
            raise ValueError(f"{md.signed.type} metadata, not root")
        md.verify_delegate(Root.type, md)
    except Exception as exc:  # noqa: BLE001 (python-tuf raises several kinds for a bad file)
        detail = " ".join(str(exc).split()) or exc.__class__.__name__
        raise ConfigError(f"--directives-root {path}: not a TUF root signed by its own keys: {detail}") from None


def _log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging, plus the collector's own loggers (retention counts, federation
    failures) at the same level on the same standard error."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["fedharden"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return config


@collector.command()
@db_option
@guarded
def snapshot(db_url: str | None) -> None:
    """Record today's rollups in the daily history now (serve does it every few minutes)."""
    from collectors.rollups import snapshot as take

    click.echo(f"recorded {take(_database(db_url))} requirement rows for today")


@collector.command()
@db_option
@click.option("--retain-days", metavar="N", help="Delete reports and events older than N days (default: 400).")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@guarded
def prune(db_url: str | None, retain_days: str | None, dry_run: bool) -> None:
    """Delete reports and events older than the retention window (serve does it every hour).

    A host's current report is always kept; so are results, hosts and rollups."""
    from collectors.retention import DEFAULT_RETAIN_DAYS, parse_days, prune as run

    days = DEFAULT_RETAIN_DAYS if retain_days is None else parse_days(retain_days)
    for line in run(_database(db_url), days, dry_run=dry_run).lines():
        click.echo(line)


@collector.group()
def agency() -> None:
    """Agencies whose hosts report here."""


@agency.command("add")
@click.argument("code")
@click.option("--name", default="", help="Full name (default: the code).")
@db_option
@guarded
def agency_add(code: str, name: str, db_url: str | None) -> None:
    """Add an agency (CODE: letters, digits, '-', '_', '.')."""
    from collectors.admin import add_agency

    db = _database(db_url)
    db.migrate()
    with db.write() as conn:
        add_agency(conn, code, name)
    click.echo(f"agency {code} added")


@agency.command("list")
@click.option("--json", "as_json", is_flag=True)
@db_option
@guarded
def agency_list(as_json: bool, db_url: str | None) -> None:
    from collectors.admin import list_agencies

    with _database(db_url).read() as conn:
        rows = list_agencies(conn)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['code']:<16} {r['hosts']:>7} hosts  {r['name']}")


@collector.group()
def token() -> None:
    """Tokens by role (agent, soc, national, admin) and agency enrollment secrets."""


def _show_once(token_id: int, secret: str, what: str) -> None:
    click.echo(f"{what} {token_id} created; it is shown only this once:", err=True)
    click.echo(secret)


@token.command("create")
@click.option("--role", required=True, type=click.Choice(["soc", "national", "admin"]),
              help="soc reads one agency; national reads every agency's rollups; admin everything. "
                   "Agent tokens come from enrollment.")
@click.option("--agency", metavar="CODE", help="The agency of a soc token.")
@click.option("--name", default="", help="Who or what holds it.")
@db_option
@guarded
def token_create(role: str, agency: str | None, name: str, db_url: str | None) -> None:
    """Create a token and print it once (only its hash is stored)."""
    from collectors import ConfigError
    from collectors.admin import issue

    if role == "soc" and not agency:
        raise ConfigError("--role soc needs --agency")
    with _database(db_url).write() as conn:
        token_id, secret = issue(conn, role, agency, name)
    _show_once(token_id, secret, f"{role} token")


@token.command("enrollment")
@click.option("--agency", metavar="CODE", required=True)
@click.option("--name", default="", help="Where it is used (e.g. the deployment that carries it).")
@db_option
@guarded
def token_enrollment(agency: str, name: str, db_url: str | None) -> None:
    """Create an agency's enrollment secret: hosts POST it to /api/v1/enroll to get their agent token."""
    from collectors.admin import enrollment_secret

    with _database(db_url).write() as conn:
        token_id, secret = enrollment_secret(conn, agency, name)
    _show_once(token_id, secret, "enrollment secret")


@token.command("list")
@click.option("--json", "as_json", is_flag=True)
@db_option
@guarded
def token_list(as_json: bool, db_url: str | None) -> None:
    """Tokens without their secrets."""
    from collectors.admin import list_tokens

    with _database(db_url).read() as conn:
        rows = list_tokens(conn)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        state = f"revoked {r['revoked_at']}" if r["revoked_at"] else "active"
        scope = r["host"] or r["agency"] or "-"
        click.echo(f"{r['id']:>6}  {r['role']:<8} {scope:<34} {state:<28} {r['name']}")


@token.command("revoke")
@click.argument("token_id", type=int)
@db_option
@guarded
def token_revoke(token_id: int, db_url: str | None) -> None:
    """Revoke a token or enrollment secret by id (see `token list`). Every server process
    stops accepting it within 5 seconds (the token cache's bound)."""
    from collectors.admin import revoke

    with _database(db_url).write() as conn:
        revoke(conn, token_id, _actor())
    click.echo(f"token {token_id} revoked")


def _actor() -> str:
    """Who runs an administrative command, for the audit table: the operating-system user."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (a container)
        return f"cli:uid {os.getuid()}"


@collector.group()
def host() -> None:
    """Enrolled hosts."""


@host.command("release")
@click.argument("host_id")
@db_option
@guarded
def host_release(host_id: str, db_url: str | None) -> None:
    """Let another install enroll HOST_ID (after a reinstall that lost its state directory).
    The old install's token keeps working until that enrollment. Recorded in the audit table."""
    from collectors.admin import release_host

    with _database(db_url).write() as conn:
        release_host(conn, host_id, _actor())
    click.echo(f"host {host_id} released: the next enrollment claims it")


@host.command("reset")
@click.argument("host_id")
@db_option
@guarded
def host_reset(host_id: str, db_url: str | None) -> None:
    """Take HOST_ID back from whoever holds it: revoke its agent tokens, forget its install and
    its chain of reports; the next enrollment claims it. Recorded in the audit table."""
    from collectors.admin import reset_host

    with _database(db_url).write() as conn:
        revoked = reset_host(conn, host_id, _actor())
    click.echo(f"host {host_id} reset: {revoked} agent token(s) revoked; the next enrollment claims it")


@collector.command("audit")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@db_option
@guarded
def audit_list(limit: int, as_json: bool, db_url: str | None) -> None:
    """The latest administrative actions on hosts and tokens, newest first."""
    from collectors.admin import list_audit

    with _database(db_url).read() as conn:
        rows = list_audit(conn, limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['at']}  {r['actor']:<24} {r['action']:<14} {r['subject']}  {r['detail']}")
