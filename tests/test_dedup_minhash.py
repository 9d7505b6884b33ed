"""Bulk shingles, MinHash signatures, band hashes and anchors (cleaning.dedup.minhash)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaning.dedup import DedupConfig, minhash
from cleaning.dedup.key import UNIT_CHAR, UNIT_WORD, keys_and_units
from cleaning.dedup.minhash import anchors, band_hashes, encode, minhash_signatures, shingle_hashes

CFG = DedupConfig()
TEXTS = [
    "史燕推介的第二款产品是红船镇刘桥村食用菌。史燕还一展厨艺,给网友朋友展示了羊肚耳的一种做法。",
    "The President said today that the bill would be signed before the end of the week.",
    "短句",
    "",
    "a b",
    "红船镇从2008年开始大规模养殖食用菌,经过10多年的发展,全镇已有1000多个大棚。",
]


def _batch(texts: list[str], cfg: DedupConfig = CFG):
    keys, units = keys_and_units(texts, cfg)
    u = np.asarray(units, dtype=np.int8)
    return keys, u, encode(keys, u)


def _split(values: np.ndarray, counts: np.ndarray) -> list[np.ndarray]:
    ends = np.cumsum(counts)
    return [values[e - c : e] for e, c in zip(ends, counts, strict=True)]


def test_shingles_are_the_ngrams_of_the_key() -> None:
    keys, units, enc = _batch(TEXTS)
    hashes, counts = shingle_hashes(enc, units, CFG)
    per_key = _split(hashes, counts)
    for key, unit, hs in zip(keys, units, per_key, strict=True):
        tokens = list(key) if unit == UNIT_CHAR else key.split()
        n = CFG.char_ngram if unit == UNIT_CHAR else CFG.word_ngram
        expected = max(len(tokens) - n + 1, 1) if tokens else 0
        assert len(hs) == expected
        # equal n-grams hash equally, different ones (here) differently
        grams = [tuple(tokens[i : i + n]) for i in range(expected)]
        by_gram: dict[tuple, int] = {}
        for g, h in zip(grams, hs.tolist(), strict=True):
            assert by_gram.setdefault(g, h) == h
        assert len(set(by_gram.values())) == len(by_gram)


def test_shingle_hash_depends_only_on_the_ngram_not_its_position_or_batch() -> None:
    _, u1, e1 = _batch(["红船镇刘桥村"])
    _, u2, e2 = _batch(["前面的一段话", "某某红船镇刘桥村"])
    h1, _ = shingle_hashes(e1, u1, CFG)
    h2, c2 = shingle_hashes(e2, u2, CFG)
    assert set(h1.tolist()) <= set(_split(h2, c2)[1].tolist())


def test_signatures_equal_datasketch_affine32() -> None:
    _, units, enc = _batch(TEXTS)
    hashes, counts = shingle_hashes(enc, units, CFG)
    nonempty = counts > 0
    sig = minhash_signatures(hashes, counts[nonempty], CFG)
    for row, hs in zip(sig, [h for h in _split(hashes, counts) if len(h)], strict=True):
        m = MinHash(num_perm=CFG.num_perm, seed=CFG.seed, hashfunc=lambda v: v)
        m.update_batch(hs.tolist())
        assert np.array_equal(m.hashvalues, row)


def test_signature_estimates_jaccard() -> None:
    rng = np.random.default_rng(7)
    a = rng.integers(0, 2**32, 400, dtype=np.uint32)
    b = np.concatenate([a[:300], rng.integers(0, 2**32, 100, dtype=np.uint32)])
    cfg = DedupConfig(num_perm=256, bands=64, rows=4)
    sig = minhash_signatures(np.concatenate([a, b]), np.array([400, 400]), cfg)
    true = 300 / 500
    assert abs(float(np.mean(sig[0] == sig[1])) - true) < 0.1


def test_band_hashes_equal_for_equal_bands_only() -> None:
    sig = np.array([[1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 3, 4, 5, 6, 7, 9]], dtype=np.uint32)
    cfg = DedupConfig(num_perm=8, bands=2, rows=4)
    bands = band_hashes(sig, cfg)
    assert bands[0, 0] == bands[1, 0]
    assert bands[0, 1] != bands[1, 1]


def test_fragment_shares_anchors_and_head_with_full_copy() -> None:
    full = (
        "史燕为大家带来的第一个产品是红船镇刘桥村的食用菌。现场邀请到刘桥村首佳木耳种植专业合作社的负责人"
        "霍道宪介绍5款食用菌不同的功效和做法,在推荐的同时,史燕还不忘帮网友朋友们跟霍老板砍砍价。"
    )
    fragment = full[:40]
    _, units, enc = _batch([full, fragment])
    ah, counts, head, tail = anchors(enc, units, np.array([True, True]), CFG)
    a_full, a_frag = _split(ah, counts)
    assert head[0] == head[1] != 0
    assert tail[0] != tail[1]
    assert set(a_frag.tolist()) & set(a_full.tolist())
    assert len(a_full) <= CFG.max_anchors


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=8))
def test_bulk_functions_never_raise(texts: list[str]) -> None:
    _keys, units, enc = _batch(texts)
    hashes, counts = shingle_hashes(enc, units, CFG)
    assert len(counts) == len(texts)
    sig = minhash_signatures(hashes, counts[counts > 0], CFG)
    assert sig.shape == (int((counts > 0).sum()), CFG.num_perm)
    ah, acounts, head, tail = anchors(enc, units, np.ones(len(texts), dtype=bool), CFG)
    assert len(acounts) == len(head) == len(tail) == len(texts)
    assert int(acounts.sum()) == len(ah)


def test_word_unit_tokens() -> None:
    keys, units, enc = _batch(["one two  three", "x"])
    assert keys[0] == "one two three" and units[0] == UNIT_WORD
    assert enc.token_counts.tolist() == [3, 1]


def _grow_at_once(sizes: tuple[int, ...]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``minhash._powers(n)`` for every ``n`` of ``sizes``, each on its own thread, started together."""
    barrier = threading.Barrier(len(sizes))
    got: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def grow(n: int) -> None:
        barrier.wait()
        got[n] = minhash._powers(n)

    threads = [threading.Thread(target=grow, args=(n,)) for n in sizes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return got


def test_powers_grow_as_a_pair_while_threads_read_them(monkeypatch: pytest.MonkeyPatch) -> None:
    # shard threads (the thread runner) and the reduce's threads encode batches at once: a thread
    # must never see K^i grown and K^-i not yet (it would hash with a short table)
    sizes = (300_000, 600_000, 900_000, 1_200_000)
    for _ in range(5):
        small = (np.ones(1, dtype=np.uint64), np.ones(1, dtype=np.uint64))
        monkeypatch.setattr(minhash, "_POWERS", type(minhash._POWERS)(small))
        got = _grow_at_once(sizes)
        assert sorted(got) == list(sizes)
        for n, (pw, inv) in got.items():
            assert len(pw) == len(inv) == n
            with np.errstate(over="ignore"):
                assert (pw[-3:] * inv[-3:] == 1).all()  # K^i * K^-i = 1 (mod 2^64)
