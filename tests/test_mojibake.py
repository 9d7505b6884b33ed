"""Chinese mojibake reversal: UTF-8 misread as GBK/Big5, GBK/Big5 misread as Latin-1/cp1252.

The cases in ``tests/cases/mojibake.json`` are made by :func:`build_cases` from
phrases of the seed page, garbled the way real pipelines garble them; the
expected text is the phrase before garbling. Regenerate with::

    python tests/test_mojibake.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import ftfy.bad_codecs  # noqa: F401  (registers sloppy-windows-1252)
import pytest
import shared_corpora

from cleaning.mojibake import (
    fix_gbk_big5_as_latin1,
    fix_utf8_as_gbk,
    plausibility,
    reverse_legacy_as_latin1,
    reverse_utf8_as_legacy,
)

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "data" / "raw" / "000_77a03ed607cd6b14.txt"
CASES = Path(__file__).parent / "cases" / "mojibake.json"

_SPLIT = re.compile(r"[,，。、；：？！“”‘’（）()\s—…]+")


def seed_phrases() -> list[str]:
    text = SEED.read_text(encoding="utf-8")
    seen: dict[str, None] = {}
    for p in _SPLIT.split(text):
        if len(p) >= 2:
            seen.setdefault(p, None)
    return list(seen)


def utf8_misread(text: str, codec: str) -> str | None:
    """``text`` as UTF-8 bytes decoded with ``codec``; None when that loses bytes."""
    try:
        return text.encode("utf-8").decode(codec)
    except UnicodeDecodeError:
        return None


def _traditional(text: str) -> str:
    import opencc

    return opencc.OpenCC("s2t").convert(text)


def build_cases() -> dict:
    cases: list[dict] = []

    def add(
        cid: str, rule: str, given: str, expected: str | None, expect: str = "pass", note: str = ""
    ) -> None:
        case: dict = {"id": cid, "rule": rule, "input": given}
        if expected is not None:
            case["expected"] = expected
        if note:
            case["note"] = note
        case["expect"] = expect
        cases.append(case)

    u2g = "repair.mojibake_utf8_as_gbk"
    phrases = seed_phrases()
    lossless = [p for p in phrases if utf8_misread(p, "gbk") is not None and len(p) >= 4]
    add("hello", u2g, "浣犲ソ", "你好")
    add("develop", u2g, "鍙戝睍", "发展")
    for i, p in enumerate(lossless[:10]):
        add(f"seed-phrase-{i}", u2g, utf8_misread(p, "gbk"), p)
    # One bad segment in an otherwise correct line: only that segment changes.
    p = lossless[2]
    add(
        "segment-in-correct-line",
        u2g,
        f"记者走进现场看到，{utf8_misread(p, 'gbk')}，如火如荼。",
        f"记者走进现场看到，{p}，如火如荼。",
    )
    add(
        "ascii-inside-segment",
        u2g,
        utf8_misread("当地就已经进行了5G新基建的优先布局", "gbk"),
        "当地就已经进行了5G新基建的优先布局",
    )
    big5 = [p for p in phrases if utf8_misread(p, "cp950") is not None]
    for i, p in enumerate(big5[:2]):
        add(f"utf8-as-big5-{i}", u2g, utf8_misread(p, "cp950"), p)
    add(
        "rare-place-name",
        u2g,
        utf8_misread("智慧菏泽", "gbk"),
        "智慧菏泽",
        "fail",
        "菏泽 is rare in the frequency table: the repaired text does not score as clearly better",
    )
    for i, line in enumerate(ln for ln in SEED.read_text(encoding="utf-8").split("\n") if len(ln) > 30):
        if i >= 3:
            break
        add(f"neg-seed-line-{i}", u2g, line, None)
    add("neg-real-word-with-rare-char", u2g, "浣熊是一种动物，鍙是古字。", None)
    add("neg-japanese", u2g, "日本語のテキストを正しく表示します。", None)
    add("neg-korean", u2g, "한국어 텍스트는 그대로 둡니다.", None)
    add("neg-emoji", u2g, "今天很开心😀👍，明天见🎉", None)
    add("neg-latin1", u2g, "Café crème, naïve résumé", None)
    lossy = "本报讯 (记者 黄啟峰)六月的市开发区".encode().decode("gbk", errors="replace")
    add("neg-lossy-line", u2g, lossy, None, note="bytes were lost (U+FFFD): flagged, not reversed")
    add(
        "neg-lossy-question-mark",
        u2g,
        "你好吗".encode().decode("gbk", errors="replace").replace("\ufffd", "?"),
        None,
        note="a Windows code page left '?' for the lost byte: flagged, not reversed",
    )

    g2l = "repair.mojibake_gbk_big5_as_latin1"
    add("hello-latin1", g2l, "ÄãºÃ", "你好")
    add("hello-in-english", g2l, "Hello ÄãºÃ world", "Hello 你好 world")
    add("date", g2l, "2021年6月11日".encode("gbk").decode("latin-1"), "2021年6月11日")
    for i, p in enumerate(lossless[:4]):
        add(f"gbk-latin1-{i}", g2l, p.encode("gbk").decode("latin-1"), p)
        add(f"gbk-cp1252-{i}", g2l, p.encode("gbk").decode("sloppy-windows-1252"), p)
    sentence = SEED.read_text(encoding="utf-8").split("\n")[6][:60]
    add("gbk-latin1-sentence", g2l, sentence.encode("gbk").decode("latin-1"), sentence)
    for i, p in enumerate(lossless[4:7]):
        t = _traditional(p)
        try:
            add(f"big5-latin1-{i}", g2l, t.encode("cp950").decode("latin-1"), t)
        except UnicodeEncodeError:
            continue
    for i, t in enumerate(
        [
            "Café crème, naïve résumé – déjà vu.",
            "Señor Müller aß Grüße über Äpfel.",
            "Ça été très fièvre à l'hôpital.",
            "Jifld 40»ittital «t«BWri»ll»",  # English newspaper OCR noise
            "Preço: 12,50 € — ½ kg",
        ]
    ):
        add(f"neg-latin-{i}", g2l, t, None)
    add("neg-seed-line", g2l, sentence, None)
    return {"family": "mojibake", "cases": cases}


def test_case_file_is_current() -> None:
    """tests/cases/mojibake.json is what build_cases() makes (regenerate: python tests/test_mojibake.py)."""
    assert json.loads(CASES.read_text(encoding="utf-8")) == build_cases()


def test_plausibility_separates_chinese_from_mojibake() -> None:
    text = SEED.read_text(encoding="utf-8")
    assert plausibility(text) > 0.9
    assert plausibility(text.encode().decode("gbk", errors="replace")) < 0.2
    assert plausibility("English only") == 0.0


def test_every_lossless_seed_phrase_is_repaired_and_correct_text_untouched() -> None:
    repaired = total = 0
    for p in seed_phrases():
        assert fix_utf8_as_gbk(p) == p
        assert fix_gbk_big5_as_latin1(p) == p
        m = utf8_misread(p, "gbk")
        if m is None or len(p) < 3:
            continue
        total += 1
        repaired += fix_utf8_as_gbk(m) == p
    assert total > 50 and repaired / total > 0.9


def test_reversal_reports_segments_and_codec() -> None:
    line = "正常文本，" + utf8_misread("经济发展", "gbk") + "，正常文本"
    (rev,) = reverse_utf8_as_legacy(line)
    assert rev.after == "经济发展" and rev.codec == "gb18030" and line[rev.start : rev.end] == rev.before
    assert rev.score_after - rev.score_before >= 0.5
    (rev,) = reverse_legacy_as_latin1("前言 ÄãºÃ 后记")
    assert rev.after == "你好" and rev.codec == "gb18030"


@pytest.fixture(scope="module")
def real_lines() -> list[str]:
    return shared_corpora.real_lines(tw=150, cn=40, en=0, seed=5, skip_blank=True)


def test_real_text_no_false_positives_and_recall(real_lines: list[str]) -> None:
    """Correct lines never change; lossless mojibake of real phrases is repaired."""
    for line in real_lines:
        assert fix_utf8_as_gbk(line) == line
        assert fix_gbk_big5_as_latin1(line) == line
    phrases = [p for ln in real_lines[:400] for p in _SPLIT.split(ln) if len(p) >= 4]
    fixed = total = 0
    for p in phrases:
        for codec in ("gbk", "cp950"):
            m = utf8_misread(p, codec)
            if m is not None:
                total += 1
                fixed += fix_utf8_as_gbk(m) == p
        for codec in ("gbk", "cp950"):
            try:
                m = p.encode(codec).decode("latin-1")
            except UnicodeEncodeError:
                continue
            total += 1
            fixed += fix_gbk_big5_as_latin1(m) == p
    assert total > 200 and fixed / total > 0.9, (fixed, total)


if __name__ == "__main__":
    CASES.write_text(json.dumps(build_cases(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {CASES}")
