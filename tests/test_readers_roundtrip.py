"""The published tables read back with a glob by DuckDB, Polars, pyarrow and HF datasets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from cleaning.schema import PUBLIC_TABLES
from flows import steps
from flows.params import FlowParams

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "data" / "raw" / "000_77a03ed607cd6b14.txt"


def _publish_without_prefect(params: FlowParams) -> dict:
    """The flow's steps in sequence (what the tasks do), to get a real output fast."""
    plan = steps.plan(params, "test-run")
    shard_stats = [steps.process_shard(s, params) for s in plan["shards"]]
    dedup = steps.reduce_dedup(plan["catalog"], params, "test-run")
    finals = [
        steps.finalize_unit(u, live, params, "test-run")
        for u, live in steps.live_units(plan["catalog"]).items()
    ]
    return steps.publish_run(params, plan, shard_stats, finals, dedup, steps.now_iso())["manifest"]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    d = tmp_path_factory.mktemp("readers")
    (d / "in").mkdir()
    shutil.copy(SEED, d / "in" / "seed.txt")
    (d / "in" / "empty.txt").write_bytes(b"")
    manifest = _publish_without_prefect(FlowParams(inputs=[str(d / "in")], out=str(d / "out")))
    assert steps.validate_output(d / "out") == []
    return d / "out", manifest


def test_manifest_accounts_for_every_input(published: tuple[Path, dict]) -> None:
    out, manifest = published
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["run_id"] == "test-run"
    status = {i["source_path"]: i["status"] for i in manifest["inputs"]}
    assert status == {"seed.txt": "processed", "empty.txt": "rejected"}
    assert manifest["counts"]["rejects"] == 1


def test_duckdb_reads_each_table_with_a_glob(published: tuple[Path, dict]) -> None:
    duckdb = pytest.importorskip("duckdb")
    out, manifest = published
    con = duckdb.connect()
    for name in PUBLIC_TABLES:
        n = con.execute(f"select count(*) from read_parquet('{out}/{name}/*.parquet')").fetchone()[0]
        assert n == manifest["counts"][name]
    kept = con.execute(
        f"select count(*) from read_parquet('{out}/paragraphs/*.parquet') where status = 'kept'"
    ).fetchone()[0]
    assert kept == manifest["paragraph_status"]["kept"]
    names = con.execute(
        f"select b.name from read_parquet('{out}/articles/*.parquet'), unnest(byline) as t(b)"
    ).fetchall()
    assert ("黄啟峰",) in names


def test_polars_reads_each_table_with_a_glob(published: tuple[Path, dict]) -> None:
    pl = pytest.importorskip("polars")
    out, manifest = published
    for name in PUBLIC_TABLES:
        df = pl.read_parquet(f"{out}/{name}/*.parquet")
        assert df.height == manifest["counts"][name]
        assert df.columns == PUBLIC_TABLES[name].names
    lazy = pl.scan_parquet(f"{out}/paragraphs/*.parquet").filter(pl.col("status") != "kept").collect()
    assert lazy.height == manifest["counts"]["paragraphs"] - manifest["paragraph_status"]["kept"]


def test_pyarrow_reads_each_table_directory(published: tuple[Path, dict]) -> None:
    out, manifest = published
    for name, schema in PUBLIC_TABLES.items():
        dataset = ds.dataset(str(out / name), format="parquet")
        table = dataset.to_table()
        assert table.num_rows == manifest["counts"][name]
        assert table.schema.remove_metadata().equals(schema.remove_metadata())
        assert table.schema.metadata[b"presswash.schema_version"] == manifest["schema_version"].encode()


def test_hf_datasets_loads_the_parquet_glob(
    published: tuple[Path, dict], tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    datasets = pytest.importorskip("datasets", reason="HF datasets is not installed")
    out, manifest = published
    dsets = datasets.load_dataset(
        "parquet",
        data_files={"train": f"{out}/paragraphs/*.parquet"},
        cache_dir=str(tmp_path / "hf"),
    )
    train = dsets["train"]
    assert train.num_rows == manifest["counts"]["paragraphs"]
    assert set(train.column_names) == set(PUBLIC_TABLES["paragraphs"].names)
