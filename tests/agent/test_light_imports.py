"""paramiko and requests are default dependencies, yet a plain scan never imports them (nor the
collector stack): a scan's time and memory stay what they were when they were extras."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("paramiko", "requests", "cryptography", "sqlalchemy", "fastapi", "uvicorn", "jinja2", "tuf",
         "securesystemslib")

PROBE = """
import json, sys
from agent.cli import main
try:
    main(["scan", "--root", sys.argv[1], "--format", "json", "-o", sys.argv[2]])
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in json.loads(sys.argv[3]))))
"""


def test_a_plain_scan_imports_no_network_or_collector_stack(debian_rootfs: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    done = subprocess.run([sys.executable, "-c", PROBE, str(debian_rootfs), str(out), json.dumps(HEAVY)],
                          capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(out.read_text())["results"], "the scan ran"
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_ssh_and_submit_dependencies_are_installed_by_default() -> None:
    from importlib.metadata import requires

    wanted = {r.split(">")[0].split("=")[0].strip() for r in requires("fedharden") or [] if "extra ==" not in r}
    assert {"paramiko", "requests", "click", "psutil", "pyyaml", "jsonschema"} <= wanted


def test_a_scan_with_the_library_cache_warm_reads_no_yaml_and_validates_nothing(debian_rootfs: Path,
                                                                                tmp_path: Path) -> None:
    # The shipped library and data files come from the compiled cache (directives.library_cache):
    # neither the YAML parser nor jsonschema is loaded, which is most of what start-up saves.
    env = {**os.environ, "FEDHARDEN_CACHE_DIR": str(tmp_path / "cache")}
    out = tmp_path / "report.json"
    for _ in range(2):  # the first run writes the cache
        done = subprocess.run([sys.executable, "-c", PROBE, str(debian_rootfs), str(out), json.dumps(["yaml", "jsonschema"])],
                              capture_output=True, text=True, timeout=120, check=True, env=env)
    assert json.loads(done.stdout.splitlines()[-1]) == []
