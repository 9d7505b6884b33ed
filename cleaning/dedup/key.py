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
from typing import NamedTuple

import numpy as np

from cleaning import jit, textscan
from cleaning.dedup.config import DedupConfig
from cleaning.lang import fold_traditional, opencc_dictionary

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
    # the BMP characters, kept on disk between processes (~35 ms to find; the pattern compiles in 1)
    cps = textscan.cached_array("dedup-key-nfkc-first", _nfkc_first_bmp).tolist()
    spans: list[list[int]] = []
    for cp in cps:
        if spans and spans[-1][1] == cp - 1:
            spans[-1][1] = cp
        else:
            spans.append([cp, cp])
    body = "".join(re.escape(chr(a)) + (f"-{re.escape(chr(b))}" if b > a else "") for a, b in spans)
    return re.compile(f"[{body}\U00010000-\U0010ffff]")


def _nfkc_first_bmp() -> np.ndarray:
    """The BMP code points of :func:`_nfkc_first`'s class, ascending (``int64``)."""
    cps = [
        cp
        for cp in range(0x10000)
        if not 0xD800 <= cp <= 0xDFFF
        and _NON_WORD.match(chr(cp))
        and any(c.isalnum() for c in unicodedata.normalize("NFKC", chr(cp)))
    ]
    return np.array(cps, dtype=np.int64)


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
        joined = _collapse_spaces(joined)
    parts = joined.split(_SEP)
    return parts if len(parts) == count else None


def _collapse_spaces_str(joined: str) -> str:
    """``" ".join(key.split())`` of every NUL-separated key (the reference of :func:`_collapse_spaces`)."""
    # the separator becomes a word of its own
    joined = " ".join(joined.replace(_SEP, f" {_SEP} ").split())
    return joined.replace(f" {_SEP}", _SEP).replace(f"{_SEP} ", _SEP)


def _as_codes(joined: str) -> tuple[np.ndarray, str]:
    if joined.isascii():
        return np.frombuffer(joined.encode("ascii"), dtype=np.uint8), "ascii"
    return np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32), "utf-32-le"


def _collapse_spaces(joined: str) -> str:
    """``" ".join(key.split())`` of every NUL-separated key at once: one compiled pass over the
    code points when kernels are on (:mod:`cleaning.jit`), else :func:`_collapse_spaces_str`."""
    if not jit.enabled():
        return _collapse_spaces_str(joined)
    codes, encoding = _as_codes(joined)
    out = np.empty_like(codes)
    size = _collapse_kernel(codes, _code_flags(), _F_SPACE, out)
    return out[:size].tobytes().decode(encoding, "surrogatepass")


@jit.kernel
def _collapse_kernel(codes: np.ndarray, flags: np.ndarray, space_flag: int, out: np.ndarray) -> int:
    """Non-space characters in order, one space before each that follows a space inside its key."""
    size = 0
    pending = False  # a space since the key's last character
    started = False  # the key has a character
    for i in range(codes.shape[0]):
        c = codes[i]
        if c == 0:
            out[size] = c
            size += 1
            pending = False
            started = False
        elif flags[c] & space_flag:
            pending = started
        else:
            if pending:
                out[size] = 32
                size += 1
                pending = False
            out[size] = c
            size += 1
            started = True
    return size


def _non_word_to(joined: str, separator: str) -> str:
    """``_NON_WORD_KEEP_SEP.sub(separator, joined).replace("_", separator)``, up to the number of spaces.

    Every character that is no letter, digit or separator becomes ``separator``
    (a run of them as many spaces as it is long, which :func:`_collapse_spaces`
    makes one): a table look-up per code point instead of a regex pass.
    """
    codes, encoding = _as_codes(joined)
    if encoding != "ascii" and len(codes) and int(codes.max()) > 0xFFFF:
        return _NON_WORD_KEEP_SEP.sub(separator, joined).replace("_", separator)  # the table is the BMP's
    keep = ((_code_flags()[codes] & _F_WORD) != 0) | (codes == 0)
    out = codes[keep] if not separator else np.where(keep, codes, codes.dtype.type(ord(separator)))
    return out.tobytes().decode(encoding, "surrogatepass")


# Per code point flags for the batched path (one table look-up per character instead of regex passes).
_F_WORD = 1  # a letter, digit or mark: kept in the key (what [\W_] does not match)
_F_CJK = 2  # counts as CJK for the unit decision (_CJK_RUN)
_F_NFKC_FIRST = 4  # _nfkc_first(): the text takes the one-by-one path (every astral character too)
_F_NFKC_UNSAFE = 8  # may change under NFKC, or change a neighbour (see _code_flags)
_F_SPACE = 16  # whitespace to str.split()


@cache
def _code_flags() -> np.ndarray:
    """:func:`_build_code_flags`, kept on disk between processes (~80 ms to build)."""
    return textscan.cached_array("dedup-key-code-flags", _build_code_flags)


def _build_code_flags() -> np.ndarray:
    """``uint8`` flags of every code point (``_F_*``), derived from the same regexes and ``unicodedata``.

    A text made only of characters without ``_F_NFKC_UNSAFE`` is NFKC-normalized:
    each such character has no compatibility or canonical decomposition, combining
    class 0, and is not the second character of any canonical composition (a
    Hangul vowel or final jamo, or the second of a two-character decomposition;
    no character beyond the BMP composes from a BMP second character: tested).
    """
    bmp = textscan.every_code_point()[1:0x10000]

    def matches(pattern: re.Pattern[str]) -> np.ndarray:
        return textscan.code_points_matching(pattern, 0x10000)[1:]

    flags = np.zeros(0x110000, dtype=np.uint8)
    flags[0x10000:] = _F_NFKC_FIRST
    body = flags[1:0x10000]
    body[~matches(re.compile(r"[\W_]"))] |= _F_WORD
    body[matches(_nfkc_first())] |= _F_NFKC_FIRST
    body[matches(re.compile(r"\s"))] |= _F_SPACE
    for lo, hi in _CJK_RANGES:
        flags[lo : min(hi, 0xFFFF) + 1] |= _F_CJK
    chars = list(bmp)
    nfkd = unicodedata.normalize("NFKD", _SEP.join(chars)).split(_SEP)  # NUL: a starter, never composes
    unsafe = np.fromiter((a != b for a, b in zip(chars, nfkd, strict=True)), dtype=bool, count=len(chars))
    unsafe |= np.fromiter(map(unicodedata.combining, chars), dtype=np.int64, count=len(chars)) != 0
    body[unsafe] |= _F_NFKC_UNSAFE
    for ch in chars:
        parts = unicodedata.decomposition(ch).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            flags[int(parts[1], 16)] |= _F_NFKC_UNSAFE
    flags[0x1161:0x1176] |= _F_NFKC_UNSAFE  # Hangul vowel jamo: compose with a leading consonant
    flags[0x11A8:0x11C3] |= _F_NFKC_UNSAFE  # Hangul final jamo: compose with an LV syllable
    flags[0xD800:0xE000] &= ~np.uint8(_F_WORD)
    flags.setflags(write=False)
    return flags


def _normalized(joined: str) -> str:
    """NFKC of every NUL-separated key of ``joined``."""
    if unicodedata.is_normalized("NFKC", joined):
        return joined
    keys = joined.split(_SEP)
    for i, key in enumerate(keys):
        if not unicodedata.is_normalized("NFKC", key):  # normalizing is costly: only these keys
            keys[i] = unicodedata.normalize("NFKC", key)
    return _SEP.join(keys)


def _fold_joined(joined: str, cfg: DedupConfig) -> str:
    """:func:`_fold_letters` of a NUL-joined batch of space-separated keys, spaces not yet
    collapsed (character-shingled keys come folded from :class:`_Letters`)."""
    joined = _normalized(joined)
    if cfg.casefold:
        joined = joined.lower()
    if cfg.fold_traditional:
        joined = fold_traditional(joined)
    check = joined.replace(_SEP, "").replace(" ", "")
    if check and not check.isalnum():
        joined = _non_word_to(joined, " ")
    return joined


def _take_rows(codes: np.ndarray, lengths: np.ndarray, rows: np.ndarray) -> str:
    """The NUL-joined texts ``rows`` (a bool mask) of texts laid out NUL-joined in ``codes``."""
    if rows.all():
        return codes.tobytes().decode("utf-32-le", "surrogatepass")
    mask = np.repeat(rows, lengths + 1)[: len(codes)]
    text = codes[mask].tobytes().decode("utf-32-le", "surrogatepass")
    # every chosen text brought its separator, except the very last text
    return text[:-1] if rows.any() and not rows[-1] else text


@cache
def _fold_table(casefold: bool, traditional: bool) -> np.ndarray:
    """:func:`_build_fold_table`, kept on disk between processes (~35 ms to build)."""
    # the Traditional fold reads OpenCC's table (lang._tables): a new OpenCC renews the table
    t2s = textscan.file_identity(opencc_dictionary("TSCharacters.txt")) if traditional else None
    return textscan.cached_array(
        "dedup-key-fold-table", lambda: _build_fold_table(casefold, traditional), casefold, traditional, t2s
    )


def _build_fold_table(casefold: bool, traditional: bool) -> np.ndarray:
    """``uint32`` per code point: the one letter a key holds for this letter, or 0 where the
    batched path leaves the text to :func:`_fold_letters`.

    A key's letters are NFKC-normalized, then lower-cased (``casefold``), then folded to
    Simplified (``traditional``); a character NFKC or case folding turns into a non-word
    character is dropped. Where every step maps the letter to exactly one letter and the
    result depends on no neighbour, that chain is a look-up per letter:

    - the letter is NFKC-safe (``_F_NFKC_UNSAFE`` unset: stable next to any safe letter), or
      its NFKC form is a single safe letter (full-width ``Ａ`` → ``A``, ``①`` → ``1``): a
      form that cannot compose with a neighbour, since only unsafe characters compose;
    - ``str.lower`` and the T→S table give one character, and it is a letter or digit;
    - not ``Σ``, whose lower case depends on the next letter (final ``ς``).

    Everything else (0 here) is rare in news text: decomposing Hangul syllables, ``ﬁ``, ``İ``.
    """
    flags = _code_flags()
    table = np.zeros(len(flags), dtype=np.uint32)
    bmp = flags[:0x10000]
    cps = np.flatnonzero(((bmp & _F_WORD) != 0) & ((bmp & _F_NFKC_FIRST) == 0))
    chars = [chr(c) for c in cps.tolist()]
    forms = list(chars)
    for i in np.flatnonzero(bmp[cps] & _F_NFKC_UNSAFE).tolist():
        form = unicodedata.normalize("NFKC", chars[i])
        safe = len(form) == 1 and form != _SEP and not flags[ord(form)] & _F_NFKC_UNSAFE
        forms[i] = form if safe else ""
    # one call per step over all letters, NUL-joined: NUL is no cased letter and maps to itself
    folded = _SEP.join(forms)
    if casefold:
        folded = folded.lower()
    if traditional:
        folded = fold_traditional(folded)
    outs = folded.split(_SEP)
    if len(outs) != len(forms):
        raise AssertionError("a fold step made or removed a NUL")
    for cp, form, out in zip(cps.tolist(), forms, outs, strict=True):
        if len(out) == 1 and out.isalnum() and "\u03a3" not in form:
            table[cp] = ord(out)
    table.setflags(write=False)
    return table


def _letters_numpy(
    codes: np.ndarray, lengths: np.ndarray, fold: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Folded letters (NUL-joined code points), letters per text, CJK letters among each text's
    first ``_UNIT_SAMPLE`` letters, and the texts with a letter ``fold`` has no entry for
    (reference of ``_letters_kernel``)."""
    flags = _code_flags()[codes]
    keep = (flags & _F_WORD).astype(bool)
    starts = np.cumsum(lengths + 1) - (lengths + 1)
    keep[starts[1:] - 1] = True  # the separators
    letters = codes[keep]
    lflags = flags[keep]
    seps = np.flatnonzero(letters == 0)
    lstart = np.concatenate(([0], seps + 1))
    lend = np.concatenate((seps, [len(letters)]))
    sample_end = np.minimum(lend, lstart + _UNIT_SAMPLE)
    cjk = np.zeros(len(lstart), dtype=np.int64)
    if len(letters):
        # CJK letters in each [lstart, sample_end): the even sums of one reduceat (a zero appended
        # so that an end may be the length); an empty range gives the element at its start
        # instead of 0, hence the where
        bounds = np.empty(2 * len(lstart), dtype=np.int64)
        bounds[0::2] = lstart
        bounds[1::2] = sample_end
        is_cjk = np.append(lflags & _F_CJK, np.uint8(0))
        sums = np.add.reduceat(is_cjk, bounds, dtype=np.int64)
        cjk = np.where(sample_end > lstart, sums[0::2] // _F_CJK, 0)
    mapped = fold[letters]
    unmapped = (mapped == 0) & (letters != 0)
    folded = np.where(unmapped | (letters == 0), letters, mapped)
    unmapped_rows = np.unique(np.searchsorted(lstart, np.flatnonzero(unmapped), side="right") - 1)
    return folded, lend - lstart, cjk, unmapped_rows


@jit.kernel
def _flagged_positions(codes: np.ndarray, table: np.ndarray, flag: int) -> np.ndarray:
    """Positions of ``codes`` whose ``table`` entry has ``flag``, ascending (``np.flatnonzero(table[codes]
    & flag)``)."""
    count = 0
    for i in range(codes.shape[0]):
        if table[codes[i]] & flag:
            count += 1
    out = np.empty(count, dtype=np.int64)
    if count:
        count = 0
        for i in range(codes.shape[0]):
            if table[codes[i]] & flag:
                out[count] = i
                count += 1
    return out


@jit.kernel
def _letters_kernel(
    codes: np.ndarray,
    table: np.ndarray,
    fold: np.ndarray,
    sample: int,
    letters: np.ndarray,
    counts: np.ndarray,
    cjk: np.ndarray,
    unmapped: np.ndarray,
) -> int:
    """:func:`_letters_numpy` in one pass; returns the length of ``letters``."""
    size = 0
    row = 0
    n_row = 0
    cjk_row = 0
    unmapped_row = False
    for i in range(codes.shape[0]):
        c = codes[i]
        if c == 0:
            letters[size] = c
            size += 1
            counts[row] = n_row
            cjk[row] = cjk_row
            unmapped[row] = unmapped_row
            row += 1
            n_row = 0
            cjk_row = 0
            unmapped_row = False
            continue
        f = table[c]
        if f & _F_WORD:
            m = fold[c]
            if m == 0:
                m = c
                unmapped_row = True
            letters[size] = m
            size += 1
            if n_row < sample and f & _F_CJK:
                cjk_row += 1
            n_row += 1
    counts[row] = n_row
    cjk[row] = cjk_row
    unmapped[row] = unmapped_row
    return size


class _Letters:
    """Texts without NUL, without astral or ``_nfkc_first`` characters, as code points: their
    letters, folded.

    ``letters``: the texts with their non-word characters dropped (what
    ``_NON_WORD.sub("", text)`` gives) and each letter replaced by its ``fold`` entry,
    NUL-joined; ``cjk``: :func:`is_cjk_text` of each text's letters; ``unmapped_rows``: the
    texts with a letter ``fold`` has no entry for (their letters there are left as they are).
    """

    def __init__(self, codes: np.ndarray, lengths: np.ndarray, fold: np.ndarray) -> None:
        if jit.enabled():
            letters = np.empty_like(codes)
            counts = np.empty(len(lengths), dtype=np.int64)
            cjk = np.empty(len(lengths), dtype=np.int64)
            unmapped = np.empty(len(lengths), dtype=np.bool_)
            size = _letters_kernel(codes, _code_flags(), fold, _UNIT_SAMPLE, letters, counts, cjk, unmapped)
            self.letters, self.letter_counts = letters[:size], counts
            self.unmapped_rows = np.flatnonzero(unmapped)
        else:
            self.letters, self.letter_counts, cjk, self.unmapped_rows = _letters_numpy(codes, lengths, fold)
        sample = np.minimum(self.letter_counts, _UNIT_SAMPLE)
        self.cjk = (cjk > 0) & (3 * cjk >= sample)

    def letters_of(self, rows: np.ndarray) -> tuple[str, list[int]]:
        """NUL-joined folded letters of the texts in the mask ``rows``, and the unmapped texts
        among them (new indexes)."""
        joined = _take_rows(self.letters, self.letter_counts, rows)
        renumber = np.cumsum(rows) - 1
        return joined, renumber[self.unmapped_rows[rows[self.unmapped_rows]]].tolist()


class KeyCodes(NamedTuple):
    """Keys as code points: key ``k`` is ``codes[offsets[k]:offsets[k + 1]]`` (``uint32``, the keys
    concatenated; ``offsets`` ``int64``, one more than keys), with each key's unit (``int8``)."""

    units: np.ndarray
    codes: np.ndarray
    offsets: np.ndarray


def _batch_keys(
    texts: list[str], cfg: DedupConfig, as_codes: bool = False
) -> tuple[list[str], list[int]] | KeyCodes | None:
    """Keys of texts in a few whole-batch passes (None: a text holds NUL, use the slow path).

    ``as_codes`` (with compiled kernels, when the batch has text for the letters pass): the keys
    as :class:`KeyCodes`; a key the letters pass gives as it is (a character key whose letters
    the table folds, as in almost all Chinese text) is never made a string.
    """
    n = len(texts)
    if cfg.unit == "jieba":
        return None
    keys = np.empty(n, dtype=object)
    units = np.full(n, UNIT_CHAR, dtype=np.int64)
    is_ascii = np.fromiter(map(str.isascii, texts), dtype=bool, count=n)
    if cfg.unit == "char":
        is_ascii[:] = False
    ascii_rows, other_rows = np.flatnonzero(is_ascii), np.flatnonzero(~is_ascii)
    if len(ascii_rows):
        latin_char = cfg.latin_unit == "char" and cfg.unit != "word"
        separator = "" if latin_char else " "
        joined = _SEP.join([texts[i] for i in ascii_rows.tolist()])
        if joined.count(_SEP) != len(ascii_rows) - 1:
            return None  # a text holds the separator
        joined = joined.translate(_ASCII_BATCH_TABLES[separator])
        parts = _split_joined(joined.lower() if cfg.casefold else joined, len(ascii_rows), separator)
        if parts is None:
            return None
        keys[ascii_rows] = parts
        units[ascii_rows] = UNIT_LATIN_CHAR if latin_char else UNIT_WORD
    if not len(other_rows):
        return keys.tolist(), units.tolist()
    # (Chinese text: every text, and no list to build)
    batch = texts if len(other_rows) == n else [texts[i] for i in other_rows.tolist()]
    lengths = np.fromiter(map(len, batch), dtype=np.int64, count=len(batch))
    joined = _SEP.join(batch)
    if joined.count(_SEP) != len(batch) - 1:
        return None  # a text holds the separator
    flags = _code_flags()
    codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    if jit.enabled():  # no flag array the size of the batch
        slow_pos = _flagged_positions(codes, flags, _F_NFKC_FIRST)
    else:
        slow_pos = np.flatnonzero(flags[codes] & _F_NFKC_FIRST)
    if len(slow_pos):
        # a symbol NFKC spells in letters (Kangxi radical ⼀, ㈠), or an astral character: one by one
        starts = np.cumsum(lengths + 1) - (lengths + 1)
        slow = np.zeros(len(batch), dtype=bool)
        slow[np.searchsorted(starts, slow_pos, side="right") - 1] = True
        for j in np.flatnonzero(slow).tolist():
            keys[other_rows[j]], units[other_rows[j]] = key_and_unit(batch[j], cfg)
        other_rows, lengths = other_rows[~slow], lengths[~slow]
        if not len(other_rows):
            return keys.tolist(), units.tolist()
        batch = [texts[i] for i in other_rows.tolist()]
        joined = _SEP.join(batch)
        codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    letters = _Letters(codes, lengths, _fold_table(cfg.casefold, cfg.fold_traditional))
    if cfg.unit == "char":
        cjk = np.ones(len(other_rows), dtype=bool)
    elif cfg.unit == "word":
        cjk = np.zeros(len(other_rows), dtype=bool)
    else:
        cjk = letters.cjk
    char_like = cjk if cfg.latin_unit != "char" else np.ones(len(other_rows), dtype=bool)
    # as_codes: the texts whose letters are their keys (character keys, every letter folded by the
    # table) keep them as code points; only the other texts' keys are made as strings
    fast = None
    if as_codes and jit.enabled():
        fast = char_like.copy()
        fast[letters.unmapped_rows] = False
    for members, separator in ((char_like if fast is None else char_like & ~fast, ""), (~char_like, " ")):
        if not members.any():
            continue
        if separator:
            source = (
                joined if members.all() else _SEP.join([batch[j] for j in np.flatnonzero(members).tolist()])
            )
            parts = _split_joined(_fold_joined(_non_word_to(source, " "), cfg), int(members.sum()), " ")
        else:
            # the letters come folded; a text with a letter the table has no entry for is
            # folded as key_and_unit does it
            source, unmapped = letters.letters_of(members)
            parts = _split_joined(source, int(members.sum()), "")
            if parts is not None and unmapped:
                member_rows = np.flatnonzero(members)
                for j in unmapped:
                    parts[j] = _fold_letters(_NON_WORD.sub("", batch[member_rows[j]]), cfg, "")
        if parts is None:
            return None
        rows = other_rows[members]
        keys[rows] = parts
        units[rows] = UNIT_WORD if separator else np.where(cjk[members], UNIT_CHAR, UNIT_LATIN_CHAR)
    if fast is None:
        return keys.tolist(), units.tolist()
    units[other_rows[fast]] = np.where(cjk[fast], UNIT_CHAR, UNIT_LATIN_CHAR)
    return _key_codes_of(keys, units.astype(np.int8), other_rows[fast], fast, letters)


def _key_codes_of(
    keys: np.ndarray, units: np.ndarray, fast_rows: np.ndarray, fast: np.ndarray, letters: _Letters
) -> KeyCodes:
    """The keys as :class:`KeyCodes`: rows ``fast_rows`` (``fast`` among the rows of ``letters``)
    are their letters, the others' keys are the strings in ``keys``."""
    counts = letters.letter_counts
    # where each text's letters start in the letters pass's output (a separator follows each)
    letter_starts = np.cumsum(counts) - counts + np.arange(len(counts))
    kernel = _copy_segments if jit.enabled() else _copy_segments.py_func
    n = len(keys)
    if len(fast_rows) == n:  # the usual Chinese batch: the letters are the keys, in order
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        codes = np.empty(int(offsets[-1]), dtype=np.uint32)
        kernel(letters.letters, letter_starts, counts, offsets, codes)
    else:
        is_fast = np.zeros(n, dtype=bool)
        is_fast[fast_rows] = True
        string_rows = np.flatnonzero(~is_fast)
        strings = keys[string_rows].tolist()
        lengths = np.empty(n, dtype=np.int64)
        lengths[fast_rows] = counts[fast]
        string_lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
        lengths[string_rows] = string_lengths
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        # each row's key copied into place: from the letters, and from the strings encoded
        codes = np.empty(int(offsets[-1]), dtype=np.uint32)
        kernel(letters.letters, letter_starts[fast], counts[fast], offsets[fast_rows], codes)
        string_codes = np.frombuffer("".join(strings).encode("utf-32-le"), dtype=np.uint32)
        kernel(
            string_codes,
            np.cumsum(string_lengths) - string_lengths,
            string_lengths,
            offsets[string_rows],
            codes,
        )
    codes.flags.writeable = False  # as the encoded keys of the other path: the kernels' same types
    return KeyCodes(units, codes, offsets)


@jit.kernel
def _copy_segments(
    source: np.ndarray, starts: np.ndarray, lengths: np.ndarray, offsets: np.ndarray, out: np.ndarray
) -> None:
    """``out[offsets[k]:offsets[k] + lengths[k]] = source[starts[k]:starts[k] + lengths[k]]`` for each k."""
    for k in range(lengths.shape[0]):
        s = starts[k]
        d = offsets[k]
        for i in range(lengths[k]):
            out[d + i] = source[s + i]


def keys_and_units(texts: list[str], cfg: DedupConfig) -> tuple[list[str], list[int]]:
    """:func:`key_and_unit` of every text, batched (same results)."""
    if texts:
        batched = _batch_keys(texts, cfg)
        if batched is not None and not isinstance(batched, KeyCodes):
            return batched
    keys: list[str] = []
    units: list[int] = []
    for text in texts:
        k, u = key_and_unit(text, cfg)
        keys.append(k)
        units.append(u)
    return keys, units


def key_codes(texts: list[str], cfg: DedupConfig) -> tuple[list[str] | None, KeyCodes]:
    """:func:`keys_and_units` of ``texts`` with the keys as :class:`KeyCodes` too, for the index.

    The keys as strings are None when they were made as code points only (the usual Chinese
    batch, compiled kernels): the index needs their code points, and making a string per key
    to encode it again cost more than the rest of the keying.
    """
    batched = _batch_keys(texts, cfg, as_codes=True) if texts else None
    if isinstance(batched, KeyCodes):
        return None, batched
    keys, units = batched if batched is not None else keys_and_units(texts, cfg)
    offsets = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, keys), dtype=np.int64, count=len(keys)), out=offsets[1:])
    codes = np.frombuffer("".join(keys).encode("utf-32-le"), dtype=np.uint32)
    return keys, KeyCodes(np.asarray(units, dtype=np.int8), codes, offsets)
