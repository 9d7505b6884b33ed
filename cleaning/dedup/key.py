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
_CJK_RUN = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\U00020000-\U0003134f]+"
)
_ASCII_TABLES = {
    sep: {c: (None if not sep else sep) for c in range(128) if not chr(c).isalnum()} for sep in ("", " ")
}
# How much of a text is looked at to decide between character and word shingles.
_UNIT_SAMPLE = 200


@cache
def _default_config() -> DedupConfig:
    return DedupConfig()


@cache
def _nfkc_first() -> re.Pattern[str]:
    """Non-word characters whose NFKC form has letters or digits (Kangxi radicals such as ``⼀``
    from PDF extraction, ``㈠``, ``℡``), and any character beyond the BMP: text containing one is
    normalized before punctuation is dropped, so they are not dropped as symbols."""
    cps = [
        cp
        for cp in range(0x10000)
        if not 0xD800 <= cp <= 0xDFFF
        and _NON_WORD.match(chr(cp))
        and any(c.isalnum() for c in unicodedata.normalize("NFKC", chr(cp)))
    ]
    spans: list[list[int]] = []
    for cp in cps:
        if spans and spans[-1][1] == cp - 1:
            spans[-1][1] = cp
        else:
            spans.append([cp, cp])
    body = "".join(re.escape(chr(a)) + (f"-{re.escape(chr(b))}" if b > a else "") for a, b in spans)
    return re.compile(f"[{body}\U00010000-\U0010ffff]")


def is_cjk_text(letters: str) -> bool:
    """True when CJK characters make up at least a third of the first letters and digits.

    ``letters`` is the text without its non-word characters (as in the key), so
    the decision is the same for a text and for its key.
    """
    sample = letters[:_UNIT_SAMPLE]
    cjk = sum(len(m) for m in _CJK_RUN.findall(sample))
    return cjk > 0 and 3 * cjk >= len(sample)


def _fold_letters(key: str, cfg: DedupConfig, separator: str) -> str:
    """NFKC, case and T→S fold of text whose non-word characters are already dropped.

    Without punctuation and spaces the NFKC quick check usually says "already
    normalized", so the costly normalization only runs on the rare keys with
    full-width letters or digits or compatibility characters.
    """
    if not unicodedata.is_normalized("NFKC", key):
        key = unicodedata.normalize("NFKC", key)
    if cfg.casefold:
        key = key.lower()
    if cfg.fold_traditional:
        key = fold_traditional(key)
    if not (key.replace(" ", "") if separator else key).isalnum():
        key = _NON_WORD.sub(separator, key)  # NFKC or case folding made a non-word character
    return " ".join(key.split()) if separator else key


def _ascii_key(text: str, cfg: DedupConfig, separator: str) -> str:
    key = text.translate(_ASCII_TABLES[separator])  # str.translate has a fast path for ASCII
    key = key.lower() if cfg.casefold else key
    return " ".join(key.split()) if separator else key


def _jieba_words(key: str) -> list[str]:
    import jieba

    return [w for w in jieba.lcut(key, HMM=False) if w.strip()]


def key_and_unit(text: str, cfg: DedupConfig | None = None) -> tuple[str, int]:
    """The dedup key of ``text`` and its shingle unit (``UNIT_CHAR``, ``UNIT_WORD``, ``UNIT_LATIN_CHAR``)."""
    cfg = cfg or _default_config()
    if text.isascii() and cfg.unit != "char":
        if cfg.latin_unit == "char" and cfg.unit != "word":
            return _ascii_key(text, cfg, ""), UNIT_LATIN_CHAR
        return _ascii_key(text, cfg, " "), UNIT_WORD
    if _nfkc_first().search(text):
        # a symbol NFKC spells in letters (Kangxi radical ⼀, ㈠): normalize before dropping symbols
        text = unicodedata.normalize("NFKC", text)
    letters = _NON_WORD.sub("", text)
    if cfg.unit == "char":
        cjk = True
    elif cfg.unit == "word":
        cjk = False
    else:
        cjk = is_cjk_text(letters)
    if cjk:
        key = _fold_letters(letters, cfg, "")
        if cfg.unit == "jieba":
            return " ".join(_jieba_words(key)), UNIT_WORD
        return key, UNIT_CHAR
    if cfg.latin_unit == "char":
        return _fold_letters(letters, cfg, ""), UNIT_LATIN_CHAR
    return _fold_letters(_NON_WORD.sub(" ", text), cfg, " "), UNIT_WORD


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
