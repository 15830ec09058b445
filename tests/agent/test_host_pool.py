"""Per-host work in forked processes (agent.host_pool): every entry's result comes back once,
whatever the split of threads; a process that dies costs only the entries it had taken, and
when every process is gone the rest are reported, never waited for."""
from __future__ import annotations

import os
import threading
import time

import pytest

from agent.host_pool import run
from agent.inventory_scan import parallel


def lost(entry: int, why: str) -> str:
    return f"lost {entry}: {why}"


def double(entry: int) -> tuple[int, int, int]:
    time.sleep(0.01)
    return entry, entry * 2, os.getpid()


@pytest.mark.parametrize("jobs,processes", [(4, 2), (3, 2), (5, 3), (2, 8)])
def test_every_entry_once_in_the_forked_processes(jobs: int, processes: int) -> None:
    entries = list(range(23))
    results = list(run(entries, double, jobs, processes, lost))
    assert sorted(r[:2] for r in results) == [(e, e * 2) for e in entries]  # type: ignore[index]
    pids = {r[2] for r in results}  # type: ignore[index]
    assert os.getpid() not in pids and 1 <= len(pids) <= min(jobs, processes)


def dies_on_three(entry: int) -> str:
    if entry == 3:
        os._exit(7)  # as a process killed by the OOM killer or a signal: no exception, no result
    time.sleep(0.02)
    return f"done {entry}"


def test_a_dead_process_costs_only_the_entries_it_had_taken() -> None:
    results = list(run(list(range(10)), dies_on_three, 2, 2, lost))
    assert len(results) == 10
    assert [r for r in results if r.startswith("lost")] == [
        "lost 3: internal error: the process scanning it ended (exit code 7)"]
    assert sorted(r for r in results if r.startswith("done")) == sorted(f"done {e}" for e in range(10) if e != 3)


def always_dies(entry: int) -> str:
    os._exit(9)


def test_with_every_process_gone_the_rest_are_reported_not_waited_for() -> None:
    started = time.monotonic()
    results = list(run(list(range(7)), always_dies, 4, 2, lost))
    assert sorted(results) == sorted(f"lost {e}: internal error: the process scanning it ended (exit code 9)"
                                     for e in range(7))
    assert time.monotonic() - started < 30


def test_threads_only_when_another_thread_runs() -> None:
    """Forking while another thread holds a lock could copy it held: then threads of this process."""
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        results = list(parallel(list(range(5)), double, 4, 2, lost))  # type: ignore[arg-type]
    finally:
        stop.set()
        other.join()
    assert {r[2] for r in results} == {os.getpid()}  # type: ignore[index]
