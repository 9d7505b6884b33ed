"""Layout stage: line-join decisions, their evidence, and invariants.

Text-level examples of each join rule live in ``tests/cases/layout.json``; this file
checks the stage contract (blocks, line spans, one event per decision), the column
model and properties that must hold on any input.
"""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from benchmarks.make_pages import wrap_cells
from cleaning.english import decide_hyphen
from cleaning.layout import (
    LayoutConfig,
    _arrays,
    _build_blocks,
    _hanging_cells,
    _Page,
    _prepare,
    _prepare_page,
    _prepare_reference,
    build_blocks,
    column_width,
    display_width,
    expand_events,
    is_para_final,
    seam_word,
)
from cleaning.model import EventRecord

CFG = LayoutConfig()
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")

P1 = (
    "练建军强调，抓项目建设首先要配齐配强领导班子，"
    "组织领导力量把项目谋划细、谋划深、谋划实，更细更实地研究政策。"
)
P2 = "要加强政企对接，增强服务意识，强化责任担当，做到分类施策、因地制宜。"


def _texts(lines: list[str], cfg: LayoutConfig = CFG) -> list[str]:
    return [b.text for b in build_blocks(lines, cfg)[0]]


def test_display_width_counts_cells() -> None:
    assert display_width("abc") == 3
    assert display_width("中文") == 4
    assert display_width("　　") == 4
    assert display_width("“中”") == 6
    assert display_width("“中”", ambiguous_wide=False) == 4
    assert display_width("a\u200bb") == 2


def test_column_width_is_the_common_line_width() -> None:
    lines = wrap_cells(P1 + P2, 24)
    assert column_width([display_width(x) for x in lines], CFG) == 24
    assert column_width([10, 40, 7, 22, 61], CFG) is None  # one paragraph per line


def test_wrapped_page_rebuilds_paragraphs_and_reports_every_break() -> None:
    lines = wrap_cells(P1, 20, "\u3000\u3000") + wrap_cells(P2, 20, "\u3000\u3000")
    blocks, events = build_blocks(lines, CFG)
    assert [b.text for b in blocks] == [P1, P2]
    assert all(b.indented for b in blocks)
    assert blocks[0].line_start == 1 and blocks[1].line_end == len(lines)
    assert [(e.line, e.line_end) for e in events] == list(itertools.pairwise(range(1, len(lines) + 1)))
    assert sum(len(b.joins) for b in blocks) == len(lines) - 2
    assert {e.rule for e in events} == {"layout.join_wrapped_line", "layout.break_indent"}
    assert all(e.detail for e in events)


def test_headline_is_not_glued_to_a_full_body_line() -> None:
    # The body's last line fills the column and ends with 。; the headline that follows is
    # not indented and would "continue" the column if width were the only evidence.
    body = "用心打造营商环境，用情服务企业发展。"  # 18 characters = 36 cells
    lines = [*wrap_cells(body, 36, ""), "加大措施抓好大项目建设", *wrap_cells(P2, 36, "\u3000\u3000")]
    lines = [*wrap_cells(P1, 36, "\u3000\u3000"), *lines]
    texts = _texts(lines)
    assert "加大措施抓好大项目建设" in texts


def test_blank_lines_and_trailing_byline_stay_apart() -> None:
    lines = [P1, "", "记者 焦同帅 通讯员 牛树志", "", "活跃在田间地头的“红马甲”"]
    assert _texts(lines) == [P1, "记者 焦同帅 通讯员 牛树志", "活跃在田间地头的“红马甲”"]


def test_broken_paragraph_needs_evidence() -> None:
    head = "各级各部门要提高政治站位，牢固树立大局意识和全局观念，要聚焦重点、立足实际、突出优势，以有力的"
    assert _texts([head, "", "措施和优良的作风抓好重点大项目建设工作。"]) == [
        head + "措施和优良的作风抓好重点大项目建设工作。"
    ]
    # No seam word, nothing that cannot end or start a sentence: left as two paragraphs.
    other = "各级各部门要提高政治站位，牢固树立大局意识和全局观念，要聚焦重点、立足实际、突出优势"
    assert _texts([other, "", "会议要求各部门抓好落实。"]) == [other, "会议要求各部门抓好落实。"]
    # Switched off: never joined.
    off = LayoutConfig(repair_broken_paragraphs=False)
    assert len(_texts([head, "", "措施和优良的作风抓好重点大项目建设工作。"], off)) == 2


@pytest.mark.parametrize("min_freq", [0, 1, 3, 100, 1000, 99_999])
def test_seam_dictionary_matches_jieba(min_freq: int) -> None:
    """The table read from jieba's file gives every word of at least ``min_freq`` the frequency
    jieba's own FREQ gives it, and holds no other word."""
    import jieba

    from cleaning.layout import _jieba_freq

    jieba.dt.check_initialized()
    table = _jieba_freq(min_freq)
    words = {w: f for w, f in jieba.dt.FREQ.items() if f > 0 and f >= min_freq}
    assert table == words
    # jieba's prefixes (frequency 0) are absent here; absent reads as 0 in seam_word
    assert not any(w in table for w, f in jieba.dt.FREQ.items() if f == 0)


def test_seam_words_below_the_threshold_never_count() -> None:
    # 完善 is frequent: accepted up to its frequency, never above it
    freq = seam_word("需求，完", "善城市网络建设。", min_freq=1)[1]
    assert seam_word("需求，完", "善城市网络建设。", min_freq=freq)[0] == "完善"
    assert seam_word("需求，完", "善城市网络建设。", min_freq=freq + 1) != ("完善", freq)
    # a threshold of 0 accepts any Han seam, dictionary word or not, as it always did
    assert seam_word("以有力的", "措施和", min_freq=0) is not None


def test_seam_word_lookup() -> None:
    assert seam_word("需求，完", "善城市网络建设。")[0] == "完善"
    assert seam_word("工作法，具", "体、系统")[0] == "具体"
    assert seam_word("發揮了積", "極的作用")[0] in ("积极", "積極")  # Traditional folded
    assert seam_word("以有力的", "措施和") is None
    assert seam_word("需求。", "善城") is None  # punctuation at the seam


def test_page_furniture_inside_a_paragraph_is_lifted() -> None:
    lines = wrap_cells(P1, 20, "\u3000\u3000")
    lines.insert(3, "东方日报 2020年6月16日 星期二 第3版 要闻")
    blocks, events = build_blocks(lines, CFG)
    assert [b.text for b in blocks] == [P1, "东方日报 2020年6月16日 星期二 第3版 要闻"]
    assert any(e.rule == "layout.lift_furniture" for e in events)


def test_english_lines_hyphens_and_soft_hyphens() -> None:
    lines = [
        "The members of the council con-",
        "tinued the debate until a well-",
        "known lawyer from the city an\u00ad",
        "nounced that twenty-",
        "five houses had burned.",
    ]
    assert _texts(lines) == [
        "The members of the council continued the debate until a well-known lawyer from the city "
        "announced that twenty-five houses had burned."
    ]


def test_hyphen_decisions() -> None:
    assert decide_hyphen("con-", "tinued").remove_hyphen
    assert not decide_hyphen("well-", "known").remove_hyphen
    assert not decide_hyphen("Austro-", "German").remove_hyphen
    assert decide_hyphen("Czer-", "nowitz").remove_hyphen  # unknown name: a break hyphen
    assert decide_hyphen("no hyphen", "here") is None


def test_crlf_and_fullwidth_lines_behave_alike() -> None:
    half = [P1.replace("，", ","), "", P2.replace("，", ",")]
    assert [t.replace(",", "，") for t in _texts(half)] == [P1, P2]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.sampled_from("中文字，。、 \u3000abc-\u00ad“”记者摄第版\t"), max_size=30),
        max_size=25,
    )
)
def test_never_raises_and_loses_no_han_character(lines: list[str]) -> None:
    blocks, events = build_blocks(lines, CFG)
    han_in = sum(len(HAN.findall(x)) for x in lines)
    han_out = sum(len(HAN.findall(b.text)) for b in blocks)
    assert han_in == han_out
    nonblank = [i + 1 for i, x in enumerate(lines) if b_strip(x)]
    assert sum(1 for e in events if e.line is not None) == max(0, len(nonblank) - 1) + _lift_extra(events)
    for b in blocks:
        assert 1 <= b.line_start <= b.line_end <= len(lines)


def b_strip(x: str) -> bool:
    return bool(re.sub(r"[\u200b-\u200f\u2060\ufeff\u00ad]", "", x).strip())


def _lift_extra(events) -> int:
    # a lifted furniture line adds one decision (the lines around it are also decided together)
    return sum(1 for e in events if e.rule == "layout.lift_furniture" and "decided against" in e.detail)


_CLAUSE = st.text(alphabet=st.sampled_from("中文字词句段落报道会议指出要求各部门"), min_size=2, max_size=14)
_PARA = st.lists(_CLAUSE, min_size=1, max_size=8).map(lambda parts: "，".join(parts) + "。")


@settings(max_examples=80, deadline=None)
@given(st.lists(_PARA, min_size=1, max_size=6), st.integers(min_value=10, max_value=60))
def test_indented_wrapped_paragraphs_come_back(paras: list[str], width: int) -> None:
    """Any column width: prose paragraphs carrying an indent are rebuilt exactly (given enough
    lines to see the column: a page with one or two wrapped lines is read one paragraph per line)."""
    lines = [ln for p in paras for ln in wrap_cells(p, width, "\u3000\u3000")]
    assume(len(lines) - len(paras) >= 3)  # at least three lines that are not a paragraph's last
    assert _texts(lines) == paras


# ---------------------------------------------------------------- fast paths against the reference

_TOKENS = st.sampled_from(
    [
        *"中文字词句报道会议指出要求各部门，。、：；！？“”（）「」—…·",
        "\u3000\u3000",
        "\u3000",
        "  ",
        " ",
        "\t",
        "\u00ad",
        "\u200b",
        "-",
        "5G",
        "12.8",
        "4,153",
        "con",
        "tinued",
        "well",
        "known",
        "The",
        "city.",
        "第3版",
        "星期二",
        "2020年6月16日",
        "Page 6",
        "记者 王明",
        "通讯员 李华",
        "摄",
        "供图",
        "本报讯",
        "图为",
        "的",
        "和",
        "完",
        "善",
    ]
)
_LINE = st.lists(_TOKENS, max_size=14).map("".join)


# English OCR lines (ASCII pages take their own measuring path)
_ENGLISH_LINE = st.lists(
    st.sampled_from(
        ["The", "city", "con-", "tinued", "well-", "known", "said.", "Page 6", "1916", ",", " ", "  "]
    ),
    max_size=10,
).map(" ".join)


def _same(lines: list[str], cfg: LayoutConfig = CFG) -> None:
    fast = _build_blocks(lines, cfg, fast=True)
    ref = _build_blocks(lines, cfg, fast=False)
    assert fast[0] == ref[0]
    assert [e.as_dict() for e in expand_events(fast[1])] == [e.as_dict() for e in ref[1]]
    for record in fast[1]:  # what the rules column reads: the spans of the record's events
        if isinstance(record, EventRecord):
            names, rule, first, last = record.spans()
            assert sorted(
                zip([names[k] for k in rule.tolist()], first.tolist(), last.tolist(), strict=True)
            ) == (sorted((e.rule, e.line, e.line_end) for e in record.expand()))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.lists(_LINE, max_size=30), st.lists(_ENGLISH_LINE, max_size=30)), st.booleans())
def test_fast_paths_decide_like_the_reference(lines: list[str], ambiguous_wide: bool) -> None:
    _same(lines, LayoutConfig(ambiguous_wide=ambiguous_wide))


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.lists(_LINE, max_size=20), st.lists(_ENGLISH_LINE, max_size=20)))
def test_the_decision_loop_run_as_plain_python_decides_the_same(lines: list[str]) -> None:
    """With the kernels off (``PRESSWASH_JIT=0``) the loop's own Python definition runs."""
    from cleaning import jit

    with jit.numpy_definitions():
        _same(lines)


_CREDIT_TEXT = st.lists(
    st.sampled_from(
        [
            "记者",
            "新华社记者",
            "摄",
            "摄影",
            "图",
            "文",
            "：",
            " ",
            "黄啟峰",
            "会议要求",
            "，",
            "。",
            "Photo by",
            "本报",
        ]
    ),
    min_size=1,
    max_size=12,
).map("".join)


@settings(max_examples=150, deadline=None)
@given(st.lists(_CREDIT_TEXT, min_size=1, max_size=5), st.integers(min_value=2, max_value=12))
def test_credit_words_broken_across_narrow_lines_decide_like_the_reference(
    paras: list[str], chars: int
) -> None:
    """Credit words split over short wrapped lines: the page-level hint flags must still send
    every paragraph that may be a byline to the exact credit check."""
    _same([ln for p in paras for ln in wrap_cells(p, 2 * chars)])


_HAN_TEXT = "会议要求各部门把工作落到实处切实提高服务水平进一步完善城市网络建设"
_PROSE = (
    "会议要求，各部门要把各项工作落到实处，切实提高服务水平的同时进一步完善城市网络建设。"
    "市开发区招商引资和大项目建设如火如荼，新开工项目30个，新签约项目32个。"
)


@st.composite
def _wrapped_paragraphs(draw: st.DrawFn) -> tuple[list[str], LayoutConfig]:
    """A hard-wrapped page of paragraphs, headline lines, short lines and page furniture, with the
    widths that decide a headline run (``max_headline_cells``) and the broken-paragraph repair
    (``body_min_cells``) drawn near the paragraphs' own."""
    width = 2 * draw(st.integers(min_value=5, max_value=16))
    lines: list[str] = []
    for _ in range(draw(st.integers(min_value=2, max_value=9))):
        if draw(st.booleans()):
            chars = draw(
                st.lists(
                    st.sampled_from([*_HAN_TEXT, "，", "。", "、", "；", "“", "”", "：", "！"]), max_size=40
                )
            )
            text = "".join(chars) + draw(st.sampled_from(["", "。", "，", "”", "完"]))
        else:
            # a slice of real prose, often cut inside a word or after "的" (what the repair joins)
            start = draw(st.integers(min_value=0, max_value=len(_PROSE) - 1))
            text = _PROSE[start : start + draw(st.integers(min_value=1, max_value=50))]
        if not text:
            continue
        indent = draw(st.sampled_from(["", "\u3000\u3000"]))
        lines.extend(wrap_cells(text, width, indent))
        lines.extend([""] * draw(st.integers(min_value=0, max_value=2)))
    # page furniture the layout lifts out, anywhere: between a headline run's lines too
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        at = draw(st.integers(min_value=0, max_value=len(lines)))
        lines.insert(at, draw(st.sampled_from(["第3版", "2020年6月16日 星期二", "第12版 要闻"])))
    cfg = LayoutConfig(
        max_headline_cells=draw(st.integers(min_value=4, max_value=40)),
        body_min_cells=draw(st.integers(min_value=1, max_value=60)),
        repair_broken_paragraphs=draw(st.booleans()),
    )
    return lines, cfg


@settings(max_examples=400, deadline=None)
@given(_wrapped_paragraphs())
def test_wrapped_paragraphs_decide_like_the_reference(page: tuple[list[str], LayoutConfig]) -> None:
    """The compiled loop settles a break after a line that ends a paragraph only where no
    headline run can start, and a paragraph mark after one that does not only where the
    broken-paragraph repair cannot apply: both at the widths that decide them."""
    lines, cfg = page
    _same(lines, cfg)


@pytest.mark.parametrize("width", [10, 16, 24])
def test_broken_paragraphs_at_every_body_width_decide_like_the_reference(width: int) -> None:
    """The repair's width thresholds (the paragraph's cells, the next line's) at every setting
    around the paragraphs' own widths: the loop leaves every mark the repair may join to Python."""
    first = "会议要求，各部门要把各项工作落到实处，切实提高服务水平的"  # "的" cannot end a sentence
    second = "同时进一步完善城市网络建设。"
    joined = set()
    for lines in (
        [*wrap_cells(first, width), "", *wrap_cells(second, width)],
        [*wrap_cells(first, width), *wrap_cells(second, width, "\u3000\u3000")],
        [*wrap_cells(first, width), "", *wrap_cells("同时，" + second, width)],
        [*wrap_cells(first, width), "", *wrap_cells("同时，进一步完善", width), "建设"],
    ):
        for body_min in range(1, 70):
            cfg = LayoutConfig(body_min_cells=body_min)
            _same(lines, cfg)
            joined.update(j for b in _build_blocks(lines, cfg, fast=False)[0] for j in b.joins)
    assert "layout.join_unterminated" in joined  # the repair did join at some settings


@pytest.mark.parametrize("chars", range(2, 13))
def test_bylines_split_at_every_column_width_decide_like_the_reference(chars: int) -> None:
    """A byline wrapped at every width, its words broken over the lines ("本报记" / "者 黄"): the
    hint flags of the line breaks must send each such paragraph to the exact credit check."""
    body = "会议要求各部门把各项工作落到实处切实提高服务水平进一步完善城市网络建设推动全市经济社会高质量发展"
    for byline in (
        "本报记者 黄啟峰",
        "新华社记者 黄啟峰",
        "记者 黄啟峰 摄",
        "通讯员 牛树志",
        "Photo by John Smith",
    ):
        for before in ("", "会议"):
            _same([*wrap_cells(body, 2 * chars), *wrap_cells(before + byline + body, 2 * chars)])


def test_a_page_record_expands_to_the_events_it_spans() -> None:
    lines = [
        *wrap_cells(P1 + P2, 20, "\u3000\u3000"),
        "",
        "记者 焦同帅 摄",
        "东方日报 第3版 星期二",
        *wrap_cells(P2, 20),
    ]
    blocks, compact = build_blocks(lines, CFG, compact=True)
    assert [type(e).__name__ for e in compact] == ["PageEvents"]
    names, rule, first, last = compact[0].spans()
    expanded = expand_events(compact)
    assert sorted(
        zip([names[k] for k in rule.tolist()], first.tolist(), last.tolist(), strict=True)
    ) == sorted((e.rule, e.line, e.line_end) for e in expanded)
    assert (blocks, [e.as_dict() for e in expanded]) == (
        build_blocks(lines, CFG)[0],
        [e.as_dict() for e in build_blocks(lines, CFG)[1]],
    )


def test_credit_hint_heads_come_from_the_pattern() -> None:
    from cleaning import segment
    from cleaning.layout import _hint_heads

    assert _hint_heads("记者|摄|文(?=[\\s:])|Photo by") == frozenset("记文Photo b")
    assert _hint_heads("记[者的]") is None  # anything but literal words: no shortcut
    heads = _hint_heads(segment._CREDIT_HINT.pattern)
    assert heads is not None and {"记", "新", "文", "图", " "} <= heads and "者" not in heads


@settings(max_examples=100, deadline=None)
@given(st.lists(_LINE, max_size=30))
@example(
    [
        "\u3000\u3000The city.",
        "\u3000\u3000中",
        "\u3000\u3000中文",
        "\u3000\u30005G",
        "\u3000\u300012.8",
        "\u3000\u3000会议。",
    ]
)
def test_array_line_measures_match_the_per_line_scan(lines: list[str]) -> None:
    """The page measured as a whole gives each line's measures and the page arrays the layout
    reads (first, last and last-but-one characters, Latin, indents) as the line-by-line scan."""
    assert _prepare(lines, CFG) == _prepare_reference(lines, CFG)
    page = _prepare_page(lines, CFG)
    ref = _arrays(_Page.of(_prepare_reference(lines, CFG)), CFG.ambiguous_wide)
    got = _arrays(page, CFG.ambiguous_wide)
    assert got.filled == ref.filled and got.present.tolist() == ref.present.tolist()
    seen = ref.present  # what a blank line reads is never used
    for name in ref.__dataclass_fields__:
        if name not in ("filled", "present"):
            assert getattr(got, name)[seen].tolist() == getattr(ref, name)[seen].tolist(), name


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.lists(_LINE, max_size=30), st.lists(_ENGLISH_LINE, max_size=30)), st.booleans())
def test_compiled_line_sums_are_the_array_sums(lines: list[str], ambiguous_wide: bool) -> None:
    """The one-pass kernel gives every array of the numpy expressions (ASCII pages included), on
    pages of two lines or more (what _prepare_page measures as a whole)."""
    from cleaning import jit
    from cleaning.layout import _line_sums

    lines = [*lines, "", ""][: max(2, len(lines))]

    with jit.numpy_definitions():
        plain = _line_sums(lines, ambiguous_wide)
    got = _line_sums(lines, ambiguous_wide)
    assert (got is None) == (plain is None)
    if got is not None:
        for name in plain.__dataclass_fields__:
            a, b = getattr(got, name), getattr(plain, name)
            assert a.dtype == b.dtype and a.tolist() == b.tolist(), name


@settings(max_examples=60, deadline=None)
@given(
    st.lists(_PARA, min_size=1, max_size=6),
    st.integers(min_value=5, max_value=40),
    st.booleans(),
    st.sampled_from(["", "记者 焦同帅 通讯员 牛树志", "加大措施抓好大项目建设", "东方日报 第3版 星期二"]),
)
def test_fast_paths_on_wrapped_pages(paras: list[str], chars: int, indent: bool, extra: str) -> None:
    lines = [ln for p in paras for ln in [*wrap_cells(p, 2 * chars, "\u3000\u3000" if indent else ""), extra]]
    _same(lines)


def test_fast_paths_on_english_and_seed_pages() -> None:
    from test_seed_golden import SEED

    _same(SEED.read_text(encoding="utf-8").split("\n"))
    english = [
        "The members of the council con-",
        "tinued the debate until a well-",
        "known lawyer from the city an\u00ad",
        "nounced that twenty-",
        "five houses had burned.",
        "It was late.",
        "WASHINGTON, Jan. 3.—The President said",
        "that the note would be sent.",
    ] * 3
    _same(english)
    for width in (12, 20, 36):
        _same([*wrap_cells(P1 + P2, width, "\u3000\u3000"), "记者 焦同帅 摄", *wrap_cells(P2, width)])


def test_fast_path_events_read_pickle_and_compare_like_plain_events() -> None:
    import copy
    import pickle

    from cleaning.model import Event

    _, events = build_blocks(wrap_cells(P1 + P2, 20, "\u3000\u3000"), CFG)
    joins = [e for e in events if e.rule == "layout.join_wrapped_line"]
    assert joins
    for e in joins:
        plain = Event(**e.as_dict())
        assert e == plain and plain == e
        assert pickle.loads(pickle.dumps(e)).as_dict() == plain.as_dict()
        assert copy.copy(e).as_dict() == plain.as_dict()
        assert e.before.replace("⏎", "") == e.after  # a wrapped Han line joins with no separator
    joins[0].detail = "changed"
    assert joins[0].detail == "changed"


def test_hanging_punctuation_is_measured_from_the_last_two_characters() -> None:
    texts = ["好。", "说：“好。”", "，", "a,", "好”）", "是的，", "abc", "“”。", "了……"]
    arr = _arrays(_prepare_page(texts, CFG), True)
    assert arr.hanging.tolist() == [_hanging_cells(text) for text in texts]


# English pages (ASCII throughout) are measured by a path of their own
_ASCII_LINE = st.text(alphabet=st.characters(max_codepoint=127, exclude_characters="\n\r"), max_size=24)


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.lists(_LINE, max_size=30), st.lists(_ASCII_LINE, max_size=30)), st.booleans())
def test_page_arrays_match_the_per_line_definitions(lines: list[str], ambiguous_wide: bool) -> None:
    cfg = LayoutConfig(ambiguous_wide=ambiguous_wide)
    ref = _prepare_reference(lines, cfg)
    for arr in (_arrays(_prepare_page(lines, cfg), ambiguous_wide), _arrays(_Page.of(ref), ambiguous_wide)):
        assert arr.present.tolist() == [ln is not None for ln in ref]
        for i, ln in enumerate(ref):
            if ln is None:
                continue
            assert arr.filled[i] == ln.text
            assert (arr.widths[i], bool(arr.latin[i]), bool(arr.indented[i])) == (
                ln.width,
                ln.latin,
                ln.indented,
            )
            assert (arr.first[i], arr.last[i]) == (ord(ln.text[0]), ord(ln.text[-1]))
            assert bool(arr.final[i]) == is_para_final(ln.text)
            assert arr.hanging[i] == _hanging_cells(ln.text)
            assert arr.first_cells[i] == display_width(ln.text[0], ambiguous_wide)


def _column_width_plain(
    widths: list[int], cfg: LayoutConfig, hanging: list[int], final: list[bool]
) -> int | None:
    """:func:`column_width` written with a Counter, line by line (its definition before the arrays)."""
    from collections import Counter

    if len(widths) < cfg.min_wrapped_lines:
        return None
    cand = [(w, h) for w, h, f in zip(widths, hanging, final, strict=True) if not f]
    if len(cand) < 2:
        return None
    counts: Counter[int] = Counter(w for w, _ in cand)
    counts.update(w - h for w, h in cand if h)
    for w in [w for w in counts if w < cfg.min_column_cells]:
        del counts[w]
    if not counts:
        return None
    best_w = max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]
    if counts.get(best_w + 1, 0) >= cfg.odd_column_ratio * counts[best_w]:
        best_w += 1
    slack = max(cfg.column_slack, 1)
    body = [w - h for w, h in cand]
    widest = max(body)
    wide_lines = sum(1 for w in body if w >= widest - slack)
    if widest > best_w + slack and wide_lines >= max(2, cfg.min_wrapped_fraction * len(cand)):
        best_w = widest
    near = sum(1 for w, h in cand if abs(w - best_w) <= slack or (h and abs(w - h - best_w) <= slack))
    if near / len(cand) < cfg.min_wrapped_fraction or near < 2:
        return None
    return best_w


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 70), st.sampled_from([0, 0, 0, 1, 2, 3, 4]), st.booleans()), max_size=40
    ),
    st.sampled_from(
        [CFG, LayoutConfig(column_slack=1), LayoutConfig(min_column_cells=2, odd_column_ratio=0.5)]
    ),
)
def test_column_width_by_bincount_matches_the_counter_definition(
    rows: list[tuple[int, int, bool]], cfg: LayoutConfig
) -> None:
    widths = [w for w, _, _ in rows]
    hanging = [h for _, h, _ in rows]
    final = [f for _, _, f in rows]
    assert column_width(widths, cfg, hanging, final) == _column_width_plain(widths, cfg, hanging, final)


@pytest.mark.parametrize("furniture", ["第3版", "2020年6月16日 星期二", "第12版 要闻"])
@pytest.mark.parametrize("max_headline", [20, 30, 40, 60])
def test_page_furniture_inside_a_headline_run_decides_like_the_reference(
    furniture: str, max_headline: int
) -> None:
    """A headline wrapped over two lines with a page header between them, after a full line
    that ends its paragraph: the run looks past the header, in the compiled loop as in Python."""
    lines = [
        "\u3000\u3000会议要求各部门把工作",
        "落实处切实提高服务水平。",
        "市开发区召开工作会议部署",
        furniture,
        "全年任务",
        "\u3000\u3000会议要求各部门把工作",
        "落到实处。",
    ]
    cfg = LayoutConfig(max_headline_cells=max_headline)
    _same(lines, cfg)
    rules = {e.rule for e in _build_blocks(lines, cfg, fast=False)[1]}
    if max_headline >= 32:  # the two headline lines, not the header, fit
        assert "layout.break_before_headline" in rules


_HINT_EDGE = st.sampled_from(["", " ", "\u3000\u3000文", "全文 ", "  Page 6"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_LINE, _CREDIT_TEXT, _HINT_EDGE), max_size=20))
def test_hint_words_find_what_the_page_scans_find(lines: list[str]) -> None:
    """The one-pass word scan flags the lines the furniture hint's page scan flags, and every
    line whose text holds a credit hint (the exact credit check is made where one is flagged)."""
    from cleaning import jit, segment
    from cleaning.layout import _W_CREDIT, _W_LIFT, _hint_scan, _hint_words, _hinted_lines, _prepare_page

    assert _hint_scan() is not None  # else every page is searched by the patterns instead
    page = _prepare_page(lines, CFG)
    words = _hint_words(page)
    if not jit.enabled() or page.codes is None:
        assert words is None
        return
    assert words is not None
    assert (words & _W_LIFT).nonzero()[0].tolist() == sorted(_hinted_lines(lines) or ())
    for text, raw, flag in zip(page.texts, lines, (words & _W_CREDIT).tolist(), strict=True):
        assert bool(flag) == bool(segment._CREDIT_HINT.search(raw))
        if text is not None and segment._CREDIT_HINT.search(text):
            assert flag


_PROSE_PIECE = st.sampled_from([_PROSE[:20], _PROSE[20:45], _PROSE[45:], _HAN_TEXT[:14]])
_CREDIT_PARA = st.lists(st.one_of(_CREDIT_TEXT, _PROSE_PIECE), max_size=4).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_CREDIT_PARA, min_size=1, max_size=4),
    st.integers(min_value=4, max_value=14),
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=40),
            st.sampled_from(["第3版", "2020年6月16日 星期二", "第12版 要闻"]),
            st.sampled_from(["header", "blank, header", "header, blank"]),
        ),
        min_size=1,
        max_size=3,
    ),
)
@example(["会议要求各部门把工作落实新华社记者黄啟峰摄影报道会议要求各部门"], 8, [(2, "第3版", "header")])
@example(["会议要求各部门把工作落到实处切实提高服务水平进一步完善"], 8, [(2, "第3版", "blank, header")])
def test_credit_words_across_lifted_furniture_decide_like_the_reference(
    paras: list[str], chars: int, headers: list[tuple[int, str, str]]
) -> None:
    """Credit words split over short wrapped lines with page furniture (and blank lines) between
    them: a join past the furniture is looked at for a hint across it, exactly where the
    compiled loop joins against the line the window was cut from."""
    lines = [ln for p in paras for ln in wrap_cells(p, 2 * chars)]
    for at, header, shape in headers:
        at = min(at, len(lines))
        lines[at:at] = ["" if part == "blank" else header for part in shape.split(", ")]
    _same(lines)


# every kind of whitespace str.rstrip strips (and characters that look like it but are not)
_SPACED_LINE = st.text(
    alphabet=st.sampled_from(
        list("中a。 \t\u3000\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2000\u200a\u2028\u202f\u205f\u200b\ufeff\ud800")
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_SPACED_LINE, min_size=2, max_size=12), st.booleans())
def test_line_sums_strip_the_whitespace_rstrip_strips(lines: list[str], ambiguous_wide: bool) -> None:
    """The compiled pass finds each line's trailing whitespace as ``str.rstrip`` does, and the
    page measured from it reads every line as the line-by-line scan."""
    from cleaning import jit
    from cleaning.layout import _line_sums

    got = _line_sums(lines, ambiguous_wide)
    assert got is not None
    assert got.stripped.tolist() == [len(ln.rstrip()) for ln in lines]
    assert got.lengths.tolist() == [len(ln) for ln in lines]
    with jit.numpy_definitions():
        plain = _line_sums(lines, ambiguous_wide)
    assert plain is not None and plain.stripped.tolist() == got.stripped.tolist()
    cfg = LayoutConfig(ambiguous_wide=ambiguous_wide)
    assert _prepare(lines, cfg) == _prepare_reference(lines, cfg)
    _same(lines, cfg)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 70),
            st.sampled_from([0, 0, 0, 1, 2, 3, 4]),
            st.booleans(),
            st.sampled_from([True, True, False]),  # present
            st.sampled_from([False, False, True]),  # latin
        ),
        max_size=40,
    ),
    st.sampled_from(
        [
            CFG,
            LayoutConfig(column_slack=1),
            LayoutConfig(min_column_cells=2, odd_column_ratio=0.5),
            LayoutConfig(min_wrapped_lines=2, min_wrapped_fraction=0.0),
            LayoutConfig(min_wrapped_fraction=1.0, column_slack=3),
        ]
    ),
)
def test_compiled_column_width_is_column_width(
    rows: list[tuple[int, int, bool, bool, bool]], cfg: LayoutConfig
) -> None:
    """The one-pass column width of a page's arrays is :func:`column_width` of its Han lines."""
    import numpy as np

    from cleaning import jit
    from cleaning.layout import _Arrays, _column_inputs, _column_width_kernel, _page_column_width

    n = len(rows)
    col = list(zip(*rows, strict=True)) if rows else [()] * 5
    present = np.array(col[3], dtype=bool)
    zeros = np.zeros(n, dtype=np.int64)
    arr = _Arrays(
        ["x"] * n,
        present,
        np.array(col[0], dtype=np.int64),
        np.array(col[4], dtype=bool) & present,
        np.array(col[2], dtype=bool),
        zeros,
        zeros,
        zeros,
        zeros,
        zeros.astype(bool),
        np.array(col[1], dtype=np.int64),
    )
    widths, hanging, final = _column_inputs(arr)
    want = column_width(widths, cfg, hanging, final)
    assert _page_column_width(arr, cfg) == want
    with jit.numpy_definitions():
        assert _page_column_width(arr, cfg) == want
    args = (arr.widths, arr.hanging, arr.present, arr.latin, arr.indented)
    settings_ = (cfg.min_wrapped_lines, cfg.min_column_cells, cfg.odd_column_ratio)
    got = _column_width_kernel.py_func(*args, *settings_, max(cfg.column_slack, 1), cfg.min_wrapped_fraction)
    assert (None if got < 0 else got) == want


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(st.lists(_LINE, min_size=2, max_size=30), st.lists(_ENGLISH_LINE, min_size=2, max_size=30)),
    st.sampled_from([None, 8, 20, 40]),
    st.booleans(),
    st.sampled_from([CFG, LayoutConfig(body_min_cells=4, max_headline_cells=8)]),
)
def test_compiled_line_rows_are_the_array_rows(
    lines: list[str], page_width: int | None, scanned: bool, cfg: LayoutConfig
) -> None:
    """The one-pass fill of the line matrix gives every row the array expressions give, and the
    same lines to measure and to look at for a role word."""
    import numpy as np

    from cleaning import textscan
    from cleaning.layout import _fill_line_rows, _fill_line_rows_numpy, _mark_table, _prepare_page

    page = _prepare_page(lines, cfg)
    arr = _arrays(page, cfg.ambiguous_wide)
    marks = textscan.line_flags(arr.filled, _mark_table()) if scanned and page_width is not None else None
    want = np.zeros((20, len(lines)), dtype=np.int64)
    want_lines = _fill_line_rows_numpy(want, arr, page, marks, page_width, cfg)
    got = np.zeros((20, len(lines)), dtype=np.int64)
    assert _fill_line_rows(got, arr, page, marks, page_width, cfg) == want_lines
    assert got.tolist() == want.tolist()


@pytest.mark.parametrize(
    "lines", [["中文", "a\nb"], ["a\n", "中"], ["\n", "", "x"], ["会议\n要求", "各部门", "把工作"]]
)
def test_a_line_holding_a_line_feed_is_measured_line_by_line(lines: list[str]) -> None:
    from cleaning import jit
    from cleaning.layout import _line_sums

    assert _line_sums(lines, True) is None
    with jit.numpy_definitions():
        assert _line_sums(lines, True) is None
    _same(lines)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(st.lists(_LINE, min_size=2, max_size=30), st.lists(_ENGLISH_LINE, min_size=2, max_size=30)),
    st.booleans(),
)
def test_compiled_line_ends_are_the_array_line_ends(lines: list[str], ambiguous_wide: bool) -> None:
    """The page arrays read at the lines' ends (last character's flags, paragraph-final, first
    and hanging cells) are the same from the compiled pass and from the array expressions."""
    import numpy as np

    from cleaning import jit
    from cleaning.layout import _arrays_of, _line_ends, _prepare_page

    page = _prepare_page(lines, LayoutConfig(ambiguous_wide=ambiguous_wide))
    arr = page.arrays
    assert arr is not None
    second = np.array([ord(t[-2]) if len(t) > 1 else 0 for t in arr.filled], dtype=np.int64)
    want = _line_ends(arr.filled, arr.present, arr.first, arr.last, second, ambiguous_wide)
    args = (arr.filled, arr.present, arr.widths, arr.latin, arr.indented, arr.first, arr.last, second)
    got = _arrays_of(*args, ambiguous_wide)
    with jit.numpy_definitions():
        plain = _arrays_of(*args, ambiguous_wide)
    for name, value in zip(("last_flags", "final", "first_cells", "hanging"), want, strict=True):
        for arrays in (got, plain):
            a = getattr(arrays, name)
            assert a.dtype == value.dtype and a.tolist() == value.tolist(), name
    # the kernel's plain definition, given the same tables
    from cleaning.layout import _char_tables, _flag_table, _line_ends_kernel

    n = len(lines)
    out = [
        np.empty(n, np.uint8),
        np.empty(n, bool),
        np.empty(n, bool),
        np.empty(n, np.int64),
        np.empty(n, np.int64),
    ]
    tables = (_flag_table(), _char_tables(ambiguous_wide), _char_tables(True))
    _line_ends_kernel.py_func(arr.present, arr.first, arr.last, second, *tables, *out)
    last_flags, final, check, first_cells, hanging = out
    assert last_flags.tolist() == want[0].tolist() and first_cells.tolist() == want[2].tolist()
    assert hanging.tolist() == want[3].tolist()
    assert (final | check).tolist() == (want[1] | check).tolist()  # checked lines: is_para_final


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(_LINE, _SPACED_LINE, st.sampled_from(["\u3000\u3000中", "\u3000\u3000a", "\u3000\u3000"])),
        min_size=2,
        max_size=20,
    )
)
def test_compiled_line_kinds_are_the_array_line_kinds(lines: list[str]) -> None:
    """The one-pass sorting of a page's lines (trailing whitespace, the usual indent, lines to
    look at one by one) gives what the array expressions give, updates included."""
    import numpy as np

    from cleaning.layout import (
        _LK_HAN_LATIN,
        _LK_ODD,
        _LK_PLAIN,
        _LK_PRESENT,
        _LK_TRAILING,
        _line_kinds,
        _line_kinds_kernel,
        _line_sums,
    )

    want_sums, got_sums = _line_sums(lines, True), _line_sums(lines, True)
    assert want_sums is not None and got_sums is not None
    trailing, plain, present, odd_idx, odd_cols, latin, indented = _line_kinds(want_sums)
    n = len(lines)
    kind, got_latin, got_indented = np.empty(n, np.uint8), np.empty(n, bool), np.empty(n, bool)
    s = got_sums
    args = (s.lengths, s.stripped, s.visible, s.han, s.letters, s.non_ascii, s.ideographic_indent, s.third)
    from cleaning import jit

    compiled = (_line_kinds_kernel,) if jit.enabled() else ()
    for kernel in (*compiled, _line_kinds_kernel.py_func):
        got_sums = _line_sums(lines, True)
        assert got_sums is not None
        kernel(*args, got_sums.first, got_sums.second, kind, got_latin, got_indented)
        assert (kind & _LK_TRAILING).nonzero()[0].tolist() == trailing
        assert (kind & _LK_PLAIN).nonzero()[0].tolist() == plain
        assert ((kind & _LK_PRESENT) != 0).tolist() == present.tolist()
        assert (kind & _LK_ODD).nonzero()[0].tolist() == odd_idx.tolist()
        odd_kind = kind[odd_idx]
        assert ((odd_kind & _LK_TRAILING) != 0).tolist() == odd_cols[0]
        assert ((odd_kind & _LK_PRESENT) != 0).tolist() == odd_cols[1]
        assert ((odd_kind & _LK_HAN_LATIN) != 0).tolist() == odd_cols[2]
        assert got_latin.tolist() == latin.tolist() and got_indented.tolist() == indented.tolist()
        assert got_sums.first.tolist() == want_sums.first.tolist()
        assert got_sums.second.tolist() == want_sums.second.tolist()


_FURNITURE_LINE = st.tuples(
    st.sampled_from(["", "\u3000\u3000", "  ", "\t", "\u3000"]),
    st.sampled_from(
        ["第3版", "2020年6月16日 星期二", "第12版 要闻", "Page 6", "VOL. 12", "1916年", "版权所有"]
    ),
    st.sampled_from(["", " ", "  ", "\u3000"]),
).map("".join)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_LINE, _FURNITURE_LINE, _HINT_EDGE), min_size=2, max_size=20), st.booleans())
def test_lifted_furniture_is_what_the_line_test_finds(lines: list[str], kernels: bool) -> None:
    """The furniture the line matrix lifts (only the hinted lines, their patterns run without the
    hint pattern again) is what :func:`_liftable_furniture` finds in each line's text, indented
    or followed by whitespace, with the kernels and with the numpy definitions."""
    import contextlib

    from cleaning import jit
    from cleaning.layout import (
        _I_LIFT,
        _W_LIFT,
        _hint_words,
        _hinted_lines,
        _liftable_furniture,
        _line_matrix,
        _page_column_width,
    )

    with contextlib.nullcontext() if kernels else jit.numpy_definitions():
        page = _prepare_page(lines, CFG)
        arr = _arrays(page, CFG.ambiguous_wide)
        words = _hint_words(page)
        hinted = (words & _W_LIFT).nonzero()[0].tolist() if words is not None else _hinted_lines(lines)
        got = _line_matrix(page, arr, CFG, hinted, _page_column_width(arr, CFG), words)
    assert got is not None
    want = {i: name for i, t in enumerate(page.texts) if t is not None and (name := _liftable_furniture(t))}
    assert got[1] == want
    assert got[0][_I_LIFT].nonzero()[0].tolist() == sorted(want)


@pytest.mark.parametrize("ambiguous_wide", [True, False])
def test_char_classes_stand_for_the_packed_table(ambiguous_wide: bool) -> None:
    """The byte per code point the compiled line pass reads gives, through its addends, every
    code point's packed fields, and whitespace exactly where ``str.isspace`` sees it."""
    import numpy as np

    from cleaning.layout import (
        _CC_SPACE,
        _CLASS_ADDENDS,
        _SPACE_TOP,
        _char_classes,
        _char_tables,
        _space_table,
    )

    classes = _char_classes(ambiguous_wide)
    assert classes.dtype == np.uint8 and int(classes.max()) < len(_CLASS_ADDENDS)
    assert np.array_equal(_CLASS_ADDENDS[classes], _char_tables(ambiguous_wide))
    space = (classes & _CC_SPACE) != 0
    assert np.array_equal(space[:_SPACE_TOP], _space_table())
    assert not space[_SPACE_TOP:].any()
    assert space.nonzero()[0].tolist() == [c for c in range(0x110000) if chr(c).isspace()]
