"""The fixes' files read by the real programs: sshd -T after the sshd_option drop-in (on a copy of
Debian 12's own /etc/ssh, bind-mounted in a private namespace), and modprobe -n -v reading the
kernel_module drop-in (-C: that folder alone). Never this machine's /etc."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from checks.fixes import plan
from checks.fixes.model import FileState, Files, WriteFile
from tests.semantics.oracle import isolated, require

pytestmark = pytest.mark.slow  # real programs in namespaces


def _write(root: Path, actions: tuple[object, ...]) -> None:
    for a in actions:
        if isinstance(a, WriteFile):
            target = root / a.path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(a.content)


def sshd_T(etc_ssh: Path) -> dict[str, str]:
    sshd = require("sshd")
    Path("/run/sshd").mkdir(exist_ok=True)
    proc = isolated([sshd, "-T", "-f", "/etc/ssh/sshd_config", "-h", "/etc/ssh/ssh_host_ed25519_key"],
                    [("bind", str(etc_ssh), "/etc/ssh")])
    assert proc.returncode == 0, proc.stderr
    return {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in proc.stdout.splitlines() if " " in line}


@pytest.mark.parametrize("include", [True, False], ids=["stock", "no-include"])
def test_sshd_option_wins_in_sshd_T(debian_rootfs: Path, tmp_path: Path, include: bool) -> None:
    etc = tmp_path / "root/etc/ssh"
    shutil.copytree(debian_rootfs / "etc/ssh", etc, symlinks=True)
    stock = (etc / "sshd_config").read_text()
    if not include:  # a vendor file without the Include, and a weak value of its own
        (etc / "sshd_config").write_text(stock.replace("Include /etc/ssh/sshd_config.d/*.conf", "") +
                                         "PermitRootLogin yes\nMaxAuthTries 10\n")
    if not (etc / "ssh_host_ed25519_key").exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(etc / "ssh_host_ed25519_key")],
                       check=True, timeout=30, stdin=subprocess.DEVNULL)
    before = sshd_T(etc)
    main = FileState("/etc/ssh/sshd_config", "file", (etc / "sshd_config").read_text(), 0o644, "root", "root")
    actions = plan({"type": "sshd_option", "set": {"PermitRootLogin": "no", "MaxAuthTries": 4, "X11Forwarding": False}},
                   Files({main.path: main}))
    _write(tmp_path / "root", actions)
    after = sshd_T(etc)
    assert (before["permitrootlogin"], before["maxauthtries"]) != ("no", "4")
    assert (after["permitrootlogin"], after["maxauthtries"], after["x11forwarding"]) == ("no", "4", "no")


def test_kernel_module_dropin_makes_modprobe_run_false(tmp_path: Path) -> None:
    modprobe = require("modprobe")
    empty = tmp_path / "empty"
    empty.mkdir()
    _write(tmp_path / "root", plan({"type": "kernel_module", "modules": ["cramfs", "usb-storage"]}, Files()))
    conf = tmp_path / "root/etc/modprobe.d"
    for module in ("cramfs", "usb-storage"):
        ours = subprocess.run([modprobe, "-n", "-v", "-C", str(conf), module], capture_output=True, text=True,
                              timeout=30, check=False)
        assert (ours.returncode, ours.stdout.strip()) == (0, "install /bin/false")
        bare = subprocess.run([modprobe, "-n", "-v", "-C", str(empty), module], capture_output=True, text=True,
                              timeout=30, check=False)
        assert "install /bin/false" not in bare.stdout
    shown = subprocess.run([modprobe, "-c", "-C", str(conf)], capture_output=True, text=True, timeout=30, check=True)
    assert {"blacklist cramfs", "blacklist usb_storage"} <= set(shown.stdout.splitlines())
