"""The compiled kernels of the dedup reduce against their numpy definitions (cleaning.dedup.reduce).

Each kernel (bucket stars, set intersections, alignment of truncation pairs, the
greedy assignment) is compared with the numpy code it replaces on hypothesis
inputs, run compiled when numba is importable and as plain Python
(``Kernel.py_func``) always; the whole reduce is compared with ``jit.enabled``
switched off on the engine's test files and on real text from the shared corpora.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shared_corpora import chronam_pages, tw_contents

from cleaning import jit
from cleaning.dedup import DedupConfig, dedup_map, dedup_reduce, reduce_index
from cleaning.dedup import reduce as R
from cleaning.dedup.key import UNIT_CHAR, UNIT_WORD
from tests.test_dedup_engine import EN, LONG_ZH, _noisy, _rows, _table
from tests.test_dedup_stream import _files

CFG = DedupConfig()
needs_jit = pytest.mark.skipif(not jit.enabled(), reason="numba is not importable here")
WAYS = [pytest.param("compiled", marks=needs_jit), "python"]


def _kernel(k: jit.Kernel, way: str) -> Callable[..., Any]:
    """The kernel compiled, or its plain Python definition (what numba compiles)."""
    return k if way == "compiled" else k.py_func


# ----------------------------------------------------------------- bucket stars


def _star_with(kernel: Callable[..., Any], bucket, rows, prio, heads, max_bucket):
    """:func:`R._star_pairs`'s kernel path with the given kernel (compiled or plain Python)."""
    maybe = R._shared_slots.py_func(bucket, 10)
    b, r = bucket[maybe], rows[maybe]
    order = np.argsort(b)
    return kernel(b[order], r[order], prio, heads, max_bucket or 0)


def _pair_multiset(pairs: tuple[np.ndarray, np.ndarray]) -> list[tuple[int, int]]:
    """The pairs in a canonical order (callers of :func:`R._star_pairs` do not depend on theirs)."""
    return sorted(zip(pairs[0].tolist(), pairs[1].tolist(), strict=True))


@pytest.mark.parametrize("way", WAYS)
@settings(max_examples=150, deadline=None)
@given(
    members=st.lists(st.tuples(st.integers(0, 12), st.integers(0, 30)), max_size=120),
    heads=st.integers(1, 4),
    max_bucket=st.sampled_from([None, 2, 3, 8]),
    wide=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_star_pairs_kernel_equals_numpy(
    way: str,
    members: list[tuple[int, int]],
    heads: int,
    max_bucket: int | None,
    wide: bool,
    seed: int,
) -> None:
    # bucket values that share their low bits with others, rows repeated inside a bucket
    bucket = np.array([(b * 0x9E3779B97F4A7C15) % 2**64 for b, _ in members], dtype=np.uint64)
    rows = np.array([r for _, r in members], dtype=np.int64 if wide else np.int32)
    prio = np.random.default_rng(seed).permutation(31).astype(np.int64)
    if len(bucket) < 2:
        return
    expected = R._star_pairs_numpy(bucket, rows, prio, heads, max_bucket)
    got = _star_with(_kernel(R._star_kernel, way), bucket, rows, prio, heads, max_bucket)
    assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
    if len(expected[0]):
        assert got[0].dtype == expected[0].dtype


def test_star_pairs_of_large_buckets_equal_numpy() -> None:
    """Buckets above the insertion-sort size, as in LSH bands of boilerplate."""
    rng = np.random.default_rng(3)
    bucket = rng.integers(0, 40, 5000).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    rows = rng.integers(0, 4000, 5000)
    prio = rng.permutation(4000).astype(np.int64)
    for max_bucket, few_repeats in itertools.product((None, 64, 200), (False, True)):
        expected = R._star_pairs_numpy(bucket, rows, prio, 3, max_bucket)
        got = R._star_pairs(bucket, rows, prio, 3, max_bucket, few_repeats=few_repeats)
        assert _pair_multiset(got) == _pair_multiset(expected)
        assert got[0].dtype == expected[0].dtype


@settings(max_examples=60, deadline=None)
@given(
    unique=st.integers(0, 3000),
    repeats=st.lists(st.tuples(st.integers(0, 50), st.integers(2, 6)), max_size=40),
    heads=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_star_pairs_of_mostly_unique_values_equal_numpy(
    unique: int, repeats: list[tuple[int, int]], heads: int, seed: int
) -> None:
    """``few_repeats`` (LSH bands: a value first dropped when its slot holds no other) finds the
    numpy definition's pairs, whether or not the values are mostly unique."""
    rng = np.random.default_rng(seed)
    values = [int(v) for v in rng.integers(0, 2**63, unique, dtype=np.int64)]
    for v, times in repeats:
        values += [(v * 0x9E3779B97F4A7C15) % 2**64] * times
    bucket = np.array(values, dtype=np.uint64)[rng.permutation(len(values))]
    rows = rng.permutation(len(bucket)).astype(np.int64)
    prio = rng.permutation(max(len(bucket), 1)).astype(np.int64)
    if len(bucket) < 2:
        return
    expected = R._star_pairs_numpy(bucket, rows, prio, heads, None)
    got = R._star_pairs(bucket, rows, prio, heads, None, few_repeats=True)
    assert _pair_multiset(got) == _pair_multiset(expected)


@pytest.mark.parametrize("way", WAYS)
@settings(max_examples=150, deadline=None)
@given(
    members=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 30)), max_size=150),
    bits=st.integers(1, 12),
    wide=st.booleans(),
)
def test_slot_groups_keep_and_gather_every_repeated_value(
    way: str, members: list[tuple[int, int]], bits: int, wide: bool
) -> None:
    # few distinct low bits: groups of several values, repeated and not
    values = np.array([(b * 0x9E3779B97F4A7C15) % 2**64 for b, _ in members], dtype=np.uint64)
    rows = np.array([r for _, r in members], dtype=np.int64 if wide else np.int32)
    got_v, got_r = _kernel(R._slot_groups, way)(values, rows, bits, 0)
    assert got_v.dtype == values.dtype and got_r.dtype == rows.dtype
    # exactly the values whose slot is shared, each with its row
    slot = values & np.uint64((1 << bits) - 1)
    _, inverse, counts = np.unique(slot, return_inverse=True, return_counts=True)
    shared = counts[inverse.reshape(-1)] > 1
    want = sorted(zip(values[shared].tolist(), rows[shared].tolist(), strict=True))
    assert sorted(zip(got_v.tolist(), got_r.tolist(), strict=True)) == want
    # slots in ascending order, values ascending inside a slot: equal values lie together
    got_slot = got_v & np.uint64((1 << bits) - 1)
    key = list(zip(got_slot.tolist(), got_v.tolist(), strict=True))
    assert key == sorted(key)


@pytest.mark.parametrize("way", WAYS)
@settings(max_examples=100, deadline=None)
@given(
    members=st.lists(st.tuples(st.integers(0, 12), st.integers(0, 30)), max_size=120),
    heads=st.integers(1, 4),
    max_bucket=st.sampled_from([None, 2, 3, 8]),
    seed=st.integers(0, 2**16),
    part_bits=st.sampled_from([0, 0, 1, 3, 10]),
)
def test_star_pairs_by_slot_groups_equal_numpy(
    way: str,
    members: list[tuple[int, int]],
    heads: int,
    max_bucket: int | None,
    seed: int,
    part_bits: int,
) -> None:
    """The kernel path of :func:`R._star_pairs` (slot groups, the values split by their top bits
    first or not, then stars) finds the numpy definition's pairs, in its own order."""
    bucket = np.array([(b * 0x9E3779B97F4A7C15) % 2**64 for b, _ in members], dtype=np.uint64)
    rows = np.array([r for _, r in members], dtype=np.int64)
    prio = np.random.default_rng(seed).permutation(31).astype(np.int64)
    if len(bucket) < 2:
        return
    expected = R._star_pairs_numpy(bucket, rows, prio, heads, max_bucket)
    b, r = _kernel(R._slot_groups, way)(bucket, rows, 10, part_bits)
    got = _kernel(R._star_kernel, way)(b, r, prio, heads, max_bucket or 0)
    assert _pair_multiset(got) == _pair_multiset(expected)


@pytest.mark.parametrize("way", WAYS)
@settings(max_examples=100, deadline=None)
@given(
    members=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 30)), max_size=200),
    part_bits=st.integers(1, 10),
    top=st.booleans(),
)
def test_slot_groups_by_parts_gather_every_repeated_value(
    way: str, members: list[tuple[int, int]], part_bits: int, top: bool
) -> None:
    """Split by top bits first: every repeated value is kept with all its rows, equal values lie
    together and sorted inside their group. ``top``: values differing in their top bits only."""
    if top:  # one low half for all: only the parts (top bits) tell the values apart
        values = np.array([((b * 0x9E3779B1) % 2**32) << 32 | 5 for b, _ in members], dtype=np.uint64)
    else:
        values = np.array([(b * 0x9E3779B97F4A7C15) % 2**64 for b, _ in members], dtype=np.uint64)
    rows = np.array([r for _, r in members], dtype=np.int32)
    got_v, got_r = _kernel(R._slot_groups, way)(values, rows, 10, part_bits)
    assert got_v.dtype == values.dtype and got_r.dtype == rows.dtype
    got = list(zip(got_v.tolist(), got_r.tolist(), strict=True))
    repeated = {v for v in values.tolist() if values.tolist().count(v) > 1}
    assert sorted(p for p in got if p[0] in repeated) == sorted(
        p for p in zip(values.tolist(), rows.tolist(), strict=True) if p[0] in repeated
    )
    # each value's copies lie together
    runs = [v for k, v in enumerate(got_v.tolist()) if k == 0 or got_v[k - 1] != v]
    assert len(runs) == len(set(runs))


@pytest.mark.parametrize("way", WAYS)
@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.integers(0, 2**64 - 1), max_size=200), bits=st.integers(1, 12))
def test_shared_slots_keep_every_repeated_value(way: str, values: list[int], bits: int) -> None:
    arr = np.array(values, dtype=np.uint64)
    got = _kernel(R._shared_slots, way)(arr, bits)
    assert np.all(np.diff(got) > 0)
    _, inverse, counts = np.unique(arr, return_inverse=True, return_counts=True)
    repeated = np.flatnonzero(counts[inverse.reshape(-1)] > 1)
    assert set(repeated.tolist()) <= set(got.tolist())


@pytest.mark.parametrize("way", WAYS)
@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 3)), max_size=150),
    seed=st.integers(0, 2**16),
    spread=st.booleans(),
)
def test_exact_heads_kernel_equals_numpy(
    way: str, rows: list[tuple[int, int]], seed: int, spread: bool
) -> None:
    # few distinct hashes and lengths: groups of many rows, equal hashes of other lengths; small hash
    # values (spread off) land in few table slots
    step = 0x9E3779B97F4A7C15 if spread else 1
    key_hash = np.array([(h * step) % 2**64 for h, _ in rows], dtype=np.uint64)
    key_chars = np.array([c for _, c in rows], dtype=np.int64)
    prio = np.random.default_rng(seed).permutation(len(rows)).astype(np.int64)
    with np.errstate(over="ignore"):  # uint64 arithmetic wraps, as compiled
        got = _kernel(R._exact_heads, way)(key_hash, key_chars, prio)
    assert got.tolist() == R._exact_heads_numpy(key_hash, key_chars, prio).tolist()


@pytest.mark.parametrize("way", WAYS)
@settings(max_examples=100, deadline=None)
@given(
    pairs=st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), max_size=80),
    counts=st.lists(st.integers(0, 5), min_size=10, max_size=10),
    min_shared=st.integers(1, 4),
)
def test_shared_enough_kernel_equals_numpy(
    way: str, pairs: list[tuple[int, int]], counts: list[int], min_shared: int
) -> None:
    """The anchor pairs found often enough: the kernel's runs of equal codes against numpy's."""
    n = 10
    code = np.sort(np.array([lo * n + hi for lo, hi in pairs], dtype=np.int64))
    anchor_counts = np.array(counts, dtype=np.int64)
    expected = R._shared_enough_numpy(code, n, anchor_counts, min_shared)
    got = _kernel(R._shared_enough, way)(code, n, anchor_counts, min_shared)
    for g, e in zip(got, expected, strict=True):
        assert g.tolist() == e.tolist() and g.dtype == e.dtype


@pytest.mark.parametrize("way", WAYS)
@settings(max_examples=80, deadline=None)
@given(
    lists=st.lists(st.lists(st.integers(0, 2**64 - 1), max_size=6), max_size=30),
    cut=st.integers(0, 5),
    seed=st.integers(0, 2**16),
)
def test_rep_anchors_equal_the_numpy_gather(way: str, lists: list[list[int]], cut: int, seed: int) -> None:
    """A row group's anchors by their buffers and a kernel, as the numpy path gathers them: every
    row's count, the representatives' anchors and rows in order (sliced columns too)."""
    col = pa.array(lists, pa.list_(pa.uint64()))[min(cut, len(lists)) :]
    rng = np.random.default_rng(seed)
    where = rng.permutation(40)[: len(col)].astype(np.int32)
    rep = rng.random(40) < 0.7
    values, counts = R._list_values(col)
    want_counts = np.full(40, -1, dtype=np.int64)
    want_counts[where] = counts
    rows = np.repeat(where, counts)
    keep = rep[rows]
    got_counts = np.full(40, -1, dtype=np.int64)
    out_v = np.empty(len(values) + 3, dtype=np.uint64)
    out_r = np.empty(len(values) + 3, dtype=np.int32)
    flat, offsets = R._list_buffers(col)
    done = _kernel(R._rep_anchors, way)(flat, offsets, where, rep, got_counts, out_v, out_r, 3)
    assert got_counts.tolist() == want_counts.tolist()
    assert out_v[3:done].tolist() == values[keep].tolist()
    assert out_r[3:done].tolist() == rows[keep].tolist()


@settings(max_examples=60, deadline=None)
@given(
    pairs=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), max_size=60), extra=st.integers(0, 5)
)
def test_row_set_equals_sorted_unique(pairs: list[tuple[int, int]], extra: int) -> None:
    """The candidates' rows by a mask over all rows, as the sort gives them (none: empty)."""
    arr = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    got = R._row_set(arr, 31 + extra)
    want = R._sorted_unique(arr.reshape(-1).copy())
    assert got.tolist() == want.tolist() and got.dtype == want.dtype


def _reference_blocks(
    pairs: list[tuple[int, int]], key_chars: list[int], limit: int
) -> list[list[tuple[int, int]]]:
    """The definition of ``_pair_blocks``, written plainly: components of the pair graph numbered
    by their first pair, pairs ordered by (component, parent, given order), greedy cuts by the
    key characters of the distinct rows a block holds."""
    root = list(range(len(key_chars)))

    def find(x: int) -> int:
        while root[x] != x:
            x = root[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            root[max(ra, rb)] = min(ra, rb)
    number: dict[int, int] = {}
    comp = [number.setdefault(find(a), len(number)) for a, _ in pairs]
    ordered = [pairs[i] for i in sorted(range(len(pairs)), key=lambda i: (comp[i], pairs[i][1], i))]
    blocks: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    rows: set[int] = set()
    size = 0
    for a, b in ordered:
        add = sum(key_chars[r] for r in {a, b} - rows)
        if current and size + add > limit:
            blocks.append(current)
            current, rows, size = [], set(), 0
            add = sum(key_chars[r] for r in {a, b})
        current.append((a, b))
        rows |= {a, b}
        size += add
    return [*blocks, current] if current else blocks


@settings(max_examples=80, deadline=None)
@given(
    pairs=st.sets(
        st.tuples(st.integers(0, 30), st.integers(0, 30)).filter(lambda p: p[0] != p[1]),
        min_size=1,
        max_size=80,
    ),
    block_chars=st.sampled_from([1, 40, 100, 10**9]),
    seed=st.integers(0, 3),
)
def test_pair_blocks_keep_components_together(
    pairs: set[tuple[int, int]], block_chars: int, seed: int
) -> None:
    """Blocks as the plain definition gives them, with the kernels and without: a row's pairs
    stay in one block as long as its component fits, and no block passes the bound unless it is
    one pair."""
    given_pairs = sorted(pairs, key=lambda p: (p[0] * 31 + p[1]) * (seed + 1) % 97)
    arr = np.array(given_pairs, dtype=np.int64)
    key_chars = np.random.default_rng(seed).integers(0, 20, 31)
    want = _reference_blocks(given_pairs, key_chars.tolist(), block_chars)
    mp = pytest.MonkeyPatch()
    mp.setattr(R, "_VERIFY_BLOCK_CHARS", block_chars)
    try:
        got = R._pair_blocks(arr, key_chars)
        with jit.numpy_definitions():
            defined = R._pair_blocks(arr, key_chars)
    finally:
        mp.undo()
    as_lists = [[tuple(p) for p in b.tolist()] for b in got]
    assert as_lists == want
    assert [[tuple(p) for p in b.tolist()] for b in defined] == want
    for block in got:
        assert len(block) == 1 or int(key_chars[np.unique(block)].sum()) <= block_chars


# ----------------------------------------------------------- shingle sets, alignment


def _shingles(keys: list[str], units: list[int]) -> R._Shingles:
    rows = np.arange(len(keys), dtype=np.int64)
    return R._Shingles(rows, R._BlockKeys.of(keys), np.array(units, dtype=np.int8), CFG)


_WORDS = EN.split()


# ----------------------------------------------------------- candidate keys from the index's UTF-8

_ANY_KEY = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12) | st.text(
    alphabet="天地玄黄a 𠀀é", max_size=30
)


def _key_bytes(texts: list[str]) -> R._KeyBytes:
    encoded = [t.encode() for t in texts]
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return R._KeyBytes(np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets)


def _ways(mp: pytest.MonkeyPatch, way: str) -> None:
    if way == "python":  # the kernel's own code, run by the interpreter
        mp.setattr(jit, "enabled", lambda: True)
        mp.setattr(R, "_utf8_gather_kernel", R._utf8_gather_kernel.py_func)
    elif way == "numpy":
        mp.setattr(jit, "enabled", lambda: False)


_KEY_WAYS = [pytest.param("compiled", marks=needs_jit), "python", "numpy"]


@pytest.mark.parametrize("way", _KEY_WAYS)
@settings(max_examples=60, deadline=None)
@given(texts=st.lists(_ANY_KEY, min_size=1, max_size=20), picks=st.lists(st.integers(0, 10_000), max_size=30))
def test_key_codes_decode_the_keys_utf8(way: str, texts: list[str], picks: list[int]) -> None:
    keys = _key_bytes(texts)
    at = np.array([p % len(texts) for p in picks], dtype=np.int64)
    chars = np.array([len(texts[i]) for i in at.tolist()], dtype=np.int64)
    with pytest.MonkeyPatch.context() as mp:
        _ways(mp, way)
        got = R._key_codes(keys, at, chars)
        assert list(got) == [texts[i] for i in at.tolist()]
        assert np.array_equal(got.offsets, np.concatenate(([0], np.cumsum(chars))))
        for k in range(min(len(at), 3)):  # a key_chars that does not match the bytes is refused
            for delta in (-1, 1) if chars[k] else (1,):
                wrong = chars.copy()
                wrong[k] += delta
                with pytest.raises(ValueError, match="key_chars"):
                    R._key_codes(keys, at, wrong)


@pytest.mark.parametrize("way", _KEY_WAYS)
@pytest.mark.parametrize("damaged", [b"\xe5\xa4", b"\xa4a", b"\xf0\x90\x80"])
def test_key_codes_refuse_bytes_that_do_not_decode(way: str, damaged: bytes) -> None:
    # an index file damaged past its checksums: a cut multi-byte sequence, a stray continuation byte
    data = damaged + "天a".encode()
    keys = R._KeyBytes(np.frombuffer(data, dtype=np.uint8), np.array([0, len(damaged), len(data)]))
    with pytest.MonkeyPatch.context() as mp:
        _ways(mp, way)
        with pytest.raises(ValueError, match="key_chars"):
            R._key_codes(keys, np.array([0]), np.array([1]))
        assert list(R._key_codes(keys, np.array([1]), np.array([2]))) == ["天a"]


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_utf8_views_of_a_sliced_string_array(kind: pa.DataType) -> None:
    arr = pa.array(["pad", "天地", "", "a𠀀", "x"], kind)[1:4]
    data, offsets = R._utf8_views(arr)
    assert offsets.dtype == np.int64
    texts = [data[a:b].tobytes().decode() for a, b in itertools.pairwise(offsets.tolist())]
    assert texts == ["天地", "", "a𠀀"]


@pytest.mark.parametrize("way", WAYS)
@settings(max_examples=80, deadline=None)
@given(
    keys=st.lists(st.text(alphabet="天地a b𠀀", max_size=12), min_size=1, max_size=8),
    pairs=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), max_size=20),
)
def test_find_kernel_equals_str_find(way: str, keys: list[str], pairs: list[tuple[int, int]]) -> None:
    block = R._BlockKeys.of(keys)
    child = np.array([c % len(keys) for c, _ in pairs], dtype=np.int64)
    parent = np.array([p % len(keys) for _, p in pairs], dtype=np.int64)
    out = np.empty(len(pairs), dtype=np.int64)
    _kernel(R._find_kernel, way)(block.codes, block.offsets, child, parent, out)
    expected = [keys[p].find(keys[c]) if keys[p] else -1 for c, p in zip(child, parent, strict=True)]
    assert out.tolist() == expected


def test_block_keys_give_their_strings() -> None:
    texts = ["", "天地", "a b", "𠀀x", ""]
    keys = R._BlockKeys.of(texts)
    assert len(keys) == 5
    assert [keys[i] for i in range(5)] == texts
    assert keys.offsets.tolist() == [0, 0, 2, 5, 7, 7]


_key_text = st.one_of(
    st.text(alphabet="天地玄黄宇宙洪荒日月盈昃", min_size=0, max_size=60).map(lambda s: (s, UNIT_CHAR)),
    st.lists(st.sampled_from(_WORDS[:12]), min_size=0, max_size=30).map(lambda w: (" ".join(w), UNIT_WORD)),
)


@pytest.mark.parametrize("way", WAYS)
@settings(max_examples=80, deadline=None)
@given(
    keys=st.lists(_key_text, min_size=1, max_size=12),
    pairs=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=40),
)
def test_intersections_kernel_equals_numpy(way: str, keys: list[tuple[str, int]], pairs: list) -> None:
    texts, units = [k for k, _ in keys], [u for _, u in keys]
    with jit.numpy_definitions():
        reference = _shingles(texts, units)
    n = len(keys)
    child = np.array([a % n for a, _ in pairs], dtype=np.int64)
    parent = np.array([b % n for _, b in pairs], dtype=np.int64)
    counts = np.diff(reference.seq_off)
    sets, set_off, t = R._set_tables(reference.seq, counts, _kernel(R._set_tables_kernel, way))
    # the same distinct sets, each row's values in first-occurrence order instead of sorted
    assert np.array_equal(set_off, reference.set_off)
    assert np.array_equal(np.sort(sets), reference.sets)
    got = _kernel(R._table_intersect_kernel, way)(sets, set_off, t.table, t.offsets, t.zero, child, parent)
    assert np.array_equal(got, reference.intersections_numpy(child, parent))
    if jit.enabled():  # what verification runs
        assert np.array_equal(_shingles(texts, units).intersections(child, parent), got)


@pytest.mark.parametrize("way", WAYS)
@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(
        st.lists(
            st.integers(0, 2**32 - 1) | st.integers(0, 40) | st.sampled_from([0, 2**31, 2**32 - 1]),
            max_size=70,
        ),
        min_size=1,
        max_size=6,
    ),
    spread=st.booleans(),
    pairs=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), max_size=30),
)
def test_set_tables_on_any_hashes(way: str, rows: list[list[int]], spread: bool, pairs: list) -> None:
    """Distinct sets and intersections by hash table on values that crowd the tables (small values,
    multiples of one step, repeats) and on the hash 0, which the tables cannot hold as a value."""
    step = 2**20 if spread else 1
    rows = [[(v * step) % 2**32 for v in values] for values in rows]
    hashes = np.array([v for values in rows for v in values], dtype=np.uint32)
    counts = np.array([len(v) for v in rows], dtype=np.int64)
    sets, set_off, t = R._set_tables(hashes, counts, _kernel(R._set_tables_kernel, way))
    got_sets = [(sets[a:b] & np.uint64(0xFFFFFFFF)).tolist() for a, b in itertools.pairwise(set_off.tolist())]
    assert got_sets == [list(dict.fromkeys(values)) for values in rows]
    assert (sets >> np.uint64(32)).tolist() == [k for k, values in enumerate(got_sets) for _ in values]
    child = np.array([a % len(rows) for a, _ in pairs], dtype=np.int64)
    parent = np.array([b % len(rows) for _, b in pairs], dtype=np.int64)
    got = _kernel(R._table_intersect_kernel, way)(sets, set_off, t.table, t.offsets, t.zero, child, parent)
    assert got.tolist() == [len(set(rows[a]) & set(rows[b])) for a, b in zip(child, parent, strict=True)]


def _fragments(text: str, rng: random.Random) -> list[str]:
    """Pieces of ``text`` as a truncation would leave them: beginning, end, middle, noisy, shuffled."""
    n = len(text)
    cut = rng.randrange(1, max(2, n))
    a, b = sorted(rng.sample(range(n + 1), 2)) if n > 1 else (0, n)
    return [text[:cut], text[cut:], text[a:b], _noisy(text[a:b], 0.05, rng.randrange(99)), text[::-1][:cut]]


@pytest.mark.parametrize("way", WAYS)
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), english=st.booleans())
def test_alignment_kernel_equals_alignment(way: str, seed: int, english: bool) -> None:
    rng = random.Random(seed)
    if english:
        parent = " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(5, 80)))
        unit = UNIT_WORD
    else:
        parent = LONG_ZH[rng.randrange(len(LONG_ZH))]
        unit = UNIT_CHAR
    keys = [parent, *_fragments(parent, rng)]
    sh = _shingles(keys, [unit] * len(keys))
    child = np.arange(1, len(keys), dtype=np.int64)
    parent_rows = np.zeros(len(child), dtype=np.int64)
    n = R._widths(CFG)[unit]
    got = _kernel(R._align_kernel, way)(
        sh.sets, sh.set_off, sh.seq, sh.seq_off, child, parent_rows, np.full(len(child), n, dtype=np.int64)
    )
    for k, c in enumerate(child.tolist()):
        # the kernel aligns by shingles only; _alignment first tries the key as a substring
        expected = R._alignment("\0", keys[0], sh.hash_set(c), sh.sequence(0), n)
        assert tuple(got[k]) == expected


@pytest.mark.parametrize("way", WAYS)
@settings(max_examples=80, deadline=None)
@given(
    sets=st.lists(
        st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 40), max_size=60), min_size=1, max_size=5
    ),
    seqs=st.lists(
        st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 40), max_size=80), min_size=1, max_size=4
    ),
    spread=st.booleans(),
    width=st.integers(1, 6),
)
def test_alignment_kernel_on_any_sets(
    way: str, sets: list[list[int]], seqs: list[list[int]], spread: bool, width: int
) -> None:
    """Membership of every parent shingle in the child's set, on sets whose values crowd the kernel's
    hash table (small values, multiples of one step) and on empty sets and sequences."""
    step = 2**20 if spread else 1
    rows = [sorted({(v * step) % 2**32 for v in values}) for values in sets]
    seq_rows = [[(v * step) % 2**32 for v in values] for values in seqs]
    flat = np.array([(r << 32) | v for r, values in enumerate(rows) for v in values], dtype=np.uint64)
    set_off = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(v) for v in rows], out=set_off[1:])
    seq = np.array([v for values in seq_rows for v in values], dtype=np.uint32)
    seq_off = np.zeros(len(seq_rows) + 1, dtype=np.int64)
    np.cumsum([len(v) for v in seq_rows], out=seq_off[1:])
    child = np.array([c for c in range(len(rows)) for _ in seq_rows], dtype=np.int64)
    parent = np.array([p for _ in rows for p in range(len(seq_rows))], dtype=np.int64)
    got = _kernel(R._align_kernel, way)(
        flat, set_off, seq, seq_off, child, parent, np.full(len(child), width)
    )
    for k in range(len(child)):
        child_set = np.array(rows[child[k]], dtype=np.uint32)
        parent_seq = np.array(seq_rows[parent[k]], dtype=np.uint32)
        assert tuple(got[k]) == R._alignment("\0", "x", child_set, parent_seq, width)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), english=st.booleans())
def test_truncation_types_equal_numpy(seed: int, english: bool) -> None:
    rng = random.Random(seed)
    if english:
        texts = [" ".join(rng.choice(_WORDS) for _ in range(rng.randrange(20, 90))) for _ in range(3)]
        unit = UNIT_WORD
    else:
        texts = [LONG_ZH[i] + LONG_ZH[i + 1] for i in rng.sample(range(len(LONG_ZH) - 1), 3)]
        unit = UNIT_CHAR
    keys = list(texts)
    for t in texts:
        keys += _fragments(t, rng)
    sh = _shingles(keys, [unit] * len(keys))
    pairs = [(c, p) for c in range(len(keys)) for p in range(3) if c != p]
    lc = np.array([c for c, _ in pairs], dtype=np.int64)
    lp = np.array([p for _, p in pairs], dtype=np.int64)
    jac = np.array([rng.random() for _ in pairs])
    units = np.full(len(pairs), unit, dtype=np.int8)
    args = (lc, lp, R._BlockKeys.of(keys), sh, R._widths(CFG), units, jac, CFG)
    expected = R._truncations_numpy(*args)
    if jit.enabled():
        assert np.array_equal(R._truncations(*args), expected)
    mp = pytest.MonkeyPatch()
    # the compiled path by its kernels' plain Python definitions (also where numba is off)
    mp.setattr(R, "_align_kernel", R._align_kernel.py_func)
    mp.setattr(R, "_find_kernel", R._find_kernel.py_func)
    try:
        assert np.array_equal(R._truncations(*args), expected)
    finally:
        mp.undo()


# ------------------------------------------------------------------------ screen


@pytest.mark.parametrize("way", WAYS)
@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    rows=st.integers(1, 40),
    width=st.sampled_from([0, 5, 8, 13, 64]),
    cfg=st.sampled_from(
        [CFG, DedupConfig(near_threshold=0.8, containment_threshold=0.7, min_fragment_tokens=5)]
    ),
)
def test_screen_kernel_equals_numpy(way: str, seed: int, rows: int, width: int, cfg: DedupConfig) -> None:
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, 300, rows).astype(np.int32)
    units = rng.integers(0, 3, rows).astype(np.int8)
    # sketches that agree in a share of their bytes, some rows without one
    base = rng.integers(0, 256, width, dtype=np.uint8)
    sketch = np.where(
        rng.random((rows, width)) < rng.random((rows, 1)), base, rng.integers(0, 256, (rows, width))
    )
    sketch = sketch.astype(np.uint8)
    sketch[rng.random(rows) < 0.2] = 0
    pairs = rng.integers(0, rows, (200, 2)).astype(np.int32)
    expected = R._screen_numpy(pairs, sketch, tokens, units, cfg)
    mp = pytest.MonkeyPatch()
    mp.setattr(R, "_screen_kernel", _kernel(R._screen_kernel, way))
    mp.setattr(jit, "enabled", lambda: True)
    try:
        got = R._screen(pairs, sketch, tokens, units, cfg)
    finally:
        mp.undo()
    assert np.array_equal(got, expected)


# ------------------------------------------------------------------------ assign


@pytest.mark.parametrize("way", WAYS)
@settings(max_examples=80, deadline=None)
@given(
    edges=st.lists(
        st.tuples(st.integers(0, 15), st.integers(0, 15), st.integers(0, 4), st.integers(1, 9)),
        max_size=60,
    ),
    seed=st.integers(0, 2**16),
)
def test_assign_kernel_equals_numpy(way: str, edges: list[tuple[int, int, int, int]], seed: int) -> None:
    prio = np.random.default_rng(seed).permutation(16).astype(np.int64)
    # a parent ranks before its child, as the reduce builds edges
    rows = [(c, p) if prio[p] < prio[c] else (p, c) for c, p, _, _ in edges if c != p]
    kinds = [(r, i) for (c, p, r, i) in edges if c != p]
    e = R._Edges(
        child=np.array([c for c, _ in rows], dtype=np.int32),
        parent=np.array([p for _, p in rows], dtype=np.int32),
        relation=np.array([r for r, _ in kinds], dtype=np.int8),
        inter=np.array([i for _, i in kinds], dtype=np.int32),
        size_child=np.full(len(rows), 9, dtype=np.int32),
        size_parent=np.full(len(rows), 12, dtype=np.int32),
    )
    with jit.numpy_definitions():
        expected = R._assign(16, e, prio)
    mp = pytest.MonkeyPatch()
    mp.setattr(R, "_assign_kernel", _kernel(R._assign_kernel, way))
    try:
        assert np.array_equal(R._assign(16, e, prio), expected)
    finally:
        mp.undo()


# ------------------------------------------------------------------- whole reduce


def _both_ways(paths: list[Path], cfg: DedupConfig = CFG) -> tuple[pa.Table, pa.Table]:
    compiled = reduce_index(paths, cfg).table()
    with jit.numpy_definitions():
        reference = reduce_index(paths, cfg).table()
    return compiled, reference


def test_reduce_with_kernels_equals_numpy_on_the_engine_files(tmp_path: Path) -> None:
    compiled, reference = _both_ways(_files(tmp_path))
    assert compiled.equals(reference)
    assert set(reference.column("relation").to_pylist()) >= {"exact", "near", "prefix", "suffix"}


def _letter_noise(text: str, rate: float, seed: int) -> str:
    """OCR-like confusions of Latin letters (one letter read as another)."""
    rng = random.Random(seed)
    return "".join(
        rng.choice("aceimnorsu") if c.isascii() and c.isalpha() and rng.random() < rate else c for c in text
    )


def _real_rows(paragraphs: list[str], source: str, seed: int, noise: float) -> list:
    """The paragraphs, and copies of some of them: exact, noisy, beginning, end and middle parts."""
    rng = random.Random(seed)
    texts = list(paragraphs)
    for p in rng.sample(paragraphs, min(len(paragraphs), 150)):
        n = len(p)
        texts.append(
            rng.choice(
                [
                    p,
                    _letter_noise(_noisy(p, noise, rng.randrange(99)), 0.01, rng.randrange(99)),
                    p[: n // 2],
                    p[n // 3 :],
                    p[n // 4 : -n // 4],
                ]
            )
        )
    rng.shuffle(texts)
    return _rows(source, texts)


def _paragraphs(texts: list[str], min_len: int) -> list[str]:
    return [p.strip() for t in texts for p in re.split(r"\n\s*\n", t) if len(p.strip()) >= min_len]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_reduce_with_kernels_equals_numpy_on_real_text(lang: str, tmp_path: Path) -> None:
    if lang == "zh":
        paragraphs = _paragraphs(tw_contents(200), 20)
    else:
        # raw OCR pages have no blank lines: six lines make a paragraph
        lines = [ln for page in chronam_pages(3, seed=4) for ln in page.splitlines() if ln.strip()]
        paragraphs = _paragraphs(["\n".join(lines[i : i + 6]) for i in range(0, len(lines), 6)], 80)
    rows = _real_rows(paragraphs, f"{lang}.txt", seed=7, noise=0.03 if lang == "zh" else 0.0)
    paths = []
    for k in range(2):
        path = tmp_path / f"{lang}{k}.parquet"
        pq.write_table(dedup_map(_table(rows[k::2]), CFG), path)
        paths.append(path)
    compiled, reference = _both_ways(paths)
    assert compiled.equals(reference)
    relations = set(reference.column("relation").to_pylist())
    assert {"exact", "near"} <= relations and relations & {"prefix", "suffix", "inner"}
    # the spilled anchor ranges and small verification blocks of a large run, both ways
    mp = pytest.MonkeyPatch()
    mp.setattr(R, "_ANCHOR_SPILL_ROWS", 50)
    mp.setattr(R, "_VERIFY_BLOCK_CHARS", 5_000)
    try:
        spilled, spilled_reference = _both_ways(paths)
        # many small blocks verified on threads: the same decisions, in the same order
        threaded = [reduce_index(paths, CFG, threads=t).table() for t in (2, 3)]
        threaded.append(dedup_reduce(paths, CFG, threads=2))
    finally:
        mp.undo()
    assert spilled.equals(reference) and spilled_reference.equals(reference)
    assert all(t.equals(reference) for t in threaded)


# ------------------------------------------------------------------ canonical order


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 6),
            st.sampled_from(["a.txt", "b.txt", "c/a.txt"]),
            st.integers(-1, 3),
            st.integers(0, 3),
        ),
        min_size=1,
        max_size=40,
    ),
    wide=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_priority_equals_the_sort_with_ids(rows: list[tuple], wide: bool, seed: int) -> None:
    """The canonical rank without comparing ids (rows are in id order: a stable sort keeps it)
    equals the five-key sort with the id last; ``wide``: keys too wide to pack, sorted by Arrow."""
    ids = sorted(f"p{i:03d}-{np.random.default_rng(seed + i).integers(99)}" for i in range(len(rows)))
    scale = 2**40 if wide else 1
    idx = R._Index(
        paths=[],
        dest=[],
        ids=pa.array(ids, pa.string()),
        article_id=pa.array(ids, pa.string()),
        source_path=pa.chunked_array([pa.array([r[1] for r in rows]).dictionary_encode()]),
        unit=np.zeros(len(rows), np.int8),
        key_chars=np.array([r[0] * scale for r in rows], dtype=np.int64),
        key_tokens=np.zeros(len(rows), np.int32),
        key_hash=np.zeros(len(rows), np.uint64),
        prio=np.empty(0, np.int64),
        file=np.zeros(len(rows), np.int32),
        row=np.arange(len(rows), dtype=np.int32),
    )
    article_position = np.array([r[2] * scale for r in rows], dtype=np.int64 if wide else np.int32)
    position = np.array([r[3] for r in rows], dtype=np.int32)
    order = pc.sort_indices(
        pa.table(
            {
                "neg_len": -idx.key_chars,
                "source_path": pa.array([r[1] for r in rows]),
                "article_position": article_position,
                "position": position,
                "id": idx.ids,
            }
        ),
        [(c, "ascending") for c in ("neg_len", "source_path", "article_position", "position", "id")],
    ).to_numpy()
    expected = np.empty(len(order), dtype=np.int64)
    expected[order] = np.arange(len(order))
    assert R._priority(idx, article_position, position).tolist() == expected.tolist()


@settings(max_examples=100, deadline=None)
@given(
    keys=st.lists(
        st.lists(st.integers(-(2**16), 2**16), min_size=1, max_size=50).map(np.array),
        min_size=1,
        max_size=4,
    ),
    widen=st.sampled_from([0, 10, 25, 45]),
)
def test_stable_order_equals_lexsort(keys: list[np.ndarray], widen: int) -> None:
    """The stable multi-key order, whether the keys pack with the row number (a plain sort),
    without it (a stable argsort) or not at all (Arrow): numpy's lexsort, which is stable."""
    n = min(len(k) for k in keys)
    keys = [k[:n].astype(np.int64) << widen for k in keys]
    got = R._stable_order(keys)
    assert got.tolist() == np.lexsort(keys[::-1]).tolist()


@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(st.one_of(st.none(), st.just(b""), st.binary(min_size=4, max_size=4)), max_size=30),
    odd=st.booleans(),
    cut=st.integers(0, 3),
)
def test_sketches_by_byte_rows_equal_row_by_row(rows: list[bytes | None], odd: bool, cut: int) -> None:
    """The sketch matrix (rows copied as single items) equals one built row by row: end to end
    sketches, missing and empty ones, a sliced column; ``odd``: one shorter row forces the
    index-array path."""
    if odd and rows:
        rows = [*rows, b"\x01\x02"]
    col = pa.array(rows, pa.binary())[min(cut, len(rows)) :]
    got = R._sketches(col)
    values = col.to_pylist()
    width = max((len(v) for v in values if v is not None), default=0)
    want = np.zeros((len(values), width), dtype=np.uint8)
    for i, v in enumerate(values):
        if v is not None and len(v) == width:
            want[i] = np.frombuffer(v, dtype=np.uint8)
    assert got.shape == want.shape and np.array_equal(got, want)
    out = np.zeros((len(values) + 2, width), dtype=np.uint8)
    if width:
        where = np.random.default_rng(len(values)).permutation(len(values) + 2)[: len(values)]
        R._byte_rows(out)[where] = R._byte_rows(got)
        assert np.array_equal(out[where], want)
