"""A real collector (``fedharden collector serve``: uvicorn, SQLite) on loopback for the agent's
end-to-end tests, with its database in a directory of its own."""
from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

FEDHARDEN = str(Path(sys.executable).with_name("fedharden"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Collector:
    """One real collector process on loopback, with its SQLite database in a temp dir."""

    def __init__(self, workdir: Path, tls: tuple[Path, Path] | None = None) -> None:
        self.workdir = workdir
        self.db_path = workdir / "collector.sqlite3"
        self.db = f"sqlite:///{self.db_path}"
        self.port = free_port()
        self.tls = tls
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "collector.log"

    def admin(self, *args: str) -> str:
        done = subprocess.run([FEDHARDEN, "collector", *args, "--db", self.db], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def setup(self) -> tuple[str, str]:
        """An agency, its enrollment secret, and an admin token to read what was stored."""
        self.admin("agency", "add", "AG1")
        return self.admin("token", "enrollment", "--agency", "AG1"), self.admin("token", "create", "--role", "admin")

    def start(self, *extra: str) -> None:
        """``extra``: more ``collector serve`` options (a directive repository, an upstream)."""
        args = [FEDHARDEN, "collector", "serve", "--db", self.db, "--port", str(self.port), "--snapshot-interval", "0",
                *extra]
        if self.tls:
            args += ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"collector did not start: {self.log.read_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db_path) as conn:
            return conn.execute(sql, args).fetchall()

    def reports(self) -> list[tuple[str, int, int]]:
        """(kind, sequence, changed results) of every applied report, in the order applied."""
        return [(k, s, c) for k, s, c in self.query("SELECT kind, sequence, changed FROM reports ORDER BY rowid")]
