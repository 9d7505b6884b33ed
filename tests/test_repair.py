"""Repair stage: line contract, damage flags, the fast path against the full path, properties.

``tests/cases/repair.json`` (ftfy with the Chinese-safe configuration) and
``tests/cases/damage.json`` (damage markers) are made by :func:`build_cases`;
regenerate with ``python tests/test_repair.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import ftfy.bad_codecs  # noqa: F401  (registers sloppy-windows-1252)
import numpy as np
import pytest
import shared_corpora
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaning import jit, repair, textscan
from cleaning.decode import DecodeConfig, decode_bytes
from cleaning.pipeline import split_lines
from cleaning.repair import (
    RepairConfig,
    count_damage,
    lines_needing_repair,
    needs_repair,
    repair_lines,
    repair_lines_reference,
)

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "data" / "raw" / "000_77a03ed607cd6b14.txt"
CASES_DIR = Path(__file__).parent / "cases"
CFG = RepairConfig()


def _seed_lines() -> list[str]:
    return SEED.read_text(encoding="utf-8").split("\n")


def build_cases() -> dict[str, dict]:
    lines = [ln for ln in _seed_lines() if len(ln) > 30]
    repair: list[dict] = []

    def add(
        bucket: list[dict], cid: str, rule: str, given: str, expected: str | None, note: str = ""
    ) -> None:
        case: dict = {"id": cid, "rule": rule, "input": given}
        if expected is not None:
            case["expected"] = expected
        if note:
            case["note"] = note
        case["expect"] = "pass"
        bucket.append(case)

    r = "repair.ftfy"
    add(repair, "utf8-as-latin1", r, "ä½\xa0å¥½", "你好")
    add(repair, "utf8-as-cp1252", r, "æµ‹è¯•ä¸€ä¸‹", "测试一下")
    phrase = lines[0][:40]
    add(repair, "seed-utf8-as-cp1252", r, phrase.encode().decode("sloppy-windows-1252"), phrase)
    add(repair, "latin-word", r, "cafÃ© crÃ¨me", "café crème")
    add(repair, "ligature", r, "ﬁnancial ﬂow", "financial flow")
    add(repair, "terminal-escape", r, "\x1b[31m警告\x1b[0m", "警告")
    add(repair, "neg-seed-line", r, lines[1], None)
    add(
        repair,
        "neg-fullwidth-kept",
        r,
        "本报讯（记者 黄啟峰）：Ｈｅｌｌｏ　１２３，“引号”‘单引号’",
        None,
        "no width folding, no quote uncurling",
    )
    add(repair, "neg-no-nfc", r, "e\u0301 and 豈", None, "normalization is the normalize stage's job")
    add(repair, "neg-html-entity", r, "AT&amp;T 与 &lt;b&gt;", None, "HTML unescaping is off by default")
    add(repair, "neg-latin1-text", r, "Café crème, naïve résumé – déjà vu", None)
    add(repair, "neg-japanese-korean-emoji", r, "日本語のテキスト 한국어 😀👍", None)

    damage: list[dict] = []
    d = "repair.flag_damage"
    add(damage, "kunjinkao", d, "我们的锟斤拷锟斤拷系统", "我们的⟦锟斤拷锟斤拷⟧系统")
    add(damage, "tangtang", d, "烫烫烫烫烫烫", "⟦烫烫烫烫烫烫⟧")
    add(damage, "tuntun", d, "内容屯屯屯屯结束", "内容⟦屯屯屯屯⟧结束")
    add(damage, "fffd-run", d, "记者黄\ufffd\ufffd峰报道", "记者黄⟦\ufffd\ufffd⟧峰报道")
    add(damage, "question-marks-in-han", d, "记者??峰报道", "记者⟦??⟧峰报道")
    add(damage, "question-marks-after-han", d, "市开发区???", "市开发区⟦???⟧")
    add(damage, "neg-question", d, "是否写入廉政档案?你好", None)
    add(damage, "neg-tang-word", d, "烫手山芋，屯兵", None)
    add(damage, "neg-english-questions", d, "What?? Really??", None)
    add(damage, "neg-seed-line", d, lines[2], None)
    return {
        "repair": {"family": "repair", "cases": repair},
        "damage": {"family": "damage", "cases": damage},
    }


def test_case_files_are_current() -> None:
    for name, family in build_cases().items():
        path = CASES_DIR / f"{name}.json"
        assert json.loads(path.read_text(encoding="utf-8")) == family, path.name


def test_seed_is_unchanged_and_takes_the_fast_path() -> None:
    lines = _seed_lines()
    out, events = repair_lines(lines, CFG)
    assert out == lines and events == []
    assert lines_needing_repair(lines, CFG) == []


def test_line_count_and_line_numbers_are_kept() -> None:
    lines = ["正常的一行", "浣犲ソ", "", "ÄãºÃ", "ä½\xa0å¥½", "锟斤拷", "最后一行"]
    out, events = repair_lines(lines, CFG)
    assert len(out) == len(lines) and all("\n" not in ln for ln in out)
    assert out[:5] == ["正常的一行", "你好", "", "你好", "你好"]
    by_line = {e.line: e.rule for e in events}
    assert by_line == {
        2: "repair.mojibake_utf8_as_gbk",
        4: "repair.mojibake_gbk_big5_as_latin1",
        5: "repair.ftfy",
        6: "repair.flag_damage",
    }
    changed = [e for e in events if e.before is not None]
    assert all(e.before == lines[e.line - 1] and e.after == out[e.line - 1] for e in changed)


def test_lossy_mojibake_is_flagged_not_reversed() -> None:
    lossy = "本报讯 (记者 黄啟峰)六月的市开发区".encode().decode("gbk", errors="replace")
    out, events = repair_lines([lossy], CFG)
    assert out == [lossy]
    assert {e.rule for e in events} == {"repair.flag_lossy_mojibake", "repair.flag_damage"}


def test_count_damage() -> None:
    assert count_damage("锟斤拷锟斤拷 and 烫烫烫 and \ufffd\ufffd and 黄??峰") == 4
    assert count_damage(SEED.read_text(encoding="utf-8")) == 0


def test_switches_turn_steps_off() -> None:
    off = RepairConfig(mojibake_utf8_as_gbk=False, mojibake_gbk_big5_as_latin1=False, ftfy=False)
    lines = ["浣犲ソ", "ÄãºÃ", "ä½\xa0å¥½"]
    assert repair_lines(lines, off)[0] == lines


@pytest.fixture(scope="module")
def real_lines() -> list[str]:
    return shared_corpora.real_lines(tw=300, cn=60, en=20, seed=11)


def test_fast_path_matches_full_path_on_real_text(real_lines: list[str]) -> None:
    """Differential test: skipping lines by the precompiled tests changes no output."""
    garbled = [ln.encode().decode("gbk", errors="ignore") for ln in real_lines[:200:7]]
    garbled += [ln.encode("gbk", errors="ignore").decode("latin-1") for ln in real_lines[:200:5]]
    sample = real_lines + garbled
    fast, _ = repair_lines(sample, CFG)
    slow, _ = repair_lines_reference(sample, CFG)
    assert fast == slow
    assert len(lines_needing_repair(real_lines, CFG)) < 0.05 * len(real_lines)


def test_correct_real_chinese_is_unchanged(real_lines: list[str]) -> None:
    chinese = [ln for ln in real_lines if any("\u4e00" <= ch <= "\u9fff" for ch in ln)]
    out, events = repair_lines(chinese, CFG)
    assert out == chinese and not [e for e in events if e.rule != "repair.flag_damage"]


_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x20, max_codepoint=0x2FF),
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
        st.sampled_from(list("，。“”—…\ufffd锟斤拷烫屯?ÄãºÃ浣犲ソ")),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(_TEXT, max_size=5))
def test_repair_is_idempotent_and_keeps_lines(lines: list[str]) -> None:
    once, _ = repair_lines(lines, CFG)
    assert len(once) == len(lines) and all("\n" not in ln and "\r" not in ln for ln in once)
    twice, _ = repair_lines(once, CFG)
    assert twice == once


_CHINESE = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
        st.sampled_from(list("，。、；：？！“”‘’（）《》…— 0123456789abcXYZ")),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(_CHINESE)
def test_correct_chinese_utf8_is_never_changed(text: str) -> None:
    assert repair_lines([text], CFG)[0] == [text]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(_CHINESE, min_size=1, max_size=6))
def test_correct_utf8_chinese_survives_decode_and_repair(paras: list[str]) -> None:
    text = "\n".join(paras)
    if not text.strip():
        return
    decoded = decode_bytes(text.encode("utf-8"), DecodeConfig()).text
    lines = split_lines(decoded)
    assert "\n".join(repair_lines(lines, CFG)[0]) == "\n".join(split_lines(text))


if __name__ == "__main__":
    for name, family in build_cases().items():
        path = CASES_DIR / f"{name}.json"
        path.write_text(json.dumps(family, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {path}")


def test_single_question_mark_damage_on_the_fast_path() -> None:
    # min_question_run = 1: one '?' touching a Han character is damage, which the two-'?' hint misses
    cfg = RepairConfig(min_question_run=1)
    lines = ["中?文", "plain line", "What? 中"]
    fast = repair_lines(lines, cfg)
    slow = repair_lines_reference(lines, cfg)
    assert fast == slow
    assert [e.line for e in fast[1] if e.rule == "repair.flag_damage"] == [1]


# UTF-8 Chinese read as GBK and GBK read as Latin-1: the mojibake the hints are for
_MOJIBAKE_SAMPLE = "会议要求各部门把工作落到实处".encode().decode("gbk", errors="ignore") + "会议要求".encode(
    "gbk"
).decode("latin-1")
_HINTED = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x20, max_codepoint=0x2FF),
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
        st.sampled_from(list("，。“”—…\ufffd锟斤拷烫屯?&ÄãºÃ浣犲ソ\x1b\x85\ufb01\ud800")),
        st.sampled_from(list(_MOJIBAKE_SAMPLE)),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(_HINTED)
def test_every_hint_match_holds_a_hint_character(text: str) -> None:
    """The claim behind the compiled pre-scan: a line without a _HINT_CHARS character matches no hint."""
    hint_char = re.compile(repair._HINT_CHARS)
    for rx in (*repair._HINTS, re.compile("&"), re.compile(r"\?")):
        for m in rx.finditer(text):
            assert hint_char.search(m.group()), (rx.pattern[:40], m.group())


@settings(max_examples=300, deadline=None, derandomize=True)
@given(_HINTED)
def test_may_have_damage_is_the_damage_hint(text: str) -> None:
    """The character pre-check of ``may_have_damage`` answers as the hint pattern alone does."""
    assert repair.may_have_damage(text) == (repair._DAMAGE_HINT.search(text) is not None)
    if count_damage(text):
        assert repair.may_have_damage(text)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(_HINTED, max_size=6), st.sampled_from([RepairConfig(), RepairConfig(min_question_run=1)]))
def test_compiled_pre_scan_finds_exactly_the_hinted_lines(lines: list[str], cfg: RepairConfig) -> None:
    exact = [i for i, ln in enumerate(lines) if needs_repair(ln, cfg)]
    with jit.numpy_definitions():
        joined_scan = lines_needing_repair(lines, cfg)  # may add lines a match straddles into
        plain = repair_lines(lines, cfg)
    assert set(exact) <= set(joined_scan)
    if jit.enabled():
        assert lines_needing_repair(lines, cfg) == exact
    fast = repair_lines(lines, cfg)
    assert fast[0] == plain[0]
    assert [(e.rule, e.line, e.detail) for e in fast[1]] == [(e.rule, e.line, e.detail) for e in plain[1]]


# Common Han characters of the legacy triple's first class next to characters of its other two.
_TRIPLED = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("於項須陸陳電響顧，。 ab?&")),
        st.sampled_from(list(_MOJIBAKE_SAMPLE)),
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(_TRIPLED, max_size=6))
def test_compiled_triple_scan_matches_the_regexes(lines: list[str]) -> None:
    """The scan settles _UTF8_AS_LEGACY_HINT itself (compiled and as plain Python) and sends only the
    lines holding another hint character to needs_repair: the same lines as needs_repair on all."""
    table = repair._hint_table()
    other = re.compile(repair._OTHER_HINT_CHARS)
    flags = np.zeros(len(lines), dtype=np.uint8)
    if lines:
        repair._hinted_lines.py_func(textscan.codes_of("\n".join(lines)), table, flags)
    for ln, f in zip(lines, flags.tolist(), strict=True):
        assert bool(f & repair._R_FIRST) == bool(repair._UTF8_AS_LEGACY_HINT.search(ln))
        assert bool(f & repair._R_OTHER) == bool(other.search(ln))
    if jit.enabled():
        exact = [i for i, ln in enumerate(lines) if needs_repair(ln, CFG)]
        assert lines_needing_repair(lines, CFG) == exact
        assert lines_needing_repair(lines, CFG, "\n".join(lines)) == exact  # the caller's join


def test_compiled_pre_scan_on_real_text(real_lines: list[str]) -> None:
    garbled = [ln.encode().decode("gbk", errors="ignore") for ln in real_lines[:200:7]]
    garbled += [ln.encode("gbk", errors="ignore").decode("latin-1") for ln in real_lines[:200:5]]
    sample = real_lines + garbled
    exact = [i for i, ln in enumerate(sample) if needs_repair(ln, CFG)]
    assert lines_needing_repair(sample, CFG) == exact or not jit.enabled()
    with jit.numpy_definitions():
        assert repair_lines(sample, CFG)[0] == repair_lines_reference(sample, CFG)[0]
