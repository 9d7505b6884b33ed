"""Plausibility of Chinese text, and reversal of Chinese mojibake.

Two questions are answered here for the decode and repair stages:

* :func:`plausibility` — how much does a string look like real Chinese text?
  Each non-ASCII character scores by what it is: a frequent Han character
  (``resources/han_rank.txt``) scores high, a rare one low, private-use
  characters, controls and U+FFFD score negative. Real news and law text
  scores about 0.95; GBK bytes read as Big5 (or the reverse) score near 0.

* :func:`reverse_utf8_as_legacy` and :func:`reverse_legacy_as_latin1` undo the
  two Chinese mojibake patterns ftfy does not handle:

  - UTF-8 bytes decoded as GBK/GB18030 (or Big5) and saved again: ``浣犲ソ`` → ``你好``;
  - GBK/GB18030 or Big5 bytes decoded as Latin-1/cp1252: ``ÄãºÃ`` → ``你好``.

  Both work per segment (a run of characters inside a line) and accept a
  reversal only when the result is clearly more plausible Chinese than the
  input and re-encoding it reproduces the input exactly (lossless round trip).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from cleaning.rules import register

# --- plausibility -----------------------------------------------------------------

HAN_CLASS = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_HAN_RE = re.compile(f"[{HAN_CLASS}]")

# Rank thresholds in han_rank.txt (characters in descending frequency). Real
# Chinese news/law text has ~97% of its Han characters in the top 2,500 and
# ~99.9% in the top 9,000; mojibake has ~15% in the top 2,500.
_COMMON_RANK = 2500
_KNOWN_RANK = 4000

# Punctuation and symbols ordinary Chinese text uses (scored like a common character).
_CJK_PUNCT = set(
    "，。、；：？！（）【】《》〈〉「」『』〔〕［］｛｝“”‘’…—～·－／％＋＝＜＞＃＆＊＠"
    "　〇◎●○■□△▲◆◇★☆※→←↑↓①②③④⑤⑥⑦⑧⑨⑩×÷±°℃¥"
)


@cache
def _han_weights() -> dict[str, float]:
    text = (Path(__file__).parent / "resources" / "han_rank.txt").read_text(encoding="utf-8")
    weights: dict[str, float] = {}
    for i, ch in enumerate(text.strip()):
        if i < _COMMON_RANK:
            weights[ch] = 1.0
        elif i < _KNOWN_RANK:
            weights[ch] = 0.3
        else:
            weights[ch] = -0.5
    return weights


def _char_score(ch: str, weights: dict[str, float]) -> float:
    w = weights.get(ch)
    if w is not None:
        return w
    if ch in _CJK_PUNCT:
        return 1.0
    cp = ord(ch)
    if cp == 0xFFFD or 0xE000 <= cp <= 0xF8FF or cp >= 0xF0000 or cp < 0x20 or 0x7F <= cp <= 0x9F:
        return -3.0
    if 0x3400 <= cp <= 0x9FFF or 0x20000 <= cp <= 0x3134F or 0xF900 <= cp <= 0xFAFF:
        return -1.0  # a Han character outside the 9,000 most frequent ones
    if 0x3040 <= cp <= 0x30FF or 0xAC00 <= cp <= 0xD7AF:
        return 0.0  # kana/hangul: neutral (Japanese/Korean text is not our call)
    if 0xFF01 <= cp <= 0xFF5E or 0x3000 <= cp <= 0x303F:
        return 0.5
    return -0.5


@cache
def _score_lut() -> tuple[np.ndarray, np.ndarray]:
    """Per code point: its score (as _char_score gives it) and whether it counts at all.

    Built with array slices in reverse order of precedence, so plausibility()
    is one table lookup per character in numpy, not a Python loop.
    """
    score = np.full(0x110000, -0.5, dtype=np.float32)
    score[0xFF01:0xFF5F] = 0.5
    score[0x3000:0x3040] = 0.5
    score[0x3040:0x3100] = 0.0
    score[0xAC00:0xD7B0] = 0.0
    for lo, hi in ((0x3400, 0xA000), (0x20000, 0x31350), (0xF900, 0xFB00)):
        score[lo:hi] = -1.0
    for lo, hi in ((0x00, 0x20), (0x7F, 0xA0), (0xE000, 0xF900), (0xF0000, 0x110000), (0xFFFD, 0xFFFE)):
        score[lo:hi] = -3.0
    for ch in _CJK_PUNCT:
        score[ord(ch)] = 1.0
    for ch, w in _han_weights().items():
        score[ord(ch)] = w
    counts = np.ones(0x110000, dtype=bool)
    counts[0x20:0x7F] = False  # ASCII reads the same in every candidate encoding
    for ch in "\t\n\r\f":
        counts[ord(ch)] = False
    score[~counts] = 0.0
    return score, counts


def plausibility(text: str) -> float:
    """Mean score of the non-ASCII characters of ``text`` as Chinese (about -3 … 1).

    ASCII is neutral (it reads the same in every candidate encoding); a text
    without non-ASCII characters scores 0. ASCII control characters other than
    tab and line breaks count against the text.
    """
    if not text:
        return 0.0
    score, counts = _score_lut()
    codes = np.frombuffer(text.encode("utf-32-le", errors="surrogatepass"), dtype=np.uint32)
    n = int(np.count_nonzero(counts[codes]))
    return float(score[codes].sum(dtype=np.float64)) / n if n else 0.0


def han_count(text: str) -> int:
    return len(_HAN_RE.findall(text))


# --- reversal -----------------------------------------------------------------------

# Codecs a UTF-8 byte stream may have been misread with, and legacy codecs whose
# bytes may have been misread as Latin-1/cp1252.
UTF8_MISREAD_AS = ("gb18030", "cp950")
LEGACY_CODECS = ("gb18030", "cp950", "big5hkscs")

# One UTF-8 multi-byte sequence; a run of them (with ASCII in between) is what
# a UTF-8 text looks like after being re-encoded with the codec it was misread as.
# A run starts with two 3-byte sequences (two CJK characters, the shortest
# segment worth reversing): anchoring on that keeps the scan fast on GBK bytes
# of correct Chinese, where single 2-byte sequences are common.
_UTF8_RUN = re.compile(
    rb"(?:[\xe0-\xef][\x80-\xbf]{2}){2}"
    rb"(?:[\x20-\x7e]*(?:[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}))*"
)

# cp1252's printable characters in 0x80-0x9F; bytes 0x81 0x8D 0x8F 0x90 0x9D
# have none and survive a Latin-1 reading as C1 controls.
_CP1252_HIGH = {
    ch: bytes([b]) for b in range(0x80, 0xA0) for ch in [bytes([b]).decode("cp1252", errors="ignore")] if ch
}
_TO_LATIN1 = str.maketrans({ch: chr(b[0]) for ch, b in _CP1252_HIGH.items()})
_CP1252_CLASS = "".join(re.escape(ch) for ch in _CP1252_HIGH)
# A double-byte GBK/Big5 character read as Latin-1/cp1252: a lead byte
# (0x81-0xFF) and a trail byte (0x40-0x7E or 0x80-0xFF).
LEAD_CLASS = f"\\x81-\\xff{_CP1252_CLASS}"
TRAIL_CLASS = f"\\x40-\\x7e\\x80-\\xff{_CP1252_CLASS}"
# A run of such characters, with the ASCII that cannot be a trail byte (space,
# digits, ASCII punctuation) allowed between them.
_LATIN1_RUN = re.compile(
    f"(?:[{LEAD_CLASS}][{TRAIL_CLASS}])+(?:[\\x20-\\x3f]+(?:[{LEAD_CLASS}][{TRAIL_CLASS}])+)*"
)


@dataclass(frozen=True, slots=True)
class MojibakeThresholds:
    """Acceptance thresholds (the repair stage fills these from its config)."""

    min_score: float = 0.6  # plausibility of the repaired segment
    min_gain: float = 0.5  # repaired minus original plausibility
    min_han: int = 2  # Han characters in the repaired segment
    max_ascii_trail_share: float = 0.5  # Latin-1 reading of a short segment: ASCII trail bytes
    min_han_without_trail_check: int = 4  # from this many characters on, plausibility alone decides


@dataclass(frozen=True, slots=True)
class Reversal:
    start: int  # character offsets in the line
    end: int
    before: str
    after: str
    codec: str  # the codec the text had been misread with (or had been encoded in)
    score_before: float
    score_after: float


def _accept(before: str, after: str, th: MojibakeThresholds) -> tuple[bool, float, float]:
    if "\n" in after or "\r" in after or "\ufffd" in after:
        return False, 0.0, 0.0
    sb, sa = plausibility(before), plausibility(after)
    ok = sa >= th.min_score and sa - sb >= th.min_gain and han_count(after) >= th.min_han
    return ok, sb, sa


def _char_index(data: bytes, pos: int, codec: str) -> int | None:
    """Index of the character of ``data`` (bytes of a line in ``codec``) that starts at byte ``pos``.

    None when ``pos`` falls inside a character. Decoding is deterministic from
    the start of the line, so the prefix decodes cleanly exactly when ``pos``
    is a character boundary.
    """
    try:
        return len(data[:pos].decode(codec))
    except UnicodeDecodeError:
        return None


def _is_utf8_continuation(byte: int) -> bool:
    return 0x80 <= byte < 0xC0


def reverse_utf8_as_legacy(line: str, th: MojibakeThresholds = MojibakeThresholds()) -> list[Reversal]:
    """Segments of ``line`` that are UTF-8 text misread as GB18030/GBK or Big5, reversed.

    Returns the accepted reversals (non-overlapping, left to right); the caller
    applies them. A segment is re-encoded with the codec it was misread with;
    the bytes must be valid UTF-8 and the result clearly better Chinese.
    """
    best: list[Reversal] = []
    for codec in UTF8_MISREAD_AS:
        try:
            data = line.encode(codec)
        except UnicodeEncodeError:
            continue
        found: list[Reversal] = []
        for m in _UTF8_RUN.finditer(data):
            if m.end() - m.start() < 6:  # fewer than two CJK characters' worth of bytes
                continue
            # Shrink the byte run to whole characters of the line that are also
            # whole UTF-8 sequences (a run may start or end inside either).
            b0, b1 = m.start(), m.end()
            c0 = c1 = None
            while b1 - b0 >= 6:
                if not _is_utf8_continuation(data[b0]):
                    c0 = _char_index(data, b0, codec)
                    if c0 is not None:
                        break
                b0 += 1
            while c0 is not None and b1 - b0 >= 6:
                if b1 == m.end() or not _is_utf8_continuation(data[b1]):
                    c1 = _char_index(data, b1, codec)
                    if c1 is not None:
                        break
                b1 -= 1
            if c0 is None or c1 is None:
                continue
            try:
                after = data[b0:b1].decode("utf-8")
            except UnicodeDecodeError:
                continue
            before = line[c0:c1]
            if after == before or after.encode("utf-8") != before.encode(codec):
                continue
            ok, sb, sa = _accept(before, after, th)
            if ok:
                found.append(Reversal(c0, c1, before, after, codec, sb, sa))
        if sum(r.end - r.start for r in found) > sum(r.end - r.start for r in best):
            best = found
    return best


def _latin1_bytes(text: str) -> bytes | None:
    try:
        return text.translate(_TO_LATIN1).encode("latin-1")
    except UnicodeEncodeError:
        return None


def _short_and_ascii_trailed(after: str, codec: str, th: MojibakeThresholds) -> bool:
    """A short reading whose double-byte characters mostly end in an ASCII byte.

    GB2312 characters have high trail bytes only, Big5 ones about 40% ASCII
    trail bytes (0x40-0x7E). Two or three "characters" made mostly of a Latin-1
    symbol plus an ASCII letter are what newspaper OCR noise gives (``«t«B``);
    longer segments are judged by plausibility alone.
    """
    wide = [ch for ch in after if ord(ch) > 0x7F]
    if len(wide) >= th.min_han_without_trail_check:
        return False
    ascii_trail = sum(1 for ch in wide if 0x40 <= ch.encode(codec)[-1] <= 0x7E)
    return ascii_trail > th.max_ascii_trail_share * len(wide)


def _best_legacy(before: str, th: MojibakeThresholds) -> Reversal | None:
    data = _latin1_bytes(before)
    if data is None:
        return None
    try:
        data.decode("utf-8")
        return None  # valid UTF-8: that is ftfy's pattern (UTF-8 read as Latin-1), not ours
    except UnicodeDecodeError:
        pass
    best: Reversal | None = None
    for codec in LEGACY_CODECS:
        try:
            after = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if after.encode(codec) != data or _short_and_ascii_trailed(after, codec, th):
            continue
        ok, sb, sa = _accept(before, after, th)
        if ok and (best is None or sa > best.score_after):
            best = Reversal(0, len(before), before, after, codec, sb, sa)
    return best


def reverse_legacy_as_latin1(line: str, th: MojibakeThresholds = MojibakeThresholds()) -> list[Reversal]:
    """Segments of ``line`` that are GBK/GB18030 or Big5 bytes misread as Latin-1/cp1252, reversed.

    A segment is a run of (lead, trail) character pairs, so Latin words with
    one accented letter (``Café``, ``naïve``) are never a candidate of two
    Han characters, and ASCII letters that a trail byte may have been stay
    inside their pair.
    """
    out: list[Reversal] = []
    for m in _LATIN1_RUN.finditer(line):
        rev = _best_legacy(m.group(), th)
        if rev is not None:
            out.append(
                Reversal(
                    m.start(), m.end(), m.group(), rev.after, rev.codec, rev.score_before, rev.score_after
                )
            )
    return out


# What a decoder leaves where it dropped bytes: U+FFFD, or "?" (Windows code
# pages) right after a non-ASCII character.
_LOST = re.compile("\ufffd|(?<=[^\x00-\x7f])\\?")


def lost_bytes(line: str) -> bool:
    """True when ``line`` shows the marks of bytes lost in a wrong decoding (U+FFFD, "鍚?")."""
    return _LOST.search(line) is not None


def apply_reversals(line: str, revs: list[Reversal]) -> str:
    parts = []
    pos = 0
    for r in sorted(revs, key=lambda r: r.start):
        parts.append(line[pos : r.start])
        parts.append(r.after)
        pos = r.end
    parts.append(line[pos:])
    return "".join(parts)


# --- rules --------------------------------------------------------------------------

UTF8_AS_LEGACY = "repair.mojibake_utf8_as_gbk"
LEGACY_AS_LATIN1 = "repair.mojibake_gbk_big5_as_latin1"


def fix_utf8_as_gbk(text: str) -> str:
    """Case function: reverse UTF-8 misread as GBK/GB18030 (or Big5), per segment.

    A line that lost bytes (:func:`lost_bytes`) is left alone, as the repair stage does.
    """
    return "\n".join(
        ln if lost_bytes(ln) else apply_reversals(ln, reverse_utf8_as_legacy(ln)) for ln in text.split("\n")
    )


def fix_gbk_big5_as_latin1(text: str) -> str:
    """Case function: reverse GBK/GB18030/Big5 bytes misread as Latin-1/cp1252, per segment."""
    return "\n".join(apply_reversals(ln, reverse_legacy_as_latin1(ln)) for ln in text.split("\n"))


register(
    UTF8_AS_LEGACY,
    "repair",
    "UTF-8 text that was decoded as GBK/GB18030 (or Big5) and saved again is re-encoded and "
    "decoded as UTF-8 (浣犲ソ → 你好), per segment, only when lossless and clearly better Chinese.",
    case_fn=fix_utf8_as_gbk,
)
register(
    LEGACY_AS_LATIN1,
    "repair",
    "GBK/GB18030 or Big5 bytes that were decoded as Latin-1/cp1252 (ÄãºÃ → 你好) are restored, "
    "per segment, only when lossless and clearly better Chinese.",
    case_fn=fix_gbk_big5_as_latin1,
)
