"""Parquet writing and the atomic, journaled publish (cleaning.parquet_io)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cleaning import parquet_io
from cleaning.parquet_io import PublishError, PublishPlan, publish, recover
from cleaning.schema import PARAGRAPHS, REJECTS, SCHEMA_VERSION

REPO = Path(__file__).resolve().parent.parent


def _rejects(n: int, tag: str = "x") -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "source_path": f"{tag}{i}.txt",
                "source_sha256": None,
                "reason": "empty",
                "detail": "d",
                "size_bytes": i,
            }
            for i in range(n)
        ],
        schema=REJECTS,
    )


def test_write_table_is_deterministic_zstd_and_versioned(tmp_path: Path) -> None:
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    parquet_io.write_table(_rejects(10), a, REJECTS)
    parquet_io.write_table(_rejects(10), b, REJECTS)
    assert a.read_bytes() == b.read_bytes()
    f = pq.ParquetFile(a)
    assert f.schema_arrow.metadata[b"presswash.schema_version"] == SCHEMA_VERSION.encode()
    assert f.metadata.row_group(0).column(0).compression == "ZSTD"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temp file left behind"


def test_write_table_adds_schema_version_to_internal_tables(tmp_path: Path) -> None:
    p = tmp_path / "i.parquet"
    parquet_io.write_table(pa.table({"x": [1, 2]}), p)
    assert pq.read_schema(p).metadata[b"presswash.schema_version"] == SCHEMA_VERSION.encode()


def test_write_parts_splits_by_rows(tmp_path: Path) -> None:
    paths = parquet_io.write_parts(_rejects(2500), tmp_path, "u1", REJECTS, 1000)
    assert [p.name for p in paths] == ["u1-00000.parquet", "u1-00001.parquet", "u1-00002.parquet"]
    assert parquet_io.row_count(paths) == 2500
    assert parquet_io.write_parts(_rejects(0), tmp_path, "u2", REJECTS, 1000) == []


def _dataset(out: Path, tag: str, names: list[str]) -> None:
    for n in names:
        parquet_io.write_table(_rejects(3, tag), out / "rejects" / n, REJECTS)
    (out / "manifest.json").write_text(json.dumps({"tag": tag}))


def _stage(out: Path, tag: str, names: list[str]) -> PublishPlan:
    stage = out / ".presswash" / "staging" / "r1"
    moves = []
    for n in names:
        parquet_io.write_table(_rejects(3, tag), stage / "rejects" / n, REJECTS)
        moves.append((f".presswash/staging/r1/rejects/{n}", f"rejects/{n}"))
    parquet_io.write_json_atomic(stage / "manifest.json", {"tag": tag})
    moves.append((".presswash/staging/r1/manifest.json", "manifest.json"))
    existing = sorted(f"rejects/{p.name}" for p in (out / "rejects").glob("*.parquet"))
    keep = {d for _, d in moves}
    return PublishPlan("r1", moves, [e for e in existing if e not in keep], [".presswash/staging/r1"])


def _tags(out: Path) -> set[str]:
    tags = set()
    for p in sorted((out / "rejects").glob("*.parquet")):
        tags |= {sp[0] for sp in pq.read_table(p)["source_path"].to_pylist()}
    return tags


def test_publish_replaces_removes_stale_and_writes_manifest_last(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _dataset(out, "o", ["a-00000.parquet", "b-00000.parquet"])
    plan = _stage(out, "n", ["a-00000.parquet", "c-00000.parquet"])
    applied = publish(out, out / ".presswash", plan)
    assert sorted(p.name for p in (out / "rejects").iterdir()) == ["a-00000.parquet", "c-00000.parquet"]
    assert _tags(out) == {"n"}
    assert applied.moves[-1][1] == "manifest.json"
    assert json.loads((out / "manifest.json").read_text()) == {"tag": "n"}
    assert not (out / ".presswash" / "staging" / "r1").exists()
    assert not parquet_io.journal_path(out / ".presswash").exists()


def test_publish_leaves_identical_files_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _dataset(out, "s", ["a-00000.parquet"])
    target = out / "rejects" / "a-00000.parquet"
    os.utime(target, ns=(1_000_000_000, 1_000_000_000))
    applied = publish(out, out / ".presswash", _stage(out, "s", ["a-00000.parquet"]))
    assert target.stat().st_mtime_ns == 1_000_000_000
    assert [d for _, d in applied.moves] == ["manifest.json"]


@pytest.mark.parametrize("crash_after", [0, 1, 2, 3])
def test_interrupted_publish_is_rolled_forward(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash_after: int
) -> None:
    out = tmp_path / "out"
    _dataset(out, "o", ["a-00000.parquet", "b-00000.parquet"])
    plan = _stage(out, "n", ["a-00000.parquet", "c-00000.parquet"])
    real_replace = os.replace
    calls = {"n": 0}

    def dying_replace(src, dst):  # the process "dies" after crash_after renames
        if calls["n"] >= crash_after:
            raise KeyboardInterrupt("killed")
        calls["n"] += 1
        real_replace(src, dst)

    monkeypatch.setattr(parquet_io.os, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt):
        publish(out, out / ".presswash", plan)
    monkeypatch.setattr(parquet_io.os, "replace", real_replace)
    # meanwhile the dataset is readable: every published file is a whole Parquet file
    for p in (out / "rejects").glob("*.parquet"):
        assert pq.read_table(p).num_rows == 3
    if crash_after == 0:
        # died while writing the journal (its own atomic rename): nothing was published
        assert not parquet_io.journal_path(out / ".presswash").exists()
        assert recover(out, out / ".presswash") is None
        assert _tags(out) == {"o"} and json.loads((out / "manifest.json").read_text()) == {"tag": "o"}
        return
    assert parquet_io.journal_path(out / ".presswash").exists()
    assert recover(out, out / ".presswash") == "r1"
    assert sorted(p.name for p in (out / "rejects").iterdir()) == ["a-00000.parquet", "c-00000.parquet"]
    assert _tags(out) == {"n"}
    assert json.loads((out / "manifest.json").read_text()) == {"tag": "n"}
    assert recover(out, out / ".presswash") is None


def test_recover_refuses_a_journal_whose_staged_file_is_gone(tmp_path: Path) -> None:
    out = tmp_path / "out"
    state = out / ".presswash"
    parquet_io.write_json_atomic(
        parquet_io.journal_path(state),
        PublishPlan("r9", [(".presswash/staging/r9/x.parquet", "rejects/x.parquet")]).as_dict(),
    )
    with pytest.raises(PublishError, match="missing"):
        recover(out, state)


def test_publish_survives_sigkill_at_random_points(tmp_path: Path) -> None:
    """A real process killed while publishing: the next recover completes the dataset."""
    script = textwrap.dedent(
        """
        import os, sys, time
        from pathlib import Path
        sys.path.insert(0, sys.argv[2])
        from tests.test_publish import _stage
        from cleaning import parquet_io
        real = os.replace
        def slow(src, dst):
            time.sleep(0.02)
            real(src, dst)
        parquet_io.os.replace = slow
        out = Path(sys.argv[1])
        plan = _stage(out, "n", [f"p{i}-00000.parquet" for i in range(20)])
        print("staged", flush=True)
        parquet_io.publish(out, out / ".presswash", plan)
        print("done", flush=True)
        """
    )
    for delay in (0.05, 0.15, 0.3):
        out = tmp_path / f"out{delay}"
        _dataset(out, "o", [f"p{i}-00000.parquet" for i in range(0, 20, 2)] + ["stale-00000.parquet"])
        proc = subprocess.Popen(
            [sys.executable, "-c", script, str(out), str(REPO)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout.readline().strip() == "staged"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for p in (out / "rejects").glob("*.parquet"):
            pq.read_table(p)  # never a torn file
        recover(out, out / ".presswash")
        names = sorted(p.name for p in (out / "rejects").iterdir())
        if names != sorted(f"p{i}-00000.parquet" for i in range(20)):
            # killed before the journal was written: the old dataset is intact
            assert "stale-00000.parquet" in names and _tags(out) == {"o"}
            assert json.loads((out / "manifest.json").read_text()) == {"tag": "o"}
        else:
            assert _tags(out) == {"n"}
            assert json.loads((out / "manifest.json").read_text()) == {"tag": "n"}


def test_hash_columns_of_the_index_are_stored_raw_and_read_back_equal(tmp_path: Path) -> None:
    from cleaning.config import CleaningConfig
    from cleaning.dedup import dedup_map, index_schema
    from cleaning.schema import RAW_COLUMNS

    texts = [
        "史燕还一展厨艺，给大家做了一桌菜。",
        "The council met on Tuesday to discuss the new bridge.",
        "完善城市网络建设。",
    ]
    paragraphs = pa.table(
        {
            "id": [f"a-{i:03d}" for i in range(len(texts))],
            "article_id": ["a"] * len(texts),
            "source_path": ["x.txt"] * len(texts),
            "position": pa.array(range(len(texts)), pa.int32()),
            "article_position": pa.array([0] * len(texts), pa.int32()),
            "text": texts,
        }
    )
    cfg = CleaningConfig().dedup
    index = dedup_map(paragraphs, cfg)
    whole, appended = tmp_path / "whole.parquet", tmp_path / "appended.parquet"
    parquet_io.write_table(index, whole)
    appender = parquet_io.ParquetAppender(appended, index_schema(cfg))
    appender.write(index)
    appender.close()
    for path in (whole, appended):
        meta = pq.ParquetFile(path).metadata.row_group(0)
        codecs = {
            meta.column(i).path_in_schema.split(".")[0]: meta.column(i).compression
            for i in range(meta.num_columns)
        }
        assert {codecs[c] for c in RAW_COLUMNS["dedup_index"]} == {"UNCOMPRESSED"}
        assert codecs["key"] == "LZ4"  # an internal table: the internal codec
        assert pq.read_table(path).equals(index)
    assert whole.read_bytes() == appended.read_bytes()


def _chunks(path: Path) -> dict[str, Any]:
    meta = pq.ParquetFile(path).metadata.row_group(0)
    return {meta.column(i).path_in_schema: meta.column(i) for i in range(meta.num_columns)}


def test_public_tables_use_the_output_codec_and_internal_tables_lz4(tmp_path: Path) -> None:
    from cleaning.schema import INTERNAL_TABLES, PUBLIC_TABLES, UNIT_SCHEMAS, table_name

    assert {table_name(s) for s in UNIT_SCHEMAS.values()} <= INTERNAL_TABLES
    assert not {table_name(s) for s in PUBLIC_TABLES.values()} & INTERNAL_TABLES
    for schema, codec in ((PARAGRAPHS, "ZSTD"), (UNIT_SCHEMAS["paragraphs"], "LZ4")):
        path = tmp_path / f"{table_name(schema)}.parquet"
        parquet_io.write_table(schema.empty_table(), path, schema)
        parquet_io.write_table(_paragraph_rows(schema), path, schema)
        assert {c.compression for c in _chunks(path).values()} == {codec}
    path = tmp_path / "gzip.parquet"
    parquet_io.write_table(_paragraph_rows(PARAGRAPHS), path, PARAGRAPHS, compression="gzip")
    assert {c.compression for c in _chunks(path).values()} == {"GZIP"}


def _paragraph_rows(schema: pa.Schema) -> pa.Table:
    rows = [
        {
            "id": f"a-{i:04d}",
            "article_id": "a",
            "source_path": "x.txt",
            "position": i,
            "text": f"第{i}段。完善城市网络建设。",
            "char_count": 12,
            "status": "kept",
            "source_line_start": i,
            "source_line_end": i,
            "joins": ["layout.column_break_join"] if i % 3 == 0 else [],
            "rules": ["normalize.ascii_punct_to_fullwidth"] if i % 2 else [],
            "damage_count": 0,
            "_input": "x.txt",
            "_article_position": 0,
        }
        for i in range(200)
    ]
    return pa.Table.from_pylist([{k: r[k] for k in schema.names if k in r} for r in rows], schema=schema)


def test_distinct_and_list_columns_carry_no_statistics_and_reach_their_leaves(tmp_path: Path) -> None:
    """Writer settings address Parquet leaves: a list column's settings must reach
    ``rules.list.element``, not be dropped for naming ``rules``."""
    path = tmp_path / "p.parquet"
    parquet_io.write_table(_paragraph_rows(PARAGRAPHS), path, PARAGRAPHS)
    chunks = _chunks(path)
    assert not chunks["text"].is_stats_set and not chunks["id"].is_stats_set
    assert not chunks["rules.list.element"].is_stats_set
    assert chunks["position"].is_stats_set and chunks["status"].is_stats_set
    assert "RLE_DICTIONARY" in chunks["rules.list.element"].encodings
    assert "RLE_DICTIONARY" in chunks["status"].encodings
    assert "RLE_DICTIONARY" not in chunks["text"].encodings
    assert chunks["rules.list.element"].compression == "ZSTD"
    assert pq.read_table(path).equals(_paragraph_rows(PARAGRAPHS))
