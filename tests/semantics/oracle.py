"""Run a real program (the oracle) against generated configuration files, in a throwaway
private mount namespace (and, for net.* sysctls, a network namespace), never against this
machine's own state.

``isolated(argv, mounts)`` starts ``unshare --mount --propagation private`` (``--net`` too
when asked); inside, a small Python launcher applies the mounts in order and then execs the
program. A mount is ``("bind", SOURCE, TARGET)`` (a generated file or folder over the real
one) or ``("tmpfs", TARGET)`` (an empty folder over a real one: what the program must not
see). Everything is passed as argv and JSON, never through a shell. The mounts vanish with
the namespace when the program exits.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Sequence

import pytest

Mount = tuple[str, str, str] | tuple[str, str]

# Inside the namespace: apply spec["mounts"] in order (shared with tests/semantics/worker.py).
APPLY_MOUNTS = r"""
import json, os, subprocess, sys
spec = json.loads(sys.argv[1])
for m in spec["mounts"]:
    if m[0] == "bind":
        subprocess.run(["mount", "--bind", m[1], m[2]], check=True)
    elif m[0] == "tmpfs":
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", m[1]], check=True)
    else:
        raise SystemExit(f"unknown mount kind {m[0]!r}")
"""
_LAUNCHER = APPLY_MOUNTS + """os.execvp(spec["argv"][0], spec["argv"])\n"""


def isolated(argv: Sequence[str], mounts: Sequence[Mount] = (), *, net: bool = False,
             timeout: float = 30, check: bool = False, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``argv`` run with ``mounts`` applied in a private mount namespace of its own, reading
    ``stdin`` (nothing when None)."""
    spec = json.dumps({"mounts": [[str(p) for p in m] for m in mounts], "argv": list(argv)})
    cmd = ["unshare", "--mount", "--propagation", "private", *(["--net"] if net else []), "--",
           sys.executable, "-c", _LAUNCHER, spec]
    if stdin is not None:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=check, input=stdin)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=check,
                          stdin=subprocess.DEVNULL)


def require(program: str) -> str:
    """The oracle's path, or a test failure naming the package tests/run installs it from."""
    found = shutil.which(program) or next(
        (str(p) for p in (Path("/usr/sbin") / program, Path("/lib/systemd") / program) if p.exists()), None)
    if found is None:
        pytest.fail(f"the oracle {program} is not installed: run the suite through tests/run")
    return found


def mirror(root: Path, target: str) -> Mount:
    """Bind ``root``/``target`` (a generated tree) over the real ``target``."""
    return ("bind", str(root / target.lstrip("/")), target)
