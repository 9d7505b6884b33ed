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

import numpy as np

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


# Batches join their texts with NUL, which every step below leaves in place (it is not a word
# character, not cased, an NFKC starter that composes with nothing): one regex / translate /
# lower / normalize call per batch instead of one per paragraph.
_SEP = "\x00"
_NON_WORD_KEEP_SEP = re.compile(r"[^\w\x00]+")  # _NON_WORD minus the separator ("_" handled apart)
_ASCII_BATCH_TABLES = {
    sep: {c: (None if not sep else sep) for c in range(1, 128) if not chr(c).isalnum()} for sep in ("", " ")
}
_CJK_RANGES = np.array(
    [
        (0x3040, 0x30FF),
        (0x3400, 0x4DBF),
        (0x4E00, 0x9FFF),
        (0xF900, 0xFAFF),
        (0xAC00, 0xD7AF),
        (0x20000, 0x3134F),
    ],
    dtype=np.uint32,
)


def _split_joined(joined: str, count: int, separator: str) -> list[str] | None:
    if separator:
        # " ".join(key.split()) of every key at once: the separator becomes a word of its own
        joined = " ".join(joined.replace(_SEP, f" {_SEP} ").split())
        joined = joined.replace(f" {_SEP}", _SEP).replace(f"{_SEP} ", _SEP)
    parts = joined.split(_SEP)
    return parts if len(parts) == count else None


def _fold_joined(joined: str, cfg: DedupConfig, separator: str) -> str:
    """:func:`_fold_letters` of a NUL-joined batch, spaces not yet collapsed."""
    if not unicodedata.is_normalized("NFKC", joined):
        # normalizing is costly: only the keys that need it
        joined = _SEP.join(
            k if unicodedata.is_normalized("NFKC", k) else unicodedata.normalize("NFKC", k)
            for k in joined.split(_SEP)
        )
    if cfg.casefold:
        joined = joined.lower()
    if cfg.fold_traditional:
        joined = fold_traditional(joined)
    check = joined.replace(_SEP, "")
    if separator:
        check = check.replace(" ", "")
    if check and not check.isalnum():
        joined = _NON_WORD_KEEP_SEP.sub(separator, joined).replace("_", separator)
    return joined


def _cjk_flags(letters: list[str]) -> np.ndarray:
    """:func:`is_cjk_text` of every entry, over one code point array."""
    n = len(letters)
    samples = [t[:_UNIT_SAMPLE] for t in letters]
    lengths = np.fromiter(map(len, samples), dtype=np.int64, count=n)
    codes = np.frombuffer("".join(samples).encode("utf-32-le"), dtype=np.uint32)
    is_cjk = np.zeros(len(codes), dtype=bool)
    for lo, hi in _CJK_RANGES:
        is_cjk |= (codes >= lo) & (codes <= hi)
    owner = np.repeat(np.arange(n), lengths)
    cjk = np.bincount(owner[is_cjk], minlength=n)
    return (cjk > 0) & (3 * cjk >= lengths)


def _batch_keys(texts: list[str], cfg: DedupConfig) -> tuple[list[str], list[int]] | None:
    """Keys of texts without NUL characters in a few whole-batch passes (None: use the slow path)."""
    n = len(texts)
    keys: list[str] = [""] * n
    units = [UNIT_CHAR] * n
    if cfg.unit == "jieba":
        return None
    ascii_rows, other_rows = [], []
    for i, t in enumerate(texts):
        (ascii_rows if t.isascii() and cfg.unit != "char" else other_rows).append(i)
    if ascii_rows:
        latin_char = cfg.latin_unit == "char" and cfg.unit != "word"
        separator = "" if latin_char else " "
        joined = _SEP.join(texts[i] for i in ascii_rows).translate(_ASCII_BATCH_TABLES[separator])
        parts = _split_joined(joined.lower() if cfg.casefold else joined, len(ascii_rows), separator)
        if parts is None:
            return None
        unit = UNIT_LATIN_CHAR if latin_char else UNIT_WORD
        for i, k in zip(ascii_rows, parts, strict=True):
            keys[i] = k
            units[i] = unit
    if not other_rows:
        return keys, units
    slow = set()
    joined = _SEP.join(texts[i] for i in other_rows)
    nfkc_first = [m.start() for m in _nfkc_first().finditer(joined)]
    if nfkc_first:
        starts = np.cumsum([0] + [len(texts[i]) + 1 for i in other_rows[:-1]])
        slow = {other_rows[j] for j in np.searchsorted(starts, nfkc_first, side="right") - 1}
        other_rows = [i for i in other_rows if i not in slow]
        joined = _SEP.join(texts[i] for i in other_rows)
    for i in slow:
        keys[i], units[i] = key_and_unit(texts[i], cfg)
    if not other_rows:
        return keys, units
    letters = _split_joined(_NON_WORD_KEEP_SEP.sub("", joined).replace("_", ""), len(other_rows), "")
    if letters is None:
        return None
    if cfg.unit == "char":
        cjk = np.ones(len(other_rows), dtype=bool)
    elif cfg.unit == "word":
        cjk = np.zeros(len(other_rows), dtype=bool)
    else:
        cjk = _cjk_flags(letters)
    char_like = cjk if cfg.latin_unit != "char" else np.ones(len(other_rows), dtype=bool)
    groups = (
        (np.flatnonzero(char_like), ""),
        (np.flatnonzero(~char_like), " "),
    )
    for members, separator in groups:
        if not len(members):
            continue
        if separator:
            source = _NON_WORD_KEEP_SEP.sub(" ", _SEP.join(texts[other_rows[j]] for j in members))
            source = source.replace("_", " ")
        else:
            source = _SEP.join(letters[j] for j in members)
        parts = _split_joined(_fold_joined(source, cfg, separator), len(members), separator)
        if parts is None:
            return None
        for j, k in zip(members.tolist(), parts, strict=True):
            row = other_rows[j]
            keys[row] = k
            units[row] = UNIT_CHAR if cjk[j] else (UNIT_WORD if separator else UNIT_LATIN_CHAR)
    return keys, units


def keys_and_units(texts: list[str], cfg: DedupConfig) -> tuple[list[str], list[int]]:
    """:func:`key_and_unit` of every text, batched (same results)."""
    if texts and not any(_SEP in t for t in texts):
        batched = _batch_keys(texts, cfg)
        if batched is not None:
            return batched
    keys: list[str] = []
    units: list[int] = []
    for text in texts:
        k, u = key_and_unit(text, cfg)
        keys.append(k)
        units.append(u)
    return keys, units
