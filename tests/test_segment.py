"""Segment stage: items from paragraphs (headline groups, leads, bylines, captions, furniture).

Pattern-level examples of each rule live in ``tests/cases/segment.json``; this file
checks how blocks are grouped into items and the contract of ``repeated_furniture``.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaning import jit, segment, textscan
from cleaning.model import Block, expand_events
from cleaning.segment import (
    _PROSE_PUNCT,
    _SENTENCE_INSIDE,
    SegmentConfig,
    _has_prose_punct,
    _sentence_inside,
    _wider_than,
    display_width,
    furniture_key,
    parse_byline,
    repeated_furniture,
    segment_blocks,
)

CFG = SegmentConfig()
BODY1 = "会议指出，各相关部门要聚焦问题整改和推进重点问题落实等工作，进一步提高认识、统一思想。"
BODY2 = "会议强调，要坚定信心，紧张有序，做到底数清、政策明，高质量地完成各项工作任务。"


def blocks(*texts: str, indented: bool = False) -> list[Block]:
    return [Block(text=t, line_start=i + 1, line_end=i + 1, indented=indented) for i, t in enumerate(texts)]


def items_of(*texts: str, furniture: frozenset[str] = frozenset()):
    return segment_blocks(blocks(*texts), CFG, furniture)


def test_headline_lead_body_and_trailing_byline() -> None:
    items, events = items_of(
        "新开工项目30个 新签约项目32个",
        "市开发区招商引资和大项目建设如火如荼",
        "本报讯（记者 黄啟峰 通讯员 刘光红）" + BODY1,
        BODY2,
        "记者 焦同帅",
        "加大措施抓好大项目建设",
        BODY1,
    )
    assert [it.kind for it in items] == ["article", "article"]
    a = items[0]
    assert a.kicker == "新开工项目30个 新签约项目32个"
    assert a.title == "市开发区招商引资和大项目建设如火如荼"
    assert a.lead == "本报讯"
    assert [(b.role, b.name) for b in a.byline] == [
        ("reporter", "黄啟峰"),
        ("correspondent", "刘光红"),
        ("reporter", "焦同帅"),
    ]
    assert a.byline_text == "记者 焦同帅"
    assert [p.text for p in a.paragraphs] == ["本报讯（记者 黄啟峰 通讯员 刘光红）" + BODY1, BODY2]
    assert (a.line_start, a.line_end) == (1, 5)
    assert items[1].title == "加大措施抓好大项目建设" and items[1].line_start == 6
    tags = {e.line: e.rule for e in events}
    assert tags[1] == tags[2] == "segment.headline"
    assert tags[3] == "segment.lead" and tags[4] == "segment.body" and tags[5] == "segment.byline"


def test_lead_without_headline_starts_an_article() -> None:
    items, _ = items_of(BODY1, "新华社北京6月11日电（记者 张三、李四）" + BODY2)
    assert [it.kind for it in items] == ["other", "article"]
    assert items[1].lead == "新华社北京6月11日电"
    assert [b.name for b in items[1].byline] == ["张三", "李四"]


def test_caption_is_its_own_item_and_body_after_it_continues_the_article() -> None:
    cap = "6月15日，记者走进精进电动科技有限公司生产车间，工人们正忙碌地组装电机。记者 黄啟峰 摄"
    items, _ = items_of("持续推进", "“三规范”建设", BODY1, cap, BODY2)
    assert [it.kind for it in items] == ["article", "caption"]
    assert items[0].title == "持续推进“三规范”建设"
    assert [p.text for p in items[0].paragraphs] == [BODY1, BODY2]
    assert [p.text for p in items[1].paragraphs] == [cap]
    assert [(b.role, b.name) for b in items[1].byline] == [("photographer", "黄啟峰")]


def test_end_marker_closes_the_article() -> None:
    items, events = items_of("深化改革开放", "——写在全会召开之际", BODY1, "（完）", BODY2)
    assert [it.kind for it in items] == ["article", "other"]
    assert items[0].subtitle == "写在全会召开之际"
    assert any(e.rule == "segment.end_marker" for e in events)


def test_numbered_and_indented_subheads_stay_in_the_article() -> None:
    items, _ = items_of("中华人民共和国某某法", "第一章 总则", BODY1, "第二章 附则", BODY2)
    assert len(items) == 1
    assert [p.text for p in items[0].paragraphs] == ["第一章 总则", BODY1, "第二章 附则", BODY2]
    b = [*blocks("某某条例"), *blocks("序言", BODY1, indented=True)]
    items, _ = segment_blocks(b, CFG)
    assert items[0].headline == ["某某条例"] and items[0].paragraphs[0].text == "序言"


def test_page_furniture_by_pattern_and_by_repetition() -> None:
    items, events = items_of("东方日报 2020年6月16日 星期二 第3版 要闻", "本地新闻", BODY1)
    assert [it.kind for it in items] == ["furniture", "article"]
    pages = [
        ["城市晚报", "第1版", BODY1],
        ["城市晚报", "第2版", BODY2],
        ["城市晚报", "第3版", "另一篇文章。"],
    ]
    furn = repeated_furniture(pages, CFG)
    assert furniture_key("城市晚报") in furn and furniture_key("第9版") in furn
    assert furniture_key(BODY1) not in furn
    items, events = items_of("城市晚报", "标题一", BODY1, furniture=furn)
    assert items[0].kind == "furniture"
    assert any(e.rule == "segment.furniture_repeated" for e in events)


def test_repeated_bylines_are_not_furniture() -> None:
    pages = [["记者 黄啟峰", BODY1], ["记者 黄啟峰", BODY2]]
    assert repeated_furniture(pages, CFG) == frozenset()
    assert repeated_furniture([["城市晚报"]], CFG) == frozenset()  # one page: nothing recurs


def test_english_conventions() -> None:
    items, _ = items_of(
        "WAR IN THE BALKANS",
        "Allies Advance on a Wide Front",
        "By JOHN SMITH",
        "WASHINGTON (AP) — The Senate passed the bill on Tuesday after a long debate.",
        "The vote was close.",
        "Continued on Page 6",
    )
    a = items[0]
    assert a.title == "WAR IN THE BALKANS" and a.subtitle == "Allies Advance on a Wide Front"
    assert [(b.role, b.name) for b in a.byline] == [("author", "JOHN SMITH")]
    assert a.lead == "WASHINGTON (AP) —"
    assert len(a.paragraphs) == 2
    assert items[-1].kind == "furniture"


def test_traditional_chinese() -> None:
    items, _ = items_of(
        "總統接見訪賓",
        "本報訊（記者 孫桂靜）李總統登輝先生今天接見訪賓，表示歡迎。",
        "記者 孫桂靜 通訊員 林濤",
    )
    assert items[0].lead == "本報訊"
    assert [(b.role, b.name) for b in items[0].byline] == [
        ("reporter", "孫桂靜"),
        ("reporter", "孫桂靜"),
        ("correspondent", "林濤"),
    ]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.sampled_from("中文本报讯记者摄（）() 第版，。、—ABy\u3000"), max_size=40),
        max_size=20,
    )
)
def test_never_raises_and_keeps_every_block(texts: list[str]) -> None:
    texts = [t for t in texts if t.strip()]
    items, events = items_of(*texts)
    kept = sum(len(it.paragraphs) for it in items) + sum(
        len(it.headline) for it in items if it.kind != "caption"
    )
    kept += sum(1 for it in items if it.byline_text for _ in it.byline_text.split("\n"))
    kept += sum(len(it.headline) for it in items if it.kind == "caption")
    ends = sum(1 for e in events if e.rule == "segment.end_marker")
    assert kept + ends == len(texts)
    for it in items:
        assert it.line_start <= it.line_end


def reference_repeated_furniture(pages: list[list[str]], cfg: SegmentConfig) -> frozenset[str]:
    """The definition: every short line that is no end marker or byline, keyed, counted once per page."""
    if len(pages) < cfg.furniture_min_pages:
        return frozenset()
    counts: Counter[str] = Counter()
    for page in pages:
        keys = set()
        for line in page:
            t = line.strip()
            if (
                not t
                or display_width(t) > cfg.max_furniture_cells
                or re.match(r"^[（(](?:完|完结|全文完|END|end)[)）]$", t)
            ):
                continue
            if parse_byline(t) is not None:
                continue
            keys.add(re.sub(r"\d+", "0", re.sub(r"\s+", " ", t)))
        counts.update(keys)
    need = max(cfg.furniture_min_pages, math.ceil(cfg.furniture_min_page_fraction * len(pages)))
    return frozenset(k for k, n in counts.items() if n >= need)


FURNITURE_LINES = st.sampled_from(
    [
        "城市晚报",
        "第1版",
        "第12版",
        " 第 3 版 ",
        "记者 黄啟峰",
        "（完）",
        "",
        "  ",
        "\u3000要闻\u3000",
        "A1",
        "a\tb",
        "x\u200b",
        "\u200b" * 80,
        "中" * 36,
        "中" * 35,
        "a" * 71,
        "①②",
        "2020年1月1日",
        "\x85",
        "\u2028",
        BODY1,
    ]
)


_SPACEY = st.text(
    alphabet=st.sampled_from(list(" \t\x0b\x0c\r\x1c\x85\xa0\u2003\u2028\u3000a中1２\u200b")), max_size=12
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_SPACEY, FURNITURE_LINES, st.text(max_size=8)), max_size=10))
def test_page_keys_are_the_line_keys(page: list[str]) -> None:
    from cleaning.segment import _page_keys

    page = [ln for ln in page if "\n" not in ln] or [""]
    assert _page_keys(page) == [furniture_key(ln) for ln in page]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.one_of(FURNITURE_LINES, st.text(max_size=8)), max_size=8), max_size=8),
    st.sampled_from([0.01, 0.3, 0.6, 1.0]),
)
def test_repeated_furniture_is_the_plain_definition(pages: list[list[str]], fraction: float) -> None:
    cfg = SegmentConfig(furniture_min_page_fraction=fraction)
    assert repeated_furniture(pages, cfg) == reference_repeated_furniture(pages, cfg)


_PAGES = st.lists(st.lists(st.one_of(FURNITURE_LINES, _SPACEY, st.text(max_size=8)), max_size=8), max_size=8)


@settings(max_examples=200, deadline=None)
@given(_PAGES, st.sampled_from([0.01, 0.3, 0.6, 1.0]))
def test_repeated_furniture_without_kernels_is_the_plain_definition(
    pages: list[list[str]], fraction: float
) -> None:
    """The keyed count (kernels off) and the hashed one (the test above, kernels on) agree."""
    cfg = SegmentConfig(furniture_min_page_fraction=fraction)
    with jit.numpy_definitions():
        assert repeated_furniture(pages, cfg) == reference_repeated_furniture(pages, cfg)


@settings(max_examples=200, deadline=None)
@given(_PAGES, st.sampled_from([0.01, 0.3, 0.6]), st.integers(min_value=1, max_value=3))
def test_key_hash_collisions_change_nothing(pages: list[list[str]], fraction: float, bits: int) -> None:
    """With 1 to 3 hash bits nearly every key collides: the candidates grow, the result does not."""
    if not jit.enabled():
        pytest.skip("numba is not importable here")
    cfg = SegmentConfig(furniture_min_page_fraction=fraction)
    before = segment._KEY_HASH_BITS
    segment._KEY_HASH_BITS = bits
    try:
        assert repeated_furniture(pages, cfg) == reference_repeated_furniture(pages, cfg)
    finally:
        segment._KEY_HASH_BITS = before


def _kernel_hashes(lines: list[str], definition: bool = False) -> list[int]:
    text = "\n".join(lines)
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    out = np.empty(text.count("\n") + 1, dtype=np.int64)
    kernel = segment._line_key_hashes.py_func if definition else segment._line_key_hashes
    kernel(codes, segment._key_flags(), (1 << 52) - 1, out, segment._EVERY_LINE)
    return out.tolist()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_SPACEY, FURNITURE_LINES, st.text(max_size=8)), min_size=1, max_size=10))
def test_line_key_hash_is_a_hash_of_the_key(page: list[str]) -> None:
    """Per line: 0 exactly for an empty key, the same value for the line and its key, and the
    compiled kernel equals its plain definition."""
    page = [ln for ln in page if "\n" not in ln] or [""]
    keys = [furniture_key(ln) for ln in page]
    plain = _kernel_hashes(page, definition=True)
    assert [h == 0 for h in plain] == [not k for k in keys]
    assert plain == _kernel_hashes(keys, definition=True)
    if jit.enabled():
        assert _kernel_hashes(page) == plain
        assert _kernel_hashes([ln.encode("ascii", "replace").decode() for ln in page]) == _kernel_hashes(
            [ln.encode("ascii", "replace").decode() for ln in page], definition=True
        )


def test_key_flags_are_the_key_regexes() -> None:
    flags = segment._key_flags()
    sample = [*range(0x3100), *range(0xFF00, 0x10000), *range(0x1D7C0, 0x1D800), 0x10FFFF]
    for cp in sample:
        ch = chr(cp)
        assert bool(flags[cp] & segment._K_SPACE) == bool(re.match(r"\s", ch)), hex(cp)
        assert bool(flags[cp] & segment._K_DIGIT) == bool(re.match(r"\d", ch)), hex(cp)


def test_line_key_hashes_counts_lines_past_its_output() -> None:
    """The kernel returns how many lines it found and writes only those ``out`` holds: a caller
    learns that a line held a line feed from the count, and no write goes past the array."""
    lines = ["城市晚报", "第1版", "", "  要闻 12 "]
    expected = _kernel_hashes(lines, definition=True)
    codes = textscan.codes_of("\n".join(lines))
    kernels = [segment._line_key_hashes.py_func] + ([segment._line_key_hashes] if jit.enabled() else [])
    for kernel in kernels:
        for size in range(len(lines) + 1):
            out = np.full(size + 1, -1, dtype=np.int64)
            found = kernel(codes, segment._key_flags(), (1 << 52) - 1, out[:size], segment._EVERY_LINE)
            assert found == len(lines)
            assert out[:size].tolist() == expected[:size]
            assert out[size] == -1


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(_SPACEY, FURNITURE_LINES, st.text(max_size=8)), min_size=1, max_size=10),
    st.data(),
)
def test_line_key_hashes_of_only_some_lines(page: list[str], data: st.DataObject) -> None:
    """With ``only``, the lines it holds get the hash they get alone, the others 0."""
    page = [ln for ln in page if "\n" not in ln] or [""]
    only = np.array(data.draw(st.lists(st.booleans(), min_size=len(page), max_size=len(page))), dtype=bool)
    every = _kernel_hashes(page, definition=True)
    codes = textscan.codes_of("\n".join(page))
    kernels = [segment._line_key_hashes.py_func] + ([segment._line_key_hashes] if jit.enabled() else [])
    for kernel in kernels:
        out = np.empty(len(page), dtype=np.int64)
        assert kernel(codes, segment._key_flags(), (1 << 52) - 1, out, only) == len(page)
        assert out.tolist() == [h if keep else 0 for h, keep in zip(every, only.tolist(), strict=True)]


def test_repeated_furniture_on_a_line_holding_a_newline() -> None:
    """A line holding "\\n" cannot be found by splitting the joined text: the keyed count runs."""
    pages = [["城市晚报", "第1版\n要闻", BODY1], ["城市晚报", "第2版\n要闻"], ["城市晚报"]]
    assert repeated_furniture(pages, CFG) == reference_repeated_furniture(pages, CFG)
    assert furniture_key("城市晚报") in repeated_furniture(pages, CFG)


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("中a \u200b\u0301“—…ｱ\U00020000\u3000"), max_size=120),
    st.integers(min_value=0, max_value=110),
)
def test_width_limit_is_the_measured_width(text: str, limit: int) -> None:
    assert _wider_than(text, limit) == (display_width(text) > limit)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("。；;.!?，、！？ Aa中\n．"), max_size=12))
def test_substring_tests_are_the_patterns(text: str) -> None:
    assert _sentence_inside(text) == bool(_SENTENCE_INSIDE.search(text))
    assert _has_prose_punct(text) == bool(_PROSE_PUNCT.search(text))
    assert (text.endswith(("。", "．")) or text.endswith(("。\n", "．\n"))) == bool(
        re.search(r"[。．]$", text)
    )


def test_a_page_record_expands_to_the_events_it_spans() -> None:
    page = blocks(
        "第二版",
        "新开工项目30个 新签约项目32个",
        "市开发区招商引资和大项目建设如火如荼",
        "本报讯（记者 黄啟峰 通讯员 刘光红）" + BODY1,
        BODY2,
        "记者 焦同帅",
        "图为市民在公园游玩。记者 黄啟峰 摄",
        BODY1,
        "（完）",
        "短标题",
    )
    items, events = segment_blocks(page, CFG)
    compact_items, compact = segment_blocks(page, CFG, compact=True)
    assert compact_items == items
    assert [type(e).__name__ for e in compact] == ["SegmentEvents"]
    assert [e.as_dict() for e in expand_events(compact)] == [e.as_dict() for e in events]
    names, rule, start, end = compact[0].spans()
    assert [
        (names[r], s, e) for r, s, e in zip(rule.tolist(), start.tolist(), end.tolist(), strict=True)
    ] == [(e.rule, e.line, e.line_end) for e in events]
    assert segment_blocks([], CFG, compact=True) == ([], [])
