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
from functools import cache
from itertools import repeat
from pathlib import Path

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
# Chinese text has few characters that are not Han: counting those is about 3x faster.
_NOT_HAN = re.compile(r"[^\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_LATIN = re.compile(r"[A-Za-z]")


def _opencc_dictionary(name: str) -> Path:
    import opencc

    return Path(opencc.__file__).parent / "dictionary" / name


@cache
def _tables() -> tuple[dict[int, str], frozenset[str], frozenset[str]]:
    """(translate table T→S, Traditional-only chars, Simplified-only chars)."""
    t2s: dict[int, str] = {}
    trad_only: set[str] = set()
    simp_only: set[str] = set()
    for line in _opencc_dictionary("TSCharacters.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) != 2 or len(parts[0]) != 1:
            continue
        trad, simps = parts[0], parts[1].split()
        if simps and simps[0] != trad and len(simps[0]) == 1:
            t2s[ord(trad)] = simps[0]
            trad_only.add(trad)
    for line in _opencc_dictionary("STCharacters.txt").read_text(encoding="utf-8").splitlines():
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


@cache
def _script_weights() -> dict[str, int]:
    """1 for a Traditional-only character, 2**32 for a Simplified-only one: one sum counts both."""
    _, trad_only, simp_only = _tables()
    return {**dict.fromkeys(trad_only, 1), **dict.fromkeys(simp_only, _SIMP_UNIT)}


_SIMP_UNIT = 1 << 32  # far above any sample's length, so the two counts never mix


def guess_lang(text: str, sample: int = 1200) -> str:
    s = text[:sample]
    han = len(s) - len(_NOT_HAN.findall(s))
    # kana, hangul and Latin letters are only counted where they can change the answer
    kana = len(_KANA.findall(s)) if _KANA.search(s) else 0
    if kana and kana * 5 >= han:
        return "ja"
    hangul = len(_HANGUL.findall(s)) if _HANGUL.search(s) else 0
    if hangul and hangul >= han:
        return "ko"
    if han == 0:
        return "en" if len(_LATIN.findall(s)) >= 20 else "und"
    if len(s) - han > 4 * han and len(_LATIN.findall(s)) > 4 * han:
        return "en"
    # map() of a dict's get runs in C: one pass counts both scripts (the weights of
    # _script_weights), ~2x faster than a pass per script and ~20x faster than a regex
    # class of a few thousand characters.
    both = sum(map(_script_weights().get, s, repeat(0)))
    t, si = both % _SIMP_UNIT, both // _SIMP_UNIT
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
