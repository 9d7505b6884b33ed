"""The flow's step processes (``--runner process``): where a step runs, and what a failure does.

The runner's outputs against the thread runner's are compared in ``test_runners.py``.
"""

from __future__ import annotations

import argparse
import os
from concurrent.futures.process import BrokenProcessPool

import pytest

from flows import offload
from flows.clean_corpus import _io_error, _step_workers
from flows.cli import _with_runner
from flows.params import FlowParams


def test_without_a_pool_a_step_runs_in_the_calling_process() -> None:
    assert offload.run_step(os.getpid) == os.getpid()
    with offload.step_processes(1) as pool:  # one worker: no pool to start
        assert pool is None
        assert offload.run_step(os.getpid) == os.getpid()


def test_steps_run_in_worker_processes_and_raise_their_errors_here() -> None:
    with offload.step_processes(2) as pool:
        assert pool is not None
        pids = {offload.run_step(os.getpid) for _ in range(4)}
        assert os.getpid() not in pids and 1 <= len(pids) <= 2
        with pytest.raises(ValueError, match="invalid literal"):
            offload.run_step(int, "not a number")
        assert offload.run_step(len, "abc") == 3  # the pool goes on after a step's error
    assert offload.run_step(os.getpid) == os.getpid()  # the block's end stops using it


def test_a_dead_worker_fails_its_step_and_the_next_step_gets_a_new_pool() -> None:
    with offload.step_processes(2):
        before = offload.run_step(os.getpid)
        with pytest.raises(BrokenProcessPool):
            offload.run_step(os._exit, 3)  # the worker dies as if killed
        after = offload.run_step(os.getpid)
        assert after not in (before, os.getpid())


def test_one_pool_per_process_at_a_time() -> None:
    with offload.step_processes(2), pytest.raises(RuntimeError, match="already active"):
        with offload.step_processes(2):
            pass
    with offload.step_processes(2) as pool:  # the failed attempt left nothing behind
        assert pool is not None


@pytest.mark.parametrize(
    ("worker_processes", "workers", "shards", "expected"),
    [
        (False, 4, 8, 0),  # the thread runner: no processes
        (True, 4, 1, 0),  # one shard: not worth a pool's start
        (True, 4, 0, 0),  # nothing to process
        (True, 1, 8, 0),  # one worker
        (True, 3, 8, 3),
    ],
)
def test_step_workers(worker_processes: bool, workers: int, shards: int, expected: int) -> None:
    params = FlowParams(worker_processes=worker_processes, workers=workers)
    assert _step_workers(params, shards) == expected


@pytest.mark.parametrize(("runner", "expected"), [("process", True), ("thread", False), ("dask", False)])
@pytest.mark.parametrize("configured", [False, True])
def test_the_runner_option_decides_worker_processes(runner: str, expected: bool, configured: bool) -> None:
    params = FlowParams(worker_processes=configured)
    assert _with_runner(argparse.Namespace(runner=runner), params).worker_processes is expected


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def result(self) -> None:
        raise self.exc


@pytest.mark.parametrize(
    ("exc", "retried"),
    [
        (OSError("disk full"), True),
        (TimeoutError(), True),
        (BrokenProcessPool("a worker died"), True),  # every step of the pool fails, not only its own
        (ValueError("a bug"), False),
    ],
)
def test_which_failures_are_retried(exc: BaseException, retried: bool) -> None:
    assert _io_error(None, None, _Failed(exc)) is retried
