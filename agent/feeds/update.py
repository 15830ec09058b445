"""Collect feed files, recognize them by content, validate them and stage them for the store.

Sources: a local directory (walked recursively; zip archives such as OSV's ``all.zip`` are
read too), a URL (one file, for example a collector's copy), or the feeds' public
addresses. A file is recognized by what it contains, whatever its name: a KEV catalog, the
Debian tracker export, OSV advisories, or CVE JSON 5 records with CISA's SSVC. Distro and
SSVC data are cut down to the KEV catalog's CVEs, which keeps the store small and scans fast.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from typing import Any, Iterator

from agent.feeds import FeedError, debian, kev, osv, vulnrichment
from agent.feeds.store import FeedInfo, FeedStore
from agent import ScanError

TIMEOUT = 60.0
PUBLIC = (kev.URL, debian.URL)


class FeedUnavailable(ScanError):
    """A feed could not be fetched (network, HTTP status): the update could not complete (exit 3)."""


@dataclass
class Collected:
    kev: tuple[dict[str, Any], bytes, str, dt.datetime | None] | None = None  # data, raw, source, checked_at
    debian: tuple[dict[str, Any], str, dt.datetime | None] | None = None
    osv: list[dict[str, Any]] = field(default_factory=list)
    osv_sources: list[str] = field(default_factory=list)
    ssvc: dict[str, dict[str, str]] = field(default_factory=dict)
    ssvc_sources: int = 0
    ignored: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.kev or self.debian or self.osv or self.ssvc)


def _parse(name: str, raw: bytes) -> Any:
    """JSON, or None for files that are plainly not JSON (a README). Broken JSON is an error."""
    head = raw.lstrip()[:1]
    if head not in (b"{", b"["):
        if name.endswith(".json"):
            raise FeedError(f"{name}: corrupt: not JSON")
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise FeedError(f"{name}: corrupt: not JSON: {exc}") from None


def add(collected: Collected, name: str, raw: bytes, checked_at: dt.datetime | None) -> None:
    """Recognize one file by content and keep it; unrecognized files are listed as ignored."""
    if raw[:4] == b"PK\x03\x04":
        try:
            archive = zipfile.ZipFile(io.BytesIO(raw))
            members = [m for m in archive.namelist() if not m.endswith("/")]
            for member in sorted(members):
                add(collected, f"{name}:{member}", archive.read(member), checked_at)
        except (zipfile.BadZipFile, OSError) as exc:
            raise FeedError(f"{name}: corrupt zip archive: {exc}") from None
        return
    data = _parse(name, raw)
    if data is None:
        collected.ignored.append(name)
    elif kev.looks_like(data):
        kev.validate(data, name)
        if collected.kev is None or kev.released(data) >= kev.released(collected.kev[0]):
            collected.kev = (data, raw, name, checked_at)
    elif vulnrichment.looks_like(data):
        found = vulnrichment.decision(data)
        if found:
            collected.ssvc[found[0]] = found[1]
            collected.ssvc_sources += 1
    elif osv.looks_like(data):
        items = osv.advisories(data)
        collected.osv.extend(items)
        collected.osv_sources.append(name)
    elif debian.looks_like(data):
        debian.validate(data, name)
        collected.debian = (data, name, checked_at)
    else:
        collected.ignored.append(name)


def _mtime(path: str) -> dt.datetime:
    return dt.datetime.fromtimestamp(os.stat(path).st_mtime, dt.timezone.utc)


def walk(directory: str) -> Iterator[str]:
    for base, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield os.path.join(base, name)


def collect_dir(collected: Collected, directory: str) -> None:
    for path in walk(directory):
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
        except OSError as exc:
            raise FeedError(f"{path}: cannot read: {exc.strerror or exc}") from None
        # What a local file proves about its freshness: KEV and OSV carry their own dates; a
        # Debian tracker export does not, so its modification time stands for it.
        add(collected, os.path.abspath(path), raw, _mtime(path))


def collect_url(collected: Collected, url: str, session: Any) -> None:
    try:
        response = session.get(url, timeout=TIMEOUT)
    except Exception as exc:  # requests' exception tree, without importing requests here
        reason = str(exc)
        if "Failed to resolve" in reason or "Name or service not known" in reason:
            reason = "the host name does not resolve (offline? use --from DIR)"
        raise FeedUnavailable(f"{url}: cannot fetch: {type(exc).__name__}: {reason[:200]}") from None
    if response.status_code != 200:
        raise FeedUnavailable(f"{url}: cannot fetch: HTTP {response.status_code}")
    checked = dt.datetime.now(dt.timezone.utc)
    modified = response.headers.get("Last-Modified")
    if modified:
        from email.utils import parsedate_to_datetime

        try:
            checked = min(checked, parsedate_to_datetime(modified))
        except (TypeError, ValueError):
            pass
    add(collected, url, response.content, checked)


def _latest(values: list[str]) -> dt.datetime | None:
    out = None
    for text in values:
        try:
            value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            continue
        value = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        out = value if out is None or value > out else out
    return out


def _minutes(value: dt.datetime | None) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%MZ") if value else "unknown"


def stage(collected: Collected, store: FeedStore) -> list[tuple[FeedInfo, bytes]]:
    """Validated feed files ready for ``store.install``, cut down to the KEV catalog's CVEs."""
    staged: list[tuple[FeedInfo, bytes]] = []
    if collected.kev:
        data, raw, source, checked = collected.kev
        released = kev.released(data)
        checked = max(released, checked) if checked and source.startswith(("http://", "https://")) else released
        staged.append((FeedInfo("kev", "", "", data["catalogVersion"], source, released, checked,
                                f"{data['count']} entries"), raw))
        catalog = data
    else:
        current = store.feeds()["kev"]
        catalog = store.read(current)
    cves = {v["cveID"] for v in catalog["vulnerabilities"]}
    version = catalog["catalogVersion"]
    label = f"KEV {version}"
    if collected.debian:
        data, source, checked = collected.debian
        kept = debian.restrict(data, cves)
        detail = f"{len(debian.cves(kept))} CVEs of {label} in {len(kept)} source packages"
        staged.append((FeedInfo("debian-tracker", "", "", _minutes(checked), source, None, checked, detail, version),
                       json.dumps(kept, sort_keys=True).encode()))
    if collected.osv:
        kept_osv = [a for a in collected.osv if osv.cves_of(a) & cves]
        latest = _latest([str(a.get("modified", "")) for a in collected.osv])
        source = collected.osv_sources[0] if len(collected.osv_sources) == 1 else \
            f"{len(collected.osv_sources)} files, first {collected.osv_sources[0]}"
        staged.append((FeedInfo("osv", "", "", _minutes(latest), source, latest, latest,
                                f"{len(kept_osv)} advisories on CVEs of {label}", version),
                       json.dumps(kept_osv, sort_keys=True).encode()))
    if collected.ssvc:
        kept_ssvc = {c: v for c, v in collected.ssvc.items() if c in cves}
        latest = _latest([v.get("updated", "") for v in collected.ssvc.values()])
        staged.append((FeedInfo("vulnrichment", "", "", _minutes(latest), f"{collected.ssvc_sources} CVE records",
                                latest, latest, f"SSVC for {len(kept_ssvc)} CVEs of {label}", version),
                       json.dumps({"format": "fedharden-ssvc-1", "cves": kept_ssvc}, sort_keys=True).encode()))
    return staged


def update(store: FeedStore, sources: tuple[str, ...], session: Any = None) -> tuple[list[FeedInfo], Collected]:
    """Fetch or read the feeds, validate them, install one new generation. Nothing is written
    unless every file was read and validated. ``session`` is a requests.Session (or anything
    with its ``get``); one is made when a URL needs it."""
    collected = Collected()
    for source in sources or PUBLIC:
        if source.startswith(("http://", "https://")):
            if session is None:
                session = _session()
            collect_url(collected, source, session)
        elif os.path.isdir(source):
            collect_dir(collected, source)
        elif os.path.isfile(source):
            with open(source, "rb") as fh:
                add(collected, os.path.abspath(source), fh.read(), _mtime(source))
        else:
            raise FeedError(f"{source}: no such file, directory or URL")
    if collected.empty():
        where = ", ".join(sources) if sources else "the public feeds"
        raise FeedError(f"{where}: no feed recognized (looked for a KEV catalog, Debian tracker JSON, "
                        f"OSV advisories, CVE records with CISA SSVC)")
    staged = stage(collected, store)
    generation = store.install(staged)
    installed = [info for info in FeedStore(store.directory, explicit=True).feeds().values()
                 if os.path.dirname(info.file) == generation and info.name in {s[0].name for s in staged}]
    return installed, collected


def _session() -> Any:
    try:
        import requests
    except ImportError:
        raise FeedError("fetching feeds over HTTP needs the requests package: pip install 'fedharden[submit]' "
                        "(or use --from DIR)") from None

    from agent import __version__

    session = requests.Session()
    session.headers["User-Agent"] = f"fedharden/{__version__} (feeds update)"
    return session
