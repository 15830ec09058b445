"""Writing a report to a device must not replace the device with a plain file."""
from __future__ import annotations

import os
import stat
from pathlib import Path

from agent.output.destinations import write_all


def test_dev_null_stays_a_device(tmp_path: Path) -> None:
    write_all([(os.devnull, "report\n"), (str(tmp_path / "r.json"), "{}\n")])
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert (tmp_path / "r.json").read_text() == "{}\n"
    assert not [p for p in os.listdir("/dev") if p.startswith(".fedharden-")]


def test_a_fifo_is_written_in_place(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        write_all([(str(fifo), "x\n")])
        assert os.read(reader, 10) == b"x\n"
        assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    finally:
        os.close(reader)
