"""Normalize stage: selective rules, the seed in two punctuation styles, properties.

``tests/cases/normalize.json`` is made by :func:`build_cases`; regenerate with
``python tests/test_normalize.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import shared_corpora
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaning.normalize import (
    HAN,
    RULES,
    NormalizeConfig,
    normalize_line,
    normalize_lines,
    normalize_lines_reference,
)

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "data" / "raw" / "000_77a03ed607cd6b14.txt"
CASES = Path(__file__).parent / "cases" / "normalize.json"
CFG = NormalizeConfig()
_HAN = re.compile(f"[{HAN}]")

# (rule suffix, id, input, expected or None for "unchanged")
_CASES: list[tuple[str, str, str, str | None]] = [
    ("remove_control_chars", "nul-and-bell", "新闻\x00正文\x07第一段", "新闻正文第一段"),
    ("remove_control_chars", "c1-control", "二\x81一\x81年", "二一年"),
    ("remove_control_chars", "form-feed-to-space", "第一页\x0c第二页", "第一页 第二页"),
    ("remove_control_chars", "line-separator-to-space", "上文\u2028下文", "上文 下文"),
    ("remove_control_chars", "neg-tab-kept", "项目\t数量\t金额", None),
    ("remove_control_chars", "neg-soft-hyphen-kept", "infor\u00admation ends with a hyphen-", None),
    ("remove_zero_width", "zwsp", "市开\u200b发区", "市开发区"),
    ("remove_zero_width", "bom-inside", "\ufeff本报讯", "本报讯"),
    ("remove_zero_width", "word-joiner", "记者\u2060黄啟峰", "记者黄啟峰"),
    ("remove_zero_width", "neg-zwj-emoji", "家庭 👨\u200d👩\u200d👧 合影", None),
    ("remove_zero_width", "neg-ideographic-indent", "\u3000\u3000本报讯 近日", None),
    ("kangxi_radicals", "sun-radical", "⽇本和⼈⺠", "日本和人民"),
    ("kangxi_radicals", "supplement-form", "⻘年", "青年"),
    ("kangxi_radicals", "neg-unified", "日本和人民", None),
    ("kangxi_radicals", "neg-placeholders-kept", "黄□峰和〓〓〓", None),
    ("nfc", "combining-acute", "Cafe\u0301 e\u0301te\u0301", "Café été"),
    ("nfc", "hangul-jamo", "\u1112\u1161\u11ab", "한"),
    ("nfc", "neg-compat-ideograph-left-to-its-rule", "豈", None),
    ("nfc", "neg-precomposed", "Café 中文", None),
    ("cjk_compat_ideographs", "f900", "\uf900字", "\u8c48字"),
    ("cjk_compat_ideographs", "supplement", "\U0002f800是", "\u4e3d是"),
    ("cjk_compat_ideographs", "neg-fa11-is-unified", "\ufa11崎", None),
    ("cjk_compat_ideographs", "neg-unified", "豈有此理", None),
    ("fullwidth_ascii_to_halfwidth", "letters-digits", "Ｆ－１６戰機和５Ｇ", "F－16戰機和5G"),
    ("fullwidth_ascii_to_halfwidth", "lowercase", "ｅｍａｉｌ地址", "email地址"),
    ("fullwidth_ascii_to_halfwidth", "neg-fullwidth-punct-kept", "你好，世界！（注）：；？", None),
    ("fullwidth_ascii_to_halfwidth", "neg-ideographic-space", "标题\u3000正文", None),
    (
        "halfwidth_punct_to_fullwidth",
        "seed-lead",
        "本报讯 (记者 黄啟峰)六月的市开发区,处处",
        "本报讯 （记者 黄啟峰）六月的市开发区，处处",
    ),
    ("halfwidth_punct_to_fullwidth", "colon-before-quote", "李国珍说:“我们努力", "李国珍说：“我们努力"),
    ("halfwidth_punct_to_fullwidth", "question-before-quote", "是否写入廉政档案?”", "是否写入廉政档案？”"),
    ("halfwidth_punct_to_fullwidth", "semicolon-exclaim", "规范管理;推动发展!", "规范管理；推动发展！"),
    ("halfwidth_punct_to_fullwidth", "after-latin-before-han", "大唐5G,鲁西南", "大唐5G，鲁西南"),
    ("halfwidth_punct_to_fullwidth", "numbered-item", "(1)按照规定执行", "（1）按照规定执行"),
    ("halfwidth_punct_to_fullwidth", "line-end", "目前,", "目前，"),
    ("halfwidth_punct_to_fullwidth", "neg-numbers", "5G 3.14 10:30 3,000", None),
    ("halfwidth_punct_to_fullwidth", "neg-english", "e.g., the end (see above): yes; no? ok!", None),
    ("halfwidth_punct_to_fullwidth", "neg-english-with-curly-quotes", "“Hello,” he said: “fine!”", None),
    ("halfwidth_punct_to_fullwidth", "neg-url", "网址 http://example.com/a,b?c=1;d=(2)", None),
    ("halfwidth_punct_to_fullwidth", "neg-math", "函数f(x)在区间内", None),
    ("halfwidth_punct_to_fullwidth", "neg-damage-marks", "黄??峰", None),
    ("halfwidth_punct_to_fullwidth", "neg-em-dash-english", "Jan. 1,—The Paintings", None),
    ("ascii_quotes_to_curly", "paired", '他说"你好"。', "他说“你好”。"),
    ("ascii_quotes_to_curly", "two-pairs", '"智慧菏泽"和"红色物业"建设', "“智慧菏泽”和“红色物业”建设"),
    ("ascii_quotes_to_curly", "neg-unpaired", '他说"你好。', None),
    ("ascii_quotes_to_curly", "neg-english", 'He said "hello" to 李', None),
    ("ascii_quotes_to_curly", "neg-mixed-pairs", '"OK"和"好"', None),
    (
        "space_around_fullwidth_punct",
        "before-bracket",
        "本报讯 （记者 黄啟峰）六月",
        "本报讯（记者 黄啟峰）六月",
    ),
    ("space_around_fullwidth_punct", "after-period", "的環境。 總統強調", "的環境。總統強調"),
    ("space_around_fullwidth_punct", "around-comma", "建设， 3.14", "建设，3.14"),
    ("space_around_fullwidth_punct", "neg-between-names", "记者 黄啟峰 通讯员 刘光红", None),
    ("space_around_fullwidth_punct", "neg-kicker", "新开工项目30个 新签约项目32个", None),
    ("space_around_fullwidth_punct", "neg-indent", "\u3000\u3000（一）总则", None),
    ("space_around_fullwidth_punct", "neg-english-dash", "Hello — world “quoted” text", None),
]


def build_cases() -> dict:
    cases = []
    for suffix, cid, text, expected in _CASES:
        case: dict = {"id": f"{suffix}:{cid}", "rule": f"normalize.{suffix}", "input": text}
        if expected is not None:
            case["expected"] = expected
        case["expect"] = "pass"
        cases.append(case)
    return {"family": "normalize", "cases": cases}


def test_case_file_is_current() -> None:
    assert json.loads(CASES.read_text(encoding="utf-8")) == build_cases()


def _fullwidth_version(text: str) -> str:
    """The seed as a source with full-width punctuation would print it."""
    text = text.replace(" (", "（").replace("(", "（").replace(")", "）")
    return text.replace(",", "，").replace(":", "：").replace("?", "？").replace(";", "；")


def test_seed_halfwidth_and_fullwidth_normalize_alike() -> None:
    lines = SEED.read_text(encoding="utf-8").split("\n")
    half, events = normalize_lines(lines, CFG)
    full, _ = normalize_lines(_fullwidth_version(SEED.read_text(encoding="utf-8")).split("\n"), CFG)
    assert half == full
    assert "本报讯（记者 黄啟峰）六月的市开发区，处处" in half[6]
    assert half[2] == "新开工项目30个 新签约项目32个"
    assert all(e.line is not None and e.before and e.after for e in events)
    # CRLF already split away; an ideographic-space indent survives.
    assert normalize_lines(["\u3000\u3000" + lines[6]], CFG)[0][0].startswith("\u3000\u3000本报讯（")


def test_events_name_rules_with_line_numbers() -> None:
    lines = ["标题", "本报讯 (记者 A)内容,内容", "", "ＡＢＣ１２３"]
    out, events = normalize_lines(lines, CFG)
    assert out == ["标题", "本报讯（记者 A）内容，内容", "", "ABC123"]
    assert [(e.line, e.rule) for e in events] == [
        (2, "normalize.halfwidth_punct_to_fullwidth"),
        (2, "normalize.space_around_fullwidth_punct"),
        (4, "normalize.fullwidth_ascii_to_halfwidth"),
    ]
    compat = normalize_lines(["\uf900字"], CFG)[1]
    assert compat[0].rule == "normalize.cjk_compat_ideographs" and "U+F900" in compat[0].detail


def test_every_rule_has_a_switch() -> None:
    text = '本报讯 (记者)\u200b⽇\uf900Ｆ,"你好"'
    for r in RULES:
        off = NormalizeConfig(**{r.switch: False})
        _, changes = normalize_line(text, off)
        assert r.name not in {name for name, _, _ in changes}


@pytest.fixture(scope="module")
def real_lines() -> list[str]:
    return shared_corpora.real_lines(tw=300, cn=60, en=20, seed=13)


def test_real_text_fast_path_idempotence_and_han(real_lines: list[str]) -> None:
    out, _ = normalize_lines(real_lines, CFG)
    # Differential test: the fast path (joined-text scan, per-line tests) and every rule on
    # every line agree.
    assert out == normalize_lines_reference(real_lines, CFG)
    assert out == [normalize_line(ln, CFG)[0] for ln in real_lines]
    assert normalize_lines(out, CFG) == (out, [])
    assert sum(len(_HAN.findall(ln)) for ln in out) == sum(len(_HAN.findall(ln)) for ln in real_lines)
    english = [ln for ln in real_lines if ln.isascii() and len(ln) > 20]
    assert all("，" not in ln for ln in normalize_lines(english, CFG)[0])


_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E),
        st.characters(min_codepoint=0x4E00, max_codepoint=0x4E80),
        st.sampled_from(
            list(
                "，。、；：？！“”‘’（）《》…—·\u3000\u200b\u200d\x00\x0c\x85\u2028⽇\uf900\U0002f800Ｆ１\u0301□〓"
            )
        ),
    ),
    max_size=60,
)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(_TEXT, max_size=4))
def test_normalize_is_idempotent_keeps_lines_and_han(lines: list[str]) -> None:
    once, _ = normalize_lines(lines, CFG)
    assert len(once) == len(lines) and all("\n" not in ln for ln in once)
    assert normalize_lines(once, CFG)[0] == once
    for before, after in zip(lines, once, strict=True):
        # Compatibility ideographs and radicals become unified ideographs: never fewer Han.
        assert len(_HAN.findall(after)) >= len(_HAN.findall(before))


# Pages with no Chinese context at all (no Han, full-width punctuation or U+3000): the page
# scan then skips the ASCII-mark hint. Everything else that may change a line is in the alphabet,
# including what becomes Han (radicals, compatibility ideographs) and NFD sequences.
_NO_CJK_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E),
        st.sampled_from(
            list("“”‘’…—·～\u200b\u200d\x00\x0b\x0c\x85\u2028⽇⺠\uf900\U0002f800Ｆ１ｚ\u0301\u00ad\t□")
        ),
    ),
    max_size=60,
)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(_NO_CJK_TEXT, max_size=6))
def test_pages_without_chinese_context_agree_with_the_reference(lines: list[str]) -> None:
    out, events = normalize_lines(lines, CFG)
    assert out == normalize_lines_reference(lines, CFG)
    assert [normalize_line(ln, CFG)[0] for ln in lines] == out
    assert {e.line for e in events} == {
        i + 1 for i, (a, b) in enumerate(zip(lines, out, strict=True)) if a != b
    }


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.one_of(st.lists(_TEXT, max_size=6), st.lists(_NO_CJK_TEXT, max_size=6)))
def test_compiled_scan_finds_the_lines_the_regex_scan_finds(lines: list[str]) -> None:
    """The per-code-point flags (kernels on) and the regexes over the joined text (kernels off)
    pick the same lines, on pages with and without Chinese context."""
    from cleaning import jit
    from cleaning.normalize import lines_needing_normalization

    with jit.numpy_definitions():
        by_regex = lines_needing_normalization(lines)
    assert lines_needing_normalization(lines) == by_regex


# Marks and spaces side by side: the kernel settles the space hint's two-character pairs itself.
_SPACED = st.text(alphabet=st.sampled_from(list("  ，。“”…—·～中文a,()\u2028\uf900")), max_size=20)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.one_of(st.lists(_SPACED, max_size=6), st.lists(_TEXT, max_size=4)))
def test_hit_lines_kernel_definition_matches_the_regex_scan(lines: list[str]) -> None:
    """The kernel's plain Python definition lists the same lines as the regexes (kernels off);
    the compiled one is compared with them by the test above."""
    import unicodedata

    import numpy as np

    from cleaning import jit, normalize, textscan
    from cleaning.normalize import lines_needing_normalization

    with jit.numpy_definitions():
        by_regex = lines_needing_normalization(lines)
    if not lines:
        return
    found = np.empty(len(lines), dtype=np.int64)
    scratch = np.empty(len(lines), dtype=np.uint8)
    codes = textscan.codes_of("\n".join(lines))
    k = normalize._hit_lines.py_func(codes, normalize._hint_table(), scratch, found)
    not_nfc = {i for i, ln in enumerate(lines) if not unicodedata.is_normalized("NFC", ln)}  # added after
    assert sorted(set(found[:k].tolist()) | not_nfc) == by_regex
    if jit.enabled():
        assert lines_needing_normalization(lines) == by_regex
        assert lines_needing_normalization(lines, "\n".join(lines)) == by_regex  # the caller's join


def test_english_ocr_pages_agree_with_the_reference(real_lines: list[str]) -> None:
    english = [ln for ln in real_lines if ln.isascii()]
    assert len(english) > 100
    assert normalize_lines(english, CFG)[0] == normalize_lines_reference(english, CFG)
    # a comma is no hint on such a page: nothing needs normalizing
    from cleaning.normalize import lines_needing_normalization

    plain = [ln for ln in english if not any(c in ln for c in "\x00\x0b\x0c\x7f")]
    assert lines_needing_normalization(plain) == []
    # one Chinese line and the page is scanned for every hint again
    assert len(plain) in lines_needing_normalization([*plain, "中文,标点"])


if __name__ == "__main__":
    CASES.write_text(json.dumps(build_cases(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {CASES}")
