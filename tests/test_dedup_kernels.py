"""The compiled dedup kernels against their numpy definitions (cleaning.dedup.minhash, cleaning.jit).

Every bulk function of the map runs both ways here: with kernels (when numba is
importable) and with ``jit.enabled`` switched off, which selects the numpy
reference definitions. The two must agree bit for bit on keys of every kind
(empty, one character, long, astral, word and character units) and on real text.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shared_corpora import chronam_pages, cn_law_texts, tw_contents

from cleaning import jit
from cleaning.dedup import DedupConfig, minhash
from cleaning.dedup import index as index_module
from cleaning.dedup.index import dedup_map
from cleaning.dedup.key import UNIT_CHAR, UNIT_LATIN_CHAR, UNIT_WORD, KeyCodes, key_codes, keys_and_units
from cleaning.dedup.minhash import (
    anchor_windows,
    anchors,
    band_hashes,
    encode,
    fmix32,
    key_windows,
    minhash_signatures,
    permutations,
    shingle_hashes,
    shingle_hashes_of_codes,
    windows,
)

CFG = DedupConfig()
needs_jit = pytest.mark.skipif(not jit.enabled(), reason="numba is not importable here")


def both(fn: Callable[[], Any]) -> tuple[Any, Any]:
    """``fn()`` with kernels, then with the numpy definitions."""
    compiled = fn()
    with jit.numpy_definitions():
        reference = fn()
    return compiled, reference


def assert_same(a: Any, b: Any) -> None:
    if isinstance(a, tuple | list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b)
    else:
        assert a == b


def everything(keys: list[str], units: list[int], cfg: DedupConfig = CFG) -> tuple:
    """Every bulk function of the map on one batch of keys."""
    u = np.asarray(units, dtype=np.int8)
    enc = encode(keys, u)
    sh, counts = shingle_hashes(enc, u, cfg)
    sig = minhash_signatures(sh, counts[counts > 0], cfg)
    eligible = enc.token_counts >= 1
    return (
        (enc.offsets, enc.prefix, enc.inv_pow, enc.tok_start, enc.tok_end, enc.tok_off),
        windows(enc, np.full(len(keys), 4), whole_if_short=False),
        (sh, counts),
        sig,
        band_hashes(sig, cfg),
        anchors(enc, u, eligible, cfg),
    )


_ALPHABETS = [
    st.characters(min_codepoint=0x4E00, max_codepoint=0x4E40),  # few distinct Han: repeated n-grams
    st.sampled_from(list("ab z")),
    st.characters(min_codepoint=0x20000, max_codepoint=0x20010),  # astral
    st.characters(blacklist_categories=("Cs",)),
]
_KEY = st.one_of(st.just(""), *(st.text(alphabet=a, max_size=60) for a in _ALPHABETS), st.text(max_size=2))


@needs_jit
@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_KEY, st.sampled_from([UNIT_CHAR, UNIT_WORD, UNIT_LATIN_CHAR])), max_size=10))
def test_kernels_equal_numpy_on_any_keys(rows: list[tuple[str, int]]) -> None:
    keys = [k for k, _ in rows]
    units = [u for _, u in rows]
    assert_same(*both(lambda: everything(keys, units)))


@needs_jit
def test_kernels_equal_numpy_on_long_keys_and_edge_shapes() -> None:
    cases = _edge_key_cases(3)
    for keys, units in cases:
        assert_same(*both(lambda keys=keys, units=units: everything(keys, units)))
    long_cjk = cases[-1][0][0]
    small = DedupConfig(num_perm=8, bands=2, rows=4, char_ngram=5, anchor_window_chars=2, max_anchors=3)
    assert_same(*both(lambda: everything([long_cjk, "一二"], [UNIT_CHAR, UNIT_CHAR], small)))


def _shingles_of_codes(keys: list[str], units: list[int], cfg: DedupConfig = CFG) -> tuple:
    """:func:`shingle_hashes_of_codes` of the keys, and :func:`shingle_hashes` of their encoding."""
    u = np.asarray(units, dtype=np.int8)
    enc = encode(keys, u)
    codes = np.frombuffer("".join(keys).encode("utf-32-le"), dtype=np.uint32)
    return shingle_hashes_of_codes(codes, enc.offsets, u, cfg), shingle_hashes(enc, u, cfg)


@needs_jit
def test_shingles_of_codes_on_long_keys_edge_shapes_and_widths() -> None:
    for cfg in (CFG, DedupConfig(char_ngram=2, word_ngram=1, latin_char_ngram=9)):
        for keys, units in _edge_key_cases(4):
            got, want = _shingles_of_codes(keys, units, cfg)
            assert_same(got, want)
            # the kernel's plain Python definition (what numba compiles), on the short keys
            _, u, enc, codes = _plain_kernel_inputs(keys, units)
            with np.errstate(over="ignore"):  # uint64 arithmetic wraps, as compiled
                plain = minhash._shingles_by_kernel(
                    codes, enc.offsets, u, cfg, minhash._key_shingles_kernel.py_func
                )
            assert_same(plain, shingle_hashes(enc, u, cfg))


def _key_windows_of_codes(keys: list[str], units: list[int], cfg: DedupConfig = CFG) -> tuple:
    """:func:`key_windows` of the keys, and what it stands for: the token counts, shingles and
    anchor windows of their encoding."""
    u = np.asarray(units, dtype=np.int8)
    enc = encode(keys, u)
    codes = np.frombuffer("".join(keys).encode("utf-32-le"), dtype=np.uint32)
    want = (
        enc.token_counts,
        *shingle_hashes(enc, u, cfg),
        *windows(enc, anchor_windows(u, cfg), whole_if_short=False),
    )
    return key_windows(codes, enc.offsets, u, cfg), want


@needs_jit
@pytest.mark.parametrize("of_codes", [_shingles_of_codes, _key_windows_of_codes])
@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_KEY, st.sampled_from([UNIT_CHAR, UNIT_WORD, UNIT_LATIN_CHAR])), max_size=10))
def test_key_kernels_equal_the_encodings_values(of_codes: Callable, rows: list[tuple[str, int]]) -> None:
    """The shingles (and anchor windows) hashed from the keys' code points equal those of
    :func:`encode`, with the kernels and with the numpy definitions."""
    keys = [k for k, _ in rows]
    units = [u for _, u in rows]
    (got, want), (got_ref, want_ref) = both(lambda: of_codes(keys, units))
    assert_same(got, want)
    assert_same(got_ref, want_ref)
    assert_same(got, want_ref)


def _edge_key_cases(seed: int) -> list[tuple[list[str], list[int]]]:
    """Keys of every unit: none, empty, one character, blank, and very long."""
    rng = np.random.default_rng(seed)
    long_cjk = "".join(chr(c) for c in rng.integers(0x4E00, 0x4E80, 20_000))
    long_words = " ".join("w" + str(i % 97) for i in range(5_000))
    return [
        ([], []),
        ([""], [UNIT_CHAR]),
        (["一"], [UNIT_CHAR]),
        (["a"], [UNIT_WORD]),
        ([" ", "  a  b ", "a", "   "], [UNIT_WORD, UNIT_WORD, UNIT_WORD, UNIT_WORD]),
        (
            [long_cjk, "", long_words, "𠀀𠀁𠀂𠀃𠀄", "ab cd", "一二三四五六七八九"],
            [UNIT_CHAR, UNIT_CHAR, UNIT_WORD, UNIT_CHAR, UNIT_LATIN_CHAR, UNIT_CHAR],
        ),
    ]


def _plain_kernel_inputs(keys: list[str], units: list[int]) -> tuple:
    """The short keys (under 100 characters) of ``keys``, their units, encoding and code points:
    what a key kernel's plain Python definition is run on (it is slow on long keys)."""
    short = [k for k in keys if len(k) < 100]
    u = np.array([x for k, x in zip(keys, units, strict=True) if len(k) < 100], dtype=np.int8)
    enc = encode(short, u)
    codes = np.frombuffer("".join(short).encode("utf-32-le"), dtype=np.uint32)
    return short, u, enc, codes


def test_key_windows_on_long_keys_edge_shapes_and_widths() -> None:
    configs = (
        CFG,
        DedupConfig(char_ngram=2, word_ngram=1, latin_char_ngram=9, anchor_window_chars=2),
        DedupConfig(char_ngram=8, anchor_window_chars=30, anchor_window_words=1),
    )
    for cfg in configs:
        for keys, units in _edge_key_cases(5):
            got, want = _key_windows_of_codes(keys, units, cfg)
            assert_same(got, want)
            # the kernel's plain Python definition (what numba compiles), on the short keys
            short, u, enc, codes = _plain_kernel_inputs(keys, units)
            with np.errstate(over="ignore"):  # uint64 arithmetic wraps, as compiled
                plain = minhash._key_windows_by_kernel(
                    codes, enc.offsets, u, cfg, minhash._key_windows_kernel.py_func
                )
            with jit.numpy_definitions():
                _, reference = _key_windows_of_codes(short, list(u), cfg)
            assert_same(plain, reference)


@needs_jit
@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=50), st.integers(1, 4))
def test_minhash_kernel_wraps_like_uint32(values: list[int], groups: int) -> None:
    hashes = np.array(values, dtype=np.uint32)
    counts = np.array([len(values) // groups] * (groups - 1), dtype=np.int64)
    counts = np.append(counts, len(values) - counts.sum())
    counts = counts[counts > 0]
    sig, ref = both(lambda: minhash_signatures(hashes, counts, CFG))
    assert_same(sig, ref)
    # and the plain definition of datasketch's affine32, in Python integers
    a, b = permutations(CFG.num_perm, CFG.seed)
    hv = fmix32(hashes).astype(np.int64)
    first = [
        min((int(ak) * int(h) + int(bk)) % 2**32 for h in hv[: counts[0]])
        for ak, bk in zip(a, b, strict=True)
    ]
    assert sig[0].tolist() == first


def real_paragraphs() -> list[str]:
    """Paragraphs of all three corpora, some upper-cased with full-width punctuation, plus edge cases."""
    texts = [p for c in tw_contents(150) for p in c.split("\n\n")]
    texts += [ln for c in cn_law_texts(20, seed=5) for ln in c.splitlines()]
    texts += [p for page in chronam_pages(4, seed=5) for p in page.split("\n\n")]
    texts += [t.upper().replace(",", "，") for t in texts[::7]]
    return [*texts, "", "短", "a", "𠀀𠀁𠀂 𠀃𠀄𠀅𠀆𠀇𠀈𠀉", "ＡＢＣ　ｘｙｚ"]


def _paragraphs(texts: list[str]) -> pa.Table:
    n = len(texts)
    return pa.table(
        {
            "id": [f"p{i}" for i in range(n)],
            "article_id": [f"a{i // 5}" for i in range(n)],
            "source_path": ["s.txt"] * n,
            "position": [i % 5 for i in range(n)],
            "article_position": [i // 5 for i in range(n)],
            "text": texts,
        }
    )


@pytest.mark.parametrize(
    "cfg", [CFG, DedupConfig(latin_unit="char"), DedupConfig(unit="word")], ids=["auto", "latin-char", "word"]
)
def test_dedup_map_identical_with_and_without_kernels_on_real_text(cfg: DedupConfig) -> None:
    table = _paragraphs(real_paragraphs())
    compiled, reference = both(lambda: dedup_map(table, cfg))
    assert compiled.equals(reference, check_metadata=True)
    keys, _units = keys_and_units(table.column("text").to_pylist(), cfg)
    assert compiled.column("key").to_pylist() == keys


def _strings_first(texts: list[str], cfg: DedupConfig) -> tuple[list[str], KeyCodes]:
    """key_codes by the keys as strings, encoded: what the index computed from before."""
    keys, units = keys_and_units(texts, cfg)
    offsets = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum([len(k) for k in keys], out=offsets[1:])
    codes = np.frombuffer("".join(keys).encode("utf-32-le"), dtype=np.uint32)
    return keys, KeyCodes(np.asarray(units, dtype=np.int8), codes, offsets)


@pytest.mark.parametrize("batch_chars", [40, 500_000])
def test_dedup_map_from_keys_made_as_code_points_equals_from_strings(
    monkeypatch: pytest.MonkeyPatch, batch_chars: int
) -> None:
    """A Chinese shard's keys come as code points only: the index rows are those the keys as
    strings give (in one batch and in many)."""
    seed = Path(__file__).resolve().parents[1] / "data" / "raw" / "000_77a03ed607cd6b14.txt"
    texts = seed.read_text(encoding="utf-8").splitlines() * 3
    # keys made as strings among them: word keys, a letter the fold table has no entry for
    texts[5:5] = ["The council met on Tuesday evening.", "史燕ﬁ", "2024"]
    table = _paragraphs(texts)
    monkeypatch.setattr(index_module, "_BATCH_CHARS", batch_chars)
    assert (key_codes(texts, CFG)[0] is None) == jit.enabled()
    got = dedup_map(table, CFG)
    with monkeypatch.context() as mp:
        mp.setattr(index_module, "key_codes", _strings_first)
        want = dedup_map(table, CFG)
    assert got.equals(want, check_metadata=True)


@pytest.mark.parametrize("way", [pytest.param("compiled", marks=needs_jit), "python"])
@settings(max_examples=50, deadline=None)
@given(st.lists(_KEY, max_size=12))
def test_key_column_of_keys_given_as_code_points_only(way: str, keys: list[str]) -> None:
    offsets = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum([len(k) for k in keys], out=offsets[1:])
    codes = np.frombuffer("".join(keys).encode("utf-32-le"), dtype=np.uint32)
    want = pa.array(keys, type=pa.string())
    if way == "compiled":
        got = index_module._string_array(None, codes, offsets)
    else:
        with jit.numpy_definitions():
            got = index_module._string_array(None, codes, offsets)
    assert got.equals(want) and got.type == want.type


@pytest.mark.parametrize("way", [pytest.param("compiled", marks=needs_jit), "python"])
@settings(max_examples=100, deadline=None)
@given(st.lists(_KEY, max_size=12))
def test_key_column_from_code_points_equals_arrows_conversion(way: str, keys: list[str]) -> None:
    offsets = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum([len(k) for k in keys], out=offsets[1:])
    codes = np.frombuffer("".join(keys).encode("utf-32-le"), dtype=np.uint32)
    want = pa.array(keys, type=pa.string())
    if way == "compiled":
        got = index_module._string_array(keys, codes, offsets)
    else:
        byte_off, data = index_module._utf8_kernel.py_func(codes, offsets)
        assert byte_off.tolist() == np.cumsum([0, *(len(k.encode()) for k in keys)]).tolist()
        offsets32 = pa.py_buffer(byte_off.astype(np.int32))
        got = pa.StringArray.from_buffers(len(keys), offsets32, pa.py_buffer(data))
    assert got.equals(want) and got.type == want.type and got.null_count == 0
    got.validate(full=True)
