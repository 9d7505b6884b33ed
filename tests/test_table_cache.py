"""The stages' derived per-code-point tables and jieba's word list, kept on disk between processes
(:func:`cleaning.textscan.cached_array`): what a process reads back is what it would build."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cleaning import layout, segment, textscan
from cleaning.config import CleaningConfig
from cleaning.dedup import key


def _kept_twice(
    cached: Callable[..., Any], args: tuple[Any, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> list[Any]:
    """``cached``'s own function (past its in-process cache) run with an empty table cache, so
    it builds and keeps the table, then again, so it reads the file back."""
    monkeypatch.setenv(textscan.TABLE_CACHE_ENV, str(tmp_path))
    out = [cached.__wrapped__(*args) for _ in range(2)]
    assert list(tmp_path.glob("*.npy"))
    return out


@pytest.mark.parametrize(
    ("cached", "build", "args"),
    [
        (key._code_flags, key._build_code_flags, ()),
        (key._fold_table, key._build_fold_table, (True, True)),
        (key._fold_table, key._build_fold_table, (False, False)),
        (layout._char_tables, layout._build_char_tables, (False,)),
        (layout._char_tables, layout._build_char_tables, (True,)),
        (layout._char_classes, layout._build_char_classes, (False,)),
        (segment._char_table, segment._build_char_table, ()),
    ],
    ids=lambda v: getattr(v, "__name__", repr(v)),
)
def test_kept_tables_are_the_built_ones(
    cached: Callable[..., np.ndarray],
    build: Callable[..., np.ndarray],
    args: tuple[Any, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    want = build(*args)
    for got in _kept_twice(cached, args, tmp_path, monkeypatch):
        assert got.dtype == want.dtype and np.array_equal(got, want)
        assert not got.flags.writeable


def test_the_kept_nfkc_class_is_the_built_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    want = key._nfkc_first_bmp()
    assert len(want) > 100
    for pattern in _kept_twice(key._nfkc_first, (), tmp_path, monkeypatch):
        assert pattern.pattern == key._nfkc_first().pattern
        assert [c for c in range(0x10000) if pattern.match(chr(c))] == want.tolist()


def test_the_kept_jieba_words_are_the_read_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    min_freq = CleaningConfig().layout.min_seam_word_freq
    import jieba

    want = layout._read_jieba_freq(Path(jieba.__file__).parent / "dict.txt", min_freq)
    assert len(want) > 1000
    for got in _kept_twice(layout._jieba_freq, (min_freq,), tmp_path, monkeypatch):
        assert got == want and list(got) == list(want)  # the same entries in the same order


def test_the_kept_pair_classes_are_the_decoded_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cleaning import mojibake, repair

    monkeypatch.setenv(textscan.TABLE_CACHE_ENV, str(tmp_path))
    args = (mojibake.UTF8_MISREAD_AS, range(0xE0, 0xF0), range(0x80, 0xC0))
    decoded = set()
    for codec in args[0]:
        for lead in args[1]:
            for trail in args[2]:
                try:
                    ch = bytes([lead, trail]).decode(codec)
                except UnicodeDecodeError:
                    continue
                if len(ch) == 1:
                    decoded.add(ch)
    want = repair._class(decoded)
    assert [repair._pair_chars(*args) for _ in range(2)] == [want, want]  # built, then read back
    assert len(list(tmp_path.glob("repair-pair-chars-*.npy"))) == 1
    assert want == repair._LEGACY_FIRST_CLASS
