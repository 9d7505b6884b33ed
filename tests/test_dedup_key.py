"""The dedup key (rule ``dedup.key``): what paragraphs are compared on."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from cleaning.dedup import DedupConfig, dedup_key, key_and_unit
from cleaning.dedup.key import UNIT_CHAR, UNIT_WORD, keys_and_units


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


_BATCH_CONFIGS = [
    DedupConfig(),
    DedupConfig(unit="char"),
    DedupConfig(unit="word"),
    DedupConfig(latin_unit="char"),
    DedupConfig(unit="word", latin_unit="char"),
    DedupConfig(fold_traditional=True, casefold=False),
]


@given(st.lists(st.one_of(st.text(alphabet=_NEWS_ALPHABET, max_size=80), st.text(max_size=40)), max_size=12))
def test_batched_keys_equal_one_by_one(texts: list[str]) -> None:
    for cfg in _BATCH_CONFIGS:
        keys, units = keys_and_units(texts, cfg)
        assert list(zip(keys, units, strict=True)) == [key_and_unit(t, cfg) for t in texts]
