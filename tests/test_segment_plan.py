"""Segment's page plan: a page's paragraphs tagged from page-wide arrays, _classify only where
they cannot tell.

The plan must tag every paragraph as ``_classify`` does: its flags are necessary conditions of
the special tests, checked here against matches generated from the patterns themselves, and the
whole stage is compared with the paragraph-by-paragraph way (the kernels off) on generated and
real pages.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleaning import jit, layout, normalize, repair, segment, textscan
from cleaning.config import CleaningConfig
from cleaning.model import Block
from cleaning.segment import SegmentConfig, display_width, furniture_key, segment_blocks
from tests.shared_corpora import chronam_pages, cn_law_texts, tw_contents

CASES = json.loads((Path(__file__).parent / "cases" / "segment.json").read_text(encoding="utf-8"))["cases"]
BODY = (
    "会议指出，各相关部门要聚焦问题整改和推进重点问题落实等工作，"
    "进一步提高认识、统一思想，确保各项任务落到实处。"
)

# paragraphs that reach each test of _classify, and their near misses
_TEXTS = [
    *(line for case in CASES for line in case["input"].split("\n")),
    BODY,
    BODY * 2,
    "本报讯（记者 黄啟峰 通讯员 刘光红）" + BODY,
    "本报6月11日讯 " + BODY,
    "新华社北京6月11日电（记者 王五）" + BODY,
    "（倫敦廿日哈瓦斯電）英國政府今日宣佈",
    "WASHINGTON (AP) — The Senate voted today.",
    "（一）不动产权属证书；",
    "（二）决定议程，政府提出的议案须优先列入议程",
    "（三）专业性",
    "一、总体要求",
    "第一章 总则",
    "第十七条 申请人可以委托代理人",
    "1.工作目标",
    "12、",
    "（完）",
    "(完)",
    "（完",
    "第二版",
    "A12版",
    "2023年6月11日 星期日",
    "中華民國八十二年五月五日",
    "星期四",
    "— 3 —",
    "３",
    "A12",
    "PAGE 3",
    "page 3",
    "VOL. XXXVI. NO 6",
    "Continued on Page 6",
    "下转第二版",
    "JANUARY 5, 1916.",
    "记者 焦同帅 通讯员 牛树志",
    "（责任编辑：王五）",
    "By JOHN SMITH",
    "Byline without names",
    "图为市民在公园游玩。记者 黄啟峰 摄",
    "图为",
    "上图：新建的大桥",
    "市民在公园游玩（新华社发）",
    "文/张三",
    "图书馆今天开放",
    "市开发区召开工作会议",
    "市开发区召开工作会议，",
    "市开发区召开工作会议．",
    "市开发区召开工作会议：",
    "THE DAILY NEWS",
    "The Daily News Of The Town",
    "the council met on tuesday",
    "Mr. Smith went home. Then he slept",
    "Mr. Smith",
    "会议强调；要坚定信心",
    "\u200b",
    "\u200b\u200b",
    "\u3000",
    "持续推进",
    "——记市开发区的建设者们",
    "“三规范”建设",
    "ＡＢＣ新闻",
]
_BLOCK = st.builds(
    lambda text, indented, pad: Block(
        text=pad + text + pad.strip(), line_start=1, line_end=1, indented=indented
    ),
    st.sampled_from(_TEXTS),
    st.booleans(),
    st.sampled_from(["", "", " ", "\u3000\u3000"]),
)
_CONFIG = st.builds(
    lambda captions, sections, indented_body, unindented, headline, furniture: SegmentConfig(
        detect_captions=captions,
        detect_section_headings=sections,
        indented_short_lines_are_body=indented_body,
        unindented_lines_are_headlines=unindented,
        max_headline_cells=headline,
        max_furniture_cells=furniture,
    ),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.sampled_from([100, 20, 60, 140]),
    st.sampled_from([70, 8, 30]),
)


def _numbered(blocks: list[Block]) -> list[Block]:
    line = 1
    for b in blocks:
        b.line_start = b.line_end = line
        line += 1
    return blocks


def _outcome(blocks: list[Block], cfg: SegmentConfig, furniture: frozenset[str]) -> tuple:
    items, events = segment_blocks(blocks, cfg, furniture)
    return (
        [
            (
                it.kind,
                it.headline,
                it.title,
                it.kicker,
                it.subtitle,
                it.lead,
                [(b.role, b.name) for b in it.byline],
                it.byline_text,
                it.line_start,
                it.line_end,
                [(p.text, p.line_start, p.line_end, p.joins) for p in it.paragraphs],
            )
            for it in items
        ],
        [(e.rule, e.stage, e.detail, e.line, e.line_end) for e in events],
    )


def _both_ways(blocks: list[Block], cfg: SegmentConfig, furniture: frozenset[str] = frozenset()) -> tuple:
    planned = _outcome(blocks, cfg, furniture)
    with jit.numpy_definitions():  # no plan: _classify tags every paragraph
        assert (
            segment._page_plan([b.text.strip() for b in blocks], np.zeros(0, bool), cfg, furniture, False, 0)
            is None
        )
        reference = _outcome(blocks, cfg, furniture)
    return planned, reference


@pytest.mark.skipif(not jit.enabled(), reason="the plan needs the kernels")
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_BLOCK, min_size=1, max_size=14), _CONFIG, st.data())
def test_plan_tags_as_classify_does(blocks: list[Block], cfg: SegmentConfig, data: st.DataObject) -> None:
    blocks = _numbered(blocks)
    keys = sorted({furniture_key(b.text) for b in blocks})
    furniture = frozenset(data.draw(st.lists(st.sampled_from(keys), max_size=3))) if keys else frozenset()
    planned, reference = _both_ways(blocks, cfg, furniture)
    assert planned == reference


# paragraphs whose keys differ from their text (digits, inner and outer whitespace), and entries
# of a furniture set given as raw lines or as keys
_KEYED = [*_TEXTS, "第 3 版", "第3版", "第12版  要闻", " 2023年6月11日\u3000星期日 ", "PAGE  3", "— 12 —"]


@pytest.mark.skipif(not jit.enabled(), reason="the plan needs the kernels")
@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(_KEYED), min_size=1, max_size=14),
    st.lists(
        st.sampled_from([*_KEYED, *map(furniture_key, _KEYED), "", "第0版 要闻"]), min_size=1, max_size=5
    ),
    st.lists(st.booleans(), min_size=14, max_size=14),
    st.sampled_from([1, 2, 3, segment._KEY_HASH_BITS]),
)
def test_furniture_candidates_hold_every_repeated_line(
    texts: list[str], entries: list[str], narrow: list[bool], bits: int
) -> None:
    """Every narrow paragraph that is an entry of the furniture set, or whose key is one, is a
    candidate (with 1 to 3 hash bits nearly every key collides: more candidates, never fewer)."""
    texts = [t.strip() for t in texts if "\n" not in t]
    if not texts:
        return
    cand = np.array([segment._C_NARROW if w else 0 for w in narrow[: len(texts)]], dtype=np.uint8)
    furniture = frozenset(entries)
    before = segment._KEY_HASH_BITS
    segment._KEY_HASH_BITS = bits
    try:
        got = segment._furniture_candidates(textscan.codes_of("\n".join(texts)), cand, furniture).tolist()
    finally:
        segment._KEY_HASH_BITS = before
    hits = [k for k, t in enumerate(texts) if cand[k] and (t in furniture or furniture_key(t) in furniture)]
    assert set(hits) <= set(got) <= set(np.flatnonzero(cand).tolist())
    if bits == segment._KEY_HASH_BITS:
        keys = {furniture_key(e) for e in furniture}
        assert set(got) == {k for k in np.flatnonzero(cand).tolist() if furniture_key(texts[k]) in keys}


@pytest.mark.skipif(not jit.enabled(), reason="the plan needs the kernels")
@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(_KEYED), min_size=1, max_size=14),
    st.lists(st.sampled_from([*_KEYED, *map(furniture_key, _KEYED)]), min_size=1, max_size=5),
    _CONFIG,
)
def test_plan_spares_classify_only_the_unrepeated(
    texts: list[str], entries: list[str], cfg: SegmentConfig
) -> None:
    """A paragraph the plan leaves to _classify without the furniture set is no repeated line:
    _classify given the set tags it as _classify given none does."""
    blocks = _numbered(
        [Block(text=t, line_start=1, line_end=1) for t in texts if "\n" not in t] or [Block("x", 1, 1)]
    )
    stripped = [b.text.strip() for b in blocks]
    furniture = frozenset(entries)
    indented = np.zeros(len(blocks), dtype=bool)
    widest = segment._widest_special(cfg, False)
    plan = segment._page_plan(stripped, indented, cfg, furniture, False, widest)
    assert plan is not None
    for b, t, how in zip(blocks, stripped, plan.tolist(), strict=True):
        if how == segment._P_CLASSIFY_UNREPEATED:
            with_set = segment._classify(b, t, cfg, furniture, False, widest)
            without = segment._classify(b, t, cfg, frozenset(), False, widest)
            assert (with_set.tag, with_set.rule, with_set.detail) == (
                without.tag,
                without.rule,
                without.detail,
            )


def _real_pages(texts: list[str]) -> list[list[Block]]:
    cfg = CleaningConfig()
    pages = []
    for text in texts:
        lines, _ = repair.repair_lines(text.split("\n"), cfg.repair)
        lines, _ = normalize.normalize_lines(lines, cfg.normalize)
        blocks, _ = layout.build_blocks(lines, cfg.layout, compact=True)
        pages.append(blocks)
    return pages


@pytest.mark.skipif(not jit.enabled(), reason="the plan needs the kernels")
def test_plan_tags_real_pages_as_classify_does() -> None:
    # Chinese laws (numbered lists: "（一）…", "第十七条"), Taiwan news (Traditional, leads and
    # datelines), English OCR (running heads, page numbers, bylines)
    texts = [*cn_law_texts(25, seed=3), *tw_contents(60), *chronam_pages(6, seed=3)]
    pages = _real_pages(texts)
    assert sum(map(len, pages)) > 2000
    for blocks in pages:
        keys = [furniture_key(b.text) for b in blocks if len(b.text) < 30]
        planned, reference = _both_ways(blocks, SegmentConfig(), frozenset(keys[:3]))
        assert planned == reference


def test_the_seed_page_is_tagged_by_the_plan() -> None:
    seed = Path(__file__).resolve().parent.parent / "data" / "raw" / "000_77a03ed607cd6b14.txt"
    (blocks,) = _real_pages([seed.read_text(encoding="utf-8")])
    planned, reference = _both_ways(blocks, SegmentConfig())
    assert planned == reference
    texts = [b.text.strip() for b in blocks]
    indented = np.fromiter((b.indented for b in blocks), dtype=bool, count=len(blocks))
    cfg = SegmentConfig()
    plan = segment._page_plan(texts, indented, cfg, frozenset(), False, segment._widest_special(cfg, False))
    if jit.enabled():
        # most of the page is decided without _classify
        assert plan is not None and (plan != segment._P_CLASSIFY).sum() > len(plan) / 2


# ---------------------------------------------------------------- the flags' conditions


# from_regex filters what it generates for word boundaries and lookarounds: some patterns filter a lot
_MATCHES = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow]
)


@pytest.mark.parametrize(
    ("pattern", "bit"),
    [
        (segment._END_MARKER, segment._EDGE_END),
        (segment._LEAD_ANY, segment._EDGE_LEAD),
        (segment._CAPTION_START, segment._EDGE_CAPTION),
        (segment._SECTION_HEADING, segment._EDGE_SECTION),
        (segment._ENGLISH_BYLINE, segment._EDGE_BY),
    ],
    ids=["end marker", "lead", "caption start", "section heading", "English byline"],
)
def test_every_match_opens_with_a_flagged_character(pattern: re.Pattern[str], bit: int) -> None:
    @_MATCHES
    @given(st.from_regex(pattern))
    def check(text: str) -> None:
        if pattern.match(text) is None:  # from_regex promises a search match; these anchor at 0
            return
        assert segment._edge_table()[ord(text[0])] & bit, text

    check()


def _flags(text: str) -> np.ndarray:
    table = segment._char_table()
    return np.array([np.bitwise_or.reduce(np.array([table[ord(c)] for c in text] or [0], dtype=np.uint16))])


@pytest.mark.parametrize(
    ("name", "pattern"),
    segment._FURNITURE_PATTERNS,
    ids=[f"{k}-{n}" for k, (n, _) in enumerate(segment._FURNITURE_PATTERNS)],
)
def test_every_furniture_match_holds_a_flagged_character(name: str, pattern: re.Pattern[str]) -> None:
    @_MATCHES
    @given(st.from_regex(pattern))
    def check(text: str) -> None:
        text = text.strip()  # furniture_pattern strips the paragraph, as the plan does
        if not pattern.search(text):
            return
        first = np.array([segment._edge_table()[ord(text[0])] if text else 0], dtype=np.uint8)
        assert segment._may_be_furniture(_flags(text), first)[0], (name, text)
        # the guards before each pattern skip no pattern that matches
        for max_cells in (70, 1000):
            assert segment.furniture_pattern(text, max_cells) == _furniture_pattern_reference(text, max_cells)

    check()


def _furniture_pattern_reference(text: str, max_cells: int) -> str | None:
    """:func:`segment.furniture_pattern`: every pattern in turn, no guards."""
    t = text.strip()
    if not t or segment._PROSE_PUNCT.search(t) or display_width(t) > max_cells:
        return None
    for name, pat in segment._FURNITURE_PATTERNS:
        if pat.search(t):
            if name == "page label" and segment._TERMINAL.search(t):
                continue
            return name
    return None


_FURNITURE_PIECES = [
    *("第二版", "A12版", "版", "在", "。", " ", "3", "PAGE 3", "VOL. 6", "下转第二版", "JANUARY 5, 1916."),
    *("2023年6月11日", "中華民國八十二年二月四日", "2023年", "星期四", "周日", "週六", "禮拜天", "礼拜一"),
]


def test_furniture_pattern_is_each_pattern_in_turn() -> None:
    for a, b, c in itertools.product(["", *_FURNITURE_PIECES], repeat=3):
        text = a + b + c
        for max_cells in (8, 30, 70):
            assert segment.furniture_pattern(text, max_cells) == _furniture_pattern_reference(
                text, max_cells
            ), text


def test_furniture_pattern_cache_keys_text_and_width() -> None:
    """The cached pattern test gives what the test itself gives, for the same text asked again at
    another width (layout asks at 70 cells, segment at the configured width) and in any order."""
    texts = [a + b for a, b in itertools.product(["", *_FURNITURE_PIECES], repeat=2)]
    for order in (texts, texts[::-1]):
        for max_cells in (70, 8, 30, 70):
            for text in order:
                t = text.strip()
                if t and not segment._has_prose_punct(t):
                    cached = segment._furniture_pattern_of(t, max_cells)
                    assert cached == segment._furniture_pattern_of.__wrapped__(t, max_cells), (t, max_cells)


def test_every_lead_match_holds_a_flagged_character() -> None:
    @_MATCHES
    @given(st.from_regex(segment._LEAD_ANY))
    def check(text: str) -> None:
        m = segment._LEAD_ANY.match(text)
        if m is None:  # from_regex promises a search match; the patterns anchor at 0
            return
        assert int(_flags(m.group())[0]) & segment._CH_LEAD_TAIL, text

    check()
    for text in (
        "本报讯",
        "本报6月11日电",
        "新华社北京电",
        "据新华社电",
        "据外媒报道",
        "据路透社消息",
        "（倫敦廿日哈瓦斯電）",
    ):
        assert segment._LEAD_ANY.match(text) and int(_flags(text)[0]) & segment._CH_LEAD_TAIL, text


def test_every_end_marker_is_at_most_so_wide() -> None:
    for open_, word, close in itertools.product("（(", ["完", "完结", "全文完", "END", "end"], ")）"):
        text = open_ + word + close
        assert segment._END_MARKER.match(text), text
        assert display_width(text) <= segment._END_MARKER_CELLS, text
    assert display_width("（全文完）") == segment._END_MARKER_CELLS


def _caption_hint_candidates(flags: np.ndarray) -> np.ndarray:
    return (flags & segment._CH_CAPTION_HINT) != 0


_HINTS = [
    (segment._ROLE_HINT, segment._role_hint_candidates, [*segment._ROLE_WORDS, *segment._POSTFIX_ROLES]),
    (
        segment._CAPTION_HINT,
        _caption_hint_candidates,
        [*segment._POSTFIX_ROLES, *segment._SOURCE_HINT.split("|")],
    ),
]


@pytest.mark.parametrize(("pattern", "candidates", "words"), _HINTS, ids=["role hint", "caption hint"])
def test_every_hint_match_holds_flagged_characters(
    pattern: re.Pattern[str], candidates: Any, words: list[str]
) -> None:
    for word in words:
        assert pattern.search(word + " "), word  # the keywords are the pattern's alternatives
        assert candidates(_flags(word))[0], word

    @_MATCHES
    @given(st.from_regex(pattern))
    def check(text: str) -> None:
        m = pattern.search(text)
        if m is None:
            return
        assert candidates(_flags(m.group()))[0], text

    check()


_HINT_LINE = st.text(
    alphabet=st.sampled_from(list("文图摄记者作员讯供华社片照来源P hoto by新发资料 ：/一二")), max_size=8
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_HINT_LINE, min_size=1, max_size=8), st.data())
def test_hint_lines_among_candidates_are_the_whole_page_pass(texts: list[str], data: st.DataObject) -> None:
    # the role hint's lookahead (文 before a separator) reads the line feed after a line
    reference = sorted(data.draw(st.sets(st.integers(0, len(texts) - 1), min_size=1)))
    for rx, candidates, _ in _HINTS:
        lines = [texts[k] for k in reference]
        whole = textscan.lines_matching(rx, lines, "\n".join(lines))
        expected = [k for k, hit in zip(reference, whole.tolist(), strict=True) if hit]
        among = [k for k in reference if candidates(_flags(texts[k]))[0]]
        assert segment._lines_matching_among(rx, texts, among, reference[-1]) == expected


def test_headline_endings_are_the_flagged_ones() -> None:
    cfg = SegmentConfig()
    for ch in "．，,、：:":
        assert segment._edge_table()[ord(ch)] & segment._EDGE_NOT_HEADLINE_END
        assert not segment._headline_like("市开发区召开工作会议" + ch, cfg)
    assert segment._headline_like("市开发区召开工作会议", cfg)


_SCAN_TEXT = st.text(
    alphabet=st.sampled_from(
        list("aZ1 .!?;，。、；：:（(第一图B版年\u200b\u00ad\u3000“—…中\U00020000\ud800")
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_SCAN_TEXT.filter(lambda t: "\n" not in t), min_size=1, max_size=6))
def test_block_scan_measures_each_paragraph(texts: list[str]) -> None:
    n = len(texts)
    got = []
    kernels = [segment._block_scan.py_func] + ([segment._block_scan] if jit.enabled() else [])
    for kernel in kernels:
        cells, flags = np.empty(n, np.int64), np.empty(n, np.uint16)
        first, last = np.zeros(n, np.uint8), np.zeros(n, np.uint8)
        found = kernel(
            textscan.codes_of("\n".join(texts)),
            segment._char_table(),
            segment._edge_table(),
            cells,
            flags,
            first,
            last,
        )
        assert found == n
        got.append((cells.tolist(), flags.tolist(), first.tolist(), last.tolist()))
    assert all(g == got[0] for g in got)
    cells, flags, first, last = got[0]
    edge = segment._edge_table()
    for k, text in enumerate(texts):
        assert cells[k] == display_width(text)
        assert flags[k] == int(_flags(text)[0])
        assert first[k] == (edge[ord(text[0])] if text else 0)
        assert last[k] == (edge[ord(text[-1])] if text else 0)


@pytest.mark.skipif(not jit.enabled(), reason="the plan needs the kernels")
def test_page_plan_gives_up_on_a_paragraph_holding_a_line_feed() -> None:
    """The scan counts the lines it found (writing only those its arrays hold): one more than the
    paragraphs means a paragraph held a line feed, and _classify then tags every paragraph."""
    cfg = SegmentConfig()
    for texts in (["第一版", "本报讯 记者\n张三", "正文。"], ["正文。", "第二行\n"], ["\n"]):
        indented = np.zeros(len(texts), bool)
        assert segment._page_plan(texts, indented, cfg, frozenset(), False, 100) is None
        blocks = [Block(text=t, line_start=k + 1, line_end=k + 1) for k, t in enumerate(texts)]
        assert _outcome(blocks, cfg, frozenset()) == _both_ways(blocks, cfg)[1]
    n = 2
    cells, flags = np.full(n + 1, -1, np.int64), np.full(n + 1, 7, np.uint16)
    first, last = np.full(n + 1, 9, np.uint8), np.full(n + 1, 9, np.uint8)
    codes = textscan.codes_of("甲\n乙\n丙\n丁")
    kernels = [segment._block_scan.py_func, segment._block_scan]
    for kernel in kernels:
        args = (segment._char_table(), segment._edge_table(), cells[:n], flags[:n], first[:n], last[:n])
        assert kernel(codes, *args) == 4
        assert (cells[n], flags[n], first[n], last[n]) == (-1, 7, 9, 9)  # nothing written past the arrays


def _plan_reference(
    cells: np.ndarray,
    flags: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    indented: np.ndarray,
    params: list[int],
) -> tuple[list[int], list[int]]:
    """What _plan_lines computes, as whole-array numpy expressions."""
    widest, max_furniture, max_headline, max_unindented, indented_page, captions, sections = params
    wide = cells > widest
    special = cells == 0
    if captions:
        special |= (first & segment._EDGE_CAPTION) != 0
    special |= ~wide & (
        ((first & segment._EDGE_BY) != 0)
        | (
            ((flags & segment._CH_PROSE) == 0)
            & segment._may_be_furniture(flags, first)
            & (cells <= max_furniture)
        )
    )
    plan = np.full(len(cells), segment._P_BODY, dtype=np.int8)
    not_headline = (
        (cells > max_headline)
        | ((flags & segment._CH_SENTENCE) != 0)
        | ((last & segment._EDGE_NOT_HEADLINE_END) != 0)
    )
    latin_only = ((flags & segment._CH_LATIN) != 0) & ((flags & segment._CH_HAN) == 0)
    ask = ~not_headline & (((flags & segment._CH_LATIN_STOP) != 0) | latin_only)
    plan[~wide & ~not_headline] = segment._P_HEADLINE_LIKE
    plan[ask] = segment._P_ASK_HEADLINE_LIKE
    if indented_page:
        plan[~wide & (cells <= max_unindented) & ~indented] = segment._P_UNINDENTED
    if sections:
        plan[((first & segment._EDGE_SECTION) != 0) & (cells <= max_headline)] += segment._P_SECTION
    plan[special] = segment._P_CLASSIFY
    cand = np.where(~wide, segment._C_NARROW, 0)
    cand |= np.where(
        ~special & ((first & segment._EDGE_END) != 0) & (cells <= segment._END_MARKER_CELLS),
        segment._C_END,
        0,
    )
    cand |= np.where(
        ~special & ((first & segment._EDGE_LEAD) != 0) & ((flags & segment._CH_LEAD_TAIL) != 0),
        segment._C_LEAD,
        0,
    )
    if captions:
        cand |= np.where(~special & ((flags & segment._CH_CAPTION_HINT) != 0), segment._C_CAPTION, 0)
    cand |= np.where(~special & ~wide & segment._role_hint_candidates(flags), segment._C_ROLE, 0)
    return plan.tolist(), cand.tolist()


@pytest.mark.parametrize("seed", range(40))
def test_plan_lines_is_the_array_expressions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    # few bits per value, so that each test meets both outcomes
    cells = rng.choice([0, 1, 5, 8, 20, 30, 60, 70, 71, 100, 101, 140, 160, 161, 300], n).astype(np.int64)
    flags = (rng.integers(0, 1 << 14, n) & rng.integers(0, 1 << 14, n) & rng.integers(0, 1 << 14, n)).astype(
        np.uint16
    )
    first = (rng.integers(0, 256, n) & rng.integers(0, 256, n)).astype(np.uint8)
    last = rng.integers(0, 256, n).astype(np.uint8)
    indented = rng.random(n) < 0.5
    params = [
        int(rng.choice([70, 100, 160])),
        int(rng.choice([8, 30, 70])),
        int(rng.choice([20, 60, 100, 140])),
        int(rng.choice([100, 160])),
        int(rng.integers(0, 2)),
        int(rng.integers(0, 2)),
        int(rng.integers(0, 2)),
    ]
    expected = _plan_reference(cells, flags, first, last, indented, params)
    kernels = [segment._plan_lines.py_func] + ([segment._plan_lines] if jit.enabled() else [])
    for kernel in kernels:
        plan, cand = np.empty(n, np.int8), np.empty(n, np.uint8)
        pp = np.array(params, dtype=np.int64)
        last_narrow = kernel(cells, flags, first, last, indented, pp, plan, cand)
        assert (plan.tolist(), cand.tolist()) == expected
        narrow = np.flatnonzero(cand & segment._C_NARROW)
        assert last_narrow == (int(narrow[-1]) if len(narrow) else -1)


def test_char_table_cells_are_display_width() -> None:
    table = segment._char_table()
    assert not table.flags.writeable
    sample = [*range(0x10000), *range(0x1F000, 0x20010), *range(0x3FFF0, 0x40010), 0x10FFFF]
    for cp in sample:
        f = int(table[cp])
        cells = 0 if f & segment._CH_ZERO else 2 if f & segment._CH_WIDE else 1
        assert cells == display_width(chr(cp)), hex(cp)
        assert bool(f & segment._CH_NOT_PAGE_NUMBER) == (
            re.fullmatch(segment._PAGE_NUMBER_CHARS, chr(cp)) is None
        )
