"""Stage 2, decode: raw bytes to text, with the evidence for the choice.

The cascade, first match wins (``docs/decoding.md`` has the details):

1. empty input → reject ``empty``;
2. a byte-order mark (UTF-32, UTF-8, UTF-16) → method ``bom``;
3. NUL or "control" bytes in input that is not UTF-8 with multi-byte content →
   UTF-16 without BOM when one byte order reads as plausible text → ``utf16-no-bom``;
4. file signatures or too many control/NUL bytes → reject ``binary``;
5. strict UTF-8 → ``strict``. GB18030 is never tried before this: it decodes
   almost any byte string, UTF-8 included, into (wrong) Han characters;
6. otherwise: a UTF-8 character cut off at the end → ``utf8-truncated-tail``;
   mostly valid UTF-8 → decoded per line (``per-line``: UTF-8 lines stay UTF-8,
   the others get their most plausible legacy reading, counted in
   ``other_encoding_lines``; bytes that fit nothing become U+FFFD, counted in
   ``replacement_chars``); else the candidates GB18030, cp950, Big5-HKSCS,
   UTF-16LE/BE and cp1252 are scored by how plausible the text is
   (:func:`cleaning.mojibake.plausibility`) → ``scored``. A near tie is broken
   by script consistency, then by charset-normalizer (``+charset-normalizer``).
   Nothing plausible → reject ``undecodable``.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from functools import cache

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cleaning import jit, textscan
from cleaning.lang import script_specific_chars
from cleaning.model import DecodeInfo, Event
from cleaning.mojibake import HAN_CLASS, plausibility
from cleaning.rules import register

STAGE = "decode"


class DecodeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    candidates: list[str] = Field(
        default_factory=lambda: ["gb18030", "cp950", "big5hkscs", "utf-16-le", "utf-16-be", "cp1252"],
        description="Codecs tried (in this order of preference on equal scores) when the input is not "
        "strict UTF-8. Python codec names.",
    )
    min_plausibility: float = Field(
        0.5,
        description="Minimum plausibility (mean score per non-ASCII character, about -3 … 1; real Chinese "
        "≈ 0.95) for a whole-file legacy decoding to be accepted.",
    )
    min_latin_line_plausibility: float = Field(
        0.9,
        description="A line of a mixed file is read as cp1252 (Latin-1 text in a UTF-8 file) only when its "
        "accented letters sit inside Latin words to at least this score (-3 … 1).",
    )
    min_line_plausibility: float = Field(
        0.6, description="Minimum plausibility of one line decoded with a legacy codec in a mixed file."
    )
    tie_margin: float = Field(
        0.05,
        description="Two candidates whose plausibility differs by less than this are a tie, broken by "
        "charset-normalizer.",
    )
    script_consistency_margin: float = Field(
        0.2,
        description="In a tie, the reading whose script-specific characters are more consistently "
        "Simplified or Traditional wins when it is more consistent by at least this much; otherwise "
        "charset-normalizer decides.",
    )
    tie_break_min_bytes: int = Field(
        32,
        ge=0,
        description="charset-normalizer is asked to break a tie only for inputs of at least this many "
        "bytes; on shorter ones its guess is noise and the candidate order decides.",
    )
    utf8_evidence_ratio: float = Field(
        0.5,
        description="A file that fails strict UTF-8 is decoded per line when at least this share of its "
        "non-ASCII byte sequences are valid UTF-8 multi-byte characters.",
    )
    max_replacement_ratio: float = Field(
        0.1,
        description="Reject as 'undecodable' when more than this share of the decoded characters had to "
        "be replaced by U+FFFD.",
    )
    max_control_ratio: float = Field(
        0.05,
        description="Reject as 'binary' when more than this share of the first 64 KiB are control bytes "
        "other than tab, line feed, carriage return, form feed and escape.",
    )
    utf16_min_nul_share: float = Field(
        0.005,
        description="UTF-16 without BOM is considered when at least this share of the (two-byte) code units "
        "in the sniffed head contain a NUL byte (ASCII letters, line breaks, Han characters like U+4E00).",
    )
    utf16_ascii_nul_share: float = Field(
        0.3,
        description="A UTF-16 reading that is (nearly) all ASCII is accepted when at least this share of "
        "the code units hold a NUL byte (English text in UTF-16).",
    )
    sniff_bytes: int = Field(65536, ge=1024, description="Bytes examined by the binary and UTF-16 tests.")


@dataclass(slots=True)
class DecodeResult:
    text: str
    info: DecodeInfo
    events: list[Event] = field(default_factory=list)


class DecodeRejected(Exception):
    """The input cannot be decoded sensibly. ``reason`` is a stable code, ``detail`` human text."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# --- rules ---------------------------------------------------------------------------

R_BOM = "decode.bom"
R_UTF8 = "decode.utf8_strict"
R_UTF16 = "decode.utf16_without_bom"
R_LEGACY = "decode.legacy_by_plausibility"
R_TIE = "decode.charset_tie_break"
R_MIXED = "decode.mixed_per_line"
R_TRUNC = "decode.truncated_tail"
R_STRAY = "decode.invalid_bytes_replaced"
R_REJECT = "decode.reject"


def _case(rule_name: str):
    def fn(data: bytes) -> str | bytes:
        """The decoded text when this rule made the decision, else the input unchanged."""
        try:
            res = decode_bytes(data, DecodeConfig())
        except DecodeRejected as exc:
            return f"<rejected:{exc.reason}>" if rule_name == R_REJECT else data
        return res.text if any(e.rule == rule_name for e in res.events) else data

    return fn


for _name, _summary in (
    (R_BOM, "A byte-order mark (UTF-8, UTF-16, UTF-32) decides the encoding; the BOM is dropped."),
    (
        R_UTF8,
        "Input that is valid UTF-8 is UTF-8 (always tried before GB18030, which accepts almost anything).",
    ),
    (R_UTF16, "UTF-16 without BOM, recognised by NUL bytes on one parity or by plausibility of the text."),
    (
        R_LEGACY,
        "Not UTF-8: GB18030 / cp950 / Big5-HKSCS / cp1252 chosen by how plausible the decoded text is.",
    ),
    (
        R_TIE,
        "Two candidate encodings score alike: the reading consistently in one script (Simplified or "
        "Traditional) wins, else charset-normalizer's guess.",
    ),
    (
        R_MIXED,
        "Mixed file: UTF-8 lines stay UTF-8, other lines are decoded with the best-scoring legacy codec.",
    ),
    (R_TRUNC, "A multi-byte character cut off at the end of the file becomes U+FFFD (counted)."),
    (R_STRAY, "Bytes that fit no encoding (a stray invalid byte) become U+FFFD (counted)."),
    (R_REJECT, "Empty, binary or undecodable input becomes a reject row (reason: empty/binary/undecodable)."),
):
    register(_name, STAGE, _summary, case_fn=_case(_name))


# --- helpers -------------------------------------------------------------------------

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_SIGNATURES = (
    b"%PDF-",
    b"\x89PNG",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"GIF8",
    b"\xff\xd8\xff",
    b"\x7fELF",
    b"BZh",
    b"\xfd7zXZ",
)
# Control bytes (NUL and C0 except tab, line breaks, form feed, SUB/ESC kept as text).
_CONTROL_BYTE_VALUES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F])
# bytes.translate(None, delete) counts in C: delete everything that is not a control byte.
_NOT_CONTROL_BYTES = bytes(b for b in range(256) if b not in _CONTROL_BYTE_VALUES)
_ASCII_BYTES = bytes(range(0x80))
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")
_NON_ASCII = re.compile(rb"[\x80-\xff]")
_UTF8_SEQ = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def utf8_evidence(data: bytes) -> tuple[int, int]:
    """How many well-formed UTF-8 multi-byte sequences ``data`` holds, and their bytes, as a
    left-to-right scan for :data:`_UTF8_SEQ` finds them (one compiled pass when kernels are on:
    the regex makes a bytes object of every match, which a legacy Chinese file has thousands of)."""
    if jit.enabled():
        out = np.zeros(2, dtype=np.int64)
        _utf8_seq_kernel(np.frombuffer(data, dtype=np.uint8), out)
        return int(out[0]), int(out[1])
    seqs = _UTF8_SEQ.findall(data)
    return len(seqs), sum(map(len, seqs))


@jit.kernel
def _utf8_seq_kernel(data: np.ndarray, out: np.ndarray) -> None:
    """``out``: the count and the bytes of the :data:`_UTF8_SEQ` matches in ``data``: a lead byte
    followed by its continuation bytes is a match; anywhere else the scan moves on by one byte."""
    n = data.shape[0]
    i = 0
    while i < n:
        lead = data[i]
        more = 1 if 0xC2 <= lead <= 0xDF else 2 if 0xE0 <= lead <= 0xEF else 3 if 0xF0 <= lead <= 0xF4 else 0
        if more and i + more < n:
            k = 1
            while k <= more and 0x80 <= data[i + k] <= 0xBF:
                k += 1
            if k > more:
                out[0] += 1
                out[1] += more + 1
                i += more + 1
                continue
        i += 1


def _utf16_without_bom(data: bytes, head: bytes, cfg: DecodeConfig) -> tuple[str, str, int] | None:
    """UTF-16 without BOM: (codec, text, replacements), or None when it is not UTF-16.

    ASCII code units put a NUL on one parity (odd offsets in LE, even in BE),
    but Han characters such as U+4E00 put NULs on the other, so parity alone
    does not decide: both byte orders are decoded and compared. A reading is
    accepted when it is plausible Chinese, or when it is mostly ASCII and the
    NULs fill a large share of the code units (English UTF-16); a reading with
    control characters (what binary data gives) is refused.
    """
    units = max(1, len(head) // 2)
    nul_units = sum(1 for i in range(0, len(head) - 1, 2) if head[i] == 0 or head[i + 1] == 0)
    body = data if len(data) % 2 == 0 else data[:-1]
    best: tuple[float, str, str, int] | None = None
    for codec in ("utf-16-le", "utf-16-be"):
        text, replaced = _decode_lenient(body, codec)
        if not text or _CONTROL_CHARS.search(text[: len(head)]):
            continue
        score = plausibility(text) - 3.0 * replaced / max(1, len(text))
        ascii_share = sum(1 for ch in text[:4096] if ch < "\x80") / min(len(text), 4096)
        if ascii_share >= 0.9 and nul_units >= cfg.utf16_ascii_nul_share * units:
            score = max(score, 1.0)  # English (or other ASCII) text in UTF-16
        if best is None or score > best[0]:
            best = (score, codec, text, replaced)
    if best is None or best[0] < cfg.min_plausibility:
        return None
    return best[1], best[2], best[3]


def _decode_lenient(data: bytes, codec: str) -> tuple[str, int]:
    """Decode with U+FFFD for bad bytes; returns the text and how many replacements were made."""
    text = data.decode(codec, errors="replace")
    return text, text.count("\ufffd") - _existing_fffd(data, codec)


def _existing_fffd(data: bytes, codec: str) -> int:
    if codec.startswith("utf-8"):
        return data.count(b"\xef\xbf\xbd")
    return 0


_LATIN_WEIRD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f{}\[\]\\^`|~<>@#$*_=+]")


_LATIN_LETTER = "À-ÖØ-öø-ÿŠšŽžŒœŸƒ"
# An accented letter next to an ASCII letter (inside a word), or punctuation cp1252 text uses.
_LATIN_MARKS = "“”‘’–—…•€™©®°·"
# What _latin_counts counts (the definition its tests check it against)
_LATIN_GOOD = re.compile(f"(?<=[A-Za-z])[{_LATIN_LETTER}]|[{_LATIN_LETTER}](?=[A-Za-z])|[{_LATIN_MARKS}]")


def _latin_plausibility(text: str) -> float:
    """cp1252 candidate: accented letters inside Latin words are plausible, anything else is not.

    Text whose ASCII part is full of controls and symbols ({[\\^|...) is
    something else read byte by byte (UTF-16 or a Chinese codec) and scores low.
    """
    n, good, weird = _latin_counts(text)
    score = min(1.0, (2.0 * good - n) / n) if n else 0.0
    if weird > 0.05 * len(text):
        score -= 2.0
    return score


# Bits of _latin_table: the classes of _LATIN_GOOD and _LATIN_WEIRD, and the ASCII letters.
_LT_LETTER, _LT_MARK, _LT_WEIRD, _LT_ASCII_LETTER = 1, 2, 4, 8


@cache
def _latin_table() -> np.ndarray:
    return textscan.class_table(
        (
            (f"[{_LATIN_LETTER}]", _LT_LETTER),
            (f"[{_LATIN_MARKS}]", _LT_MARK),
            (_LATIN_WEIRD.pattern, _LT_WEIRD),
            ("[A-Za-z]", _LT_ASCII_LETTER),
        )
    )


def _latin_counts(text: str) -> tuple[int, int, int]:
    """The non-ASCII characters of ``text``, the matches of :data:`_LATIN_GOOD` and of
    :data:`_LATIN_WEIRD`, from a table over the code points (each match is one character:
    a cp1252 reading of a legacy Chinese file is thousands of them)."""
    codes = textscan.codes_of(text)
    flags = _latin_table()[codes]
    az = (flags & _LT_ASCII_LETTER) != 0
    by_letter = np.zeros(len(codes), dtype=bool)
    by_letter[1:] = az[:-1]
    by_letter[:-1] |= az[1:]
    good = (((flags & _LT_LETTER) != 0) & by_letter) | ((flags & _LT_MARK) != 0)
    return (
        int(np.count_nonzero(codes >= 128)),
        int(np.count_nonzero(good)),
        int(np.count_nonzero(flags & _LT_WEIRD)),
    )


def _score(text: str, codec: str) -> float:
    if codec == "cp1252":
        return _latin_plausibility(text)
    return plausibility(text)


def _charset_normalizer_guess(data: bytes) -> str | None:
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:65536]).best()
    except Exception:  # a tie-breaker must never break decoding
        return None
    return codecs.lookup(best.encoding).name if best is not None else None


def _script_consistency(text: str) -> float:
    """Share of the script-specific characters that belong to the majority script (0.5 … 1)."""
    trad_only, simp_only = script_specific_chars()
    t = sum(1 for ch in text if ch in trad_only)
    s = sum(1 for ch in text if ch in simp_only)
    return max(t, s) / (t + s) if t + s else 0.5


_FAMILIES = {
    "gb18030": "gb",
    "gbk": "gb",
    "gb2312": "gb",
    "hz": "gb",
    "big5": "big5",
    "cp950": "big5",
    "big5hkscs": "big5",
    "utf_16_le": "utf-16",
    "utf_16_be": "utf-16",
    "utf_16": "utf-16",
}


def _family(codec: str) -> str:
    """Codecs that read Chinese text alike (gb18030/gbk/gb2312; big5/cp950/big5hkscs) form one family."""
    name = _codec_name(codec).replace("-", "_")
    return _FAMILIES.get(name, name)


def _codec_name(codec: str) -> str:
    try:
        return codecs.lookup(codec).name
    except LookupError:
        return codec


@dataclass(slots=True)
class _Candidate:
    codec: str
    text: str
    score: float
    replaced: int


# --- the stage -----------------------------------------------------------------------


def decode_bytes(data: bytes, cfg: DecodeConfig) -> DecodeResult:
    """Decode one file's bytes. Raises only :class:`DecodeRejected`."""
    if not data or not data.strip(b" \t\r\n"):
        raise DecodeRejected("empty", f"{len(data)} bytes, no text")

    for bom, codec in _BOMS:
        if data.startswith(bom):
            text, replaced = _decode_lenient(data[len(bom) :], codec)
            events = [Event(R_BOM, STAGE, f"byte-order mark: {codec}")]
            if replaced:
                events.append(
                    Event(R_STRAY, STAGE, f"{replaced} invalid byte sequence(s) replaced by U+FFFD")
                )
            return _finish(text, codec, "bom", 1.0, 0, replaced, events, cfg)

    for sig in _SIGNATURES:
        if data.startswith(sig):
            raise DecodeRejected("binary", f"file signature {sig!r}")

    try:
        utf8_text: str | None = data.decode("utf-8")
    except UnicodeDecodeError:
        utf8_text = None

    head = data[: cfg.sniff_bytes]
    controls = len(head.translate(None, _NOT_CONTROL_BYTES))
    nuls = head.count(0) if controls else 0  # NUL is a control byte: none without one (most pages)
    binary_like = controls > cfg.max_control_ratio * len(head)
    # UTF-16 without BOM shows as NUL bytes (ASCII code units) or, for Chinese
    # without ASCII, as "control" bytes (low bytes of Han code units). UTF-8 text
    # with multi-byte content and a few NULs is UTF-8: the normalize stage removes
    # the NULs.
    if (binary_like or nuls >= max(1.0, cfg.utf16_min_nul_share * (len(head) // 2))) and not (
        utf8_text is not None and _NON_ASCII.search(head)
    ):
        found16 = _utf16_without_bom(data, head, cfg)
        if found16 is not None:
            codec16, text, replaced = found16
            events = [Event(R_UTF16, STAGE, f"{codec16} without BOM: the plausible byte order")]
            if len(data) % 2:
                text += "\ufffd"
                replaced += 1
                events.append(Event(R_TRUNC, STAGE, "odd final byte of UTF-16 input replaced by U+FFFD"))
            return _finish(text, codec16, "utf16-no-bom", 0.95, 0, replaced, events, cfg)

    if binary_like:
        what = "mostly NUL bytes" if nuls * 2 > controls else "control bytes"
        raise DecodeRejected(
            "binary", f"{what}: {controls} control/NUL bytes ({nuls} NUL) in the first {len(head)} bytes"
        )

    if utf8_text is not None:
        return _finish(utf8_text, "utf-8", "strict", 1.0, 0, 0, [Event(R_UTF8, STAGE, "valid UTF-8")], cfg)

    return _decode_not_utf8(data, cfg)


def _finish(
    text: str,
    codec: str,
    method: str,
    confidence: float,
    other_lines: int,
    replaced: int,
    events: list[Event],
    cfg: DecodeConfig,
) -> DecodeResult:
    if text and replaced > cfg.max_replacement_ratio * len(text):
        raise DecodeRejected(
            "undecodable", f"best reading ({codec}) needs {replaced} replacement characters in {len(text)}"
        )
    if not text.strip():
        raise DecodeRejected("empty", f"decodes ({codec}) to whitespace only")
    info = DecodeInfo(
        encoding=_codec_name(codec),
        method=method,
        confidence=round(confidence, 3),
        other_encoding_lines=other_lines,
        replacement_chars=replaced,
    )
    return DecodeResult(text=text, info=info, events=events)


def _tail_truncated(data: bytes, codec: str) -> bool:
    """True when ``data`` is valid in ``codec`` except for an incomplete character at its very end."""
    dec = codecs.getincrementaldecoder(codec)(errors="strict")
    try:
        dec.decode(data, final=False)
    except UnicodeDecodeError:
        return False
    pending = dec.getstate()[0]
    return bool(pending)


def _decode_not_utf8(data: bytes, cfg: DecodeConfig) -> DecodeResult:
    if _tail_truncated(data, "utf-8"):
        text, replaced = _decode_lenient(data, "utf-8")
        return _finish(
            text,
            "utf-8",
            "utf8-truncated-tail",
            0.99,
            0,
            replaced,
            [Event(R_TRUNC, STAGE, "UTF-8 file ends inside a multi-byte character: U+FFFD")],
            cfg,
        )

    valid_seqs, valid_bytes = utf8_evidence(data)
    non_ascii = len(data.translate(None, _ASCII_BYTES))
    # Bytes not explained by a valid UTF-8 sequence.
    stray = non_ascii - valid_bytes
    if valid_seqs and valid_seqs >= cfg.utf8_evidence_ratio * (valid_seqs + stray):
        return _decode_per_line(data, cfg)
    return _decode_whole(data, cfg)


def _candidates(data: bytes, cfg: DecodeConfig, strict: bool) -> list[_Candidate]:
    out = []
    for codec in cfg.candidates:
        if codec.startswith("utf-16") and len(data) % 2:
            continue
        try:
            if strict:
                text, replaced = data.decode(codec), 0
            else:
                text, replaced = _decode_lenient(data, codec)
        except (UnicodeDecodeError, LookupError):
            continue
        if "\x00" in text:
            continue
        score = _score(text, codec) - 3.0 * replaced / max(1, len(text))
        out.append(_Candidate(codec, text, score, replaced))
    return out


def _decode_whole(data: bytes, cfg: DecodeConfig) -> DecodeResult:
    strict = _candidates(data, cfg, strict=True)
    method = "scored"
    cands = list(strict)
    if not cands or max(c.score for c in cands) < cfg.min_plausibility:
        # A legacy file with a stray or truncated byte fails every strict decoder
        # but one that should not win (cp1252 takes any byte): compare lenient reads.
        seen = {c.codec for c in strict}
        cands += [c for c in _candidates(data, cfg, strict=False) if c.codec not in seen]
    utf8_text, utf8_replaced = _decode_lenient(data, "utf-8")
    cands.append(
        _Candidate(
            "utf-8",
            utf8_text,
            plausibility(utf8_text) - 3.0 * utf8_replaced / max(1, len(utf8_text)),
            utf8_replaced,
        )
    )
    # Stable sort: on equal scores the configured order decides.
    cands.sort(key=lambda c: -c.score)
    best = cands[0]
    # The runner-up is the best candidate that reads the bytes differently.
    second = next((c for c in cands[1:] if c.text != best.text), None)
    events: list[Event] = []
    if second is not None and best.score - second.score < cfg.tie_margin:
        # First tie-breaker: real text is written in one script, and reading it
        # with the wrong codec mixes Simplified-only and Traditional-only characters.
        cb, cs = _script_consistency(best.text), _script_consistency(second.text)
        if abs(cb - cs) >= cfg.script_consistency_margin:
            if cs > cb:
                best, second = second, best
            detail = f"script consistency {max(cb, cs):.2f} vs {min(cb, cs):.2f}"
        else:
            guess = _charset_normalizer_guess(data) if len(data) >= cfg.tie_break_min_bytes else None
            if guess is not None and _family(second.codec) == _family(guess) != _family(best.codec):
                best, second = second, best
            detail = f"charset-normalizer says {guess or 'nothing (input too short)'}"
            method += "+charset-normalizer"
        events.append(
            Event(
                R_TIE,
                STAGE,
                f"{best.codec} {best.score:.2f} vs {second.codec} {second.score:.2f}: "
                f"within {cfg.tie_margin}; {detail}",
            )
        )
    if best.replaced:
        method += "-replaced"
    if best.score < cfg.min_plausibility and best.replaced:
        raise DecodeRejected(
            "undecodable",
            f"no encoding gives plausible text (best {best.codec}, plausibility {best.score:.2f})",
        )
    margin = best.score - (second.score if second is not None else -3.0)
    confidence = max(0.0, min(1.0, best.score)) * min(1.0, 0.5 + margin)
    if best.codec == "utf-8":
        events.insert(
            0, Event(R_STRAY, STAGE, f"{best.replaced} invalid UTF-8 byte sequence(s) replaced by U+FFFD")
        )
        return _finish(best.text, "utf-8", "utf8-replaced", confidence, 0, best.replaced, events, cfg)
    rule = R_UTF16 if best.codec.startswith("utf-16") else R_LEGACY
    detail = f"{best.codec}: plausibility {best.score:.2f}" + (
        f", next {second.codec} {second.score:.2f}" if second is not None else ""
    )
    events.insert(0, Event(rule, STAGE, detail))
    if best.replaced:
        rule = R_TRUNC if _tail_truncated(data, best.codec) else R_STRAY
        events.append(Event(rule, STAGE, f"{best.replaced} invalid byte sequence(s) replaced by U+FFFD"))
    return _finish(best.text, best.codec, method, confidence, 0, best.replaced, events, cfg)


_LINE_BREAK = re.compile(rb"(\r\n|\r|\n)")
_HAN_RE = re.compile(f"[{HAN_CLASS}]")


def _decode_per_line(data: bytes, cfg: DecodeConfig) -> DecodeResult:
    """UTF-8 lines stay UTF-8; each other line gets its most plausible reading.

    Lines are split like ``cleaning.pipeline.split_lines`` splits text (CRLF, CR,
    LF; no legacy codec uses those bytes inside a character), so event line
    numbers are lines of the decoded source.
    """
    parts: list[str] = []
    other = 0
    replaced = 0
    events: list[Event] = []
    used: dict[str, int] = {}
    pieces = _LINE_BREAK.split(data)  # content, break, content, break, ..., content
    n_lines = (len(pieces) + 1) // 2
    for index in range(0, len(pieces), 2):
        chunk = pieces[index]
        lineno = index // 2 + 1
        if index + 1 < len(pieces):
            parts.append("")  # placeholder, filled below; keeps breaks in order
        try:
            decoded = chunk.decode("utf-8")
        except UnicodeDecodeError:
            decoded = None
        if decoded is None:
            best: _Candidate | None = None
            for codec in cfg.candidates:
                if codec.startswith("utf-16"):
                    continue  # a line of a UTF-8 file is not UTF-16
                try:
                    text = chunk.decode(codec)
                except UnicodeDecodeError:
                    continue
                score = _score(text, codec)
                if codec == "cp1252" and (score < cfg.min_latin_line_plausibility or _HAN_RE.search(text)):
                    continue  # a Latin-1 line only when it reads as Latin words (else: stray bytes)
                if best is None or score > best.score:
                    best = _Candidate(codec, text, score, 0)
            utf8_text, n_bad = _decode_lenient(chunk, "utf-8")
            utf8_score = plausibility(utf8_text)
            if best is not None and best.score >= cfg.min_line_plausibility and best.score > utf8_score:
                decoded = best.text
                other += 1
                used[best.codec] = used.get(best.codec, 0) + 1
                events.append(
                    Event(
                        R_MIXED,
                        STAGE,
                        f"line decoded as {best.codec} (plausibility "
                        f"{best.score:.2f}, UTF-8 with U+FFFD {utf8_score:.2f})",
                        line=lineno,
                        line_end=lineno,
                    )
                )
            else:
                decoded = utf8_text
                replaced += n_bad
                is_tail = lineno == n_lines and _tail_truncated(chunk, "utf-8")
                events.append(
                    Event(
                        R_TRUNC if is_tail else R_STRAY,
                        STAGE,
                        f"{n_bad} invalid UTF-8 byte sequence(s) replaced by U+FFFD",
                        line=lineno,
                        line_end=lineno,
                    )
                )
        if index + 1 < len(pieces):
            parts[-1] = decoded + pieces[index + 1].decode("ascii")
        else:
            parts.append(decoded)
    text = "".join(parts)
    if other:
        events.insert(
            0,
            Event(
                R_MIXED,
                STAGE,
                f"mixed encodings: {other} line(s) not UTF-8 ("
                + ", ".join(f"{k} {v}" for k, v in sorted(used.items()))
                + ")",
            ),
        )
    method = "per-line" if other else "utf8-replaced"
    total_lines = max(1, n_lines)
    confidence = 1.0 - 0.5 * (other + replaced) / total_lines if other else 0.98
    return _finish(text, "utf-8", method, max(0.0, confidence), other, replaced, events, cfg)
