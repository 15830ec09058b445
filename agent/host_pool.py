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


def _serve(entries: Sequence[Any], work: Callable[[Any], Any], conn: Any, threads: int, parent: int) -> None:
    """A worker process: ``threads`` threads take entry numbers from its own pipe until told to
    stop (None) and send each result back on it. The pipe is this process's alone, so a worker
    that dies while one of its threads waits on it (holding the lock around it) blocks no other
    worker, as a queue shared between processes would."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what an interrupt stops
    _end_with_parent(parent)
    receiving, sending = threading.Lock(), threading.Lock()

    def loop() -> None:
        while True:
            with receiving:
                index = conn.recv()
            if index is None:
                return
            result = work(entries[index])
            with sending:
                conn.send((index, result))

    pool = [threading.Thread(target=loop, name=f"fedharden-host-{i}") for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()


class _Worker:
    """The parent's view of one worker: its process, its end of the pipe, the entries it holds."""

    def __init__(self, process: Any, conn: Any, slots: int) -> None:
        self.process, self.slots = process, slots
        self.conn: Any = conn
        self.held: set[int] = set()


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
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # a child would write out a copy of what is still buffered
    gc.freeze()  # the collector leaves what exists now alone: fewer of its pages copied in each child
    workers: list[_Worker] = []
    for i, n in enumerate(threads):
        mine, theirs = ctx.Pipe()
        process = ctx.Process(target=_serve, args=(entries, work, theirs, n, os.getpid()), daemon=True,
                              name=f"fedharden-hosts-{i}")
        process.start()
        theirs.close()
        workers.append(_Worker(process, mine, n))
    pending = set(range(len(entries)))  # not yet yielded
    handed = 0
    finished = False

    def hand_out(worker: _Worker) -> None:
        """Fill the worker's free threads; it holds at most as many entries as it has threads,
        so what is under way stays bounded by ``jobs`` whatever the inventory's size."""
        nonlocal handed
        while handed < len(entries) and len(worker.held) < worker.slots:
            try:
                worker.conn.send(handed)
            except OSError:  # it is gone: its sentinel says so next
                return
            worker.held.add(handed)
            handed += 1

    try:
        for worker in workers:
            hand_out(worker)
        alive = {w.process.sentinel: w for w in workers}
        readers = {w.conn: w for w in workers}
        while pending:
            ready = wait([*readers, *alive])
            for worker in [readers[c] for c in ready if c in readers]:
                try:
                    index, payload = worker.conn.recv()
                except (EOFError, OSError):  # the worker ended: its sentinel reports what it held
                    del readers[worker.conn]
                    continue
                worker.held.discard(index)
                pending.discard(index)
                hand_out(worker)
                yield payload
            for sentinel in [s for s in ready if s in alive]:
                worker = alive.pop(sentinel)
                if worker.conn in readers and worker.conn.poll():
                    alive[sentinel] = worker  # results it sent before ending are read first
                    continue
                readers.pop(worker.conn, None)
                worker.process.join()
                why = f"internal error: the process scanning it ended (exit code {worker.process.exitcode})"
                gone = sorted(worker.held) if alive else sorted(pending)
                worker.held.clear()
                for index in gone:  # with no worker left, what was not handed out is lost too
                    pending.discard(index)
                    yield lost(entries[index], why)
                for other in alive.values():
                    hand_out(other)
        finished = True
    finally:
        gc.unfreeze()
        for worker in workers:
            if finished:
                for _ in range(worker.slots):
                    try:
                        worker.conn.send(None)
                    except OSError:
                        break
            else:  # interrupted, or the caller stopped early: hosts under way are dropped
                worker.process.terminate()
            worker.process.join(timeout=10)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
