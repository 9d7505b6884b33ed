"""The seed page in other shapes must give the same items and paragraphs as the golden test.

Shapes are built in code from the seed (``benchmarks/make_pages.py``): re-encoded
as GB18030 and as Big5 (after a Simplified→Traditional conversion), CRLF,
full-width punctuation, and hard-wrapped at several column widths (display
cells) with ``　　`` indents and no blank lines. Each shape runs through the
whole per-document pipeline and, separately, through layout + segment alone on
lines decoded here (so the two stages are robust to half-width punctuation too).
"""

from __future__ import annotations

import hashlib

import pytest
from test_seed_golden import SEED, SEED_ROLES, assert_items_match

from benchmarks.make_pages import SHAPES, Layout, render, seed_shape, seed_units, to_traditional
from cleaning.layout import LayoutConfig, build_blocks
from cleaning.pipeline import split_lines
from cleaning.segment import SegmentConfig, segment_blocks

BROKEN_JOIN_RULES = {"layout.join_seam_word", "layout.join_unterminated"}


def _seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


def _stages(lines: list[str]):
    blocks, lev = build_blocks(lines, LayoutConfig())
    items, sev = segment_blocks(blocks, SegmentConfig())
    return items, lev + sev


def _pipeline(data: bytes):
    from cleaning.config import CleaningConfig
    from cleaning.model import SourceDoc
    from cleaning.pipeline import process_document

    doc = SourceDoc("shape.txt", hashlib.sha256(data).hexdigest(), data)
    result = process_document(doc, CleaningConfig())
    assert not hasattr(result, "reason"), f"rejected: {result}"
    return result.items, result.expanded_events()


def _check_joins(events: list, wrapped: bool) -> None:
    joins = [e.rule for e in events if e.stage == "layout" and (".join" in e.rule or "dehyphen" in e.rule)]
    assert sum(r in BROKEN_JOIN_RULES for r in joins) == 5, joins
    allowed = BROKEN_JOIN_RULES | ({"layout.join_wrapped_line"} if wrapped else set())
    assert set(joins) <= allowed


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("path", ["pipeline", "stages"])
def test_shape_gives_the_golden_items(shape: str, path: str) -> None:
    data, opts = seed_shape(_seed_text(), SEED_ROLES, shape)
    if path == "pipeline":
        items, events = _pipeline(data)
    else:
        items, events = _stages(split_lines(data.decode(opts.get("encoding", "utf-8"))))
    wrapped = bool(opts.get("width"))
    assert_items_match(
        items, check_lines=not wrapped, script=to_traditional if opts.get("traditional") else None
    )
    _check_joins(events, wrapped)


NARROW_KICKER = pytest.mark.xfail(
    strict=True,
    reason="the kicker's second line exactly fills a 14-cell column: nothing on the page tells it "
    "from a headline wrapped onto the next line",
)


@pytest.mark.parametrize(
    "width", [12, pytest.param(14, marks=NARROW_KICKER), 16, 20, 22, 26, 28, 32, 36, 40, 48, 60]
)
def test_wrapped_at_other_widths(width: int) -> None:
    """Not tuned to two widths: any column from 6 to 30 characters gives the same page."""
    units, _ = seed_units(_seed_text().split("\n"), SEED_ROLES)
    page = render(units, [], Layout(width=width))
    items, events = _stages(page.lines)
    assert_items_match(items, check_lines=False)
    _check_joins(events, wrapped=True)


def test_wrapped_without_indents_keeps_blank_lines_working() -> None:
    units, _ = seed_units(_seed_text().split("\n"), SEED_ROLES)
    page = render(units, [], Layout(width=30, indent=False, blank_lines=True))
    items, events = _stages(page.lines)
    assert_items_match(items, check_lines=False)
    _check_joins(events, wrapped=True)
