"""Stage 1: find the input files and read them into documents, or reject them.

:func:`list_inputs` turns what the user gave (files, directories, globs) into a
deterministic list of :class:`InputFile` plus reject rows for what cannot be
taken (duplicates, symlink loops, special files, ...). :func:`read_file` turns
one input file into :class:`~cleaning.model.SourceDoc` objects (one per text
file, zip member or JSONL record) and :class:`~cleaning.model.Reject` rows.

Neither function raises on bad input: every problem becomes a reject row with a
stable reason code from :data:`REASON_CODES`, and reading goes on with the next
record, member or file. Memory is bounded: a text document is held in memory
only up to ``max_file_bytes``; JSONL is streamed record by record; gzip and zip
members are inflated in chunks under size and compression-ratio caps, in
memory, never extracted to disk.

``source_path`` (what ids are built from) is relative to the input root the
user gave, with POSIX separators:

* a directory argument: the path below that directory (``2019/page1.txt``);
* a file argument: the file's name (``page1.txt``);
* a glob: the path below the glob's leading non-wildcard directories
  (``data/*/p*.txt`` → ``2019/page1.txt``).

If two different files would get the same ``source_path`` (``a/x.txt`` and
``b/x.txt`` given as ``a b``), the later one is prefixed with its root's name
(``b/x.txt``), then numbered (``b/x.txt~2``), so no file is lost. Archive
members get ``archive.zip!member/path.txt`` and JSONL records ``file.jsonl#L<n>``
(n = 1-based line number in the decompressed file). Bytes of file names that
are not UTF-8 are shown escaped (``caf\\xe9.txt``) so the path is valid text.
"""

from __future__ import annotations

import codecs
import errno
import fnmatch
import glob
import gzip
import hashlib
import io
import itertools
import json
import os
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cleaning.model import Event, Reject, SourceDoc
from cleaning.rules import register

STAGE = "read"
# The state directory every presswash output directory holds (cleaning.state.STATE_DIRNAME).
OUTPUT_STATE_DIR = ".presswash"
_MIB = 1 << 20
_CHUNK = _MIB

# code → one-line description. The README's "What happens to bad input" table and
# docs/bad-input.md are checked against this. `empty`, `binary` and `undecodable`
# are also emitted by the decode stage (cleaning.decode).
REASON_CODES: dict[str, str] = {
    "empty": "The file, member or record holds no text (zero bytes or only whitespace).",
    "binary": "Not text: a known binary signature (PNG, PDF, zip, ...) or too many control/NUL bytes.",
    "undecodable": "No candidate encoding decodes the bytes sensibly (decode stage).",
    "internal_error": "A cleaning stage raised on this document (a bug, or data no rule expects); "
    "the detail holds the exception, the run goes on (flow).",
    "not_found": "An input argument names no existing path.",
    "no_match": "A glob argument matches no file.",
    "vanished": "The file existed when listed but was gone when read.",
    "unreadable": "The file or directory cannot be opened or read (permission denied, I/O error, ...).",
    "not_a_regular_file": "A FIFO, socket or device file: never opened, so the run cannot hang on it.",
    "unsupported_type": "A file (or archive member) whose name ends in no supported extension.",
    "duplicate_input": "The same file (or directory) was reached twice; it is read once.",
    "symlink_loop": "A symbolic link that leads back into its own ancestors or to itself.",
    "broken_symlink": "A symbolic link whose target does not exist.",
    "symlink_skipped": "A symbolic link met while walking a directory with follow_symlinks off.",
    "too_large": "A text document larger than max_file_bytes (after decompression).",
    "line_too_long": "A line (or JSONL record) longer than max_line_bytes / max_record_bytes.",
    "gzip_truncated": "The gzip stream ends before its end marker; the whole file is rejected.",
    "gzip_corrupt": "Not a valid gzip stream (bad header, bad CRC, corrupt data).",
    "gzip_bomb": "The gzip stream inflates beyond max_decompressed_bytes or max_compression_ratio.",
    "zip_corrupt": "The zip archive cannot be opened (no central directory, truncated, not a zip).",
    "zip_corrupt_member": "One zip member cannot be inflated (bad CRC, bad header); others are still read.",
    "zip_unsafe_path": "A zip member name that escapes the archive (../, absolute path, drive letter).",
    "zip_bomb": "A zip member or archive inflating beyond the size or compression-ratio limits.",
    "zip_too_many_members": "A zip archive with more members than max_zip_members.",
    "zip_encrypted": "An encrypted zip member (no password support).",
    "zip_unsupported": "A zip member compressed with a method this Python cannot inflate.",
    "nested_archive": "A zip inside a zip: not opened.",
    "jsonl_invalid": "A JSONL line that is not a JSON object (or not UTF-8).",
    "jsonl_no_text": "A JSONL record with none of the configured text fields as a string.",
}

register("read.list_inputs", STAGE, "Expand files, directories and globs into a sorted input list.")
register("read.source_path", STAGE, "Name each input relative to its root (POSIX, escaped non-UTF-8).")
register("read.reject_duplicate", STAGE, "List a file reached twice (argument, symlink, hard link) once.")
register("read.reject_symlink_loop", STAGE, "Stop at a symbolic link that loops back; never hang.")
register("read.reject_unsupported", STAGE, "Reject files and members with no supported extension.")
register("read.reject_empty", STAGE, "Reject a document with no bytes or only whitespace.")
register("read.reject_binary", STAGE, "Reject binary data by signature or control/NUL byte ratio.")
register("read.reject_too_large", STAGE, "Reject a document larger than max_file_bytes.")
register("read.reject_long_line", STAGE, "Reject a document with a line longer than max_line_bytes.")
register("read.gzip_stream", STAGE, "Verify and stream gzip; a truncated or corrupt stream rejects the file.")
register("read.zip_member", STAGE, "Read zip members in memory under size and ratio caps.")
register("read.zip_unsafe_path", STAGE, "Reject zip members whose names escape the archive.")
register("read.zip_bomb", STAGE, "Reject zip members or archives beyond the inflate limits.")
register("read.jsonl_record", STAGE, "One document per JSONL record; other fields kept as metadata.")
RULE_STRIP_NUL = "read.strip_nul_bytes"
register(
    RULE_STRIP_NUL,
    STAGE,
    "Remove NUL bytes from otherwise normal (ASCII-compatible) text, counted per line; "
    "mostly-NUL data is binary, UTF-16/32 is left to the decoder.",
)
register("read.jsonl_lone_surrogate", STAGE, "Replace lone surrogate escapes in JSONL strings by U+FFFD.")


class ReadConfig(BaseModel):
    """Settings of the read stage: what is listed, and the limits that keep memory bounded."""

    model_config = ConfigDict(extra="forbid")

    extensions: list[str] = Field(
        default_factory=lambda: [".txt", ".jsonl", ".txt.gz", ".jsonl.gz", ".zip"],
        description="File name endings that are read (case-insensitive). Other files met while walking "
        "a directory become `unsupported_type` reject rows, so every file is accounted for.",
    )
    include_globs: list[str] = Field(
        default_factory=list,
        description="If set, only files whose source_path matches one of these fnmatch patterns are "
        "listed; the others are left out silently (an explicit choice, not a fault).",
    )
    exclude_globs: list[str] = Field(
        default_factory=list,
        description="Files whose source_path matches one of these fnmatch patterns are left out silently.",
    )
    skip_hidden: bool = Field(
        True,
        description="Leave out files and directories whose name starts with '.' (and __MACOSX in zips) "
        "while walking, without a reject row.",
    )
    skip_output_dirs: bool = Field(
        True,
        description="Do not walk into presswash output directories (those holding a `.presswash/` "
        "state directory), so an output directory inside an input directory is never read back as "
        "input, and gives no reject rows.",
    )
    follow_symlinks: bool = Field(
        True,
        description="Follow symbolic links met while walking directories (loops are detected and "
        "rejected as `symlink_loop`). Off: each link becomes a `symlink_skipped` reject row. Links "
        "given directly as arguments are always followed.",
    )
    max_file_bytes: int = Field(
        256 * _MIB,
        ge=1,
        description="Largest single text document held in memory: a .txt file, a decompressed "
        ".txt.gz, or a zip member. Larger ones are rejected as `too_large` without being read whole.",
    )
    max_line_bytes: int = Field(
        1 * _MIB,
        ge=1,
        description="Longest line (bytes between line breaks) of a text document. A longer line is not "
        "a page of text (a 50 MB one-line dump would stall the layout stage), so the document is "
        "rejected as `line_too_long`.",
    )
    max_record_bytes: int = Field(
        64 * _MIB,
        ge=1,
        description="Longest JSONL record (one line of JSON). Longer records are skipped with a "
        "`line_too_long` reject row, without being held in memory.",
    )
    max_decompressed_bytes: int = Field(
        16 * 1024 * _MIB,
        ge=1,
        description="Largest decompressed size of one .gz file (JSONL is streamed, so this bounds "
        "time, not memory). Beyond it the file is rejected as `gzip_bomb`.",
    )
    max_compression_ratio: float = Field(
        200.0,
        gt=1,
        description="Largest inflated/compressed size ratio of a gzip file or zip member once it has "
        "inflated more than min_ratio_check_bytes. Natural text compresses 3-10x; bombs 1000x.",
    )
    min_ratio_check_bytes: int = Field(
        8 * _MIB,
        ge=0,
        description="The compression-ratio limit applies only to data that inflates beyond this size, "
        "so small, very repetitive files are never refused.",
    )
    max_zip_members: int = Field(
        200_000, ge=1, description="Most members a zip may have; more rejects the archive."
    )
    max_zip_total_bytes: int = Field(
        16 * 1024 * _MIB,
        ge=1,
        description="Largest total inflated size of all members of one zip (declared or actual); "
        "members beyond it are rejected as `zip_bomb`.",
    )
    jsonl_text_fields: list[str] = Field(
        default_factory=lambda: ["text", "content"],
        description="JSONL fields holding the document text, tried in order; the first string one is "
        "the text and every other field is kept as the document's metadata.",
    )
    binary_control_ratio: float = Field(
        0.05,
        gt=0,
        le=1,
        description="A document whose share of control bytes (C0 controls other than NUL, tab, line "
        "breaks, form feed and escape), among its non-NUL bytes, reaches this is `binary`. Random "
        "bytes have ~10%, text almost none. Data that is at least half NUL bytes is `binary` too; "
        "UTF-16/32-looking data is left to the decoder.",
    )


@dataclass(slots=True)
class InputFile:
    """One file to read: where it is, and the name ids are built from.

    ``part``: only a part of a large file, read as the whole file's reading reads it: of a zip,
    the members from index ``start`` to ``stop`` (exclusive) of its entries (:func:`zip_parts`);
    of a JSONL file, the lines from byte ``start`` to ``stop``, ``lines`` lines before them
    (:func:`jsonl_parts`); of a gzipped JSONL file, the same in inflated bytes, and the
    compressed size the part was cut for (:func:`jsonl_gz_parts`). ``sha256`` is then the
    file's, taken as given instead of hashing the whole file for each part. ``gz_index``: a seek
    index of a gzipped part's file (:func:`jsonl_gz_parts`), so the part starts reading where
    it begins instead of inflating the file up to there; without it (or should it not load)
    the part is read the slow way, to the same records.
    """

    path: Path
    source_path: str
    size: int
    part: tuple[int, ...] | None = None
    sha256: str | None = None
    gz_index: str | None = None


# --------------------------------------------------------------------------- names


def display_name(name: str) -> str:
    """``name`` with bytes that are not UTF-8 (surrogate escapes) shown as ``\\xNN``: always valid text."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        pass
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that surrogateescape did not make
        return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _rel_posix(path: str, root: str) -> str:
    rel = os.path.relpath(path, root)
    return display_name(PurePosixPath(*Path(rel).parts).as_posix())


def _suffix_kind(name: str, extensions: list[str]) -> str | None:
    """The configured extension ``name`` ends with (longest match), or ``None``."""
    low = name.lower()
    best = None
    for ext in extensions:
        e = ext.lower()
        if low.endswith(e) and (best is None or len(e) > len(best)):
            best = e
    return best


def _is_glob(s: str) -> bool:
    return glob.has_magic(s)


def _glob_root(pattern: str) -> str:
    parts = Path(pattern).parts
    fixed: list[str] = []
    for part in parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    if not fixed:
        return "."
    if len(fixed) == len(parts):  # no magic at all (cannot happen for a glob)
        fixed = fixed[:-1] or ["."]
    return str(Path(*fixed))


# --------------------------------------------------------------------------- listing


@dataclass(slots=True)
class _Candidate:
    key: tuple[int, int]  # (device, inode): the same file however it was reached
    via_link: bool  # reached through a symbolic link (to the file or a directory above it)
    path: str
    source_path: str
    size: int
    root_name: str


@dataclass(slots=True)
class _DirTask:
    path: str
    prefix: str  # its source_path ("" for a root)
    key: tuple[int, int]
    ancestors: frozenset[tuple[int, int]]  # keys of it and every directory above it in this walk
    root_name: str
    via_link: bool


class _Lister:
    """Collects candidates from all arguments, then keeps one file per (device, inode).

    Directories are walked without entering symlinked directories first; those
    are walked after every argument's real tree, so when a file is reachable
    both directly and through a link, the direct path names it. Among files, one
    reached directly also wins over one reached through a link.
    """

    def __init__(self, cfg: ReadConfig) -> None:
        self.cfg = cfg
        self.candidates: list[_Candidate] = []
        self.rejects: list[Reject] = []
        self.seen_dirs: dict[tuple[int, int], str] = {}
        self.skip_dirs: set[tuple[int, int]] = set()
        self.deferred: list[_DirTask] = []

    def reject(self, source_path: str, reason: str, detail: str, size: int | None = None) -> None:
        self.rejects.append(Reject(source_path=source_path, reason=reason, detail=detail, size_bytes=size))

    def _excluded(self, source_path: str) -> bool:
        cfg = self.cfg
        if cfg.include_globs and not any(fnmatch.fnmatchcase(source_path, g) for g in cfg.include_globs):
            return True
        return any(fnmatch.fnmatchcase(source_path, g) for g in cfg.exclude_globs)

    def add_file(
        self, path: str, source_path: str, st: os.stat_result, root_name: str, via_link: bool
    ) -> None:
        if self._excluded(source_path):
            return
        if not stat.S_ISREG(st.st_mode):
            self.reject(source_path, "not_a_regular_file", f"{_mode_name(st.st_mode)}, not read")
            return
        if _suffix_kind(os.path.basename(path), self.cfg.extensions) is None:
            self.reject(
                source_path,
                "unsupported_type",
                f"name ends in none of {', '.join(self.cfg.extensions)}",
                st.st_size,
            )
            return
        self.candidates.append(
            _Candidate((st.st_dev, st.st_ino), via_link, path, source_path, st.st_size, root_name)
        )

    def add_argument(self, arg: str | Path) -> None:
        if isinstance(arg, str) and not os.path.lexists(arg) and _is_glob(arg):
            self._add_glob(arg)
            return
        path = os.fspath(arg)
        shown = display_name(path)
        try:
            st = os.stat(path)
        except OSError as exc:
            self._stat_failed(path, shown, exc)
            return
        if stat.S_ISDIR(st.st_mode):
            self._walk_root(path, st, root_name=display_name(os.path.basename(os.path.abspath(path))))
        else:
            name = display_name(os.path.basename(path))
            self.add_file(path, name, st, root_name="", via_link=os.path.islink(path))

    def _stat_failed(self, path: str, shown: str, exc: OSError) -> None:
        if exc.errno == errno.ELOOP:
            self.reject(shown, "symlink_loop", "symbolic link loops back to itself")
        elif isinstance(exc, FileNotFoundError):
            if os.path.islink(path):
                self.reject(shown, "broken_symlink", f"link target {_link_target(path)!r} does not exist")
            else:
                self.reject(shown, "not_found", "no such file or directory")
        else:
            self.reject(shown, "unreadable", _os_error(exc))

    def _add_glob(self, pattern: str) -> None:
        root = _glob_root(pattern)
        matches = sorted(glob.glob(pattern, recursive=True), key=os.fsencode)
        if not matches:
            self.reject(display_name(pattern), "no_match", "the glob matches no path")
            return
        walked: list[str] = []
        for m in matches:
            # `data/**` matches a directory and everything below it: the walk covers those
            if any(m.startswith(w) for w in walked):
                continue
            source_path = _rel_posix(m, root)
            try:
                st = os.stat(m)
            except OSError as exc:
                self._stat_failed(m, source_path, exc)
                continue
            if stat.S_ISDIR(st.st_mode):
                walked.append(os.path.join(m, ""))
                self._walk_root(m, st, root_name="", prefix="" if source_path == "." else source_path)
            else:
                self.add_file(m, source_path, st, root_name="", via_link=os.path.islink(m))

    def _walk_root(self, top: str, top_st: os.stat_result, root_name: str, prefix: str = "") -> None:
        top_key = (top_st.st_dev, top_st.st_ino)
        if top_key in self.skip_dirs:
            return
        shown_top = prefix or display_name(os.path.basename(os.path.abspath(top)))
        if top_key in self.seen_dirs:
            self.reject(
                shown_top, "duplicate_input", f"same directory as {self.seen_dirs[top_key]}; read once"
            )
            return
        self.seen_dirs[top_key] = shown_top
        self._walk([_DirTask(top, prefix, top_key, frozenset([top_key]), root_name, os.path.islink(top))])

    def walk_deferred_links(self) -> None:
        """Walk the symlinked directories met so far (and those they lead to), after the real trees."""
        while self.deferred:
            task = self.deferred.pop(0)
            first = self.seen_dirs.get(task.key)
            if first is not None:
                self.reject(task.prefix, "duplicate_input", f"same directory as {first}; read once")
                continue
            self.seen_dirs[task.key] = task.prefix
            self._walk([task])

    def _walk(self, stack: list[_DirTask]) -> None:
        """Depth-first, sorted by file-name bytes, iterative (no recursion limit), loop-safe."""
        while stack:
            d = stack.pop()
            dprefix, ancestors, root_name, via_link = d.prefix, d.ancestors, d.root_name, d.via_link
            try:
                with os.scandir(d.path) as it:
                    entries = sorted(it, key=lambda e: os.fsencode(e.name))
            except OSError as exc:
                self.reject(dprefix or display_name(d.path), "unreadable", _os_error(exc))
                continue
            if self.cfg.skip_output_dirs and any(
                e.name == OUTPUT_STATE_DIR and e.is_dir(follow_symlinks=False) for e in entries
            ):
                continue  # a presswash output directory: its files are our own outputs
            subdirs: list[_DirTask] = []
            for entry in entries:
                if self.cfg.skip_hidden and entry.name.startswith("."):
                    continue
                rel = f"{dprefix}/{display_name(entry.name)}" if dprefix else display_name(entry.name)
                is_link = entry.is_symlink()
                if is_link and not self.cfg.follow_symlinks:
                    if not self._excluded(rel):
                        self.reject(
                            rel, "symlink_skipped", f"link to {_link_target(entry.path)!r} not followed"
                        )
                    continue
                try:
                    st = os.stat(entry.path)
                except OSError as exc:
                    self._stat_failed(entry.path, rel, exc)
                    continue
                if not stat.S_ISDIR(st.st_mode):
                    self.add_file(entry.path, rel, st, root_name, via_link or is_link)
                    continue
                key = (st.st_dev, st.st_ino)
                if key in self.skip_dirs:
                    continue
                if key in ancestors:
                    self.reject(
                        rel, "symlink_loop", f"leads back to {self.seen_dirs.get(key, 'an ancestor')}"
                    )
                    continue
                task = _DirTask(entry.path, rel, key, ancestors | {key}, root_name, via_link or is_link)
                if is_link:
                    self.deferred.append(task)  # walked after every real directory
                    continue
                if key in self.seen_dirs:
                    self.reject(rel, "duplicate_input", f"same directory as {self.seen_dirs[key]}; read once")
                    continue
                self.seen_dirs[key] = rel
                subdirs.append(task)
            # files of a directory come before its subdirectories, both in name order
            stack.extend(reversed(subdirs))

    def finish(self) -> list[InputFile]:
        """One file per (device, inode): the first reached directly, else the first reached at all."""
        winner: dict[tuple[int, int], int] = {}
        for i, c in enumerate(self.candidates):
            j = winner.get(c.key)
            if j is None or (self.candidates[j].via_link and not c.via_link):
                winner[c.key] = i
        files: list[InputFile] = []
        names: dict[int, str] = {}
        taken: set[str] = set()
        for i, c in enumerate(self.candidates):
            if winner[c.key] != i:
                continue
            name = c.source_path
            if name in taken and c.root_name:
                name = f"{c.root_name}/{c.source_path}"
            base, n = name, 1
            while name in taken:
                n += 1
                name = f"{base}~{n}"
            taken.add(name)
            names[i] = name
            files.append(InputFile(path=Path(c.path), source_path=name, size=c.size))
        for i, c in enumerate(self.candidates):
            w = winner[c.key]
            if w != i:
                self.reject(c.source_path, "duplicate_input", f"same file as {names[w]}; read once", c.size)
        return files


def _link_target(path: str) -> str:
    try:
        return display_name(os.readlink(path))
    except OSError:
        return "?"


def _mode_name(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file"
    return "not a regular file"


def _os_error(exc: OSError) -> str:
    name = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
    return f"{name}: {exc.strerror or exc}"


def list_inputs(
    inputs: list[str | Path], cfg: ReadConfig | None = None, *, skip_dirs: Iterable[str | Path] = ()
) -> tuple[list[InputFile], list[Reject]]:
    """Expand files, directories (recursed, sorted) and globs into input files and reject rows.

    Deterministic: arguments in the order given, each directory's files before its
    subdirectories, names sorted by their bytes. Never raises on odd paths.
    ``skip_dirs`` (e.g. the output directory, when it sits inside an input
    directory) are not walked into and give no reject rows.
    """
    lister = _Lister(cfg or ReadConfig())
    for d in skip_dirs:
        try:
            st = os.stat(d)
        except OSError:
            continue  # nothing there to skip
        lister.skip_dirs.add((st.st_dev, st.st_ino))
    for arg in inputs:
        lister.add_argument(arg)
    lister.walk_deferred_links()
    files = lister.finish()
    return files, lister.rejects


# --------------------------------------------------------------------------- byte checks

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"%PDF-", "PDF document"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"II*\x00", "TIFF image"),
    (b"MM\x00*", "TIFF image"),
    (b"OggS\x00", "Ogg media"),
    (b"fLaC", "FLAC audio"),
    (b"PK\x03\x04", "zip archive (or docx/xlsx/epub)"),
    (b"PK\x05\x06", "empty zip archive"),
    (b"\x1f\x8b", "gzip data"),
    (b"BZh11AY&SY", "bzip2 data"),
    (b"BZh21AY&SY", "bzip2 data"),
    (b"BZh31AY&SY", "bzip2 data"),
    (b"BZh41AY&SY", "bzip2 data"),
    (b"BZh51AY&SY", "bzip2 data"),
    (b"BZh61AY&SY", "bzip2 data"),
    (b"BZh71AY&SY", "bzip2 data"),
    (b"BZh81AY&SY", "bzip2 data"),
    (b"BZh91AY&SY", "bzip2 data"),
    (b"\xfd7zXZ\x00", "xz data"),
    (b"(\xb5/\xfd", "zstd data"),
    (b"7z\xbc\xaf\x27\x1c", "7z archive"),
    (b"Rar!\x1a\x07", "RAR archive"),
    (b"\x7fELF", "ELF executable"),
    (b"MZ\x90\x00", "Windows executable"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "OLE document (doc/xls)"),
    (b"SQLite format 3\x00", "SQLite database"),
    (b"\x00asm", "WebAssembly"),
    (b"wOFF", "WOFF font"),
    (b"wOF2", "WOFF2 font"),
)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def _signature(data: bytes) -> str | None:
    """The kind of binary file ``data`` starts like, or ``None``. Short signatures that could
    begin a line of text ("RIFF", "PAR1") are only trusted with the bytes that follow them."""
    for magic, what in _MAGIC:
        if data.startswith(magic):
            return what
    if data.startswith(b"RIFF") and data[8:12] in (b"WAVE", b"AVI ", b"WEBP"):
        return "RIFF media (WAV/AVI/WebP)"
    if data.startswith(b"PAR1") and data.endswith(b"PAR1") and len(data) >= 12:
        return "Parquet file"
    return None


# C0 controls that do not occur in text: all but \t \n \v \f \r and ESC.
_CONTROL_NOT_NUL = bytes([*range(0x01, 0x09), *range(0x0E, 0x1B), *range(0x1C, 0x20)])
_CJK_HIGH = np.zeros(256, dtype=bool)  # high bytes of UTF-16 code units of CJK text
_CJK_HIGH[[0x20, 0x30, 0xFF, *range(0x4E, 0xA0)]] = True
_SCAN_BLOCK = 8 * _MIB


@dataclass(slots=True)
class ByteSniff:
    """What a cheap look at a document's bytes says, before any decoding."""

    binary: str | None  # why the bytes are not text, or None
    wide: bool  # looks like UTF-16/32 (NULs and control bytes belong to the encoding)
    nuls: int  # NUL bytes in the data


def sniff_bytes(data: bytes, cfg: ReadConfig) -> ByteSniff:
    """Binary or text, and whether NUL bytes are part of a wide (UTF-16/32) encoding.

    Cheap and conservative: a signature at the start, mostly NUL bytes, or a high
    share of other control bytes. Data that looks like UTF-16/32 (BOM, NULs in
    fixed byte columns, CJK high bytes in one column) is left to the decoder,
    which knows those encodings.
    """
    what = _signature(data)
    if what is not None:
        return ByteSniff(f"starts with the signature of a {what}", False, 0)
    if data.startswith(_BOMS[1:]):
        return ByteSniff(None, True, 0)
    body = data.rstrip(b"\x00")
    trailing = len(data) - len(body)
    if not body:
        return ByteSniff(f"only NUL bytes ({len(data)})", False, len(data))
    n = len(body)
    nuls = body.count(0)
    # bytes.translate runs in C at memory speed: far cheaper than a numpy histogram
    controls = n - len(body.translate(None, _CONTROL_NOT_NUL))
    too_many_controls = controls >= cfg.binary_control_ratio * max(n - nuls, 1)
    if nuls + trailing == 0 and not too_many_controls:
        return ByteSniff(None, False, 0)
    # Only now (NULs or controls present) look at the byte columns.
    col_nul = np.zeros(4, dtype=np.int64)  # NUL bytes by position mod 4
    col_cjk = np.zeros(2, dtype=np.int64)  # UTF-16 high bytes of CJK text, by parity
    col_8bit = np.zeros(2, dtype=np.int64)  # bytes >= 0x80, by parity
    view = memoryview(body)
    for off in range(0, n, _SCAN_BLOCK):
        arr = np.frombuffer(view[off : off + _SCAN_BLOCK], dtype=np.uint8)
        nul = arr == 0
        hi = _CJK_HIGH[arr]
        eight = arr >= 0x80
        for r in range(4):
            col_nul[(off + r) % 4] += int(np.count_nonzero(nul[r::4]))
        for r in range(2):
            col_cjk[(off + r) % 2] += int(np.count_nonzero(hi[r::2]))
            col_8bit[(off + r) % 2] += int(np.count_nonzero(eight[r::2]))
    if _looks_wide(n, nuls, col_nul, col_cjk, col_8bit):
        return ByteSniff(None, True, nuls + trailing)
    if nuls >= 0.5 * n:
        return ByteSniff(f"mostly NUL bytes ({nuls + trailing} of {len(data)})", False, nuls + trailing)
    if too_many_controls:
        # among the non-NUL bytes: ~10% in random data, ~0 in text
        share = controls / max(n - nuls, 1)
        return ByteSniff(
            f"{share:.0%} control bytes (binary_control_ratio={cfg.binary_control_ratio:g})",
            False,
            nuls + trailing,
        )
    return ByteSniff(None, False, nuls + trailing)


def _looks_wide(n: int, nuls: int, col_nul: np.ndarray, col_cjk: np.ndarray, col_8bit: np.ndarray) -> bool:
    """UTF-16 or UTF-32 by byte columns (no BOM)."""
    half, quarter = n / 2, n / 4
    # UTF-16 ASCII-heavy text: many NULs, all in one of the two byte columns.
    if nuls >= 0.1 * n and max(col_nul[0] + col_nul[2], col_nul[1] + col_nul[3]) >= 0.95 * nuls:
        return True
    # UTF-32: one byte column (the high byte) all NUL, another (the low byte) almost never.
    if max(col_nul) >= 0.95 * quarter and min(col_nul) <= 0.05 * quarter:
        return True
    # UTF-16 Chinese: one column mostly CJK high bytes (or NUL for ASCII in between), the
    # other (low bytes) spread over all values, so many of them >= 0x80.
    for p in (0, 1):
        high = col_cjk[p] + col_nul[p] + col_nul[p + 2]
        if high >= 0.6 * half and col_8bit[1 - p] >= 0.2 * half:
            return True
    return False


def binary_reason(data: bytes, cfg: ReadConfig) -> str | None:
    """Why ``data`` is not text (the detail of a ``binary`` reject), or ``None``."""
    return sniff_bytes(data, cfg).binary


# Events of one document beyond this many lines are summed up in one whole-file event.
_MAX_LINE_EVENTS = 200
_DOC_EVENTS = "events" in SourceDoc.__dataclass_fields__


def strip_nul_bytes(data: bytes) -> tuple[bytes, list[Event]]:
    """Remove NUL bytes from ASCII-compatible text; one event per source line that had some.

    Line numbers count ``\\r\\n``, lone ``\\r`` and ``\\n`` as one break each, like
    :func:`cleaning.pipeline.split_lines`, in the stripped data.
    """
    if b"\x00" not in data:
        return data, []
    arr = np.frombuffer(data, dtype=np.uint8)
    nul_pos = np.flatnonzero(arr == 0)
    stripped = data.replace(b"\x00", b"")
    s = np.frombuffer(stripped, dtype=np.uint8)
    is_cr = s == 13
    lf_alone = (s == 10) & ~np.concatenate(([False], is_cr[:-1]))
    breaks = np.flatnonzero(is_cr | lf_alone)
    # position of each NUL in the stripped data (the byte that followed it)
    q = nul_pos - np.arange(len(nul_pos))
    lines = 1 + np.searchsorted(breaks, q, side="left")
    # NULs after the final line break belong to the last line (no line follows it).
    n_lines = len(breaks) + (0 if stripped.endswith((b"\n", b"\r")) else 1)
    lines = np.minimum(lines, max(n_lines, 1))
    uniq, counts = np.unique(lines, return_counts=True)
    events = [
        Event(RULE_STRIP_NUL, STAGE, f"removed {int(c)} NUL byte{'s' if c > 1 else ''}", int(ln), int(ln))
        for ln, c in zip(uniq[:_MAX_LINE_EVENTS], counts[:_MAX_LINE_EVENTS], strict=True)
    ]
    events.append(
        Event(RULE_STRIP_NUL, STAGE, f"removed {len(nul_pos)} NUL bytes on {len(uniq)} lines in all")
    )
    return stripped, events


class _LineTracker:
    """Longest run of bytes without \\n or \\r, fed chunk by chunk."""

    def __init__(self) -> None:
        self.run = 0
        self.longest = 0

    def feed(self, chunk: bytes | memoryview) -> None:
        view = memoryview(chunk)
        for off in range(0, len(view), _SCAN_BLOCK):
            arr = np.frombuffer(view[off : off + _SCAN_BLOCK], dtype=np.uint8)
            idx = np.flatnonzero((arr == 10) | (arr == 13))
            if idx.size == 0:
                self.run += len(arr)
            else:
                self.longest = max(self.longest, self.run + int(idx[0]))
                if idx.size > 1:
                    self.longest = max(self.longest, int((np.diff(idx) - 1).max()))
                self.run = len(arr) - int(idx[-1]) - 1
            self.longest = max(self.longest, self.run)


def longest_line_bytes(data: bytes) -> int:
    """Longest line of ``data`` in bytes (``\\r\\n``, ``\\r`` and ``\\n`` end a line)."""
    if len(data) <= _SCAN_BLOCK:
        # bytes.splitlines splits on exactly these three; in C, fast for small documents
        return max(map(len, data.splitlines()), default=0)
    t = _LineTracker()
    t.feed(data)
    return t.longest


# --------------------------------------------------------------------------- reading


class _Rejected(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _open(path: Path) -> BinaryIO:
    # O_NONBLOCK: if a FIFO took the file's place since listing, open must not block.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _Rejected("unreadable", f"{_mode_name(st.st_mode)} since it was listed")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _open_error(exc: OSError) -> tuple[str, str]:
    if isinstance(exc, FileNotFoundError):
        return "vanished", "the file was removed after it was listed"
    return "unreadable", _os_error(exc)


def _sha256_file(path: Path) -> str:
    with _open(path) as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _input_sha256(f: InputFile) -> str:
    """The SHA-256 the documents of ``f`` carry: the plan's for a part (hashing the whole file for
    each part would read it once a part), else the file's, hashed now."""
    return f.sha256 if f.part is not None and f.sha256 else _sha256_file(f.path)


_RATIO_STEP = 16 * 1024


class _HashingReader(io.RawIOBase):
    """Reads through ``fh``, hashing and counting every byte read."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.sha = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        # Small reads, so `count` follows what the decompressor has consumed closely
        # and the compression-ratio check fires soon after min_ratio_check_bytes.
        data = self.fh.read(min(len(b), _RATIO_STEP))
        n = len(data)
        b[:n] = data
        self.sha.update(data)
        self.count += n
        return n

    def drain(self) -> None:
        while chunk := self.fh.read(_CHUNK):
            self.sha.update(chunk)
            self.count += len(chunk)


def _check_ratio(out: int, compressed: int, cfg: ReadConfig) -> bool:
    return out > cfg.min_ratio_check_bytes and out > cfg.max_compression_ratio * max(compressed, 1)


def _verify_gzip(path: Path, cfg: ReadConfig) -> tuple[str, int, _Rejected | None]:
    """First pass over a .gz file: hash the raw bytes and inflate it all, keeping nothing.

    Returns (sha256 of the raw file, decompressed size, the problem if any). The
    whole stream is checked before any document is produced, so a truncated or
    corrupt file is rejected as one and never half-read.
    """
    with _open(path) as fh:
        raw = _HashingReader(fh)
        out = 0
        problem: _Rejected | None = None
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                while chunk := gz.read(_CHUNK):
                    out += len(chunk)
                    if out > cfg.max_decompressed_bytes:
                        problem = _Rejected(
                            "gzip_bomb",
                            f"inflates beyond max_decompressed_bytes={cfg.max_decompressed_bytes}",
                        )
                        break
                    if _check_ratio(out, raw.count, cfg):
                        problem = _Rejected(
                            "gzip_bomb",
                            f"inflated {out} bytes from {raw.count}: "
                            f"ratio beyond {cfg.max_compression_ratio:g}",
                        )
                        break
        except EOFError as exc:
            problem = _Rejected("gzip_truncated", f"stream ends early after {out} inflated bytes ({exc})")
        except (gzip.BadGzipFile, zlib.error) as exc:
            problem = _Rejected("gzip_corrupt", f"{exc} (after {out} inflated bytes)")
        raw.drain()
        return raw.sha.hexdigest(), out, problem


def _text_doc(source_path: str, sha: str, data: bytes, cfg: ReadConfig) -> SourceDoc | Reject:
    """Checks shared by every byte document (.txt, .txt.gz, zip member)."""
    size = len(data)
    if not data.strip():
        what = "zero bytes" if not data else f"{size} bytes of whitespace only"
        return Reject(source_path, "empty", what, sha, size)
    sniff = sniff_bytes(data, cfg)
    if sniff.binary is not None:
        return Reject(source_path, "binary", sniff.binary, sha, size)
    events: list[Event] = []
    if sniff.nuls and not sniff.wide:
        data, events = strip_nul_bytes(data)
        if not data.strip():
            return Reject(source_path, "empty", f"{size} bytes of NULs and whitespace only", sha, size)
    # no line is longer than the whole document: most pages need no scan of their lines
    longest = longest_line_bytes(data) if len(data) > cfg.max_line_bytes else 0
    if longest > cfg.max_line_bytes:
        return Reject(
            source_path,
            "line_too_long",
            f"a line of {longest} bytes (max_line_bytes={cfg.max_line_bytes})",
            sha,
            size,
        )
    if events and _DOC_EVENTS:
        return SourceDoc(source_path=source_path, source_sha256=sha, data=data, events=events)  # type: ignore[call-arg]
    return SourceDoc(source_path=source_path, source_sha256=sha, data=data)


def _read_txt(f: InputFile, cfg: ReadConfig) -> Iterator[SourceDoc | Reject]:
    with _open(f.path) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > cfg.max_file_bytes:
            sha = hashlib.file_digest(fh, "sha256").hexdigest()
            yield Reject(
                f.source_path, "too_large", f"{size} bytes (max_file_bytes={cfg.max_file_bytes})", sha, size
            )
            return
        # ask for the size fstat gave (and a byte to see it grew): a read of max_file_bytes + 1
        # makes Python allocate that much for every page and give it back
        want = min(size, cfg.max_file_bytes) + 1
        data = fh.read(want)
        if len(data) == want:  # grew since fstat: the rest, up to the same limit as ever
            data += fh.read(cfg.max_file_bytes + 1 - len(data))
        if len(data) > cfg.max_file_bytes:  # grew since fstat
            yield Reject(f.source_path, "too_large", f"grew beyond max_file_bytes={cfg.max_file_bytes}")
            return
    yield _text_doc(f.source_path, hashlib.sha256(data).hexdigest(), data, cfg)


def _inflate_gzip_bytes(fileobj: BinaryIO, limit: int, compressed: int, cfg: ReadConfig, bomb: str) -> bytes:
    """Inflate a gzip stream into memory, refusing beyond ``limit`` bytes or the ratio limit."""
    chunks: list[bytes] = []
    out = 0
    with gzip.GzipFile(fileobj=fileobj, mode="rb") as gz:
        while chunk := gz.read(_CHUNK):
            out += len(chunk)
            if out > limit:
                raise _Rejected("too_large", f"inflates beyond max_file_bytes={limit}")
            if _check_ratio(out, compressed, cfg):
                raise _Rejected(bomb, f"inflated {out} bytes from {compressed}: ratio beyond limit")
            chunks.append(chunk)
    return b"".join(chunks)


def _read_txt_gz(f: InputFile, cfg: ReadConfig) -> Iterator[SourceDoc | Reject]:
    """One pass: hash the raw bytes while inflating into memory (up to max_file_bytes)."""
    with _open(f.path) as fh:
        raw = _HashingReader(fh)
        chunks: list[bytes] = []
        out = 0
        problem: _Rejected | None = None
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                while chunk := gz.read(_CHUNK):
                    out += len(chunk)
                    if _check_ratio(out, raw.count, cfg):
                        problem = _Rejected(
                            "gzip_bomb",
                            f"inflated {out} bytes from {raw.count}: "
                            f"ratio beyond {cfg.max_compression_ratio:g}",
                        )
                        break
                    if out > cfg.max_file_bytes:
                        problem = _Rejected(
                            "too_large", f"inflates beyond max_file_bytes={cfg.max_file_bytes}"
                        )
                        break
                    chunks.append(chunk)
        except EOFError as exc:
            problem = _Rejected("gzip_truncated", f"stream ends early after {out} inflated bytes ({exc})")
        except (gzip.BadGzipFile, zlib.error) as exc:
            problem = _Rejected("gzip_corrupt", f"{exc} (after {out} inflated bytes)")
        chunks = chunks if problem is None else []
        raw.drain()
    sha = raw.sha.hexdigest()
    if problem is not None:
        yield Reject(f.source_path, problem.reason, problem.detail, sha, raw.count)
        return
    yield _text_doc(f.source_path, sha, b"".join(chunks), cfg)


# ----- JSONL


def _replace_surrogates(s: str) -> str:
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in s)


def _clean_strings(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return _replace_surrogates(value)
    if isinstance(value, list):
        return [_clean_strings(v) for v in value]
    if isinstance(value, dict):
        return {_clean_strings(k): _clean_strings(v) for k, v in value.items()}
    return value


def _jsonl_record(
    line: str, lineno: int, base: str, sha: str, size: int, cfg: ReadConfig
) -> SourceDoc | Reject:
    path = f"{base}#L{lineno}"
    try:
        # strict=False: raw tabs and other control characters inside strings, which many
        # JSONL writers leave unescaped, are accepted
        obj = json.loads(line, strict=False)
    except (ValueError, RecursionError) as exc:
        msg = str(exc) if not isinstance(exc, RecursionError) else "nested too deeply"
        return Reject(path, "jsonl_invalid", f"not JSON: {msg[:200]}", sha, size)
    if not isinstance(obj, dict):
        return Reject(path, "jsonl_invalid", f"a JSON {type(obj).__name__}, not an object", sha, size)
    if "\\ud" in line or "\\uD" in line:  # only \uD800-\uDFFF escapes can make lone surrogates
        obj = _clean_strings(obj)
    field = next((k for k in cfg.jsonl_text_fields if isinstance(obj.get(k), str)), None)
    if field is None:
        present = [k for k in cfg.jsonl_text_fields if k in obj]
        if present:
            detail = ", ".join(f"{k!r} is {type(obj[k]).__name__}" for k in present) + ", not a string"
        else:
            detail = f"none of the fields {cfg.jsonl_text_fields} (has: {', '.join(sorted(obj))[:200]})"
        return Reject(path, "jsonl_no_text", detail, sha, size)
    text = obj.pop(field)
    if not text.strip():
        return Reject(path, "empty", f"field {field!r} holds no text", sha, size)
    if len(text) * 4 > cfg.max_line_bytes:
        longest = longest_line_bytes(text.encode("utf-8"))
        if longest > cfg.max_line_bytes:
            return Reject(
                path,
                "line_too_long",
                f"a text line of {longest} bytes (max_line_bytes={cfg.max_line_bytes})",
                sha,
                size,
            )
    return SourceDoc(source_path=path, source_sha256=sha, data=text, metadata=obj)


def _iter_lines(
    stream: Any, limit: int, lineno: int = 0, stop: int | None = None
) -> Iterator[tuple[int, Any, int]]:
    """(line number, line or None when longer than ``limit``, its length) without unbounded reads.

    ``stream`` is a binary or a text stream; lengths are in its units (bytes or characters).
    ``lineno``: the lines before the stream's position; ``stop``: read no line that starts at or
    after this many bytes (a part of a binary stream).
    """
    nl = "\n" if isinstance(stream, io.TextIOBase) else b"\n"
    pos = 0
    while True:
        if stop is not None and pos >= stop:
            return
        line = stream.readline(limit + 1)
        if not line:
            return
        pos += len(line)
        lineno += 1
        if len(line) > limit and not line.endswith(nl):
            total = len(line)
            while True:  # skip the rest of the over-long line in bounded pieces
                rest = stream.readline(_CHUNK)
                total += len(rest)
                pos += len(rest)
                if not rest or rest.endswith(nl):
                    break
            yield lineno, None, total
            continue
        yield lineno, line.rstrip("\r\n" if isinstance(line, str) else b"\r\n"), len(line)


def _jsonl_docs(
    stream: io.BufferedReader,
    base: str,
    sha: str,
    cfg: ReadConfig,
    part: tuple[int, ...] | None = None,
) -> Iterator[SourceDoc | Reject]:
    """Records of a JSONL byte stream: UTF-8 (JSON's encoding), or UTF-16 with a byte-order mark.

    ``part``: ``(start, stop, lines)`` of :func:`jsonl_parts`, the stream at byte 0 of the file.
    """
    if part is not None and part[0] > 0:
        # a later part of a file jsonl_parts cut (UTF-8, records in it): its lines from start
        stream.seek(part[0])
        for lineno, line, length in _iter_lines(stream, cfg.max_record_bytes, part[2], part[1] - part[0]):
            yield from _jsonl_line(line, lineno, length, base, sha, cfg)
        return
    head = stream.peek(65536)[:65536]
    lines: Any = stream
    limit = cfg.max_record_bytes
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # What Windows PowerShell 5 writes by default; the BOM tells the byte order.
        lines = io.TextIOWrapper(stream, encoding="utf-16", errors="replace", newline="")
        limit = cfg.max_record_bytes // 2
    elif head:
        sniff = sniff_bytes(head, cfg)
        if sniff.binary is not None:
            yield Reject(base, "binary", sniff.binary, sha)
            return
        if sniff.wide:
            yield Reject(
                base, "jsonl_invalid", "UTF-16/32 without a byte-order mark; JSONL must be UTF-8", sha
            )
            return
    records = 0
    stop = part[1] if part is not None else None
    for lineno, line, length in _iter_lines(lines, limit, 0, stop if lines is stream else None):
        for got in _jsonl_line(line, lineno, length, base, sha, cfg):
            records += 1
            yield got
    if records == 0 and part is None:
        yield Reject(base, "empty", "no JSONL records", sha)


def _jsonl_line(
    line: Any, lineno: int, length: int, base: str, sha: str, cfg: ReadConfig
) -> Iterator[SourceDoc | Reject]:
    """The record of one line of :func:`_iter_lines` (none for a blank line)."""
    if line is None:
        yield Reject(
            f"{base}#L{lineno}",
            "line_too_long",
            f"record longer than max_record_bytes={cfg.max_record_bytes}",
            sha,
            length,
        )
        return
    if isinstance(line, bytes):
        if lineno == 1 and line.startswith(codecs.BOM_UTF8):
            line = line[3:]
        if not line.strip():
            return  # blank lines separate nothing and are no records
        try:
            text_line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield Reject(f"{base}#L{lineno}", "jsonl_invalid", f"not UTF-8 at byte {exc.start}", sha, length)
            return
    else:
        text_line = line.lstrip("\ufeff") if lineno == 1 else line
        if not text_line.strip():
            return
    yield _jsonl_record(text_line, lineno, base, sha, length, cfg)


def _read_jsonl(f: InputFile, cfg: ReadConfig) -> Iterator[SourceDoc | Reject]:
    sha = _input_sha256(f)
    with _open(f.path) as fh:
        stream = io.BufferedReader(fh, _CHUNK)  # type: ignore[arg-type]
        yield from _jsonl_docs(stream, f.source_path, sha, cfg, f.part)


def _utf8_lines(head: bytes, cfg: ReadConfig) -> bool:
    """Whether :func:`_jsonl_docs` reads a JSONL stream opening with ``head`` (its first 64 KiB)
    as UTF-8 lines, the only reading a cut into parts keeps: not UTF-16 (transcoded whole), not
    binary or BOM-less wide text (rejected whole)."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    sniff = sniff_bytes(head, cfg)
    return sniff.binary is None and not sniff.wide


def jsonl_parts(path: Path, cfg: ReadConfig, part_bytes: int) -> list[tuple[tuple[int, ...], int]] | None:
    """Cut a JSONL file at line ends into parts of about ``part_bytes`` bytes, so that shards can
    read one large file in parallel: ``((start, stop, lines before), bytes)`` per part, one pass
    over the file counting line feeds.

    ``None`` when the file is read whole: it fits one part, its head is no UTF-8 JSONL (a
    UTF-16 file, binary data: its reading rejects or transcodes it whole), or it holds no
    record (its reading rejects it as empty).
    """
    try:
        with _open(path) as fh:
            size = os.fstat(fh.fileno()).st_size
            if size <= part_bytes:
                return None
            if not _utf8_lines(fh.read(65536), cfg):
                return None
            fh.seek(0)
            cuts: list[tuple[int, int]] = [(0, 0)]  # (byte, lines before it)
            pos = lines = 0
            target = part_bytes
            blank = True
            while chunk := fh.read(_CHUNK):
                # blank as its reading sees it: a BOM opening the file is no record either
                text = chunk[3:] if pos == 0 and chunk.startswith(codecs.BOM_UTF8) else chunk
                blank = blank and not text.strip()
                while target < pos + len(chunk):
                    at = chunk.find(b"\n", max(target - pos, 0))
                    if at < 0:
                        break  # the line goes on in the next chunk
                    cut = pos + at + 1
                    if cut < size:
                        cuts.append((cut, lines + chunk.count(b"\n", 0, at + 1)))
                    target = cut + part_bytes
                lines += chunk.count(b"\n")
                pos += len(chunk)
    except (OSError, _Rejected):
        return None
    if blank or len(cuts) < 2:
        return None
    bounds = [*cuts, (size, lines)]
    return [((a, b, n), b - a) for (a, n), (b, _) in itertools.pairwise(bounds)]


def _read_jsonl_gz(f: InputFile, cfg: ReadConfig) -> Iterator[SourceDoc | Reject]:
    if f.part is not None:
        yield from _read_jsonl_gz_part(f, cfg)
        return
    sha, _out, problem = _verify_gzip(f.path, cfg)
    if problem is not None:
        yield Reject(f.source_path, problem.reason, problem.detail, sha, f.size)
        return
    with _open(f.path) as fh, gzip.GzipFile(fileobj=fh, mode="rb") as gz:
        try:
            yield from _jsonl_docs(io.BufferedReader(gz, _CHUNK), f.source_path, sha, cfg)  # type: ignore[arg-type]
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:  # changed since the first pass
            yield Reject(f.source_path, "gzip_corrupt", f"changed while read: {exc}", sha, f.size)


# A gzipped JSONL file is cut (jsonl_gz_parts) into parts of about part_bytes *compressed* bytes,
# as a whole .gz file weighs its compressed size in the shard cut. The compressed bytes are fed to
# the inflater in pieces of a size that depends on part_bytes alone (an eighth of it, within these
# bounds), so a cut depends on the file and part_bytes alone.
_GZ_FEED = 16 * 1024
_GZ_FEED_MIN = 256
# Inflated bytes between the points of a part's seek index: a part starts by inflating at most
# this much past the point before it (about 10 ms). The index keeps 32 KiB of window a point.
GZ_INDEX_SPACING = 4 * _MIB


def _inflated(fh: BinaryIO, feed: int) -> Iterator[tuple[int, bytes]]:
    """(compressed bytes fed so far, what they inflated to) of a gzip file of one or more members
    (NUL padding between them is skipped, as Python's gzip does), fed ``feed`` bytes at a time.
    Raises ``zlib.error`` on a corrupt stream and ``EOFError`` on a truncated one."""
    inflater = zlib.decompressobj(wbits=31)
    fed = 0
    while data := fh.read(feed):
        fed += len(data)
        while data:
            if inflater.eof:  # a member ended inside this feed: padding, or the next member
                data = data.lstrip(b"\x00")
                if not data:
                    break
                inflater = zlib.decompressobj(wbits=31)
            yield fed, inflater.decompress(data)
            data = inflater.unused_data if inflater.eof else b""
    if not inflater.eof:
        raise EOFError("the stream ends before its end marker")


def jsonl_gz_parts(path: Path, cfg: ReadConfig, part_bytes: int) -> list[tuple[tuple[int, ...], int]] | None:
    """Cut a gzipped JSONL file at line ends into parts of about ``part_bytes`` compressed bytes:
    ``((start, stop, lines before, compressed size), compressed bytes)`` per part, ``start`` and
    ``stop`` in inflated bytes. One pass inflates the whole file, with the checks the whole
    file's reading makes first (:func:`_verify_gzip`), so a part is read without them. The
    parts are read faster with the file's seek index (:func:`write_gz_index`).

    ``None`` when the file is read whole: it fits one part, or its reading would reject it
    whole or read it other than as UTF-8 lines (a truncated, corrupt, oversized or bomb-like
    stream; a UTF-16, binary or blank file).
    """
    try:
        with _open(path) as fh:
            size = os.fstat(fh.fileno()).st_size
            if size <= part_bytes:
                return None
            cuts: list[tuple[int, int, int]] = [(0, 0, 0)]  # (inflated byte, lines before, fed)
            head = b""  # the first 64 KiB inflated, sniffed as the whole reading sniffs them
            out = lines = 0
            target = part_bytes
            blank_after_head = True
            for fed, chunk in _inflated(fh, min(_GZ_FEED, max(_GZ_FEED_MIN, part_bytes // 8))):
                if len(head) < 65536:
                    head += chunk[: 65536 - len(head)]
                if blank_after_head and out + len(chunk) > 65536:
                    blank_after_head = not chunk[max(65536 - out, 0) :].strip()
                if fed >= target and (at := chunk.find(b"\n")) >= 0:
                    # the first line end the feeds from the target on inflate to
                    cuts.append((out + at + 1, lines + chunk.count(b"\n", 0, at + 1), fed))
                    target = fed + part_bytes
                out += len(chunk)
                lines += chunk.count(b"\n")
                # the whole reading's limits, with room: its ratio check runs at other points
                if out > cfg.max_decompressed_bytes or _check_ratio(2 * out, fed, cfg):
                    return None
    except (OSError, EOFError, zlib.error):
        return None
    # blank as its reading sees it (rejected whole as empty): a BOM opening the file is no record
    blank = blank_after_head and not head.removeprefix(codecs.BOM_UTF8).strip()
    if blank or not _utf8_lines(head, cfg):
        return None
    if cuts[-1][0] >= out:  # a cut at the very end starts no part
        cuts.pop()
    if len(cuts) < 2:
        return None
    bounds = [*cuts, (out, lines, size)]
    return [((a, b, n, size), c2 - c1) for (a, n, c1), (b, _, c2) in itertools.pairwise(bounds)]


def write_gz_index(path: Path, index_path: Path) -> bool:
    """Write the seek index of a gzip file (``indexed_gzip``) for the parts of
    :func:`jsonl_gz_parts` to start from (``InputFile.gz_index``): one more pass inflating the
    file, the index written atomically. False when it cannot be made; the parts are then read
    without it, to the same records."""
    try:
        import indexed_gzip
    except ImportError:
        return False
    index_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = index_path.with_name(f".{index_path.name}.tmp-{os.getpid()}")
    try:
        with indexed_gzip.IndexedGzipFile(str(path), spacing=GZ_INDEX_SPACING) as gz:
            gz.build_full_index()
            gz.export_index(str(tmp))
        os.replace(tmp, index_path)
    except Exception:  # ZranError, OSError: the parts read the slow way
        tmp.unlink(missing_ok=True)
        return False
    return True


def _gz_stream(fh: BinaryIO, index: str | None) -> io.BufferedIOBase:
    """The inflated bytes of the gzip file ``fh``, seekable: through its seek index when there is
    one that loads, else through Python's gzip (a seek forward inflates up to the offset)."""
    if index is not None and os.path.exists(index):
        try:
            import indexed_gzip

            return indexed_gzip.IndexedGzipFile(fileobj=fh, index_file=index, buffer_size=_CHUNK)
        except Exception:  # ImportError, ZranError: a missing or damaged index costs time only
            fh.seek(0)
    return io.BufferedReader(gzip.GzipFile(fileobj=fh, mode="rb"), _CHUNK)  # type: ignore[arg-type]


def _read_jsonl_gz_part(f: InputFile, cfg: ReadConfig) -> Iterator[SourceDoc | Reject]:
    """The records of a part of a gzipped JSONL file (:func:`jsonl_gz_parts`, which checked the
    whole stream when it cut it)."""
    sha = _input_sha256(f)
    start, stop, lines, compressed = f.part  # type: ignore[misc]
    with _open(f.path) as fh:
        now = os.fstat(fh.fileno()).st_size
        if now != compressed:
            detail = f"changed while read: {now} bytes, {compressed} when the run was planned"
            yield Reject(f.source_path, "gzip_corrupt", detail, sha, now)
            return
        try:
            with _gz_stream(fh, f.gz_index) as stream:
                yield from _jsonl_docs(stream, f.source_path, sha, cfg, (start, stop, lines))  # type: ignore[arg-type]
        except Exception as exc:
            # the stream no longer inflates as it did when cut (the seek index's ZranError too)
            inflating = isinstance(exc, (EOFError, gzip.BadGzipFile, zlib.error))
            if not inflating and not type(exc).__module__.startswith("indexed_gzip"):
                raise
            yield Reject(f.source_path, "gzip_corrupt", f"changed while read: {exc}", sha, now)


# ----- zip


def _member_name(info: zipfile.ZipInfo) -> str:
    name = info.filename
    if info.flag_bits & 0x800:
        return display_name(name)
    # No UTF-8 flag: zipfile decoded the name bytes as cp437, but most tools write UTF-8, and
    # Chinese Windows tools GBK. Show the bytes like a file name: UTF-8, else escaped.
    try:
        raw = name.encode("cp437")
    except UnicodeEncodeError:
        return display_name(name)
    return raw.decode("utf-8", "backslashreplace")


def _unsafe_member(name: str) -> str | None:
    if "\\" in name:
        return "backslash in the name"
    if name.startswith("/"):
        return "absolute path"
    if len(name) >= 2 and name[1] == ":":
        return "drive letter"
    if ".." in name.split("/"):
        return "'..' component"
    if "\x00" in name:
        return "NUL in the name"
    return None


def _hidden_member(name: str) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in name.split("/") if p)


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int, cfg: ReadConfig) -> bytes:
    """Inflate one member into memory in chunks, never beyond the caps."""
    limit = min(cfg.max_file_bytes, budget)
    chunks: list[bytes] = []
    out = 0
    with zf.open(info) as m:
        while chunk := m.read(_CHUNK):
            out += len(chunk)
            if out > budget:
                raise _Rejected(
                    "zip_bomb", f"archive inflates beyond max_zip_total_bytes={cfg.max_zip_total_bytes}"
                )
            if out > limit:
                raise _Rejected("too_large", f"inflates beyond max_file_bytes={cfg.max_file_bytes}")
            if _check_ratio(out, info.compress_size, cfg):
                raise _Rejected(
                    "zip_bomb", f"inflated {out} bytes from {info.compress_size}: ratio beyond limit"
                )
            chunks.append(chunk)
    return b"".join(chunks)


def _read_zip(f: InputFile, cfg: ReadConfig) -> Iterator[SourceDoc | Reject]:
    sha = _input_sha256(f)
    with _open(f.path) as fh:
        declared = _declared_member_count(fh)
        if declared is not None and declared > cfg.max_zip_members:
            # checked before zipfile builds a ZipInfo per entry, which could exhaust memory
            yield Reject(
                f.source_path,
                "zip_too_many_members",
                f"{declared} members declared (max_zip_members={cfg.max_zip_members})",
                sha,
                f.size,
            )
            return
        try:
            zf = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError) as exc:
            yield Reject(f.source_path, "zip_corrupt", str(exc) or type(exc).__name__, sha, f.size)
            return
        with zf:
            yield from _zip_members(zf, f, sha, cfg, os.fstat(fh.fileno()).st_size)


def file_parts(path: Path, cfg: ReadConfig, part_bytes: int) -> list[tuple[tuple[int, ...], int]] | None:
    """The parts a large zip, JSONL or gzipped JSONL file is read in (:func:`zip_parts`,
    :func:`jsonl_parts`, :func:`jsonl_gz_parts`), or ``None`` for a file read whole (any other
    kind, or one those decline to cut)."""
    kind = _suffix_kind(path.name, cfg.extensions)
    if kind == ".zip":
        return zip_parts(path, cfg, part_bytes)
    if kind is not None and kind.endswith(".jsonl"):
        return jsonl_parts(path, cfg, part_bytes)
    if kind is not None and kind.endswith(".jsonl.gz"):
        return jsonl_gz_parts(path, cfg, part_bytes)
    return None


def zip_parts(path: Path, cfg: ReadConfig, part_bytes: int) -> list[tuple[tuple[int, ...], int]] | None:
    """Cut a zip archive's entries into parts of about ``part_bytes`` compressed bytes, so that
    shards can read one large archive in parallel: ``((start, stop), bytes)`` per part, the bytes
    adding up to the archive's size. Read from the central directory only.

    ``None`` when the archive is read whole: it fits one part, cannot be opened, or is one
    whose reading depends on what earlier members inflate to (gzip members, totals near the
    archive limits); reading it whole then reports it as before.
    """
    try:
        with _open(path) as fh:
            declared = _declared_member_count(fh)
            if declared is not None and declared > cfg.max_zip_members:
                return None
            size = os.fstat(fh.fileno()).st_size
            if size <= part_bytes:
                return None
            with zipfile.ZipFile(fh) as zf:
                infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError):
        return None
    total = sum(i.file_size for i in infos)
    if (
        len(infos) > cfg.max_zip_members
        or total > cfg.max_zip_total_bytes
        or _check_ratio(total, max(size, 1), cfg)
        or any(i.filename.lower().endswith(".gz") for i in infos)
    ):
        return None
    parts: list[tuple[tuple[int, ...], int]] = []
    start = acc = 0
    for k, info in enumerate(infos):
        if k > start and acc + info.compress_size > part_bytes:
            parts.append(((start, k), acc))
            start, acc = k, 0
        acc += info.compress_size
    parts.append(((start, len(infos)), acc))
    if len(parts) < 2:
        return None
    # local headers and the central directory: counted with the last part
    last, n = parts[-1]
    parts[-1] = (last, n + size - sum(p[1] for p in parts))
    return parts


def _declared_member_count(fh: BinaryIO) -> int | None:
    """Entry count from the end-of-central-directory record, or None if it cannot be read."""
    try:
        rec = zipfile._EndRecData(fh)  # type: ignore[attr-defined]
        return None if rec is None else int(rec[zipfile._ECD_ENTRIES_TOTAL])  # type: ignore[attr-defined]
    except Exception:  # a private helper: if it changes, the count is checked after opening instead
        return None
    finally:
        fh.seek(0)


def _zip_members(
    zf: zipfile.ZipFile, f: InputFile, sha: str, cfg: ReadConfig, archive_size: int
) -> Iterator[SourceDoc | Reject]:
    infos = zf.infolist()
    if len(infos) > cfg.max_zip_members:
        yield Reject(
            f.source_path,
            "zip_too_many_members",
            f"{len(infos)} members (max_zip_members={cfg.max_zip_members})",
            sha,
            f.size,
        )
        return
    # The archive as a whole: many small members, each too small for the ratio check, or
    # overlapping members (one compressed kernel referenced many times) add up here. Members
    # refused on their own (too large, too compressed) do not count, so they alone are refused.
    archive_size = max(archive_size, 1)
    declared = sum(
        i.file_size
        for i in infos
        if i.file_size <= cfg.max_file_bytes and not _check_ratio(i.file_size, i.compress_size, cfg)
    )
    if _check_ratio(declared, archive_size, cfg):
        yield Reject(
            f.source_path,
            "zip_bomb",
            f"members declare {declared} bytes in all from a {archive_size}-byte archive "
            f"(max_compression_ratio={cfg.max_compression_ratio:g})",
            sha,
            f.size,
        )
        return
    seen: set[str] = set()
    inflated = 0
    produced = 0
    last = True  # this reading reaches the archive's last entry
    if f.part is not None:
        # a part of the archive: the names and sizes of the members before it, from the central
        # directory, as reading them would have left them (zip_parts only cuts archives whose
        # members read to their declared sizes and stay within the budget)
        start, stop = f.part
        for info in infos[:start]:
            name = _member_name(info)
            safe = _unsafe_member(info.filename) is None
            if info.is_dir() or (safe and cfg.skip_hidden and _hidden_member(name)):
                continue
            produced += 1
            if safe and name not in seen:
                seen.add(name)
                inflated += info.file_size
        last = stop >= len(infos)
        infos = infos[start:stop]
    for info in infos:
        if info.is_dir():
            continue
        name = _member_name(info)
        path = f"{f.source_path}!{name}"

        def rej(reason: str, detail: str, path: str = path, info: zipfile.ZipInfo = info) -> Reject:
            return Reject(path, reason, detail, sha, info.file_size)

        unsafe = _unsafe_member(info.filename)  # the raw name: escapes add backslashes
        if unsafe is None and cfg.skip_hidden and _hidden_member(name):
            continue
        produced += 1
        if unsafe is not None:
            yield rej("zip_unsafe_path", f"{unsafe}: never extracted")
            continue
        if name in seen:
            yield rej("duplicate_input", "a second member with this name in the archive")
            continue
        seen.add(name)
        kind = _suffix_kind(name, cfg.extensions)
        if kind == ".zip":
            yield rej("nested_archive", "a zip inside a zip is not opened")
            continue
        if kind is None:
            yield rej("unsupported_type", f"name ends in none of {', '.join(cfg.extensions)}")
            continue
        if info.flag_bits & 0x1:
            yield rej("zip_encrypted", "encrypted member")
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            yield rej("unsupported_type", "a symbolic link stored in the archive, not a file")
            continue
        if info.file_size > cfg.max_file_bytes and not kind.endswith(".gz"):
            yield rej("too_large", f"declares {info.file_size} bytes (max_file_bytes={cfg.max_file_bytes})")
            continue
        if _check_ratio(info.file_size, info.compress_size, cfg):
            yield rej(
                "zip_bomb",
                f"declares {info.file_size} bytes from {info.compress_size} compressed "
                f"(max_compression_ratio={cfg.max_compression_ratio:g})",
            )
            continue
        budget = cfg.max_zip_total_bytes - inflated
        if info.file_size > budget or _check_ratio(inflated + info.file_size, archive_size, cfg):
            yield rej("zip_bomb", f"archive inflates beyond max_zip_total_bytes={cfg.max_zip_total_bytes}")
            continue
        try:
            data = _read_member(zf, info, budget, cfg)
            if kind.endswith(".gz"):
                data = _inflate_gzip_bytes(io.BytesIO(data), cfg.max_file_bytes, len(data), cfg, "zip_bomb")
        except _Rejected as exc:
            inflated += info.file_size
            yield rej(exc.reason, exc.detail)
            continue
        except NotImplementedError as exc:
            yield rej("zip_unsupported", str(exc))
            continue
        except RuntimeError as exc:  # zipfile: encrypted without password
            yield rej("zip_encrypted", str(exc))
            continue
        except EOFError as exc:
            yield rej(
                "gzip_truncated" if kind.endswith(".gz") else "zip_corrupt_member", str(exc) or "ends early"
            )
            continue
        except (zipfile.BadZipFile, zlib.error, gzip.BadGzipFile, ValueError, OSError) as exc:
            reason = "gzip_corrupt" if isinstance(exc, gzip.BadGzipFile) else "zip_corrupt_member"
            yield rej(reason, str(exc) or type(exc).__name__)
            continue
        inflated += len(data)
        if kind.endswith((".jsonl", ".jsonl.gz")):
            yield from _jsonl_docs(io.BufferedReader(io.BytesIO(data)), path, sha, cfg)
        else:
            yield _text_doc(path, sha, data, cfg)
    if produced == 0 and last:  # nothing in the whole archive (the last part counts all before it)
        yield Reject(f.source_path, "empty", "the archive holds no files", sha, f.size)


# ----- dispatch


def _reader_for(kind: str) -> Callable[[InputFile, ReadConfig], Iterator[SourceDoc | Reject]]:
    """Configured extensions map onto five readers; any other text extension (``.md``) reads as text."""
    if kind == ".zip":
        return _read_zip
    if kind.endswith(".jsonl.gz"):
        return _read_jsonl_gz
    if kind.endswith(".jsonl"):
        return _read_jsonl
    if kind.endswith(".gz"):
        return _read_txt_gz
    return _read_txt


def read_file(f: InputFile, cfg: ReadConfig | None = None) -> Iterator[SourceDoc | Reject]:
    """Documents of one input file, and reject rows for what cannot be read. Never raises on bad input.

    ``.txt``: one document of raw bytes. ``.jsonl``: one ``str`` document per record
    (``source_path#L<n>``). ``.gz`` of either: verified in a first pass, then
    streamed (a part of a ``.jsonl.gz``: verified by :func:`jsonl_gz_parts` when it was cut).
    ``.zip``: members read in memory (``archive.zip!member``). Every
    document carries the SHA-256 of the raw input file (the container for JSONL
    and zip), so a cache can key on it.
    """
    cfg = cfg or ReadConfig()
    kind = _suffix_kind(f.path.name, cfg.extensions)
    if kind is None:
        yield Reject(f.source_path, "unsupported_type", f"name ends in none of {', '.join(cfg.extensions)}")
        return
    reader = _reader_for(kind)
    try:
        yield from reader(f, cfg)
    except _Rejected as exc:
        yield Reject(f.source_path, exc.reason, exc.detail, None, f.size)
    except OSError as exc:
        reason, detail = _open_error(exc)
        yield Reject(f.source_path, reason, detail, None, f.size)
