"""The ``clean-corpus`` Prefect flow: raw dumps in, a published Parquet dataset out.

Tasks are coarse (one per shard of ``shard_bytes`` input bytes, one per output
unit), pass paths and small dicts, and never carry text. The work itself lives
in :mod:`flows.steps`; this module adds orchestration: retries and timeouts on
the I/O tasks, the run lock, the recovery of an interrupted publish, artifacts
and the ``presswash.dataset.published`` event.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from cleaning import parquet_io
from cleaning.state import RunLock, StateDir
from flows import artifacts, offload, steps
from flows.params import FlowParams


def _io_error(task: Any, task_run: Any, state: Any) -> bool:
    """Retry only I/O failures; a deterministic error would fail the same way again.

    A broken pool of step workers (one of them died: killed for memory, say) is retried too: it
    fails every step the pool was running, not only the one whose worker died.
    """
    try:
        state.result()
    except (OSError, TimeoutError, BrokenProcessPool):
        return True
    except Exception:
        return False
    return False


# The incremental catalog (not Prefect's cache) decides what is reprocessed, so
# task caching is off: a cache hit would skip writing files the run needs.
_task_opts: dict[str, Any] = {"cache_policy": NO_CACHE, "persist_result": False}


@task(name="plan", retry_condition_fn=_io_error, **_task_opts)
def plan_task(params: FlowParams, run_id: str) -> dict[str, Any]:
    return steps.plan(params, run_id)


class Opaque:
    """A mapped task argument Prefect passes on without looking inside.

    Before each task Prefect walks its arguments for futures, into every dict and list: a
    shard's file list (thousands of entries) took ~0.15 s a task. ``quote()`` stops the walk
    for direct arguments, but the Dask runner hands a quoted mapped argument to the task as a
    plain tuple; a plain object is passed as it is by every runner (and pickled to workers).
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Opaque({type(self.value).__name__})"


def _opened(value: Any) -> Any:
    return value.value if isinstance(value, Opaque) else value


@task(name="process-shard", retry_condition_fn=_io_error, **_task_opts)
def process_shard_task(shard: dict[str, Any] | Opaque, params: FlowParams) -> dict[str, Any]:
    return offload.run_step(steps.process_shard, _opened(shard), params)


@task(name="block-furniture", retry_condition_fn=_io_error, **_task_opts)
def block_furniture_task(block: dict[str, Any] | Opaque, params: FlowParams) -> dict[str, Any]:
    return offload.run_step(steps.block_furniture, _opened(block), params)


@task(name="dedup-reduce", retry_condition_fn=_io_error, **_task_opts)
def reduce_task(catalog: dict[str, dict[str, Any]], params: FlowParams, run_id: str) -> dict[str, Any]:
    return offload.run_step(steps.reduce_dedup, catalog, params, run_id)


@task(name="finalize-unit", retry_condition_fn=_io_error, **_task_opts)
def finalize_task(uid: str, live: list[str] | Opaque, params: FlowParams, run_id: str) -> dict[str, Any]:
    return offload.run_step(steps.finalize_unit, uid, _opened(live), params, run_id)


@task(name="publish", retry_condition_fn=_io_error, **_task_opts)
def publish_task(
    params: FlowParams,
    the_plan: dict[str, Any],
    shard_stats: list[dict[str, Any]],
    finals: list[dict[str, Any]],
    dedup_stats: dict[str, Any],
    started: str,
    block_stats: list[dict[str, Any]],
) -> dict[str, Any]:
    return steps.publish_run(params, the_plan, shard_stats, finals, dedup_stats, started, block_stats)


def _thread_runner() -> bool:
    """Whether this flow run's tasks run on a thread task runner (also true outside a flow run)."""
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    return ctx is None or isinstance(ctx.task_runner, ThreadPoolTaskRunner)


def _step_workers(params: FlowParams, shards: int) -> int:
    """Processes for the steps: ``workers`` with ``worker_processes`` and more than one shard, else
    none (a single shard, or a run with nothing to process, gains nothing from a pool's start).
    Only under a thread task runner, whose tasks run in this process: other runners' tasks run
    in processes of their own (a Dask worker), where the pool would stay unused."""
    if not params.worker_processes or shards < 2:
        return 0
    workers = _task_slots(params)  # as many processes as tasks run at once
    return workers if workers is not None and workers > 1 else 0


def _task_slots(params: FlowParams) -> int | None:
    """How many shard or finalize tasks the flow keeps submitted at once: ``workers`` (default
    one per core) under a thread task runner, None (all of them) under another runner.

    A thread runner takes as many tasks at once as it has threads. The flow's own runner (the
    decorator's, which a deployment from ``prefect.yaml`` runs with) has no fixed number of them,
    so it is the flow that bounds a run by ``workers``: the worker machine's cores by default,
    as many as a pool of step processes has, or shard threads the process can hold. A task that
    waits for its turn is not submitted yet, so it is not "Running" in the UI and its
    ``timeout_seconds`` has not started. Other runners (a Dask cluster, maybe larger than this
    machine) bound themselves by their workers.
    """
    if not _thread_runner():
        return None
    from flows.runners import default_workers

    return params.workers or default_workers()


def _submit_bounded(
    task: Any, calls: list[dict[str, Any]], slots: int | None
) -> Iterator[tuple[int, PrefectFuture]]:
    """``(k, task.submit(**calls[k]))`` for every call, in the order they finish, with at most
    ``slots`` of them submitted and not finished at any time (all at once when None)."""
    return steps.in_order(lambda k: task.submit(**calls[k]), [None] * len(calls), slots)


def _opts(params: FlowParams) -> dict[str, Any]:
    return {
        "retries": params.retries,
        "retry_delay_seconds": params.retry_delay_seconds,
        "timeout_seconds": params.timeout_seconds,
    }


def _current_run_id() -> str:
    try:
        from prefect.runtime import flow_run

        rid = flow_run.id
        if rid:
            return str(rid)
    except Exception:
        pass
    return uuid.uuid4().hex


def _logger() -> logging.Logger | logging.LoggerAdapter:
    try:
        return get_run_logger()
    except Exception:
        return logging.getLogger("presswash")


@flow(
    name="clean-corpus",
    # no bound of its own: the flow submits at most `workers` shard tasks at once (_task_slots)
    task_runner=ThreadPoolTaskRunner(),
    validate_parameters=True,
    persist_result=False,
)
async def clean_corpus(params: FlowParams) -> dict[str, Any]:
    """Clean, deduplicate and publish the given inputs into ``params.out`` (cumulatively).

    Async for one reason: at the end of a synchronous flow Prefect joins its heartbeat
    thread, which sleeps in 1 s steps (~0.5 s per run); the asynchronous engine does not
    wait for it. The body is the same synchronous code (the tasks run on the task runner,
    and nothing else needs the event loop while it waits for them). From synchronous code, run
    it on an event loop: ``asyncio.run(clean_corpus(params=...))``, or as ``presswash run`` does
    (``flows.cli._wait_for``), on a loop without ``asyncio.run``'s Ctrl-C handling, which only
    cancels the main task and so cannot stop this body.
    """
    log = _logger()
    # Tasks may run in other processes or on other machines (Dask): give them absolute paths.
    params = params.model_copy(update={"out": str(Path(params.out).absolute())})
    run_id = _current_run_id()
    started = steps.now_iso()
    state = StateDir(params.out)
    state.ensure()
    opts = _opts(params)
    with RunLock(state, run_id, wait=params.wait, timeout=params.wait_timeout_seconds):
        recovered = parquet_io.recover(state.out, state.root)
        if recovered:
            log.warning("completed the interrupted publish of run %s", recovered)
        state.clear_staging()

        the_plan = plan_task.with_options(**opts)(params, run_id)
        shards = the_plan["shards"]
        log.info(
            "%d inputs: %d to process in %d shards, %d unchanged",
            len(the_plan["given"]),
            len(the_plan["processed"]),
            len(shards),
            len(the_plan["skipped"]),
        )

        # the steps in worker processes (--runner process) when there is work for more than one
        slots = _task_slots(params)
        with offload.step_processes(_step_workers(params, len(shards))):
            progress = artifacts.start_progress(len(shards))
            shard_stats: list[dict[str, Any]] = []
            block_stats: list[dict[str, Any]] = []
            # blocks cut into several shards (a small input, many workers): their furniture is
            # found over the whole block, before their shards, so rows do not depend on the cut;
            # the shards of whole blocks run beside those steps (steps.shard_jobs)
            jobs, after = steps.shard_jobs(the_plan["furniture_blocks"], the_plan["shards"])
            tasks = {
                "block": block_furniture_task.with_options(**opts),
                "shard": process_shard_task.with_options(**opts),
            }

            def submit(k: int) -> PrefectFuture:
                kind, job = jobs[k]
                return tasks[kind].submit(**{kind: Opaque(job), "params": params})

            done = 0
            for k, fut in steps.in_order(submit, after, slots):
                stats = fut.result()
                if jobs[k][0] == "block":
                    block_stats.append(stats)
                    log.info(
                        "block %s (%d files, cut into shards): %d furniture lines",
                        stats["block"],
                        stats["files"],
                        stats["furniture_lines"],
                    )
                    continue
                shard_stats.append(stats)
                done += 1
                artifacts.update_progress(progress, done, len(shards))
                log.info(
                    "shard %s: %d files, %d articles, %d paragraphs, %d rejects",
                    stats["unit"],
                    stats["files"],
                    stats["articles"],
                    stats["paragraphs"],
                    stats["rejects"],
                )
            shard_stats.sort(key=lambda s: s["unit"])

            catalog = the_plan["catalog"]
            # quote(): the catalog and the plan are plain data (an entry per input file) with no
            # futures inside; without it Prefect walks every entry looking for some. (Mapped
            # arguments go in an Opaque box instead: see there.)
            dedup_stats = reduce_task.with_options(**opts)(quote(catalog), params, run_id)
            live = steps.live_units(catalog)
            units = list(live)
            if units:
                calls = [
                    {"uid": u, "live": Opaque(live[u]), "params": params, "run_id": run_id} for u in units
                ]
                by_position = {
                    k: fut.result()
                    for k, fut in _submit_bounded(finalize_task.with_options(**opts), calls, slots)
                }
                finals = [by_position[k] for k in range(len(units))]
            else:
                finals = []
        _merge_shard_status(shard_stats, finals)

        published = publish_task.with_options(**opts)(
            params,
            quote(the_plan),
            quote(shard_stats),
            quote(finals),
            dedup_stats,
            started,
            quote(sorted(block_stats, key=lambda b: b["block"])),
        )
        manifest = published["manifest"]
        artifacts.report(manifest, published)
        artifacts.emit_published(manifest, published)
        summary = summarize(manifest, published)
        log.info(
            "published %s: %d articles, %d paragraphs (%d kept), %d rejects",
            summary["output"],
            summary["articles"],
            summary["paragraphs"],
            summary["kept"],
            summary["rejects"],
        )
        return summary


def _merge_shard_status(shard_stats: list[dict[str, Any]], finals: list[dict[str, Any]]) -> None:
    """Add the post-dedup paragraph statuses of each unit to its shard's stats."""
    by_unit = {f["unit"]: f for f in finals}
    for s in shard_stats:
        f = by_unit.get(s["unit"], {})
        for key in ("kept", "duplicate", "truncated"):
            s[key] = f.get(key, 0)


def summarize(manifest: dict[str, Any], published: dict[str, Any] | None = None) -> dict[str, Any]:
    """The short summary the CLI prints and the markdown artifact shows."""
    status = manifest["paragraph_status"]
    return {
        "run_id": manifest["run_id"],
        "output": manifest["output"],
        "files_given": manifest["this_run"]["given"],
        "files_processed": manifest["this_run"]["processed"],
        "files_skipped": manifest["this_run"]["skipped"],
        "articles": manifest["counts"]["articles"],
        "paragraphs": manifest["counts"]["paragraphs"],
        "kept": status.get("kept", 0),
        "duplicate": status.get("duplicate", 0),
        "truncated": status.get("truncated", 0),
        "rejects": manifest["counts"]["rejects"],
        "schema_version": manifest["schema_version"],
        "timings": manifest.get("timings"),
        "changed_files": len(published["changed_files"]) if published else None,
        "manifest": str(Path(manifest["output"]) / "manifest.json"),
    }
