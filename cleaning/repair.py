"""Stage 3, repair: Chinese mojibake reversal, then ftfy with a Chinese-safe configuration.

Line by line, never adding or removing a line. Most lines need nothing: a
precompiled character-class test sends them down a fast path that neither
calls ftfy nor the mojibake logic (``tests/test_repair.py`` checks that the
fast path and the full path agree on real text).

Irrecoverable damage (``锟斤拷``, ``烫烫烫``/``屯屯屯``, runs of U+FFFD, ``??``
substituted for Han characters) is flagged with an event and counted by
:func:`count_damage`, never "fixed".
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from functools import cache
from itertools import accumulate

import ftfy
import numpy as np
from ftfy import TextFixerConfig
from ftfy.badness import is_bad
from ftfy.chardata import CHARMAP_ENCODINGS
from pydantic import BaseModel, ConfigDict, Field

from cleaning import jit, mojibake, textscan
from cleaning.model import Event
from cleaning.rules import register

STAGE = "repair"
FTFY_RULE = "repair.ftfy"
DAMAGE_RULE = "repair.flag_damage"
LOSSY_RULE = "repair.flag_lossy_mojibake"


class RepairConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mojibake_utf8_as_gbk: bool = Field(
        True, description="Reverse UTF-8 text that was misread as GBK/GB18030 or Big5 (浣犲ソ → 你好)."
    )
    mojibake_gbk_big5_as_latin1: bool = Field(
        True, description="Reverse GBK/Big5 bytes that were misread as Latin-1/cp1252 (ÄãºÃ → 你好)."
    )
    ftfy: bool = Field(
        True,
        description="Run ftfy (UTF-8 misread as Latin-1/cp1252 and its other encoding fixes) with the "
        "Chinese-safe configuration: no width folding, no quote uncurling, no NFKC, no line-break changes.",
    )
    ftfy_unescape_html: bool = Field(
        False,
        description="Let ftfy decode HTML entities (&amp; …) in lines without '<'. Off: an entity may be "
        "intended text, and correct text must come out unchanged.",
    )
    ftfy_fix_latin_ligatures: bool = Field(
        True, description="Let ftfy split Latin ligatures (ﬁ → fi), common in OCR of English text."
    )
    min_score: float = Field(
        0.6,
        description="Minimum Chinese plausibility (mean per non-ASCII character, about -3 … 1; real text "
        "≈ 0.95) of a segment after mojibake reversal.",
    )
    min_gain: float = Field(
        0.5, description="Minimum plausibility gain of a mojibake reversal over the text it replaces."
    )
    min_han: int = Field(2, ge=1, description="Minimum Han characters in a reversed segment.")
    latin1_max_ascii_trail_share: float = Field(
        0.5,
        description="GBK/Big5 misread as Latin-1: a short segment is refused when more than this share of "
        "its double-byte characters end in an ASCII byte (what Latin OCR noise like «t«B gives).",
    )
    latin1_trail_check_below: int = Field(
        4,
        ge=1,
        description="Segments with at least this many double-byte characters skip the trail-byte test; "
        "plausibility alone decides.",
    )
    min_question_run: int = Field(
        2,
        ge=1,
        description="A run of at least this many '?' touching a Han character counts as damage (characters "
        "lost to an encoder's substitution); a single '?' is usually a question mark.",
    )


# --- damage ------------------------------------------------------------------------

_HAN = mojibake.HAN_CLASS


@cache
def _damage_re(min_q: int) -> re.Pattern[str]:
    return re.compile(
        "锟斤拷(?:锟斤拷)*|烫{3,}|屯{3,}|\ufffd+"
        f"|(?<=[{_HAN}])\\?{{{min_q},}}|\\?{{{min_q},}}(?=[{_HAN}])"
    )


def damage_spans(text: str, min_question_run: int = 2) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group()) for m in _damage_re(min_question_run).finditer(text)]


def count_damage(text: str) -> int:
    """Irrecoverable damage markers in ``text`` (each run counts once)."""
    # the hint (below) is necessary for a marker and scans far faster than the full
    # pattern's look-arounds; almost all text has none.
    if not may_have_damage(text):
        return 0
    return len(_damage_re(2).findall(text))


def may_have_damage(text: str) -> bool:
    """False when ``text`` holds no damage marker; one scan of an article spares its paragraphs."""
    # every match of _DAMAGE_HINT starts with one of its words' first characters, and a
    # one-character ``in`` is a vectorized scan (about 4x the regex, whose alternation of literals
    # tries each at every position); texts without one, nearly all, never reach the regex
    if any(map(text.__contains__, _DAMAGE_HINT_FIRST)):
        return _DAMAGE_HINT.search(text) is not None
    return False


def mark_damage(text: str) -> str:
    """Case function: wrap every damage marker in ⟦ ⟧ (text without damage stays unchanged)."""
    return _damage_re(2).sub(lambda m: f"⟦{m.group()}⟧", text)


register(
    DAMAGE_RULE,
    STAGE,
    "Flags irrecoverable damage (锟斤拷, 烫烫烫/屯屯屯, U+FFFD runs, '??' for lost Han characters); "
    "the text is left as it is and counted in damage_count.",
    case_fn=mark_damage,
)
register(
    LOSSY_RULE,
    STAGE,
    "Flags a line that looks like UTF-8 misread as GBK/Big5 but lost bytes (U+FFFD, or '?' after a "
    "non-ASCII character): not "
    "reversed, because the round trip would not be lossless.",
)


# --- ftfy --------------------------------------------------------------------------


def ftfy_config(cfg: RepairConfig) -> TextFixerConfig:
    """The explicit ftfy configuration: encoding fixes only, nothing that changes correct Chinese."""
    return TextFixerConfig(
        unescape_html="auto" if cfg.ftfy_unescape_html else False,
        remove_terminal_escapes=True,
        fix_encoding=True,
        restore_byte_a0=True,
        replace_lossy_sequences=True,
        decode_inconsistent_utf8=True,
        fix_c1_controls=True,
        fix_latin_ligatures=cfg.ftfy_fix_latin_ligatures,
        fix_character_width=False,  # would fold full-width Chinese punctuation to ASCII
        uncurl_quotes=False,  # “” are the Chinese quotation marks
        fix_line_breaks=False,  # lines are fixed; the normalize stage owns separators
        fix_surrogates=True,
        remove_control_chars=False,  # the normalize stage removes them, with events
        normalization=None,  # never NFKC; the normalize stage does NFC with events
        explain=True,
    )


def _ftfy_case(text: str) -> str:
    return ftfy.fix_text(text, ftfy_config(RepairConfig()))


register(
    FTFY_RULE,
    STAGE,
    "ftfy with an explicit Chinese-safe configuration: UTF-8 misread as Latin-1/cp1252 (ä½ å¥½ → 你好), "
    "C1 controls, ligatures, surrogates, terminal escapes.",
    case_fn=_ftfy_case,
)


# --- fast path ---------------------------------------------------------------------
#
# Each repair step has a precompiled test that is necessary for it to change a
# line; a line that passes none of them is returned untouched (the fast path).
# ``repair_lines_reference`` runs every step on every line; the tests check
# both give the same output on real text.


def _class(chars: Iterable[str]) -> str:
    return "".join(re.escape(c) for c in sorted(set(chars)))


# Punctuation that ordinary Chinese and English text is full of. In MacRoman
# and cp437 these are also the reading of a UTF-8 lead byte, but such mojibake
# nearly always also holds Latin-1 letters (the continuation bytes), which are
# tested for; excluding them keeps “quoted” Chinese lines on the fast path.
_COMMON_PUNCT = "—–“”‘’…·─│"


def _ftfy_lead_chars() -> str:
    """What a UTF-8 lead byte (0xC2-0xF4) becomes in the single-byte codecs ftfy undoes.

    ftfy only re-encodes a line that ``ftfy.badness.is_bad`` flags, and the
    re-encoding can only succeed when the line holds such a character.
    """
    chars: set[str] = set()
    for enc in CHARMAP_ENCODINGS:
        chars.update(bytes(range(0xC2, 0xF5)).decode(enc, errors="ignore"))
    return _class(chars - set(_COMMON_PUNCT))


# Characters ftfy's other enabled fixes act on (C1 controls, ESC, Latin
# ligatures, surrogates) and the damage markers, which always take the full path.
_FTFY_ALWAYS_CLASS = "\x1b\x80-\x9f\ufb00-\ufb06\ud800-\udfff"
_FTFY_ALWAYS = re.compile(f"[{_FTFY_ALWAYS_CLASS}]")
_FTFY_LEAD_CLASS = _ftfy_lead_chars()
_FTFY_LEAD = re.compile(f"[{_FTFY_LEAD_CLASS}]")
# Every damage marker (the _damage_re patterns, any min_question_run >= 2) contains one of these.
_DAMAGE_HINT_WORDS = ("锟斤拷", "烫烫", "屯屯", "\ufffd", "??")
_DAMAGE_HINT = re.compile("|".join(map(re.escape, _DAMAGE_HINT_WORDS)))
_DAMAGE_HINT_FIRST = tuple(dict.fromkeys(word[0] for word in _DAMAGE_HINT_WORDS))


def _pair_chars(codecs: tuple[str, ...], leads: range, trails: range) -> str:
    """The class (:func:`_class`) of the characters ``codecs`` decode a ``lead``, ``trail`` byte
    pair to. Decoding every pair takes ~30 ms at import for the three classes below: the code
    points are kept on disk between processes (the key holds the Python version, whose codecs
    give them)."""
    key = (codecs, (leads.start, leads.stop, leads.step), (trails.start, trails.stop, trails.step))
    codes = textscan.cached_array("repair-pair-chars", lambda: _pair_codes(codecs, leads, trails), key)
    return _class(map(chr, codes.tolist()))


def _pair_codes(codecs: tuple[str, ...], leads: range, trails: range) -> np.ndarray:
    """The code points of :func:`_pair_chars`, ascending."""
    chars: set[str] = set()
    for codec in codecs:
        for lead in leads:
            for trail in trails:
                try:
                    ch = bytes([lead, trail]).decode(codec)
                except UnicodeDecodeError:
                    continue
                if len(ch) == 1:
                    chars.add(ch)
    return np.array(sorted(map(ord, chars)), dtype=np.int64)


# UTF-8 Chinese misread as GBK/Big5: two CJK characters (6 bytes E? c c E? c c)
# read in pairs give (E? c)(c E?)(c c). A line without such a triple holds no
# such mojibake of two or more characters.
_LEGACY_FIRST_CLASS = _pair_chars(mojibake.UTF8_MISREAD_AS, range(0xE0, 0xF0), range(0x80, 0xC0))
_LEGACY_SECOND_CLASS = _pair_chars(mojibake.UTF8_MISREAD_AS, range(0x80, 0xC0), range(0xE0, 0xF0))
_LEGACY_THIRD_CLASS = _pair_chars(mojibake.UTF8_MISREAD_AS, range(0x80, 0xC0), range(0x80, 0xC0))
_UTF8_AS_LEGACY_HINT = re.compile(f"[{_LEGACY_FIRST_CLASS}][{_LEGACY_SECOND_CLASS}][{_LEGACY_THIRD_CLASS}]")
# GBK/Big5 read as Latin-1/cp1252: a double-byte character, a Latin-1 letter
# or symbol (lead byte 0xA1-0xFF) and a trail byte.
_LATIN1_LEAD_CLASS = "\xa1-\xff"
_LATIN1_PAIRS_HINT = re.compile(f"[{_LATIN1_LEAD_CLASS}][{mojibake.TRAIL_CLASS}]")
_HINTS = (_FTFY_LEAD, _FTFY_ALWAYS, _DAMAGE_HINT, _UTF8_AS_LEGACY_HINT, _LATIN1_PAIRS_HINT)
# A character of every possible match of every hint (each hint's first character class; the
# damage markers' first characters; "&" and "?", the hints some configurations add): a line
# without one takes the fast path, whatever the configuration; tests/test_repair.py checks the
# claim. The compiled pre-scan (lines_needing_repair) splits it: a character of
# _LEGACY_FIRST_CLASS is a hint only as the start of a _UTF8_AS_LEGACY_HINT run. On clean Chinese
# text nearly all hinted lines hold only such a common Han character (於 項 須 陸 ...): twenty times
# more lines than need repair. Such a line matches no hint but _UTF8_AS_LEGACY_HINT, a fixed run of
# three classes, which the scan tests exactly; only lines with another hint character go to
# needs_repair.
_OTHER_HINT_CLASS = f"{_FTFY_LEAD_CLASS}{_FTFY_ALWAYS_CLASS}{_LATIN1_LEAD_CLASS}锟烫屯\ufffd?&"
_OTHER_HINT_CHARS = f"[{_OTHER_HINT_CLASS}]"
_HINT_CHARS = f"[{_OTHER_HINT_CLASS}{_LEGACY_FIRST_CLASS}]"

# The compiled pre-scan's flag bits.
_R_OTHER, _R_FIRST, _R_SECOND, _R_THIRD = 1, 2, 4, 8


@cache
def _hint_table() -> np.ndarray:
    # the three classes of _UTF8_AS_LEGACY_HINT, the very strings the pattern is built from
    return textscan.class_table(
        (
            (_OTHER_HINT_CHARS, _R_OTHER),
            (f"[{_LEGACY_FIRST_CLASS}]", _R_FIRST),
            (f"[{_LEGACY_SECOND_CLASS}]", _R_SECOND),
            (f"[{_LEGACY_THIRD_CLASS}]", _R_THIRD),
        )
    )


@jit.kernel
def _hinted_lines(codes: np.ndarray, table: np.ndarray, out: np.ndarray) -> None:
    """``out[k]``: for the ``k``-th ``"\\n"``-separated line of ``codes``, ``_R_OTHER`` if it holds an
    :data:`_OTHER_HINT_CHARS` character, ``_R_FIRST`` if :data:`_UTF8_AS_LEGACY_HINT` matches in it
    (three consecutive characters of its classes; none of them is a line feed)."""
    n = codes.shape[0]
    line = 0
    acc = 0
    for i in range(n):
        c = codes[i]
        if c == 10:
            out[line] = acc
            line += 1
            acc = 0
            continue
        t = table[c]
        acc |= t & 1
        if t & 2 and i + 2 < n and table[codes[i + 1]] & 4 and table[codes[i + 2]] & 8:
            acc |= 2
    out[line] = acc


def needs_repair(line: str, cfg: RepairConfig | None = None) -> bool:
    """Fast-path test: False means no repair step can change or flag this line."""
    return bool(
        _FTFY_LEAD.search(line)
        or _FTFY_ALWAYS.search(line)
        or _DAMAGE_HINT.search(line)
        or _UTF8_AS_LEGACY_HINT.search(line)
        or _LATIN1_PAIRS_HINT.search(line)
        or (cfg is not None and cfg.ftfy_unescape_html and "&" in line)
        or (cfg is not None and cfg.min_question_run < 2 and "?" in line)
    )


# --- the stage ---------------------------------------------------------------------


def _repair_line(
    line: str,
    lineno: int,
    cfg: RepairConfig,
    fix_cfg: TextFixerConfig,
    events: list[Event],
    prefilter: bool = True,
) -> str:
    """All repair steps on one line; ``prefilter=False`` skips the per-step tests (reference path)."""
    th = mojibake.MojibakeThresholds(
        min_score=cfg.min_score,
        min_gain=cfg.min_gain,
        min_han=cfg.min_han,
        max_ascii_trail_share=cfg.latin1_max_ascii_trail_share,
        min_han_without_trail_check=cfg.latin1_trail_check_below,
    )
    text = line
    if cfg.mojibake_utf8_as_gbk and (not prefilter or _UTF8_AS_LEGACY_HINT.search(text)):
        revs = mojibake.reverse_utf8_as_legacy(text, th)
        if revs and mojibake.lost_bytes(text):
            events.append(
                Event(
                    LOSSY_RULE,
                    STAGE,
                    f"{len(revs)} segment(s) look like UTF-8 misread as {revs[0].codec}, but the line "
                    "lost bytes (U+FFFD or '?'): left as it is",
                    line=lineno,
                    line_end=lineno,
                )
            )
        elif revs:
            new = mojibake.apply_reversals(text, revs)
            events.append(
                Event(
                    mojibake.UTF8_AS_LEGACY,
                    STAGE,
                    f"UTF-8 misread as {revs[0].codec}: {len(revs)} segment(s) reversed "
                    f"(plausibility {revs[0].score_before:.2f} → {revs[0].score_after:.2f})",
                    line=lineno,
                    line_end=lineno,
                    before=text,
                    after=new,
                )
            )
            text = new
    if cfg.mojibake_gbk_big5_as_latin1 and (not prefilter or _LATIN1_PAIRS_HINT.search(text)):
        revs = mojibake.reverse_legacy_as_latin1(text, th)
        if revs:
            new = mojibake.apply_reversals(text, revs)
            events.append(
                Event(
                    mojibake.LEGACY_AS_LATIN1,
                    STAGE,
                    f"{revs[0].codec} bytes misread as Latin-1/cp1252: {len(revs)} segment(s) restored "
                    f"(plausibility {revs[0].score_before:.2f} → {revs[0].score_after:.2f})",
                    line=lineno,
                    line_end=lineno,
                    before=text,
                    after=new,
                )
            )
            text = new
    if cfg.ftfy and (
        not prefilter
        or _FTFY_ALWAYS.search(text)
        or (_FTFY_LEAD.search(text) and is_bad(text))
        or (cfg.ftfy_unescape_html and "&" in text)
    ):
        fixed, explanation = ftfy.fix_and_explain(text, config=fix_cfg)
        if fixed != text and "\n" not in fixed and "\r" not in fixed:
            steps = ", ".join(f"{kind} {arg}" for kind, arg in (explanation or []))
            events.append(
                Event(
                    FTFY_RULE,
                    STAGE,
                    f"ftfy: {steps or 'fixed'}",
                    line=lineno,
                    line_end=lineno,
                    before=text,
                    after=fixed,
                )
            )
            text = fixed
    if not prefilter or _DAMAGE_HINT.search(text) or (cfg.min_question_run < 2 and "?" in text):
        spans = damage_spans(text, cfg.min_question_run)
        if spans:
            shown = ", ".join(repr(s[2][:12]) for s in spans[:5])
            events.append(
                Event(
                    DAMAGE_RULE,
                    STAGE,
                    f"{len(spans)} irrecoverable damage marker(s): {shown}",
                    line=lineno,
                    line_end=lineno,
                )
            )
    return text


def lines_needing_repair(lines: list[str], cfg: RepairConfig, text: str | None = None) -> list[int]:
    """Indexes of the lines some repair step may change or flag (the others take the fast path).

    With kernels on, one compiled pass over the page settles the lines holding a
    :data:`_UTF8_AS_LEGACY_HINT` run and finds those holding an :data:`_OTHER_HINT_CHARS`
    character, which :func:`needs_repair` tests alone. Without,
    each test runs once over the joined text rather than once per line: for short
    lines the per-call overhead would cost more than the scan. ``text``: ``"\\n".join(lines)``
    when the caller has it.
    """
    if not lines:
        return []
    if text is None:
        text = "\n".join(lines)
    if jit.enabled() and text.count("\n") == len(lines) - 1:
        # one compiled pass settles the lines matching _UTF8_AS_LEGACY_HINT and finds the few
        # holding another hint character; needs_repair runs on those alone
        flags = np.zeros(len(lines), dtype=np.uint8)
        _hinted_lines(textscan.codes_of(text), _hint_table(), flags)
        return [
            i for i in np.flatnonzero(flags).tolist() if flags[i] & _R_FIRST or needs_repair(lines[i], cfg)
        ]
    starts = list(accumulate((len(ln) + 1 for ln in lines[:-1]), initial=0))
    hit: set[int] = set()
    hints = _HINTS + ((re.compile("&"),) if cfg.ftfy_unescape_html else ())
    if cfg.min_question_run < 2:
        hints += (re.compile(r"\?"),)  # one '?' by a Han character is damage then: _DAMAGE_HINT needs two
    for rx in hints:
        for m in rx.finditer(text):
            hit.add(bisect_right(starts, m.start()) - 1)
    # A match may straddle the newline joining two lines; the per-step tests in
    # _repair_line look at each line alone, so such a hit only costs time.
    return sorted(hit)


def repair_lines(
    lines: list[str], cfg: RepairConfig, text: str | None = None
) -> tuple[list[str], list[Event]]:
    """Repair each line; the output has exactly as many lines as the input. ``text``:
    ``"\\n".join(lines)`` when the caller has it."""
    events: list[Event] = []
    fix_cfg = ftfy_config(cfg)
    out = list(lines)
    for i in lines_needing_repair(lines, cfg, text):
        out[i] = _repair_line(lines[i], i + 1, cfg, fix_cfg, events)
    return out, events


def repair_lines_reference(lines: list[str], cfg: RepairConfig) -> tuple[list[str], list[Event]]:
    """Every step on every line, no fast path: the reference the fast path is tested against."""
    events: list[Event] = []
    fix_cfg = ftfy_config(cfg)
    out = [_repair_line(line, i + 1, cfg, fix_cfg, events, prefilter=False) for i, line in enumerate(lines)]
    return out, events
