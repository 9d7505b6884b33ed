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

import numpy as np

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


# Issue 8's third yardstick: "plain numpy already computes 128-permutation signatures over
# character 3-grams at ~15 MB/s per core". Seeded permutations (a*h + b) mod 2^32 of a 32-bit
# hash of each 3-gram's code points, the minimum per paragraph: whole-array passes, no Python
# per paragraph. Timed only to say how fast the machine is (benchmarks.run's machine line).
_PERM_A, _PERM_B = (
    np.random.default_rng(8).integers(1, 1 << 32, NUM_PERM, dtype=np.uint64) for _ in range(2)
)
_LOW32 = np.uint64(0xFFFFFFFF)


def char3_signatures(paragraphs: list[str]) -> np.ndarray:
    """The (paragraphs, 128) MinHash signatures of the paragraphs' character 3-grams; every
    paragraph needs at least 3 characters."""
    codes = np.frombuffer("".join(paragraphs).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    c = codes.astype(np.uint64)
    lengths = np.fromiter(map(len, paragraphs), dtype=np.int64, count=len(paragraphs))
    ends = np.cumsum(lengths)
    grams = ((c[:-2] * np.uint64(1000003)) ^ (c[1:-1] * np.uint64(8191)) ^ c[2:]) & _LOW32
    inside = np.ones(len(c), dtype=bool)  # a 3-gram that starts in a paragraph's last two characters
    inside[ends - 1] = False  # would cross into the next one
    inside[ends - 2] = False
    starts = np.flatnonzero(inside[: len(grams)])
    grams = grams[starts]
    first = np.searchsorted(starts, ends - lengths)  # each paragraph's first 3-gram
    out = np.empty((len(paragraphs), NUM_PERM), dtype=np.uint64)
    for k in range(NUM_PERM):
        out[:, k] = np.minimum.reduceat((_PERM_A[k] * grams + _PERM_B[k]) & _LOW32, first)
    return out


def numpy_signatures(files: list[Path], limit_bytes: int = 4_000_000, repeats: int = 3) -> dict[str, float]:
    """:func:`char3_signatures` of the paragraphs of the first ``limit_bytes`` of ``files``: the
    input bytes and the fastest of ``repeats`` passes in CPU seconds (reading, decoding and
    splitting are not timed)."""
    paragraphs: list[str] = []
    size = 0
    for path in files:
        data = path.read_bytes()
        paragraphs += [p for p in _paragraphs(_decode(data)) if len(p) >= 3]
        size += len(data)
        if size >= limit_bytes:
            break
    best = float("inf")
    for _ in range(repeats):
        t = time.process_time()
        char3_signatures(paragraphs)
        best = min(best, time.process_time() - t)
    return {"input_bytes": size, "cpu": best, "paragraphs": len(paragraphs)}
