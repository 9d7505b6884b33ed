"""Worker processes for the flow's heavy steps, started once per run (``--runner process``).

The shard, dedup and finalize steps are CPU-bound Python: on the thread task runner two shard
tasks share one core (the GIL), and on 2 cores two shard threads took longer than one. Prefect's
own process runner gives each task a process of its own that imports Prefect, the stages and
numba before it starts (a few CPU seconds per worker) and talks to the API from there.

Here Prefect keeps running the tasks on threads of the flow's process, where their state
changes and logs cost what they cost on the thread runner, and each task hands its step
function (a path-and-small-dict call of :mod:`flows.steps`) to a pool of worker processes.
Where the platform has it the pool forks its workers from a server process that has imported
the steps and loaded their kernels and dictionaries once (:mod:`flows.worker`), so a worker
starts warm; elsewhere the workers are spawned and load them on their first step.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")

# The module the pool's server process imports before it forks a worker (forkserver only).
WORKER_BOOT = "flows.worker"


class StepPool:
    """A pool of ``workers`` processes that run step functions for the flow's tasks.

    A worker that dies (killed for memory, say) breaks a ``concurrent.futures`` pool for good:
    every step the pool was running fails with ``BrokenProcessPool`` (the flow's tasks retry
    them), and the next step gets a new pool.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(self.workers, mp_context=_context())
            return self._pool

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker; its exception, if it raises, is raised here."""
        pool = self._executor()
        try:
            return pool.submit(fn, *args).result()
        except BrokenProcessPool:
            with self._lock:
                if self._pool is pool:  # the first step to see it drops the pool; the next makes one
                    self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            raise

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _context() -> Any:
    """forkserver where the platform has it (workers forked from a warm, single-threaded server
    process: safe, unlike forking the flow's process with Prefect's threads in it), else spawn."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([WORKER_BOOT])
        return ctx
    return multiprocessing.get_context("spawn")


# The pool of the flow run in this process, if it has one (tasks on the thread runner see it).
_active: StepPool | None = None
_active_lock = threading.Lock()


@contextlib.contextmanager
def step_processes(workers: int) -> Iterator[StepPool | None]:
    """Within the block, :func:`run_step` runs steps in a pool of ``workers`` processes (none
    when ``workers`` < 2: the steps run in the calling thread). The pool is shut down after."""
    global _active
    if workers < 2:
        yield None
        return
    pool = StepPool(workers)
    with _active_lock:
        if _active is not None:
            raise RuntimeError("step processes are already active in this process")
        _active = pool
    try:
        yield pool
    finally:
        with _active_lock:
            _active = None
        pool.close()


def run_step(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``: in the active pool of :func:`step_processes`, or here when there is none (the
    thread runner, a Dask worker, a run with one shard)."""
    pool = _active
    return fn(*args) if pool is None else pool.run(fn, *args)
