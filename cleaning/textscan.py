"""Per-line character scans of a whole page in one compiled pass.

Several stages ask, of every line of a page, "does it hold any character of
this class?" before they spend time on it (repair's hints, the furniture keys'
whitespace and digits). One regex pass per class over the page's joined text
costs 10-20 ns per character and class; a table of flag bits per code point,
read by one compiled loop over the page's code points (:mod:`cleaning.jit`),
costs about 1-2 ns per character for all classes at once.

The tables are built from the stages' own regex classes, by matching them
against every code point (surrogates included: a ``str`` may hold lone ones),
so a class and its table cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

import numpy as np

from cleaning import jit

NUM_CODE_POINTS = 0x110000


def codes_of(text: str) -> np.ndarray:
    """The code points of ``text``: ``uint8`` for ASCII text (a quarter of the bytes to encode and
    scan), else ``uint32``; lone surrogates encode as themselves."""
    if text.isascii():
        return np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


@cache
def every_code_point() -> str:
    """All code points in order, surrogates included: the character at position ``c`` is ``chr(c)``.

    Built once per process (~15 ms, 4.5 MB) for the tables below and :mod:`cleaning.dedup.key`'s.
    """
    return np.arange(NUM_CODE_POINTS, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")


def code_points_matching(pattern: str | re.Pattern[str], stop: int = NUM_CODE_POINTS) -> np.ndarray:
    """Per code point below ``stop``, whether the one-character regex ``pattern`` matches it."""
    rx = re.compile(pattern) if isinstance(pattern, str) else pattern
    found = np.zeros(stop, dtype=bool)
    found[[m.start() for m in rx.finditer(every_code_point(), 0, stop)]] = True
    return found


def class_ranges(spec: str) -> list[tuple[int, int]]:
    """Code point ranges of a regex character-class body such as ``"a-z\u3000"`` (characters and
    ranges only: no escapes, no negation). Filling a table by ranges is far quicker than matching
    the class against every code point when it holds many (the 131,070 of Plane 2 and 3)."""
    out, i = [], 0
    while i < len(spec):
        if i + 2 < len(spec) and spec[i + 1] == "-":
            out.append((ord(spec[i]), ord(spec[i + 2])))
            i += 3
        else:
            out.append((ord(spec[i]), ord(spec[i])))
            i += 1
    return out


def class_table(classes: Sequence[tuple[str, int]], dtype: type = np.uint8) -> np.ndarray:
    """A read-only table (``uint8`` unless ``dtype`` says) over every code point: bit ``b`` is set
    on the characters the one-character regex ``pattern`` matches, for each ``(pattern, b)`` of
    ``classes``."""
    table = np.zeros(NUM_CODE_POINTS, dtype=dtype)
    for pattern, bit in classes:
        table[code_points_matching(pattern)] |= bit
    table.setflags(write=False)
    return table


@jit.kernel
def _line_or(codes: np.ndarray, table: np.ndarray, out: np.ndarray) -> None:
    """``out[k]``: the OR of ``table`` over the characters of the ``k``-th ``"\\n"``-separated line."""
    line = 0
    acc = 0
    for i in range(codes.shape[0]):
        c = codes[i]
        if c == 10:
            out[line] = acc
            line += 1
            acc = 0
        else:
            acc |= table[c]
    out[line] = acc


def line_flags(lines: Sequence[str], table: np.ndarray, text: str | None = None) -> np.ndarray | None:
    """Per line, the OR of ``table``'s bits over its characters (``uint8``), by one pass over the
    joined lines (``text``: ``"\\n".join(lines)`` when the caller has it); ``None`` when a line
    holds ``"\\n"`` (the joined text cannot be split back) or the kernels are off (the caller's
    own scan is faster than the plain definition)."""
    if not jit.enabled():
        return None
    out = np.zeros(len(lines), dtype=np.uint8)
    if not lines:
        return out
    if text is None:
        text = "\n".join(lines)
    if text.count("\n") != len(lines) - 1:
        return None
    _line_or(codes_of(text), table, out)
    return out


def lines_matching(rx: re.Pattern[str], lines: Sequence[str], text: str) -> np.ndarray:
    """Per line, whether a match of ``rx`` over ``text`` (``lines`` joined by line feeds, none
    inside a line) starts in it: one regex pass over the page instead of a call per line.

    For a pattern whose matches hold no line feed, a line ``rx.search`` finds something in is
    always flagged (the scan reaches each line before any match inside it). A lookaround may
    read the joining line feed: a positive one (``(?=\\s)``) can only flag more lines, so the
    flags are a pre-filter for the exact per-line test, not its answer.
    """
    found = np.zeros(len(lines), dtype=bool)
    starts = [m.start() for m in rx.finditer(text)]
    if starts:
        ends = np.cumsum(np.fromiter(map(len, lines), dtype=np.int64, count=len(lines)) + 1)
        found[np.searchsorted(ends, starts, side="right")] = True
    return found
