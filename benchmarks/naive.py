"""The naive baseline: the design's libraries composed the straightforward way.

Per page file: read the bytes, decode (UTF-8, else charset-normalizer's best guess),
``ftfy.fix_text`` on the whole text, split paragraphs at blank lines (joining the
lines of a paragraph: no space for Chinese, a space otherwise), ``jieba.lcut`` each
paragraph, one datasketch ``MinHash`` per paragraph fed shingle by shingle with
``MinHash.update`` (word 3-grams, 128 permutations), and a ``MinHashLSH`` index
queried then filled paragraph by paragraph (query hit = duplicate).

This is what a careful engineer writes in an afternoon; it is the yardstick, not a
straw man: every library is called the way its documentation shows.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

NUM_PERM = 128
THRESHOLD = 0.8
SHINGLE = 3
STAGES = ("read", "decode", "repair", "split", "tokenize", "minhash", "lsh")

_BLANK = re.compile(r"\n[ \t\u3000]*\n")
_HAN = re.compile(r"[\u4e00-\u9fff]")


@dataclass(slots=True)
class NaiveResult:
    files: int = 0
    input_bytes: int = 0
    paragraphs: int = 0
    duplicates: int = 0
    cpu: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    wall_total: float = 0.0
    cpu_total: float = 0.0
    stopped_early: bool = False


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        return str(best) if best is not None else data.decode("utf-8", errors="replace")


def _paragraphs(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out = []
    for block in _BLANK.split(text):
        lines = [ln.strip() for ln in block.split("\n") if ln.strip()]
        if not lines:
            continue
        joiner = "" if _HAN.search(lines[0]) else " "
        out.append(joiner.join(lines))
    return out


def run_naive(files: list[Path], time_budget: float | None = None) -> NaiveResult:
    """Run the naive pipeline over ``files`` in order; stop after ``time_budget`` CPU seconds."""
    import ftfy
    import jieba
    from datasketch import MinHash, MinHashLSH

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()  # dictionary load is start-up cost, not throughput
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    res = NaiveResult()
    cpu = res.cpu
    clock = time.process_time
    wall0 = time.perf_counter()
    cpu0 = clock()
    key = 0
    for path in files:
        t = clock()
        data = path.read_bytes()
        t1 = clock()
        cpu["read"] += t1 - t
        text = _decode(data)
        t2 = clock()
        cpu["decode"] += t2 - t1
        text = ftfy.fix_text(text)
        t3 = clock()
        cpu["repair"] += t3 - t2
        paras = _paragraphs(text)
        t4 = clock()
        cpu["split"] += t4 - t3
        for para in paras:
            ta = clock()
            tokens = jieba.lcut(para)
            tb = clock()
            m = MinHash(num_perm=NUM_PERM)
            for i in range(max(1, len(tokens) - SHINGLE + 1)):
                m.update("".join(tokens[i : i + SHINGLE]).encode("utf-8"))
            tc = clock()
            if lsh.query(m):
                res.duplicates += 1
            else:
                lsh.insert(str(key), m)
            key += 1
            td = clock()
            cpu["tokenize"] += tb - ta
            cpu["minhash"] += tc - tb
            cpu["lsh"] += td - tc
        res.files += 1
        res.input_bytes += len(data)
        res.paragraphs += len(paras)
        if time_budget is not None and clock() - cpu0 > time_budget:
            res.stopped_early = res.files < len(files)
            break
    res.cpu_total = clock() - cpu0
    res.wall_total = time.perf_counter() - wall0
    return res
