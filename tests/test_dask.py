"""The flow on a local Dask cluster (prefect-dask) publishes the same files as the default runner."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from flows.params import FlowParams
from flows.steps import validate_output

pytestmark = pytest.mark.flow

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "data" / "raw" / "000_77a03ed607cd6b14.txt"


def _digests(out: Path) -> dict[str, str]:
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.glob("*/*.parquet"))
    }


def test_dask_runner_gives_the_same_outputs(prefect_harness, tmp_path: Path) -> None:
    pytest.importorskip("prefect_dask")
    from flows.clean_corpus import clean_corpus
    from flows.runners import make_task_runner

    inp = tmp_path / "in"
    inp.mkdir()
    text = SEED.read_text(encoding="utf-8")
    for i in range(3):
        # three pages that partly repeat each other: one shard each, dedup across shards
        (inp / f"p{i}.txt").write_text(text if i == 0 else text[: len(text) // (i + 1)], encoding="utf-8")

    def params(out: str) -> FlowParams:
        return FlowParams(inputs=[str(inp)], out=str(tmp_path / out), shard_bytes=4096)

    thread = clean_corpus(params=params("thread"))
    dask = clean_corpus.with_options(task_runner=make_task_runner("dask", workers=2))(params=params("dask"))
    assert thread["articles"] == dask["articles"] and thread["duplicate"] == dask["duplicate"] > 0
    assert validate_output(tmp_path / "dask") == []
    assert _digests(tmp_path / "dask") == _digests(tmp_path / "thread")
    assert len(_digests(tmp_path / "dask")) >= 3 * 2  # three units: articles and paragraphs parts
