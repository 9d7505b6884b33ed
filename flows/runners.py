"""Task runners for ``presswash run --runner …``.

The shard work is CPU-bound Python, so threads share one core (the GIL); the
``process`` and ``dask`` runners are the ones that use several cores. ``process``
keeps Prefect's tasks on threads and runs their steps in worker processes
(:mod:`flows.offload`, switched on by ``FlowParams.worker_processes``). See the
README ("Using several cores, and Dask") for measurements.
"""

from __future__ import annotations

import os
from typing import Any

RUNNERS = ("thread", "process", "dask")


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def make_task_runner(kind: str = "thread", workers: int | None = None, address: str | None = None) -> Any:
    """A Prefect task runner: ``thread``, ``process`` or ``dask`` (local cluster or ``address``).

    ``process`` is the thread runner with ``workers`` threads: the flow's parameters must also ask
    for worker processes (``worker_processes``), which is what puts the steps in them.
    """
    if kind not in RUNNERS:
        raise ValueError(f"unknown runner {kind!r}; choose one of {', '.join(RUNNERS)}")
    if address and kind != "dask":
        raise ValueError("--address needs --runner dask")
    n = workers or default_workers()
    if kind in ("thread", "process"):
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=n)
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as exc:  # the dask extra is optional
        raise RuntimeError("--runner dask needs prefect-dask: pip install 'presswash[dask]'") from exc
    if address:
        return DaskTaskRunner(address=address)
    # One single-threaded worker process per core: the work holds the GIL.
    return DaskTaskRunner(
        cluster_kwargs={"n_workers": n, "threads_per_worker": 1, "processes": True, "dashboard_address": None}
    )
