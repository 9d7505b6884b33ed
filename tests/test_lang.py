"""Language hints: ``guess_lang`` (one table look-up per character) against the plain counting it
replaces, on generated text of every script it tells apart and on the real corpora."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaning import jit, lang
from cleaning.lang import guess_lang, guess_langs, script_specific_chars
from tests.shared_corpora import chronam_pages, cn_law_texts, tw_contents

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_LATIN = re.compile(r"[A-Za-z]")


def reference_guess_lang(text: str, sample: int = 1200) -> str:
    """The definition: each count by its own regex or set, on the first ``sample`` characters."""
    s = text[:sample]
    han = len(_HAN.findall(s))
    kana = len(_KANA.findall(s))
    hangul = len(_HANGUL.findall(s))
    latin = len(_LATIN.findall(s))
    if kana and kana * 5 >= han:
        return "ja"
    if hangul and hangul >= han:
        return "ko"
    if han == 0:
        return "en" if latin >= 20 else "und"
    if latin > 4 * han:
        return "en"
    trad_only, simp_only = script_specific_chars()
    t = sum(c in trad_only for c in s)
    si = sum(c in simp_only for c in s)
    if t > 2 * si and t >= 2:
        return "zh-Hant"
    if si > 2 * t and si >= 2:
        return "zh-Hans"
    return "zh"


TRAD, SIMP = (sorted(x)[:60] for x in script_specific_chars())
OTHERS = ["中", "人", "の", "カ", "한", "글", "a", "Z", " ", "，", "1", "\ud800", "𠀀", "\U00031350"]
ALPHABET = st.sampled_from([*TRAD, *SIMP, *OTHERS])


def test_script_specific_characters_are_han_inside_the_table() -> None:
    for chars in script_specific_chars():
        assert all(_HAN.fullmatch(c) and ord(c) <= lang._TABLE_TOP for c in chars)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=80), st.integers(min_value=0, max_value=100))
def test_same_as_plain_counting_on_mixed_scripts(text: str, sample: int) -> None:
    assert guess_lang(text, sample) == reference_guess_lang(text, sample)
    assert guess_lang(text) == reference_guess_lang(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_same_as_plain_counting_on_any_text(text: str) -> None:
    assert guess_lang(text) == reference_guess_lang(text)


def test_examples() -> None:
    assert guess_lang("總統今天接見來訪的外國貴賓，表示歡迎。") == "zh-Hant"
    assert guess_lang("总统今天接见来访的外国贵宾，表示欢迎。") == "zh-Hans"
    assert guess_lang("これは日本語の文章です。") == "ja"
    assert guess_lang("한국어 문장입니다") == "ko"
    assert guess_lang("The Senate passed the bill on Tuesday.") == "en"
    assert guess_lang("") == guess_lang("123") == "und"


def test_same_as_plain_counting_on_the_real_corpora() -> None:
    texts = tw_contents(150) + cn_law_texts(30, seed=8) + chronam_pages(20, seed=8)
    for text in texts:
        for start in (0, 1000, 5000):
            part = text[start:]
            assert guess_lang(part) == reference_guess_lang(part)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=120))
def test_compiled_counts_are_the_numpy_counts(text: str) -> None:
    with jit.numpy_definitions():
        plain = lang._class_counts(text)
    assert lang._class_counts(text) == plain


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(alphabet=ALPHABET, max_size=80) | st.text(max_size=20), max_size=8),
    st.integers(min_value=0, max_value=100),
)
def test_page_batch_is_guess_lang_of_each(texts: list[str], sample: int) -> None:
    expected = [guess_lang(t, sample) for t in texts]
    assert guess_langs(texts, sample) == expected
    with jit.numpy_definitions():
        assert guess_langs(texts, sample) == expected


def test_page_batch_on_the_real_corpora() -> None:
    texts = tw_contents(60) + cn_law_texts(20, seed=9) + chronam_pages(10, seed=9) + ["", "A" * 30]
    parts = [t[start:] for t in texts for start in (0, 1000)]
    assert guess_langs(parts) == [guess_lang(p) for p in parts]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet=ALPHABET, max_size=40), max_size=6))
def test_compiled_batch_counts_are_the_plain_loop(texts: list[str]) -> None:
    import numpy as np

    if not jit.enabled():  # PRESSWASH_JIT=0 or no numba: nothing compiled to compare
        pytest.skip("numba is not importable here")
    table, per_bit = lang._class_table()
    codes = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    ends = np.cumsum(np.array([len(t) for t in texts] or [0], dtype=np.int64))
    compiled, plain = (np.zeros((max(len(texts), 1), 64), dtype=np.int64) for _ in range(2))
    lang._class_histograms(codes, ends, table, lang._TABLE_TOP, compiled)
    lang._class_histograms.py_func(codes, ends, table, lang._TABLE_TOP, plain)
    assert compiled.tolist() == plain.tolist()
    assert (compiled @ per_bit).tolist() == [lang._class_counts(t) for t in texts or [""]]
