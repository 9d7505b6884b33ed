"""The dedup key (rule ``dedup.key``): what paragraphs are compared on."""

from __future__ import annotations

import itertools
import re
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shared_corpora import chronam_pages, cn_law_texts, tw_contents

from cleaning import jit
from cleaning.dedup import DedupConfig, dedup_key, key_and_unit
from cleaning.dedup import key as key_mod
from cleaning.dedup.key import UNIT_CHAR, UNIT_WORD, key_codes, keys_and_units


def test_halfwidth_and_fullwidth_punctuation_give_one_key() -> None:
    half = "史燕推介的第二款产品是红船镇刘桥村食用菌。史燕还一展厨艺,给网友朋友展示了羊肚耳的一种做法。"
    full = half.replace(",", "，")
    assert dedup_key(half) == dedup_key(full)
    assert "," not in dedup_key(half) and "。" not in dedup_key(half)


def test_cjk_uses_characters_and_english_uses_words() -> None:
    assert key_and_unit("市开发区召开脱贫攻坚工作调度会")[1] == UNIT_CHAR
    assert key_and_unit("The President said today that the bill")[1] == UNIT_WORD
    # a few Latin letters or digits inside Chinese text do not switch to words
    assert key_and_unit("大唐5G建设现场,科技展厅、研发中心")[1] == UNIT_CHAR


def test_traditional_fold_is_optional() -> None:
    trad = "總統府今天發表新聞稿"
    assert dedup_key(trad) == trad
    folded = dedup_key(trad, DedupConfig(fold_traditional=True))
    assert folded == "总统府今天发表新闻稿"


def test_forced_units() -> None:
    assert key_and_unit("one two three", DedupConfig(unit="char"))[0] == "onetwothree"
    assert key_and_unit("市开发区 召开", DedupConfig(unit="word"))[0] == "市开发区 召开"


def test_jieba_unit_gives_words() -> None:
    key, unit = key_and_unit("市开发区召开脱贫攻坚工作调度会", DedupConfig(unit="jieba"))
    assert unit == UNIT_WORD
    assert " " in key and key.replace(" ", "") == "市开发区召开脱贫攻坚工作调度会"


@given(st.text(max_size=300))
def test_never_raises_and_is_idempotent(text: str) -> None:
    key, _unit = key_and_unit(text)
    assert isinstance(key, str)
    again, _unit2 = key_and_unit(key)
    if key:
        assert again == key


@given(st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), max_size=50), st.text())
def test_no_han_character_lost(han: str, noise: str) -> None:
    text = "".join(h + n for h, n in zip(han, noise, strict=False)) + han[len(noise) :]
    key = dedup_key(text, DedupConfig(unit="char"))
    folded = unicodedata.normalize("NFKC", text)
    expected = [ch for ch in folded if 0x4E00 <= ord(ch) <= 0x9FFF]
    assert [ch for ch in key if 0x4E00 <= ord(ch) <= 0x9FFF] == expected


def test_kangxi_radicals_and_enclosed_ideographs_count_as_letters() -> None:
    # PDF and OCR extraction often emit Kangxi radicals for common ideographs
    assert dedup_key("⼀⼆三，㈠") == "一二三一"


_NEWS_ALPHABET = st.sampled_from(
    list("史燕推介的第二款产品總統府ABCxyz0129 ,.;:!?()“”‘’—…、。，；：！？（）《》【】")
    + list("ＡＢＣｘｙｚ０１２\u3000")
)


@given(st.text(alphabet=_NEWS_ALPHABET, max_size=200))
def test_fast_key_equals_whole_string_nfkc_reference(text: str) -> None:
    reference = re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text).lower())
    assert dedup_key(text, DedupConfig(unit="char")) == reference
    words = re.sub(r"[\W_]+", " ", unicodedata.normalize("NFKC", text).lower()).split()
    assert dedup_key(text, DedupConfig(unit="word")) == " ".join(words)


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _fold(cfg: DedupConfig | None = None) -> np.ndarray:
    cfg = cfg or DedupConfig()
    return key_mod._fold_table(cfg.casefold, cfg.fold_traditional)


_BATCH_CONFIGS = [
    DedupConfig(),
    DedupConfig(unit="char"),
    DedupConfig(unit="word"),
    DedupConfig(latin_unit="char"),
    DedupConfig(unit="word", latin_unit="char"),
    DedupConfig(fold_traditional=True, casefold=False),
    DedupConfig(fold_traditional=True),
    DedupConfig(casefold=False),
]


@settings(deadline=None)  # the first example may compile a kernel
@given(st.lists(st.one_of(st.text(alphabet=_NEWS_ALPHABET, max_size=80), st.text(max_size=40)), max_size=12))
def test_batched_keys_equal_one_by_one(texts: list[str]) -> None:
    for cfg in _BATCH_CONFIGS:
        keys, units = keys_and_units(texts, cfg)
        assert list(zip(keys, units, strict=True)) == [key_and_unit(t, cfg) for t in texts]


def _assert_key_codes_are_the_keys(texts: list[str], cfg: DedupConfig) -> bool:
    """key_codes gives keys_and_units's keys and units, as code points; True when it made them as
    code points only."""
    keys, units = keys_and_units(texts, cfg)
    strings, (got_units, codes, offsets) = key_codes(texts, cfg)
    assert strings is None or strings == keys
    assert got_units.dtype == np.int8 and got_units.tolist() == units
    assert codes.dtype == np.uint32 and offsets.dtype == np.int64 and len(offsets) == len(keys) + 1
    text = codes.tobytes().decode("utf-32-le")
    bounds = offsets.tolist()
    assert bounds[0] == 0 and bounds[-1] == len(text)
    assert [text[lo:hi] for lo, hi in itertools.pairwise(bounds)] == keys
    return strings is None


@settings(deadline=None)  # the first example may compile a kernel
@given(
    st.lists(
        st.one_of(
            st.text(alphabet=_NEWS_ALPHABET, max_size=80),
            st.text(alphabet=st.sampled_from("史燕二中文，。Ａ１"), min_size=1, max_size=40),
            st.text(max_size=40),
        ),
        max_size=12,
    )
)
def test_key_codes_are_the_keys(texts: list[str]) -> None:
    for cfg in _BATCH_CONFIGS:
        _assert_key_codes_are_the_keys(texts, cfg)


def test_key_codes_of_chinese_text_are_made_as_code_points_only() -> None:
    seed = Path(__file__).resolve().parents[1] / "data" / "raw" / "000_77a03ed607cd6b14.txt"
    texts = [ln for ln in seed.read_text(encoding="utf-8").splitlines() if not ln.isascii()]
    texts += [t.replace("，", ",") + "ＡＢ１" for t in texts[::7]]
    cfg = DedupConfig()
    assert _assert_key_codes_are_the_keys(texts, cfg) == jit.enabled()
    # among them an ASCII-only text, a letter the fold table has no entry for, a text for the
    # one-by-one path, word keys: those keys alone are made as strings
    mixed = [*texts[:5], "2024", "史燕ﬁ", texts[5], "⼀二", "The council met on Tuesday.", *texts[6:9]]
    for k in range(len(mixed)):
        assert _assert_key_codes_are_the_keys(mixed[k:] + mixed[:k], cfg) == jit.enabled()
    # no text for the letters pass: every key made as a string
    assert not _assert_key_codes_are_the_keys(["2024", "The council met."], cfg)
    for other in _BATCH_CONFIGS:
        _assert_key_codes_are_the_keys(texts, other)
        _assert_key_codes_are_the_keys(mixed, other)


# Characters that compose, decompose or reorder under NFKC, among plain letters: the batched path
# only re-checks keys holding a character the code point table marks as possibly unnormalized.
_COMPOSING_ALPHABET = st.sampled_from(
    [
        *"eaAo史燕二 ,。",
        *(
            "\u0301",
            "\u0308",
            "\u0327",
            "\u1100",
            "\u1161",
            "\u11a8",
            "가",
            "\u0b47",
            "\u0b3e",
            "\u3099",
            "か",
        ),
        *("Ａ", "１", "ﬁ", "\u212b", "\u2160", "Ⅸ", "\u00b4", "\u0344", "\u0f73", "İ", "Σ", "ς"),
    ]
)


@settings(deadline=None)  # the first example may compile a kernel
@given(st.lists(st.text(alphabet=_COMPOSING_ALPHABET, max_size=30), max_size=10))
def test_batched_keys_equal_one_by_one_with_composing_characters(texts: list[str]) -> None:
    for cfg in _BATCH_CONFIGS:
        keys, units = keys_and_units(texts, cfg)
        assert list(zip(keys, units, strict=True)) == [key_and_unit(t, cfg) for t in texts]


def test_code_point_table_flags() -> None:
    flags = key_mod._code_flags()
    for cp in range(1, 0x10000):
        ch = chr(cp)
        f = int(flags[cp])
        assert bool(f & key_mod._F_WORD) == (re.fullmatch(r"[\W_]", ch) is None), hex(cp)
        assert bool(f & key_mod._F_NFKC_FIRST) == (key_mod._nfkc_first().match(ch) is not None), hex(cp)
        assert bool(f & key_mod._F_CJK) == (key_mod._CJK_RUN.match(ch) is not None), hex(cp)
        if not f & key_mod._F_NFKC_UNSAFE:
            # alone, and after a starter it might compose with, it stays as it is
            assert unicodedata.is_normalized("NFKC", ch + "a" + ch), hex(cp)
    assert (flags[0x10000:] == key_mod._F_NFKC_FIRST).all()


@pytest.mark.parametrize(("casefold", "traditional"), list(itertools.product([True, False], repeat=2)))
def test_fold_table_folds_a_letter_as_the_key_does(casefold: bool, traditional: bool) -> None:
    cfg = DedupConfig(casefold=casefold, fold_traditional=traditional)
    fold = key_mod._fold_table(casefold, traditional)
    flags = key_mod._code_flags()
    mapped = np.flatnonzero(fold).tolist()
    assert not (fold[0x10000:]).any()
    # every entry is a letter of the key: alone, and between letters that are their own NFKC form
    # and between letters that are not (the NFKC-unsafe ones with an entry), on either side
    plain = ["a", "二", "Z", "7"]
    changed = [chr(cp) for cp in mapped if flags[cp] & key_mod._F_NFKC_UNSAFE]
    assert {"Ａ", "１", "①", "ｶ"} <= set(changed)
    for cp in mapped:
        ch = chr(cp)
        assert flags[cp] & key_mod._F_WORD, hex(cp)
        assert key_mod._fold_letters(ch, cfg, "") == chr(fold[cp]), hex(cp)
    neighbours = plain + changed[:: max(1, len(changed) // 40)]
    for cp in mapped[::7] + [ord(c) for c in changed]:
        ch = chr(cp)
        for x in neighbours:
            want = chr(fold[ord(x)]) + chr(fold[cp]) + chr(fold[ord(x)])
            assert key_mod._fold_letters(x + ch + x, cfg, "") == want, (hex(cp), x)
    # no entry: the characters whose fold is not one letter, or depends on the next one
    for ch in ("Σ", "İ", "㎏", "ﬁ", "\u0301", "가"):
        assert fold[ord(ch)] == 0, ch


def test_no_character_beyond_the_bmp_composes_from_a_bmp_second() -> None:
    # what the NFKC-unsafe flags rely on: every canonical pair with a BMP second composes to a BMP character
    for cp in range(0x10000, 0x110000):
        parts = unicodedata.decomposition(chr(cp)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            assert int(parts[1], 16) >= 0x10000, hex(cp)


def test_letters_cjk_flags_equal_reference() -> None:
    texts = [
        "",
        "a",
        "000二",
        "二二二a",
        "a" * 300 + "二",
        "二" * 67 + "a" * 133,
        "二" * 66 + "a" * 134,
        "",
        "0二",
    ]
    letters = [key_mod._NON_WORD.sub("", t) for t in texts]
    batch = key_mod._Letters(_codes("\x00".join(texts)), np.array([len(t) for t in texts]), _fold())
    assert batch.cjk.tolist() == [key_mod.is_cjk_text(t) for t in letters]


def test_batched_keys_equal_one_by_one_on_real_text() -> None:
    texts = [p for c in tw_contents(120) for p in c.split("\n\n")]
    texts += [ln for c in cn_law_texts(15, seed=11) for ln in c.splitlines()]
    texts += [p for page in chronam_pages(3, seed=11) for p in page.split("\n\n")]
    texts += [t.upper().replace(",", "，").replace(".", "．") for t in texts[::5]]
    for cfg in _BATCH_CONFIGS:
        keys, units = keys_and_units(texts, cfg)
        assert list(zip(keys, units, strict=True)) == [key_and_unit(t, cfg) for t in texts]


_SPACED = st.lists(
    st.text(
        alphabet=st.sampled_from([" ", "\t", "\u3000", "\x1f", "a", "史", "_", ",", "𠀀", "\ud800"]),
        max_size=12,
    )
    # keys never contain the NUL that joins them: the batched path is taken only then
    | st.text(alphabet=st.characters(exclude_characters="\x00"), max_size=12),
    max_size=8,
)


@settings(deadline=None)  # the first example may compile a kernel
@given(_SPACED)
def test_collapse_spaces_equals_split_join(keys: list[str]) -> None:
    joined = "\x00".join(keys)
    expected = "\x00".join(" ".join(k.split()) for k in keys)
    assert key_mod._collapse_spaces_str(joined) == expected
    assert key_mod._collapse_spaces(joined) == expected


@settings(deadline=None)  # the first example may compile a kernel
@given(_SPACED, st.sampled_from(["", " "]))
def test_non_word_table_equals_the_regex(keys: list[str], separator: str) -> None:
    joined = "\x00".join(keys)
    expected = key_mod._NON_WORD_KEEP_SEP.sub(separator, joined).replace("_", separator)
    got = key_mod._non_word_to(joined, separator)
    if separator:
        assert key_mod._collapse_spaces(got) == key_mod._collapse_spaces(expected)
    else:
        assert got == expected


@settings(deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.sampled_from("二a0 ,Ａ\u1161가"), max_size=260)
        | st.text(alphabet=st.characters(max_codepoint=0xFFFF, blacklist_characters="\x00"), max_size=30),
        min_size=1,
        max_size=8,
    )
)
def test_letters_kernel_equals_numpy_definition(texts: list[str]) -> None:
    # as _batch_keys gives them: no NUL, no character beyond the BMP (those texts go one by one)
    codes = _codes("\x00".join(texts))
    lengths = np.array([len(t) for t in texts], dtype=np.int64)
    compiled = key_mod._Letters(codes, lengths, _fold())
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(jit, "enabled", lambda: False)
        reference = key_mod._Letters(codes, lengths, _fold())
    assert np.array_equal(compiled.letters, reference.letters)
    assert compiled.letter_counts.tolist() == reference.letter_counts.tolist()
    assert compiled.cjk.tolist() == reference.cjk.tolist()
    assert compiled.unmapped_rows.tolist() == reference.unmapped_rows.tolist()
    letters = [key_mod._NON_WORD.sub("", t) for t in texts]
    assert reference.cjk.tolist() == [key_mod.is_cjk_text(t) for t in letters]
    # the letters come folded where the table has an entry, as they are elsewhere; a text with
    # a letter left as it is is unmapped
    fold = _fold()
    got = reference.letters.tobytes().decode("utf-32-le", "surrogatepass").split("\x00")
    assert got == ["".join(chr(fold[ord(c)]) if fold[ord(c)] else c for c in word) for word in letters]
    unmapped = [i for i, word in enumerate(letters) if any(fold[ord(c)] == 0 for c in word)]
    assert reference.unmapped_rows.tolist() == unmapped


def test_texts_holding_the_batch_separator_take_the_one_by_one_path() -> None:
    for texts in (["a\x00b", "x y"], ["史\x00燕", "史燕"], ["史燕", "a\x00", "\x00"]):
        for cfg in _BATCH_CONFIGS:
            keys, units = keys_and_units(texts, cfg)
            assert list(zip(keys, units, strict=True)) == [key_and_unit(t, cfg) for t in texts]


@pytest.mark.parametrize(
    "way",
    [pytest.param("compiled", marks=pytest.mark.skipif(not jit.enabled(), reason="no numba")), "python"],
)
@settings(max_examples=80, deadline=None)
@given(st.text(alphabet=st.sampled_from("二a ⼀㈠\U00020000,Ａ"), max_size=200) | st.text(max_size=60))
def test_flagged_positions_equal_the_flag_array(way: str, text: str) -> None:
    codes = _codes(text)
    flags = key_mod._code_flags()
    kernel = key_mod._flagged_positions if way == "compiled" else key_mod._flagged_positions.py_func
    for flag in (key_mod._F_NFKC_FIRST, key_mod._F_CJK):
        got = kernel(codes, flags, flag)
        want = np.flatnonzero(flags[codes] & flag)
        assert got.dtype == want.dtype and got.tolist() == want.tolist()
