"""The dedup engine end to end: map, index files, reduce, article level, incremental."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleaning.dedup import (
    DedupConfig,
    IndexMismatch,
    article_decisions,
    dedup_map,
    dedup_reduce,
    expected_error_rates,
)
from cleaning.schema import DEDUP_INDEX

SEED = Path(__file__).resolve().parents[1] / "data" / "raw" / "000_77a03ed607cd6b14.txt"
CFG = DedupConfig()

LONG_ZH = [
    p.strip()
    for p in re.split(r"\n\s*\n", SEED.read_text(encoding="utf-8"))
    if len(p.strip()) > 100 and not p.startswith("史燕")
]
EN = (
    "The President today sent to Congress a message urging the immediate passage of the bill for the "
    "increase of the army, declaring that the situation on the border demands prompt action and that "
    "the country can no longer rely upon the militia of the several States for its defense."
)


def _table(rows: list[tuple[str, str, str, int, int, str]]) -> pa.Table:
    """rows: (id, article_id, source_path, article_position, position, text)."""
    cols = list(zip(*rows, strict=True)) if rows else [[]] * 6
    return pa.table(
        {
            "id": pa.array(cols[0], pa.string()),
            "article_id": pa.array(cols[1], pa.string()),
            "source_path": pa.array(cols[2], pa.string()),
            "article_position": pa.array(cols[3], pa.int32()),
            "position": pa.array(cols[4], pa.int32()),
            "text": pa.array(cols[5], pa.string()),
        }
    )


def _write(tmp_path: Path, name: str, rows: list, cfg: DedupConfig = CFG) -> Path:
    path = tmp_path / f"{name}.parquet"
    pq.write_table(dedup_map(_table(rows), cfg), path)
    return path


def _by_id(table: pa.Table) -> dict[str, dict]:
    return {r["id"]: r for r in table.to_pylist()}


def _rows(source: str, texts: list[str], article: str | None = None) -> list:
    art = article or source
    return [(f"{art}-{i:03d}", art, source, 0, i, t) for i, t in enumerate(texts)]


def _noisy(text: str, rate: float, seed: int) -> str:
    rng = random.Random(seed)
    out = []
    for ch in text:
        r = rng.random()
        if r < rate / 2:
            continue  # dropped character
        out.append("口" if r < rate else ch)  # confusable substitution
    return "".join(out)


def test_index_table_has_the_declared_schema(tmp_path: Path) -> None:
    index = dedup_map(_table(_rows("a.txt", [LONG_ZH[0], "短", EN])), CFG)
    assert index.schema.remove_metadata() == DEDUP_INDEX.remove_metadata()
    assert index.column("id").to_pylist() == ["a.txt-000", "a.txt-001", "a.txt-002"]
    bands = index.column("bands").to_pylist()
    assert [len(b) for b in bands] == [CFG.bands, 0, CFG.bands]


def test_index_from_the_callers_text_list_equals_the_index_from_the_column() -> None:
    texts = [LONG_ZH[0], "短", EN, LONG_ZH[1]]
    table = _table(_rows("a.txt", texts))
    assert dedup_map(table, CFG, list(texts)).equals(dedup_map(table, CFG))
    with pytest.raises(ValueError, match="3 texts for 4 rows"):
        dedup_map(table, CFG, texts[:3])


def test_exact_copies_across_files_point_at_the_earliest(tmp_path: Path) -> None:
    a = _write(tmp_path, "a", _rows("b.txt", [LONG_ZH[0], LONG_ZH[1]]))
    b = _write(tmp_path, "b", _rows("a.txt", [LONG_ZH[2], LONG_ZH[0].replace(",", "，")]))
    got = _by_id(dedup_reduce([a, b], CFG))
    assert got["a.txt-001"]["status"] == "kept"
    assert got["b.txt-000"]["status"] == "duplicate"
    assert got["b.txt-000"]["relation"] == "exact"
    assert got["b.txt-000"]["duplicate_of"] == "a.txt-001"
    assert got["a.txt-001"]["cluster_id"] == got["b.txt-000"]["cluster_id"] == "a.txt-001"
    assert got["a.txt-000"]["cluster_id"] is None


@pytest.mark.parametrize("rate", [0.01, 0.03])
def test_noisy_copy_is_near_duplicate(rate: float, tmp_path: Path) -> None:
    texts = [LONG_ZH[3], _noisy(LONG_ZH[3], rate, seed=1), LONG_ZH[4]]
    got = _by_id(dedup_reduce([_write(tmp_path, "a", _rows("a.txt", texts))], CFG))
    flagged = {k: v for k, v in got.items() if v["status"] != "kept"}
    assert len(flagged) == 1
    (row,) = flagged.values()
    assert row["relation"] == "near" and row["status"] == "duplicate"
    assert row["similarity"] >= CFG.near_threshold


def test_english_near_duplicate_uses_words(tmp_path: Path) -> None:
    copy = EN.replace("immediate", "immed1ate").replace("President", "PRESIDENT")
    got = _by_id(dedup_reduce([_write(tmp_path, "a", _rows("a.txt", [EN, copy, EN[:60]]))], CFG))
    assert got["a.txt-001"]["status"] == "duplicate"
    assert got["a.txt-001"]["relation"] == "near"
    assert got["a.txt-002"]["status"] == "kept"  # 11 words: too short to be flagged as a fragment


@pytest.mark.parametrize(
    ("cut", "relation"),
    [(slice(0, 30), "prefix"), (slice(-30, None), "suffix"), (slice(60, 95), "inner")],
)
def test_short_fragment_of_long_paragraph_is_found_and_typed(
    cut: slice, relation: str, tmp_path: Path
) -> None:
    full = LONG_ZH[5] + LONG_ZH[6]  # ~270 characters: the fragment's Jaccard is about 0.1
    fragment = full[cut]
    got = _by_id(dedup_reduce([_write(tmp_path, "a", _rows("a.txt", [fragment, full]))], CFG))
    row = got["a.txt-000"]
    assert (row["status"], row["relation"], row["duplicate_of"]) == ("truncated", relation, "a.txt-001")
    assert row["similarity"] < 0.3 and row["containment"] >= CFG.containment_threshold


def test_most_complete_copy_is_canonical_even_when_later(tmp_path: Path) -> None:
    full = LONG_ZH[7]
    a = _write(tmp_path, "a", _rows("a.txt", [full[: len(full) // 2]]))
    b = _write(tmp_path, "b", _rows("b.txt", [full]))
    got = _by_id(dedup_reduce([a, b], CFG))
    assert got["b.txt-000"]["status"] == "kept"
    assert got["a.txt-000"]["duplicate_of"] == "b.txt-000"
    assert got["a.txt-000"]["relation"] == "prefix"


def test_shared_boilerplate_does_not_chain(tmp_path: Path) -> None:
    boiler = "本报讯记者黄啟峰通讯员刘光红报道"
    texts = [boiler + LONG_ZH[i][:60] for i in range(6)]
    got = dedup_reduce([_write(tmp_path, "a", _rows("a.txt", texts))], CFG)
    assert set(got.column("status").to_pylist()) == {"kept"}


def test_short_lines_match_exactly_only(tmp_path: Path) -> None:
    texts = ["记者 焦同帅", "记者焦同帅", "记者 焦同帅 通讯员 牛树志", "记者 焦同帅摄"]
    got = _by_id(dedup_reduce([_write(tmp_path, "a", _rows("a.txt", texts))], CFG))
    assert got["a.txt-001"]["relation"] == "exact"
    assert [got[f"a.txt-{i:03d}"]["status"] for i in (0, 2, 3)] == ["kept", "kept", "kept"]


def test_same_decisions_regardless_of_file_order(tmp_path: Path) -> None:
    files = [
        _write(tmp_path, f"f{i}", _rows(f"s{i}.txt", [LONG_ZH[i], LONG_ZH[(i + 1) % 4][:50], LONG_ZH[i]]))
        for i in range(4)
    ]
    first = dedup_reduce(files, CFG)
    assert dedup_reduce(list(reversed(files)), CFG).equals(first)
    assert dedup_reduce([files[2], files[0], files[3], files[1]], CFG).equals(first)


def test_anchors_spilled_by_hash_range_give_the_same_decisions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cleaning.dedup.reduce as reduce_module

    rng = random.Random(5)
    texts = [LONG_ZH[i % 4][rng.randrange(0, 60) :] for i in range(24)] + [
        _noisy(LONG_ZH[i % 4], 0.03, i) for i in range(8)
    ]
    files = [_write(tmp_path, f"f{k}", _rows(f"s{k}.txt", texts[k::3])) for k in range(3)]
    in_memory = dedup_reduce(files, CFG)
    assert set(in_memory.column("status").to_pylist()) > {"kept"}
    # every run spills its anchors, a few anchors per range read back
    monkeypatch.setattr(reduce_module, "_ANCHOR_SPILL_ROWS", 2)
    monkeypatch.setattr(reduce_module, "_ANCHORS_PER_RANGE", 40)
    monkeypatch.setattr(reduce_module, "_VERIFY_BLOCK_CHARS", 500)
    assert dedup_reduce(files, CFG).equals(in_memory)


def test_incremental_against_earlier_index_and_rerun_is_stable(tmp_path: Path) -> None:
    old = _write(tmp_path, "run1", _rows("day1.txt", [LONG_ZH[0], LONG_ZH[1]]))
    first = dedup_reduce([old], CFG)
    new = _write(tmp_path, "run2", _rows("day2.txt", [LONG_ZH[1], LONG_ZH[2]]))
    both = _by_id(dedup_reduce([old, new], CFG))
    assert both["day2.txt-000"]["duplicate_of"] == "day1.txt-001"
    for row in first.to_pylist():  # the old run's decisions hold
        assert both[row["id"]]["status"] == row["status"]
    # re-running the same input writes an index with the same ids: nothing changes
    again = _write(tmp_path, "run2-again", _rows("day2.txt", [LONG_ZH[1], LONG_ZH[2]]))
    rerun = dedup_reduce([old, new, again], CFG)
    assert rerun.equals(dedup_reduce([old, new], CFG))
    assert rerun.num_rows == 4


def test_index_written_with_other_settings_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "a", _rows("a.txt", [LONG_ZH[0]]), DedupConfig(char_ngram=4))
    with pytest.raises(IndexMismatch):
        dedup_reduce([path], CFG)
    # settings that only affect the reduce can change between runs
    dedup_reduce([path], DedupConfig(char_ngram=4, near_threshold=0.8))


def test_empty_inputs(tmp_path: Path) -> None:
    assert dedup_reduce([], CFG).num_rows == 0
    path = _write(tmp_path, "a", [])
    assert dedup_reduce([path], CFG).num_rows == 0
    got = dedup_reduce([_write(tmp_path, "b", _rows("b.txt", ["", "", "。"]))], CFG)
    assert set(got.column("status").to_pylist()) == {"kept"}


def test_config_rejects_unknown_and_inconsistent_settings() -> None:
    with pytest.raises(ValueError):
        DedupConfig(threshold=0.5)
    with pytest.raises(ValueError):
        DedupConfig(num_perm=128, bands=20, rows=5)


def test_expected_error_rates_are_probabilities() -> None:
    rates = expected_error_rates(CFG)
    for name in ("false_positive", "false_negative", "candidate_probability_at_threshold"):
        assert 0.0 <= rates[name] <= 1.0
    assert 0.5 < rates["midpoint"] < 0.8
    tighter = expected_error_rates(DedupConfig(bands=32, rows=4))
    assert tighter["false_negative"] < rates["false_negative"]
    assert tighter["false_positive"] > rates["false_positive"]


def test_article_reprint_flagged_at_article_level(tmp_path: Path) -> None:
    story = [LONG_ZH[0], LONG_ZH[1], LONG_ZH[2]]
    rows = (
        [(f"A-{i:03d}", "A", "p1.txt", 0, i, t) for i, t in enumerate(story)]
        + [(f"B-{i:03d}", "B", "p2.txt", 0, i, _noisy(t, 0.02, i)) for i, t in enumerate(story)]
        + [("C-000", "C", "p3.txt", 0, 0, LONG_ZH[0]), ("C-001", "C", "p3.txt", 0, 1, LONG_ZH[8])]
        + [("C-002", "C", "p3.txt", 0, 2, LONG_ZH[9])]
    )
    decisions = dedup_reduce([_write(tmp_path, "a", rows)], CFG)
    articles = pa.table(
        {
            "id": ["A", "B", "C"],
            "source_path": ["p1.txt", "p2.txt", "p3.txt"],
            "position": pa.array([0, 0, 0], pa.int32()),
            "char_count": [1, 1, 1],
        }
    )
    got = _by_id(article_decisions(articles, decisions, CFG))
    assert got["A"]["status"] == "kept"
    assert (got["B"]["status"], got["B"]["relation"]) == ("duplicate", "near")
    assert got["B"]["duplicate_of"] == "A" and got["B"]["similarity"] > 0.9
    assert got["B"]["rule"] == "dedup.article_reprint" and got["B"]["reason"]
    assert got["C"]["status"] == "kept"  # one paragraph of three repeats A: not a reprint


_PIECES = [LONG_ZH[0][:40], LONG_ZH[1][:60], LONG_ZH[2][:30], EN[:80], "短句", "", "。", LONG_ZH[3]]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=3), max_size=12))
def test_decisions_are_consistent_on_arbitrary_input(parts: list[list[str]], tmp_path: Path) -> None:
    texts = ["".join(p) for p in parts]
    path = _write(tmp_path, "h", _rows("h.txt", texts))
    got = _by_id(dedup_reduce([path], CFG))
    assert len(got) == len(texts)
    for row in got.values():
        if row["status"] == "kept":
            assert row["relation"] is None and row["duplicate_of"] is None
            continue
        parent = got[row["duplicate_of"]]
        assert parent["status"] == "kept" and parent["id"] != row["id"]
        expected = "duplicate" if row["relation"] in ("exact", "near") else "truncated"
        assert row["status"] == expected
        assert row["cluster_id"] == parent["cluster_id"] == parent["id"]
        assert row["rule"] and row["reason"]
