"""Output rows of one document: the per-row ``rules`` column (``_RuleIndex``) and damage counts,
against their plain definitions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaning import jit, pipeline, repair
from cleaning.config import CleaningConfig
from cleaning.model import Byline, DecodeInfo, Event, EventRecord, Item, Paragraph, Reject, SourceDoc
from cleaning.pipeline import (
    DocResult,
    _RuleIndex,
    add_document_columns,
    decode_document,
    document_rows,
    empty_columns,
    paragraph_article_positions,
    paragraph_id,
    process_document,
)
from cleaning.schema import ARTICLES, PARAGRAPHS
from flows.steps import _UnitWriter

RULES = ["layout.join_wrapped_line", "segment.body", "repair.ftfy", "decode.utf8_strict", "a.b", "z.y"]


def reference_rules_in(events: list[Event], start: int, end: int) -> list[str]:
    """Rules of whole-file events and of every event whose lines meet ``start..end``."""
    found = {e.rule for e in events if e.line is None}
    for e in events:
        if e.line is not None and max(e.line, start) <= min(e.line_end or e.line, end):
            found.add(e.rule)
    return sorted(found)


events_st = st.lists(
    st.builds(
        lambda rule, line, span: Event(
            rule, "x", "d", line=line, line_end=None if span is None or line is None else line + span
        ),
        st.sampled_from(RULES),
        st.one_of(st.none(), st.integers(min_value=1, max_value=40)),
        st.one_of(st.none(), st.integers(min_value=-1, max_value=6)),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(
    events_st, st.lists(st.tuples(st.integers(0, 50), st.integers(0, 12)), max_size=10), st.integers(0, 45)
)
def test_rules_in_is_the_plain_definition(
    events: list[Event], spans: list[tuple[int, int]], n_lines: int
) -> None:
    index = _RuleIndex(events, n_lines)
    for start, length in spans:
        assert index.rules_in(start, start + length) == reference_rules_in(events, start, start + length)


@settings(max_examples=200, deadline=None)
@given(
    events_st, st.lists(st.tuples(st.integers(0, 50), st.integers(-1, 12)), max_size=10), st.integers(0, 45)
)
def test_rules_of_is_rules_in_of_each_span(
    events: list[Event], spans: list[tuple[int, int]], n_lines: int
) -> None:
    starts = [start for start, _ in spans]
    ends = [start + length for start, length in spans]
    expected = [reference_rules_in(events, start, end) for start, end in zip(starts, ends, strict=True)]
    assert _RuleIndex(events, n_lines).rules_of(starts, ends) == expected
    with jit.numpy_definitions():
        assert _RuleIndex(events, n_lines).rules_of(starts, ends) == expected
    got = _RuleIndex(events, n_lines).rules_of(starts, ends)
    if len(got) > 1:  # each row owns its list
        got[0].append("changed")
        assert "changed" not in got[1]


@settings(max_examples=200, deadline=None)
@given(
    events_st, st.lists(st.tuples(st.integers(0, 50), st.integers(-1, 12)), max_size=10), st.integers(0, 45)
)
def test_process_bits_give_a_documents_own_bits_rules(
    events: list[Event], spans: list[tuple[int, int]], n_lines: int
) -> None:
    """The bits shared by the process's documents name the rules a document's own bits name,
    and the shared lists of rules_of(shared=True) hold the same rules."""
    starts = [start for start, _ in spans]
    ends = [start + length for start, length in spans]
    shared = _RuleIndex(events, n_lines)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline, "_shared_bits", lambda names: None)  # every document its own bits
        own = _RuleIndex(events, n_lines)
    assert shared.rules_of(starts, ends, shared=True) == own.rules_of(starts, ends)
    for start, end in zip(starts, ends, strict=True):
        assert shared.rules_in(start, end) == own.rules_in(start, end)


def test_more_rules_than_the_process_bits_hold_get_a_documents_own_bits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, empty in (("_RULE_BITS", {}), ("_RULE_LIST", []), ("_MASK_NAMES", {})):
        monkeypatch.setattr(pipeline, name, empty)  # a fresh process
    first = _RuleIndex([Event("a.b", "x", "d", line=1)], 1)
    many = [Event(f"many.{k:03d}", "x", "d", line=k + 1) for k in range(pipeline._MAX_BITS + 3)]
    index = _RuleIndex(many, len(many))
    assert index._names is not pipeline._MASK_NAMES  # its own bits
    assert [index.rules_in(k + 1, k + 1) for k in range(len(many))] == [[e.rule] for e in many]
    assert index.rules_of([1, 2], [2, 3]) == [["many.000", "many.001"], ["many.001", "many.002"]]
    # a document of names that have bits of the process still gets them
    assert first._names is pipeline._MASK_NAMES
    again = _RuleIndex([Event("a.b", "x", "d", line=1)], 1)
    assert again._names is pipeline._MASK_NAMES and again.rules_of([1], [1]) == [["a.b"]]


def test_each_row_owns_its_rules_list() -> None:
    index = _RuleIndex([Event("a.b", "x", "d", line=1, line_end=2)], 2)
    first = index.rules_in(1, 1)
    first.append("changed")
    assert index.rules_in(1, 1) == ["a.b"]


def _result(paragraph_texts: list[list[str]]) -> DocResult:
    items, line = [], 1
    for texts in paragraph_texts:
        paras = []
        for t in texts:
            paras.append(Paragraph(text=t, line_start=line, line_end=line))
            line += 1
        items.append(
            Item(kind="article", paragraphs=paras, line_start=paras[0].line_start, line_end=line - 1)
        )
    doc = SourceDoc(source_path="p.txt", source_sha256="0" * 64, data=b"")
    info = DecodeInfo(encoding="utf-8", method="strict", confidence=1.0)
    return DocResult(doc=doc, decode_info=info, lines=[""] * line, items=items)


DAMAGE_PIECES = st.sampled_from(["中", "?", "锟斤拷", "烫", "屯", "\ufffd", "a", " "])
PARAGRAPH = st.lists(DAMAGE_PIECES, min_size=1, max_size=12).map("".join)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(PARAGRAPH, min_size=1, max_size=4),
        min_size=1,
        max_size=4,
    )
)
def test_damage_counts_are_per_paragraph(articles: list[list[str]]) -> None:
    arts, paras = document_rows(_result(articles), CleaningConfig())
    flat = [t for texts in articles for t in texts]
    assert [p["damage_count"] for p in paras] == [repair.count_damage(t) for t in flat]
    assert [a["damage_count"] for a in arts] == [sum(map(repair.count_damage, texts)) for texts in articles]


def test_damage_hint_across_paragraphs_counts_nothing() -> None:
    # "中?" + "?中": the joined article text has "??" between Han, no paragraph has damage
    arts, paras = document_rows(_result([["中?", "?中", "锟斤拷中"]]), CleaningConfig())
    assert [p["damage_count"] for p in paras] == [0, 0, 1]
    assert arts[0]["damage_count"] == 1


def test_paragraph_ids_are_the_formatted_position() -> None:
    for pos in (0, 7, 42, 999, 1000, 12345, -1):
        assert paragraph_id("abc", pos) == f"abc-{pos:03d}"


def _rows_of(result: DocResult) -> tuple[list[dict], list[dict]]:
    return document_rows(result, CFG_DEFAULT)


CFG_DEFAULT = CleaningConfig()
SEED = Path(__file__).resolve().parents[1] / "data" / "raw" / "000_77a03ed607cd6b14.txt"


@pytest.mark.parametrize(
    "data",
    [
        SEED.read_bytes(),
        SEED.read_text(encoding="utf-8").replace("\n", "\r\n").encode("gb18030"),
        "第一行\n第二行\n".encode("big5"),
        SEED.read_text(encoding="utf-8"),  # a JSONL record: already text
    ],
    ids=["seed-utf8", "seed-gb18030-crlf", "big5", "str"],
)
def test_predecoded_document_gives_the_same_rows(data: bytes | str) -> None:
    """The flow decodes a page once for its furniture pre-pass and hands it on: same output."""
    doc = SourceDoc(source_path="p.txt", source_sha256="0" * 64, data=data)
    plain = process_document(doc, CFG_DEFAULT)
    pre = decode_document(doc, CFG_DEFAULT)
    assert not isinstance(pre, Reject)
    handed = process_document(doc, CFG_DEFAULT, decoded=pre)
    assert isinstance(plain, DocResult) and isinstance(handed, DocResult)
    assert handed.lines == plain.lines
    assert [(e.rule, e.line, e.line_end, e.detail) for e in handed.events] == [
        (e.rule, e.line, e.line_end, e.detail) for e in plain.events
    ]
    assert _rows_of(handed) == _rows_of(plain)


def test_undecodable_document_is_rejected_by_both_paths() -> None:
    doc = SourceDoc(source_path="e.txt", source_sha256="0" * 64, data=b"   \n")
    assert isinstance(decode_document(doc, CFG_DEFAULT), Reject)
    assert isinstance(process_document(doc, CFG_DEFAULT), Reject)


def _columns_of(results: list[DocResult], cfg: CleaningConfig) -> tuple[dict, dict]:
    arts, paras = empty_columns(ARTICLES), empty_columns(PARAGRAPHS)
    for r in results:
        add_document_columns(r, cfg, arts, paras)
    return arts, paras


def _assert_columns_are_the_rows(results: list[DocResult], cfg: CleaningConfig) -> None:
    rows = [document_rows(r, cfg) for r in results]
    arts = [a for x in rows for a in x[0]]
    paras = [p for x in rows for p in x[1]]
    a_cols, p_cols = _columns_of(results, cfg)
    # the same values, row by row (types included), and the same Arrow tables
    assert [dict(zip(a_cols, v, strict=True)) for v in zip(*a_cols.values(), strict=True)] == arts
    assert [dict(zip(p_cols, v, strict=True)) for v in zip(*p_cols.values(), strict=True)] == paras
    assert pa.Table.from_pydict(a_cols, schema=ARTICLES).equals(pa.Table.from_pylist(arts, schema=ARTICLES))
    p_table = pa.Table.from_pydict(p_cols, schema=PARAGRAPHS)
    assert p_table.equals(pa.Table.from_pylist(paras, schema=PARAGRAPHS))
    # each paragraph row's article position, from the article rows alone (paragraph rows follow
    # their article's, so the k-th article's rows start after the counts of the articles before)
    owner = [k for k, a in enumerate(arts) for _ in range(a["paragraph_count"])]
    assert [arts[k]["id"] for k in owner] == [p["article_id"] for p in paras]
    assert paragraph_article_positions(a_cols) == [arts[k]["position"] for k in owner]
    if arts:
        first = arts[0]["paragraph_count"]
        assert paragraph_article_positions(a_cols, 1) == [arts[k]["position"] for k in owner[first:]]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.lists(PARAGRAPH, min_size=1, max_size=4), min_size=1, max_size=4), max_size=3))
def test_columns_are_the_rows(docs: list[list[list[str]]]) -> None:
    results = [_result(articles) for articles in docs]
    if results:
        it = results[0].items[0]
        it.headline, it.title, it.byline = ["头条"], "头条", [Byline("reporter", "张三")]
        it.paragraphs[0].joins = ["layout.join_wrapped_line"]
        results[0].events.append(Event("layout.join_wrapped_line", "layout", "d", line=1, line_end=2))
        results[0].doc.metadata = {"k": "v"}
    _assert_columns_are_the_rows(results, CleaningConfig())


@pytest.mark.parametrize("simplified", [False, True])
def test_columns_are_the_rows_of_the_seed(simplified: bool) -> None:
    cfg = CleaningConfig.model_validate({"output": {"simplified_column": simplified}})
    doc = SourceDoc(source_path="s.txt", source_sha256="0" * 64, data=SEED.read_bytes())
    result = process_document(doc, cfg)
    assert isinstance(result, DocResult)
    _assert_columns_are_the_rows([result, result], cfg)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.lists(PARAGRAPH, min_size=1, max_size=4), min_size=1, max_size=4), max_size=3),
    st.sampled_from([None, "status", "relation", "similarity"]),
)
def test_unit_writer_table_is_arrows_conversion(docs: list[list[list[str]]], changed: str | None) -> None:
    """The unit writer makes a column of one repeated value as such: the same table as
    from_pydict, also when a dedup column's values differ (or one row's value does)."""
    arts, paras = _columns_of([_result(articles) for articles in docs], CFG_DEFAULT)
    if changed and paras[changed]:
        paras[changed][-1] = {"status": "duplicate", "relation": "exact", "similarity": 0.5}[changed]
        arts[changed if changed in arts else "status"][0] = "duplicate" if changed != "similarity" else 0.25
    for columns, schema in ((arts, ARTICLES), (paras, PARAGRAPHS)):
        if not columns["id"]:
            continue
        got = _UnitWriter._table(columns, schema)
        want = pa.Table.from_pydict(columns, schema=schema)
        assert got.equals(want) and got.schema.equals(want.schema, check_metadata=True)


def test_a_failing_document_adds_no_rows() -> None:
    cfg = CleaningConfig()
    arts, paras = _columns_of([_result([["一段"]])], cfg)
    broken = _result([["甲", "乙"], ["丙"]])
    broken.items[1].byline = [None]  # fails on the second article, after its paragraphs were added
    with pytest.raises(AttributeError):
        add_document_columns(broken, cfg, arts, paras)
    assert {len(col) for col in arts.values()} == {1}
    assert {len(col) for col in paras.values()} == {1}


_PAGE_LINES = st.lists(
    st.sampled_from(
        [
            "本报讯 (记者 黄啟峰) 会议要求各部门把各项工作落到实处,切实提高",
            "服务水平,进一步完善城市网络建设,推动全市经济社会高质量发展。",
            "　　会议要求各部门把各项工作落到实处,切实提高服务水平。",
            "记者 黄啟峰 摄",
            "东方日报 第3版 星期二",
            "The council met on Tuesday evening and discussed the con-",
            "struction of the new bridge.",
            "",
        ]
    ),
    min_size=1,
    max_size=20,
).map(lambda lines: "\n".join(["市开发区召开工作会议", *lines]))


@settings(max_examples=60, deadline=None)
@given(_PAGE_LINES)
def test_rules_of_a_pages_layout_record_are_those_of_its_events(text: str) -> None:
    """A page's layout decisions, kept as one record, give every row the rules its events give."""
    doc = SourceDoc("page.txt", "0" * 64, text.encode())
    result = process_document(doc, CleaningConfig())
    assert isinstance(result, DocResult)
    compact, expanded = _RuleIndex(result.events, len(result.lines)), result.expanded_events()
    plain = _RuleIndex(expanded, len(result.lines))
    n = len(result.lines)
    for start in range(1, n + 1):
        for end in range(start, min(n, start + 4) + 1):
            assert compact.rules_in(start, end) == plain.rules_in(start, end)
            assert compact.rules_in(start, end) == reference_rules_in(expanded, start, end)


class _Spans(EventRecord):
    """A record that gives fixed spans, as a page's layout or segment record does."""

    __slots__ = ("_spans",)

    def __init__(self, names: list[str], rule: list[int], start: list[int], end: list[int]) -> None:
        super().__init__("layout.decisions", "layout", "spans")
        self._spans = (names, *(np.array(x, dtype=np.int64) for x in (rule, start, end)))

    def spans(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        return self._spans


@pytest.mark.parametrize("taken", [0, 70])
@pytest.mark.parametrize("compiled", [True, False])
def test_span_bits_are_set_on_every_line_of_each_span(taken: int, compiled: bool) -> None:
    """The spans of a page record set their rule's bit on each line they cover, by the kernel or,
    past the bits an int64 holds, line by line; the file's own rules are on no line."""
    taking = [Event(f"x.{k}", "x", "a rule of the whole file") for k in range(taken)]
    record = _Spans(["layout.a", "layout.b"], [0, 1, 1], [1, 2, 5], [2, 4, 5])
    if compiled:
        index = _RuleIndex([*taking, record], 2)
    else:
        with jit.numpy_definitions():
            index = _RuleIndex([*taking, record], 2)
    file_rules = sorted(e.rule for e in taking)
    assert [index.rules_in(line, line) for line in range(6)] == [
        file_rules,
        sorted([*file_rules, "layout.a"]),
        sorted([*file_rules, "layout.a", "layout.b"]),
        sorted([*file_rules, "layout.b"]),
        sorted([*file_rules, "layout.b"]),
        sorted([*file_rules, "layout.b"]),
    ]


def test_article_rows_have_every_column_of_the_schema_in_its_order() -> None:
    (row,), _ = document_rows(_result([["正文。"]]), CFG_DEFAULT)
    assert list(row) == ARTICLES.names


@pytest.mark.parametrize("names", [[], ["id"], ["id", "rules"], ARTICLES.names])
def test_only_the_article_columns_given_are_gathered(names: list[str]) -> None:
    results = [_result([["第一段。", "第二段。"], ["另一篇。"]])]
    (full, _) = _columns_of(results, CFG_DEFAULT)
    some = {name: [] for name in names}
    add_document_columns(results[0], CFG_DEFAULT, some, empty_columns(PARAGRAPHS))
    assert some == {name: full[name] for name in names}
