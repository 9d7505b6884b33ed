"""English line-end hyphenation: decide whether ``con-`` + ``tinued`` is one word.

A hyphen at the end of a printed line is either a *break hyphen* inserted by the
typesetter (``con-`` / ``tinued`` → ``continued``) or part of a hyphenated
compound that happens to sit at the line end (``well-`` / ``known`` →
``well-known``). The evidence is word frequency: wordfreq knows
``continued`` and ``well-known`` but not ``tinued`` or ``wellknown``.
A soft hyphen (U+00AD) is by definition a break hyphen and is always removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

SOFT_HYPHEN = "\u00ad"
# The word fragment before the line-end hyphen and the one starting the next line.
_TAIL_WORD = re.compile(r"([A-Za-z][A-Za-z']*)[\u00ad\-‐]$")
_HEAD_WORD = re.compile(r"^([A-Za-z][A-Za-z']*)")


@lru_cache(maxsize=65536)
def zipf(word: str) -> float:
    """wordfreq Zipf frequency of an English word (0.0 when unknown), cached."""
    from wordfreq import zipf_frequency

    return float(zipf_frequency(word, "en"))


@dataclass(frozen=True, slots=True)
class HyphenDecision:
    """How to join a line ending in a hyphen with the next line."""

    remove_hyphen: bool
    reason: str
    joined: str  # the word as it will appear in the text
    zipf_joined: float
    zipf_hyphenated: float


def line_end_hyphen(line: str) -> bool:
    """The line ends in a (soft) hyphen directly after a letter."""
    if not line or line[-1] not in "-\u00ad‐":
        return False
    return bool(_TAIL_WORD.search(line[-60:]))


def decide_hyphen(
    line: str, next_line: str, min_zipf: float = 2.0, min_part_zipf: float = 3.0
) -> HyphenDecision | None:
    """Decide about the hyphen ending ``line``; ``None`` when no word straddles the break.

    * a soft hyphen is a break: removed;
    * ``Austro-`` + ``German``: a capital after a lower-case or mixed-case first part is a
      compound of names: kept;
    * the joined word is known (Zipf ≥ ``min_zipf``: ``continued``, ``military``): removed;
    * otherwise, when both halves are common words (Zipf ≥ ``min_part_zipf``, 3+ letters:
      ``well``/``known``, ``twenty``/``five``): a compound, kept;
    * otherwise (names, OCR noise) a line-end hyphen is far more often the
      typesetter's break than a compound: removed.

    wordfreq's own figure for ``a-b`` is not used: it combines the halves' frequencies,
    which says nothing about the compound (``meet-ng`` would score 3.9).
    """
    tail = _TAIL_WORD.search(line.rstrip()[-60:])
    head = _HEAD_WORD.match(next_line.lstrip())
    if tail is None or head is None:
        return None
    a, b = tail.group(1), head.group(1)
    joined = a + b
    z_joined = zipf(joined.lower())
    if line.rstrip().endswith(SOFT_HYPHEN):
        return HyphenDecision(True, "soft hyphen U+00AD", joined, z_joined, 0.0)
    if b[:1].isupper() and not a.isupper():
        return HyphenDecision(False, "capitalised second part", f"{a}-{b}", z_joined, 0.0)
    if z_joined >= min_zipf:
        return HyphenDecision(True, f"'{joined}' is a word (zipf {z_joined:.2f})", joined, z_joined, 0.0)
    za, zb = zipf(a.lower()), zipf(b.lower())
    if min(len(a), len(b)) >= 3 and min(za, zb) >= min_part_zipf:
        return HyphenDecision(
            False,
            f"'{joined}' is not a word (zipf {z_joined:.2f}) but '{a}' ({za:.2f}) and '{b}' ({zb:.2f}) are",
            f"{a}-{b}",
            z_joined,
            min(za, zb),
        )
    return HyphenDecision(
        True, f"neither '{joined}' (zipf {z_joined:.2f}) nor a compound of known words", joined, z_joined, 0.0
    )
