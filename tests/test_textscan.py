"""cleaning.textscan: per-line character-class scans of a page in one compiled pass."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaning import jit, textscan

_CLASSES = ((r"[\s]", 1), (r"\d", 2), ("[\u4e00-\u9fff]", 4), ("[\ud800-\udfff]", 8))
_LINES = st.lists(
    st.text(alphabet=st.sampled_from(list(" \t\u3000a1２中\x85\u2028\ud800é")), max_size=10), max_size=8
)


@pytest.fixture(scope="module")
def table() -> np.ndarray:
    return textscan.class_table(_CLASSES)


def _expected(lines: list[str]) -> list[int]:
    return [
        sum(bit for pattern, bit in _CLASSES if any(re.fullmatch(pattern, ch) for ch in ln)) for ln in lines
    ]


def test_class_table_is_the_regexes(table: np.ndarray) -> None:
    assert table.dtype == np.uint8 and len(table) == 0x110000 and not table.flags.writeable
    sample = [*range(0x3100), *range(0xD7F0, 0xE010), *range(0xFF00, 0x10000), *range(0x1D7C0, 0x1D800)]
    for cp in sample:
        ch = chr(cp)
        assert table[cp] == sum(bit for pattern, bit in _CLASSES if re.fullmatch(pattern, ch)), hex(cp)


def test_codes_of() -> None:
    assert textscan.codes_of("ab\n").dtype == np.uint8
    codes = textscan.codes_of("a中\ud800\U00020000")
    assert codes.dtype == np.uint32
    assert codes.tolist() == [0x61, 0x4E2D, 0xD800, 0x20000]


@settings(max_examples=300, deadline=None)
@given(_LINES)
def test_line_flags_are_each_lines_classes(table: np.ndarray, lines: list[str]) -> None:
    lines = [ln for ln in lines if "\n" not in ln]
    got = textscan.line_flags(lines, table)
    if not jit.enabled():
        assert got is None
        return
    assert got is not None and got.tolist() == _expected(lines)
    if lines:  # the plain definition of the kernel gives the same
        plain = np.zeros(len(lines), dtype=np.uint8)
        textscan._line_or.py_func(textscan.codes_of("\n".join(lines)), table, plain)
        assert plain.tolist() == got.tolist()


def test_line_flags_give_up_on_a_line_holding_a_newline(table: np.ndarray) -> None:
    assert textscan.line_flags(["a", "b\nc"], table) is None


def test_line_flags_are_off_with_the_kernels(table: np.ndarray) -> None:
    with jit.numpy_definitions():
        assert textscan.line_flags(["a1"], table) is None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("ab文 /\u3000中")), max_size=8), max_size=8))
def test_lines_matching_flags_every_line_search_finds(lines: list[str]) -> None:
    # "文" before a separator (segment's one-character roles): the lookahead may read the line feed
    # joining two lines, so a line ending in "文" may be flagged too, and only such a line
    rx = re.compile(r"ab|文(?=[\s/])")
    got = textscan.lines_matching(rx, lines, "\n".join(lines)).tolist()
    for line, flagged in zip(lines, got, strict=True):
        if rx.search(line):
            assert flagged
        elif flagged:
            assert line.endswith("文")


def test_lines_matching_maps_matches_to_their_lines() -> None:
    lines = ["", "xab", "", "ab ab", "b"]
    assert textscan.lines_matching(re.compile("ab"), lines, "\n".join(lines)).tolist() == [
        False,
        True,
        False,
        True,
        False,
    ]
    assert textscan.lines_matching(re.compile("ab"), [], "").tolist() == []
