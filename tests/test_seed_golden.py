"""Golden test on the real seed page: items, headlines, bylines, paragraphs and joins.

The expectation is written as data: each paragraph is the list of seed lines it
is rebuilt from (so a broken join is two line numbers), which keeps the test
short and exact. ``tests/test_page_shapes.py`` checks the same expectation on
the page in other shapes (encodings, CRLF, full-width punctuation, hard wraps).
The dedup flags of the last article are checked by the dedup tests.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SEED = Path(__file__).resolve().parent.parent / "data" / "raw" / "000_77a03ed607cd6b14.txt"

R, C, P = "reporter", "correspondent", "photographer"

# (kind, headline, kicker, title, lead, byline, byline_text, paragraphs as seed line numbers)
GOLDEN: list[dict[str, Any]] = [
    {
        "kind": "article",
        "headline": ["新开工项目30个 新签约项目32个", "市开发区招商引资和大项目建设如火如荼"],
        "kicker": "新开工项目30个 新签约项目32个",
        "title": "市开发区招商引资和大项目建设如火如荼",
        "lead": "本报讯",
        "byline": [(R, "黄啟峰")],
        "byline_text": None,
        "paragraphs": [[7], [9, 11], [13], [15], [17], [19], [21]],
    },
    {
        "kind": "article",
        "headline": ["加大措施抓好大项目建设"],
        "kicker": None,
        "title": "加大措施抓好大项目建设",
        "lead": "本报讯",
        "byline": [(R, "黄啟峰")],
        "byline_text": None,
        "paragraphs": [[25], [27], [29, 31], [33]],
    },
    {
        "kind": "article",
        "headline": ["保质保量完成脱贫攻坚任务"],
        "kicker": None,
        "title": "保质保量完成脱贫攻坚任务",
        "lead": "本报讯",
        "byline": [(R, "黄啟峰"), (C, "刘光红")],
        "byline_text": None,
        "paragraphs": [[37], [39, 41], [43]],
    },
    {
        "kind": "article",
        "headline": ["塞尔生物科技干细胞实验室落户市开发区"],
        "kicker": None,
        "title": "塞尔生物科技干细胞实验室落户市开发区",
        "lead": "本报讯",
        "byline": [(R, "黄啟峰")],
        "byline_text": None,
        "paragraphs": [[47, 49], [51]],
    },
    {
        "kind": "article",
        "headline": ["持续推进", "“三规范”建设"],
        "kicker": None,
        "title": "持续推进“三规范”建设",
        "lead": "本报讯",
        "byline": [(R, "黄啟峰")],
        "byline_text": None,
        "paragraphs": [[59], [61], [63]],
    },
    {
        "kind": "caption",
        "headline": [],
        "kicker": None,
        "title": None,
        "lead": None,
        "byline": [(P, "黄啟峰")],
        "byline_text": None,
        "paragraphs": [[67]],
    },
    {
        "kind": "article",
        "headline": ["干部有了“廉情说明书”"],
        "kicker": None,
        "title": "干部有了“廉情说明书”",
        "lead": None,
        "byline": [(R, "焦同帅"), (C, "牛树志")],
        "byline_text": "记者 焦同帅 通讯员 牛树志",
        "paragraphs": [[71], [73], [75], [77], [79], [81], [83], [85], [87]],
    },
    {
        "kind": "article",
        "headline": ["活跃在田间地头的“红马甲”"],
        "kicker": None,
        "title": "活跃在田间地头的“红马甲”",
        "lead": "本报讯",
        "byline": [(C, "宁效广")],
        "byline_text": None,
        "paragraphs": [[93], [95, 97], [99], [101]],
    },
    {
        "kind": "article",
        "headline": ["女镇长直播带货 为农产品“代言”"],
        "kicker": None,
        "title": "女镇长直播带货 为农产品“代言”",
        "lead": None,
        "byline": [],
        "byline_text": None,
        "paragraphs": [[105], [107], [109], [111], [113], [115], [117]],
    },
]

# The five broken joins: (last seed line before the seam, first after, tail|head).
BROKEN_JOINS = [
    (9, 11, "完|善"),
    (29, 31, "有力的|措施"),
    (39, 41, "具|体"),
    (47, 49, "临床质量|和干细胞储存"),
    (95, 97, "积|极"),
]

# Seed lines that are not body text (headlines and the trailing byline), for building other shapes.
SEED_ROLES = {
    3: "headline",
    5: "headline",
    23: "headline",
    35: "headline",
    45: "headline",
    55: "headline",
    57: "headline",
    69: "headline",
    89: "byline",
    91: "headline",
    103: "headline",
}


def _canon(text: str | None) -> str | None:
    """Comparison key: width-folded (NFKC), Traditional folded to Simplified, no whitespace.

    Shapes differ only in punctuation width, script and wrapping spaces; what must
    not differ is every character and where paragraphs and items start and end.
    """
    if text is None:
        return None
    from cleaning.lang import fold_traditional

    return re.sub(r"\s+", "", fold_traditional(unicodedata.normalize("NFKC", text)))


def seed_lines() -> list[str]:
    return SEED.read_text(encoding="utf-8").split("\n")


def expected_items(lines: list[str] | None = None) -> list[dict[str, Any]]:
    """GOLDEN with paragraph texts filled in from the seed lines."""
    lines = lines or seed_lines()
    out = []
    for g in GOLDEN:
        e = dict(g)
        e["paragraph_texts"] = ["".join(lines[n - 1].strip() for n in para) for para in g["paragraphs"]]
        out.append(e)
    return out


def assert_items_match(
    items: list, check_lines: bool = True, script: Callable[[str], str] | None = None
) -> None:
    """``items`` (cleaning.model.Item) equal the golden expectation, compared with :func:`canon`.

    ``script``: the conversion the page went through (e.g. Simplified→Traditional), applied
    to the expected texts before comparing.
    """
    expected = expected_items()

    def canon(text: str | None) -> str | None:
        return _canon(script(text) if (script and text) else text)

    got = [(it.kind, [_canon(h) for h in it.headline]) for it in items]
    assert len(items) == len(expected), f"expected {len(expected)} items, got {got}"
    for i, (it, e) in enumerate(zip(items, expected, strict=True)):
        where = f"item {i} ({e['title'] or e['kind']})"
        assert it.kind == e["kind"], where
        assert [_canon(h) for h in it.headline] == [canon(h) for h in e["headline"]], where
        assert _canon(it.title) == canon(e["title"]), where
        assert _canon(it.kicker) == canon(e["kicker"]), where
        assert _canon(it.lead) == canon(e["lead"]), where
        assert [(b.role, _canon(b.name)) for b in it.byline] == [(r, canon(n)) for r, n in e["byline"]], where
        assert _canon(it.byline_text) == canon(e["byline_text"]), where
        assert [_canon(p.text) for p in it.paragraphs] == [canon(t) for t in e["paragraph_texts"]], where
        if check_lines:
            spans = [(p.line_start, p.line_end) for p in it.paragraphs]
            assert spans == [(para[0], para[-1]) for para in e["paragraphs"]], where


def _process(data: bytes):
    pipeline = pytest.importorskip("cleaning.pipeline")
    for stage in ("cleaning.decode", "cleaning.repair", "cleaning.normalize"):
        pytest.importorskip(stage)
    from cleaning.config import CleaningConfig
    from cleaning.model import SourceDoc

    doc = SourceDoc(
        source_path="data/raw/000_77a03ed607cd6b14.txt",
        source_sha256=hashlib.sha256(data).hexdigest(),
        data=data,
    )
    result = pipeline.process_document(doc, CleaningConfig())
    assert not hasattr(result, "reason"), f"seed rejected: {result}"
    return result


def test_seed_items_headlines_bylines_paragraphs() -> None:
    result = _process(SEED.read_bytes())
    assert_items_match(result.items)


def test_seed_exactly_the_five_broken_joins() -> None:
    result = _process(SEED.read_bytes())
    joins = [
        e
        for e in result.expanded_events()
        if e.stage == "layout" and (".join" in e.rule or e.rule == "layout.dehyphenate")
    ]
    assert [(e.line, e.line_end) for e in joins] == [(a, b) for a, b, _ in BROKEN_JOINS]
    lines = result.lines
    for e, (a, b, seam) in zip(joins, BROKEN_JOINS, strict=True):
        tail, head = seam.split("|")
        assert lines[a - 1].rstrip().endswith(tail) and lines[b - 1].lstrip().startswith(head)
        assert e.detail and "terminal punctuation" in e.detail
    seam_words = {e.line: e.rule for e in joins}
    # 完善 具体 积极 are dictionary words across the seam; the other two joins have no such word.
    assert seam_words == {
        9: "layout.join_seam_word",
        29: "layout.join_unterminated",
        39: "layout.join_seam_word",
        47: "layout.join_unterminated",
        95: "layout.join_seam_word",
    }


def test_seed_every_line_break_has_a_decision() -> None:
    result = _process(SEED.read_bytes())
    decided = {(e.line, e.line_end) for e in result.expanded_events() if e.stage == "layout"}
    nonblank = [i + 1 for i, ln in enumerate(result.lines) if ln.strip()]
    assert decided == set(itertools.pairwise(nonblank))


def test_seed_every_block_is_tagged() -> None:
    result = _process(SEED.read_bytes())
    tagged = {e.line for e in result.expanded_events() if e.stage == "segment"}
    nonblank = {i + 1 for i, ln in enumerate(result.lines) if ln.strip()}
    starts = {p.line_start for it in result.items for p in it.paragraphs}
    assert starts <= tagged <= nonblank
