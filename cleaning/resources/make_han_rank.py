"""Regenerate ``han_rank.txt``: Han characters in descending order of frequency.

The table drives the "is this plausible Chinese?" score of the decode and
mojibake stages. Frequencies come from jieba's dictionary (word frequencies
summed per character); every Traditional form OpenCC pairs with a
Simplified character (either direction) inherits that character's frequency, so Big5 text scores
as well as GBK text. Only the most frequent ``LIMIT`` characters are kept.

Run from the repository root::

    python cleaning/resources/make_han_rank.py
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

LIMIT = 9000
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0003134f]")


def build() -> str:
    import jieba
    import opencc

    freq: Counter[str] = Counter()
    dict_path = Path(os.path.dirname(jieba.__file__)) / "dict.txt"
    for line in dict_path.read_text(encoding="utf-8").splitlines():
        parts = line.split(" ")
        if len(parts) < 2:
            continue
        word, count = parts[0], int(parts[1])
        for ch in HAN.findall(word):
            freq[ch] += count
    st_path = Path(opencc.__file__).parent / "dictionary" / "STCharacters.txt"
    for line in st_path.read_text(encoding="utf-8").splitlines():
        simp, _, trads = line.partition("\t")
        if len(simp) != 1 or simp not in freq:
            continue
        for trad in trads.split():
            if len(trad) == 1 and freq[trad] < freq[simp]:
                freq[trad] = freq[simp]
    ts_path = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
    for line in ts_path.read_text(encoding="utf-8").splitlines():
        trad, _, simps = line.partition("\t")
        simp = simps.split()[0] if simps.split() else ""
        if len(trad) == 1 and len(simp) == 1 and freq[trad] < freq[simp]:
            freq[trad] = freq[simp]
    ranked = sorted(freq, key=lambda ch: (-freq[ch], ch))
    return "".join(ranked[:LIMIT]) + "\n"


if __name__ == "__main__":
    out = Path(__file__).with_name("han_rank.txt")
    out.write_text(build(), encoding="utf-8")
    print(f"wrote {out.name}: {LIMIT} characters")
