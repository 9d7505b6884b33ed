"""Stage 4, normalize: selective, named, switchable character rules, line by line.

Selective means: full-width punctuation stays full-width in Chinese, half-width
punctuation in Han context becomes full-width (GB/T 15834 practice), full-width
ASCII letters and digits become half-width, Kangxi radicals become the unified
ideographs they stand for, ``□``/``〓`` placeholders are kept, and NFC changes
to CJK compatibility ideographs are recorded (``normalize.cjk_compat_ideographs``).

Never touched: U+00AD soft hyphens and a line-final ``-`` (English
dehyphenation is the layout stage's job), the U+3000 ideographic-space indent
at line start (paragraph evidence for layout), ``5G``, ``3.14``, ``10:30``,
``e.g., the``, English sentences and URLs.

Every rule is a regex substitution or ``str.translate``; a precompiled test
skips lines no rule can change. Rules run in a fixed order and repeat until
nothing changes, so the stage is idempotent. A line never gains or loses a
line break, and no rule removes a Han character.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from itertools import accumulate

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cleaning import jit, textscan
from cleaning.model import Event
from cleaning.rules import register

STAGE = "normalize"

HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
# Full-width punctuation and brackets proper: Chinese context wherever they are.
FW_PUNCT = "，。、；：？！（）【】《》〈〉「」『』〔〕［］｛｝〖〗"
FW_CLASS = re.escape(FW_PUNCT)
# Marks that Chinese and Western text share (“” ‘’ — … · ～): Chinese only next to Han.
SHARED = "“”‘’…—·～"
SHARED_CLASS = re.escape(SHARED)
QUOTES = "“”‘’"
# What counts as "Chinese context" next to a half-width mark (quotes are looked through).
_CJK_CTX_RE = re.compile(f"[{HAN}{FW_CLASS}\u3000]")
_HAN_RE = re.compile(f"[{HAN}]")


class NormalizeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    remove_control_chars: bool = Field(
        True,
        description="Remove C0/C1 control characters (tab kept); vertical tab, form feed, U+0085, U+2028 "
        "and U+2029 inside a line become a space.",
    )
    remove_zero_width: bool = Field(
        True,
        description="Remove zero-width space U+200B, word joiner U+2060, U+180E and a BOM U+FEFF inside "
        "text. ZWJ/ZWNJ (emoji, Indic scripts) and the soft hyphen U+00AD are kept.",
    )
    kangxi_radicals: bool = Field(
        True,
        description="Map Kangxi radicals (U+2F00-2FD5) and the CJK radical supplement forms with a "
        "compatibility mapping to the unified ideographs (⽇ → 日), as PDF/OCR extraction leaves them.",
    )
    nfc: bool = Field(True, description="Unicode NFC (canonical composition; never NFKC).")
    cjk_compat_ideographs: bool = Field(
        True,
        description="Let NFC map CJK compatibility ideographs (U+F900-FAFF, U+2F800-2FA1F) to their "
        "unified ideographs, each change recorded as an event. Off: they are kept.",
    )
    fullwidth_ascii_to_halfwidth: bool = Field(
        True, description="Full-width ASCII letters and digits (Ａ１) become half-width (A1)."
    )
    halfwidth_punct_to_fullwidth: bool = Field(
        True,
        description="Half-width , ( ) : ; ? ! in Han context become ， （ ） ： ； ？ ！ (GB/T 15834). "
        "Digits on both sides (3,000 10:30), URLs and Latin-only context are left alone.",
    )
    ascii_quotes_to_curly: bool = Field(
        True,
        description="Paired ASCII double quotes around Han text become “ ”, only when every double quote "
        "on the line pairs up.",
    )
    space_around_fullwidth_punct: bool = Field(
        True,
        description="Remove ASCII spaces between a Han character and a full-width punctuation mark or "
        "bracket (either order). Spaces between Han words and the line-start indent stay.",
    )


# --- rules: each is line -> line ---------------------------------------------------

_CONTROL_TO_SPACE = {0x0B: " ", 0x0C: " ", 0x85: " ", 0x2028: " ", 0x2029: " "}
_CONTROL_TABLE: dict[int, str | None] = {
    c: None for c in [*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F, *range(0x80, 0xA0)]
}
_CONTROL_TABLE.update(_CONTROL_TO_SPACE)
_CONTROL_RE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def remove_control_chars(line: str) -> str:
    if not _CONTROL_RE.search(line):
        return line
    return line.translate(_CONTROL_TABLE)


_ZERO_WIDTH = "\u200b\u2060\u180e\ufeff"
_ZW_TABLE = {ord(c): None for c in _ZERO_WIDTH}
_ZW_RE = re.compile(f"[{_ZERO_WIDTH}]")


def remove_zero_width(line: str) -> str:
    if not _ZW_RE.search(line):
        return line
    return line.translate(_ZW_TABLE)


# CJK Radicals Supplement forms that stand for a whole character but have no
# compatibility mapping (after Unicode's EquivalentUnifiedIdeograph.txt); the
# component-only forms (person side, water side, ...) are left alone.
_RADICAL_SUPPLEMENT = dict(
    zip(
        "⺠⻄⻅⻆⻈⻉⻋⻐⻑⻓⻔⻘⻙⻚⻛⻜⻝⻠⻢⻣⻤⻥⻦⻧⻨⻩⻪⻬⻮⻰⻁⺩",
        "民西见角讠贝车钅長长门青韦页风飞食饣马骨鬼鱼鸟卤麦黄黾齐齿龙虎王",
        strict=True,
    )
)


def _kangxi_table() -> dict[int, str]:
    table = {ord(k): v for k, v in _RADICAL_SUPPLEMENT.items()}
    for cp in [*range(0x2E80, 0x2F00), *range(0x2F00, 0x2FE0)]:
        ch = chr(cp)
        mapped = unicodedata.normalize("NFKC", ch)
        if mapped != ch and len(mapped) == 1 and _HAN_RE.match(mapped):
            table[cp] = mapped
    return table


_KANGXI_TABLE = _kangxi_table()
_KANGXI_RE = re.compile("[\u2e80-\u2fdf]")


def map_kangxi_radicals(line: str) -> str:
    if not _KANGXI_RE.search(line):
        return line
    return line.translate(_KANGXI_TABLE)


_COMPAT_RE = re.compile("[\uf900-\ufaff\U0002f800-\U0002fa1f]")


def _compat_table() -> dict[int, str]:
    table = {}
    for cp in [*range(0xF900, 0xFB00), *range(0x2F800, 0x2FA20)]:
        ch = chr(cp)
        mapped = unicodedata.normalize("NFC", ch)
        if mapped != ch:
            table[cp] = mapped
    return table


_COMPAT_TABLE = _compat_table()


def nfc_keep_compat(line: str) -> str:
    """NFC everywhere except CJK compatibility ideographs (those are their own rule)."""
    if unicodedata.is_normalized("NFC", line):
        return line
    if not _COMPAT_RE.search(line):
        return unicodedata.normalize("NFC", line)
    parts = []
    pos = 0
    for m in _COMPAT_RE.finditer(line):
        parts.append(unicodedata.normalize("NFC", line[pos : m.start()]))
        parts.append(m.group())
        pos = m.end()
    parts.append(unicodedata.normalize("NFC", line[pos:]))
    return "".join(parts)


def map_cjk_compat(line: str) -> str:
    if not _COMPAT_RE.search(line):
        return line
    return line.translate(_COMPAT_TABLE)


_FW_ALNUM_TABLE = {
    cp: chr(cp - 0xFEE0) for cp in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]
}
_FW_ALNUM_RE = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")


def fullwidth_ascii_to_halfwidth(line: str) -> str:
    if not _FW_ALNUM_RE.search(line):
        return line
    return line.translate(_FW_ALNUM_TABLE)


_HALF_TO_FULL = {",": "，", ":": "：", ";": "；", "?": "？", "!": "！", "(": "（", ")": "）"}
# Spans that are never touched: URLs, e-mail addresses, and runs of "?" that
# stand for lost characters (damage, flagged by the repair stage, not punctuation).
_PROTECTED = re.compile(
    r"(?:https?|ftp)://[!-~]+|www\.[!-~]+|[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z0-9.-]+|\?{2,}"
)
_MARK = re.compile(r"[,:;?!()]")


def _is_cjk(ch: str) -> bool:
    return bool(ch) and _CJK_CTX_RE.match(ch) is not None


def _context(line: str, i: int, step: int) -> str:
    """The character next to ``line[i]`` in direction ``step``, looking through curly quotes."""
    j = i + step
    while 0 <= j < len(line) and line[j] in QUOTES:
        j += step
    return line[j] if 0 <= j < len(line) else ""


def _convert_mark(line: str, i: int) -> bool:
    ch = line[i]
    prev = line[i - 1] if i > 0 else ""
    nxt = line[i + 1] if i + 1 < len(line) else ""
    if ch in ",:;" and prev.isascii() and prev.isdigit() and nxt.isascii() and nxt.isdigit():
        return False  # 3,000  10:30
    cjk_prev = _is_cjk(_context(line, i, -1))
    cjk_next = _is_cjk(_context(line, i, 1))
    if ch == "(":
        # An opening bracket belongs to what it opens: 本报讯 (记者 …
        return cjk_next or (cjk_prev and nxt != "" and not nxt.isascii())
    if ch == ")":
        return cjk_prev or (cjk_next and not prev.isascii())
    if cjk_prev:
        return True
    # After Latin/digits, a mark followed by Chinese is Chinese punctuation
    # (大唐5G,鲁西南), but not after other punctuation or a space (e.g., 中).
    return cjk_next and prev != "" and (prev.isalnum() or prev in ")]\"'%")


_PAREN_PAIR = re.compile(r"\(([^()]{0,60})\)")


def _convert_pair(line: str, m: re.Match[str]) -> bool:
    """A bracket pair is Chinese when it holds Han text, or sits in Chinese: (1)按照 but not f(x)在."""
    if _HAN_RE.search(m.group(1)):
        return True
    prev = line[m.start() - 1] if m.start() > 0 else ""
    nxt = line[m.end()] if m.end() < len(line) else ""
    prev_ok = prev == "" or prev == " " or _is_cjk(prev)
    next_ok = nxt == "" or _is_cjk(nxt)
    return prev_ok and next_ok and (_is_cjk(prev) or _is_cjk(nxt))


def halfwidth_punct_to_fullwidth(line: str) -> str:
    if not _MARK.search(line):
        return line
    protected = (
        [(m.start(), m.end()) for m in _PROTECTED.finditer(line)]
        if ("/" in line or "@" in line or "www." in line or "??" in line)
        else []
    )

    def is_protected(i: int) -> bool:
        return any(a <= i < b for a, b in protected)

    changes: dict[int, str] = {}
    decided: set[int] = set()
    for m in _PAREN_PAIR.finditer(line):
        i, j = m.start(), m.end() - 1
        decided.update((i, j))
        if not is_protected(i) and not is_protected(j) and _convert_pair(line, m):
            changes[i], changes[j] = "（", "）"
    for m in _MARK.finditer(line):
        i = m.start()
        if i in decided or is_protected(i):
            continue
        if _convert_mark(line, i):
            changes[i] = _HALF_TO_FULL[line[i]]
    if not changes:
        return line
    parts = []
    pos = 0
    for i in sorted(changes):
        parts.append(line[pos:i])
        parts.append(changes[i])
        pos = i + 1
    parts.append(line[pos:])
    return "".join(parts)


_DQ_PAIR = re.compile(r'"([^"]*)"')


def ascii_quotes_to_curly(line: str) -> str:
    n = line.count('"')
    if n == 0 or n % 2:
        return line  # none, or an unpaired quote: not safe to guess
    pairs = list(_DQ_PAIR.finditer(line))
    # Convert only when every pair is Chinese: the quoted text has Han characters
    # and the quote touches Chinese on at least one outer side (or the line edge).
    for m in pairs:
        inner = m.group(1)
        if not _HAN_RE.search(inner):
            return line
        before = line[m.start() - 1] if m.start() > 0 else ""
        after = line[m.end()] if m.end() < len(line) else ""
        if not (_is_cjk(before) or _is_cjk(after) or before == "" or after == ""):
            return line
    return _DQ_PAIR.sub(lambda m: f"“{m.group(1)}”", line)


# No space belongs next to full-width punctuation in Chinese typesetting; next
# to the shared marks, only where the other side is Han.
_SPACE_FW = re.compile(
    f"(?<=[{HAN}]) +(?=[{FW_CLASS}{SHARED_CLASS}])"
    f"|(?<=[{FW_CLASS}{SHARED_CLASS}]) +(?=[{HAN}])"
    f"|(?<=[{FW_CLASS}]) +(?=\\S)"
    f"|(?<=\\S) +(?=[{FW_CLASS}])"
)


def space_around_fullwidth_punct(line: str) -> str:
    if " " not in line:
        return line
    return _SPACE_FW.sub("", line)


@dataclass(frozen=True, slots=True)
class _Rule:
    name: str
    switch: str
    fn: Callable[[str], str]
    summary: str


RULES: tuple[_Rule, ...] = (
    _Rule(
        "normalize.remove_control_chars",
        "remove_control_chars",
        remove_control_chars,
        "Removes C0/C1 control characters (tab kept); VT, FF, NEL, U+2028/2029 become a space.",
    ),
    _Rule(
        "normalize.remove_zero_width",
        "remove_zero_width",
        remove_zero_width,
        "Removes zero-width space, word joiner, U+180E and BOM inside text (ZWJ/ZWNJ, U+00AD kept).",
    ),
    _Rule(
        "normalize.kangxi_radicals",
        "kangxi_radicals",
        map_kangxi_radicals,
        "Maps Kangxi radicals and CJK radical supplement forms to unified ideographs (⽇ → 日).",
    ),
    _Rule(
        "normalize.nfc",
        "nfc",
        nfc_keep_compat,
        "Unicode NFC (never NFKC); CJK compatibility ideographs are handled by their own rule.",
    ),
    _Rule(
        "normalize.cjk_compat_ideographs",
        "cjk_compat_ideographs",
        map_cjk_compat,
        "NFC's mapping of CJK compatibility ideographs to unified ideographs (豈 → 豈), recorded.",
    ),
    _Rule(
        "normalize.fullwidth_ascii_to_halfwidth",
        "fullwidth_ascii_to_halfwidth",
        fullwidth_ascii_to_halfwidth,
        "Full-width ASCII letters and digits become half-width (Ａ１ → A1).",
    ),
    _Rule(
        "normalize.halfwidth_punct_to_fullwidth",
        "halfwidth_punct_to_fullwidth",
        halfwidth_punct_to_fullwidth,
        "Half-width , ( ) : ; ? ! in Han context become full-width (GB/T 15834).",
    ),
    _Rule(
        "normalize.ascii_quotes_to_curly",
        "ascii_quotes_to_curly",
        ascii_quotes_to_curly,
        "Paired ASCII double quotes around Han text become “ ” (only if all quotes on the line pair up).",
    ),
    _Rule(
        "normalize.space_around_fullwidth_punct",
        "space_around_fullwidth_punct",
        space_around_fullwidth_punct,
        "Removes ASCII spaces between a Han character and full-width punctuation (本报讯 （ → 本报讯（).",
    ),
)

for _r in RULES:
    register(_r.name, STAGE, _r.summary, case_fn=_r.fn)

# A line with none of these, already NFC, is left alone by every rule. The
# class leaves out "\\n": normalize_lines scans the lines joined by "\\n".
_CHARS_ANY_CONTEXT = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u200b\u2060\u180e\ufeff\u2e80-\u2fdf"
    "\uf900-\ufaff\U0002f800-\U0002fa1f\uff10-\uff19\uff21-\uff3a\uff41-\uff5a"
)
# The ASCII marks the Chinese-context rules convert (halfwidth_punct_to_fullwidth, ascii_quotes_to_curly).
_CJK_CONTEXT_MARKS = ',:;?!()"'
_CHAR_HINT = re.compile(f"[{_CHARS_ANY_CONTEXT}{_CJK_CONTEXT_MARKS}]")
# Every branch of _SPACE_FW has a full-width or shared mark touching the spaces.
_SPACE_HINT = re.compile(f"[{FW_CLASS}{SHARED_CLASS}] | [{FW_CLASS}{SHARED_CLASS}]")
_HINTS = (_CHAR_HINT, _SPACE_HINT)
# The ASCII marks , : ; ? ! ( ) " change only in Chinese context: halfwidth_punct_to_fullwidth
# and ascii_quotes_to_curly convert nothing unless the line holds a Han character, full-width
# punctuation or U+3000 (_CJK_CTX_RE), and no other rule puts one there on a line without
# _CHARS_ANY_CONTEXT (radicals and compatibility ideographs, which become Han, are in it; NFC
# makes Han only from those). So a page without any such character (English OCR, where
# nearly every line has a comma) is scanned for the other hints only.
_HINTS_NO_CJK = (re.compile(f"[{_CHARS_ANY_CONTEXT}]"), _SPACE_HINT)

# The hints as flag bits per code point, for the compiled per-line scan (cleaning.textscan):
# _CHAR_HINT is _N_ANY | _N_MARK, _HINTS_NO_CJK's class _N_ANY, _CJK_CTX_RE _N_CJK_CTX, and
# every _SPACE_HINT match is an _N_SPACE_MARK character next to an ASCII space (_hit_lines
# tests the pair itself).
_N_ANY, _N_MARK, _N_SPACE_MARK, _N_CJK_CTX = 1, 2, 4, 8


@cache
def _hint_table() -> np.ndarray:
    return textscan.class_table(
        (
            (f"[{_CHARS_ANY_CONTEXT}]", _N_ANY),
            (f"[{_CJK_CONTEXT_MARKS}]", _N_MARK),
            (f"[{FW_CLASS}{SHARED_CLASS}]", _N_SPACE_MARK),
            (_CJK_CTX_RE.pattern, _N_CJK_CTX),
        )
    )


_N_SPACE_PAIR = 16  # set by _hit_lines: a _SPACE_HINT match (a mark next to a space) in the line


@jit.kernel
def _hit_lines(codes: np.ndarray, table: np.ndarray, flags: np.ndarray, hits: np.ndarray) -> int:
    """The lines of ``codes`` (joined by line feeds) that :data:`_HINTS` (or :data:`_HINTS_NO_CJK`
    on a page without :data:`_CJK_CTX_RE`) match in, written to ``hits`` in order; returns how
    many. ``flags`` is scratch space, one per line. A mark and a space are never a line feed, so
    a ``_SPACE_HINT`` pair never straddles two lines."""
    n = codes.shape[0]
    line = 0
    acc = 0
    for i in range(n):
        c = codes[i]
        if c == 10:
            flags[line] = acc
            line += 1
            acc = 0
            continue
        acc |= table[c]
        if c == 32:
            before = i > 0 and table[codes[i - 1]] & _N_SPACE_MARK
            if before or (i + 1 < n and table[codes[i + 1]] & _N_SPACE_MARK):
                acc |= _N_SPACE_PAIR
    flags[line] = acc
    page = 0
    for k in range(line + 1):
        page |= flags[k]
    marks = _N_ANY | _N_SPACE_PAIR | (_N_MARK if page & _N_CJK_CTX else 0)
    count = 0
    for k in range(line + 1):
        if flags[k] & marks:
            hits[count] = k
            count += 1
    return count


_MAX_PASSES = 4


def _rules(cfg: NormalizeConfig) -> list[_Rule]:
    return [r for r in RULES if getattr(cfg, r.switch)]


def normalize_line(line: str, cfg: NormalizeConfig) -> tuple[str, list[tuple[str, str, str]]]:
    """Normalize one line; returns the line and (rule, before, after) for each rule that changed it."""
    if (
        "\n" not in line
        and not any(rx.search(line) for rx in _HINTS)
        and unicodedata.is_normalized("NFC", line)
    ):
        return line, []
    return _apply(line, _rules(cfg))


def _apply(line: str, rules: list[_Rule]) -> tuple[str, list[tuple[str, str, str]]]:
    changes: list[tuple[str, str, str]] = []
    text = line
    for _ in range(_MAX_PASSES):
        start = text
        for r in rules:
            new = r.fn(text)
            if new != text:
                changes.append((r.name, text, new))
                text = new
        if text == start:
            break
    return text, changes


def lines_needing_normalization(lines: list[str], text: str | None = None) -> list[int]:
    """Indexes of the lines some rule may change; the tests run once over the joined text (with
    kernels on, as one compiled pass over its code points). ``text``: ``"\\n".join(lines)`` when
    the caller has it."""
    if not lines:
        return []
    if text is None:
        text = "\n".join(lines)
    one_per_line = text.count("\n") == len(lines) - 1
    if jit.enabled() and one_per_line:
        # one compiled pass settles every hint, the space hint's pairs included, and lists the
        # lines (the numpy steps and a set per page cost more than the scan itself)
        scratch = np.empty(len(lines), dtype=np.uint8)
        found = np.empty(len(lines), dtype=np.int64)
        hits = found[: _hit_lines(textscan.codes_of(text), _hint_table(), scratch, found)].tolist()
        if unicodedata.is_normalized("NFC", text):
            return hits
        hit = set(hits)
    elif not one_per_line:  # a line holding a line break: test each line alone
        return [
            i
            for i, ln in enumerate(lines)
            if "\n" in ln or any(rx.search(ln) for rx in _HINTS) or not unicodedata.is_normalized("NFC", ln)
        ]
    else:
        starts = list(accumulate((len(ln) + 1 for ln in lines[:-1]), initial=0))
        hit = set()
        for rx in _HINTS if _CJK_CTX_RE.search(text) else _HINTS_NO_CJK:
            pos = 0
            while (m := rx.search(text, pos)) is not None:
                k = bisect_right(starts, m.start()) - 1
                hit.add(k)
                if k + 1 >= len(starts):
                    break
                pos = starts[k + 1]  # one hit per line is enough
    if not unicodedata.is_normalized("NFC", text):
        hit.update(i for i, ln in enumerate(lines) if not unicodedata.is_normalized("NFC", ln))
    return sorted(hit)


def normalize_lines(
    lines: list[str], cfg: NormalizeConfig, text: str | None = None
) -> tuple[list[str], list[Event]]:
    """Normalize each line; the output has exactly as many lines as the input. ``text``:
    ``"\\n".join(lines)`` when the caller has it."""
    out = list(lines)
    events: list[Event] = []
    rules = _rules(cfg)
    for i in lines_needing_normalization(lines, text):
        new, changes = _apply(lines[i], rules)
        if not changes:
            continue
        out[i] = new
        for name, before, after in changes:
            events.append(
                Event(
                    name,
                    STAGE,
                    # formatted when read (explain): counting a long line's characters costs more
                    # than the rule itself, and a run reads only the rule names
                    partial(_describe, name, before, after),
                    line=i + 1,
                    line_end=i + 1,
                    before=before,
                    after=after,
                )
            )
    return out, events


def normalize_lines_reference(lines: list[str], cfg: NormalizeConfig) -> list[str]:
    """Every rule on every line, no fast path: the reference the fast path is tested against."""
    rules = _rules(cfg)
    return [_apply(line, rules)[0] for line in lines]


def _describe(name: str, before: str, after: str) -> str:
    """What changed, for ``presswash explain``: ``',' → '，' ×3``, ``removed ' ' ×1``."""
    if name == "normalize.cjk_compat_ideographs":
        pairs = sorted(
            {f"{c} U+{ord(c):04X} → {_COMPAT_TABLE[ord(c)]}" for c in before if ord(c) in _COMPAT_TABLE}
        )
        return "CJK compatibility ideograph(s) mapped by NFC: " + ", ".join(pairs)
    if len(before) == len(after):
        swaps = Counter((a, b) for a, b in zip(before, after, strict=True) if a != b)
        return ", ".join(f"{a!r} → {b!r} ×{k}" for (a, b), k in sorted(swaps.items()))
    removed = Counter(before) - Counter(after)
    added = Counter(after) - Counter(before)
    parts = [f"removed {c!r} ×{k}" for c, k in sorted(removed.items())]
    parts += [f"added {c!r} ×{k}" for c, k in sorted(added.items())]
    return ", ".join(parts) or f"{len(before)} → {len(after)} characters"
