"""One private mount namespace for a whole differential test, instead of one per case.

``namespace(mounts)`` starts a worker inside ``unshare --mount --propagation private`` that
applies the mounts once (as tests/semantics/oracle.py does) and then runs, one after the
other, the programs it is sent: each request is a JSON line ``{"argv": [...], "stdin": "..."}``
run without a shell, answered by a JSON line with the return code and both outputs. The
generated files of each case are rewritten in place under the bound folders, so the oracle
sees them while this machine's own /etc is never touched. Starting a namespace costs far
more than running the oracle, so a few hundred cases stay fast.
"""
from __future__ import annotations

import json
import subprocess
import sys
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

from tests.semantics.oracle import APPLY_MOUNTS, Mount

_WORKER = APPLY_MOUNTS + r"""
print("ready", flush=True)
for line in sys.stdin:
    request = json.loads(line)
    done = subprocess.run(request["argv"], input=request.get("stdin", ""), capture_output=True, text=True,
                          timeout=30)
    print(json.dumps({"returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr}), flush=True)
"""

Run = Callable[..., subprocess.CompletedProcess[str]]


@contextmanager
def namespace(mounts: Sequence[Mount]) -> Iterator[Run]:
    """Yield ``run(argv, stdin="")`` executing in one private mount namespace with ``mounts``."""
    spec = json.dumps({"mounts": [[str(p) for p in m] for m in mounts]})
    proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--", sys.executable, "-c", _WORKER, spec],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    ready = proc.stdout.readline()
    if ready.strip() != "ready":
        proc.kill()
        raise RuntimeError(f"namespace worker failed: {proc.stderr.read() if proc.stderr else ''}")

    def run(argv: Sequence[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps({"argv": list(argv), "stdin": stdin}) + "\n")
        proc.stdin.flush()
        answer = json.loads(proc.stdout.readline())
        return subprocess.CompletedProcess(list(argv), answer["returncode"], answer["stdout"], answer["stderr"])

    try:
        yield run
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
