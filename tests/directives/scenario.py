"""Pass and fail scenarios for shipped requirements, ComplianceAsCode style.

A scenario file (tests/directives/scenarios/*.yaml) maps requirement ids to scenarios; a
scenario's name starts with the status it must produce (``pass``, ``fail_match_block``,
``manual_soon``...). A per-finding requirement (one result per CVE) produces the worst of its
findings' statuses: fail, then error, then manual, then pass. Each scenario builds a fixture root on top of a named base and scans
it with that one requirement:

    base: debian | rhel | bare          the starting tree (default debian)
    packages: [name, ...]               installed packages (written as dpkg's status file); an item
                                        may be {name, source, version} for version-sensitive checks
    feeds: {kev: [CVE...], tracker: {}} a vulnerability feed store built with `feeds update --from`:
                                        CISA's shipped catalog cut to these CVEs, and Debian tracker data
    files: {path: text}                 files; ``modes: {path: "0600"}``, ``owners: {path: "1000:1000"}``
    dirs: [path, ...]                   empty directories; ``links: {path: target}`` symlinks
    units: {enabled: [...], disabled: [...], masked: [...]}   systemd unit files and links
    runtime: {...}                      makes the target a running system (see ScenarioHost)
    tags: [role:router, ...]            the host's tags (scope waivers; role:NAME declares a directive's role)
    now: 2026-11-26T12:00:00+00:00      the scan's clock (default NOW)

Runtime scenarios describe the socket table and addresses the host reports; network
probes go to real servers the test starts on 127.0.0.1 (``runtime.servers``), reached
through the Host's ``connect`` seam.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import socket
from pathlib import Path
from typing import Any, Callable, Mapping

from agent.hosts.base import NotSupported
from agent.hosts.rootfs import RootfsHost
from agent.scan import Scan, Selection
from directives.model import Directive, Requirement
from directives.yamldoc import YamlDoc, read_text

HERE = Path(__file__).parent / "scenarios"
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)
EXPECTATIONS = ("pass", "fail", "manual", "error", "not_applicable")

OS_RELEASE = {
    "debian": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'
              'VERSION_CODENAME=bookworm\nID=debian\n',
    "rhel": 'NAME="Red Hat Enterprise Linux"\nVERSION_ID="9.4"\nID="rhel"\nID_LIKE="fedora"\n'
            'PRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"\n',
}
PASSWD = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
GROUP = "root:x:0:\ndaemon:x:1:\nshadow:x:42:\nsudo:x:27:\n"


def scenario_files() -> list[Path]:
    """Every scenario file: one per single-file directive, and a folder per directive folder
    holding one file per section (scenarios/harden-30d/ssh.yaml for library/harden-30d/ssh.yaml)."""
    return sorted([*HERE.glob("*.yaml"), *HERE.glob("*/*.yaml")])


def load_file(path: Path) -> dict[str, dict[str, Any]]:
    """Requirement id -> scenario name -> spec, from one scenario file (read as the product reads
    its own YAML: line-aware, no duplicate keys)."""
    doc = YamlDoc(read_text(str(path)), str(path))
    doc.raise_problems()
    data = doc.data
    assert isinstance(data, dict), f"{path}: a scenario file is a mapping"
    return {rid: scenarios for rid, scenarios in data.items() if not rid.startswith("x-")}  # x-: YAML anchors only


def load_scenarios() -> dict[str, dict[str, dict[str, Any]]]:
    """Requirement id -> scenario name -> spec, from every scenario file."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for path in scenario_files():
        for rid, scenarios in load_file(path).items():
            assert rid not in out, f"{path.relative_to(HERE)}: {rid} has scenarios in two files"
            out[rid] = scenarios
    return out


def expectation(name: str) -> str:
    for status in EXPECTATIONS:
        if name == status or name.startswith(status + "_"):
            return status
    raise ValueError(f"scenario {name!r} must start with one of {', '.join(EXPECTATIONS)}")


def dpkg_status(packages: list[Any]) -> str:
    stanzas = []
    for item in packages:
        pkg = item if isinstance(item, dict) else {"name": item}
        source = f"Source: {pkg['source']}\n" if pkg.get("source") else ""
        stanzas.append(f"Package: {pkg['name']}\nStatus: install ok installed\nArchitecture: amd64\n{source}"
                       f"Version: {pkg.get('version', '1.0-1')}\n")
    return "\n".join(stanzas)


def feed_store(workdir: Path, spec: Mapping[str, Any]) -> Any:
    """A feed store made as a user makes one: `fedharden feeds update --from DIR`."""
    import json
    from importlib import resources

    from click.testing import CliRunner

    from agent.cli import main
    from agent.feeds.store import FeedStore

    catalog = json.loads(resources.files("agent.feeds").joinpath("data/known_exploited_vulnerabilities.json").read_text())
    wanted = set(spec.get("kev", []))
    catalog["vulnerabilities"] = [v for v in catalog["vulnerabilities"] if v["cveID"] in wanted]
    catalog["count"] = len(catalog["vulnerabilities"])
    source = workdir / "feeds-src"
    source.mkdir()
    (source / "kev.json").write_text(json.dumps(catalog))
    tracker = {pkg: {cve: {"description": "scenario", "releases": releases} for cve, releases in cves.items()}
               for pkg, cves in spec.get("tracker", {}).items()}
    (source / "tracker.json").write_text(json.dumps(tracker))
    store = workdir / "feeds"
    result = CliRunner().invoke(main, ["feeds", "update", "--from", str(source), "--feeds-dir", str(store)])
    assert result.exit_code == 0, result.output
    return FeedStore(str(store), explicit=True)


def worst(statuses: list[str]) -> str:
    """The status a requirement with several findings shows as a whole."""
    for status in ("fail", "error", "manual", "pass"):
        if status in statuses:
            return status
    return statuses[0] if statuses else "none"


def unit_file(name: str) -> str:
    if name.endswith(".target"):
        return "[Unit]\nDescription=test\n"
    return "[Unit]\nDescription=test\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n"


def build(root: Path, spec: Mapping[str, Any]) -> None:
    base = spec.get("base", "debian")
    files: dict[str, str] = {}
    if base in OS_RELEASE:
        files.update({"/etc/os-release": OS_RELEASE[base], "/etc/passwd": PASSWD, "/etc/group": GROUP})
    if base == "debian" or "packages" in spec:
        files["/var/lib/dpkg/status"] = dpkg_status(["base-files", *spec.get("packages", [])])
    files.update(spec.get("files", {}))
    for path, text in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    for path in spec.get("dirs", []):
        (root / path.lstrip("/")).mkdir(parents=True, exist_ok=True)
    for path, target in spec.get("links", {}).items():
        local = root / path.lstrip("/")
        local.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, local)
    units = spec.get("units", {})
    for state in ("enabled", "disabled", "masked"):
        for name in units.get(state, []):
            unit = root / "lib/systemd/system" / name
            unit.parent.mkdir(parents=True, exist_ok=True)
            unit.write_text(unit_file(name))
            if state == "enabled":
                wants = root / "etc/systemd/system/multi-user.target.wants"
                wants.mkdir(parents=True, exist_ok=True)
                os.symlink(f"/lib/systemd/system/{name}", wants / name)
            elif state == "masked":
                etc = root / "etc/systemd/system"
                etc.mkdir(parents=True, exist_ok=True)
                os.symlink("/dev/null", etc / name)
    for path, mode in spec.get("modes", {}).items():
        os.chmod(root / path.lstrip("/"), int(str(mode), 8))
    for path, owner in spec.get("owners", {}).items():
        uid, gid = (int(x) for x in str(owner).split(":"))
        os.lchown(root / path.lstrip("/"), uid, gid)


class ScenarioHost(RootfsHost):
    """A fixture root that reports itself as a running system: its socket table and
    addresses come from the scenario, its /proc from the tree, and connections to a
    listed port reach the real server the test started on 127.0.0.1 for it."""

    live = True

    def __init__(self, root: str, runtime: Mapping[str, Any], ports: Mapping[int, int]) -> None:
        super().__init__(root)
        self.name = "scenario"
        self._sockets = [tuple(s) for s in runtime.get("sockets", [])]
        self._addresses = list(runtime.get("addresses", ["127.0.0.1", "::1"]))
        self._ports = dict(ports)

    def sockets(self) -> list[tuple[str, str, int, str, int]]:
        return [(s[0], s[1], int(s[2]), s[3] if len(s) > 3 else "", 4242) for s in self._sockets]  # type: ignore[misc]

    def addresses(self) -> list[str]:
        return self._addresses

    def connect(self, address: str, port: int, timeout: float) -> socket.socket:
        if port not in self._ports:
            raise NotSupported(f"scenario has no server for port {port}")
        return socket.create_connection(("127.0.0.1", self._ports[port]), timeout=timeout)


def only(directive: Directive, requirement: Requirement) -> Directive:
    return dataclasses.replace(directive, requirements=(requirement,))


def run(directive: Directive, requirement: Requirement, spec: Mapping[str, Any], workdir: Path,
        start_servers: Callable[[Mapping[str, Any]], Mapping[int, int]]) -> list[dict[str, Any]]:
    """Build the scenario's root and scan it with that one requirement; the results."""
    root = workdir / "root"
    root.mkdir()
    build(root, spec)
    feeds = feed_store(workdir, spec["feeds"]) if "feeds" in spec else None
    now = dt.datetime.fromisoformat(str(spec["now"])) if "now" in spec else NOW
    if "runtime" in spec:
        host: RootfsHost = ScenarioHost(str(root), spec["runtime"], start_servers(spec["runtime"]))
    else:
        host = RootfsHost(str(root))
    report = Scan(host, [only(directive, requirement)], Selection(walk=True), now=now, feeds=feeds,
                  tags=tuple(spec.get("tags", ()))).run()
    return list(report["results"])
