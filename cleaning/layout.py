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
from functools import cache
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cleaning import english, jit, segment, textscan
from cleaning.model import Block, Event
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
_SENTENCE_INSIDE = re.compile(r"[。；;！？]|[.!?]\s+[A-Z]")
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


@cache
def _jieba_freq() -> dict[str, str]:
    """jieba's main dictionary as ``{word: frequency digits}``, read straight from its file.

    Seam look-ups need nothing but a word's frequency. ``jieba.initialize()`` builds
    ``jieba.dt.FREQ`` (every word plus every prefix of one, with frequency 0) and takes
    ~0.9 s per process, most of a small shard's layout time; splitting the file once
    takes ~0.25 s, gives the same frequency for every word (prefixes are simply absent,
    and absent counts as 0 as before), and does not import jieba. Frequencies stay
    strings until a look-up needs one. ``tests/test_layout.py`` compares the table with
    ``jieba.dt.FREQ``.
    """
    import importlib.util

    spec = importlib.util.find_spec("jieba")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("jieba is needed for the seam-word test of layout")
    path = Path(next(iter(spec.submodule_search_locations))) / "dict.txt"
    text = path.read_text(encoding="utf-8")
    tokens = text.split()
    # One "word frequency tag" per line is the format jieba ships; anything else
    # (a two-field line) is read line by line, the way jieba itself reads it.
    if len(tokens) == 3 * text.count("\n") and all(f.isdigit() for f in tokens[1::3]):
        return dict(zip(tokens[0::3], tokens[1::3], strict=True))
    table: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.strip().split(" ")
        if len(fields) >= 2 and fields[1].isdigit():
            table[fields[0]] = fields[1]
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
    freq = _jieba_freq()
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
                f = int(freq.get(a + b, 0))
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


def _class_ranges(spec: str) -> list[tuple[int, int]]:
    """Code point ranges of a regex character-class body such as ``"a-z\u3000"``."""
    out, i = [], 0
    while i < len(spec):
        if i + 2 < len(spec) and spec[i + 1] == "-":
            out.append((ord(spec[i]), ord(spec[i + 2])))
            i += 3
        else:
            out.append((ord(spec[i]), ord(spec[i])))
            i += 1
    return out


# Per-line character counts are read from one cumulative sum of packed per-character fields:
# display cells, Han, ASCII letter, visible (neither whitespace nor invisible), 16 bits each.
_FIELD_BITS = 16
_MAX_PACKED_LINE = (1 << (_FIELD_BITS - 1)) - 1  # characters: 2 cells each still fit a field
_CELL_MASK = np.uint64((1 << _FIELD_BITS) - 1)


@cache
def _char_tables(ambiguous_wide: bool) -> np.ndarray:
    """Per code point, packed: display cells (as :func:`display_width`), Han (as ``_HAN``), ASCII
    letter, visible (as ``_VISIBLE``)."""
    cells = np.ones(0x110000, dtype=np.uint64)
    wide = segment._WIDE_CORE + (segment._AMBIGUOUS_PUNCT if ambiguous_wide else "")
    for lo, hi in _class_ranges(wide):
        cells[lo : hi + 1] = 2
    for lo, hi in _class_ranges(segment._ZERO_WIDTH_CH):
        cells[lo : hi + 1] = 0
    han = np.zeros(0x110000, dtype=np.uint64)
    for lo, hi in _class_ranges(_HAN_CH):
        han[lo : hi + 1] = 1
    letter = np.zeros(0x110000, dtype=np.uint64)
    letter[ord("A") : ord("Z") + 1] = 1
    letter[ord("a") : ord("z") + 1] = 1
    visible = np.ones(0x110000, dtype=np.uint64)
    # every Unicode whitespace character (str.isspace, regex \s) lies below U+3001
    visible[[c for c in range(0x3001) if chr(c).isspace()]] = 0
    for lo, hi in _class_ranges("\u200b-\u200f\u2060\ufeff\u00ad"):
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


def _line_sums(lines: list[str], ambiguous_wide: bool) -> _PageSums | None:
    """Per-line counts from one array pass over the page instead of a few regex scans per line.
    ``None`` when a line holds a line feed or is too long for the packed fields."""
    page = "\n".join(lines)
    if page.count("\n") != len(lines) - 1:
        return None
    lengths = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
    if int(lengths.max()) > _MAX_PACKED_LINE:
        return None
    if jit.enabled():
        return _line_sums_compiled(page, lengths, ambiguous_wide)
    ends = np.cumsum(lengths + 1) - 1  # index of each line's terminating line feed
    starts = ends - lengths
    if page.isascii():
        # English pages: one byte per character, every character one cell, no Han; only the
        # letters and the visible characters are counted (packed in 32-bit fields)
        codes = np.frombuffer(page.encode("ascii"), dtype=np.uint8)
        cum = np.concatenate((np.zeros(1, dtype=np.int64), np.cumsum(_ascii_table()[codes], dtype=np.int64)))
        sums = cum[ends] - cum[starts]
        fields = np.stack((lengths, np.zeros_like(lengths), sums >> 32, sums & 0xFFFFFFFF))
    else:
        codes = np.frombuffer(page.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        # wraps modulo 2**64; the difference of two sums is exact, and no field of one line overflows
        table = _char_tables(ambiguous_wide)
        cum = np.concatenate((np.zeros(1, dtype=np.uint64), np.cumsum(table[codes])))
        sums = cum[ends] - cum[starts]
        # the four 16-bit fields of each sum, lowest first
        fields = sums.astype("<u8", copy=False).view("<u2").reshape(-1, 4).T.astype(np.int64)
    # an empty line reads the line feed around it: it is blank, its characters are never used
    first = codes[np.minimum(starts, len(codes) - 1)].astype(np.int64)
    last = codes[np.maximum(ends - 1, 0)].astype(np.int64)
    second = np.where(lengths > 1, codes[np.maximum(ends - 2, 0)], 0).astype(np.int64)
    # the usual paragraph indent, U+3000 twice (and no third), read at the line starts
    top = len(codes) - 1
    two = (
        (first == 0x3000)
        & (codes[np.minimum(starts + 1, top)] == 0x3000)
        & (codes[np.minimum(starts + 2, top)] != 0x3000)
        & (lengths > 2)
    )
    return _PageSums(*fields, first=first, last=last, second=second, lengths=lengths, ideographic_indent=two)


@jit.kernel
def _line_sums_kernel(
    codes: np.ndarray,
    table: np.ndarray,
    sums: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    second: np.ndarray,
    two: np.ndarray,
) -> None:
    """Per ``"\\n"``-separated line of ``codes``: the sum of its packed ``table`` fields and the
    code points :func:`_line_sums` reads at its ends, as that function's array expressions give
    them (an empty line reads the line feeds around it)."""
    n = codes.shape[0]
    top = n - 1
    line = 0
    start = 0
    acc = np.uint64(0)
    for i in range(n + 1):
        if i < n and codes[i] != 10:
            acc += table[codes[i]]
            continue
        length = i - start
        sums[line] = acc
        first[line] = codes[min(start, top)]
        last[line] = codes[max(i - 1, 0)]
        second[line] = codes[max(i - 2, 0)] if length > 1 else 0
        two[line] = (
            length > 2
            and codes[min(start, top)] == 0x3000
            and codes[min(start + 1, top)] == 0x3000
            and codes[min(start + 2, top)] != 0x3000
        )
        line += 1
        start = i + 1
        acc = np.uint64(0)


def _line_sums_compiled(page: str, lengths: np.ndarray, ambiguous_wide: bool) -> _PageSums:
    """:func:`_line_sums` of a page of two lines or more by one compiled pass (ASCII pages as
    bytes, read through the same table: no ASCII character is wide or zero-width, so every field
    equals the ASCII path's)."""
    n = len(lengths)
    sums = np.empty(n, dtype=np.uint64)
    first, last, second = (np.empty(n, dtype=np.int64) for _ in range(3))
    two = np.empty(n, dtype=np.bool_)
    _line_sums_kernel(textscan.codes_of(page), _char_tables(ambiguous_wide), sums, first, last, second, two)
    fields = sums.astype("<u8", copy=False).view("<u2").reshape(-1, 4).T.astype(np.int64)
    return _PageSums(*fields, first=first, last=last, second=second, lengths=lengths, ideographic_indent=two)


class _Page:
    """A page's non-blank lines as columns (``texts[i]`` is ``None`` for a blank line); a
    :class:`_Line` is made only when a decision needs one (``page[i]``). ``arrays``: the same
    as numpy arrays, when the page was measured as a whole."""

    __slots__ = ("arrays", "indented", "latin", "texts", "trailing", "widths")

    def __init__(
        self,
        texts: list[str | None],
        widths: list[int],
        indented: list[bool],
        trailing: list[bool],
        latin: list[bool],
        arrays: _Arrays | None = None,
    ) -> None:
        self.texts, self.widths, self.indented = texts, widths, indented
        self.trailing, self.latin, self.arrays = trailing, latin, arrays

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


def _prepare_page(lines: list[str], cfg: LayoutConfig) -> _Page:
    """:func:`_prepare_reference` as columns from page arrays; only blank lines, lines with
    trailing whitespace and lines starting with a space, a tab or U+3000 (possible indents) are
    looked at one by one."""
    n = len(lines)
    sums = _line_sums(lines, cfg.ambiguous_wide) if n > 1 else None
    if sums is None:
        return _Page.of(_prepare_reference(lines, cfg))
    texts: list[str | None] = list(map(str.rstrip, lines))
    trailing = np.fromiter(map(len, texts), dtype=np.int64, count=n) != sums.lengths
    han_latin = sums.han * 4 < sums.letters
    latin_a = np.fromiter(map(str.isascii, texts), dtype=bool, count=n) | han_latin
    present = sums.visible != 0
    widths_a, first, last, second = sums.cells, sums.first, sums.last, sums.second
    indented_a = np.zeros(n, dtype=bool)
    widths = widths_a.tolist()
    latin = latin_a.tolist()
    indented = [False] * n
    trailing_space = [False] * n
    f = sums.first
    # the usual indent (two U+3000 and a visible line) is cut off for all such lines at once
    plain_indent = sums.ideographic_indent & present & ~trailing
    odd_a = (trailing | ~present | (f == 0x3000) | (f == 0x20) | (f == 0x09)) & ~plain_indent
    odd_idx = odd_a.nonzero()[0]
    odd = odd_idx.tolist()
    indent = _INDENT.match
    amb = cfg.ambiguous_wide
    odd_cols = (trailing[odd_idx].tolist(), present[odd_idx].tolist(), han_latin[odd_idx].tolist())
    changed: list[int] = plain_indent.nonzero()[0].tolist()  # lines whose text is not the stripped line
    if changed:
        cut = [texts[i][2:] for i in changed]
        for i, text in zip(changed, cut, strict=True):
            texts[i] = text
            indented[i] = True
        for i, text, hl in zip(changed, cut, han_latin[changed].tolist(), strict=True):
            latin[i] = text.isascii() or hl
    for i, tr, vis, hl in zip(odd, *odd_cols, strict=True):
        if not vis:
            texts[i] = None
            continue
        st = texts[i]
        if tr:
            # trailing whitespace counts up to 2 cells (a space the break fell on is kept)
            raw = lines[i]
            tail = display_width(raw[len(st) :], amb)
            widths[i] = widths[i] - tail + min(2, tail)
            widths_a[i] = widths[i]
            trailing_space[i] = raw[len(st)] == " " and raw.endswith(" ")
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
    for i in (~present).nonzero()[0].tolist():
        filled[i] = "\x00"
    latin_a &= present
    amb = cfg.ambiguous_wide
    arrays = _arrays_of(filled, present, widths_a, latin_a, indented_a, first, last, second, amb)
    return _Page(texts, widths, indented, trailing_space, latin, arrays)


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
    text = line.text
    # Opening quotes and brackets may not end a line: they travel with what follows.
    k = 0
    while k < len(text) - 1 and text[k] in _OPENING:
        k += 1
    m = _ASCII_WORD.match(text, k)
    unit = text[:k] + (m.group(0) if m else text[k : k + 1])
    return display_width(unit, cfg.ambiguous_wide)


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


def _headline_run(
    lines: list[_Line | None], j: int, width: int, cfg: LayoutConfig, max_lines: int = 6
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


def build_blocks(lines: list[str], cfg: LayoutConfig) -> tuple[list[Block], list[Event]]:
    """Rebuild paragraphs (``Block``) from source lines; one event per line-break decision."""
    return _build_blocks(lines, cfg, fast=True)


# Last characters a paragraph-final text can have (``_PARA_FINAL``): any other ends no paragraph.
_PARA_FINAL_LAST = frozenset("。！？!?…．.；;：:\"'”’」』）)]】〕》—")
_HYPHENS = ("-", "\u00ad", "‐")


@cache
def _char_cells(ch: str, ambiguous_wide: bool) -> int:
    return display_width(ch, ambiguous_wide)


# Character classes of a line's first and last character, as bits of one table over code points.
_F_FORBIDDEN, _F_FINAL_LAST, _F_TERMINAL = 1, 2, 4
# Ends a paragraph by itself (``_PARA_FINAL`` with no closing quote or bracket after it).
_TERMINAL = "。！？!?…．.；;：:"


@cache
def _flag_table() -> np.ndarray:
    table = np.zeros(0x110000, dtype=np.uint8)
    for flag, chars in (
        (_F_FORBIDDEN, _LINE_INITIAL_FORBIDDEN),
        (_F_FINAL_LAST, _PARA_FINAL_LAST),
        (_F_TERMINAL, _TERMINAL),
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
    return _arrays_of(filled, present, widths, latin, indented, first, last, second, ambiguous_wide)


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
    flags = _flag_table()
    last_flags = flags[last]
    # a paragraph-final line: a terminal mark at the end settles it, only a closing quote or
    # bracket (or a dash) needs the pattern
    final = (last_flags & _F_TERMINAL).astype(bool) & present
    for i in ((last_flags & (_F_FINAL_LAST | _F_TERMINAL)) == _F_FINAL_LAST).nonzero()[0].tolist():
        final[i] = bool(present[i]) and is_para_final(filled[i])
    # cells of the punctuation ending a line that may hang past the column: the last one or two
    # characters that cannot start a line (``_hanging_cells``; ambiguous punctuation wide)
    cells = (_char_tables(True)[np.stack((last, second))] & _CELL_MASK).astype(np.int64)
    hang_last = (last_flags & _F_FORBIDDEN).astype(bool)
    hang_second = hang_last & (flags[second] & _F_FORBIDDEN).astype(bool)
    hanging = np.where(hang_last, cells[0], 0) + np.where(hang_second, cells[1], 0)
    first_cells = (_char_tables(ambiguous_wide)[first] & _CELL_MASK).astype(np.int64)
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


def _page_latin_width(arr: _Arrays) -> int | None:
    """Typical width (characters) of the page's Latin lines: their 80th percentile."""
    ws = np.sort(arr.widths[arr.latin])
    if len(ws) < 4:
        return None
    return int(ws[int(len(ws) * 0.8)])


def _build_blocks(lines: list[str], cfg: LayoutConfig, fast: bool) -> tuple[list[Block], list[Event]]:
    """:func:`build_blocks`; ``fast=False`` decides every break with :func:`_decide` alone (the
    reference the fast path is tested against)."""
    page = _prepare_page(lines, cfg) if fast else _Page.of(_prepare_reference(lines, cfg))
    texts, widths, indented, latin, trailing = (
        page.texts,
        page.widths,
        page.indented,
        page.latin,
        page.trailing,
    )
    # Lines ending in punctuation may hang it past the column (GB/T 15834).
    arr = _arrays(page, cfg.ambiguous_wide)
    col_widths, hanging, final_line = _column_inputs(arr)
    width = column_width(col_widths, cfg, hanging, final_line)
    latin_w = _page_latin_width(arr)
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
    # The fast path below takes the routine decision of a hard-wrapped page (the line filled the
    # column and nothing else applies) without the general :func:`_decide`; same rule, same evidence.
    wrap_fast = fast and width is not None
    limit = width - cfg.column_slack if width is not None else 0
    lift = cfg.lift_furniture
    wrap_name = R_WRAP.name
    credit_hint = segment._CREDIT_HINT.search
    role_first = segment._ROLE_FIRST_CHARS
    # Lines that may be liftable furniture: one scan of the page for the pre-filter's words.
    hinted = _hinted_lines(lines) if fast and lift else None
    english_fast = fast and width is None and latin_w is not None
    short_english = cfg.english_short_line_ratio * latin_w if latin_w is not None else 0.0
    english_name = R_ENGLISH.name
    wrap_detail, english_detail, join_event = _WRAP_DETAIL, _ENGLISH_DETAIL, _JoinEvent
    final_l = arr.final.tolist()
    first_cells = arr.first_cells.tolist()
    blank_name, indent_name, short_name, sentence_name = (
        R_BLANK.name,
        R_INDENT.name,
        R_SHORT.name,
        R_SENTENCE.name,
    )

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
        furniture = _liftable_furniture(t) if lift and (hinted is None or index in hinted) else None
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
        prev_text, prev_latin, prev_width = texts[p], latin[p], widths[p]
        ln_latin = latin[index]
        fast_rule: str | None = None
        if (
            fast
            and not blanks
            and not indented[index]
            and (t[0] not in _LINE_INITIAL_FORBIDDEN or (prev_latin and t[0] in ",;:!?)"))
            and not (prev_latin and prev_text.endswith(_HYPHENS))
        ):
            if wrap_fast and t[0] not in _LINE_INITIAL_FORBIDDEN:
                # _fills_column, with the first unit's width from a per-character cache when it is
                # one character (neither an opening bracket nor the start of a Latin word)
                c = t[0]
                unit = (
                    _first_unit_width(page[index], cfg)
                    if c in _OPENING or c.isascii()
                    else first_cells[index]
                )
                # the same tests as the general path, cheapest first; the paragraph's last part is
                # the previous line (after a separator), so whether it ends the paragraph was
                # settled for the page (``final``)
                if (
                    prev_width + unit + (1 if (ln_latin and prev_latin) else 0) > limit
                    and not final_l[p]
                    and (c not in role_first or not segment.starts_with_role(t))
                    and not (
                        cur.text_cells <= _MAX_CREDIT_CELLS
                        and credit_hint(bt := cur.text())
                        and segment.is_byline_or_caption(bt)
                    )
                ):
                    a = prev_text[-1]
                    fast_sep = (
                        " "
                        if trailing[p]
                        or (a.isascii() and not a.isspace() and c.isascii() and not c.isspace())
                        else ""
                    )
                    fast_rule, fast_fmt, fast_x, fast_y, fast_z = (
                        wrap_name,
                        wrap_detail,
                        prev_width,
                        width,
                        unit,
                    )
            elif english_fast and ln_latin and prev_latin:
                final = final_l[p]
                if not (final and prev_width < short_english):
                    fast_rule, fast_sep = english_name, " "
                    fast_fmt, fast_y, fast_z = english_detail, prev_width, latin_w
                    fast_x = "does not end a sentence" if not final else "fills the line"
        if fast_rule is not None:
            parts = cur.parts
            before_tail = parts[-1]
            parts.append(fast_sep + t)
            cur.text_cells += ln_width
            cur.joins.append(fast_rule)
            cur.last = index
            events.append(
                join_event(
                    fast_rule, p + 1, index + 1, fast_fmt, fast_x, fast_y, fast_z, before_tail, fast_sep, t
                )
            )
            index += 1
            continue
        rule = None
        if (
            fast
            and final_l[p]
            and (t[0] not in _LINE_INITIAL_FORBIDDEN or (prev_latin and t[0] in ",;:!?)"))
            and not (not blanks and prev_latin and prev_text[-1] in "-\u00ad‐")
        ):
            # A routine paragraph mark after a paragraph-final line (no broken paragraph to
            # repair): the rule and evidence :func:`_decide` gives, without its other tests.
            if blanks:
                rule, sep, evidence = blank_name, BREAK, f"{blanks} blank line(s) before line {index + 1}"
            elif indented[index]:
                rule, sep, evidence = indent_name, BREAK, f"line {index + 1} is indented"
            elif width is not None:
                c = t[0]
                unit = (
                    _first_unit_width(page[index], cfg)
                    if c in _OPENING or c.isascii()
                    else first_cells[index]
                )
                if prev_width + unit + (1 if (ln_latin and prev_latin) else 0) <= limit:
                    rule, sep, evidence = (
                        short_name,
                        BREAK,
                        f"line {p + 1} is {prev_width} cells of a {width}-cell column; "
                        f"'{t[:3]}' ({unit} cells) would have fit",
                    )
            elif latin_w is not None and prev_latin and ln_latin and prev_width < short_english:
                rule, sep, evidence = (
                    sentence_name,
                    BREAK,
                    f"line {p + 1} ends a sentence at {prev_width} of ~{latin_w} characters",
                )
        if rule is None:
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
