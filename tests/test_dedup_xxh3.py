"""The key hash kernel (cleaning.dedup.xxh3) against the ``xxhash`` package it stands in for.

XXH3 takes a different branch for empty input, 1-3, 4-8, 9-16, 17-128 and 129-240 bytes,
and past 240 bytes works in 64-byte stripes and 1024-byte blocks: every length up to past
the second block is hashed, compiled and as plain Python (what numba compiles), and the
map's ``key_hash`` column must stay ``xxh3_64_intdigest`` of each key's UTF-8.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaning import jit
from cleaning.dedup import DedupConfig
from cleaning.dedup import xxh3 as X
from cleaning.dedup.index import dedup_map
from tests.test_dedup_engine import LONG_ZH, _rows, _table

needs_jit = pytest.mark.skipif(not jit.enabled(), reason="numba is not importable here")
WAYS = [pytest.param("compiled", marks=needs_jit), "python", "xxhash"]


def _hash(strings: list[bytes], way: str) -> np.ndarray:
    data = np.frombuffer(b"".join(strings), dtype=np.uint8)
    offsets = np.zeros(len(strings) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in strings], out=offsets[1:])
    if way == "compiled":
        return X.xxh3_64(data, offsets)
    if way == "xxhash":  # the fallback without kernels
        with jit.numpy_definitions():
            return X.xxh3_64(data, offsets)
    out = np.empty(len(strings), dtype=np.uint64)
    with np.errstate(over="ignore"):  # uint64 arithmetic wraps, as compiled
        words = np.zeros(len(data) // 8 + 3, dtype=np.uint64)
        words.view(np.uint8)[: len(data)] = data
        X._xxh3_kernel.py_func(data, words, offsets, X._SECRET, out)
    return out


def _expected(strings: list[bytes]) -> list[int]:
    return [xxhash.xxh3_64_intdigest(s) for s in strings]


@pytest.mark.parametrize("way", WAYS)
def test_every_length_class_and_block_edge(way: str) -> None:
    rng = np.random.default_rng(11)
    # every length through three block sizes; a few (and the block edges) for plain Python
    short = range(2200) if way != "python" else [*range(260), 300, 511, 512, 700]
    lengths = [*short, 1023, 1024, 1025, 2047, 2048, 2049, 3000]
    strings = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in lengths]
    assert _hash(strings, way).tolist() == _expected(strings)


@pytest.mark.parametrize("way", WAYS)
@settings(max_examples=80, deadline=None)
@given(st.lists(st.binary(max_size=400), max_size=12))
def test_any_bytes(way: str, strings: list[bytes]) -> None:
    assert _hash(strings, way).tolist() == _expected(strings)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(max_size=120), max_size=10), st.integers(0, 3))
def test_strings_of_a_sliced_arrow_array(texts: list[str], drop: int) -> None:
    arr = pa.array(["x" * 5, *texts], pa.string()).slice(1 + min(drop, len(texts)))
    want = [xxhash.xxh3_64_intdigest(t.encode()) for t in arr.to_pylist()]
    assert X.xxh3_64_of_strings(arr).tolist() == want
    with jit.numpy_definitions():
        assert X.xxh3_64_of_strings(arr).tolist() == want


def test_map_key_hash_is_xxh3_of_the_key() -> None:
    texts = [*LONG_ZH, "短", "", "Ａ ｂｃ, de!", LONG_ZH[0] * 9]
    index = dedup_map(_table(_rows("s.txt", texts)), DedupConfig())
    keys = index.column("key").to_pylist()
    assert index.column("key_hash").to_pylist() == [xxhash.xxh3_64_intdigest(k.encode()) for k in keys]
