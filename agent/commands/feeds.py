"""``fedharden feeds``: update the vulnerability feeds and show their state."""
from __future__ import annotations

import datetime as dt
import json

import click

from agent import ScanError

FEEDS_DIR_HELP = "Feed store directory (default: $FEDHARDEN_FEEDS_DIR, /var/lib/fedharden/feeds as root, " \
                 "else ~/.local/state/fedharden/feeds)."


@click.group()
def feeds() -> None:
    """Update the vulnerability feeds (KEV, distro fix data, SSVC) and show their age."""


@feeds.command("update")
@click.option("--from", "sources", multiple=True, metavar="DIR_OR_URL",
              help="Read feed files from this directory, file or URL instead of the public feeds (repeatable); "
                   "files are recognized by their content.")
@click.option("--feeds-dir", type=click.Path(file_okay=False), help=FEEDS_DIR_HELP)
def update_command(sources: tuple[str, ...], feeds_dir: str | None) -> None:
    """Fetch the feeds (or read them with --from), validate them and switch to them at once."""
    from agent.feeds.store import FeedStore
    from agent.feeds.update import update

    store = FeedStore.configured(feeds_dir)
    store.explicit = False  # update creates the directory
    try:
        installed, collected = update(store, sources)
    except ScanError as exc:
        raise ScanError(f"feeds update could not complete: {exc}") from exc
    for info in installed:
        click.echo(f"{info.name:<15} {info.title} {info.version}  ({info.detail})  from {info.source}")
    if collected.ignored:
        shown = ", ".join(collected.ignored[:5]) + (" ..." if len(collected.ignored) > 5 else "")
        click.echo(f"ignored {len(collected.ignored)} file(s) that are not feeds: {shown}")
    click.echo(f"feed store: {store.directory}")


@feeds.command("status")
@click.option("--feeds-dir", type=click.Path(file_okay=False), help=FEEDS_DIR_HELP)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def status_command(feeds_dir: str | None, fmt: str) -> None:
    """Each feed in effect: source, version, age, and whether it is older than 24 hours."""
    from agent.feeds.store import FeedStore, human_age

    store = FeedStore.configured(feeds_dir)
    now = dt.datetime.now(dt.timezone.utc)
    found = store.feeds()
    if fmt == "json":
        click.echo(json.dumps({"directory": store.directory, "feeds": [f.to_report(now) for f in found.values()]},
                              indent=2))
        return
    click.echo(f"feed store: {store.directory}{'' if store.generation() else ' (empty: using the shipped snapshot)'}")
    for info in found.values():
        age = info.age(now)
        shown = human_age(age) if age is not None else "unknown age"
        flag = "  STALE (older than 24 hours)" if info.stale(now) else ""
        click.echo(f"{info.name:<15} {info.version:<18} {shown:>10} old{flag}\n"
                   f"{'':<15} {info.title}: {info.detail}; source: {info.source}")
    missing = [n for n in ("debian-tracker", "osv") if n not in found]
    if len(missing) == 2:
        click.echo("no distro fix data: KEV CVEs cannot be matched to installed packages "
                   "(run `fedharden feeds update`)")
