"""Per-line character scans of a whole page in one compiled pass.

Several stages ask, of every line of a page, "does it hold any character of
this class?" before they spend time on it (repair's hints, the furniture keys'
whitespace and digits). One regex pass per class over the page's joined text
costs 10-20 ns per character and class; a table of flag bits per code point,
read by one compiled loop over the page's code points (:mod:`cleaning.jit`),
costs about 1-2 ns per character for all classes at once.

The tables are built from the stages' own regex classes, by matching them
against every code point (surrogates included: a ``str`` may hold lone ones),
so a class and its table cannot drift apart, and kept on disk between processes
(:func:`table_cache_dir`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
import threading
import unicodedata
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from cleaning import jit

NUM_CODE_POINTS = 0x110000


# The last text codes_of encoded, and its code points: the stages of a page scan the same joined
# lines one after another (repair's and normalize's pre-scans when repair changed no line), and
# comparing two strings costs far less than encoding one. The arrays are read-only (frombuffer
# over bytes), so sharing one is safe; the pair is replaced whole, so threads see a matching one.
_last_codes: tuple[str, np.ndarray] = ("", np.zeros(0, dtype=np.uint8))


def codes_of(text: str) -> np.ndarray:
    """The code points of ``text``: ``uint8`` for ASCII text (a quarter of the bytes to encode and
    scan), else ``uint32``; lone surrogates encode as themselves. Read-only."""
    global _last_codes
    last = _last_codes
    if text == last[0]:
        return last[1]
    if text.isascii():
        codes = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    else:
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    _last_codes = (text, codes)
    return codes


@cache
def every_code_point() -> str:
    """All code points in order, surrogates included: the character at position ``c`` is ``chr(c)``.

    Built once per process (~15 ms, 4.5 MB) for the tables below and :mod:`cleaning.dedup.key`'s.
    """
    return np.arange(NUM_CODE_POINTS, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")


def code_points_matching(pattern: str | re.Pattern[str], stop: int = NUM_CODE_POINTS) -> np.ndarray:
    """Per code point below ``stop``, whether the one-character regex ``pattern`` matches it.

    Matching a class against all 1,114,112 code points takes 5-50 ms; a process builds about
    thirty such tables, 0.3 s before its first page. The answers are kept on disk (see
    :func:`table_cache_dir`), keyed by the pattern and by the Python and Unicode versions
    whose ``re`` module gave them, so a machine computes each once.
    """
    rx = re.compile(pattern) if isinstance(pattern, str) else pattern
    cache_file = _cached_table_file(rx, stop)
    if cache_file is not None:
        found = _read_cached_table(cache_file, stop)
        if found is not None:
            return found
    found = np.zeros(stop, dtype=bool)
    found[[m.start() for m in rx.finditer(every_code_point(), 0, stop)]] = True
    if cache_file is not None:
        _write_cached_table(cache_file, found)
    return found


TABLE_CACHE_ENV = "PRESSWASH_TABLE_CACHE"
_CACHE_OFF = {"0", "false", "no", "off"}


def table_cache_dir() -> Path | None:
    """Where :func:`code_points_matching` and :func:`cached_array` keep their tables:
    ``$PRESSWASH_TABLE_CACHE`` when set (``0``/``off``: keep none), else
    ``__pycache__/code-point-tables`` beside this module, as Python keeps its bytecode and numba
    its kernels, else ``$XDG_CACHE_HOME/presswash`` (by default ``~/.cache/presswash``) when the
    package's directory is read-only, else none."""
    setting = os.environ.get(TABLE_CACHE_ENV, "").strip()
    if setting.lower() in _CACHE_OFF:
        return None
    if setting:
        return Path(setting)
    beside = Path(__file__).parent / "__pycache__"
    if os.access(beside if beside.is_dir() else beside.parent, os.W_OK):
        return beside / "code-point-tables"
    user = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(user) / "presswash" / "code-point-tables"


def _key_digest(*parts: object) -> str:
    """A hex digest of ``parts`` and of the Python and Unicode versions whose ``re``,
    ``unicodedata`` and codecs give the kept tables their values: the key of a kept table."""
    key = repr((*parts, sys.implementation.cache_tag, sys.version_info[:3], unicodedata.unidata_version))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _cached_table_file(rx: re.Pattern[str], stop: int) -> Path | None:
    folder = table_cache_dir()
    # a pattern compiled from a parse (WordScan's class items) has no source text to key it by
    if folder is None or not isinstance(rx.pattern, str):
        return None
    return folder / f"{_key_digest(rx.pattern, rx.flags, stop)[:32]}.npy"


def _read_cached_table(path: Path, stop: int) -> np.ndarray | None:
    try:
        packed = np.load(path, allow_pickle=False)
    except Exception:  # absent, or unreadable: computed again (and rewritten)
        return None
    if packed.dtype != np.uint8 or packed.shape != ((stop + 7) // 8,):
        return None
    return np.unpackbits(packed, count=stop).view(bool)


def _write_cached_table(path: Path, found: np.ndarray) -> None:
    _write_array(path, np.packbits(found))


def _write_array(path: Path, array: np.ndarray) -> None:
    """Staged then renamed, so a process never reads a half-written table; any failure (a
    read-only or full disk) leaves the table uncached."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            np.save(fh, array, allow_pickle=False)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()


def cached_array(name: str, build: Callable[[], np.ndarray], *params: object) -> np.ndarray:
    """``build()``, kept on disk between processes beside :func:`code_points_matching`'s tables.

    For the tables the stages derive from those answers and from ``unicodedata`` (flags of
    every code point, fold maps, jieba's word list): 5-200 ms each to build, 50-100 ms a process
    for the furniture pre-pass, layout and the dedup key together, against a millisecond or two
    to read. A build reads constants of several modules, so the key is ``name``, ``params`` (what
    the build depends on besides the package: its arguments, an input file's identity), the
    source of every file of the package (any edit renews every table, as a kernel's edit renews
    its cache) and the Python, Unicode and numpy versions. The table comes back read-only,
    loaded or built alike; a non-numeric one (``object`` dtype) is not kept.

    The file is named by the name, a digest of the rest of the key but the package's source,
    and a digest of that source: a table built after an edit replaces the one of the same name
    and parameters built before it, so a developer's edits do not pile up copies (~35 MB a set).
    """
    folder = table_cache_dir()
    path: Path | None = None
    if folder is not None:
        stem = f"{name}-{_key_digest(name, params, np.__version__)[:24]}"
        path = folder / f"{stem}-{_package_digest()[:24]}.npy"
        try:
            table = np.load(path, allow_pickle=False)
        except Exception:  # absent, or unreadable: built again (and rewritten)
            pass
        else:
            table.setflags(write=False)
            return table
    table = np.ascontiguousarray(build())
    if path is not None and table.dtype != object:
        for older in path.parent.glob(f"{path.name.rsplit('-', 1)[0]}-*.npy"):
            if older != path:  # another thread's or process's copy of this very table stays
                with contextlib.suppress(OSError):  # another process's may be gone already
                    older.unlink()
        _write_array(path, table)
    table.setflags(write=False)
    return table


def file_identity(path: Path) -> tuple[str, int, int]:
    """``path``, its size and modification time: a :func:`cached_array` parameter for a table
    read from a file outside the package (another package's data, which its upgrades replace)."""
    st = path.stat()
    return str(path), st.st_size, st.st_mtime_ns


@cache
def _package_digest() -> str:
    """A digest of every file of the ``cleaning`` package (sources and resources), for
    :func:`cached_array`'s key: ~1 ms a process."""
    root = Path(__file__).parent
    files = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]  # the caches themselves: thousands of files
        files += [Path(folder, n).relative_to(root).as_posix() for n in names]
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode("utf-8", "surrogateescape") + b"\0")
        h.update((root / name).read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def class_ranges(spec: str) -> list[tuple[int, int]]:
    """Code point ranges of a regex character-class body such as ``"a-z\u3000"`` (characters and
    ranges only: no escapes, no negation). Filling a table by ranges is far quicker than matching
    the class against every code point when it holds many (the 131,070 of Plane 2 and 3)."""
    out, i = [], 0
    while i < len(spec):
        if i + 2 < len(spec) and spec[i + 1] == "-":
            out.append((ord(spec[i]), ord(spec[i + 2])))
            i += 3
        else:
            out.append((ord(spec[i]), ord(spec[i])))
            i += 1
    return out


def class_table(classes: Sequence[tuple[str, int]], dtype: type = np.uint8) -> np.ndarray:
    """A read-only table (``uint8`` unless ``dtype`` says) over every code point: bit ``b`` is set
    on the characters the one-character regex ``pattern`` matches, for each ``(pattern, b)`` of
    ``classes``.

    Kept on disk whole (:func:`cached_array`): one read instead of one per class (2-4 ms each).
    """
    if any(not isinstance(p, str) and not isinstance(p.pattern, str) for p, _ in classes):
        return _class_table(classes, dtype)  # a pattern without source text: nothing to key by
    key = [(p if isinstance(p, str) else (p.pattern, p.flags), bit) for p, bit in classes]
    return cached_array("class-table", lambda: _class_table(classes, dtype), key, np.dtype(dtype).str)


def _class_table(classes: Sequence[tuple[str | re.Pattern[str], int]], dtype: type) -> np.ndarray:
    table = np.zeros(NUM_CODE_POINTS, dtype=dtype)
    for pattern, bit in classes:
        table[code_points_matching(pattern)] |= bit
    table.setflags(write=False)
    return table


@jit.kernel
def _line_or(codes: np.ndarray, table: np.ndarray, out: np.ndarray) -> None:
    """``out[k]``: the OR of ``table`` over the characters of the ``k``-th ``"\\n"``-separated line."""
    line = 0
    acc = 0
    for i in range(codes.shape[0]):
        c = codes[i]
        if c == 10:
            out[line] = acc
            line += 1
            acc = 0
        else:
            acc |= table[c]
    out[line] = acc


def line_flags(lines: Sequence[str], table: np.ndarray, text: str | None = None) -> np.ndarray | None:
    """Per line, the OR of ``table``'s bits over its characters (``uint8``), by one pass over the
    joined lines (``text``: ``"\\n".join(lines)`` when the caller has it); ``None`` when a line
    holds ``"\\n"`` (the joined text cannot be split back) or the kernels are off (the caller's
    own scan is faster than the plain definition)."""
    if not jit.enabled():
        return None
    out = np.zeros(len(lines), dtype=np.uint8)
    if not lines:
        return out
    if text is None:
        text = "\n".join(lines)
    if text.count("\n") != len(lines) - 1:
        return None
    _line_or(codes_of(text), table, out)
    return out


def lines_matching(rx: re.Pattern[str], lines: Sequence[str], text: str) -> np.ndarray:
    """Per line, whether a match of ``rx`` over ``text`` (``lines`` joined by line feeds, none
    inside a line) starts in it: one regex pass over the page instead of a call per line.

    For a pattern whose matches hold no line feed, a line ``rx.search`` finds something in is
    always flagged (the scan reaches each line before any match inside it). A lookaround may
    read the joining line feed: a positive one (``(?=\\s)``) can only flag more lines, so the
    flags are a pre-filter for the exact per-line test, not its answer.
    """
    found = np.zeros(len(lines), dtype=bool)
    starts = [m.start() for m in rx.finditer(text)]
    if starts:
        ends = np.cumsum(np.fromiter(map(len, lines), dtype=np.int64, count=len(lines)) + 1)
        found[np.searchsorted(ends, starts, side="right")] = True
    return found


def code_line_flags(codes: np.ndarray, n_lines: int, table: np.ndarray) -> np.ndarray | None:
    """:func:`line_flags` of the ``n_lines`` lines whose code points, joined by line feeds, are
    ``codes`` (as :func:`codes_of` gives them, for a caller that has them already); ``None`` when
    the kernels are off."""
    if not jit.enabled():
        return None
    out = np.zeros(n_lines, dtype=np.uint8)
    if n_lines:
        _line_or(codes, table, out)
    return out


class WordScan(NamedTuple):
    """Alternations of literal words compiled for :func:`line_words` (see :func:`word_scan`)."""

    table: np.ndarray  # per code point: bit 0, a word starts with it; bit b > 0, it is in class b
    heads: np.ndarray  # the distinct first code points of the words, sorted
    first_word: np.ndarray  # words of heads[j]: first_word[j] to first_word[j + 1]
    items: np.ndarray  # per word, per place: the code point, or -b for a character of class b
    lengths: np.ndarray  # characters a word consumes
    ahead: np.ndarray  # the class a look-ahead after the word needs (0: none)
    bits: np.ndarray  # the flag a word sets on its line


def _pattern_words(rx: re.Pattern[str]) -> list[list[tuple[object, object]]] | None:
    """The words of ``rx`` as parsed items, when it is an alternation of words made of literal
    characters and character classes (the first a literal), each with at most a one-character
    look-ahead at its end; ``None`` for any other pattern."""
    from re import _parser  # the standard library's own pattern parser

    if not isinstance(rx.pattern, str) or rx.flags & ~re.UNICODE:
        return None
    tree = _parser.parse(rx.pattern, rx.flags)
    alternatives = tree[0][1][1] if len(tree) == 1 and tree[0][0] is _parser.BRANCH else [tree]
    words = []
    for alt in alternatives:
        word = list(alt)
        if not word or word[0][0] is not _parser.LITERAL:
            return None
        for k, (op, arg) in enumerate(word):
            if op is _parser.ASSERT and k == len(word) - 1 and k > 0:
                direction, sub = arg
                if direction != 1 or len(sub) != 1 or sub[0][0] not in (_parser.LITERAL, _parser.IN):
                    return None
            elif op is not _parser.LITERAL and op is not _parser.IN:
                return None
        words.append(word)
    return words


def word_scan(patterns: Sequence[tuple[re.Pattern[str], int]]) -> WordScan | None:
    """The words of each ``(pattern, bit)`` compiled for :func:`line_words`, which flags a line
    ``bit`` when ``pattern.search(line)`` finds something in it. ``None`` when a pattern is not an
    alternation of words (:func:`_pattern_words`) or the patterns hold more than seven distinct
    character classes."""
    from re import _compiler, _parser

    parsed = [(rx, _pattern_words(rx), bit) for rx, bit in patterns]
    if any(words is None for _, words, _ in parsed):
        return None
    classes: dict[str, int] = {}  # a class item's parse, as text -> its bit
    class_items: list[tuple[re.Pattern[str], tuple[object, object]]] = []  # by bit, from 1

    def class_bit(rx: re.Pattern[str], item: tuple[object, object]) -> int:
        key = repr(item)
        if key not in classes:
            if len(classes) == 7:
                raise OverflowError
            classes[key] = len(classes) + 1
            class_items.append((rx, item))
        return classes[key]

    rows: list[tuple[int, list[int], int, int]] = []  # first code point, items, look-ahead, bit
    try:
        for rx, words, bit in parsed:
            assert words is not None
            for word in words:
                ahead = 0
                if word[-1][0] is _parser.ASSERT:
                    ahead = class_bit(rx, word.pop()[1][1][0])
                items = [arg if op is _parser.LITERAL else -class_bit(rx, (op, arg)) for op, arg in word]
                rows.append((int(items[0]), items, ahead, bit))
    except OverflowError:
        return None
    rows.sort(key=lambda r: r[0])
    heads = sorted({r[0] for r in rows})

    def build_table() -> np.ndarray:
        table = np.zeros(NUM_CODE_POINTS, dtype=np.uint8)
        for b, (rx, item) in enumerate(class_items, start=1):
            # the item alone, compiled with its pattern's flags: the characters it matches (a
            # pattern without source text, so matched anew here: 5-15 ms each)
            one = _compiler.compile(_parser.SubPattern(_parser.State(), [item]), rx.flags)
            table[code_points_matching(one)] |= 1 << b
        table[heads] |= 1
        return table

    # the table follows from the patterns alone: kept on disk whole, keyed by them
    table = cached_array("word-scan", build_table, [(rx.pattern, rx.flags, bit) for rx, bit in patterns])
    first_word = np.searchsorted([r[0] for r in rows], [*heads, NUM_CODE_POINTS])
    width = max(len(r[1]) for r in rows)
    items = np.zeros((len(rows), width), dtype=np.int64)
    for w, r in enumerate(rows):
        items[w, : len(r[1])] = r[1]
    return WordScan(
        table,
        np.array(heads, dtype=np.int64),
        first_word.astype(np.int64),
        items,
        np.array([len(r[1]) for r in rows], dtype=np.int64),
        np.array([r[2] for r in rows], dtype=np.int64),
        np.array([r[3] for r in rows], dtype=np.int64),
    )


@jit.kernel
def _line_words(
    codes: np.ndarray,
    table: np.ndarray,
    heads: np.ndarray,
    first_word: np.ndarray,
    items: np.ndarray,
    lengths: np.ndarray,
    ahead: np.ndarray,
    bits: np.ndarray,
    out: np.ndarray,
) -> None:
    """``out[k]``: the OR of the bits of the words found in the ``k``-th ``"\\n"``-separated line
    of ``codes`` (a look-ahead at the end of a line finds nothing, as at the end of a string)."""
    n = codes.shape[0]
    line = 0
    acc = 0
    for i in range(n):
        c = codes[i]
        if c == 10:
            out[line] = acc
            line += 1
            acc = 0
            continue
        if table[c] & 1 == 0:
            continue
        lo = 0
        hi = heads.shape[0]
        while lo < hi:  # the words starting with c
            mid = (lo + hi) >> 1
            if heads[mid] < c:
                lo = mid + 1
            else:
                hi = mid
        for w in range(first_word[lo], first_word[lo + 1]):
            if acc & bits[w] == bits[w]:
                continue  # the line has this word's flag already
            m = lengths[w]
            ok = i + m <= n
            k = 1
            while ok and k < m:
                d = codes[i + k]
                it = items[w, k]
                if d == 10:
                    ok = False
                elif it >= 0:
                    ok = d == it
                else:
                    ok = (table[d] >> -it) & 1 == 1
                k += 1
            if ok and ahead[w] != 0:
                ok = i + m < n and codes[i + m] != 10 and (table[codes[i + m]] >> ahead[w]) & 1 == 1
            if ok:
                acc |= bits[w]
    out[line] = acc


def line_words(codes: np.ndarray, n_lines: int, scan: WordScan) -> np.ndarray | None:
    """Per line of ``codes`` (``n_lines`` lines joined by line feeds, as :func:`codes_of` gives
    them), the OR of the bits of the patterns of ``scan`` that ``search`` finds something in the
    line for (``uint8``), by one compiled pass; ``None`` when the kernels are off (the patterns'
    own scans are faster than the plain definition)."""
    if not jit.enabled():
        return None
    out = np.zeros(n_lines, dtype=np.uint8)
    if n_lines:
        _line_words(codes, *scan, out)
    return out
