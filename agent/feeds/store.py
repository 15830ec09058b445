"""The feed store: generations of validated feed files behind one ``current`` link.

Layout of a store directory (owned by the agent, never on the scanned host)::

    current -> gen-20261126T140000Z-xxxx     switched with one rename
    gen-.../manifest.json                    one entry per feed: file, sha256, version, source, times
    gen-.../kev.json  debian-tracker.json  osv.json  vulnrichment.json

Feeds in the store override the snapshot shipped in the package (agent/feeds/data), feed
by feed, so a store holding only distro data still has the shipped KEV catalog.
Files are validated when they enter the store; at scan time their sha256 is checked
against the manifest, which is much cheaper than validating the schema again.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

from agent.feeds import MAX_AGE, FeedError, debian, kev, osv, vulnrichment
from agent.packaged import packaged
from checks.facts import OsRelease
from checks.record import record
from checks.vulndata import VulnData

MANIFEST = "manifest.json"
CURRENT = "current"
ORDER = ("kev", "debian-tracker", "osv", "vulnrichment")
TITLES = {"kev": "CISA KEV catalog", "debian-tracker": "Debian security tracker", "osv": "OSV advisories",
          "vulnrichment": "CISA Vulnrichment SSVC"}


def _time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z") if value else None


def human_age(age: dt.timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours:.0f} hours" if hours < 72 else f"{hours / 24:.0f} days"


@record
class FeedInfo:
    """One feed as the manifest describes it."""

    name: str  # kev, debian-tracker, osv, vulnrichment
    file: str  # absolute path
    sha256: str
    version: str
    source: str  # where it came from: a URL, a file given to --from, "shipped snapshot"
    released: dt.datetime | None = None  # when the publisher released this version (KEV: dateReleased)
    checked_at: dt.datetime | None = None  # when it was last known to be the publisher's current data
    detail: str = ""  # "1404 entries", "137 KEV CVEs"
    kev_catalog: str = ""  # distro and SSVC data: the KEV catalog version whose CVEs they were cut to

    @property
    def title(self) -> str:
        return TITLES.get(self.name, self.name)

    def age(self, now: dt.datetime) -> dt.timedelta | None:
        since = self.checked_at or self.released
        return max(now - since, dt.timedelta(0)) if since else None

    def stale(self, now: dt.datetime) -> bool:
        age = self.age(now)
        return age is None or age > MAX_AGE

    def to_manifest(self) -> dict[str, Any]:
        return {"name": self.name, "file": os.path.basename(self.file), "sha256": self.sha256, "version": self.version,
                "source": self.source, "released": _iso(self.released), "checked_at": _iso(self.checked_at),
                "detail": self.detail, "kev_catalog": self.kev_catalog}

    def to_report(self, now: dt.datetime) -> dict[str, Any]:
        age = self.age(now)
        out = {"name": self.name, "title": self.title, "version": self.version, "source": self.source,
               "released": _iso(self.released), "checked_at": _iso(self.checked_at),
               "age_hours": round(age.total_seconds() / 3600, 1) if age is not None else None,
               "stale": self.stale(now), "detail": self.detail}
        if self.kev_catalog:
            out["kev_catalog"] = self.kev_catalog
        return out

    def warning(self, now: dt.datetime) -> str:
        age = self.age(now)
        shown = human_age(age) if age is not None else "of unknown age"
        return (f"{self.title} {self.version} is {shown} old; BOD 23-01 expects detection data no older than "
                f"24 hours: run `fedharden feeds update`")


def _read_manifest(directory: str, source_label: str | None = None) -> dict[str, FeedInfo]:
    path = os.path.join(directory, MANIFEST)
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read())
        out = {}
        for entry in data["feeds"]:
            info = FeedInfo(entry["name"], os.path.join(directory, entry["file"]), entry["sha256"], entry["version"],
                            source_label or entry["source"], _time(entry.get("released")),
                            _time(entry.get("checked_at")), entry.get("detail", ""), entry.get("kev_catalog", ""))
            out[info.name] = info
        return out
    except FileNotFoundError:
        raise FeedError(f"{path}: missing: the feed store is incomplete (run `fedharden feeds update`)") from None
    except OSError as exc:
        raise FeedError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise FeedError(f"{path}: corrupt feed manifest: {type(exc).__name__}: {exc}") from None


def default_directory() -> str:
    """/var/lib/fedharden/feeds as root, else under $XDG_STATE_HOME (~/.local/state)."""
    if os.geteuid() == 0:
        return "/var/lib/fedharden/feeds"
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(state, "fedharden", "feeds")


@dataclass
class FeedStore:
    """Feeds for a scan. ``directory`` None means the shipped snapshot only; ``explicit``
    means the user named the directory, so its absence is an error, not a fallback."""

    directory: str | None
    explicit: bool = False
    shipped: str = field(default_factory=lambda: packaged("feeds/data"))
    used: list[FeedInfo] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # warnings about the feeds a scan used
    # Each feed file parsed once per store while its digest stays the same (the last one kept):
    # an inventory's hosts share one store, and the catalog and fix data, only read afterwards,
    # are the same for every host.
    parsed: dict[str, tuple[str, Any]] = field(default_factory=dict, repr=False, compare=False)
    checked: set[tuple[str, str]] = field(default_factory=set, repr=False, compare=False)  # (file, sha256) verified

    @classmethod
    def configured(cls, directory: str | None) -> FeedStore:
        """The store named on the command line or in FEDHARDEN_FEEDS_DIR, else the default one."""
        named = directory or os.environ.get("FEDHARDEN_FEEDS_DIR")
        return cls(named or default_directory(), explicit=bool(named))

    # Reading ---------------------------------------------------------------------------

    def generation(self) -> str | None:
        if self.directory is None:
            return None
        if not os.path.isdir(self.directory):
            if self.explicit:
                raise FeedError(f"{self.directory}: no such feeds directory (create it with "
                                f"`fedharden feeds update --feeds-dir {self.directory}`)")
            return None
        current = os.path.join(self.directory, CURRENT)
        if not os.path.lexists(current):
            return None
        return os.path.realpath(current)

    def feeds(self) -> dict[str, FeedInfo]:
        """Every feed in effect: the store's, else the shipped snapshot's, by name."""
        out = _read_manifest(self.shipped, "shipped snapshot")
        generation = self.generation()
        if generation is not None:
            out.update(_read_manifest(generation))
        return {name: out[name] for name in ORDER if name in out}

    def read(self, info: FeedInfo) -> Any:
        known = self.parsed.get(info.file)
        if known is not None and known[0] == info.sha256:
            return known[1]
        data = self._read(info)
        self.parsed[info.file] = (info.sha256, data)
        return data

    def _read(self, info: FeedInfo) -> Any:
        raw = self.verified(info)
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise FeedError(f"{info.file}: corrupt: not JSON: {exc}") from None

    def verified(self, info: FeedInfo) -> bytes:
        """The feed file's bytes, once their digest matches the manifest's."""
        try:
            with open(info.file, "rb") as fh:
                raw = fh.read()
        except FileNotFoundError:
            raise FeedError(f"{info.file}: missing: listed in the feed manifest (run `fedharden feeds update`)") from None
        except OSError as exc:
            raise FeedError(f"{info.file}: cannot read: {exc.strerror or exc}") from None
        if hashlib.sha256(raw).hexdigest() != info.sha256:
            raise FeedError(f"{info.file}: corrupt: its sha256 does not match the feed manifest "
                            f"(run `fedharden feeds update`)")
        return raw

    def vuln_data(self, release: OsRelease) -> VulnData:
        """The ``vulns`` fact for a target of this release."""
        feeds = self.feeds()
        if "kev" not in feeds:
            raise FeedError(f"{os.path.join(self.shipped, MANIFEST)}: no KEV catalog listed")
        used = [feeds["kev"]]
        label, source, fmt, fixes, fix_feed = f"{release.id} {release.codename or release.version_id}".strip(), "", "", {}, ""
        if release.id == "debian" and "debian-tracker" in feeds and release.codename:
            info = feeds["debian-tracker"]
            label, source, fmt = f"debian {release.codename}", info.title, "dpkg"
            fixes, fix_feed = debian.fixes(self.read(info), release.codename), f"{info.title} {info.version}"
            used.append(info)
        elif "osv" in feeds:
            wanted, fmt = osv.ecosystems(release)
            if wanted:
                info = feeds["osv"]
                label, source = " or ".join(sorted(wanted)), info.title
                fixes, fix_feed = osv.fixes(osv.advisories(self.read(info)), wanted), f"{info.title} {info.version}"
                used.append(info)
        if not fixes:  # data that says nothing about this release does not cover it
            source, fix_feed = "", ""
        ssvc = {}
        if "vulnrichment" in feeds:
            ssvc = vulnrichment.ssvc(self.read(feeds["vulnrichment"]))
            used.append(feeds["vulnrichment"])
        if fixes:
            catalog = self.read(feeds["kev"])
            version = catalog["catalogVersion"]
            # Only the entries the fix data can match are built: a few hundred of the catalog's 1,400.
            entries = kev.entries(catalog, feeds["kev"].file, (r.cve for recs in fixes.values() for r in recs))
        else:
            # Nothing on this host can be matched to a catalog entry, so the 1.2 MB catalog is not
            # parsed: its digest is checked, and its version is the manifest's, which `feeds update`
            # (or the release) wrote from the catalog with that digest.
            if (feeds["kev"].file, feeds["kev"].sha256) not in self.checked:
                self.verified(feeds["kev"])
                self.checked.add((feeds["kev"].file, feeds["kev"].sha256))
            version, entries = feeds["kev"].version, {}
        self.used = used
        self.notes = [
            f"{info.title} data was cut to the CVEs of KEV catalog {info.kev_catalog}, but catalog "
            f"{version} is in use: CVEs added since are not matched (run `fedharden feeds update`)"
            for info in used[1:] if info.kev_catalog and info.kev_catalog != version
        ]
        return VulnData(version, entries, label, source, fmt, fixes, ssvc, fix_feed)

    def report(self, now: dt.datetime) -> tuple[list[dict[str, Any]], list[str]]:
        """``scan.feeds`` entries for every feed in effect, and a warning for each stale one this scan used."""
        warnings = [f.warning(now) for f in self.used if f.stale(now)] + self.notes
        try:
            feeds = self.feeds()
        except FeedError as exc:
            if self.used:
                raise
            return [], [f"feeds: {exc}"]
        return [f.to_report(now) for f in feeds.values()], warnings

    # Writing ---------------------------------------------------------------------------

    def install(self, staged: Sequence[tuple[FeedInfo, bytes]]) -> str:
        """Make a new generation: the current store's feeds with ``staged`` replacing theirs,
        then switch ``current`` to it in one rename. Returns the generation's path."""
        if self.directory is None:
            raise FeedError("no feeds directory to install into")
        try:
            os.makedirs(self.directory, exist_ok=True)
            lock = os.open(os.path.join(self.directory, ".lock"), os.O_CREAT | os.O_RDWR, 0o644)
        except OSError as exc:
            raise FeedError(f"{self.directory}: cannot create: {exc.strerror or exc}") from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one update at a time: each removes the generations before it
            return self._install(staged)
        finally:
            os.close(lock)

    def _install(self, staged: Sequence[tuple[FeedInfo, bytes]]) -> str:
        assert self.directory is not None
        previous = self.generation()
        keep = _read_manifest(previous) if previous else {}
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        gen = tempfile.mkdtemp(prefix=f"gen-{stamp}-", dir=self.directory)
        try:
            entries: dict[str, FeedInfo] = {}
            for info in keep.values():
                target = os.path.join(gen, os.path.basename(info.file))
                shutil.copyfile(info.file, target)
                entries[info.name] = replace(info, file=target)
            for info, data in staged:
                target = os.path.join(gen, f"{info.name}.json")
                _write(target, data)
                entries[info.name] = replace(info, file=target, sha256=hashlib.sha256(data).hexdigest())
            manifest = {"format": 1, "feeds": [entries[n].to_manifest() for n in ORDER if n in entries]}
            _write(os.path.join(gen, MANIFEST), json.dumps(manifest, indent=1).encode())
            os.chmod(gen, 0o755)
            link = os.path.join(self.directory, f".current-{os.path.basename(gen)}")
            os.symlink(os.path.basename(gen), link)
            os.replace(link, os.path.join(self.directory, CURRENT))
        except BaseException as exc:
            shutil.rmtree(gen, ignore_errors=True)
            if isinstance(exc, OSError):
                raise FeedError(f"{self.directory}: cannot write the feed store: {exc.strerror or exc}") from None
            raise
        _fsync_dir(self.directory)
        for name in os.listdir(self.directory):  # older generations: nobody reads them any more
            path = os.path.join(self.directory, name)
            if name.startswith("gen-") and path != gen:
                shutil.rmtree(path, ignore_errors=True)
        return gen


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
