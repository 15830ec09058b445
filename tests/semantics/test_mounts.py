"""Mounts at boot: what fedharden says systemd mounts from /etc/fstab, against the real
systemd-fstab-generator run on the same fstab (bound over /etc/fstab in a mount namespace,
writing its units into a scratch directory): which mount points get a unit pulled in by
local-fs.target, under which unit name, with which Options=.

CASES fstab files seeded with SEED (``random.Random``: one namespace runs them all, so they are
generated up front): /tmp, /var/tmp, /home and a path with an escaped space, each on zero to
two lines (the generator refuses the second), options with ``defaults``, ``noauto``,
``nofail``, ``x-systemd.*``, comments, swap lines. /dev/shm is left out: the generator makes no
unit for an API file system (systemd-remount-fs applies its line), which the scenarios cover.

Which unit file wins (/etc over the generator over /usr/lib, masks) is compared with
``systemctl --root=ROOT is-enabled`` on generated unit trees, the other half of the rule; how
``Options=`` reads in a unit and its drop-ins follows systemd.unit(5) and is pinned by the
FS.1/FS.2 scenarios (no offline program prints a unit's parsed settings).
"""
from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

from agent.facts.context import Context
from agent.facts.mounts import boot_mount, generated_options, parse_table, unit_name
from agent.facts.systemd import unit_state
from agent.hosts.rootfs import RootfsHost
from tests.semantics.oracle import isolated, require

CASES = 200
SEED = 20261207
POINTS = ("/tmp", "/var/tmp", "/home", "/srv/my\\040data")
OPTIONS = ("defaults", "nodev", "nosuid", "noexec", "noauto", "nofail", "x-systemd.device-timeout=5s", "mode=1777",
           "size=2G", "rw", "relatime")

BATCH = r"""
import json, os, subprocess, sys
spec = json.loads(sys.argv[1])
for fstab, out in spec["cases"]:
    subprocess.run(["mount", "--bind", fstab, "/etc/fstab"], check=True)
    dirs = [os.path.join(out, d) for d in ("normal", "early", "late")]
    for d in dirs:
        os.makedirs(d)
    subprocess.run([spec["generator"], *dirs], capture_output=True, env={"SYSTEMD_LOG_LEVEL": "err"})
    subprocess.run(["umount", "/etc/fstab"], check=True)
"""


def generate(rng: random.Random) -> str:
    lines = ["# /etc/fstab: static file system information.", "/dev/vda1 / ext4 errors=remount-ro 0 1"]
    for point in POINTS:
        for _ in range(rng.choices((0, 1, 2), weights=(2, 5, 1))[0]):
            options = ",".join(rng.sample(OPTIONS, rng.randrange(1, 5)))
            device = rng.choice(("tmpfs", "/dev/vg/data", "UUID=0a1b2c3d"))
            fstype = "tmpfs" if device == "tmpfs" else "ext4"
            lines.append(f"{device} {point} {fstype} {options} 0 {rng.randrange(3)}")
    if rng.random() < 0.3:
        lines.append("/dev/vda2 none swap sw 0 0")
    rng.shuffle(lines)
    return "\n".join(lines) + "\n"


def generator_view(out: Path, name: str) -> tuple[str, ...] | None:
    """Options= of the generated unit when local-fs.target pulls it in, else None."""
    unit = out / "normal" / name
    pulled = any((out / "normal" / f"local-fs.target.{kind}" / name).exists() for kind in ("requires", "wants"))
    if not unit.exists() or not pulled:
        return None
    for line in unit.read_text().splitlines():
        if line.startswith("Options="):
            return tuple(o for o in line[len("Options="):].split(",") if o)
    return ()


def test_fstab_matches_the_generator(tmp_path: Path) -> None:
    generator = "/lib/systemd/system-generators/systemd-fstab-generator"
    assert os.path.exists(generator), "systemd is not installed: run the suite through tests/run"
    rng = random.Random(SEED)
    cases = []
    for number in range(CASES):
        root = tmp_path / f"case{number}"
        (root / "etc").mkdir(parents=True)
        (root / "etc/fstab").write_text(generate(rng))
        cases.append(root)
    done = isolated([sys.executable, "-c", BATCH, json.dumps(
        {"generator": generator, "cases": [[str(r / "etc/fstab"), str(r / "out")] for r in cases]})], timeout=600)
    assert done.returncode == 0, done.stderr
    disagreements = []
    mounted = 0
    for root in cases:
        ctx = Context(RootfsHost(str(root)))
        fstab = parse_table((root / "etc/fstab").read_text(), "/etc/fstab", numbered=True)
        for raw in POINTS:
            path = parse_table(f"x {raw} t o", "", numbered=False)[0].mountpoint
            mine = boot_mount(ctx, path, fstab)
            ours = generated_options(mine[0].options) if mine else None
            theirs = generator_view(root / "out", unit_name(path))
            mounted += theirs is not None
            if ours != theirs:
                disagreements.append((root.name, path, ours, theirs))
    assert disagreements == [], disagreements[:5]
    assert mounted > CASES, mounted  # most cases mount something


UNIT = "[Unit]\nDescription=t\n[Mount]\nWhat=tmpfs\nWhere=/tmp\nType=tmpfs\nOptions=nosuid\n[Install]\nWantedBy=local-fs.target\n"


def test_unit_state_matches_systemctl(tmp_path: Path) -> None:
    """Which tmp.mount is in force and whether it is enabled, against systemctl --root: 60
    unit trees seeded with SEED (tmp.mount in /etc and/or /usr/lib, masked in either, an
    enabling link in /etc to either)."""
    require("systemctl")
    rng = random.Random(SEED)
    disagreements = []
    for number in range(60):
        root = tmp_path / f"units{number}"
        for directory in ("etc/systemd/system", "usr/lib/systemd/system"):
            (root / directory).mkdir(parents=True)
        placed = []
        for directory in ("etc/systemd/system", "usr/lib/systemd/system"):
            roll = rng.random()
            if roll < 0.4:
                (root / directory / "tmp.mount").write_text(UNIT)
                placed.append(directory)
            elif roll < 0.5:
                os.symlink("/dev/null", root / directory / "tmp.mount")
        # Links in /etc only: systemctl is-enabled calls a unit linked from /usr/lib's .wants
        # "disabled" though the manager follows that link at boot (and so does fedharden).
        if placed and rng.random() < 0.6:
            wants = root / "etc/systemd/system/local-fs.target.wants"
            wants.mkdir()
            os.symlink(f"/{rng.choice(placed)}/tmp.mount", wants / "tmp.mount")
        theirs = isolated(["systemctl", f"--root={root}", "is-enabled", "tmp.mount"]).stdout.strip()
        ours = unit_state(Context(RootfsHost(str(root))), "tmp.mount").state
        same = {"enabled": ("enabled",), "masked": ("masked",), "disabled": ("disabled",), "static": ("static",),
                "not-found": ("", "not-found")}
        if theirs not in same.get(ours, (ours,)):
            disagreements.append((root.name, ours, theirs))
    assert disagreements == [], disagreements[:5]
