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
    return bool(_TAIL_WORD.search(line))


def decide_hyphen(line: str, next_line: str, min_zipf: float = 2.0) -> HyphenDecision | None:
    """Decide about the hyphen ending ``line``; ``None`` when no word straddles the break.

    ``min_zipf``: a joined word rarer than this is only accepted when the
    hyphenated compound is not a better-known form either.
    """
    tail = _TAIL_WORD.search(line.rstrip())
    head = _HEAD_WORD.match(next_line.lstrip())
    if tail is None or head is None:
        return None
    a, b = tail.group(1), head.group(1)
    if line.rstrip().endswith(SOFT_HYPHEN):
        return HyphenDecision(True, "soft hyphen U+00AD", a + b, zipf(a + b), 0.0)
    joined = a + b
    z_joined = zipf(joined.lower())
    z_hyph = zipf(f"{a}-{b}".lower())
    if b[:1].isupper() and not a.isupper():
        # ``Anglo-`` + ``Saxon``, ``Smith-`` + ``Jones``: a capital after the break is a compound.
        return HyphenDecision(False, "capitalised second part", f"{a}-{b}", z_joined, z_hyph)
    if z_joined >= min_zipf and z_joined >= z_hyph:
        return HyphenDecision(
            True,
            f"'{joined}' is a word (zipf {z_joined:.2f} ≥ compound {z_hyph:.2f})",
            joined,
            z_joined,
            z_hyph,
        )
    if z_hyph > z_joined and zipf(a.lower()) > 0 and zipf(b.lower()) > 0:
        return HyphenDecision(
            False,
            f"compound '{a}-{b}' (zipf {z_hyph:.2f}) better known than '{joined}' ({z_joined:.2f})",
            f"{a}-{b}",
            z_joined,
            z_hyph,
        )
    # Neither form is known (names, OCR noise): a line-end hyphen is far more often
    # a typesetter's break than a compound, so the break reading wins.
    return HyphenDecision(
        True,
        f"no known compound (zipf joined {z_joined:.2f}, compound {z_hyph:.2f})",
        joined,
        z_joined,
        z_hyph,
    )
