"""The package database of the target: dpkg's status file, or RPM's database."""
from __future__ import annotations

from agent.facts.context import Context, unavailable
from agent.hosts.base import HostError, NotFound
from checks.facts import Package, PackageDB, Unavailable

DPKG_STATUS = "/var/lib/dpkg/status"
RPM_DBS = ("/var/lib/rpm/rpmdb.sqlite", "/var/lib/rpm/Packages", "/usr/lib/sysimage/rpm/rpmdb.sqlite")
RPM_QUERY = ("rpm", "-qa", "--qf", "%{NAME}\t%{EPOCH}:%{VERSION}-%{RELEASE}\t%{ARCH}\t%{SOURCERPM}\n")


def parse_dpkg_status(text: str) -> dict[str, tuple[Package, ...]]:
    """Installed packages from dpkg's status file (deb822 stanzas)."""
    out: dict[str, list[Package]] = {}
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line[:1] in (" ", "\t") or ":" not in line:
                continue
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        if not fields.get("Status", "").endswith(" installed") or "Package" not in fields:
            continue
        version = fields.get("Version", "")
        source, source_version = fields["Package"], version
        if "Source" in fields:
            name, _, rest = fields["Source"].partition(" ")
            source = name
            if rest.startswith("("):
                source_version = rest.strip("() ")
        pkg = Package(fields["Package"], version, fields.get("Architecture", ""), source, source_version)
        out.setdefault(pkg.name, []).append(pkg)
    return {k: tuple(v) for k, v in out.items()}


def parse_rpm_query(text: str) -> dict[str, tuple[Package, ...]]:
    out: dict[str, list[Package]] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 4:
            continue
        name, evr, arch, srpm = parts
        evr = evr.removeprefix("(none):")
        source = srpm.rsplit("-", 2)[0] if srpm != "(none)" else name
        out.setdefault(name, []).append(Package(name, evr, arch, source, evr))
    return {k: tuple(v) for k, v in out.items()}


def _offline_rpm(ctx: Context, path: str) -> PackageDB | Unavailable:
    """An image has no rpm to run: read the SQLite database itself (RPM 4.16 and later)."""
    from agent.facts.rpmdb import RpmdbError, parse_rpmdb_sqlite

    if not path.endswith(".sqlite"):
        return Unavailable(f"RPM database {path} is in the Berkeley DB format: reading it offline is not supported")
    try:
        if ctx.host.stat(path + "-wal").size > 0:
            return Unavailable(f"{path}-wal holds changes not yet written to {path}: open the image with rpm once")
    except NotFound:
        pass
    try:
        return PackageDB("rpm", parse_rpmdb_sqlite(ctx.host.read(path)))
    except RpmdbError as exc:
        return Unavailable(f"{path}: {exc}")


def package_db(ctx: Context) -> PackageDB | Unavailable:
    def load() -> PackageDB | Unavailable:
        try:
            text = ctx.text_or_none(DPKG_STATUS)
            if text is not None:
                return PackageDB("dpkg", parse_dpkg_status(text))
            for path in RPM_DBS:
                try:
                    ctx.host.stat(path)
                except NotFound:
                    continue
                if not ctx.host.live:
                    return _offline_rpm(ctx, path)
                result = ctx.host.run(RPM_QUERY, timeout=60)
                if result.returncode != 0:
                    return Unavailable(f"rpm -qa failed: {result.stderr.strip()[:200]}")
                return PackageDB("rpm", parse_rpm_query(result.stdout))
        except HostError as exc:
            return unavailable(exc)
        return Unavailable(f"no package database found ({DPKG_STATUS}, {RPM_DBS[0]})")

    return ctx.memo("packages", load)


def gather_packages(ctx: Context, args: list[str]) -> dict[str, object]:
    return {"": package_db(ctx)}


FAMILIES = {"packages": gather_packages}
PREFETCH = {"packages": lambda args: [DPKG_STATUS]}
