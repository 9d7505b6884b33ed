"""Stage 5, layout: rebuild paragraphs from the source lines.

Every line break between two non-blank lines gets a decision, "same paragraph"
(a *join*) or "new paragraph" (a *break*), made by a named rule from explicit
evidence, reported as an :class:`~cleaning.model.Event`:

* blank lines and a paragraph indent (``　　`` or spaces) mark a new paragraph;
* on a hard-wrapped page (most lines as wide as the page's column, measured in
  display cells), a line that filled the column continues in the next line
  (the next line's first character would not have fitted), a shorter line
  ends its paragraph;
* punctuation that cannot start a line in typeset Chinese (``、，。``) joins;
* English: a line-end hyphen is removed or kept (``con-``/``tinued``,
  ``well-``/``known``) by word frequency, soft hyphens are always removed;
  a line ending a sentence well short of the column ends a paragraph;
* a *broken paragraph* (a body paragraph ending without terminal punctuation,
  continued after a paragraph mark: ``…完`` + ``善城市网络建设。``) is
  repaired; a jieba dictionary word straddling the seam (``完善``) is recorded
  as evidence. Headline-like text (short, unpunctuated) is never joined this way.

Han text is joined with no space, Latin text with one space.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cleaning import english, jit, segment, textscan
from cleaning.model import Block, Event, EventRecord, expand_events
from cleaning.rules import register
from cleaning.segment import display_width

STAGE = "layout"


class LayoutConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_wrapped_fraction: float = Field(
        0.35,
        ge=0.0,
        le=1.0,
        description="A page counts as hard-wrapped at column width W when at least this fraction of its "
        "non-blank lines is within `column_slack` cells of W (W: the most common line width).",
    )
    min_wrapped_lines: int = Field(
        4, ge=2, description="Fewer non-blank lines than this: no column width is estimated."
    )
    min_column_cells: int = Field(
        6,
        ge=2,
        description="Smallest column width (display cells) accepted; vertical Traditional layouts run "
        "5 characters = 10 cells.",
    )
    odd_column_ratio: float = Field(
        0.2,
        gt=0.0,
        description="When lines one cell wider than the most common width are at least this share of it, "
        "the column is that one cell wider (odd column: Han-only lines stop a cell short).",
    )
    column_slack: int = Field(
        0,
        ge=0,
        description="Cells a line may fall short of the column width (after accounting for the width of "
        "the next line's first character) and still count as filling the column.",
    )
    ambiguous_wide: bool = Field(
        True,
        description="Count East Asian *ambiguous* punctuation (“”‘’…—·) as 2 display cells, as Chinese "
        "typesetting prints it. Switch off for Latin-only pages.",
    )
    english_short_line_ratio: float = Field(
        0.75,
        gt=0.0,
        le=1.0,
        description="English: a line ending a sentence and narrower than this fraction of the page's "
        "typical line width ends its paragraph.",
    )
    repair_broken_paragraphs: bool = Field(
        True,
        description="Join a body paragraph that ends without terminal punctuation with the paragraph "
        "that continues it (broken joins such as `…完` + `善城市网络建设。`).",
    )
    body_min_cells: int = Field(
        40,
        ge=1,
        description="A paragraph narrower than this (display cells) is headline-like and is never "
        "continued across a paragraph mark by the broken-paragraph repair.",
    )
    min_seam_word_freq: int = Field(
        100,
        ge=0,
        description="Least jieba dictionary frequency of a word straddling a seam for it to count as "
        "evidence of a broken join.",
    )
    max_headline_cells: int = Field(
        64,
        ge=4,
        description="A wrapped run of lines up to this wide, not ending like a paragraph, after a full "
        "line that does end one, is a headline or byline and starts a new paragraph.",
    )
    max_seam_word_chars: int = Field(
        4, ge=2, le=8, description="Longest dictionary word looked up across a seam (characters)."
    )
    lift_furniture: bool = Field(
        True,
        description="Set page furniture met inside the text (running headers, date lines, page labels, "
        "jump lines) apart, so the paragraph it interrupts at a page break continues after it.",
    )
    dehyphenate: bool = Field(True, description="Decide English line-end hyphens by word frequency.")
    min_compound_part_zipf: float = Field(
        3.0,
        ge=0.0,
        description="An unknown joined word keeps its hyphen when both halves are words at least this "
        "frequent (wordfreq Zipf; `well`+`known`, `twenty`+`five`).",
    )
    min_dehyphen_zipf: float = Field(
        2.0,
        ge=0.0,
        description="wordfreq Zipf frequency from which a joined word (`continued`) is accepted over "
        "the hyphenated compound.",
    )


# ---------------------------------------------------------------- characters

_ASCII_LETTER = re.compile(r"[A-Za-z]")
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060\ufeff\u00ad]")
_HAN_CH = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_HAN = re.compile(f"[{_HAN_CH}]")
# A character that is neither whitespace (as ``str.strip`` sees it) nor invisible: the line is not blank.
_VISIBLE = re.compile(r"[^\s\u200b-\u200f\u2060\ufeff\u00ad]")

# Ends a paragraph: sentence-final punctuation, optionally followed by closing
# quotes/brackets (`。”`), a colon or semicolon (list items, "修改为："), or an
# end marker such as `（完）`.
_PARA_FINAL = re.compile(
    r"(?:[。！？!?…．.；;：:]|\.{3}|——)[\"'”’」』）)\]】〕》]*$|[（(](?:完|完结|全文完|END)[)）]$"
)
# Cannot start a line in typeset Chinese (GB/T 15834 line-breaking practice).
_LINE_INITIAL_FORBIDDEN = frozenset("、，。：；！？）」』”’〕】》〉,;:!?)")
# Clause punctuation inside a text: sign of running prose, not a headline.
_CLAUSE_PUNCT = re.compile(r"[，；：,;:。！？]")  # not 、: headlines enumerate with it
_SENTENCE_MARKS = "[。；;！？]"
_SENTENCE_INSIDE = re.compile(_SENTENCE_MARKS + r"|[.!?]\s+[A-Z]")
# Function characters that cannot end a sentence (structural particles, prepositions,
# conjunctions) or cannot start one: evidence that a paragraph break cuts a sentence.
_CANNOT_END = frozenset("的地得之和与及或并而且把被将对向从在于以为跟同使让令给比")
_CANNOT_START = frozenset("的地得之和与與及或并並而且等们們着著过過吗嗎呢吧么麼")
_RUN_ON_PUNCT = re.compile(r"[，、；,;]")
_OPENING = frozenset("“「『（(《〈【〔\"'‘")
# Two ideographic spaces (or 2+ ASCII spaces, a tab): one U+3000 at a line start is the
# honorific space of the text (挪抬, "　國父"), not a paragraph indent.
_INDENT = re.compile(r"^(?:\u3000{2,}|[ \t]{2,}|\t)")
# An unbreakable Latin word or number ("5G", "12.8", "4,153", "4.15%"); used with .match(text, pos)
_ASCII_WORD = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.,'’%\-]*[A-Za-z0-9%])?")


def is_para_final(text: str) -> bool:
    """``text`` ends the way a paragraph can end (terminal punctuation, colon, ``（完）``)."""
    return bool(_PARA_FINAL.search(text[-16:].rstrip()))


def _is_ascii_text_char(ch: str) -> bool:
    return ch.isascii() and not ch.isspace()


def join_separator(left: str, right: str) -> str:
    """No space between Han (or any CJK) text, one space between Latin words."""
    if not left or not right:
        return ""
    return " " if _is_ascii_text_char(left[-1]) and _is_ascii_text_char(right[0]) else ""


# ---------------------------------------------------------------- dictionary


@lru_cache(maxsize=4)
def _jieba_freq(min_freq: int = 1) -> dict[str, int]:
    """The words of jieba's main dictionary with a frequency of at least ``min_freq``, as
    ``{word: frequency}``, read straight from its file.

    Seam look-ups need nothing but a word's frequency, and accept a word only from
    ``min_freq`` up. ``jieba.initialize()`` builds ``jieba.dt.FREQ`` (every word plus
    every prefix of one, with frequency 0) and takes ~0.9 s per process; splitting the
    whole file into a dict took ~0.3 s. One regex pass that picks only the lines whose
    frequency has enough digits takes ~0.05 s: of jieba's 349,046 words, 36,145 have a
    frequency of 100 or more (the default threshold). A word absent here reads as 0 in
    :func:`seam_word`, as jieba's prefixes did, so what ``seam_word`` accepts is
    unchanged. Lines are read the way jieba reads them (``word frequency [tag]``); a word
    listed twice keeps its last listing among those kept (jieba's file lists one word
    twice, with equal frequencies). ``tests/test_layout.py`` compares the table with
    ``jieba.dt.FREQ``.
    """
    import importlib.util

    spec = importlib.util.find_spec("jieba")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("jieba is needed for the seam-word test of layout")
    path = Path(next(iter(spec.submodule_search_locations))) / "dict.txt"
    # Reading the 5 MB file took ~0.2 s a process; the table it gives (~0.6 MB as
    # "word frequency" lines) is kept on disk, keyed by the file's identity, and parsed back
    # in a few milliseconds, entries in the same order.
    packed = textscan.cached_array(
        "layout-jieba-freq",
        lambda: _pack_words(_read_jieba_freq(path, min_freq)),
        textscan.file_identity(path),
        min_freq,
    )
    tokens = iter(packed.tobytes().decode("utf-8").split())
    return dict(zip(tokens, map(int, tokens), strict=True))  # word, frequency, word, ...


def _pack_words(table: dict[str, int]) -> np.ndarray:
    """``table`` as the UTF-8 bytes of its "word frequency" lines (words hold no whitespace)."""
    text = "".join(f"{word} {freq}\n" for word, freq in table.items())
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def _read_jieba_freq(path: Path, min_freq: int) -> dict[str, int]:
    """:func:`_jieba_freq` read from jieba's dictionary file ``path``."""
    text = path.read_text(encoding="utf-8")
    # a frequency with fewer digits than min_freq is below it (the file writes no leading zeros;
    # one with leading zeros has more digits and is compared as a number below)
    digits = len(str(max(min_freq, 1)))
    line = re.compile(rf"^[ \t]*(\S+) (\d{{{digits},}})(?=[ \t\r]|$)", re.MULTILINE)
    table: dict[str, int] = {}
    for word, freq in line.findall(text):
        if int(freq) >= min_freq:
            table[word] = int(freq)
    return table


def seam_word(left: str, right: str, min_freq: int = 100, max_chars: int = 4) -> tuple[str, int] | None:
    """The most frequent jieba dictionary word that straddles ``left|right``, if any.

    Only the few characters at the seam are looked up (no segmentation of the
    texts), in the original and in a Traditional→Simplified fold.
    """
    lt = left[-(max_chars - 1) :]
    rt = right[: max_chars - 1]
    if not lt or not rt or not _HAN.match(lt[-1]) or not _HAN.match(rt[0]):
        return None
    freq = _jieba_freq(min_freq)
    from cleaning.lang import fold_traditional

    best: tuple[str, int] | None = None
    for lt_v, rt_v in {(lt, rt), (fold_traditional(lt), fold_traditional(rt))}:
        for i in range(1, len(lt_v) + 1):
            a = lt_v[-i:]
            if not all(_HAN.match(c) for c in a):
                break
            for j in range(1, len(rt_v) + 1):
                if i + j > max_chars:
                    break
                b = rt_v[:j]
                if not _HAN.match(b[-1]):
                    break
                f = freq.get(a + b, 0)
                if f >= min_freq and (best is None or f > best[1]):
                    best = (a + b, f)
    return best


# ---------------------------------------------------------------- lines


class _Line(NamedTuple):
    """One non-blank source line. A tuple: a page's lines are made in one C-level ``map``."""

    number: int  # 1-based
    text: str  # without indent and trailing whitespace
    width: int  # display cells of the printed line, indent included
    indented: bool
    trailing_space: bool
    latin: bool  # mostly Latin script


# Per-line character counts are read from one cumulative sum of packed per-character fields:
# display cells, Han, ASCII letter, visible (neither whitespace nor invisible), 16 bits each.
_FIELD_BITS = 16
_MAX_PACKED_LINE = (1 << (_FIELD_BITS - 1)) - 1  # characters: 2 cells each still fit a field
_CELL_MASK = np.uint64((1 << _FIELD_BITS) - 1)


@cache
def _char_tables(ambiguous_wide: bool) -> np.ndarray:
    """:func:`_build_char_tables`, kept on disk between processes (~55 ms to build)."""
    return textscan.cached_array(
        "layout-char-tables", lambda: _build_char_tables(ambiguous_wide), ambiguous_wide
    )


def _build_char_tables(ambiguous_wide: bool) -> np.ndarray:
    """Per code point, packed: display cells (as :func:`display_width`), Han (as ``_HAN``), ASCII
    letter, visible (as ``_VISIBLE``)."""
    cells = np.ones(0x110000, dtype=np.uint64)
    wide = segment._WIDE_CORE + (segment._AMBIGUOUS_PUNCT if ambiguous_wide else "")
    for lo, hi in textscan.class_ranges(wide):
        cells[lo : hi + 1] = 2
    for lo, hi in textscan.class_ranges(segment._ZERO_WIDTH_CH):
        cells[lo : hi + 1] = 0
    han = np.zeros(0x110000, dtype=np.uint64)
    for lo, hi in textscan.class_ranges(_HAN_CH):
        han[lo : hi + 1] = 1
    letter = np.zeros(0x110000, dtype=np.uint64)
    letter[ord("A") : ord("Z") + 1] = 1
    letter[ord("a") : ord("z") + 1] = 1
    visible = np.ones(0x110000, dtype=np.uint64)
    # every Unicode whitespace character (str.isspace, regex \s) lies below U+3001
    visible[[c for c in range(0x3001) if chr(c).isspace()]] = 0
    for lo, hi in textscan.class_ranges("\u200b-\u200f\u2060\ufeff\u00ad"):
        visible[lo : hi + 1] = 0
    b = _FIELD_BITS
    return cells | (han << b) | (letter << (2 * b)) | (visible << (3 * b))


@cache
def _ascii_table() -> np.ndarray:
    """Per ASCII code: visible (as ``_VISIBLE``) in the low 32 bits, letter in the high."""
    table = np.zeros(128, dtype=np.int64)
    for c in range(128):
        table[c] = (not chr(c).isspace()) | ((chr(c).isascii() and chr(c).isalpha()) << 32)
    return table


@dataclass(slots=True)
class _PageSums:
    """Per line of a page (numpy arrays): display cells, Han characters, ASCII letters, visible
    characters, the first code point (0 for an empty line) and the length."""

    cells: np.ndarray
    han: np.ndarray
    letters: np.ndarray
    visible: np.ndarray
    first: np.ndarray
    last: np.ndarray
    second: np.ndarray  # the last but one (0 for a line shorter than 2)
    lengths: np.ndarray
    ideographic_indent: np.ndarray  # the line starts with exactly two U+3000
    third: np.ndarray  # the code point after two (the first after an ideographic indent)
    non_ascii: np.ndarray  # characters outside ASCII
    stripped: np.ndarray  # the length without trailing whitespace (``str.rstrip``)
    codes: np.ndarray | None = None  # the page's code points (``textscan.codes_of``), when read whole


# Every Unicode whitespace character (``str.isspace``, what ``str.rstrip`` strips) lies below U+3001.
_SPACE_TOP = 0x3001


@cache
def _space_table() -> np.ndarray:
    """Per code point below ``_SPACE_TOP``: whitespace (``str.isspace``)."""
    return np.array([chr(c).isspace() for c in range(_SPACE_TOP)], dtype=np.bool_)


# bits of :func:`_char_classes`: display cells (two bits), Han, ASCII letter, visible, whitespace
_CC_HAN, _CC_LETTER, _CC_VISIBLE, _CC_SPACE = 4, 8, 16, 32


@cache
def _char_classes(ambiguous_wide: bool) -> np.ndarray:
    """:func:`_build_char_classes`, kept on disk between processes (~8 ms to build)."""
    return textscan.cached_array(
        "layout-char-classes", lambda: _build_char_classes(ambiguous_wide), ambiguous_wide
    )


def _build_char_classes(ambiguous_wide: bool) -> np.ndarray:
    """:func:`_char_tables` in one byte per code point (``_CC_*`` bits and the cells), with the
    whitespace of :func:`_space_table`: :data:`_CLASS_ADDENDS` turns a byte into the packed
    fields. The compiled line pass reads this table, an eighth of the packed one's size: on Han
    text a 21 KB block of it stays in the first-level cache where the packed one's 168 KB does
    not."""
    fields = _char_tables(ambiguous_wide).astype("<u8", copy=False).view("<u2").reshape(-1, 4)
    cells, han, letter, visible = (fields[:, k].astype(np.uint8) for k in range(4))
    classes = cells | (han << 2) | (letter << 3) | (visible << 4)
    classes[:_SPACE_TOP] |= _space_table().view(np.uint8) << 5
    return classes


def _class_addends() -> np.ndarray:
    """Per byte of :func:`_char_classes` (its low six bits), the packed fields of
    :func:`_char_tables` it stands for."""
    k = np.arange(64, dtype=np.uint64)
    one, b = np.uint64(1), np.uint64(_FIELD_BITS)
    han, letter, visible = (k >> np.uint64(2)) & one, (k >> np.uint64(3)) & one, (k >> np.uint64(4)) & one
    return (k & np.uint64(3)) | (han << b) | (letter << (b + b)) | (visible << (b + b + b))


_CLASS_ADDENDS = _class_addends()


def _line_sums(lines: list[str], ambiguous_wide: bool) -> _PageSums | None:
    """Per-line counts from one array pass over the page instead of a few regex scans per line.
    ``None`` when a line holds a line feed or is too long for the packed fields."""
    page = "\n".join(lines)
    if jit.enabled():  # the pass finds more lines than were joined when one holds a line feed
        return _line_sums_compiled(page, len(lines), ambiguous_wide)
    if page.count("\n") != len(lines) - 1:
        return None
    lengths = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
    if int(lengths.max()) > _MAX_PACKED_LINE:
        return None
    stripped = np.fromiter(map(len, map(str.rstrip, lines)), dtype=np.int64, count=len(lines))
    ends = np.cumsum(lengths + 1) - 1  # index of each line's terminating line feed
    starts = ends - lengths
    if page.isascii():
        # English pages: one byte per character, every character one cell, no Han; only the
        # letters and the visible characters are counted (packed in 32-bit fields)
        codes = np.frombuffer(page.encode("ascii"), dtype=np.uint8)
        cum = np.concatenate((np.zeros(1, dtype=np.int64), np.cumsum(_ascii_table()[codes], dtype=np.int64)))
        sums = cum[ends] - cum[starts]
        fields = np.stack((lengths, np.zeros_like(lengths), sums >> 32, sums & 0xFFFFFFFF))
        non_ascii = np.zeros_like(lengths)
    else:
        codes = np.frombuffer(page.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        # wraps modulo 2**64; the difference of two sums is exact, and no field of one line overflows
        table = _char_tables(ambiguous_wide)
        cum = np.concatenate((np.zeros(1, dtype=np.uint64), np.cumsum(table[codes])))
        sums = cum[ends] - cum[starts]
        # the four 16-bit fields of each sum, lowest first
        fields = sums.astype("<u8", copy=False).view("<u2").reshape(-1, 4).T.astype(np.int64)
        wide = np.concatenate((np.zeros(1, dtype=np.int64), np.cumsum(codes >= 128, dtype=np.int64)))
        non_ascii = wide[ends] - wide[starts]
    # an empty line reads the line feed around it: it is blank, its characters are never used
    first = codes[np.minimum(starts, len(codes) - 1)].astype(np.int64)
    last = codes[np.maximum(ends - 1, 0)].astype(np.int64)
    second = np.where(lengths > 1, codes[np.maximum(ends - 2, 0)], 0).astype(np.int64)
    # the usual paragraph indent, U+3000 twice (and no third), read at the line starts
    top = len(codes) - 1
    third = codes[np.minimum(starts + 2, top)].astype(np.int64)
    two = (
        (first == 0x3000) & (codes[np.minimum(starts + 1, top)] == 0x3000) & (third != 0x3000) & (lengths > 2)
    )
    return _PageSums(*fields, first, last, second, lengths, two, third, non_ascii, stripped, codes)


@jit.kernel
def _line_sums_kernel(
    codes: np.ndarray,
    classes: np.ndarray,
    addends: np.ndarray,
    fields: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    second: np.ndarray,
    two: np.ndarray,
    third: np.ndarray,
    non_ascii: np.ndarray,
    lengths: np.ndarray,
    stripped: np.ndarray,
) -> int:
    """Per ``"\\n"``-separated line of ``codes``: the sum of each of its packed fields
    (``fields``, one row each; ``addends[classes[c]]``, :func:`_char_tables`), its characters
    outside ASCII, its length with and without trailing whitespace (``_CC_SPACE``) and the code
    points :func:`_line_sums` reads at its ends, as that function's array expressions give them
    (an empty line reads the line feeds around it).
    Returns the longest line's length, or -1 when ``codes`` holds more lines than the arrays."""
    n = codes.shape[0]
    top = n - 1
    line = 0
    start = 0
    end = 0  # after the last character that is not whitespace
    longest = 0
    acc = np.uint64(0)
    bits = np.uint64(_FIELD_BITS)
    mask = np.uint64((1 << _FIELD_BITS) - 1)
    wide = 0
    for i in range(n + 1):
        if i < n and codes[i] != 10:
            c = codes[i]
            k = classes[c]
            acc += addends[k]
            if c >= 128:
                wide += 1
            if (k & _CC_SPACE) == 0:
                end = i + 1
            continue
        if line == lengths.shape[0]:
            return -1  # more lines than the arrays hold: a line held a line feed
        length = i - start
        longest = max(longest, length)
        lengths[line] = length
        stripped[line] = max(end - start, 0)
        # the four 16-bit fields of the sum, lowest first
        fields[0, line] = acc & mask
        fields[1, line] = (acc >> bits) & mask
        fields[2, line] = (acc >> (bits + bits)) & mask
        fields[3, line] = acc >> (bits + bits + bits)
        non_ascii[line] = wide
        first[line] = codes[min(start, top)]
        last[line] = codes[max(i - 1, 0)]
        second[line] = codes[max(i - 2, 0)] if length > 1 else 0
        third[line] = codes[min(start + 2, top)]
        two[line] = (
            length > 2
            and codes[min(start, top)] == 0x3000
            and codes[min(start + 1, top)] == 0x3000
            and codes[min(start + 2, top)] != 0x3000
        )
        line += 1
        start = i + 1
        end = start
        acc = np.uint64(0)
        wide = 0
    return longest


def _line_sums_compiled(page: str, n: int, ambiguous_wide: bool) -> _PageSums | None:
    """:func:`_line_sums` of a page of ``n`` lines (two or more) by one compiled pass (ASCII
    pages as bytes, read through the same table: no ASCII character is wide or zero-width, so
    every field equals the ASCII path's); ``None`` when a line holds a line feed or is too long
    for the packed fields."""
    fields = np.empty((4, n), dtype=np.int64)
    first, last, second, third, non_ascii, lengths, stripped = (np.empty(n, dtype=np.int64) for _ in range(7))
    two = np.empty(n, dtype=np.bool_)
    codes = textscan.codes_of(page)
    longest = _line_sums_kernel(
        codes,
        _char_classes(ambiguous_wide),
        _CLASS_ADDENDS,
        fields,
        first,
        last,
        second,
        two,
        third,
        non_ascii,
        lengths,
        stripped,
    )
    if longest < 0 or longest > _MAX_PACKED_LINE:
        # a line held a line feed, or its fields ran into each other: measured line by line
        return None
    return _PageSums(*fields, first, last, second, lengths, two, third, non_ascii, stripped, codes)


class _Page:
    """A page's non-blank lines as columns (``texts[i]`` is ``None`` for a blank line); a
    :class:`_Line` is made only when a decision needs one (``page[i]``). ``arrays``: the same
    as numpy arrays, when the page was measured as a whole; ``codes``: the code points of its
    source lines joined by line feeds, when they were read in one compiled pass."""

    __slots__ = ("arrays", "codes", "indented", "latin", "texts", "trailing", "widths")

    def __init__(
        self,
        texts: list[str | None],
        widths: list[int],
        indented: list[bool],
        trailing: list[bool],
        latin: list[bool],
        arrays: _Arrays | None = None,
        codes: np.ndarray | None = None,
    ) -> None:
        self.texts, self.widths, self.indented = texts, widths, indented
        self.trailing, self.latin, self.arrays, self.codes = trailing, latin, arrays, codes

    @classmethod
    def of(cls, lines: list[_Line | None]) -> _Page:
        cols: list[list] = [[], [], [], [], []]
        for ln in lines:
            row = (None, 0, False, False, False) if ln is None else ln[1:]
            for col, value in zip(cols, row, strict=True):
                col.append(value)
        return cls(*cols)

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i: int) -> _Line | None:
        t = self.texts[i]
        if t is None:
            return None
        return _Line(i + 1, t, self.widths[i], self.indented[i], self.trailing[i], self.latin[i])


def _prepare(lines: list[str], cfg: LayoutConfig) -> list[_Line | None]:
    page = _prepare_page(lines, cfg)
    return [page[i] for i in range(len(page))]


# what :func:`_line_kinds_kernel` says of a line, as bits
_LK_TRAILING, _LK_PLAIN, _LK_ODD, _LK_PRESENT, _LK_HAN_LATIN = 1, 2, 4, 8, 16


def _line_kinds(
    sums: _PageSums,
) -> tuple[list[int], list[int], np.ndarray, np.ndarray, tuple[list, list, list], np.ndarray, np.ndarray]:
    """What :func:`_prepare_page` reads from a page's sums before it looks at lines one by one:
    the lines with trailing whitespace, those with the usual indent (cut off at once: ``first``
    and ``second`` of the sums are updated for them), which lines are visible, the lines to look
    at one by one (with their trailing whitespace, visibility and Latin count), and the Latin and
    indent columns."""
    trailing = sums.stripped != sums.lengths
    han_latin = sums.han * 4 < sums.letters
    # ASCII text: for a line with trailing whitespace or an indent, the loop of _prepare_page
    # decides from its text (or it is blank)
    latin_a = (sums.non_ascii == 0) | han_latin
    present = sums.visible != 0
    first, second = sums.first, sums.second
    indented_a = np.zeros(len(first), dtype=bool)
    f = sums.first
    plain_indent = sums.ideographic_indent & present & ~trailing
    odd_a = (trailing | ~present | (f == 0x3000) | (f == 0x20) | (f == 0x09)) & ~plain_indent
    plain = plain_indent.nonzero()[0]
    if len(plain):
        # their text is the line from its third character, ASCII when the indent was all that was not
        indented_a[plain] = True
        latin_a[plain] = (sums.non_ascii[plain] == 2) | han_latin[plain]
        first[plain] = sums.third[plain]
        second[plain[sums.lengths[plain] == 3]] = 0  # one character left: no last but one
    odd_idx = odd_a.nonzero()[0]
    odd_cols = (trailing[odd_idx].tolist(), present[odd_idx].tolist(), han_latin[odd_idx].tolist())
    return trailing.nonzero()[0].tolist(), plain.tolist(), present, odd_idx, odd_cols, latin_a, indented_a


@jit.kernel
def _line_kinds_kernel(
    lengths: np.ndarray,
    stripped: np.ndarray,
    visible: np.ndarray,
    han: np.ndarray,
    letters: np.ndarray,
    non_ascii: np.ndarray,
    two: np.ndarray,
    third: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    kind: np.ndarray,
    latin: np.ndarray,
    indented: np.ndarray,
) -> None:
    """:func:`_line_kinds` line by line: ``kind`` holds its ``_LK_*`` bits, ``latin`` and
    ``indented`` its columns; ``first`` and ``second`` are updated for the usual indent."""
    for i in range(lengths.shape[0]):
        trailing = stripped[i] != lengths[i]
        present = visible[i] != 0
        han_latin = han[i] * 4 < letters[i]
        plain = two[i] and present and not trailing
        f = first[i]
        odd = (trailing or not present or f == 0x3000 or f == 0x20 or f == 0x09) and not plain
        k = 0
        if trailing:
            k |= _LK_TRAILING
        if plain:
            k |= _LK_PLAIN
        if odd:
            k |= _LK_ODD
        if present:
            k |= _LK_PRESENT
        if han_latin:
            k |= _LK_HAN_LATIN
        kind[i] = k
        latin[i] = non_ascii[i] == 0 or han_latin
        indented[i] = plain
        if plain:
            latin[i] = non_ascii[i] == 2 or han_latin
            first[i] = third[i]
            if lengths[i] == 3:
                second[i] = 0


def _prepare_page(lines: list[str], cfg: LayoutConfig) -> _Page:
    """:func:`_prepare_reference` as columns from page arrays; only blank lines, lines with
    trailing whitespace and lines starting with a space, a tab or U+3000 (possible indents) are
    looked at one by one, the usual indent (two U+3000) not among them."""
    n = len(lines)
    sums = _line_sums(lines, cfg.ambiguous_wide) if n > 1 else None
    if sums is None:
        return _Page.of(_prepare_reference(lines, cfg))
    widths_a, first, last, second = sums.cells, sums.first, sums.last, sums.second
    if jit.enabled():
        kind = np.empty(n, dtype=np.uint8)
        latin_a, indented_a = np.empty(n, dtype=np.bool_), np.empty(n, dtype=np.bool_)
        _line_kinds_kernel(
            sums.lengths,
            sums.stripped,
            sums.visible,
            sums.han,
            sums.letters,
            sums.non_ascii,
            sums.ideographic_indent,
            sums.third,
            first,
            second,
            kind,
            latin_a,
            indented_a,
        )
        trailing_lines = (kind & _LK_TRAILING).nonzero()[0].tolist()
        plain = (kind & _LK_PLAIN).nonzero()[0].tolist()
        present = (kind & _LK_PRESENT) != 0
        # blank lines are odd too, and the most of them: they are set apart below, all at once
        odd_idx = ((kind & (_LK_ODD | _LK_PRESENT)) == (_LK_ODD | _LK_PRESENT)).nonzero()[0]
        odd_kind = kind[odd_idx].tolist()
        odd_cols = (
            [k & _LK_TRAILING != 0 for k in odd_kind],
            [k & _LK_PRESENT != 0 for k in odd_kind],
            [k & _LK_HAN_LATIN != 0 for k in odd_kind],
        )
    else:
        trailing_lines, plain, present, odd_idx, odd_cols, latin_a, indented_a = _line_kinds(sums)
    # a line's text is the line without trailing whitespace: only lines that have some are cut
    texts: list[str | None] = list(lines)
    for i in trailing_lines:
        texts[i] = lines[i].rstrip()
    blank = (~present).nonzero()[0].tolist()
    # the usual indent (two U+3000 and a visible line) is cut off for all such lines at once:
    # their text is the line from its third character
    for i in plain:
        texts[i] = texts[i][2:]  # type: ignore[index]
    widths = widths_a.tolist()
    latin = latin_a.tolist()
    indented = indented_a.tolist()
    trailing_space = [False] * n
    trailing_a = np.zeros(n, dtype=bool)
    odd = odd_idx.tolist()
    indent = _INDENT.match
    amb = cfg.ambiguous_wide
    changed: list[int] = []  # the odd lines whose text is not the stripped line
    for i, tr, vis, hl in zip(odd, *odd_cols, strict=True):
        if not vis:
            continue  # blank: set apart below
        st = texts[i]
        if tr:
            # trailing whitespace counts up to 2 cells (a space the break fell on is kept)
            raw = lines[i]
            tail = display_width(raw[len(st) :], amb)
            widths[i] = widths[i] - tail + min(2, tail)
            widths_a[i] = widths[i]
            trailing_space[i] = spaced = raw[len(st)] == " " and raw.endswith(" ")
            if spaced:
                trailing_a[i] = True
            last[i] = ord(st[-1])
        m = indent(st)
        # a lone U+3000 at the start is the text's own (honorific) space: kept
        text = st[m.end() :] if m else st.lstrip(" \t")
        indented[i] = m is not None
        latin[i] = text.isascii() or hl
        texts[i] = text
        changed.append(i)
    if changed:
        ch_texts = [texts[i] for i in changed]
        first[changed] = list(map(ord, map(itemgetter(0), ch_texts)))
        second[changed] = [ord(t[-2]) if len(t) > 1 else 0 for t in ch_texts]
        indented_a[changed] = [indented[i] for i in changed]
        latin_a[changed] = [latin[i] for i in changed]
    filled = texts[:]
    for i in blank:
        texts[i] = None
        filled[i] = "\x00"
    latin_a &= present
    arrays = _arrays_of(filled, present, widths_a, latin_a, indented_a, first, last, second, amb)
    arrays.trailing = trailing_a
    return _Page(texts, widths, indented, trailing_space, latin, arrays, sums.codes)


def _prepare_reference(lines: list[str], cfg: LayoutConfig) -> list[_Line | None]:
    """:func:`_prepare` line by line with regex scans (the reference the array version is tested
    against)."""
    out: list[_Line | None] = []
    for i, raw in enumerate(lines):
        stripped = raw.rstrip()
        if not stripped.strip() or (not stripped.isascii() and not _INVISIBLE.sub("", stripped).strip()):
            out.append(None)
            continue
        m = _INDENT.match(stripped)
        text = stripped[m.end() :] if m else stripped.lstrip(" \t")
        if text.isascii():
            latin = True
        else:
            han = len(_HAN.findall(text))
            latin = han * 4 < len(_ASCII_LETTER.findall(text))
        out.append(
            _Line(
                number=i + 1,
                text=text,
                width=display_width(stripped, cfg.ambiguous_wide)
                + min(2, display_width(raw[len(stripped) :], cfg.ambiguous_wide)),
                indented=m is not None,
                trailing_space=raw[len(stripped) : len(stripped) + 1] == " " and raw.endswith(" "),
                latin=latin,
            )
        )
    return out


def _hanging_cells(text: str) -> int:
    """Cells of the punctuation ending ``text`` that typesetting may hang past the column (。” ，)."""
    if text[-1:] not in _LINE_INITIAL_FORBIDDEN or not text:
        return 0
    k = len(text)
    while k > 0 and len(text) - k < 2 and text[k - 1] in _LINE_INITIAL_FORBIDDEN:
        k -= 1
    return sum(_char_cells(ch, True) for ch in text[k:]) if k < len(text) else 0


def column_width(
    widths: Sequence[int] | np.ndarray,
    cfg: LayoutConfig,
    hanging: Sequence[int] | np.ndarray | None = None,
    final: Sequence[bool] | np.ndarray | None = None,
) -> int | None:
    """The page's column width in display cells, or ``None`` when the page is not hard-wrapped.

    The column is the most common width of the lines that are not visibly the last
    line of a paragraph (``final``: followed by a blank line, an indented line or the
    end of the page); the page counts as hard-wrapped when enough of those lines sit
    within ``column_slack`` (at least 1) of it. ``hanging``: per line, the cells of
    trailing punctuation that may hang past the column (GB/T 15834); such a line counts
    for both its width and its width without it.
    """
    if len(widths) < cfg.min_wrapped_lines:
        return None
    w_all = np.asarray(widths, dtype=np.int64)
    keep = ~np.asarray(final, dtype=bool) if final is not None else np.ones(len(w_all), dtype=bool)
    cw = w_all[keep]  # the candidate lines
    ch = np.asarray(hanging, dtype=np.int64)[keep] if hanging is not None else np.zeros(len(cw), np.int64)
    n = len(cw)
    if n < 2:
        return None
    hangs = ch != 0
    body = cw - ch
    # every width, and the width without hanging punctuation of the lines that have some
    vals = np.concatenate((cw, body[hangs]))
    vals = vals[vals >= cfg.min_column_cells]
    if not len(vals):
        return None
    counts = np.bincount(vals)
    # the mode; ties go to the widest
    best_w = int((counts == counts.max()).nonzero()[0][-1])
    # An odd column: Han-only lines stop one cell short, so the mode is W-1 and lines
    # with an odd number of narrow characters reach W. Many of those: the column is W.
    if best_w + 1 < len(counts) and counts[best_w + 1] >= cfg.odd_column_ratio * counts[best_w]:
        best_w += 1
    slack = max(cfg.column_slack, 1)
    # No line may be wider than the column (beyond hanging punctuation): when several are,
    # the mode was a crowd of short lines (list items, one-line paragraphs), not the column.
    widest = int(body.max())
    wide_lines = int(np.count_nonzero(body >= widest - slack))
    if widest > best_w + slack and wide_lines >= max(2, cfg.min_wrapped_fraction * n):
        best_w = widest
    near = int(np.count_nonzero((np.abs(cw - best_w) <= slack) | (hangs & (np.abs(body - best_w) <= slack))))
    if near / n < cfg.min_wrapped_fraction or near < 2:
        return None
    return best_w


def _first_unit_width(line: _Line, cfg: LayoutConfig) -> int:
    """Cells of what would have had to fit on the previous line: a Latin word or one character."""
    return _first_unit_cells(line.text, cfg.ambiguous_wide)


def _first_unit_cells(text: str, ambiguous_wide: bool) -> int:
    """:func:`_first_unit_width` of a line's text."""
    # Opening quotes and brackets may not end a line: they travel with what follows.
    k = 0
    while k < len(text) - 1 and text[k] in _OPENING:
        k += 1
    m = _ASCII_WORD.match(text, k)
    unit = text[:k] + (m.group(0) if m else text[k : k + 1])
    return display_width(unit, ambiguous_wide)


# ---------------------------------------------------------------- rules


def _layout_case(text: str) -> str:
    """Case function: lay out ``text`` and print the paragraphs separated by a blank line."""
    blocks, _ = build_blocks(text.split("\n"), LayoutConfig())
    return "\n\n".join(b.text for b in blocks)


R_BLANK = register("layout.break_blank_line", STAGE, "A blank line ends the paragraph.")
R_INDENT = register(
    "layout.break_indent", STAGE, "A paragraph indent (　　 or spaces) starts a new paragraph."
)
R_SHORT = register(
    "layout.break_short_line",
    STAGE,
    "On a hard-wrapped page, a line that stops short of the column ends its paragraph.",
)
R_LINE = register(
    "layout.break_line",
    STAGE,
    "On a page that is not hard-wrapped (one paragraph per line), every line is a paragraph.",
)
R_HEADLINE = register(
    "layout.break_before_headline",
    STAGE,
    "A full line that ends its paragraph, followed by a short unpunctuated run (headline, byline): "
    "new paragraph, the headline is not glued to the body.",
)
R_FURNITURE = register(
    "layout.lift_furniture",
    STAGE,
    "A page-furniture line (running header, date line, page label, jump line) inside the text is set "
    "apart as its own block; the paragraph it interrupts may continue after it.",
)
R_AFTER_CREDIT = register(
    "layout.break_after_byline",
    STAGE,
    "A byline or photo credit that fills the column is not continued by text that is not part of it.",
)
R_SENTENCE = register(
    "layout.break_sentence_end",
    STAGE,
    "English: a line ending a sentence well short of the typical line width ends its paragraph.",
)
R_WRAP = register(
    "layout.join_wrapped_line",
    STAGE,
    "A line that filled the page's column continues in the next line (the next character would not fit).",
    case_fn=_layout_case,
)
R_PUNCT = register(
    "layout.join_line_initial_punct",
    STAGE,
    "A line starting with punctuation that cannot start a line (、，。) continues the previous one.",
    case_fn=_layout_case,
)
R_ENGLISH = register(
    "layout.join_english_line",
    STAGE,
    "English: a line that does not end a sentence (or fills the line) continues in the next; one space.",
    case_fn=_layout_case,
)
R_DEHYPH = register(
    "layout.dehyphenate",
    STAGE,
    "English: a line-end break hyphen (or soft hyphen) is removed and the word rejoined (con-|tinued).",
    case_fn=_layout_case,
)
R_COMPOUND = register(
    "layout.join_hyphenated_compound",
    STAGE,
    "English: a line-end hyphen of a known compound (well-|known) is kept and the halves joined.",
    case_fn=_layout_case,
)
R_SEAM = register(
    "layout.join_seam_word",
    STAGE,
    "Broken paragraph: a body paragraph ending without terminal punctuation continues after a "
    "paragraph mark, and a dictionary word straddles the seam (完|善).",
    case_fn=_layout_case,
)
R_UNTERM = register(
    "layout.join_unterminated",
    STAGE,
    "Broken paragraph: a body paragraph ending without terminal punctuation continues after a "
    "paragraph mark (有力的|措施), no dictionary word at the seam.",
    case_fn=_layout_case,
)


# ---------------------------------------------------------------- decisions


@dataclass(slots=True)
class _Open:
    parts: list[str]
    text_cells: int
    first: int  # index of the first line
    last: int  # index of the last line
    after_blank: bool
    joins: list[str] = field(default_factory=list)
    furniture: bool = False

    def text(self) -> str:
        return "".join(self.parts)


BREAK = "\x00"  # separator value meaning "new paragraph"


def _is_credit(text: str, partial: bool = False) -> bool:
    """A byline or photo credit; ``partial``: the start of one, cut inside the last name."""
    if partial:
        return segment.parse_byline(text, partial=True) is not None
    return segment.is_byline_or_caption(text)


# Bare dates are not lifted: a wrapped body line can read "民國八十二年五月五日".
_LIFTED_FURNITURE = frozenset(
    {"page label", "date and weekday", "English page label", "English date line", "jump line"}
)


# Cheap pre-filter: every liftable furniture pattern contains one of these.
_LIFT_HINT = re.compile(r"版|星期|週|周|禮拜|礼拜|PAGE|Page|VOL|Vol|Continued|Concluded|CONTINUED|1[6-9]\d\d")


def _hinted_lines(lines: list[str]) -> set[int] | None:
    """Indices of the lines ``_LIFT_HINT`` finds something in (``None``: a line holds a line feed)."""
    page = "\n".join(lines)
    if page.count("\n") != len(lines) - 1:
        return None
    found: set[int] = set()
    pos, line, line_start = 0, 0, 0
    while (m := _LIFT_HINT.search(page, pos)) is not None:
        # count the line feeds between the previous hit and this one
        line += page.count("\n", line_start, m.start())
        found.add(line)
        end = page.find("\n", m.end())
        if end < 0:
            break
        line += 1
        line_start = pos = end + 1
    return found


# bits of :func:`_hint_words`
_W_CREDIT, _W_LIFT = 1, 2


@cache
def _hint_scan() -> textscan.WordScan | None:
    return textscan.word_scan(((segment._CREDIT_HINT, _W_CREDIT), (_LIFT_HINT, _W_LIFT)))


def _hint_words(page: _Page) -> np.ndarray | None:
    """Per source line of ``page``, whether a credit hint (``_W_CREDIT``) and a furniture hint
    (``_W_LIFT``) are found in it, by one compiled pass over the page's code points; ``None``
    when the page was not read whole or the kernels are off."""
    scan = _hint_scan() if page.codes is not None else None
    if scan is None:
        return None
    return textscan.line_words(page.codes, len(page), scan)


def _liftable_furniture(text: str) -> str | None:
    if not _LIFT_HINT.search(text):
        return None
    name = segment.furniture_pattern(text)
    return name if name in _LIFTED_FURNITURE else None


def _is_photo_credit(text: str) -> bool:
    byline = segment.parse_byline(text)
    return bool(byline) and byline[-1].role == "photographer"


def _continuation_like(nxt: _Line, width: int | None, cfg: LayoutConfig) -> bool:
    """The next line reads like the rest of a sentence, not a headline, lead or byline."""
    t = nxt.text
    if t[0] in _OPENING or segment.starts_new_item(t):
        return False
    if is_para_final(t):
        return True
    if width is not None and nxt.width + 2 > width:
        return True  # a full line of a wrapped page: prose, whatever its end
    return nxt.width >= cfg.body_min_cells and bool(_CLAUSE_PUNCT.search(t))


def _body_like(block: _Open, cfg: LayoutConfig) -> bool:
    """The paragraph built so far is running prose (long, with clause punctuation)."""
    text = block.text()
    if block.text_cells < cfg.body_min_cells:
        return False
    # "、" alone (enumeration) also appears in headlines: only long text counts as prose by it
    if not _CLAUSE_PUNCT.search(text) and not ("、" in text and block.text_cells >= 2 * cfg.body_min_cells):
        return False
    return not segment.is_byline_or_caption(text)


_MAX_CREDIT_CELLS = 80  # a byline or credit line is never wider


def _wrap_sep(prev: _Line, nxt: _Line) -> str:
    """Separator for a wrapped line: a space the line ended with is kept (the break fell on it)."""
    sep = join_separator(prev.text, nxt.text)
    return " " if (not sep and prev.trailing_space) else sep


def _fills_column(prev: _Line, nxt: _Line, width: int, cfg: LayoutConfig) -> tuple[bool, int]:
    """Whether ``prev`` filled the column: ``nxt``'s first character (or word) would not have fit."""
    unit = _first_unit_width(nxt, cfg)
    gap = 1 if (nxt.latin and prev.latin) else 0
    return prev.width + unit + gap > width - cfg.column_slack, unit


# The most lines of a headline run (the compiled loop follows runs as far).
_HEADLINE_RUN_LINES = 6


def _headline_run(
    lines: list[_Line | None], j: int, width: int, cfg: LayoutConfig, max_lines: int = _HEADLINE_RUN_LINES
) -> str | None:
    """The text of the wrapped run starting at ``lines[j]`` when it reads as a headline or byline.

    The run follows full lines up to the next paragraph mark; it is headline-like
    when it is short and does not end the way a paragraph ends.
    """
    first = lines[j]
    assert first is not None
    parts, cells, k = [first.text], first.width, j
    cur = first
    while k + 1 < len(lines):
        nxt = lines[k + 1]
        if nxt is not None and cfg.lift_furniture and _liftable_furniture(nxt.text):
            k += 1  # a page header between the lines: look past it
            continue
        if nxt is None or nxt.indented or not _fills_column(cur, nxt, width, cfg)[0]:
            break
        if len(parts) >= max_lines:
            return None
        parts.append(join_separator(parts[-1], nxt.text) + nxt.text)
        cells += nxt.width
        cur = nxt
        k += 1
    text = "".join(parts)
    if (
        cells > cfg.max_headline_cells
        or is_para_final(text)
        or _SENTENCE_INSIDE.search(text)
        or _RUN_ON_PUNCT.search(text)  # "…，给网友展示了": a cut-off sentence, not a headline
    ):
        return None
    return text


def _decide(
    block: _Open,
    prev: _Line,
    lines: list[_Line | None],
    nxt_index: int,
    blanks: int,
    width: int | None,
    latin_w: int | None,
    cfg: LayoutConfig,
) -> tuple[str, str, str]:
    """(rule name, separator text, evidence) for the break between ``prev`` and ``nxt``.

    The separator is :data:`BREAK` for a paragraph break.
    """
    nxt = lines[nxt_index]
    assert nxt is not None
    # Hard evidence of continuation first.
    if nxt.text[0] in _LINE_INITIAL_FORBIDDEN and not (prev.latin and nxt.text[0] in ",;:!?)"):
        return R_PUNCT.name, "", f"line {nxt.number} starts with '{nxt.text[0]}', which cannot start a line"
    if cfg.dehyphenate and blanks == 0 and prev.latin and english.line_end_hyphen(prev.text):
        d = english.decide_hyphen(prev.text, nxt.text, cfg.min_dehyphen_zipf, cfg.min_compound_part_zipf)
        if d is not None:
            if d.remove_hyphen:
                return R_DEHYPH.name, "\x01", f"'{d.joined}': {d.reason}"
            return R_COMPOUND.name, "\x02", f"'{d.joined}': {d.reason}"

    # Paragraph marks.
    if blanks:
        rule, evidence = R_BLANK.name, f"{blanks} blank line(s) before line {nxt.number}"
    elif nxt.indented:
        rule, evidence = R_INDENT.name, f"line {nxt.number} is indented"
    elif prev.latin and nxt.latin and width is None and latin_w is None:
        if not is_para_final(prev.text) and nxt.text[0].islower():
            return (
                R_ENGLISH.name,
                " ",
                f"line {prev.number} does not end a sentence; line {nxt.number} goes on in lower case",
            )
        rule, evidence = R_LINE.name, "too few lines to tell the line width: one paragraph per line"
    elif prev.latin and nxt.latin and latin_w is not None and width is None:
        if is_para_final(prev.text) and prev.width < cfg.english_short_line_ratio * latin_w:
            rule, evidence = (
                R_SENTENCE.name,
                f"line {prev.number} ends a sentence at {prev.width} of ~{latin_w} characters",
            )
        else:
            why = "does not end a sentence" if not is_para_final(prev.text) else "fills the line"
            return R_ENGLISH.name, " ", f"line {prev.number} {why} ({prev.width} of ~{latin_w} characters)"
    elif width is not None:
        full, unit = _fills_column(prev, nxt, width, cfg)
        run = None
        # Only the end of the block matters here: joining all its parts for every line would be
        # quadratic in the paragraph length.
        tail_text = block.parts[-1]
        block_text = block.text() if block.text_cells <= _MAX_CREDIT_CELLS else ""
        if full and block_text and _is_credit(block_text):
            # A byline or photo credit never runs on into other text; it may wrap ("牛树" + "志").
            glued = block_text + _wrap_sep(prev, nxt) + nxt.text
            if not _is_credit(glued) and not _is_credit(glued, partial=True):
                return (
                    R_AFTER_CREDIT.name,
                    BREAK,
                    f"lines up to {prev.number} are a byline or credit ('{block_text[-20:]}'); "
                    f"'{nxt.text[:12]}' does not continue it",
                )
        elif full and is_para_final(tail_text):
            run = _headline_run(lines, nxt_index, width, cfg)
            if run is not None and _is_photo_credit(run):
                run = None  # "记者 A 摄" closes the caption it follows
        elif full and segment.starts_with_role(nxt.text):
            # a byline line after an unfinished paragraph (cut-off text, a subhead)
            run = _headline_run(lines, nxt_index, width, cfg)
            if run is not None and (not _is_credit(run) or _is_photo_credit(run)):
                run = None
        if run is not None:
            return (
                R_HEADLINE.name,
                BREAK,
                f"line {prev.number} fills the column but ends its paragraph, and '{run[:20]}' "
                f"(lines from {nxt.number}) is short and unpunctuated: a headline or byline",
            )
        if full:
            return (
                R_WRAP.name,
                _wrap_sep(prev, nxt),
                f"line {prev.number} is {prev.width} cells of a {width}-cell column; "
                f"'{nxt.text[:3]}' ({unit} cells) would not fit",
            )
        rule, evidence = (
            R_SHORT.name,
            f"line {prev.number} is {prev.width} cells of a {width}-cell column; "
            f"'{nxt.text[:3]}' ({unit} cells) would have fit",
        )
    else:
        rule, evidence = R_LINE.name, "page is not hard-wrapped: one paragraph per line"

    # A paragraph mark; is it a broken paragraph?
    if (
        cfg.repair_broken_paragraphs
        and not is_para_final(block.parts[-1])
        and _body_like(block, cfg)
        and _continuation_like(nxt, width, cfg)
    ):
        seam = seam_word(block.text(), nxt.text, cfg.min_seam_word_freq, cfg.max_seam_word_chars)
        tail = block.text()[-4:]
        head = nxt.text[:4]
        mark = rule.removeprefix("layout.")
        open_end = block.text()[-1] in _CANNOT_END or nxt.text[0] in _CANNOT_START
        if seam is None and not open_end:
            return rule, BREAK, evidence
        if seam is not None:
            return (
                R_SEAM.name,
                join_separator(block.text(), nxt.text),
                f"'{tail}|{head}': paragraph ends without terminal punctuation; dictionary word "
                f"'{seam[0]}' (freq {seam[1]}) straddles the seam; overrides {mark} ({evidence})",
            )
        why = (
            f"'{block.text()[-1]}' cannot end a sentence"
            if block.text()[-1] in _CANNOT_END
            else f"'{nxt.text[0]}' cannot start one"
        )
        return (
            R_UNTERM.name,
            join_separator(block.text(), nxt.text),
            f"'{tail}|{head}': paragraph ends without terminal punctuation and {why}; "
            f"overrides {mark} ({evidence})",
        )
    return rule, BREAK, evidence


# Evidence of the routine joins, formatted from (line, x, y, z, next line's text); ``str.format``
# ignores the arguments a text does not use, and ``{4:.3}`` is the first three characters.
_WRAP_DETAIL = "line {0} is {1} cells of a {2}-cell column; '{4:.3}' ({3} cells) would not fit".format
_ENGLISH_DETAIL = "line {0} {1} ({2} of ~{3} characters)".format


class _JoinEvent(Event):
    """The event of a routine join (fast path): detail, before and after are formatted from the
    stored numbers and texts on first read, with the same text as the general path.

    One object per decision: lazy texts passed as callables (``functools.partial``) would add
    garbage-collected objects per line, which cost more than formatting the texts.
    """

    __slots__ = ("_fmt", "_head", "_sep", "_tail", "_x", "_y", "_z")

    def __init__(
        self,
        rule: str,
        line: int,
        line_end: int,
        fmt: Callable[..., str],
        x: object,
        y: object,
        z: object,
        tail: str,
        sep: str,
        head: str,
    ) -> None:
        # detail, before and after stay unset until read. The values are kept in slots, not in
        # a tuple: a tuple holding the format method is one more object for the collector to
        # track per line, which costs more than the stores it saves.
        self.rule = rule
        self.stage = STAGE
        self.line = line
        self.line_end = line_end
        self._fmt, self._x, self._y, self._z = fmt, x, y, z
        self._tail, self._sep, self._head = tail, sep, head

    def _get_detail(self) -> str:
        try:
            detail = self._detail
        except AttributeError:
            detail = self._detail = self._fmt(self.line, self._x, self._y, self._z, self._head)
            return detail
        if not isinstance(detail, str):  # set to a callable later
            detail = self._detail = detail()
        return detail

    detail = property(_get_detail, Event.detail.fset)

    @property
    def before(self) -> str | None:
        return f"{self._tail[-12:]}⏎{self._head[:12]}"

    @property
    def after(self) -> str | None:
        return self._tail[-12:] + (self._sep + self._head)[:12]


# ---------------------------------------------------------------- compiled decisions
#
# The decisions of a page, made by one compiled loop over its lines (``_decide_kernel``), with
# the general path (``_decide``, the exact credit check) left to Python at the few lines that
# need it: the loop stops there, Python decides the line, and the loop goes on from the next.
# Blocks are then made from the per-line decisions, and the page's events are kept as those
# arrays (``PageEvents``), turned into one event per decision only when someone reads them.

# what happened at each line
_C_BLANK, _C_START, _C_JOIN, _C_BREAK, _C_LIFT, _C_FCLOSE = 0, 1, 2, 3, 4, 5
# the rule of a join or break made by the loop (``_K_PY``: made in Python, kept as an Event)
_K_NONE, _K_WRAP, _K_ENGLISH, _K_BLANK, _K_INDENT, _K_SHORT, _K_SENTENCE, _K_PY = range(8)
# separators of a join: none, a space, none after cutting the previous line's break hyphen
_S_NONE, _S_SPACE, _S_CUT = 0, 1, 2
# columns of the per-line input matrix
(
    _I_PRESENT,
    _I_WIDTH,
    _I_INDENTED,
    _I_LATIN,
    _I_FINAL,
    _I_FORBIDDEN,
    _I_LATIN_PUNCT,
    _I_HYPHEN,
    _I_UNIT,
    _I_ROLE,
    _I_HINT,
    _I_HINT_AFTER,
    _I_LIFT,
    _I_TRAILING,
    _I_ASCII_FIRST,
    _I_ASCII_LAST,
    _I_NO_RUN,
    _I_NO_CONT,
    _I_PAST_PREV,
    _I_HINT_PAST,
) = range(20)
# the loop's state between calls
(
    _ST_OPEN,
    _ST_FIRST,
    _ST_LAST,
    _ST_CELLS,
    _ST_HINT,
    _ST_FURNITURE,
    _ST_BLANKS,
    _ST_LIFTED,
    _ST_STOP,
    _ST_BLOCKS,
) = range(10)
# a block's row in the block table: first line, last line, joins, and the key of its joins (rule
# * 4 + separator) when they all share one, -1 when it has none, -2 otherwise (or when lines in
# between were lifted out or blank): a block with one key is one join of its lines
_B_FIRST, _B_LAST, _B_JOINS, _B_KEY = range(4)
_KEY_NONE, _KEY_MIXED = -1, -2
_STOP_DECIDE, _STOP_CREDIT = 1, 2
# rows of the per-line decisions: what happened (``_C_*``), the rule (``_K_*``), the line decided
# against, the blank lines before, the join's separator (``_S_*``), the lifted line whose event
# comes first (-1: none)
_O_CODE, _O_RULE, _O_PREV, _O_BLANKS, _O_SEP, _O_LIFTED = range(6)


@jit.kernel
def _decide_kernel(
    start: int,
    ln: np.ndarray,
    st: np.ndarray,
    mode: int,
    limit: int,
    short_english: float,
    max_credit: int,
    body_min: int,
    max_headline: int,
    out: np.ndarray,
    blk: np.ndarray,
) -> int:
    """Decide lines from ``start`` on where a routine rule settles them (the rule and evidence
    :func:`_decide` would give); return the first line it cannot decide (the page length when
    done): :func:`_decide_line` decides that one. ``ln``: the per-line input matrix (``_I_*``
    rows); ``st``: the state (``_ST_*``); ``out``: the decisions (``_O_*`` rows); ``blk``: the
    block table (``_B_*``).
    ``mode``: 1 a wrapped page (``limit`` cells), 2 running English lines, 0 neither.
    ``body_min``: the fewest cells of a paragraph the broken-paragraph repair may continue;
    ``max_headline``: the most cells of a headline run (``LayoutConfig.max_headline_cells``)."""
    n = ln.shape[1]
    i = start
    while i < n:
        if ln[_I_PRESENT, i] == 0:
            out[_O_CODE, i] = _C_BLANK
            st[_ST_BLANKS] += 1
            i += 1
            continue
        blanks = st[_ST_BLANKS]
        if st[_ST_LIFTED] >= 0:
            out[_O_LIFTED, i] = st[_ST_LIFTED]  # its event comes before this line's
            st[_ST_LIFTED] = -1
        fur = ln[_I_LIFT, i]
        out[_O_BLANKS, i] = blanks
        if st[_ST_OPEN] == 0 or st[_ST_FURNITURE] != 0:
            # the first line, or the one after a furniture line at the page start: a new block
            out[_O_CODE, i] = _C_START if st[_ST_OPEN] == 0 else _C_FCLOSE
            out[_O_PREV, i] = st[_ST_LAST]
            st[_ST_OPEN] = 1
            st[_ST_FURNITURE] = fur
        else:
            p = st[_ST_LAST]
            out[_O_PREV, i] = p
            if fur != 0:
                out[_O_CODE, i] = _C_LIFT
                blk[st[_ST_BLOCKS] - 1, _B_KEY] = _KEY_MIXED
                st[_ST_LIFTED] = i
                st[_ST_BLANKS] = 0
                i += 1
                continue
            forbidden = ln[_I_FORBIDDEN, i] != 0
            p_latin = ln[_I_LATIN, p] != 0
            i_latin = ln[_I_LATIN, i] != 0
            first_ok = (not forbidden) or (p_latin and ln[_I_LATIN_PUNCT, i] != 0)
            gap = 1 if (p_latin and i_latin) else 0
            p_width = ln[_I_WIDTH, p]
            p_final = ln[_I_FINAL, p] != 0
            hyphen = p_latin and ln[_I_HYPHEN, p] != 0
            rule = _K_NONE
            sep = _S_NONE
            if blanks == 0 and ln[_I_INDENTED, i] == 0 and first_ok and not hyphen:
                if mode == 1:
                    fills = not forbidden and p_width + ln[_I_UNIT, i] + gap > limit and ln[_I_ROLE, i] == 0
                    # after a line that ends a paragraph, only when no headline run can start
                    # here (_decide looks for one): the run _headline_run follows from line i
                    # holds a mark no headline holds, is too wide, ends a paragraph or runs
                    # past its lines
                    no_run = not p_final or ln[_I_NO_RUN, i] != 0
                    if fills and not no_run:
                        cur = i
                        k = i
                        cells = ln[_I_WIDTH, i]
                        count = 1
                        while k + 1 < n:
                            m = k + 1
                            if ln[_I_LIFT, m] != 0:
                                k = m  # a page header between the lines: the run looks past it
                                continue
                            if ln[_I_PRESENT, m] == 0 or ln[_I_INDENTED, m] != 0:
                                break
                            g = 1 if (ln[_I_LATIN, cur] != 0 and ln[_I_LATIN, m] != 0) else 0
                            if ln[_I_WIDTH, cur] + ln[_I_UNIT, m] + g <= limit:
                                break
                            if count >= _HEADLINE_RUN_LINES or ln[_I_NO_RUN, m] != 0:
                                no_run = True
                                break
                            count += 1
                            cells += ln[_I_WIDTH, m]
                            cur = m
                            k = m
                        no_run = no_run or cells > max_headline or ln[_I_FINAL, cur] != 0
                    if fills and no_run:
                        if st[_ST_CELLS] <= max_credit and st[_ST_HINT] != 0:
                            st[_ST_STOP] = _STOP_CREDIT
                            return i
                        rule = _K_WRAP
                        if ln[_I_TRAILING, p] != 0 or (
                            ln[_I_ASCII_LAST, p] != 0 and ln[_I_ASCII_FIRST, i] != 0
                        ):
                            sep = _S_SPACE
                elif mode == 2 and i_latin and p_latin:
                    if not (p_final and p_width < short_english):
                        rule = _K_ENGLISH
                        sep = _S_SPACE
            if rule != _K_NONE:
                out[_O_CODE, i] = _C_JOIN
                out[_O_RULE, i] = rule
                out[_O_SEP, i] = sep
                st[_ST_CELLS] += ln[_I_WIDTH, i]
                st[_ST_LAST] = i
                if p != i - 1:
                    # joined past lifted furniture: the hint of that join, when it was looked
                    # for against line p
                    if p != ln[_I_PAST_PREV, i] or ln[_I_HINT_PAST, i] != 0:
                        st[_ST_HINT] = 1
                elif ln[_I_HINT, i] != 0 or ln[_I_HINT_AFTER, i] != 0:
                    st[_ST_HINT] = 1
                b = st[_ST_BLOCKS] - 1
                blk[b, _B_LAST] = i
                blk[b, _B_JOINS] += 1
                key = rule * 4 + sep
                if p != i - 1 or (blk[b, _B_KEY] != _KEY_NONE and blk[b, _B_KEY] != key):
                    blk[b, _B_KEY] = _KEY_MIXED
                elif blk[b, _B_KEY] == _KEY_NONE:
                    blk[b, _B_KEY] = key
                i += 1
                continue
            # after a line that does not end a paragraph, a paragraph mark is routine only
            # where the broken-paragraph repair cannot join across it: the paragraph is too
            # narrow to be body text, or the next line cannot read as the rest of a sentence
            mark_only = p_final or st[_ST_CELLS] < body_min or ln[_I_NO_CONT, i] != 0
            if mark_only and first_ok and not (blanks == 0 and hyphen):
                if blanks:
                    rule = _K_BLANK
                elif ln[_I_INDENTED, i] != 0:
                    rule = _K_INDENT
                elif mode == 1:
                    if p_width + ln[_I_UNIT, i] + gap <= limit:
                        rule = _K_SHORT
                elif mode == 2:
                    if p_final and p_latin and i_latin and p_width < short_english:
                        rule = _K_SENTENCE
            if rule == _K_NONE:
                st[_ST_STOP] = _STOP_DECIDE
                return i
            out[_O_CODE, i] = _C_BREAK
            out[_O_RULE, i] = rule
        # line i opens a block
        st[_ST_FIRST] = i
        st[_ST_LAST] = i
        st[_ST_CELLS] = ln[_I_WIDTH, i]
        st[_ST_HINT] = ln[_I_HINT, i]
        st[_ST_BLANKS] = 0
        b = st[_ST_BLOCKS]
        blk[b, _B_FIRST] = i
        blk[b, _B_LAST] = i
        blk[b, _B_JOINS] = 0
        blk[b, _B_KEY] = _KEY_NONE
        st[_ST_BLOCKS] = b + 1
        i += 1
    return n


def _credit_hints(
    ln: np.ndarray, page: _Page, arr: _Arrays, text: str | None, words: np.ndarray | None
) -> None:
    """Fill the credit-hint rows of a wrapped page's line matrix: the lines a hint is found in,
    and the line breaks a hint word may run across (with the separator a join there gets).
    ``words``: the page's :func:`_hint_words` (else ``text``, the lines joined, is searched)."""
    texts, present = page.texts, arr.present
    n = len(texts)
    if words is not None:
        # found in the source line: its text is that line less leading and trailing whitespace,
        # and a hint word found in the text is found in the line (a look-ahead at the text's end
        # reads the line's whitespace where the text ends: only more lines are flagged)
        ln[_I_HINT] = (words & _W_CREDIT) != 0
    else:
        assert text is not None
        ln[_I_HINT] = textscan.lines_matching(segment._CREDIT_HINT, arr.filled, text)
    both = np.zeros(n, dtype=bool)
    both[1:] = present[1:] & present[:-1]
    if _CREDIT_HEADS is None:  # the pattern is not plain words: any break may hold a hint
        ln[_I_HINT_AFTER] = both
        return
    # the separator a wrap join of line i to line i - 1 gets (as the compiled loop chooses it)
    spaced = np.zeros(n, dtype=bool)
    spaced[1:] = (ln[_I_TRAILING, :-1] != 0) | ((ln[_I_ASCII_LAST, :-1] & ln[_I_ASCII_FIRST, 1:]) != 0)
    head = np.zeros(n, dtype=bool)
    head[1:] = (arr.last_flags[:-1] & _F_HINT_HEAD) != 0
    if " " in _CREDIT_HEADS:
        head |= spaced
    search = segment._CREDIT_HINT.search
    reach = _CREDIT_SPAN - 1
    for i in (head & both).nonzero()[0].tolist():
        after = texts[i]
        assert after is not None
        # the text before the break, back across short lines to a word's length (with the
        # separators joins there would get: more text than the paragraph holds only adds hits)
        before, j = "", i - 1
        while len(before) < reach and j >= 0 and (t := texts[j]) is not None:
            before = t + before if not before or not spaced[j + 1] else t + " " + before
            j -= 1
        window = before[-reach:] + (" " if spaced[i] else "") + after[:_CREDIT_SPAN]
        ln[_I_HINT_AFTER, i] = search(window) is not None


def _past_furniture_hints(ln: np.ndarray, texts: list[str | None]) -> None:
    """Fill the rows of a wrapped page's line matrix for a join past lifted furniture: the line
    the join would be decided against (the last line before the furniture that is not blank or
    lifted) and whether the join may make a credit hint there.

    The paragraph's text ends with that line's text and goes on with this line's, so a hint
    word across the join lies in the window of the two. Only where both lines hold a word's
    length is the join taken as looked at (``_I_PAST_PREV``): the windows of the next lines'
    joins (``_I_HINT_AFTER``) reach no further back than this line, never into the furniture.
    Only the line right after furniture is looked at: the blank lines a line after those follows
    are a paragraph mark (the compiled loop counts them from the furniture on), never a join.
    """
    reach = _CREDIT_SPAN - 1
    search = segment._CREDIT_HINT.search
    n = len(texts)
    lifted = ln[_I_LIFT].nonzero()[0].tolist()
    is_lifted = set(lifted)
    for k in lifted:
        i = k + 1
        if i >= n or i in is_lifted or (text := texts[i]) is None:
            continue
        q = k - 1  # the last line before that is neither blank nor lifted
        while q >= 0 and (texts[q] is None or q in is_lifted):
            q -= 1
        if q < 0:
            continue
        before = texts[q]
        assert before is not None
        if len(before) < reach or len(text) < reach:
            continue
        # the separator a wrap join gets (as the compiled loop chooses it)
        spaced = ln[_I_TRAILING, q] != 0 or (ln[_I_ASCII_LAST, q] != 0 and ln[_I_ASCII_FIRST, i] != 0)
        window = before[-reach:] + (" " if spaced else "") + text[:_CREDIT_SPAN]
        ln[_I_PAST_PREV, i] = q
        ln[_I_HINT_PAST, i] = ln[_I_HINT, i] != 0 or search(window) is not None


_M_RUN, _M_CLAUSE = 1, 2


@cache
def _mark_table() -> np.ndarray:
    """``_M_RUN``: the characters :func:`_headline_run` rejects a run for holding (any one is
    enough); ``_M_CLAUSE``: the clause punctuation :func:`_continuation_like` looks for."""
    return textscan.class_table(
        ((_SENTENCE_MARKS, _M_RUN), (_RUN_ON_PUNCT.pattern, _M_RUN), (_CLAUSE_PUNCT.pattern, _M_CLAUSE))
    )


def _line_matrix(
    page: _Page,
    arr: _Arrays,
    cfg: LayoutConfig,
    hinted: Sequence[int] | None,
    page_width: int | None,
    words: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[int, str]] | None:
    """The per-line inputs of :func:`_decide_kernel` (rows ``_I_*``) and the page furniture to
    lift (line → pattern name); ``None`` when a line holds a line feed. The credit hints are
    only looked for on a wrapped page (``page_width`` cells; the only one whose joins check for a
    credit). ``words``: the page's :func:`_hint_words`, when it has them (then the page's
    code points are scanned, not its texts joined again)."""
    wrapped = page_width is not None
    texts = page.texts
    n = len(texts)
    codes = page.codes if words is not None else None
    text = None
    if codes is None:
        text = "\n".join(arr.filled)
        if text.count("\n") != n - 1:
            return None
    ln = np.zeros((20, n), dtype=np.int64)
    marks = None
    if wrapped:
        # no mark is whitespace: a source line holds the marks its text holds
        marks = (
            textscan.code_line_flags(codes, n, _mark_table())
            if codes is not None
            else textscan.line_flags(arr.filled, _mark_table(), text)
        )
    if jit.enabled():
        odd, role = _fill_line_rows(ln, arr, page, marks, page_width, cfg)
    else:
        odd, role = _fill_line_rows_numpy(ln, arr, page, marks, page_width, cfg)
    if wrapped:  # what only the wrap rule reads
        # the first unit: one character's cells (filled in), or measured where it is a word or
        # opens a bracket
        if odd:
            amb = cfg.ambiguous_wide
            ln[_I_UNIT, odd] = [_first_unit_cells(texts[i], amb) for i in odd]  # odd lines are present
        if role:
            ln[_I_ROLE, role] = [segment.starts_with_role(texts[i]) for i in role]
        _credit_hints(ln, page, arr, text, words)
    furniture: dict[int, str] = {}
    # ``hinted`` is None only when lifting is off (a line feed inside a line returned above).
    # A hinted line's text holds the hint its source line does (no hint word holds whitespace,
    # all the text leaves out): only the patterns are run, not ``_LIFT_HINT`` again.
    pattern = segment.furniture_pattern
    for i in sorted(hinted or ()):
        t = texts[i]
        if t is not None and (name := pattern(t)) in _LIFTED_FURNITURE:
            furniture[i] = name  # type: ignore[assignment]
    if furniture:
        ln[_I_LIFT, list(furniture)] = 1
    if wrapped and furniture:
        _past_furniture_hints(ln, texts)
    return ln, furniture


def _fill_line_rows_numpy(
    ln: np.ndarray,
    arr: _Arrays,
    page: _Page,
    marks: np.ndarray | None,
    page_width: int | None,
    cfg: LayoutConfig,
) -> tuple[list[int], list[int]]:
    """Fill the rows of the line matrix that the page's arrays give (all but the measured first
    units, the roles, the credit hints and the furniture); return the lines whose first unit is
    to be measured (a wrapped page's) and those that may start with a role word. ``marks``: the
    mark flags of a wrapped page's lines (``None``: not scanned)."""
    wrapped = page_width is not None
    flags = _flag_table()
    ff, lf = flags[arr.first], arr.last_flags
    present = arr.present
    ln[_I_PAST_PREV] = -1
    ln[_I_PRESENT] = present
    ln[_I_WIDTH] = arr.widths
    ln[_I_INDENTED] = arr.indented
    ln[_I_LATIN] = arr.latin
    ln[_I_FINAL] = arr.final
    ln[_I_FORBIDDEN] = (ff & _F_FORBIDDEN) != 0
    ln[_I_LATIN_PUNCT] = (ff & _F_LATIN_PUNCT) != 0
    hyphen = arr.last == _HYPHEN_CODES[0]  # three comparisons: np.isin costs more on a page
    for code in _HYPHEN_CODES[1:]:
        hyphen |= arr.last == code
    ln[_I_HYPHEN] = hyphen
    ln[_I_TRAILING] = arr.trailing if arr.trailing is not None else page.trailing
    ln[_I_ASCII_FIRST] = (ff & _F_ASCII_TEXT) != 0
    ln[_I_ASCII_LAST] = (lf & _F_ASCII_TEXT) != 0
    odd: list[int] = []
    role: list[int] = []
    if wrapped:
        ln[_I_UNIT] = arr.first_cells
        odd = (present & ~arr.indented & (((ff & _F_OPENING) != 0) | (arr.first < 128))).nonzero()[0].tolist()
        role = (present & ((ff & _F_ROLE_FIRST) != 0)).nonzero()[0].tolist()
    # a line that cannot read as the rest of a sentence (_continuation_like is False): a
    # paragraph mark before it is never a broken paragraph. Only a wrapped page pays for a scan
    # of the punctuation; elsewhere every line wide enough is taken to hold some.
    clause = arr.widths >= cfg.body_min_cells
    full = False
    if wrapped:
        if marks is not None:
            # a line no headline run can start at (_headline_run gives None for any run holding it)
            ln[_I_NO_RUN] = ((marks & _M_RUN) != 0) | (arr.widths > cfg.max_headline_cells)
            clause &= (marks & _M_CLAUSE) != 0
        full = arr.widths + 2 > page_width
    ln[_I_NO_CONT] = ((ff & _F_OPENING) != 0) | ~(arr.final | full | clause)
    return odd, role


def _fill_line_rows(
    ln: np.ndarray,
    arr: _Arrays,
    page: _Page,
    marks: np.ndarray | None,
    page_width: int | None,
    cfg: LayoutConfig,
) -> tuple[list[int], list[int]]:
    """:func:`_fill_line_rows_numpy` by one compiled pass over the page's lines."""
    n = len(arr.present)
    found = np.zeros(n, dtype=np.uint8)
    kernel = _fill_rows_kernel if jit.enabled() else _fill_rows_kernel.py_func
    kernel(
        ln,
        arr.present,
        arr.widths,
        arr.indented,
        arr.latin,
        arr.final,
        arr.first,
        arr.last,
        arr.trailing if arr.trailing is not None else np.asarray(page.trailing, dtype=bool),
        arr.first_cells,
        _flag_table(),
        marks if marks is not None else np.zeros(0, dtype=np.uint8),
        marks is not None,
        page_width is not None,
        page_width if page_width is not None else 0,
        cfg.body_min_cells,
        cfg.max_headline_cells,
        np.array(_HYPHEN_CODES, dtype=np.int64),
        found,
    )
    return (found & 1).nonzero()[0].tolist(), (found & 2).nonzero()[0].tolist()


@jit.kernel
def _fill_rows_kernel(
    ln: np.ndarray,
    present: np.ndarray,
    widths: np.ndarray,
    indented: np.ndarray,
    latin: np.ndarray,
    final: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    trailing: np.ndarray,
    first_cells: np.ndarray,
    flags: np.ndarray,
    marks: np.ndarray,
    have_marks: bool,
    wrapped: bool,
    page_width: int,
    body_min: int,
    max_headline: int,
    hyphens: np.ndarray,
    found: np.ndarray,
) -> None:
    """The rows :func:`_fill_line_rows_numpy` fills, line by line as its array expressions give
    them; ``found``: bit 1 on the lines whose first unit is to be measured, bit 2 on those that
    may start with a role word (a wrapped page's)."""
    for i in range(ln.shape[1]):
        f = flags[first[i]]
        ln[_I_PAST_PREV, i] = -1
        ln[_I_PRESENT, i] = present[i]
        ln[_I_WIDTH, i] = widths[i]
        ln[_I_INDENTED, i] = indented[i]
        ln[_I_LATIN, i] = latin[i]
        ln[_I_FINAL, i] = final[i]
        ln[_I_FORBIDDEN, i] = (f & _F_FORBIDDEN) != 0
        ln[_I_LATIN_PUNCT, i] = (f & _F_LATIN_PUNCT) != 0
        hyphen = False
        for h in hyphens:
            hyphen = hyphen or last[i] == h
        ln[_I_HYPHEN, i] = hyphen
        ln[_I_TRAILING, i] = trailing[i]
        ln[_I_ASCII_FIRST, i] = (f & _F_ASCII_TEXT) != 0
        ln[_I_ASCII_LAST, i] = (flags[last[i]] & _F_ASCII_TEXT) != 0
        clause = widths[i] >= body_min
        full = False
        if wrapped:
            ln[_I_UNIT, i] = first_cells[i]
            if present[i] and not indented[i] and ((f & _F_OPENING) != 0 or first[i] < 128):
                found[i] |= 1
            if present[i] and (f & _F_ROLE_FIRST) != 0:
                found[i] |= 2
            if have_marks:
                ln[_I_NO_RUN, i] = (marks[i] & _M_RUN) != 0 or widths[i] > max_headline
                clause = clause and (marks[i] & _M_CLAUSE) != 0
            full = widths[i] + 2 > page_width
        ln[_I_NO_CONT, i] = (f & _F_OPENING) != 0 or not (final[i] or full or clause)


_SEP_TEXT = ("", " ", "")
_KERNEL_RULES = {
    _K_WRAP: R_WRAP.name,
    _K_ENGLISH: R_ENGLISH.name,
    _K_BLANK: R_BLANK.name,
    _K_INDENT: R_INDENT.name,
    _K_SHORT: R_SHORT.name,
    _K_SENTENCE: R_SENTENCE.name,
}


# the joins whose blocks are made by one join of their lines: (rule, separator) and its text
_ROUTINE_JOINS = ((_K_WRAP, _S_NONE), (_K_WRAP, _S_SPACE), (_K_ENGLISH, _S_SPACE))
_ROUTINE_TEXT = {rule * 4 + sep: (_KERNEL_RULES[rule], _SEP_TEXT[sep]) for rule, sep in _ROUTINE_JOINS}


class _Decisions:
    """A page's decisions as the compiled loop and Python leave them (see ``_decide_kernel``)."""

    __slots__ = (
        "final",
        "furniture",
        "latin_w",
        "out",
        "py_events",
        "py_rules",
        "texts",
        "units",
        "width",
        "widths",
    )

    def __init__(
        self,
        texts: list[str | None],
        widths: list[int],
        units: np.ndarray,
        out: np.ndarray,
        width: int | None,
        latin_w: int | None,
        furniture: dict[int, str],
    ) -> None:
        self.texts, self.widths, self.units, self.out = texts, widths, units, out
        self.width, self.latin_w, self.furniture = width, latin_w, furniture
        self.final: list[bool] = []  # is_para_final of each line (English joins' evidence)
        self.py_events: dict[int, Event] = {}
        self.py_rules: dict[int, str] = {}

    def parts(
        self, first: int, last: int, code: Sequence[int] | None = None, seps: Sequence[int] | None = None
    ) -> list[str]:
        """The parts of the block from line ``first`` to ``last``, as the loop builds them
        (``code``, ``seps``: the page's decision codes and separators as lists, when the caller
        has them: a page's blocks are assembled from one list of each, not two slices a block)."""
        texts = self.texts
        if code is None:
            code = self.out[_O_CODE, first : last + 1].tolist()
            base = first
        else:
            base = 0
        if seps is None:
            seps = self.out[_O_SEP, first : last + 1].tolist()
            sep_base = first
        else:
            sep_base = 0
        parts = [texts[first]]
        for k in range(first + 1, last + 1):
            if code[k - base] != _C_JOIN:
                continue
            sep = seps[k - sep_base]
            if sep == _S_CUT:
                parts[-1] = parts[-1][:-1]
            parts.append(_SEP_TEXT[sep] + texts[k])
        return parts


def _compiled_blocks(
    lines: list[str], cfg: LayoutConfig, page: _Page, arr: _Arrays, width: int | None, latin_w: int | None
) -> tuple[list[Block], list[Event]] | None:
    """:func:`_build_blocks` by the compiled loop (``None``: a line holds a line feed)."""
    texts = page.texts
    n = len(texts)
    lift = cfg.lift_furniture
    words = _hint_words(page)
    hinted: Sequence[int] | None = None
    if lift:
        hinted = (words & _W_LIFT).nonzero()[0].tolist() if words is not None else _hinted_lines(lines)
    mode = 1 if width is not None else 2 if latin_w is not None else 0
    got = _line_matrix(page, arr, cfg, hinted, width, words)
    if got is None:
        return None
    ln, furniture = got
    limit = width - cfg.column_slack if width is not None else 0
    short_english = cfg.english_short_line_ratio * latin_w if latin_w is not None else 0.0
    out = np.zeros((6, n), dtype=np.int64)
    out[_O_LIFTED] = -1
    st = np.zeros(10, dtype=np.int64)
    st[_ST_LIFTED] = -1
    blk = np.zeros((n, 4), dtype=np.int64)
    widths = page.widths
    dec = _Decisions(texts, widths, ln[_I_UNIT], out, width, latin_w, furniture)
    if mode == 2:
        dec.final = arr.final.tolist()
    kernel = _decide_kernel if jit.enabled() else _decide_kernel.py_func
    # without the broken-paragraph repair, no paragraph mark needs its check
    body_min = cfg.body_min_cells if cfg.repair_broken_paragraphs else np.iinfo(np.int64).max
    i = 0
    while True:
        i = int(
            kernel(
                i,
                ln,
                st,
                mode,
                limit,
                short_english,
                _MAX_CREDIT_CELLS,
                body_min,
                cfg.max_headline_cells,
                out,
                blk,
            )
        )
        if i >= n:
            break
        _decide_line(dec, i, st, ln, blk, page, width, latin_w, cfg)
        i += 1
    return _assemble(dec, page, blk[: st[_ST_BLOCKS]]), [PageEvents(dec)]


def _decide_line(
    dec: _Decisions,
    i: int,
    st: np.ndarray,
    ln: np.ndarray,
    blk: np.ndarray,
    page: _Page,
    width: int | None,
    latin_w: int | None,
    cfg: LayoutConfig,
) -> None:
    """Decide line ``i``, where the compiled loop stopped, by the general path."""
    out, texts = dec.out, dec.texts
    t = texts[i]
    assert t is not None
    p, first = int(st[_ST_LAST]), int(st[_ST_FIRST])
    parts = dec.parts(first, p)
    cur = _Open(parts, int(st[_ST_CELLS]), first, p, False, [])
    blanks = int(st[_ST_BLANKS])
    st[_ST_BLANKS] = 0
    if st[_ST_STOP] == _STOP_CREDIT:
        bt = cur.text()
        if not (segment._CREDIT_HINT.search(bt) and segment.is_byline_or_caption(bt)):
            # the separator the compiled loop gives a wrap join
            spaced = ln[_I_TRAILING, p] or (ln[_I_ASCII_LAST, p] and ln[_I_ASCII_FIRST, i])
            sep_code = _S_SPACE if spaced else _S_NONE
            out[_O_CODE, i], out[_O_RULE, i], out[_O_SEP, i] = _C_JOIN, _K_WRAP, sep_code
            st[_ST_CELLS] += ln[_I_WIDTH, i]
            st[_ST_LAST] = i
            _add_join(blk[st[_ST_BLOCKS] - 1], i, _K_WRAP * 4 + sep_code if p == i - 1 else _KEY_MIXED)
            return
    rule, sep, evidence = _decide(cur, page[p], page, i, blanks, width, latin_w, cfg)
    if sep == BREAK:
        out[_O_CODE, i], out[_O_RULE, i] = _C_BREAK, _K_PY
        dec.py_events[i] = Event(rule, STAGE, evidence, p + 1, i + 1)
        st[_ST_FIRST] = st[_ST_LAST] = i
        st[_ST_CELLS] = ln[_I_WIDTH, i]
        st[_ST_HINT] = ln[_I_HINT, i]
        blk[st[_ST_BLOCKS]] = (i, i, 0, _KEY_NONE)
        st[_ST_BLOCKS] += 1
        return
    before_tail = parts[-1]
    code = _S_SPACE if sep == " " else _S_NONE
    if sep == "\x01":  # remove the break hyphen
        parts[-1] = before_tail[:-1]
        sep, code = "", _S_CUT
    elif sep == "\x02":  # keep the compound's hyphen
        sep = ""
    assert sep in ("", " "), sep
    out[_O_CODE, i], out[_O_RULE, i], out[_O_SEP, i] = _C_JOIN, _K_PY, code
    dec.py_rules[i] = rule
    dec.py_events[i] = Event(
        rule,
        STAGE,
        evidence,
        line=p + 1,
        line_end=i + 1,
        before=f"{before_tail[-12:]}⏎{t[:12]}",
        after=(parts[-1][-12:] + (sep + t)[:12]),
    )
    st[_ST_CELLS] += ln[_I_WIDTH, i]
    st[_ST_LAST] = i
    st[_ST_HINT] = 1  # its separator may have made a credit hint: look at the text from now on
    _add_join(blk[st[_ST_BLOCKS] - 1], i, _KEY_MIXED)


def _add_join(row: np.ndarray, i: int, key: int) -> None:
    """Line ``i`` joined the block of the table ``row`` (as the compiled loop records its joins)."""
    row[_B_LAST] = i
    row[_B_JOINS] += 1
    row[_B_KEY] = key if row[_B_KEY] in (_KEY_NONE, key) else _KEY_MIXED


def _assemble(dec: _Decisions, page: _Page, table: np.ndarray) -> list[Block]:
    """The blocks of the page's block table, in the order the line-by-line loop closes them."""
    out, texts, indented = dec.out, dec.texts, page.indented
    after_blank = (out[_O_BLANKS] > 0).tolist()
    blocks: list[Block] = []
    append = blocks.append
    # the table's columns as four lists: a list per row was an allocation per block
    firsts, lasts, counts, keys = table.T.tolist()
    routine_text = _ROUTINE_TEXT.get
    code_l: list[int] = []
    for b, s in enumerate(firsts):
        key = keys[b]
        routine = routine_text(key)
        if routine is not None:
            name, sep = routine
            last = lasts[b]
            append(
                Block(
                    sep.join(texts[s : last + 1]),
                    s + 1,
                    last + 1,
                    [name] * counts[b],
                    indented[s],
                    after_blank[s],
                )
            )
            continue
        if key == _KEY_NONE:
            append(Block(texts[s], s + 1, s + 1, [], indented[s], after_blank[s]))
            continue
        last = lasts[b]
        if not code_l:
            code_l, rule_l, sep_l = out[_O_CODE].tolist(), out[_O_RULE].tolist(), out[_O_SEP].tolist()
        members = [j for j in range(s + 1, last + 1) if code_l[j] == _C_JOIN]
        joins = [dec.py_rules.get(j) or _KERNEL_RULES[rule_l[j]] for j in members]
        append(
            Block(
                "".join(dec.parts(s, last, code_l, sep_l)),
                s + 1,
                last + 1,
                joins,
                indented[s],
                after_blank[s],
            )
        )
        # the lines lifted out while this block was open follow it
        for j in range(s + 1, firsts[b + 1] if b + 1 < len(firsts) else len(texts)):
            if code_l[j] == _C_LIFT:
                append(Block(texts[j], j + 1, j + 1, indented=indented[j], after_blank=after_blank[j]))
    return blocks


# The rule names of a page record's spans, indexed by the kernel's rule codes (``_K_*``): the
# routine rules, and page furniture at ``_K_NONE``.
_SPAN_NAMES = tuple(R_FURNITURE.name if k == _K_NONE else _KERNEL_RULES.get(k, "") for k in range(_K_PY + 1))


@jit.kernel
def _spans_kernel(out: np.ndarray, rule: np.ndarray, first: np.ndarray, last: np.ndarray) -> int:
    """The (rule code, first line, last line) of each decision the compiled loop made on a page
    (``out``: its ``_O_*`` rows), 1-based lines; returns how many. A lifted furniture line
    gives two: its own lift and the line decided past it."""
    k = 0
    for i in range(out.shape[1]):
        code = out[_O_CODE, i]
        made = (code == _C_JOIN or code == _C_BREAK) and out[_O_RULE, i] != _K_PY
        if made or code == _C_LIFT or code == _C_FCLOSE:
            rule[k] = out[_O_RULE, i] if made else _K_NONE
            first[k] = out[_O_PREV, i] + 1
            last[k] = i + 1
            k += 1
        if out[_O_LIFTED, i] >= 0:
            rule[k] = _K_NONE
            first[k] = out[_O_LIFTED, i] + 1
            last[k] = i + 1
            k += 1
    return k


class PageEvents(EventRecord):
    """Every layout event of a page as one object over the page's decisions: :meth:`expand`
    gives the event of each decision, in the order the line-by-line loop records them, and
    :meth:`spans` the (rule, first line, last line) of each without making them."""

    __slots__ = ("_dec",)

    def __init__(self, dec: _Decisions) -> None:
        self.rule = "layout.decisions"
        self.stage = STAGE
        self.line = None
        self.line_end = None
        self._before = self._after = None
        self._dec = dec

    def _get_detail(self) -> str:
        return f"{len(self.expand())} line-break decisions of the page"

    detail = property(_get_detail, Event.detail.fset)

    def spans(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """Rule names, and per event the index of its rule name, its first and last line."""
        dec = self._dec
        names = list(_SPAN_NAMES)
        n = dec.out.shape[1]
        extra = sorted(dec.py_events.items())
        # the compiled loop's spans, then those of the decisions made in Python, in one array each
        rule, first, last = (np.empty(2 * n + len(extra), dtype=np.int64) for _ in range(3))
        kernel = _spans_kernel if jit.enabled() else _spans_kernel.py_func
        size = kernel(dec.out, rule, first, last)
        if extra:
            for _, e in extra:
                if e.rule not in names:
                    names.append(e.rule)
            end = size + len(extra)
            rule[size:end] = [names.index(e.rule) for _, e in extra]
            first[size:end] = [e.line for _, e in extra]
            last[size:end] = [e.line_end for _, e in extra]
            size = end
        return names, rule[:size], first[:size], last[:size]

    def expand(self) -> list[Event]:
        """One event per decision, as :func:`_build_blocks` makes them line by line."""
        dec = self._dec
        out, texts, widths, units = dec.out, dec.texts, dec.widths, dec.units
        width, latin_w = dec.width, dec.latin_w
        code_l, rule_l, prev_l, blanks_l, sep_l, lifted_l = (row.tolist() for row in out)
        events: list[Event] = []
        tail = ""  # the last part of the open block, before the next join
        for i, c in enumerate(code_l):
            if c == _C_BLANK:
                continue
            p, lifted, t = prev_l[i], lifted_l[i], texts[i]
            assert t is not None
            if lifted >= 0:
                events.append(
                    Event(
                        R_FURNITURE.name,
                        STAGE,
                        f"line {lifted + 1} is page furniture; line {i + 1} is decided against line {p + 1}",
                        line=lifted + 1,
                        line_end=i + 1,
                    )
                )
            k = rule_l[i]
            if c == _C_FCLOSE:
                events.append(Event(R_FURNITURE.name, STAGE, f"line {p + 1} is page furniture", p + 1, i + 1))
            elif c == _C_LIFT:
                events.append(
                    Event(
                        R_FURNITURE.name,
                        STAGE,
                        f"'{t[:30]}' is page furniture ({dec.furniture[i]}): set apart, the paragraph of "
                        f"line {p + 1} may continue after it",
                        line=p + 1,
                        line_end=i + 1,
                    )
                )
                continue
            elif k == _K_PY:
                events.append(dec.py_events[i])
            elif k == _K_WRAP:
                sep = _SEP_TEXT[sep_l[i]]
                args = (widths[p], width, int(units[i]), tail, sep, t)
                events.append(_JoinEvent(R_WRAP.name, p + 1, i + 1, _WRAP_DETAIL, *args))
            elif k == _K_ENGLISH:
                x = "fills the line" if dec.final[p] else "does not end a sentence"
                args = (x, widths[p], latin_w, tail, " ", t)
                events.append(_JoinEvent(R_ENGLISH.name, p + 1, i + 1, _ENGLISH_DETAIL, *args))
            elif k == _K_BLANK:
                events.append(
                    Event(
                        R_BLANK.name, STAGE, f"{blanks_l[i]} blank line(s) before line {i + 1}", p + 1, i + 1
                    )
                )
            elif k == _K_INDENT:
                events.append(Event(R_INDENT.name, STAGE, f"line {i + 1} is indented", p + 1, i + 1))
            elif k == _K_SHORT:
                detail = (
                    f"line {p + 1} is {widths[p]} cells of a {width}-cell column; "
                    f"'{t[:3]}' ({int(units[i])} cells) would have fit"
                )
                events.append(Event(R_SHORT.name, STAGE, detail, p + 1, i + 1))
            elif k == _K_SENTENCE:
                detail = f"line {p + 1} ends a sentence at {widths[p]} of ~{latin_w} characters"
                events.append(Event(R_SENTENCE.name, STAGE, detail, p + 1, i + 1))
            tail = _SEP_TEXT[sep_l[i]] + t if c == _C_JOIN else t
        return events


def build_blocks(
    lines: list[str], cfg: LayoutConfig, compact: bool = False
) -> tuple[list[Block], list[Event]]:
    """Rebuild paragraphs (``Block``) from source lines; one event per line-break decision.

    ``compact``: the decisions of a page may come as one event object over all of them
    (``PageEvents``, with ``spans()``); :func:`expand_events` turns it into the event of each.
    """
    blocks, events = _build_blocks(lines, cfg, fast=True)
    return blocks, events if compact else expand_events(events)


# Last characters a paragraph-final text can have (``_PARA_FINAL``): any other ends no paragraph.
_PARA_FINAL_LAST = frozenset("。！？!?…．.；;：:\"'”’」』）)]】〕》—")
_HYPHENS = ("-", "\u00ad", "‐")
_HYPHEN_CODES = tuple(map(ord, _HYPHENS))


@cache
def _char_cells(ch: str, ambiguous_wide: bool) -> int:
    return display_width(ch, ambiguous_wide)


# Character classes of a line's first and last character, as bits of one table over code points.
_F_FORBIDDEN, _F_FINAL_LAST, _F_TERMINAL = 1, 2, 4
# for the compiled decisions (:func:`_line_matrix`)
_F_OPENING, _F_ASCII_TEXT, _F_LATIN_PUNCT, _F_ROLE_FIRST, _F_HINT_HEAD = 8, 16, 32, 64, 128
# Ends a paragraph by itself (``_PARA_FINAL`` with no closing quote or bracket after it).
_TERMINAL = "。！？!?…．.；;：:"


def _parser_width(pattern: str) -> int:
    """The longest match of ``pattern`` (without look-arounds), as the regex parser measures it."""
    from re import _parser

    return int(_parser.parse(pattern).getwidth()[1])


def _hint_heads(pattern: str) -> frozenset[str] | None:
    """Characters after which a match of ``pattern`` may go on past a line break: those at any
    but the last place of one of its words, and a word's last one when a look-ahead follows it.

    Only for a pattern that is an alternation of literal words, each with an optional one-
    character look-ahead at its end; ``None`` for any other pattern (then every line break is
    taken to possibly hold a match).
    """
    from re import _parser  # the standard library's own pattern parser

    tree = _parser.parse(pattern)
    literal, lookahead = _parser.LITERAL, _parser.ASSERT
    words = (
        [list(w) for w in tree[0][1][1]] if len(tree) == 1 and tree[0][0] is _parser.BRANCH else [list(tree)]
    )
    heads: set[str] = set()
    for word in words:
        if word and word[-1][0] is lookahead and word[-1][1][0] == 1:
            word = [*word[:-1], (literal, 0)]  # the look-ahead reads one more character
        if not word or any(op is not literal for op, _ in word):
            return None
        heads.update(chr(code) for _, code in word[:-1])
    return frozenset(heads)


# A credit hint is at most this many characters, look-ahead included (checked at import).
_CREDIT_SPAN = 9
_CREDIT_HEADS = _hint_heads(segment._CREDIT_HINT.pattern)
if _CREDIT_HEADS is not None and _parser_width(segment._CREDIT_HINT.pattern) >= _CREDIT_SPAN:
    _CREDIT_HEADS = None


@cache
def _flag_table() -> np.ndarray:
    table = np.zeros(0x110000, dtype=np.uint8)
    for flag, chars in (
        (_F_FORBIDDEN, _LINE_INITIAL_FORBIDDEN),
        (_F_FINAL_LAST, _PARA_FINAL_LAST),
        (_F_TERMINAL, _TERMINAL),
        (_F_OPENING, _OPENING),
        (_F_ASCII_TEXT, [chr(c) for c in range(128) if not chr(c).isspace()]),
        (_F_LATIN_PUNCT, ",;:!?)"),
        (_F_ROLE_FIRST, segment._ROLE_FIRST_CHARS),
        (_F_HINT_HEAD, _CREDIT_HEADS or ()),
    ):
        table[[ord(c) for c in chars]] |= flag
    return table


@dataclass(slots=True)
class _Arrays:
    """A page's columns as numpy arrays, with the code points of each line's first and last
    character and the evidence read from its end (a blank line reads as ``"\x00"``)."""

    filled: list[str]  # texts, blank lines as "\x00"
    present: np.ndarray
    widths: np.ndarray
    latin: np.ndarray  # of present lines
    indented: np.ndarray
    first: np.ndarray
    last: np.ndarray
    last_flags: np.ndarray
    first_cells: np.ndarray  # display cells of the first character
    final: np.ndarray  # is_para_final(text)
    hanging: np.ndarray  # _hanging_cells(text)
    trailing: np.ndarray | None = None  # the page's ``trailing`` (set by the two makers of a page's arrays)


def _arrays(page: _Page, ambiguous_wide: bool) -> _Arrays:
    if page.arrays is not None:
        return page.arrays
    texts = page.texts
    n = len(texts)
    filled = [t if t is not None else "\x00" for t in texts]
    first = np.fromiter(map(ord, map(itemgetter(0), filled)), dtype=np.int64, count=n)
    last = np.fromiter(map(ord, map(itemgetter(-1), filled)), dtype=np.int64, count=n)
    present = np.fromiter((t is not None for t in texts), dtype=bool, count=n)
    widths = np.array(page.widths, dtype=np.int64)
    latin = np.array(page.latin, dtype=bool) & present
    second = np.fromiter((ord(t[-2]) if len(t) > 1 else 0 for t in filled), dtype=np.int64, count=n)
    indented = np.array(page.indented, dtype=bool)
    arrays = _arrays_of(filled, present, widths, latin, indented, first, last, second, ambiguous_wide)
    arrays.trailing = np.array(page.trailing, dtype=bool)
    return arrays


def _line_ends(
    filled: list[str],
    present: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    second: np.ndarray,
    ambiguous_wide: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What :func:`_arrays_of` reads at each line's ends: the flags of its last character,
    whether it is paragraph-final, the cells of its first character and of the punctuation that
    may hang past the column."""
    flags = _flag_table()
    last_flags = flags[last]
    # a paragraph-final line: a terminal mark at the end settles it, only a closing quote or
    # bracket (or a dash) needs the pattern
    final = (last_flags & _F_TERMINAL).astype(bool) & present
    for i in ((last_flags & (_F_FINAL_LAST | _F_TERMINAL)) == _F_FINAL_LAST).nonzero()[0].tolist():
        final[i] = bool(present[i]) and is_para_final(filled[i])
    # cells of the punctuation ending a line that may hang past the column: the last one or two
    # characters that cannot start a line (``_hanging_cells``; ambiguous punctuation wide)
    # (read for those lines only: the table is large, and a read of it costs a cache miss)
    hanging = np.zeros(len(last), dtype=np.int64)
    hang = (last_flags & _F_FORBIDDEN).nonzero()[0]
    if len(hang):
        cells = _char_tables(True)
        ends, before = last[hang], second[hang]
        hanging[hang] = (cells[ends] & _CELL_MASK).astype(np.int64) + np.where(
            (flags[before] & _F_FORBIDDEN) != 0, (cells[before] & _CELL_MASK).astype(np.int64), 0
        )
    first_cells = (_char_tables(ambiguous_wide)[first] & _CELL_MASK).astype(np.int64)
    return last_flags, final, first_cells, hanging


@jit.kernel
def _line_ends_kernel(
    present: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    second: np.ndarray,
    flags: np.ndarray,
    cells: np.ndarray,
    wide_cells: np.ndarray,
    last_flags: np.ndarray,
    final: np.ndarray,
    check: np.ndarray,
    first_cells: np.ndarray,
    hanging: np.ndarray,
) -> None:
    """:func:`_line_ends` line by line, but for the paragraph-final test of the lines that end in
    a closing quote, bracket or dash (``check``: for Python to make)."""
    mask = np.uint64((1 << _FIELD_BITS) - 1)
    for i in range(last.shape[0]):
        lf = flags[last[i]]
        last_flags[i] = lf
        final[i] = (lf & _F_TERMINAL) != 0 and present[i]
        check[i] = (lf & (_F_FINAL_LAST | _F_TERMINAL)) == _F_FINAL_LAST and present[i]
        h = np.int64(0)  # (kept signed: an unsigned term would turn the sum into a float)
        if lf & _F_FORBIDDEN:
            h = np.int64(wide_cells[last[i]] & mask)
            if flags[second[i]] & _F_FORBIDDEN:
                h += np.int64(wide_cells[second[i]] & mask)
        hanging[i] = h
        first_cells[i] = np.int64(cells[first[i]] & mask)


def _arrays_of(
    filled: list[str],
    present: np.ndarray,
    widths: np.ndarray,
    latin: np.ndarray,
    indented: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    second: np.ndarray,
    ambiguous_wide: bool,
) -> _Arrays:
    if jit.enabled():
        n = len(last)
        last_flags = np.empty(n, dtype=np.uint8)
        final = np.empty(n, dtype=np.bool_)
        check = np.empty(n, dtype=np.bool_)
        first_cells, hanging = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
        _line_ends_kernel(
            present,
            first,
            last,
            second,
            _flag_table(),
            _char_tables(ambiguous_wide),
            _char_tables(True),
            last_flags,
            final,
            check,
            first_cells,
            hanging,
        )
        for i in check.nonzero()[0].tolist():
            final[i] = is_para_final(filled[i])
    else:
        last_flags, final, first_cells, hanging = _line_ends(
            filled, present, first, last, second, ambiguous_wide
        )
    return _Arrays(
        filled, present, widths, latin, indented, first, last, last_flags, first_cells, final, hanging
    )


def _column_inputs(arr: _Arrays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Widths, hanging punctuation and "visibly a paragraph's last line" of the Han lines, the
    inputs of :func:`column_width`."""
    han = arr.present & ~arr.latin
    # followed by a blank line, an indented line or the end: its width says nothing about the column
    ends_para = np.ones(len(han), dtype=bool)
    ends_para[:-1] = ~arr.present[1:] | arr.indented[1:]
    return arr.widths[han], arr.hanging[han], ends_para[han]


def _page_column_width(arr: _Arrays, cfg: LayoutConfig) -> int | None:
    """:func:`column_width` of the page's Han lines (:func:`_column_inputs`), by one compiled
    pass when the kernels are on (a few dozen small array operations otherwise)."""
    if not jit.enabled():
        widths, hanging, final = _column_inputs(arr)
        return column_width(widths, cfg, hanging, final)
    width = _column_width_kernel(
        arr.widths,
        arr.hanging,
        arr.present,
        arr.latin,
        arr.indented,
        cfg.min_wrapped_lines,
        cfg.min_column_cells,
        cfg.odd_column_ratio,
        max(cfg.column_slack, 1),
        cfg.min_wrapped_fraction,
    )
    return None if width < 0 else int(width)


@jit.kernel
def _column_width_kernel(
    widths: np.ndarray,
    hanging: np.ndarray,
    present: np.ndarray,
    latin: np.ndarray,
    indented: np.ndarray,
    min_lines: int,
    min_cells: int,
    odd_ratio: float,
    slack: int,
    fraction: float,
) -> int:
    """:func:`column_width` of the Han lines of a page's arrays (as :func:`_column_inputs` picks
    them and their hanging punctuation, and which of them visibly end a paragraph), step by step
    as that function's array expressions take them; -1 for ``None``."""
    n = widths.shape[0]
    han = 0
    cw = np.empty(n, dtype=np.int64)  # the candidate lines: Han lines not visibly a paragraph's last
    ch = np.empty(n, dtype=np.int64)
    k = 0
    top = -1  # the widest value counted
    for i in range(n):
        if not present[i] or latin[i]:
            continue
        han += 1
        if i == n - 1 or not present[i + 1] or indented[i + 1]:
            continue
        cw[k] = widths[i]
        ch[k] = hanging[i]
        if widths[i] >= min_cells:
            top = max(top, widths[i])
        if hanging[i] != 0 and widths[i] - hanging[i] >= min_cells:
            top = max(top, widths[i] - hanging[i])
        k += 1
    if han < min_lines or k < 2 or top < 0:
        return -1
    # every width, and the width without hanging punctuation of the lines that have some
    counts = np.zeros(top + 1, dtype=np.int64)
    for j in range(k):
        if cw[j] >= min_cells:
            counts[cw[j]] += 1
        if ch[j] != 0 and cw[j] - ch[j] >= min_cells:
            counts[cw[j] - ch[j]] += 1
    best = 0
    for w in range(top + 1):  # the mode; ties go to the widest
        if counts[w] >= counts[best]:
            best = w
    if best + 1 <= top and counts[best + 1] >= odd_ratio * counts[best]:
        best += 1
    widest = cw[0] - ch[0]
    for j in range(1, k):
        widest = max(widest, cw[j] - ch[j])
    wide_lines = 0
    for j in range(k):
        if cw[j] - ch[j] >= widest - slack:
            wide_lines += 1
    if widest > best + slack and wide_lines >= max(2.0, fraction * k):
        best = widest
    near = 0
    for j in range(k):
        if abs(cw[j] - best) <= slack or (ch[j] != 0 and abs(cw[j] - ch[j] - best) <= slack):
            near += 1
    if near / k < fraction or near < 2:
        return -1
    return best


def _page_latin_width(arr: _Arrays) -> int | None:
    """Typical width (characters) of the page's Latin lines: their 80th percentile."""
    ws = np.sort(arr.widths[arr.latin])
    if len(ws) < 4:
        return None
    return int(ws[int(len(ws) * 0.8)])


def _build_blocks(lines: list[str], cfg: LayoutConfig, fast: bool) -> tuple[list[Block], list[Event]]:
    """:func:`build_blocks`: by the compiled loop (``fast``), or line by line with :func:`_decide`
    deciding every break (the reference the compiled loop is tested against, and what a page
    with a line feed inside a line gets)."""
    page = _prepare_page(lines, cfg) if fast else _Page.of(_prepare_reference(lines, cfg))
    # Lines ending in punctuation may hang it past the column (GB/T 15834).
    arr = _arrays(page, cfg.ambiguous_wide)
    width = _page_column_width(arr, cfg)
    latin_w = _page_latin_width(arr)
    if fast:
        compiled = _compiled_blocks(lines, cfg, page, arr, width, latin_w)
        if compiled is not None:
            return compiled
    texts, widths, indented = page.texts, page.widths, page.indented
    blocks: list[Block] = []
    events: list[Event] = []
    cur: _Open | None = None
    blanks = 0

    def close(b: _Open) -> None:
        blocks.append(
            Block("".join(b.parts), b.first + 1, b.last + 1, b.joins, indented[b.first], b.after_blank)
        )
        if lifted:
            blocks.extend(lifted)
            lifted.clear()

    lifted: list[Block] = []  # furniture met inside the open paragraph, emitted after it
    lifted_line: int | None = None
    lift = cfg.lift_furniture
    n = len(texts)
    index = 0
    while index < n:
        t = texts[index]
        if t is None:
            blanks += 1
            index += 1
            continue
        ln_width = widths[index]
        if lifted_line is not None:
            events.append(
                Event(
                    R_FURNITURE.name,
                    STAGE,
                    f"line {lifted_line + 1} is page furniture; line {index + 1} is decided against "
                    f"line {cur.last + 1 if cur else '?'}",
                    line=lifted_line + 1,
                    line_end=index + 1,
                )
            )
            lifted_line = None
        furniture = _liftable_furniture(t) if lift else None
        if cur is None:
            cur = _Open([t], ln_width, index, index, blanks > 0, [])
            cur.furniture = furniture is not None
            blanks = 0
            index += 1
            continue
        p = cur.last
        if cur.furniture:
            # the open block is a furniture line (page start): it never continues
            events.append(
                Event(
                    R_FURNITURE.name,
                    STAGE,
                    f"line {p + 1} is page furniture",
                    line=p + 1,
                    line_end=index + 1,
                )
            )
            close(cur)
            cur = _Open([t], ln_width, index, index, blanks > 0, [])
            cur.furniture = furniture is not None
            blanks = 0
            index += 1
            continue
        if furniture is not None:
            events.append(
                Event(
                    R_FURNITURE.name,
                    STAGE,
                    f"'{t[:30]}' is page furniture ({furniture}): set apart, the paragraph of "
                    f"line {p + 1} may continue after it",
                    line=p + 1,
                    line_end=index + 1,
                )
            )
            lifted.append(Block(t, index + 1, index + 1, indented=indented[index], after_blank=blanks > 0))
            lifted_line = index
            blanks = 0  # blank lines around a page header say nothing about the paragraph
            index += 1
            continue
        rule, sep, evidence = _decide(cur, page[p], page, index, blanks, width, latin_w, cfg)
        if sep == BREAK:
            events.append(Event(rule, STAGE, evidence, p + 1, index + 1))
            close(cur)
            cur = _Open([t], ln_width, index, index, blanks > 0, [])
        else:
            before_tail = cur.parts[-1]
            if sep == "\x01":  # remove the break hyphen
                cur.parts[-1] = before_tail[:-1]
                sep = ""
            elif sep == "\x02":  # keep the compound's hyphen
                sep = ""
            cur.parts.append(sep + t)
            cur.text_cells += ln_width
            cur.joins.append(rule)
            cur.last = index
            events.append(
                Event(
                    rule,
                    STAGE,
                    evidence,
                    line=p + 1,
                    line_end=index + 1,
                    before=f"{before_tail[-12:]}⏎{t[:12]}",
                    after=(cur.parts[-2][-12:] + cur.parts[-1][:12]),
                )
            )
        blanks = 0
        index += 1
    if cur is not None:
        close(cur)
    blocks.extend(lifted)
    return blocks, events
