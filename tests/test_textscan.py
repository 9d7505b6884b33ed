"""cleaning.textscan: per-line character-class scans of a page in one compiled pass."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaning import jit, textscan

_CLASSES = ((r"[\s]", 1), (r"\d", 2), ("[\u4e00-\u9fff]", 4), ("[\ud800-\udfff]", 8))
_LINES = st.lists(
    st.text(alphabet=st.sampled_from(list(" \t\u3000a1２中\x85\u2028\ud800é")), max_size=10), max_size=8
)


@pytest.fixture(scope="module")
def table() -> np.ndarray:
    return textscan.class_table(_CLASSES)


def _expected(lines: list[str]) -> list[int]:
    return [
        sum(bit for pattern, bit in _CLASSES if any(re.fullmatch(pattern, ch) for ch in ln)) for ln in lines
    ]


def test_class_table_is_the_regexes(table: np.ndarray) -> None:
    assert table.dtype == np.uint8 and len(table) == 0x110000 and not table.flags.writeable
    sample = [*range(0x3100), *range(0xD7F0, 0xE010), *range(0xFF00, 0x10000), *range(0x1D7C0, 0x1D800)]
    for cp in sample:
        ch = chr(cp)
        assert table[cp] == sum(bit for pattern, bit in _CLASSES if re.fullmatch(pattern, ch)), hex(cp)


def test_codes_of() -> None:
    assert textscan.codes_of("ab\n").dtype == np.uint8
    codes = textscan.codes_of("a中\ud800\U00020000")
    assert codes.dtype == np.uint32
    assert codes.tolist() == [0x61, 0x4E2D, 0xD800, 0x20000]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.text(alphabet="ab中\ud800\U00020000\n", max_size=4), min_size=1, max_size=5))
def test_codes_of_reuses_only_the_same_text(texts: list[str]) -> None:
    """The last text's code points are reused for an equal text (a new string object too), never
    for another one, and the shared array cannot be written to."""
    for text in texts:
        again = "".join(list(text))  # equal, and a new object unless empty or one character
        codes = textscan.codes_of(text)
        assert textscan.codes_of(again).tolist() == codes.tolist() == [ord(c) for c in text]
        assert codes.dtype == (np.uint8 if text.isascii() else np.uint32)
        assert not codes.flags.writeable


@settings(max_examples=300, deadline=None)
@given(_LINES)
def test_line_flags_are_each_lines_classes(table: np.ndarray, lines: list[str]) -> None:
    lines = [ln for ln in lines if "\n" not in ln]
    got = textscan.line_flags(lines, table)
    if not jit.enabled():
        assert got is None
        return
    assert got is not None and got.tolist() == _expected(lines)
    if lines:  # the plain definition of the kernel gives the same
        plain = np.zeros(len(lines), dtype=np.uint8)
        textscan._line_or.py_func(textscan.codes_of("\n".join(lines)), table, plain)
        assert plain.tolist() == got.tolist()


def test_line_flags_give_up_on_a_line_holding_a_newline(table: np.ndarray) -> None:
    assert textscan.line_flags(["a", "b\nc"], table) is None


def test_line_flags_are_off_with_the_kernels(table: np.ndarray) -> None:
    with jit.numpy_definitions():
        assert textscan.line_flags(["a1"], table) is None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("ab文 /\u3000中")), max_size=8), max_size=8))
def test_lines_matching_flags_every_line_search_finds(lines: list[str]) -> None:
    # "文" before a separator (segment's one-character roles): the lookahead may read the line feed
    # joining two lines, so a line ending in "文" may be flagged too, and only such a line
    rx = re.compile(r"ab|文(?=[\s/])")
    got = textscan.lines_matching(rx, lines, "\n".join(lines)).tolist()
    for line, flagged in zip(lines, got, strict=True):
        if rx.search(line):
            assert flagged
        elif flagged:
            assert line.endswith("文")


def test_lines_matching_maps_matches_to_their_lines() -> None:
    lines = ["", "xab", "", "ab ab", "b"]
    assert textscan.lines_matching(re.compile("ab"), lines, "\n".join(lines)).tolist() == [
        False,
        True,
        False,
        True,
        False,
    ]
    assert textscan.lines_matching(re.compile("ab"), [], "").tolist() == []


# words with classes and a look-ahead, in the shape of segment's credit and layout's furniture hints
_WORD_PATTERNS = (
    (re.compile(r"记者|新华社记者|文(?=[\s/：])|Photo by|ab"), 1),
    (re.compile(r"版|星期|1[6-9]\d\d|Page"), 2),
)
_WORD_LINES = st.lists(
    st.lists(
        st.sampled_from(
            [
                *("记", "者", "新华社", "文", "/", "：", " ", "\u3000", "Photo", "by", "a", "b", "版", "星"),
                *("期", "1", "6", "9", "5", "٣", "９", "Page", "中", "\ud800", "\x00", "\x85"),
            ]
        ),
        max_size=10,
    ).map("".join),
    max_size=8,
)


@pytest.fixture(scope="module")
def scan() -> textscan.WordScan:
    got = textscan.word_scan(_WORD_PATTERNS)
    assert got is not None
    return got


@settings(max_examples=400, deadline=None)
@given(_WORD_LINES)
def test_line_words_are_each_lines_search(scan: textscan.WordScan, lines: list[str]) -> None:
    """A line is flagged with a pattern's bit exactly when ``search`` finds it in the line alone: a
    look-ahead at a line's end never reads the next line."""
    lines = [ln for ln in lines if "\n" not in ln]
    codes = textscan.codes_of("\n".join(lines))
    got = textscan.line_words(codes, len(lines), scan)
    want = [sum(bit for rx, bit in _WORD_PATTERNS if rx.search(ln)) for ln in lines]
    if not jit.enabled():
        assert got is None
        return
    assert got is not None and got.tolist() == want
    plain = np.zeros(len(lines), dtype=np.uint8)
    if lines:  # the plain definition of the kernel gives the same
        textscan._line_words.py_func(codes, *scan, plain)
        assert plain.tolist() == want


def test_word_scan_takes_only_alternations_of_words() -> None:
    for pattern in (r"a+", r"(ab)|c", r"[ab]c", r"a(?!b)", r"(?<=a)b", r"ab(?=c)d", r"a.c"):
        assert textscan.word_scan([(re.compile(pattern), 1)]) is None, pattern
    assert textscan.word_scan([(re.compile("ab", re.IGNORECASE), 1)]) is None
    # eight distinct classes: more than a table holds
    classes = "|".join(f"{c}[0-{k}]" for k, c in enumerate("abcdefgh", 1))
    assert textscan.word_scan([(re.compile(classes), 1)]) is None
    assert textscan.word_scan([(re.compile("x[ab]|y[ab]"), 1)]) is not None  # one class, twice


def test_line_words_are_off_with_the_kernels(scan: textscan.WordScan) -> None:
    with jit.numpy_definitions():
        assert textscan.line_words(textscan.codes_of("记者"), 1, scan) is None
        assert textscan.code_line_flags(textscan.codes_of("a"), 1, textscan.class_table(_CLASSES)) is None


def test_code_line_flags_are_line_flags(table: np.ndarray) -> None:
    lines = ["a 1", "", "中\u3000", "x"]
    got = textscan.code_line_flags(textscan.codes_of("\n".join(lines)), len(lines), table)
    if jit.enabled():
        assert got is not None and got.tolist() == _expected(lines)


def _matched_by_regex(pattern: str, stop: int) -> np.ndarray:
    rx = re.compile(pattern)
    return np.array([rx.fullmatch(chr(c)) is not None for c in range(stop)], dtype=bool)


@pytest.mark.parametrize("pattern", [r"\d", "[\u4e00-\u9fff\u3000]", r"[\W_]", "[\ud800-\udfff]"])
def test_tables_kept_on_disk_are_the_regexes(
    pattern: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(textscan.TABLE_CACHE_ENV, str(tmp_path))
    stop = 0xE000  # the BMP up to the private use area: quick to check char by char
    expected = _matched_by_regex(pattern, stop)
    computed = textscan.code_points_matching(pattern, stop)
    assert len(list(tmp_path.glob("*.npy"))) == 1
    reread = textscan.code_points_matching(pattern, stop)  # from the file
    assert np.array_equal(computed, expected) and np.array_equal(reread, expected)
    assert reread.dtype == bool and reread.flags.writeable


def test_a_damaged_table_file_is_computed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(textscan.TABLE_CACHE_ENV, str(tmp_path))
    first = textscan.code_points_matching(r"\d", 5000)
    (path,) = tmp_path.glob("*.npy")
    path.write_bytes(path.read_bytes()[:40])  # a truncated write by some other program
    assert np.array_equal(textscan.code_points_matching(r"\d", 5000), first)
    assert np.array_equal(textscan.code_points_matching(r"\d", 5000), first)  # rewritten whole
    assert path.stat().st_size > 40


def test_tables_are_keyed_by_pattern_flags_and_length(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(textscan.TABLE_CACHE_ENV, str(tmp_path))
    textscan.code_points_matching("[a-z]", 1000)
    textscan.code_points_matching(re.compile("[a-z]", re.IGNORECASE), 1000)
    upper = textscan.code_points_matching(re.compile("[a-z]", re.IGNORECASE), 1000)
    textscan.code_points_matching("[a-z]", 2000)
    assert len(list(tmp_path.glob("*.npy"))) == 3
    assert upper[ord("A")] and not textscan.code_points_matching("[a-z]", 1000)[ord("A")]


@pytest.mark.parametrize("setting", ["0", "off"])
def test_the_table_cache_can_be_switched_off(
    setting: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(textscan.TABLE_CACHE_ENV, setting)
    monkeypatch.chdir(tmp_path)
    assert textscan.table_cache_dir() is None
    assert textscan.code_points_matching(r"\d", 100).sum() == 10
    assert not list(tmp_path.iterdir())


def test_an_unwritable_cache_leaves_tables_uncached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(textscan.TABLE_CACHE_ENV, str(blocker / "tables"))
    assert textscan.code_points_matching(r"\d", 100).sum() == 10
    assert list(tmp_path.iterdir()) == [blocker]


def test_patterns_without_source_text_are_not_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a word scan matches each class item compiled from its parse (no source text): two such
    # patterns would share one key, so each is matched itself and none is kept; the scan's
    # whole table is kept, keyed by the source patterns
    monkeypatch.setenv(textscan.TABLE_CACHE_ENV, str(tmp_path))
    patterns = ((re.compile("x[0-9]"), 1), (re.compile("y[a-c]"), 2))
    for _ in range(2):
        scan = textscan.word_scan(patterns)
        assert scan is not None
        lines = ["x5", "yb", "y5 xb", "x"]
        got = textscan.line_words(textscan.codes_of("\n".join(lines)), len(lines), scan)
        assert got is None or got.tolist() == [1, 2, 0, 0]
    assert [p.name.startswith("word-scan-") for p in tmp_path.iterdir()] == [True]


def test_kept_arrays_come_back_equal_and_read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(textscan.TABLE_CACHE_ENV, str(tmp_path))
    calls: list[int] = []

    def build() -> np.ndarray:
        calls.append(1)
        return np.arange(10, dtype=np.uint16) * 3

    built = textscan.cached_array("t", build, 1)
    loaded = textscan.cached_array("t", build, 1)
    assert calls == [1] and len(list(tmp_path.glob("t-*.npy"))) == 1
    for table in (built, loaded):
        assert table.dtype == np.uint16 and not table.flags.writeable
        assert np.array_equal(table, np.arange(10, dtype=np.uint16) * 3)
    textscan.cached_array("t", build, 2)  # other parameters: another file
    assert calls == [1, 1] and len(list(tmp_path.glob("t-*.npy"))) == 2


def test_a_damaged_kept_array_is_built_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(textscan.TABLE_CACHE_ENV, str(tmp_path))
    first = textscan.cached_array("t", lambda: np.arange(1000))
    (path,) = tmp_path.glob("t-*.npy")
    path.write_bytes(path.read_bytes()[:40])
    assert np.array_equal(textscan.cached_array("t", lambda: np.arange(1000)), first)
    assert np.array_equal(textscan.cached_array("t", lambda: np.zeros(1)), first)  # rewritten whole


def test_arrays_are_not_kept_when_the_cache_is_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(textscan.TABLE_CACHE_ENV, "off")
    monkeypatch.chdir(tmp_path)
    table = textscan.cached_array("t", lambda: np.ones(3))
    assert table.sum() == 3 and not table.flags.writeable
    assert not list(tmp_path.iterdir())


def test_kept_class_tables_and_word_scans_are_the_built_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scan_patterns = ((re.compile(r"本报讯|记者(?=\s)|By"), 1), (re.compile("page [0-9]|图[一二]"), 2))
    monkeypatch.setenv(textscan.TABLE_CACHE_ENV, "off")
    plain_table = textscan.class_table(_CLASSES, np.uint16)
    plain_scan = textscan.word_scan(scan_patterns)
    monkeypatch.setenv(textscan.TABLE_CACHE_ENV, str(tmp_path))
    for _ in range(2):  # built and kept, then read back
        table = textscan.class_table(_CLASSES, np.uint16)
        assert table.dtype == np.uint16 and np.array_equal(table, plain_table)
        scan = textscan.word_scan(scan_patterns)
        assert scan is not None and plain_scan is not None
        for got, want in zip(scan, plain_scan, strict=True):
            assert got.dtype == want.dtype and np.array_equal(got, want)
    assert len(list(tmp_path.glob("class-table-*.npy"))) == 1
    assert len(list(tmp_path.glob("word-scan-*.npy"))) == 1


def test_a_table_built_after_an_edit_replaces_the_older_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(textscan.TABLE_CACHE_ENV, str(tmp_path))
    textscan.cached_array("t", lambda: np.arange(3), 1)
    textscan.cached_array("t", lambda: np.arange(3), 2)  # other parameters: kept beside it
    monkeypatch.setattr(textscan, "_package_digest", lambda: "0" * 64)  # the package edited
    assert textscan.cached_array("t", lambda: np.arange(4), 1).tolist() == [0, 1, 2, 3]
    names = sorted(p.name for p in tmp_path.glob("t-*.npy"))
    assert len(names) == 2 and sum(n.endswith("-" + "0" * 24 + ".npy") for n in names) == 1
