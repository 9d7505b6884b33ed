"""Shingles, MinHash signatures, LSH band hashes and anchors, computed in bulk with numpy.

Every function here works on a whole batch of keys at once: the keys are
concatenated into one array of code points and every shingle is a *segment* of
that array, hashed with a polynomial prefix sum (``H(s, e) = (S[e] - S[s]) *
K^-s mod 2^64``), so character n-grams, word n-grams and anchor windows all
cost a few array passes and no Python loop per paragraph.

Signatures follow datasketch's ``affine32`` scheme bit for bit: the 32-bit
shingle hash is pre-mixed with the MurmurHash3 finalizer and permuted by
``a_k * h + b_k mod 2^32`` with ``a, b`` drawn exactly as ``MinHash(num_perm,
seed)`` draws them. ``MinHash(num_perm, seed, hashfunc=lambda h: h)`` updated
with the values of :func:`shingle_hashes` gives the same hash values (tested).

The loops run as compiled kernels (:mod:`cleaning.jit`): one pass over a
batch's code points for the prefix hashes and tokens, one over its windows, and
one over each paragraph's shingles with every permutation in the inner loop.
The numpy code beside each kernel is the reference definition (tested equal);
it runs when kernels are off (``PRESSWASH_JIT=0``, numba missing).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from cleaning import jit
from cleaning.dedup.config import DedupConfig
from cleaning.dedup.key import UNIT_CHAR, UNIT_LATIN_CHAR, UNIT_WORD

_U64 = np.uint64
_K = _U64(0x9E3779B97F4A7C15)  # odd, so it has an inverse mod 2^64
_K_INV = _U64(pow(int(_K), -1, 1 << 64))
_SPACE = 32
_M32 = _U64(0xFFFFFFFF)
_FMIX64_1 = _U64(0xFF51AFD7ED558CCD)
_FMIX64_2 = _U64(0xC4CEB9FE1A85EC53)
_FMIX32_1 = _U64(0x85EBCA6B)
_FMIX32_2 = _U64(0xC2B2AE35)
# Shingles per chunk of the permutation loop: big enough to amortize the
# per-permutation Python overhead, small enough to stay in the CPU cache.
_CHUNK_SHINGLES = 1 << 17
# MinHash values kept (one byte each) in the index to screen candidate pairs.
SKETCH_PERMS = 64


@jit.device
def fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3 64-bit finalizer (a bijection with good avalanche), wrapping arithmetic; of an
    array, or of one ``uint64`` inside a kernel (compiled inline there)."""
    h = h ^ (h >> _U64(33))
    h = h * _FMIX64_1
    h = h ^ (h >> _U64(33))
    h = h * _FMIX64_2
    return h ^ (h >> _U64(33))


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3 32-bit finalizer: datasketch's pre-mix of the affine32 scheme."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


@cache
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) of datasketch's affine32 scheme for ``MinHash(num_perm=num_perm, seed=seed)``."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b


def _local_index(counts: np.ndarray) -> np.ndarray:
    """For groups of the given sizes laid end to end: each element's index inside its group."""
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)


@dataclass(slots=True)
class Encoded:
    """A batch of keys as one code point array with its prefix hashes and token spans."""

    offsets: np.ndarray  # int64, len n+1: key i is codes[offsets[i]:offsets[i+1]]
    prefix: np.ndarray  # uint64, len N+1: polynomial prefix sums
    inv_pow: np.ndarray  # uint64, len N: K^-position
    tok_start: np.ndarray  # int64: global start position of every token
    tok_end: np.ndarray  # int64: global end position (exclusive)
    tok_off: np.ndarray  # int64, len n+1: tokens of key i are tok_*[tok_off[i]:tok_off[i+1]]

    @property
    def token_counts(self) -> np.ndarray:
        return np.diff(self.tok_off)

    def segment_hash(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """64-bit polynomial hash of codes[start:end] for arrays of global positions."""
        return (self.prefix[end] - self.prefix[start]) * self.inv_pow[start]


# (K^i, K^-i) for i below their length, replaced as a pair: shard threads (the thread runner) and
# the reduce's verification threads read it while another thread may be growing it
_POWERS: tuple[np.ndarray, np.ndarray] = (np.ones(1, dtype=_U64), np.ones(1, dtype=_U64))
_POWERS_LOCK = threading.Lock()


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``K^i`` and ``K^-i`` for ``i < n``: the same for every batch, so computed once and grown."""
    global _POWERS
    powers = _POWERS
    if len(powers[0]) < n:
        with _POWERS_LOCK:
            powers = _POWERS
            if len(powers[0]) < n:
                size = max(n, 2 * len(powers[0]))
                grown = []
                for base in (_K, _K_INV):
                    pw = np.empty(size, dtype=_U64)
                    pw[0] = 1
                    pw[1:] = base
                    np.cumprod(pw, out=pw)
                    pw.setflags(write=False)
                    grown.append(pw)
                powers = _POWERS = (grown[0], grown[1])
    return powers[0][:n], powers[1][:n]


def encode(keys: list[str], units: np.ndarray) -> Encoded:
    """The keys as one code point array: prefix hashes and token spans (characters or words by unit)."""
    lengths = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
    offsets = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    codes = np.frombuffer("".join(keys).encode("utf-32-le"), dtype=np.uint32)
    return encode_codes(codes, offsets, units)


def encode_codes(codes: np.ndarray, offsets: np.ndarray, units: np.ndarray) -> Encoded:
    """:func:`encode` of keys given as code points (``uint32``) and key offsets (``int64``, len n+1)."""
    char_unit = np.asarray(units, dtype=np.int8) != UNIT_WORD
    return (_encode_jit if jit.enabled() else _encode_numpy)(codes, offsets, char_unit)


def _encode_jit(codes: np.ndarray, offsets: np.ndarray, char_unit: np.ndarray) -> Encoded:
    n = len(codes)
    pows, inv_pow = _powers(n)
    prefix = np.empty(n + 1, dtype=_U64)
    tok_start = np.empty(n, dtype=np.int64)
    tok_end = np.empty(n, dtype=np.int64)
    tok_off = np.empty(len(offsets), dtype=np.int64)
    ntok = _encode_kernel(codes, offsets, char_unit, pows, prefix, tok_start, tok_end, tok_off)
    if ntok < n:  # word keys: give back the room their spaces took
        tok_start, tok_end = tok_start[:ntok].copy(), tok_end[:ntok].copy()
    return Encoded(offsets, prefix, inv_pow, tok_start, tok_end, tok_off)


def _encode_numpy(codes: np.ndarray, offsets: np.ndarray, char_unit: np.ndarray) -> Encoded:
    n = len(codes)
    nkeys = len(offsets) - 1
    lengths = np.diff(offsets)
    pows, inv_pow = _powers(n)
    prefix = np.zeros(n + 1, dtype=_U64)
    # +1 so that no code point contributes zero
    np.cumsum((codes.astype(_U64) + _U64(1)) * pows, out=prefix[1:])

    # Tokens: every character of a CJK key, every space-separated word of a word key.
    para_of_pos = np.repeat(np.arange(nkeys, dtype=np.int64), lengths)
    is_char_unit = char_unit[para_of_pos]
    is_space = codes == _SPACE
    prev_space = np.ones(n, dtype=bool)
    prev_space[1:] = is_space[:-1]
    prev_space[offsets[:-1][lengths > 0]] = True
    next_space = np.ones(n, dtype=bool)
    next_space[:-1] = is_space[1:]
    next_space[offsets[1:][lengths > 0] - 1] = True
    starts_mask = is_char_unit | (~is_space & prev_space)
    ends_mask = is_char_unit | (~is_space & next_space)
    tok_start = np.flatnonzero(starts_mask)
    tok_end = np.flatnonzero(ends_mask) + 1
    tok_counts = (
        np.bincount(para_of_pos[tok_start], minlength=nkeys) if n else np.zeros(nkeys, dtype=np.int64)
    )
    tok_off = np.zeros(nkeys + 1, dtype=np.int64)
    np.cumsum(tok_counts, out=tok_off[1:])
    return Encoded(offsets, prefix, inv_pow, tok_start, tok_end, tok_off)


def windows(enc: Encoded, width: np.ndarray, whole_if_short: bool) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every window of ``width[i]`` tokens of every key, in order.

    Returns ``(hashes uint64, counts per key)``. A key with fewer tokens than its
    width yields one window (the whole key) when ``whole_if_short``, else none.
    """
    t = enc.token_counts
    width = np.asarray(width, dtype=np.int64)
    counts = np.where(t >= width, t - width + 1, 0)
    if whole_if_short:
        counts = np.where((t > 0) & (t < width), 1, counts)
    if jit.enabled():
        out = np.empty(int(counts.sum()), dtype=_U64)
        _windows_kernel(enc.prefix, enc.inv_pow, enc.tok_start, enc.tok_end, enc.tok_off, width, counts, out)
        return out, counts
    local = _local_index(counts)
    first_tok = np.repeat(enc.tok_off[:-1], counts) + local
    last_tok = np.minimum(first_tok + np.repeat(width, counts) - 1, np.repeat(enc.tok_off[1:] - 1, counts))
    h = enc.segment_hash(enc.tok_start[first_tok], enc.tok_end[last_tok])
    return fmix64(h), counts


def _per_unit(units: np.ndarray, cjk: int, word: int, latin_char: int) -> np.ndarray:
    u = np.asarray(units)
    return np.where(u == UNIT_CHAR, cjk, np.where(u == UNIT_LATIN_CHAR, latin_char, word)).astype(np.int64)


def shingle_width(unit: int, cfg: DedupConfig) -> int:
    return int(_per_unit(np.array([unit]), cfg.char_ngram, cfg.word_ngram, cfg.latin_char_ngram)[0])


def shingle_widths(units: np.ndarray, cfg: DedupConfig) -> np.ndarray:
    return _per_unit(units, cfg.char_ngram, cfg.word_ngram, cfg.latin_char_ngram)


def shingle_hashes(enc: Encoded, units: np.ndarray, cfg: DedupConfig) -> tuple[np.ndarray, np.ndarray]:
    """32-bit shingle hashes of every key, in text order: ``(hashes uint32, counts per key)``."""
    h, counts = windows(enc, shingle_widths(units, cfg), whole_if_short=True)
    return (h >> _U64(32)).astype(np.uint32), counts


def shingle_hashes_of_codes(
    codes: np.ndarray, offsets: np.ndarray, units: np.ndarray, cfg: DedupConfig
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`shingle_hashes` of :func:`encode_codes`, for a caller that needs nothing else of the
    encoding: the kernel hashes each key's windows from a prefix sum over that key alone, with no
    block-wide prefix, power or token arrays (the same values: a window's hash does not depend on
    where its key lies)."""
    units = np.asarray(units, dtype=np.int8)
    if not jit.enabled():
        return shingle_hashes(encode_codes(codes, offsets, units), units, cfg)
    return _shingles_by_kernel(codes, offsets, units, cfg, _key_shingles_kernel)


def _key_powers(offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_powers` for the longest key of ``offsets``, as the per-key kernels index them."""
    longest = int(np.diff(offsets).max()) if len(offsets) > 1 else 0
    return _powers(longest + 1)


def _shingles_by_kernel(
    codes: np.ndarray, offsets: np.ndarray, units: np.ndarray, cfg: DedupConfig, kernel: Callable[..., Any]
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`shingle_hashes_of_codes` by ``kernel``: :func:`_key_shingles_kernel`, or its plain
    definition (the tests)."""
    pows, inv_pow = _key_powers(offsets)
    out = np.empty(len(codes), dtype=np.uint32)
    counts = np.empty(len(offsets) - 1, dtype=np.int64)
    used = kernel(codes, offsets, units != UNIT_WORD, shingle_widths(units, cfg), pows, inv_pow, out, counts)
    return out[:used].copy(), counts


def key_windows(
    codes: np.ndarray, offsets: np.ndarray, units: np.ndarray, cfg: DedupConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What the index computes from :func:`encode_codes` of the keys, in one compiled pass.

    Returns ``(token counts, shingle hashes, shingle counts, anchor window hashes, anchor window
    counts)``: ``encode_codes(...).token_counts``, :func:`shingle_hashes` and ``windows(enc,
    anchor_windows(units, cfg), whole_if_short=False)``. The kernel hashes each key's windows
    from a prefix sum over that key alone (as :func:`shingle_hashes_of_codes` does), so the
    block-wide prefix, power and token arrays, a few times the batch's size in memory freshly
    written and read again per pass, are never made.
    """
    units = np.asarray(units, dtype=np.int8)
    if not jit.enabled():
        enc = encode_codes(codes, offsets, units)
        sh, counts = shingle_hashes(enc, units, cfg)
        h, full_counts = windows(enc, anchor_windows(units, cfg), whole_if_short=False)
        return enc.token_counts, sh, counts, h, full_counts
    return _key_windows_by_kernel(codes, offsets, units, cfg, _key_windows_kernel)


def _key_windows_by_kernel(
    codes: np.ndarray, offsets: np.ndarray, units: np.ndarray, cfg: DedupConfig, kernel: Callable[..., Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`key_windows` by ``kernel``: :func:`_key_windows_kernel`, or its plain definition
    (the tests)."""
    n = len(offsets) - 1
    pows, inv_pow = _key_powers(offsets)
    tokens = np.empty(n, dtype=np.int64)
    counts = np.empty(n, dtype=np.int64)
    full_counts = np.empty(n, dtype=np.int64)
    # a key has at most one shingle and one window per code point
    sh = np.empty(len(codes), dtype=np.uint32)
    h = np.empty(len(codes), dtype=_U64)
    used_sh, used_h = kernel(
        codes,
        offsets,
        units != UNIT_WORD,
        shingle_widths(units, cfg),
        anchor_windows(units, cfg),
        pows,
        inv_pow,
        tokens,
        sh,
        counts,
        h,
        full_counts,
    )
    return tokens, sh[:used_sh], counts, h[:used_h], full_counts


def minhash_signatures(hashes: np.ndarray, counts: np.ndarray, cfg: DedupConfig) -> np.ndarray:
    """MinHash signatures ``(len(counts), num_perm) uint32`` of consecutive groups of shingle hashes.

    Every group must be non-empty. The kernel makes one pass over each group's
    shingles with all permutations in the inner loop; the numpy definition loops
    over permutations instead, each pass one multiply-add and one
    ``minimum.reduceat`` over a cache-sized chunk.
    """
    a, b = permutations(cfg.num_perm, cfg.seed)
    n = len(counts)
    sig = np.empty((cfg.num_perm, n), dtype=np.uint32)
    if n == 0:
        return sig.T
    if np.any(counts <= 0):
        raise ValueError("every signature needs at least one shingle")
    ends = np.cumsum(counts)
    starts = ends - counts
    if jit.enabled():
        out = np.empty((n, cfg.num_perm), dtype=np.uint32)
        _minhash_kernel(hashes.astype(np.uint32, copy=False), starts, ends, a, b, out)
        return out
    hv = fmix32(hashes.astype(np.uint32, copy=False))
    # chunk boundaries at paragraph boundaries, about _CHUNK_SHINGLES shingles each
    cuts = [0]
    while cuts[-1] < n:
        lo = cuts[-1]
        target = starts[lo] + _CHUNK_SHINGLES
        hi = int(np.searchsorted(ends, target, side="right"))
        cuts.append(max(hi, lo + 1))
    buf = np.empty(min(int(ends[-1]), max(_CHUNK_SHINGLES, int(counts.max()))), dtype=np.uint32)
    for lo, hi in itertools.pairwise(cuts):
        s0, s1 = int(starts[lo]), int(ends[hi - 1])
        chunk = hv[s0:s1]
        work = buf[: s1 - s0]
        seg = starts[lo:hi] - s0
        for k in range(cfg.num_perm):
            np.multiply(chunk, a[k], out=work)
            np.add(work, b[k], out=work)
            sig[k, lo:hi] = np.minimum.reduceat(work, seg)
    return np.ascontiguousarray(sig.T)


def band_hashes(sig: np.ndarray, cfg: DedupConfig) -> np.ndarray:
    """``(n, bands) uint64``: one hash per LSH band of ``rows`` signature values."""
    n = sig.shape[0]
    out = np.empty((n, cfg.bands), dtype=_U64)
    if jit.enabled():
        seeds = np.array([(band + 1) * int(_K) % (1 << 64) for band in range(cfg.bands)], dtype=_U64)
        _band_kernel(np.ascontiguousarray(sig, dtype=np.uint32), seeds, cfg.rows, out)
        return out
    s = sig.astype(_U64)
    for band in range(cfg.bands):
        h = np.full(n, _U64((band + 1) * int(_K) % (1 << 64)), dtype=_U64)
        for r in range(cfg.rows):
            h = fmix64(h ^ s[:, band * cfg.rows + r])
        out[:, band] = h
    return out


def anchor_windows(units: np.ndarray, cfg: DedupConfig) -> np.ndarray:
    return _per_unit(units, cfg.anchor_window_chars, cfg.anchor_window_words, cfg.anchor_window_latin_chars)


def anchors(
    enc: Encoded, units: np.ndarray, eligible: np.ndarray, cfg: DedupConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Anchors, head and tail window hashes of every key.

    Returns ``(anchor hashes, anchor counts per key, head, tail)``; head/tail are 0
    for keys shorter than one window or not ``eligible``. Anchors are the windows
    whose hash lies below a per-key limit: ``1/anchor_sample`` of the hash range,
    lowered for long keys so that about ``max_anchors`` remain. A limit, not a
    sort: the same window is an anchor in a short fragment whenever it is one in
    the long copy (the long copy's limit is the lower one).
    """
    h, full_counts = windows(enc, anchor_windows(units, cfg), whole_if_short=False)
    return anchors_of_windows(h, full_counts, eligible, cfg)


def anchors_of_windows(
    h: np.ndarray, full_counts: np.ndarray, eligible: np.ndarray, cfg: DedupConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`anchors` of the keys' anchor windows (``h``, ``full_counts`` per key), as
    :func:`windows` or :func:`key_windows` give them."""
    n = len(full_counts)
    head = np.zeros(n, dtype=_U64)
    tail = np.zeros(n, dtype=_U64)
    ends = np.cumsum(full_counts)
    starts = ends - full_counts
    has = eligible & (full_counts > 0)
    head[has] = h[starts[has]]
    tail[has] = h[ends[has] - 1]
    share = np.minimum(1.0 / cfg.anchor_sample, cfg.max_anchors / np.maximum(full_counts, 1))
    limit = np.where(eligible, np.minimum(share * 2.0**64, 2.0**64 - 4096), 0).astype(_U64)
    if jit.enabled():
        ah = np.empty(len(h), dtype=_U64)
        acounts = np.empty(n, dtype=np.int64)
        kept = _below_limit_kernel(h, full_counts, limit, ah, acounts)
        return ah[:kept].copy(), acounts, head, tail
    sel = h < np.repeat(limit, full_counts)
    ah = h[sel]
    ap = np.repeat(np.arange(n, dtype=np.int64), full_counts)[sel]
    return ah, np.bincount(ap, minlength=n).astype(np.int64), head, tail


# ---- compiled kernels (cleaning.jit); the numpy code in each caller is the reference definition ----
# numba types arithmetic on integers narrower than 64 bits as 64-bit, so 32-bit results are masked and
# cast explicitly; 64-bit arithmetic stays in uint64 (a signed or Python int operand would make it
# float64), hence the typed module constants, which numba freezes.


@jit.device
def _word_spans(
    codes: np.ndarray, lo: int, hi: int, base: int, tok_start: np.ndarray, tok_end: np.ndarray, ntok: int
) -> int:
    """The space-separated tokens of ``codes[lo:hi]``: their spans, less ``base``, written into
    ``tok_start``/``tok_end`` from position ``ntok``; returns the position after them."""
    in_word = False
    for p in range(lo, hi):
        if codes[p] == _SPACE:
            if in_word:
                tok_end[ntok] = p - base
                ntok += 1
                in_word = False
        elif not in_word:
            tok_start[ntok] = p - base
            in_word = True
    if in_word:
        tok_end[ntok] = hi - base
        ntok += 1
    return ntok


@jit.kernel
def _encode_kernel(
    codes: np.ndarray,
    offsets: np.ndarray,
    char_unit: np.ndarray,
    pows: np.ndarray,
    prefix: np.ndarray,
    tok_start: np.ndarray,
    tok_end: np.ndarray,
    tok_off: np.ndarray,
) -> int:
    """Prefix hashes and token spans of :func:`encode`; returns the number of tokens."""
    acc = _U64(0)
    prefix[0] = acc
    for i in range(codes.shape[0]):
        acc += (_U64(codes[i]) + _U64(1)) * pows[i]
        prefix[i + 1] = acc
    ntok = 0
    nkeys = offsets.shape[0] - 1
    for k in range(nkeys):
        tok_off[k] = ntok
        lo = offsets[k]
        hi = offsets[k + 1]
        if char_unit[k]:
            for p in range(lo, hi):
                tok_start[ntok] = p
                tok_end[ntok] = p + 1
                ntok += 1
        else:
            ntok = _word_spans(codes, lo, hi, 0, tok_start, tok_end, ntok)
    tok_off[nkeys] = ntok
    return ntok


@jit.kernel
def _windows_kernel(
    prefix: np.ndarray,
    inv_pow: np.ndarray,
    tok_start: np.ndarray,
    tok_end: np.ndarray,
    tok_off: np.ndarray,
    width: np.ndarray,
    counts: np.ndarray,
    out: np.ndarray,
) -> None:
    """:func:`windows`: ``fmix64`` of the segment hash of every window, key by key."""
    pos = 0
    for k in range(counts.shape[0]):
        first = tok_off[k]
        last = tok_off[k + 1] - 1
        for j in range(counts[k]):
            f = first + j
            s = tok_start[f]
            h = (prefix[tok_end[min(f + width[k] - 1, last)]] - prefix[s]) * inv_pow[s]
            h = fmix64(h)
            out[pos] = h
            pos += 1


@jit.device
def _key_scratch(offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Work arrays for the longest key of ``offsets``: its prefix sums and token spans."""
    longest = 0
    for k in range(offsets.shape[0] - 1):
        longest = max(longest, offsets[k + 1] - offsets[k])
    return (
        np.empty(longest + 1, dtype=_U64),
        np.empty(longest, dtype=np.int64),
        np.empty(longest, dtype=np.int64),
    )


@jit.device
def _key_tokens(
    codes: np.ndarray,
    lo: int,
    size: int,
    chars: bool,
    pows: np.ndarray,
    prefix: np.ndarray,
    tok_start: np.ndarray,
    tok_end: np.ndarray,
) -> int:
    """One key, ``codes[lo:lo + size]``: its prefix sums of ``(code + 1) * K^i`` into ``prefix``
    and, for a word key, its space-separated tokens' spans into ``tok_start``/``tok_end`` (a
    character key's token j is character j); returns its token count. Positions are local to
    the key: ``(P[e] - P[s]) * K^-s`` is the same sum whatever the key's offset."""
    acc = _U64(0)
    prefix[0] = acc
    for i in range(size):
        acc += (_U64(codes[lo + i]) + _U64(1)) * pows[i]
        prefix[i + 1] = acc
    if chars:
        return size
    return _word_spans(codes, lo, lo + size, lo, tok_start, tok_end, 0)


@jit.device
def _key_shingles(
    prefix: np.ndarray,
    inv_pow: np.ndarray,
    tok_start: np.ndarray,
    tok_end: np.ndarray,
    chars: bool,
    t: int,
    w: int,
    out: np.ndarray,
    pos: int,
) -> int:
    """The shingles of one key of ``t`` tokens (:func:`_key_tokens`): every window of ``w`` tokens,
    the whole key when it has fewer, hashed as :func:`windows` does, high 32 bits into
    ``out[pos:]``; returns the position after them."""
    n = t - w + 1 if t >= w else (1 if t > 0 else 0)
    for j in range(n):
        last = min(j + w - 1, t - 1)
        if chars:
            s, e = j, last + 1
        else:
            s, e = tok_start[j], tok_end[last]
        h = fmix64((prefix[e] - prefix[s]) * inv_pow[s])
        out[pos] = np.uint32(h >> _U64(32))
        pos += 1
    return pos


@jit.kernel
def _key_shingles_kernel(
    codes: np.ndarray,
    offsets: np.ndarray,
    char_unit: np.ndarray,
    width: np.ndarray,
    pows: np.ndarray,
    inv_pow: np.ndarray,
    out: np.ndarray,
    counts: np.ndarray,
) -> int:
    """:func:`shingle_hashes_of_codes`: every window of ``width[k]`` tokens of every key (the whole
    key when it has fewer), hashed as :func:`windows` does, high 32 bits into ``out``; returns
    how many."""
    prefix, tok_start, tok_end = _key_scratch(offsets)
    pos = 0
    for k in range(offsets.shape[0] - 1):
        lo = offsets[k]
        chars = char_unit[k]
        t = _key_tokens(codes, lo, offsets[k + 1] - lo, chars, pows, prefix, tok_start, tok_end)
        end = _key_shingles(prefix, inv_pow, tok_start, tok_end, chars, t, width[k], out, pos)
        counts[k] = end - pos
        pos = end
    return pos


@jit.kernel
def _key_windows_kernel(
    codes: np.ndarray,
    offsets: np.ndarray,
    char_unit: np.ndarray,
    shingle_w: np.ndarray,
    anchor_w: np.ndarray,
    pows: np.ndarray,
    inv_pow: np.ndarray,
    tokens: np.ndarray,
    sh_out: np.ndarray,
    sh_counts: np.ndarray,
    win_out: np.ndarray,
    win_counts: np.ndarray,
) -> tuple[int, int]:
    """:func:`key_windows`: each key's tokens counted, its shingles hashed as
    :func:`_key_shingles_kernel` does (high 32 bits into ``sh_out``) and its full windows of
    ``anchor_w[k]`` tokens hashed as :func:`windows` does (into ``win_out``), from one prefix sum
    over the key alone; returns how many shingles and windows."""
    prefix, tok_start, tok_end = _key_scratch(offsets)
    n_sh = 0
    n_win = 0
    for k in range(offsets.shape[0] - 1):
        lo = offsets[k]
        chars = char_unit[k]
        t = _key_tokens(codes, lo, offsets[k + 1] - lo, chars, pows, prefix, tok_start, tok_end)
        tokens[k] = t
        end = _key_shingles(prefix, inv_pow, tok_start, tok_end, chars, t, shingle_w[k], sh_out, n_sh)
        sh_counts[k] = end - n_sh
        n_sh = end
        # anchor windows: only whole windows of w tokens
        w = anchor_w[k]
        n = t - w + 1 if t >= w else 0
        win_counts[k] = n
        for j in range(n):
            if chars:
                s, e = j, j + w
            else:
                s, e = tok_start[j], tok_end[j + w - 1]
            win_out[n_win] = fmix64((prefix[e] - prefix[s]) * inv_pow[s])
            n_win += 1
    return n_sh, n_win


@jit.device
def _fmix32_one(value: np.uint32) -> np.uint32:
    """:func:`fmix32` of one value, in 64-bit arithmetic masked to 32 bits (compiled code widens a
    product of two ``uint32`` to 64 bits)."""
    h = _U64(value)
    h ^= h >> _U64(16)
    h = (h * _FMIX32_1) & _M32
    h ^= h >> _U64(13)
    h = (h * _FMIX32_2) & _M32
    h ^= h >> _U64(16)
    return np.uint32(h)


@jit.kernel
def _minhash_kernel(
    hashes: np.ndarray, starts: np.ndarray, ends: np.ndarray, a: np.ndarray, b: np.ndarray, sig: np.ndarray
) -> None:
    """:func:`minhash_signatures`: ``fmix32`` then ``min(a*h + b mod 2^32)`` over each group.

    Two shingles per pass over the permutations: the row and ``a``, ``b`` are loaded and the row
    stored once for both (a min is a min in any order, so the values are the same)."""
    num_perm = a.shape[0]
    for i in range(starts.shape[0]):
        row = sig[i]
        for k in range(num_perm):
            row[k] = np.uint32(_M32)
        end = ends[i]
        for j in range(starts[i], end, 2):
            h32 = _fmix32_one(hashes[j])
            if j + 1 < end:
                g32 = _fmix32_one(hashes[j + 1])
                # branch-free min over the permutations: the compiler turns this loop into vector
                # multiply and min instructions (about 6x the compare-and-store it replaced)
                for k in range(num_perm):
                    row[k] = min(row[k], min(np.uint32(a[k] * h32 + b[k]), np.uint32(a[k] * g32 + b[k])))
            else:  # the group's last shingle, when it has an odd number
                for k in range(num_perm):
                    row[k] = min(row[k], np.uint32(a[k] * h32 + b[k]))


@jit.kernel
def _band_kernel(sig: np.ndarray, seeds: np.ndarray, rows: int, out: np.ndarray) -> None:
    """:func:`band_hashes`: ``fmix64`` chained over each band's signature values.

    The bands advance together, a signature value of each at a time: their chains are
    independent, so the multiplies of all bands overlap instead of each band waiting out
    its own chain of ``rows`` dependent ``fmix64``."""
    nb = seeds.shape[0]
    for i in range(sig.shape[0]):
        h = out[i]
        for band in range(nb):
            h[band] = seeds[band]
        for r in range(rows):
            for band in range(nb):
                x = h[band] ^ _U64(sig[i, band * rows + r])
                x = fmix64(x)
                h[band] = x


@jit.kernel
def _below_limit_kernel(
    hashes: np.ndarray, counts: np.ndarray, limit: np.ndarray, out: np.ndarray, out_counts: np.ndarray
) -> int:
    """The hashes of each group below the group's limit, in order; returns how many. ``out`` has room
    for all of ``hashes``."""
    pos = 0
    kept = 0
    for k in range(counts.shape[0]):
        lim = limit[k]
        start = kept
        for _ in range(counts[k]):
            # every value written, the next one over it unless it is below the limit: no branch on
            # the hash (a quarter of them pass, at random, which a branch mispredicts)
            v = hashes[pos]
            pos += 1
            out[kept] = v
            kept += np.int64(v < lim)
        out_counts[k] = kept - start
    return kept
