"""A report of a fixture root against tests/data/formats/fixture.yaml with its waivers, normalized
(ids, timestamps, the root's temporary path) so every format's output can be compared to a golden file."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any, Callable

import pytest

from agent.hosts import RootfsHost
from agent.scan import Scan
from directives import load_file
from directives.waivers import parse_waivers

DATA = Path(__file__).resolve().parents[2] / "data" / "formats"
NOW = dt.datetime(2026, 8, 1, 12, 0, tzinfo=dt.timezone.utc)
ROOT_FILES = {
    "/etc/os-release": 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n',
    "/etc/hostname": "fixture-host\n",
    "/etc/machine-id": "0123456789abcdef0123456789abcdef\n",
    # Banner carries markup, quotes, an ampersand and a spreadsheet formula: every format must escape it.
    "/etc/ssh/sshd_config": 'PermitRootLogin no\nMaxAuthTries 6\nBanner <b>"=HYPERLINK(1)"&amp;</b>\n',
    "/etc/passwd": "root:x:0:0:root:/root:/bin/bash\n",
}


def normalize(report: dict[str, Any]) -> dict[str, Any]:
    """Fix what changes from run to run: the report id, clock readings and the root's path."""
    report["report_id"] = "fixture-report-0001"
    report["generated_at"] = "2026-08-01T12:00:05+00:00"
    report["scan"]["started_at"] = "2026-08-01T12:00:00+00:00"
    report["scan"]["finished_at"] = "2026-08-01T12:00:05+00:00"
    report["scan"]["duration_ms"] = 5000
    report["host"]["target"] = "rootfs:/srv/images/fixture"
    return report


@pytest.fixture
def scan_fixture(tmp_path: Path, make_root: Callable[..., Path]) -> Callable[..., dict[str, Any]]:
    """Scan the fixture root: scan_fixture(files=overrides, waivers=text or None, now=datetime,
    directive=another directive file)."""

    def run(files: dict[str, str] | None = None, waivers: str | None = (DATA / "waivers.yaml").read_text(),
            now: dt.datetime = NOW, directive_file: Path = DATA / "fixture.yaml", **scan_args: Any) -> dict[str, Any]:
        root = make_root({**ROOT_FILES, **(files or {})})
        directive = load_file(str(directive_file))
        known = {r.id for r in directive.requirements}
        loaded = parse_waivers(waivers, "waivers.yaml", known) if waivers is not None else None
        report = Scan(RootfsHost(str(root)), [directive], now=now, waivers=loaded, **scan_args).run()
        return normalize(report)

    return run


@pytest.fixture
def fixture_report(scan_fixture: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return scan_fixture()


@pytest.fixture
def golden() -> Callable[[str, str], None]:
    """golden(NAME, text): compare with tests/data/formats/golden/NAME; FEDHARDEN_UPDATE_GOLDEN=1 rewrites it."""

    def compare(name: str, text: str) -> None:
        path = DATA / "golden" / name
        if os.environ.get("FEDHARDEN_UPDATE_GOLDEN") == "1":
            with open(path, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
        assert path.exists(), f"no golden file {path}: run with FEDHARDEN_UPDATE_GOLDEN=1 once"
        with open(path, encoding="utf-8", newline="") as fh:
            expected = fh.read()
        assert text == expected, f"{name} differs from its golden file (FEDHARDEN_UPDATE_GOLDEN=1 to accept)"

    return compare
