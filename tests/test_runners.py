"""The multi-core runners publish the same files as the default (thread) runner.

The flow on a local Dask cluster started by prefect-dask (``--runner dask
--workers N``), ``presswash run --runner dask --address tcp://…`` on a cluster
started here, and ``presswash run --runner process --workers 2``, each against
one thread-runner reference run of the same pages.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from flows.cli import main
from flows.params import FlowParams
from flows.steps import validate_output

pytestmark = pytest.mark.flow

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "data" / "raw" / "000_77a03ed607cd6b14.txt"
SHARD_BYTES = 4096


def _digests(out: Path) -> dict[str, str]:
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.glob("*/*.parquet"))
    }


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    inp = tmp_path_factory.mktemp("pages")
    text = SEED.read_text(encoding="utf-8")
    for i in range(3):
        # three pages that partly repeat each other: one shard each, dedup across shards
        (inp / f"p{i}.txt").write_text(text if i == 0 else text[: len(text) // (i + 1)], encoding="utf-8")
    return inp


@pytest.fixture(scope="module")
def reference(prefect_harness, pages: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """The default runner's summary and output directory for ``pages``."""
    from flows.clean_corpus import clean_corpus

    out = tmp_path_factory.mktemp("thread")
    summary = asyncio.run(
        clean_corpus(params=FlowParams(inputs=[str(pages)], out=str(out), shard_bytes=SHARD_BYTES))
    )
    assert summary["duplicate"] > 0
    assert len(_digests(out)) >= 3 * 2  # three units: articles and paragraphs parts
    return summary, out


def _run_cli(monkeypatch: pytest.MonkeyPatch, pages: Path, out: Path, *runner_args: str) -> int:
    # `run` sets this default in os.environ; set it here so that it is undone after the test.
    monkeypatch.setenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    return main(["run", str(pages), "--out", str(out), "--shard-bytes", str(SHARD_BYTES), *runner_args])


def test_dask_runner_gives_the_same_outputs(reference, pages: Path, tmp_path: Path) -> None:
    pytest.importorskip("prefect_dask")
    from flows.clean_corpus import clean_corpus
    from flows.runners import make_task_runner

    thread, thread_out = reference
    out = tmp_path / "dask"
    dask = asyncio.run(
        clean_corpus.with_options(task_runner=make_task_runner("dask", workers=2))(
            params=FlowParams(inputs=[str(pages)], out=str(out), shard_bytes=SHARD_BYTES)
        )
    )
    assert thread["articles"] == dask["articles"] and thread["duplicate"] == dask["duplicate"]
    assert validate_output(out) == []
    assert _digests(out) == _digests(thread_out)


def test_cli_dask_address_gives_the_same_outputs(
    reference, pages: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """``presswash run --runner dask --address tcp://…`` on a cluster that outlives the run."""
    pytest.importorskip("prefect_dask")
    distributed = pytest.importorskip("distributed")
    _, thread_out = reference
    out = tmp_path / "dask-address"
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://")
        assert _run_cli(monkeypatch, pages, out, "--runner", "dask", "--address", address) == 0
        ran_here = cluster.scheduler.transition_counter
    assert ran_here > 0  # the shard tasks went through this cluster's scheduler
    assert "duplicate" in capsys.readouterr().out
    assert validate_output(out) == []
    assert _digests(out) == _digests(thread_out)


def test_cli_process_runner_gives_the_same_outputs(
    reference, pages: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """``presswash run --runner process --workers 2``."""
    _, thread_out = reference
    out = tmp_path / "process"
    assert _run_cli(monkeypatch, pages, out, "--runner", "process", "--workers", "2") == 0
    assert "duplicate" in capsys.readouterr().out
    assert validate_output(out) == []
    assert _digests(out) == _digests(thread_out)


def test_steps_without_prefect_over_a_process_pool_give_the_same_outputs(
    reference, pages: Path, tmp_path: Path
) -> None:
    """``run_local`` with an executor (how the benchmark runs the flow on several workers)."""
    from concurrent.futures import ProcessPoolExecutor

    from flows.steps import run_local

    _, thread_out = reference
    out = tmp_path / "bare-pool"
    with ProcessPoolExecutor(2) as pool:
        manifest = run_local(
            FlowParams(inputs=[str(pages)], out=str(out), shard_bytes=SHARD_BYTES, workers=2), executor=pool
        )
    assert manifest["timings"]["process_shard"]["calls"] == manifest["this_run"]["shards"] >= 3
    assert validate_output(out) == []
    assert _digests(out) == _digests(thread_out)


def test_mapped_arguments_in_the_box_are_not_walked_and_reach_the_task_whole() -> None:
    import pickle

    from prefect.utilities.collections import visit_collection

    from flows.clean_corpus import Opaque, _opened

    shard = {"unit": "u", "files": [{"path": f"p{i}.txt", "bytes": i} for i in range(1000)]}
    seen: list[object] = []
    visit_collection([Opaque(shard)], visit_fn=seen.append, return_data=False)
    assert len(seen) == 2  # the list and the box, nothing inside it
    box = pickle.loads(pickle.dumps(Opaque(shard)))  # as to a process or Dask worker
    assert _opened(box) == shard and _opened(shard) is shard
