"""Unit-file state: what fedharden says ``systemctl is-enabled`` answers, against the real
``systemctl --root=ROOT is-enabled`` on generated trees (never this machine's units).

CASES trees seeded with SEED (``random.Random``): a service as a native unit in /etc or
/usr/lib (with or without [Install]), masked in /etc or /run, enabled by a link in /etc's or
/run's multi-user.target.wants (``systemctl enable --runtime`` writes the latter), or only an
init script in /etc/init.d (executable or not) with update-rc.d's start or kill links in
/etc/rc2.d to rc5.d. systemctl hands an init script to Debian's systemd-sysv-install, which
calls it enabled when an ``S??NAME`` link is in /etc/rcS.d or rc5.d; update-rc.d writes the
links of every runlevel 2-5 together, as the trees here do. One known difference is left out
of the comparison and pinned instead: an init script that is not executable, which
systemd-sysv-install still calls enabled by its links but systemd-sysv-generator skips ("is not
executable, ignoring"), so no unit is made and nothing starts; fedharden says not-found.
"""
from __future__ import annotations

import os
import random
from pathlib import Path

from agent.facts.context import Context
from agent.facts.systemd import unit_state
from agent.hosts.rootfs import RootfsHost
from tests.semantics.oracle import isolated, require

CASES = 120
SEED = 20261205
NATIVE = "[Unit]\nDescription=t\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n"
STATIC = "[Unit]\nDescription=t\n[Service]\nExecStart=/bin/true\n"
SCRIPT = "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: demo\n# Default-Start: 2 3 4 5\n# Default-Stop: 0 1 6\n### END INIT INFO\n"
# systemctl's answers that are fedharden's states under another name.
SAME = {"enabled": {"enabled", "enabled-runtime"}, "masked": {"masked", "masked-runtime"}, "not-found": {"", "not-found"}}


def build(root: Path, rng: random.Random) -> list[str]:
    for directory in ("etc/systemd/system", "usr/lib/systemd/system", "run/systemd/system", "etc/init.d"):
        (root / directory).mkdir(parents=True)
    native = []
    for directory in ("etc/systemd/system", "usr/lib/systemd/system"):
        if rng.random() < 0.35:
            (root / directory / "demo.service").write_text(rng.choice((NATIVE, NATIVE, STATIC)))
            native.append(directory)
    for directory in ("etc/systemd/system", "run/systemd/system"):
        if rng.random() < 0.12 and not (root / directory / "demo.service").exists():
            os.symlink("/dev/null", root / directory / "demo.service")
    if native:
        for directory in ("etc/systemd/system", "run/systemd/system"):
            if rng.random() < 0.4:
                wants = root / directory / "multi-user.target.wants"
                wants.mkdir(exist_ok=True)
                os.symlink(f"/{rng.choice(native)}/demo.service", wants / "demo.service")
    if rng.random() < 0.6:
        script = root / "etc/init.d/demo"
        script.write_text(SCRIPT)
        script.chmod(0o755 if rng.random() < 0.85 else 0o644)
        links = rng.choice(("start", "kill", "none"))
        for level in "2345":
            rc = root / f"etc/rc{level}.d"
            rc.mkdir(exist_ok=True)
            if links != "none":
                os.symlink("../init.d/demo", rc / ("S01demo" if links == "start" else "K01demo"))
    return native


def test_unit_state_matches_systemctl_is_enabled(tmp_path: Path) -> None:
    require("systemctl")
    rng = random.Random(SEED)
    disagreements, states = [], set()
    for number in range(CASES):
        root = tmp_path / f"tree{number}"
        native = build(root, rng)
        result = isolated(["systemctl", f"--root={root}", "is-enabled", "demo.service"])
        theirs = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
        ours = unit_state(Context(RootfsHost(str(root))), "demo.service").state
        states.add(ours)
        script = root / "etc/init.d/demo"
        masked = any((root / d / "demo.service").is_symlink() for d in ("etc/systemd/system", "run/systemd/system"))
        if not native and not masked and script.exists() and not script.stat().st_mode & 0o100:
            assert ours == "not-found", root.name  # the generator's reading, not sysv-install's
            continue
        if theirs not in SAME.get(ours, {ours}):
            disagreements.append((root.name, ours, theirs, result.stderr.strip()[-200:]))
    assert disagreements == [], disagreements[:5]
    assert states >= {"enabled", "disabled", "masked", "static", "not-found"}, states
