"""The dedup key: what two paragraphs are compared on, separate from the stored text.

The key is width-folded (NFKC: full-width letters, digits and punctuation become
half-width), optionally case-folded and Traditional→Simplified folded, and keeps
only letters, digits and marks: punctuation, symbols and whitespace go, so
``史燕还一展厨艺,给`` and ``史燕还一展厨艺，给`` have one key. CJK keys keep no
spaces at all (their shingles are character n-grams); keys of space-separated
text keep one space between words (their shingles are word n-grams).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from cleaning.dedup.config import DedupConfig
from cleaning.lang import fold_traditional

UNIT_CHAR = 0  # CJK characters
UNIT_WORD = 1  # space-separated words (or jieba words)
UNIT_LATIN_CHAR = 2  # characters of space-separated text, spaces dropped (latin_unit="char")

# Anything that is not a letter, digit or mark (plus "_", which \w counts as a word character).
_NON_WORD = re.compile(r"[\W_]+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\U00020000-\U0003134f]")
# How much of a text is looked at to decide between character and word shingles.
_UNIT_SAMPLE = 400


@cache
def _default_config() -> DedupConfig:
    return DedupConfig()


def _fold(text: str, cfg: DedupConfig) -> str:
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    if cfg.casefold:
        text = text.lower()
    if cfg.fold_traditional:
        text = fold_traditional(text)
    return text


def is_cjk_text(text: str) -> bool:
    """True when CJK characters make up at least a third of the letters sampled."""
    sample = text[:_UNIT_SAMPLE]
    cjk = len(_CJK.findall(sample))
    if cjk == 0:
        return False
    letters = len(_NON_WORD.sub("", sample))
    return 3 * cjk >= letters


def _jieba_words(key: str) -> list[str]:
    import jieba

    return [w for w in jieba.lcut(key, HMM=False) if w.strip()]


def key_and_unit(text: str, cfg: DedupConfig | None = None) -> tuple[str, int]:
    """The dedup key of ``text`` and its shingle unit (``UNIT_CHAR``, ``UNIT_WORD``, ``UNIT_LATIN_CHAR``)."""
    cfg = cfg or _default_config()
    folded = _fold(text, cfg)
    if cfg.unit == "char":
        cjk = True
    elif cfg.unit == "word":
        cjk = False
    else:
        cjk = is_cjk_text(folded)
    if cjk:
        key = _NON_WORD.sub("", folded)
        if cfg.unit == "jieba":
            return " ".join(_jieba_words(key)), UNIT_WORD
        return key, UNIT_CHAR
    if cfg.latin_unit == "char":
        return _NON_WORD.sub("", folded), UNIT_LATIN_CHAR
    return _NON_WORD.sub(" ", folded).strip(), UNIT_WORD


def dedup_key(text: str, cfg: DedupConfig | None = None) -> str:
    """The dedup key of one paragraph (case function of the rule ``dedup.key``)."""
    return key_and_unit(text, cfg)[0]


def keys_and_units(texts: list[str], cfg: DedupConfig) -> tuple[list[str], list[int]]:
    keys: list[str] = []
    units: list[int] = []
    for text in texts:
        k, u = key_and_unit(text, cfg)
        keys.append(k)
        units.append(u)
    return keys, units
