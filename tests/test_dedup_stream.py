"""The reduce held compactly and written a batch at a time: the same decisions as the whole table.

``reduce_index`` keeps per-row arrays and builds decision rows (ids, reasons) only
batch by batch; ``article_reprints`` decides article reprints from arrays. Both
must give exactly what ``dedup_reduce`` / ``article_decisions`` give, and the
array-based article level must agree with the plain dictionary algorithm it
replaced (kept below as the reference).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaning.dedup import (
    DedupConfig,
    article_decisions,
    article_reprints,
    dedup_map,
    dedup_reduce,
    reduce_index,
)
from cleaning.dedup.reduce import decision_schema
from cleaning.schema import DECISION_SCHEMA
from tests.test_dedup_engine import EN, LONG_ZH, _noisy, _rows, _table

CFG = DedupConfig()


def _files(tmp_path: Path) -> list[Path]:
    """Three index files with exact, near and truncated copies across them, Chinese and English."""
    a = LONG_ZH[0] + LONG_ZH[1]
    groups = {
        "x": _rows("x.txt", [a, LONG_ZH[2], EN, a[:90], "短句"], article="X"),
        "y": _rows("y.txt", [_noisy(a, 0.02, 1), LONG_ZH[2], EN.upper(), "短句", a[40:]], article="Y"),
        "z": _rows("z.txt", [a, LONG_ZH[3], _noisy(EN, 0.01, 2), LONG_ZH[2][:50], ""], article="Z"),
    }
    paths = []
    for name, rows in groups.items():
        path = tmp_path / f"{name}.parquet"
        pq.write_table(dedup_map(_table(rows), CFG), path)
        paths.append(path)
    return paths


def test_batches_of_any_size_give_the_whole_table(tmp_path: Path) -> None:
    paths = _files(tmp_path)
    whole = dedup_reduce(paths, CFG)
    assert whole.num_rows == 15 and set(whole.column("status").to_pylist()) == {
        "kept",
        "duplicate",
        "truncated",
    }
    reduced = reduce_index(paths, CFG)
    for size in (1, 4, 1000):
        got = pa.Table.from_batches(list(reduced.batches(size=size)), schema=DECISION_SCHEMA)
        assert got.equals(whole)


def test_rows_of_in_file_order_follow_each_files_rows(tmp_path: Path) -> None:
    """Files whose rows are not in id order, and an id in two files (it counts for the first only)."""
    paths = _files(tmp_path)
    rng = np.random.default_rng(7)
    tables = [pq.read_table(p) for p in paths]
    tables[2] = pa.concat_tables([tables[2], tables[0].slice(1, 1)])  # X-001 again, in z
    for path, t in zip(paths, tables, strict=True):
        pq.write_table(t.take(pa.array(rng.permutation(t.num_rows))), path)
    reduced = reduce_index(paths, CFG)
    seen: set[str] = set()
    for path in sorted(paths):
        file_ids = pq.read_table(path, columns=["id"]).column("id").to_pylist()
        in_order = reduced.rows_of(path, file_order=True)
        assert sorted(in_order.tolist()) == reduced.rows_of(path).tolist()
        assert reduced.ids.take(pa.array(in_order)).to_pylist() == [i for i in file_ids if i not in seen]
        seen.update(file_ids)
    assert len(seen) == len(reduced) == 15


def test_batches_of_some_columns_are_those_columns_of_the_table(tmp_path: Path) -> None:
    paths = _files(tmp_path)
    reduced = reduce_index(paths, CFG)
    whole = reduced.table()
    rows = np.random.default_rng(3).permutation(len(reduced))
    for columns in (["id", "status", "cluster_id", "similarity"], ["reason"], ["key_chars", "id"]):
        schema = decision_schema(columns)
        assert schema.names == [c for c in DECISION_SCHEMA.names if c in columns]
        got = pa.Table.from_batches(list(reduced.batches(rows, size=3, columns=columns)), schema=schema)
        assert got.equals(whole.take(pa.array(rows)).select(schema.names))
    with pytest.raises(ValueError, match="not decision columns"):
        decision_schema(["id", "text"])


def test_rows_of_each_file_partition_the_decisions(tmp_path: Path) -> None:
    paths = _files(tmp_path)
    reduced = reduce_index(paths, CFG)
    whole = reduced.table()
    seen = []
    for path in paths:
        rows = reduced.rows_of(path)
        part = pa.Table.from_batches(list(reduced.batches(rows, size=2)), schema=DECISION_SCHEMA)
        file_ids = set(pq.read_table(path, columns=["id"]).column("id").to_pylist())
        assert set(part.column("id").to_pylist()) == file_ids
        assert part.equals(whole.take(pa.array(rows)))
        seen.extend(rows.tolist())
    assert sorted(seen) == list(range(len(reduced)))
    counts = {r["values"]: r["counts"] for r in pc.value_counts(whole.column("status")).to_pylist()}
    assert {k: v for k, v in reduced.status_counts().items() if v} == counts


def test_article_level_from_arrays_equals_the_table_way(tmp_path: Path) -> None:
    paths = _files(tmp_path)
    reduced = reduce_index(paths, CFG)
    articles = pa.table(
        {
            "id": ["Z", "X", "Y", "W"],
            "source_path": ["z.txt", "x.txt", "y.txt", "w.txt"],
            "position": pa.array([0, 0, 0, 0], pa.int32()),
        }
    )
    cfg = DedupConfig(article_threshold=0.5)
    expected = article_decisions(articles, reduced.table(), cfg)
    got = article_reprints(articles, reduced.article_id, reduced.cluster(), reduced.key_chars, cfg)
    assert got.equals(expected)
    assert expected.column("status").to_pylist().count("kept") < 4


def _reference_articles(articles: pa.Table, decisions: pa.Table, cfg: DedupConfig) -> list[tuple]:
    """The article level as plain dictionaries (the implementation the array version replaced)."""
    art_ids = articles.column("id").to_pylist()
    known = set(art_ids)
    src = dict(zip(art_ids, articles.column("source_path").to_pylist(), strict=True))
    pos = dict(zip(art_ids, articles.column("position").to_pylist(), strict=True))
    total: dict[str, int] = defaultdict(int)
    members: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for aid, cid, chars in zip(
        decisions.column("article_id").to_pylist(),
        decisions.column("cluster_id").to_pylist(),
        decisions.column("key_chars").to_pylist(),
        strict=True,
    ):
        if aid not in known:
            continue
        total[aid] += chars
        if cid is not None:
            members[cid].append((aid, chars))
    covered: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for group in members.values():
        arts = {a for a, _ in group}
        if len(arts) < 2 or len(arts) > cfg.max_bucket:
            continue
        for a, chars in group:
            for b in arts:
                if b != a:
                    covered[a][b] += chars

    def share(a: str, b: str) -> float:
        return covered[a].get(b, 0) / total[a] if total[a] else 0.0

    order = sorted(art_ids, key=lambda a: (-total.get(a, 0), src[a], pos[a], a))
    rank = {a: i for i, a in enumerate(order)}
    flagged: dict[str, tuple[str, float, str]] = {}
    for a in order:
        if total.get(a, 0) < cfg.min_article_chars or a not in covered:
            continue
        best = None
        for b in covered[a]:
            if b in flagged or rank[b] > rank[a]:
                continue
            s = share(a, b)
            if s >= cfg.article_threshold and (best is None or (-s, rank[b]) < (-best[0], best[1])):
                best = (s, rank[b], b)
        if best is not None:
            s, _, b = best
            flagged[a] = (b, s, "near" if share(b, a) >= cfg.article_threshold else "inner")
    return [(a, *flagged[a]) if a in flagged else (a, None, None, None) for a in art_ids]


@settings(max_examples=60, deadline=None)
@given(
    paragraphs=st.lists(
        st.tuples(st.integers(0, 7), st.one_of(st.none(), st.integers(0, 5)), st.integers(0, 90)),
        max_size=60,
    ),
    threshold=st.sampled_from([0.3, 0.5, 0.8, 1.0]),
    max_bucket=st.sampled_from([2, 3, 64]),
)
def test_article_reprints_agree_with_the_dictionary_algorithm(
    paragraphs: list[tuple[int, int | None, int]], threshold: float, max_bucket: int
) -> None:
    cfg = DedupConfig(article_threshold=threshold, max_bucket=max_bucket, min_article_chars=20)
    # article 7 is not listed: its paragraphs are ignored
    articles = pa.table(
        {
            "id": [f"a{i}" for i in (3, 0, 5, 1, 6, 2, 4)],
            "source_path": [f"s{i % 3}" for i in range(7)],
            "position": pa.array([i % 2 for i in range(7)], pa.int32()),
        }
    )
    decisions = pa.table(
        {
            "article_id": pa.array([f"a{a}" for a, _, _ in paragraphs], pa.string()),
            "cluster_id": pa.array([None if c is None else f"c{c}" for _, c, _ in paragraphs], pa.string()),
            "key_chars": pa.array([n for _, _, n in paragraphs], pa.int32()),
        }
    )
    got = article_decisions(articles, decisions, cfg)
    rows = list(
        zip(
            got.column("id").to_pylist(),
            got.column("duplicate_of").to_pylist(),
            got.column("similarity").to_pylist(),
            got.column("relation").to_pylist(),
            strict=True,
        )
    )
    expected = _reference_articles(articles, decisions, cfg)
    assert [(a, b, r) for a, b, _, r in rows] == [(a, b, r) for a, b, _, r in expected]
    for (_, _, s, _), (_, _, t, _) in zip(rows, expected, strict=True):
        assert (s is None) == (t is None)
        if s is not None:
            assert np.float32(t) == np.float32(s)
