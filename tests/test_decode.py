"""Decode stage: the cascade, its evidence, and properties on arbitrary bytes.

The byte-level cases in ``tests/cases/decode.json`` are derived from the seed
page by :func:`build_cases` (their expected text is the text that was encoded,
never the decoder's output). Regenerate them with::

    python tests/test_decode.py
"""

from __future__ import annotations

import base64
import codecs
import json
import random
from pathlib import Path

import pytest
import shared_corpora
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaning.decode import DecodeConfig, DecodeRejected, decode_bytes

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "data" / "raw" / "000_77a03ed607cd6b14.txt"
CASES = Path(__file__).parent / "cases" / "decode.json"
CFG = DecodeConfig()


def seed_paragraphs() -> list[str]:
    return [ln for ln in SEED.read_text(encoding="utf-8").split("\n") if len(ln) >= 40]


def _traditional(text: str) -> str:
    import opencc

    return opencc.OpenCC("s2t").convert(text)


# --- case generation ------------------------------------------------------------------


def build_cases() -> dict:
    paras = seed_paragraphs()
    p1 = paras[0][:120] + "。"  # 本报讯 (记者 黄啟峰)六月的市开发区,处处…
    p2 = paras[1][:100] + "。"
    page = "\n".join(SEED.read_text(encoding="utf-8").split("\n")[:14]) + "\n"
    trad = _traditional(p2)
    cases: list[dict] = []

    def add(cid: str, rule: str, data: bytes, expected: str | None, note: str = "") -> None:
        case = {"id": cid, "rule": rule, "input_b64": base64.b64encode(data).decode()}
        if expected is not None:
            case["expected"] = expected
        if note:
            case["note"] = note
        case["expect"] = "pass"
        cases.append(case)

    add("bom-utf8", "decode.bom", codecs.BOM_UTF8 + p1.encode(), p1)
    add("bom-utf16le", "decode.bom", codecs.BOM_UTF16_LE + p1.encode("utf-16-le"), p1)
    add("bom-utf16be", "decode.bom", codecs.BOM_UTF16_BE + p1.encode("utf-16-be"), p1)
    add("bom-neg-plain-utf8", "decode.bom", p1.encode(), None, "no BOM: the rule does not decide")

    add("utf8-seed", "decode.utf8_strict", p1.encode(), p1)
    mixed_scripts = "5G网络 café 😀 한국어 日本語のテキスト “引号” ½\n"
    add("utf8-scripts", "decode.utf8_strict", mixed_scripts.encode(), mixed_scripts)
    add("utf8-neg-gbk", "decode.utf8_strict", p1.encode("gbk"), None, "GBK bytes are not UTF-8")

    add("utf16le-seed", "decode.utf16_without_bom", (p1 + "\n" + p2).encode("utf-16-le"), p1 + "\n" + p2)
    add("utf16be-seed", "decode.utf16_without_bom", (p1 + "\n" + p2).encode("utf-16-be"), p1 + "\n" + p2)
    add(
        "utf16le-no-ascii",
        "decode.utf16_without_bom",
        p2.replace(",", "，").encode("utf-16-le"),
        p2.replace(",", "，"),
        "no NUL byte at all: found by plausibility",
    )
    english = "The quick brown fox jumps over the lazy dog.\n" * 3
    add("utf16le-english", "decode.utf16_without_bom", english.encode("utf-16-le"), english)
    add("utf16-neg-utf8", "decode.utf16_without_bom", p1.encode(), None)

    add("gbk-seed-page", "decode.legacy_by_plausibility", page.encode("gbk"), page)
    gb4 = p1 + "𠮷"
    add("gb18030-four-byte", "decode.legacy_by_plausibility", gb4.encode("gb18030"), gb4)
    add("big5-traditional", "decode.legacy_by_plausibility", trad.encode("cp950"), trad)
    hk = trad + "香港的𨋢"
    add("big5hkscs-only-char", "decode.legacy_by_plausibility", hk.encode("big5hkscs"), hk)
    latin = "Café crème, naïve résumé – déjà vu. Señor Müller.\n"
    add("cp1252-latin", "decode.legacy_by_plausibility", latin.encode("cp1252"), latin)
    add("legacy-neg-utf8", "decode.legacy_by_plausibility", page.encode(), None)

    lines = page.split("\n")
    mixed = b"\n".join(ln.encode("gbk") if i % 4 == 2 else ln.encode() for i, ln in enumerate(lines))
    add("mixed-utf8-gbk", "decode.mixed_per_line", mixed, page)
    mixed_b5 = (p1 + "\n").encode() + (trad + "\n").encode("cp950") + (p2 + "\n").encode()
    add("mixed-utf8-big5", "decode.mixed_per_line", mixed_b5, p1 + "\n" + trad + "\n" + p2 + "\n")
    add("mixed-neg-utf8", "decode.mixed_per_line", page.encode(), None)

    add("truncated-utf8", "decode.truncated_tail", p1.encode()[:-1], p1[:-1] + "\ufffd")
    add("truncated-gbk", "decode.truncated_tail", p1.encode("gbk")[:-1], p1[:-1] + "\ufffd")
    add("truncated-neg-complete", "decode.truncated_tail", p1.encode(), None)

    k = 20
    add(
        "stray-byte-utf8",
        "decode.invalid_bytes_replaced",
        p1[:k].encode() + b"\xff" + p1[k:].encode(),
        p1[:k] + "\ufffd" + p1[k:],
    )
    add(
        "stray-byte-gbk",
        "decode.invalid_bytes_replaced",
        p1[:k].encode("gbk") + b"\xff" + p1[k:].encode("gbk"),
        p1[:k] + "\ufffd" + p1[k:],
    )
    add("stray-neg-clean", "decode.invalid_bytes_replaced", p1.encode(), None)

    add("reject-empty", "decode.reject", b"", "<rejected:empty>")
    add("reject-whitespace", "decode.reject", b" \r\n\t\n", "<rejected:empty>")
    add("reject-png", "decode.reject", b"\x89PNG\r\n\x1a\n" + bytes(range(64)), "<rejected:binary>")
    add("reject-nul", "decode.reject", b"\x00" * 256, "<rejected:binary>")
    rng = random.Random(7)
    noise = bytes(rng.randrange(0x80, 0x100) for _ in range(400))
    add("reject-random-high", "decode.reject", noise, "<rejected:undecodable>")
    add("reject-neg-text", "decode.reject", p1.encode(), None)

    ambiguous = "祥預華懂頗善模追勤徹源掛飲奧詢楊雄輛測控"
    add(
        "tie-script-consistency",
        "decode.charset_tie_break",
        ambiguous.encode("cp950"),
        ambiguous,
        "these Big5 bytes read as GBK give common but mixed-script characters",
    )
    add(
        "tie-short",
        "decode.charset_tie_break",
        "不会".encode("gbk"),
        "不会",
        "too short for charset-normalizer: the candidate order (GB18030 first) decides",
    )
    add("tie-neg-long", "decode.charset_tie_break", p1.encode("gbk"), None)
    return {"family": "decode", "cases": cases}


# --- tests ---------------------------------------------------------------------------


def test_case_file_is_current() -> None:
    """tests/cases/decode.json is what build_cases() makes (regenerate: python tests/test_decode.py)."""
    assert json.loads(CASES.read_text(encoding="utf-8")) == build_cases()


def test_seed_in_every_encoding_decodes_to_the_same_text() -> None:
    text = SEED.read_text(encoding="utf-8")
    for enc in ("utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16", "utf-16-le", "utf-16-be"):
        res = decode_bytes(text.encode(enc), CFG)
        assert res.text == text, enc
        assert 0.0 < res.info.confidence <= 1.0
    crlf = text.replace("\n", "\r\n")
    assert decode_bytes(crlf.encode("gbk"), CFG).text == crlf


def test_decode_info_records_the_evidence() -> None:
    text = SEED.read_text(encoding="utf-8")
    info = decode_bytes(text.encode(), CFG).info
    assert (info.encoding, info.method, info.confidence) == ("utf-8", "strict", 1.0)
    info = decode_bytes(text.encode("gbk"), CFG).info
    assert info.encoding == "gb18030" and info.method == "scored" and info.confidence > 0.9
    lines = text.split("\n")
    mixed = b"\n".join(ln.encode("gbk") if i in (4, 6) else ln.encode() for i, ln in enumerate(lines))
    res = decode_bytes(mixed, CFG)
    assert res.text == text
    assert res.info.other_encoding_lines == 2 and res.info.method == "per-line"
    assert sorted(e.line for e in res.events if e.line is not None) == [5, 7]


def test_mixed_file_with_latin1_line_and_cr_line_ends() -> None:
    data = (
        "第一行中文内容，正常。\r\n".encode()
        + "naïve café résumé\r\n".encode("cp1252")
        + "第三行\r中文".encode("gbk")
        + "\r\n最后一行。".encode()
    )
    res = decode_bytes(data, CFG)
    assert res.text == "第一行中文内容，正常。\r\nnaïve café résumé\r\n第三行\r中文\r\n最后一行。"
    # Line numbers count CR, LF and CRLF alike, as the pipeline splits lines.
    assert sorted(e.line for e in res.events if e.line) == [2, 3, 4]
    assert res.info.other_encoding_lines == 3


def test_replacement_characters_are_counted_not_hidden() -> None:
    text = "本报讯 记者走进项目建设现场，工作人员正忙碌地进行室内装修。" * 3
    res = decode_bytes(text.encode()[:6] + b"\xff\xfe" + text.encode()[6:], CFG)
    assert res.info.replacement_chars == res.text.count("\ufffd") >= 1
    # A U+FFFD that was already in the file is not counted as a replacement made here.
    res = decode_bytes(("坏字\ufffd" + text).encode(), CFG)
    assert res.info.replacement_chars == 0


def test_never_gb18030_before_utf8() -> None:
    # Valid UTF-8 is always UTF-8, even when its GB18030 reading is made of common characters.
    for word in ("你好", "发展", "经济发展"):
        mojibake = word.encode().decode("gbk")
        assert decode_bytes(mojibake.encode("utf-8"), CFG).text == mojibake


def test_a_few_nul_bytes_in_utf8_text_stay_text() -> None:
    text = "新闻正文第一段。\n".encode() * 50
    with_nuls = text[:99] + b"\x00\x00" + text[99:] + b"\x00" * 10
    res = decode_bytes(with_nuls, CFG)
    assert res.info.encoding == "utf-8" and res.text.count("\x00") == 12


def test_reject_reasons_are_stable_codes() -> None:
    for data, reason in (
        (b"", "empty"),
        (b"\n\n", "empty"),
        (b"%PDF-1.4 ...", "binary"),
        (bytes(range(32)) * 20, "binary"),
    ):
        with pytest.raises(DecodeRejected) as exc:
            decode_bytes(data, CFG)
        assert exc.value.reason == reason and exc.value.detail


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.binary(max_size=600))
def test_decode_never_raises_anything_but_rejected(data: bytes) -> None:
    try:
        res = decode_bytes(data, CFG)
    except DecodeRejected as exc:
        assert exc.reason in {"empty", "binary", "undecodable"}
        return
    assert isinstance(res.text, str) and res.text.strip()
    assert 0.0 <= res.info.confidence <= 1.0
    assert res.info.replacement_chars >= 0


_CJK_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
        st.sampled_from(list("，。、；：？！“”（）《》 \nabcXYZ0123456789")),
    ),
    min_size=1,
    max_size=200,
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(_CJK_TEXT)
def test_correct_utf8_chinese_is_decoded_unchanged(text: str) -> None:
    if not text.strip():
        return
    res = decode_bytes(text.encode(), CFG)
    assert res.text == text and res.info.method == "strict"


@pytest.fixture(scope="module")
def corpus_sample() -> dict[str, list[str]]:
    return {"tw": shared_corpora.tw_contents(60), "cn": shared_corpora.cn_law_texts(60, seed=3)}


def test_real_articles_round_trip_in_their_encodings(corpus_sample: dict[str, list[str]]) -> None:
    """Traditional news in Big5/UTF-16, Simplified law text in GBK/GB18030/UTF-16: decoded exactly."""
    plan = {"tw": ("cp950", "big5hkscs", "utf-16-le", "utf-16-be"), "cn": ("gbk", "gb18030", "utf-16-le")}
    tried = 0
    for name, docs in corpus_sample.items():
        for doc in docs:
            for piece in (doc, doc[:40]):
                for enc in plan[name]:
                    try:
                        data = piece.encode(enc)
                    except UnicodeEncodeError:
                        continue
                    assert decode_bytes(data, CFG).text == piece, (name, enc, piece[:30])
                    tried += 1
    assert tried > 500


if __name__ == "__main__":
    CASES.write_text(json.dumps(build_cases(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {CASES}")


# --------------------------------------------------------------------------- counts by arrays

_LATIN_ALPHABET = "aZé Ö ÿ“—€™·{[\\^|~<>@#$*_=+\x00\x07\x1f\x7f\t\n中文\ufffd\U00020000ŠžŒƒ"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(_LATIN_ALPHABET), max_size=60) | st.text(max_size=40))
def test_latin_counts_are_the_regex_counts(text: str) -> None:
    """The cp1252 score's counts from the code-point table equal those of its regexes."""
    from cleaning.decode import _LATIN_GOOD, _LATIN_WEIRD, _latin_counts

    expected = (
        len(text) - len(text.encode("ascii", errors="ignore")),
        len(_LATIN_GOOD.findall(text)),
        len(_LATIN_WEIRD.findall(text)),
    )
    assert _latin_counts(text) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                b"a",
                b"\xc3",
                b"\xa9",
                b"\xe4\xb8\xad",
                b"\xe4\xb8",
                b"\xf0\x9f\x98\x80",
                b"\xf4",
                b"\xd6\xd0",
                b"\x80",
                b"\xbf",
                b"\xc1\x81",
                b"\xf5\x80\x80\x80",
                b"\n",
            ]
        ),
        max_size=40,
    ).map(b"".join)
    | st.binary(max_size=60)
)
def test_utf8_evidence_is_the_regex_scan(data: bytes) -> None:
    """Well-formed UTF-8 sequences counted by the compiled scan and by its own Python definition
    equal what the regex finds, overlapping candidates and truncated ends included."""
    import numpy as np

    from cleaning import jit
    from cleaning.decode import _UTF8_SEQ, _utf8_seq_kernel, utf8_evidence

    seqs = _UTF8_SEQ.findall(data)
    expected = (len(seqs), sum(map(len, seqs)))
    assert utf8_evidence(data) == expected
    out = np.zeros(2, dtype=np.int64)
    _utf8_seq_kernel.py_func(np.frombuffer(data, dtype=np.uint8), out)
    assert (int(out[0]), int(out[1])) == expected
    with jit.numpy_definitions():
        assert utf8_evidence(data) == expected
