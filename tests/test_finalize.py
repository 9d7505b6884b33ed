"""Finalize: the public article columns that follow dedup, joined from the unit's paragraphs.

A unit's articles carry no text (``cleaning.schema.UNIT_ARTICLES``); ``_rebuild_articles`` joins
every article's kept paragraphs in Arrow. These tests hold it to the plain definition: an
article's text is its kept paragraphs, in the unit's order, joined with line feeds.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaning.config import CleaningConfig
from cleaning.lang import to_simplified
from cleaning.model import DecodeInfo, Item, Paragraph, SourceDoc
from cleaning.pipeline import DocResult, add_document_columns, empty_columns
from cleaning.schema import ARTICLES, PARAGRAPHS, STATUS_KEPT, UNIT_ARTICLES
from flows.steps import _rebuild_articles

STATUSES = ["kept", "duplicate", "truncated"]


def _unit_articles(ids: list[str], counts: list[int], with_text: list[str] | None = None) -> pa.Table:
    cols: dict[str, list] = {
        "id": ids,
        "paragraph_count": counts,
        "paragraphs_kept": counts,
        "char_count": [0] * len(ids),
        "text_simplified": [f"old {a}" for a in ids],
    }
    if with_text is not None:
        cols["text"] = with_text
    return pa.table(cols)


def _reference(ids: list[str], rows: list[tuple[str, str, str]], simplified: bool) -> list[dict]:
    """Plain Python: per article, its kept paragraphs' texts in row order joined by line feeds."""
    out = []
    for a in ids:
        mine = [(text, status) for aid, text, status in rows if aid == a]
        kept = [text for text, status in mine if status == STATUS_KEPT]
        text = "\n".join(kept)
        touched = len(kept) != len(mine)
        row = {"id": a, "text": text, "paragraphs_kept": len(kept), "char_count": len(text)}
        row["text_simplified"] = to_simplified(text) if simplified and touched else f"old {a}"
        out.append(row)
    return out


def _paragraphs(rows: list[tuple[str, str, str]]) -> pa.Table:
    return pa.table(
        {
            "article_id": pa.array([r[0] for r in rows], pa.string()),
            "text": pa.array([r[1] for r in rows], pa.string()),
            "status": pa.array([r[2] for r in rows], pa.string()),
        }
    )


def _got(table: pa.Table) -> list[dict]:
    cols = ["id", "text", "paragraphs_kept", "char_count", "text_simplified"]
    return table.select(cols).to_pylist()


paragraph_text = st.text(st.sampled_from(list("報讯记者发展城市网络建设ab 。\n")), max_size=8)


@settings(max_examples=150, deadline=None)
@given(
    n_articles=st.integers(0, 5),
    data=st.data(),
    simplified=st.booleans(),
)
def test_article_text_is_its_kept_paragraphs_joined(n_articles: int, data, simplified: bool) -> None:
    ids = [f"a{i}" for i in range(n_articles)]
    rows: list[tuple[str, str, str]] = []
    if ids:
        # paragraphs in any order of articles (a unit filtered to its live sources, or interleaved)
        rows = data.draw(
            st.lists(st.tuples(st.sampled_from(ids), paragraph_text, st.sampled_from(STATUSES)), max_size=12)
        )
    counts = [sum(1 for r in rows if r[0] == a) for a in ids]
    got = _rebuild_articles(_unit_articles(ids, counts), _paragraphs(rows), simplified)
    assert _got(got) == _reference(ids, rows, simplified)
    assert got.schema.field("text").nullable is False


def test_a_unit_written_with_the_text_column_gets_it_replaced() -> None:
    rows = [("a0", "第一段", "kept"), ("a1", "重复段", "duplicate"), ("a0", "第二段", "kept")]
    ids = ["a0", "a1"]
    old = _unit_articles(ids, [2, 1], with_text=["第一段\n第二段", "重复段"])
    new = _unit_articles(ids, [2, 1])
    assert _got(_rebuild_articles(old, _paragraphs(rows), False)) == _got(
        _rebuild_articles(new, _paragraphs(rows), False)
    )
    assert [r["text"] for r in _got(_rebuild_articles(old, _paragraphs(rows), False))] == [
        "第一段\n第二段",
        "",
    ]


def test_chunked_paragraph_columns_are_joined_in_order() -> None:
    rows = [("a0", f"段{i}", "kept") for i in range(6)]
    para = pa.concat_tables([_paragraphs(rows[:2]), _paragraphs(rows[2:5]), _paragraphs(rows[5:])])
    got = _rebuild_articles(_unit_articles(["a0"], [6]), para, False)
    assert got["text"].to_pylist() == ["\n".join(f"段{i}" for i in range(6))]


def test_many_interleaved_paragraphs_keep_their_order() -> None:
    """Enough rows that an unstable sort of the paragraphs by article would reorder them."""
    rows = [(f"a{i % 3}", f"段{i}", STATUSES[i % 7 % 3]) for i in range(300)]
    ids = ["a0", "a1", "a2"]
    got = _rebuild_articles(_unit_articles(ids, [100, 100, 100]), _paragraphs(rows), True)
    assert _got(got) == _reference(ids, rows, True)


def test_a_paragraph_of_an_unknown_article_is_refused() -> None:
    with pytest.raises(ValueError, match="does not hold"):
        _rebuild_articles(_unit_articles(["a0"], [1]), _paragraphs([("zz", "段", "kept")]), False)


def test_unit_article_columns_leave_out_the_text() -> None:
    """add_document_columns fills the unit's article columns (no ``text``) with the same values."""
    paras = [
        Paragraph(text="第一段。", line_start=1, line_end=1),
        Paragraph(text="第二段。", line_start=3, line_end=3),
    ]
    res = DocResult(
        doc=SourceDoc(source_path="p.txt", source_sha256="0" * 64, data=b""),
        decode_info=DecodeInfo(encoding="utf-8", method="strict", confidence=1.0),
        lines=["第一段。", "", "第二段。"],
        items=[Item(kind="article", paragraphs=paras, line_start=1, line_end=3)],
        events=[],
    )
    cfg = CleaningConfig()
    full, unit = empty_columns(ARTICLES), empty_columns(UNIT_ARTICLES)
    add_document_columns(res, cfg, full, empty_columns(PARAGRAPHS))
    add_document_columns(res, cfg, unit, empty_columns(PARAGRAPHS))
    assert "text" not in unit and full["text"] == ["第一段。\n第二段。"]
    assert unit["_input"] == []  # the unit writer's own column, filled by it
    for name, values in unit.items():
        if name in full:
            assert values == full[name], name


_decision_status = st.sampled_from([*STATUSES, None])


@settings(max_examples=100, deadline=None)
@given(
    statuses=st.lists(_decision_status, max_size=12),
    chunk=st.integers(1, 5),
    data=st.data(),
)
def test_decisions_in_the_rows_order_apply_as_looked_up_by_id(statuses: list, chunk: int, data) -> None:
    """The flow stages decisions in the paragraphs' order; applied by position they give the table
    (values, types and chunk layout) that the look-up by id gives for the same decisions in any
    other order, or for some rows missing."""
    from flows.steps import DECISION_COLUMNS, _apply_decisions

    n = len(statuses)
    ids = [f"p{i}" for i in range(n)]
    para = (
        pa.Table.from_batches(
            [
                pa.record_batch(
                    {
                        "id": pa.array(ids[lo : lo + chunk], pa.string()),
                        "text": pa.array([f"t{i}" for i in range(lo, min(n, lo + chunk))], pa.string()),
                        **{
                            f.name: pa.nulls(min(n, lo + chunk) - lo, f.type)
                            for f in PARAGRAPHS
                            if f.name in DECISION_COLUMNS
                        },
                    }
                )
                for lo in range(0, n, chunk)
            ]
        )
        if n
        else None
    )
    if para is None:
        return
    flagged = [s not in (None, STATUS_KEPT) for s in statuses]
    decisions = pa.table(
        {
            "id": ids,
            "status": pa.array(statuses, pa.string()),
            "relation": [("near" if f else None) for f in flagged],
            "duplicate_of": [("p0" if f else None) for f in flagged],
            "cluster_id": [("p0" if f else None) for f in flagged],
            "similarity": pa.array([(0.75 if f else None) for f in flagged], pa.float32()),
            "containment": pa.array([(0.5 if f else None) for f in flagged], pa.float32()),
        }
    )
    aligned = _apply_decisions(para, decisions)
    order = data.draw(st.permutations(range(n)))
    shuffled = _apply_decisions(para, decisions.take(pa.array(order, pa.int64())))
    assert aligned.equals(shuffled)
    assert [c.num_chunks for c in aligned.columns] == [c.num_chunks for c in shuffled.columns]
    assert aligned["status"].null_count == 0
    # a row without a decision: looked up by id, it stays kept
    if n > 1:
        partial = _apply_decisions(para, decisions.slice(1))
        assert partial["status"].to_pylist()[0] == STATUS_KEPT
        assert partial.slice(1).equals(aligned.slice(1))
