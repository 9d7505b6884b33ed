"""How many shard and finalize tasks a flow run keeps going at once: ``workers``, whatever runner.

The flow decorator's thread runner has no bound of its own (a deployment from ``prefect.yaml``
runs with it, on a worker machine of any size); the flow submits at most ``workers`` tasks at
once. Before, the decorator's runner had two threads, so a deployment used two cores.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from flows import clean_corpus as cc
from flows import steps
from flows.params import FlowParams
from flows.runners import default_workers

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "data" / "raw" / "000_77a03ed607cd6b14.txt"


class _Gauge:
    """Counts the calls running at once, and the most there ever were."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.most = 0

    def __enter__(self) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.now -= 1

    def hold_until(self, most: int, timeout: float = 10.0) -> None:
        """Wait (within a call) until ``most`` calls have run at once, or ``timeout`` passed: the
        calls a bound lets run together meet however slowly the machine starts them."""
        deadline = time.monotonic() + timeout
        while self.most < most and time.monotonic() < deadline:
            time.sleep(0.005)


class _Future:
    """The part of a Prefect future ``_submit_bounded`` uses."""

    def __init__(self, inner: Future) -> None:
        self.inner = inner

    def add_done_callback(self, fn: Any) -> None:
        self.inner.add_done_callback(lambda _: fn(self))

    def result(self) -> Any:
        return self.inner.result()


class _Task:
    """A task whose ``submit`` runs the call on a thread pool larger than any bound tested."""

    def __init__(self, pool: ThreadPoolExecutor, gauge: _Gauge, expected: int) -> None:
        self.pool, self.gauge, self.expected = pool, gauge, expected

    def _call(self, x: int) -> int:
        with self.gauge:
            # a call that ends before the expected peak waits for it (the test then fails on a
            # peak too low only after the timeout); finishing out of order
            self.gauge.hold_until(self.expected, timeout=5.0)
            time.sleep(0.01 * (x % 3))
            return x * x

    def submit(self, x: int) -> _Future:
        return _Future(self.pool.submit(self._call, x))


@pytest.mark.parametrize(("slots", "most"), [(1, 1), (3, 3), (None, 10)])
def test_submit_bounded_keeps_at_most_slots_going_and_returns_all(slots: int | None, most: int) -> None:
    gauge = _Gauge()
    with ThreadPoolExecutor(16) as pool:
        got = list(cc._submit_bounded(_Task(pool, gauge, most), [{"x": x} for x in range(10)], slots))
    assert sorted(k for k, _ in got) == list(range(10))
    assert all(fut.result() == k * k for k, fut in got)
    assert gauge.most == most


def test_submit_bounded_with_nothing_to_do() -> None:
    with ThreadPoolExecutor(1) as pool:
        assert list(cc._submit_bounded(_Task(pool, _Gauge(), 1), [], 2)) == []


class _Log:
    """Jobs that record when they start and end, one failing on request."""

    def __init__(self, pool: ThreadPoolExecutor, fail: int | None = None) -> None:
        self.pool, self.fail = pool, fail
        self.lock = threading.Lock()
        self.events: list[tuple[str, int]] = []

    def _run(self, k: int) -> int:
        with self.lock:
            self.events.append(("start", k))
        time.sleep(0.02 if k % 2 else 0.005)
        with self.lock:
            self.events.append(("end", k))
        if k == self.fail:
            raise RuntimeError(f"job {k} failed")
        return k

    def submit(self, k: int) -> _Future:
        return _Future(self.pool.submit(self._run, k))


@pytest.mark.parametrize("slots", [1, 2, None])
def test_a_job_starts_only_after_the_one_it_waits_for(slots: int | None) -> None:
    after = [None, None, 0, 1, 0, None, 3]
    with ThreadPoolExecutor(8) as pool:
        log = _Log(pool)
        got = [(k, fut.result()) for k, fut in steps.in_order(log.submit, after, slots)]
    assert sorted(got) == [(k, k) for k in range(len(after))]
    at = {event: n for n, event in enumerate(log.events)}
    for k, first in enumerate(after):
        if first is not None:
            assert at[("end", first)] < at[("start", k)], (k, log.events)


def test_the_jobs_of_a_failed_job_are_never_submitted() -> None:
    with ThreadPoolExecutor(4) as pool:
        log = _Log(pool, fail=0)
        with pytest.raises(RuntimeError, match="job 0 failed"):
            for _, fut in steps.in_order(log.submit, [None, 0, 0, None], None):
                fut.result()
        with pytest.raises(ValueError, match="wait for jobs"):
            list(steps.in_order(log.submit, [None, 5], None))
    started = {k for what, k in log.events if what == "start"}
    assert 0 in started and not started & {1, 2}


def test_split_shards_wait_for_their_block_and_whole_blocks_do_not() -> None:
    blocks = [{"path": "f/a.json"}, {"path": "f/b.json"}]
    shards = [
        {"bytes": 5, "furniture": "f/a.json"},
        {"bytes": 30},
        {"bytes": 6, "furniture": "f/a.json"},
        {"bytes": 4, "furniture": "f/b.json"},
        {"bytes": 50, "furniture": "f/b.json", "reuse": True},
        {"bytes": 20},
    ]
    jobs, after = steps.shard_jobs(blocks, shards)
    assert [kind for kind, _ in jobs] == ["block", "block"] + ["shard"] * 6
    assert [job.get("bytes") for _, job in jobs[2:]] == [30, 20, 6, 5, 4, 50]  # largest first
    assert after == [None, None, None, None, 0, 0, 1, None]  # a reused shard reads nothing


def test_task_slots_are_the_workers_outside_a_flow_run(tmp_path: Path) -> None:
    params = FlowParams(inputs=[str(tmp_path)], out=str(tmp_path / "out"))
    assert cc._task_slots(params) == default_workers()
    assert cc._task_slots(params.model_copy(update={"workers": 5})) == 5


@pytest.mark.flow
def test_the_flow_runs_workers_shards_at_once_on_its_own_runner(
    prefect_harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flow called as it is (as a deployment runs it) with ``workers=3``: three shard steps at
    once, not the two threads the decorator's runner used to have."""
    inp = tmp_path / "in"
    inp.mkdir()
    seed = SEED.read_text(encoding="utf-8")
    for k in range(6):  # six files of a few KB: six shards of at least shard_bytes each
        (inp / f"page{k}.txt").write_text(seed.replace("本报讯", f"本报讯{k}"), encoding="utf-8")
    gauge = _Gauge()
    process_shard = steps.process_shard

    def slow_shard(*args: Any) -> Any:
        with gauge:
            gauge.hold_until(3)  # three at once, however slowly the tasks start
            return process_shard(*args)

    monkeypatch.setattr(steps, "process_shard", slow_shard)
    params = FlowParams(
        inputs=[str(inp)], out=str(tmp_path / "out"), workers=3, shard_bytes=1024, min_shard_bytes=1024
    )
    summary = asyncio.run(cc.clean_corpus(params=params))
    assert summary["files_processed"] == 6
    assert gauge.most == 3
    assert steps.validate_output(tmp_path / "out") == []
    shutil.rmtree(tmp_path / "out")
