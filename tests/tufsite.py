"""A signed directive repository for tests: CISA's keys and repository, one agency (DOE) with
its own key and delegation, directives to publish, and a real HTTP server on loopback serving
the repository as a collector serves it. Keys are made once per test session (``template``)
and each test works on its own copy."""
from __future__ import annotations

import datetime as dt
import functools
import http.server
import json
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from directives import tufrepo

SHIPPED = Path(__file__).parent.parent / "directives"

ED = """\
id: ED-26-99
title: Emergency directive for tests
issuer: CISA
kind: emergency_directive
issued: 2026-11-20
version: "{version}"
requirements:
  - id: ED-26-99.1
    title: {title}
    severity: critical
    due: 2026-12-31
    rationale: Forwarding hosts relay traffic they should not.
    remediation: sysctl -w net.ipv4.ip_forward=0
    references: {{nist_800_53: [SC-7]}}
    check: {{type: sysctl, key: net.ipv4.ip_forward, default: 0, equals: 0}}
"""

AGENCY = """\
id: {id}
title: Agency directive for tests
issuer: DOE
kind: agency
issued: 2026-11-01
requirements:
  - id: {id}.1
    title: IP forwarding is off
    severity: medium
    due: 2026-12-31
    rationale: Hosts are not routers.
    remediation: sysctl -w net.ipv4.ip_forward=0
    references: {{nist_800_53: [CM-7]}}
    check: {{type: sysctl, key: net.ipv4.ip_forward, default: 0, equals: 0}}
"""


DEBIAN_12 = "end_of_support: 2026-06-10, extended_until: 2028-06-30"


def national_source(path: Path, *, version: str = "1", title: str = "IP forwarding is off",
                    bod_version: str | None = None, debian_12: str | None = None,
                    profile: str | None = None) -> Path:
    """CISA's publication directory: ED-26-99, the end-of-support table (with ``debian_12``
    in place of Debian 12's dates) and, with ``bod_version``, that version of the shipped
    BOD-23-02 with a title of its own; with ``profile``, profiles/test.yaml holding it."""
    if path.exists():
        shutil.rmtree(path)
    (path / "data").mkdir(parents=True)
    (path / "ed-26-99.yaml").write_text(ED.format(version=version, title=title))
    table = (SHIPPED / "data" / "end_of_support.yaml").read_text()
    assert DEBIAN_12 in table
    (path / "data" / "end_of_support.yaml").write_text(table.replace(DEBIAN_12, debian_12 or DEBIAN_12))
    if profile is not None:
        (path / "profiles").mkdir()
        (path / "profiles" / "test.yaml").write_text(profile)
    if bod_version is not None:
        text = (SHIPPED / "library" / "bod-23-02.yaml").read_text()
        text = text.replace("issued: 2023-06-13\n", f"issued: 2023-06-13\nversion: \"{bod_version}\"\n", 1)
        text = text.replace("title: Mitigating the Risk from Internet-Exposed Management Interfaces",
                            f"title: Mitigating the Risk (version {bod_version})", 1)
        (path / "bod-23-02.yaml").write_text(text)
    return path


def agency_files(directive_id: str) -> tuple[dict[str, bytes], dict[str, Any]]:
    """An agency publication of one directive, made by hand (publish_agency refuses some)."""
    from directives.loader import digest_of

    text = AGENCY.format(id=directive_id)
    path = "agency/DOE/local.yaml"
    index = {"format": 1, "directives": [{"id": directive_id, "version": "", "digest": digest_of(text),
                                          "paths": [path]}]}
    return {path: text.encode()}, index


def agency_source(path: Path, directive_id: str = "DOE-LOCAL-1") -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / "local.yaml").write_text(AGENCY.format(id=directive_id))
    return path


@dataclass
class Site:
    """CISA's repository and keys, DOE's key, under one directory."""

    base: Path

    @property
    def repo(self) -> Path:
        return self.base / "repo"

    @property
    def keys(self) -> Path:
        return self.base / "keys"

    @property
    def agency_keys(self) -> Path:
        return self.base / "doe-keys"

    @property
    def root(self) -> Path:
        """The root a host starts from (version 1, as shipped to it)."""
        return self.repo / "metadata" / "1.root.json"

    def publish(self, **kwargs: Any) -> tufrepo.Published:
        return tufrepo.publish(self.repo, self.keys, national_source(self.base / "src", **kwargs))

    def publish_agency(self, directive_id: str = "DOE-LOCAL-1", *, imported: bool = True,
                       checked: bool = True) -> Path:
        if checked:
            _, path = tufrepo.publish_agency(self.repo, self.agency_keys, "DOE",
                                             agency_source(self.base / "asrc", directive_id))
        else:
            _, path = tufrepo.publish_agency_files(self.repo, self.agency_keys, "DOE", *agency_files(directive_id))
        if imported:
            tufrepo.import_agency(self.repo, self.keys, path)
        return path

    def metadata(self, name: str) -> Path:
        return self.repo / "metadata" / name

    def current(self, role: str) -> int:
        """The version of ``role`` the repository's newest snapshot lists (or the snapshot's own)."""
        repo = tufrepo.Repository(self.repo)
        if role == "snapshot":
            return repo.timestamp().signed.snapshot_meta.version
        return repo.snapshot().signed.meta[f"{role}.json"].version


def build_template(base: Path) -> Site:
    """Keys (2 of 3 root keys), the repository with CISA's first publication, the DOE delegation."""
    site = Site(base)
    tufrepo.init(site.repo, site.keys, root_keys=3, threshold=2)
    tufrepo.KeyDir(site.agency_keys).generate("agency-DOE")
    site.publish()
    tufrepo.delegate(site.repo, site.keys, "DOE", site.agency_keys / "agency-DOE.pub.json")
    return site


def copy_site(template: Site, base: Path) -> Site:
    shutil.copytree(template.base, base, symlinks=True)
    return Site(base)


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Server:
    url: str  # ends in /api/v1/tuf/, as a collector serves the repository
    directory: Path


def serve(directory: Path) -> Iterator[Server]:
    """A static HTTP server on 127.0.0.1 serving ``directory`` under /api/v1/tuf/."""
    root = directory.parent / f".www-{directory.name}"
    (root / "api" / "v1").mkdir(parents=True)
    (root / "api" / "v1" / "tuf").symlink_to(directory)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{server.server_port}/api/v1/tuf/", directory)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def installed_state(state: Path) -> dict[str, bytes]:
    """Everything of the set in force: the link's target and every file under it."""
    link = state / "directives" / "current"
    if not link.exists():
        return {}
    generation = link.resolve()
    files = {str(p.relative_to(generation)): p.read_bytes() for p in sorted(generation.rglob("*")) if p.is_file()}
    return {"current": str(generation.name).encode(), **files}


def past(days: int) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(days=days)


def rewrite_json(path: Path, change: Any) -> None:
    doc = json.loads(path.read_bytes())
    change(doc)
    path.write_text(json.dumps(doc, indent=1))
