"""Directive distribution end to end, with real processes on loopback, shared by
tests/agent/test_e2e_distribution.py and benchmarks/distribution.py.

CISA's publisher (``fedharden directives keys init / publish / delegate / import``) writes the
national repository; a national collector serves it (``serve --directives-repo``); an agency
collector mirrors it (``serve --directives-upstream``, with its agency's own signed files in
``--directives-local``) and forwards its rollups upstream (``--upstream``); one host enrolls
with the agency collector and runs ``fedharden run --once``. Everything the host sends and
receives passes a counting TCP proxy in front of the agency collector.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests

FEDHARDEN = str(Path(sys.executable).with_name("fedharden"))
AGENCY = "AG1"
MACHINE_ID = "0123456789abcdef0123456789abcdef\n"
HOST_FILES = {
    "/etc/os-release": 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n',
    "/etc/machine-id": MACHINE_ID,
    "/etc/hostname": "web1\n",
    "/etc/passwd": "root:x:0:0:root:/root:/bin/bash\n",
    "/etc/group": "root:x:0:\nshadow:x:42:\n",
    "/etc/shadow": "root:$y$j9T$x:19000:1:90:7:::\n",
    "/etc/login.defs": "PASS_MAX_DAYS 99999\nPASS_MIN_DAYS 1\nUMASK 027\n",
}
DIRECTIVE = """id: {id}
title: {title}
issuer: {issuer}
kind: {kind}
issued: 2026-12-01
applies_to: {{os_family: [debian]}}
requirements:
  - id: {id}.1
    title: Passwords expire within 365 days
    severity: high
    due: {{days_after_issued: 14}}
    rationale: A stolen password stops working when it expires.
    remediation: Set PASS_MAX_DAYS to 365 or less in /etc/login.defs.
    references: {{nist_800_53: [IA-5]}}
    check: {{type: config, path: /etc/login.defs, dialect: login_defs, key: PASS_MAX_DAYS, default: 99999,
             at_least: 1, at_most: 365}}
"""


def _collector_class() -> Any:
    """tests/collector.py's Collector (the tests directory is not a package)."""
    name = "fedharden_tests_collector"
    if name not in sys.modules:
        import importlib.util

        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("collector.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name].Collector


def fh(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([FEDHARDEN, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    return done


def ok(*args: str, env: dict[str, str] | None = None) -> str:
    done = fh(*args, env=env)
    assert done.returncode == 0, f"fedharden {' '.join(args)}: exit {done.returncode}\n{done.stderr}"
    return done.stdout.strip()


class Proxy:
    """A TCP proxy on loopback counting the bytes each way (``up``: from the host)."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.up = self.down = 0
        self.lock = threading.Lock()
        self.closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self) -> tuple[int, int]:
        with self.lock:
            counted, self.up, self.down = (self.up, self.down), 0, 0
        return counted

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target, timeout=30)
            threading.Thread(target=self._pump, args=(client, server, "up"), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, "down"), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, way: str) -> None:
        try:
            while data := src.recv(65536):
                with self.lock:
                    setattr(self, way, getattr(self, way) + len(data))
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.closed.set()
        self.listener.close()


class Distribution:
    """The whole chain in ``workdir``; ``start()`` brings it up, ``stop()`` takes it down."""

    def __init__(self, workdir: Path, host_root: Path, *, mirror_interval: float = 1.0,
                 forward_interval: float = 2.0) -> None:
        self.workdir = workdir
        self.host_root = host_root
        self.keys, self.repo = workdir / "cisa-keys", workdir / "national-repo"
        self.agency_keys, self.agency_repo = workdir / "ag1-keys", workdir / "ag1-repo"
        self.cisa_src = workdir / "cisa-src"
        self.state = workdir / "host-state"
        Collector = _collector_class()
        (workdir / "national").mkdir()
        (workdir / "agency").mkdir()
        self.national = Collector(workdir / "national")
        self.agency = Collector(workdir / "agency")
        self.mirror_interval, self.forward_interval = mirror_interval, forward_interval
        self.proxy: Proxy | None = None
        self.tokens: dict[str, str] = {}

    # -- the publishers -------------------------------------------------------------------

    def write_directive(self, folder: Path, directive_id: str, *, issuer: str = "CISA",
                        kind: str = "binding_operational_directive") -> None:
        folder.mkdir(parents=True, exist_ok=True)
        text = DIRECTIVE.format(id=directive_id, title=f"{directive_id}, passwords expire", issuer=issuer, kind=kind)
        (folder / f"{directive_id.lower()}.yaml").write_text(text)

    def ceremony(self) -> None:
        """CISA's keys and first publication; AG1's key, its delegation, its first publication,
        imported into the national repository."""
        ok("directives", "keys", "init", "--keys", str(self.keys), "--repo", str(self.repo))
        self.write_directive(self.cisa_src, "BOD-26-03")
        ok("directives", "publish", str(self.cisa_src), "--repo", str(self.repo), "--keys", str(self.keys))
        ok("directives", "keys", "init", "--keys", str(self.agency_keys), "--agency", AGENCY)
        ok("directives", "delegate", AGENCY, "--agency-key", str(self.agency_keys / f"agency-{AGENCY}.pub.json"),
           "--repo", str(self.repo), "--keys", str(self.keys))
        # The agency keeps its own copy of the national metadata to publish against.
        import shutil

        shutil.copytree(self.repo, self.agency_repo)
        src = self.workdir / "ag1-src"
        self.write_directive(src, "AG1-BASE-1", issuer=AGENCY, kind="agency")
        ok("directives", "publish", str(src), "--repo", str(self.agency_repo), "--keys", str(self.agency_keys),
           "--agency", AGENCY)
        role = max((self.agency_repo / "metadata").glob(f"*.agency-{AGENCY}.json"),
                   key=lambda p: int(p.name.split(".", 1)[0]))
        ok("directives", "import", str(role), "--repo", str(self.repo), "--keys", str(self.keys))

    def publish(self, directive_id: str) -> float:
        """CISA publishes one more directive; the monotonic time the publisher started."""
        self.write_directive(self.cisa_src, directive_id)
        started = time.monotonic()
        ok("directives", "publish", str(self.cisa_src), "--repo", str(self.repo), "--keys", str(self.keys))
        return started

    def trusted_root(self) -> Path:
        return self.repo / "metadata" / "1.root.json"

    # -- the collectors and the host -------------------------------------------------------

    def start(self) -> None:
        self.national.admin("agency", "add", AGENCY)
        upstream_token = self.national.admin("token", "create", "--role", "soc", "--agency", AGENCY)
        self.tokens["national"] = self.national.admin("token", "create", "--role", "national")
        token_file = self.workdir / "upstream.token"
        token_file.write_text(upstream_token + "\n")
        token_file.chmod(0o600)
        self.national.start("--directives-repo", str(self.repo))
        self.agency.admin("agency", "add", AGENCY)
        self.tokens["enroll"] = self.agency.admin("token", "enrollment", "--agency", AGENCY)
        self.tokens["soc"] = self.agency.admin("token", "create", "--role", "soc", "--agency", AGENCY)
        self.agency.start("--directives-upstream", f"{self.national.url}/api/v1/tuf/",
                          "--directives-root", str(self.trusted_root()), "--directives-local", str(self.agency_repo),
                          "--directives-dir", str(self.workdir / "agency" / "directives"),
                          "--directives-interval", repr(self.mirror_interval),
                          "--upstream", self.national.url, "--upstream-token-file", str(token_file),
                          "--upstream-interval", repr(self.forward_interval))
        self.proxy = Proxy(self.agency.port)

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.close()
        self.agency.stop()
        self.national.stop()

    def enroll(self) -> None:
        assert self.proxy is not None
        ok("enroll", "--collector", self.proxy.url, "--agency", AGENCY, "--root", str(self.host_root),
           "--state-dir", str(self.state), env={"FEDHARDEN_ENROLL_SECRET": self.tokens["enroll"]})
        # The operator installs the repository's root of trust with the agent (out of band).
        ok("directives", "trust", str(self.trusted_root()), "--state-dir", str(self.state))

    def run_once(self) -> subprocess.CompletedProcess[str]:
        return fh("run", "--once", "--state-dir", str(self.state), "--root", str(self.host_root))

    # -- what the collectors show ----------------------------------------------------------

    def served_timestamp(self, collector: Any) -> int:
        resp = requests.get(f"{collector.url}/api/v1/tuf/metadata/timestamp.json", timeout=10)
        return int(resp.json()["signed"]["version"]) if resp.status_code == 200 else 0

    def wait_mirrored(self, timeout: float = 60) -> float:
        """Until the agency collector serves the national timestamp; the monotonic time it did."""
        want = self.served_timestamp(self.national)
        deadline = time.monotonic() + timeout
        while self.served_timestamp(self.agency) < want:
            assert time.monotonic() < deadline, f"the agency mirror did not reach timestamp {want}"
            time.sleep(0.05)
        return time.monotonic()

    def rollup_directives(self, where: str) -> dict[str, dict[str, Any]]:
        """Directive -> its rollup for AG1, on the agency collector (soc) or the national one."""
        collector, token = (self.agency, self.tokens["soc"]) if where == "agency" else \
            (self.national, self.tokens["national"])
        resp = requests.get(f"{collector.url}/api/v1/rollups", params={"agency": AGENCY},
                            headers={"Authorization": f"Bearer {token}"}, timeout=10)
        resp.raise_for_status()
        agencies = [a for a in resp.json()["agencies"] if a["agency"] == AGENCY]
        return {d["directive"]: d for a in agencies for d in a["directives"]}

    def wait_rollup(self, where: str, directive: str, timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        while directive not in self.rollup_directives(where):
            assert time.monotonic() < deadline, f"{directive} never showed in the {where} rollups"
            time.sleep(0.1)
        return time.monotonic()

    def last_report(self) -> dict[str, Any]:
        return json.loads((self.state / "last_scan.json").read_text())  # type: ignore[no-any-return]
