"""Script and language hints, and a fast character-level Traditional→Simplified fold.

``guess_lang`` labels text ``zh-Hans``, ``zh-Hant``, ``zh`` (Han text with no
script-specific characters), ``ja``, ``ko``, ``en`` (Latin script) or ``und``.
It counts characters that exist in only one of the two Chinese scripts, using
the character tables shipped with OpenCC, so no model is loaded.

``fold_traditional`` maps each Traditional character to its first Simplified
equivalent with ``str.translate``: about two orders of magnitude faster than
OpenCC's phrase-level conversion and good enough for a dedup key (never for
output text, where ``to_simplified`` uses OpenCC's full conversion).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from cleaning import jit

_LATIN = re.compile(r"[A-Za-z]")


def opencc_dictionary(name: str) -> Path:
    """One of the character tables opencc-python-reimplemented ships (``TSCharacters.txt``,
    ``STCharacters.txt``): the fold to Simplified and the script guess read them, and the dedup
    key's kept tables are keyed by the file they were built from."""
    import opencc

    return Path(opencc.__file__).parent / "dictionary" / name


@cache
def _tables() -> tuple[dict[int, str], frozenset[str], frozenset[str]]:
    """(translate table T→S, Traditional-only chars, Simplified-only chars)."""
    t2s: dict[int, str] = {}
    trad_only: set[str] = set()
    simp_only: set[str] = set()
    for line in opencc_dictionary("TSCharacters.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) != 2 or len(parts[0]) != 1:
            continue
        trad, simps = parts[0], parts[1].split()
        if simps and simps[0] != trad and len(simps[0]) == 1:
            t2s[ord(trad)] = simps[0]
            trad_only.add(trad)
    for line in opencc_dictionary("STCharacters.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) != 2 or len(parts[0]) != 1:
            continue
        simp, trads = parts[0], parts[1].split()
        if trads and simp not in trads:
            simp_only.add(simp)
    # A character that is both (rare, e.g. variant pairs) tells nothing.
    both = trad_only & simp_only
    return t2s, frozenset(trad_only - both), frozenset(simp_only - both)


def script_specific_chars() -> tuple[frozenset[str], frozenset[str]]:
    """(characters used only in Traditional Chinese, characters used only in Simplified)."""
    _, trad_only, simp_only = _tables()
    return trad_only, simp_only


def fold_traditional(text: str) -> str:
    """Character-level Traditional→Simplified fold (for dedup keys)."""
    return text.translate(_tables()[0])


# Character classes as bits of one byte per code point, so that one table look-up and one
# bincount over a text's code points give every count guess_lang needs (~6x faster than a
# regex or map() pass per count). Code points above the table (beyond the Han ranges) have none.
_HAN_BIT, _TRAD_BIT, _SIMP_BIT, _KANA_BIT, _HANGUL_BIT, _LATIN_BIT = (1 << k for k in range(6))
_TABLE_TOP = 0x31350


@cache
def _class_table() -> tuple[np.ndarray, np.ndarray]:
    """(class bits per code point up to _TABLE_TOP, 64x6 matrix from bit pattern to per-bit counts)."""
    table = np.zeros(_TABLE_TOP + 1, dtype=np.uint8)
    ranges = [
        (_HAN_BIT, 0x3400, 0x4DBF),
        (_HAN_BIT, 0x4E00, 0x9FFF),
        (_HAN_BIT, 0xF900, 0xFAFF),
        (_HAN_BIT, 0x20000, 0x3134F),
        (_KANA_BIT, 0x3040, 0x30FF),
        (_HANGUL_BIT, 0xAC00, 0xD7AF),
        (_LATIN_BIT, ord("A"), ord("Z")),
        (_LATIN_BIT, ord("a"), ord("z")),
    ]
    for bit, first, last in ranges:
        table[first : last + 1] |= bit
    trad_only, simp_only = script_specific_chars()
    for chars, bit in ((trad_only, _TRAD_BIT), (simp_only, _SIMP_BIT)):
        codes = np.fromiter(map(ord, chars), dtype=np.int64, count=len(chars))
        table[codes[codes <= _TABLE_TOP]] |= bit
        # every script-specific character is Han, far below the top (tests/test_lang.py)
    per_bit = np.array([[(v >> k) & 1 for k in range(6)] for v in range(64)], dtype=np.int64)
    return table, per_bit


@jit.kernel
def _class_histograms(
    codes: np.ndarray, ends: np.ndarray, table: np.ndarray, top: int, out: np.ndarray
) -> None:
    """``out[j, v]``: the characters of the ``j``-th text whose ``table`` value is ``v``, the texts
    laid end to end in ``codes`` (the ``j``-th ends before ``ends[j]``); none above ``top``."""
    j = 0
    for i in range(codes.shape[0]):
        while i >= ends[j]:
            j += 1
        c = codes[i]
        if c <= top:
            out[j, table[c]] += 1


def _class_counts(s: str) -> list[int]:
    """[Han, Traditional-only, Simplified-only, kana, hangul, Latin letters] in ``s``."""
    table, per_bit = _class_table()
    # lone surrogates (possible in a str) encode as themselves and fall in no class
    codes = np.frombuffer(s.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    if jit.enabled():  # one compiled pass: a few numpy calls cost more on an article's 1200 characters
        hist = np.zeros((1, 64), dtype=np.int64)
        _class_histograms(codes, np.array([len(codes)], dtype=np.int64), table, _TABLE_TOP, hist)
        return (hist[0] @ per_bit).tolist()
    return (np.bincount(table[np.minimum(codes, _TABLE_TOP)], minlength=64) @ per_bit).tolist()


def guess_lang(text: str, sample: int = 1200) -> str:
    s = text[:sample]
    if s.isascii():
        return "en" if len(_LATIN.findall(s)) >= 20 else "und"
    return _label(*_class_counts(s))


def guess_langs(texts: Sequence[str], sample: int = 1200) -> list[str]:
    """:func:`guess_lang` of each text, with one encoding and one compiled pass for them all.

    A page's articles are short: per article, encoding and calling the count kernel cost
    more than counting. An ASCII sample counts no Han, kana or hangul, so the general rule
    below gives what guess_lang's ASCII shortcut gives.
    """
    if not jit.enabled() or not texts:
        return [guess_lang(t, sample) for t in texts]
    samples = [t[:sample] for t in texts]
    table, per_bit = _class_table()
    codes = np.frombuffer("".join(samples).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    ends = np.cumsum(np.fromiter(map(len, samples), dtype=np.int64, count=len(samples)))
    # one increment per character into a histogram of the 64 class patterns, which one product
    # turns into the six counts
    hist = np.zeros((len(samples), 64), dtype=np.int64)
    _class_histograms(codes, ends, table, _TABLE_TOP, hist)
    return [_label(*counts) for counts in (hist @ per_bit).tolist()]


def _label(han: int, t: int, si: int, kana: int, hangul: int, latin: int) -> str:
    """The label of a text by its class counts (:func:`_class_counts`)."""
    if kana and kana * 5 >= han:
        return "ja"
    if hangul and hangul >= han:
        return "ko"
    if han == 0:
        return "en" if latin >= 20 else "und"
    if latin > 4 * han:
        return "en"
    if t > 2 * si and t >= 2:
        return "zh-Hant"
    if si > 2 * t and si >= 2:
        return "zh-Hans"
    return "zh"


@cache
def _opencc_t2s():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Phrase-aware Traditional→Simplified conversion with OpenCC (slow; optional column)."""
    return _opencc_t2s().convert(text)
