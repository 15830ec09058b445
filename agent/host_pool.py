"""Per-host work of an inventory on every CPU: a few forked processes, each with threads.

One Python process runs Python code on one CPU at a time, and a host's scan over SSH is
mostly Python (packets, SFTP replies, facts, checks, the report). Threads hide the network's
waits; processes use the other CPUs. ``run`` forks ``processes`` workers before any
connection is made (the parent has no other thread then: forking with threads running could
copy a lock held by one of them) and shares ``jobs`` threads between them. Each worker
inherits the entries and the work (directives, settings and secrets already loaded, nothing
read again), takes entry numbers from a queue and sends back each result; the parent hands
out a number only when a result comes back, so what is queued and what is held stays bounded
by ``jobs`` whatever the inventory's size. A worker that dies (killed, out of memory) costs
only the hosts it had taken: each is reported through ``lost``, and the others go on.
"""
from __future__ import annotations

import gc
import os
import signal
import sys
import threading
from typing import Any, Callable, Iterator, Sequence, TypeVar

E = TypeVar("E")
T = TypeVar("T")


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Whether forking is safe here: a platform with fork and no other thread running."""
    return hasattr(os, "fork") and threading.active_count() == 1


def _end_with_parent(parent: int) -> None:
    """Linux: be sent SIGTERM if the parent dies (killed, it cannot stop us; we would wait on
    its queue for ever). Elsewhere the parent's normal exit still stops its workers."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent was already gone before the request took effect
        os._exit(1)


def _serve(entries: Sequence[Any], work: Callable[[Any], Any], tasks: Any, results: Any, threads: int,
           parent: int) -> None:
    """A worker process: ``threads`` threads take entry numbers until told to stop (None)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what an interrupt stops
    _end_with_parent(parent)

    def loop() -> None:
        while (index := tasks.get()) is not None:
            results.put(("took", index, os.getpid()))
            results.put(("done", index, work(entries[index])))

    pool = [threading.Thread(target=loop, name=f"fedharden-host-{i}") for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()


def run(entries: Sequence[E], work: Callable[[E], T], jobs: int, processes: int,
        lost: Callable[[E, str], T]) -> Iterator[T]:
    """``work`` for each entry in ``processes`` forked workers sharing ``jobs`` threads; results
    in the order they finish. ``work`` must not raise; ``lost(entry, why)`` is the result of an
    entry whose worker died under it."""
    import multiprocessing
    from multiprocessing.connection import wait

    ctx = multiprocessing.get_context("fork")
    processes = max(1, min(processes, jobs, len(entries)))
    threads = [jobs // processes + (1 if i < jobs % processes else 0) for i in range(processes)]
    tasks, results = ctx.SimpleQueue(), ctx.SimpleQueue()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # a child would write out a copy of what is still buffered
    gc.freeze()  # the collector leaves what exists now alone: fewer of its pages copied in each child
    workers = [ctx.Process(target=_serve, args=(entries, work, tasks, results, n, os.getpid()), daemon=True,
                           name=f"fedharden-hosts-{i}") for i, n in enumerate(threads)]
    for worker in workers:
        worker.start()
    taken: dict[int, set[int]] = {w.pid: set() for w in workers if w.pid is not None}
    pending = set(range(len(entries)))  # not yet yielded
    handed = 0
    finished = False

    def hand_out() -> None:
        nonlocal handed
        if handed < len(entries):
            tasks.put(handed)
            handed += 1

    try:
        for _ in range(min(jobs, len(entries))):
            hand_out()
        alive = {w.sentinel: w for w in workers}
        reader = results._reader  # type: ignore[attr-defined]  # the queue's end to wait on
        while pending:
            ready = wait([reader, *alive])
            if reader in ready:
                kind, index, payload = results.get()
                if kind == "took":
                    taken.setdefault(payload, set()).add(index)
                    continue
                for held in taken.values():
                    held.discard(index)
                pending.discard(index)
                hand_out()
                yield payload
                continue
            for sentinel in [s for s in ready if s in alive]:
                worker = alive.pop(sentinel)
                worker.join()
                why = f"internal error: the process scanning it ended (exit code {worker.exitcode})"
                gone = sorted(taken.pop(worker.pid or 0, set())) if alive else sorted(pending)
                for index in gone:  # with no worker left, nothing queued will be taken either
                    pending.discard(index)
                    hand_out()
                    yield lost(entries[index], why)
        finished = True
    finally:
        gc.unfreeze()
        if finished:
            for _ in range(sum(threads)):
                tasks.put(None)
        for worker in workers:
            if not finished:  # interrupted, or the caller stopped early: hosts under way are dropped
                worker.terminate()
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()
                worker.join()
