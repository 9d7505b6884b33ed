"""Bad inputs (issue 7): each gives a reject row with a stable reason code, or a clean result,
and reading always goes on. Every input is created in a temporary directory by the test."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import struct
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from cleaning import reader
from cleaning.model import Reject, SourceDoc
from cleaning.reader import REASON_CODES, InputFile, ReadConfig, list_inputs, read_file

REPO = Path(__file__).resolve().parent.parent
CFG = ReadConfig()
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _read(path: Path, cfg: ReadConfig = CFG) -> list[SourceDoc | Reject]:
    files, rejects = list_inputs([path], cfg)
    assert not rejects, rejects
    (f,) = files
    return list(read_file(f, cfg))


def _reasons(items: list[SourceDoc | Reject]) -> list[str | None]:
    return [it.reason if isinstance(it, Reject) else None for it in items]


def _only_reject(path: Path, cfg: ReadConfig = CFG) -> Reject:
    items = _read(path, cfg)
    assert len(items) == 1 and isinstance(items[0], Reject), items
    assert items[0].reason in REASON_CODES
    return items[0]


# ---------------------------------------------------------------- empty and binary


@pytest.mark.parametrize(
    "name,data",
    [
        ("e.txt", b""),
        ("w.txt", b" \r\n\t\n"),
        ("e.jsonl", b""),
        ("blank.jsonl", b"\n\n"),
        ("e.txt.gz", gzip.compress(b"")),
        ("e.jsonl.gz", gzip.compress(b"\n")),
    ],
)
def test_empty_inputs(tmp_path: Path, name: str, data: bytes) -> None:
    assert _only_reject(_write(tmp_path / name, data)).reason == "empty"


def test_empty_zip_and_empty_jsonl_text(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "e.zip", "w"):
        pass
    assert _only_reject(tmp_path / "e.zip").reason == "empty"
    p = _write(tmp_path / "r.jsonl", '{"text": "  "}\n{"text": "ok"}\n')
    assert _reasons(_read(p)) == ["empty", None]


@pytest.mark.parametrize(
    "data",
    [PNG + bytes(range(256)) * 4, PDF, os.urandom(65536), b"\x00" * 5000, b"GIF89a" + b"\x01" * 100],
    ids=["png", "pdf", "random", "all-nul", "gif"],
)
def test_binary_files_are_rejected_before_decoding(tmp_path: Path, data: bytes) -> None:
    r = _only_reject(_write(tmp_path / "page.txt", data))
    assert r.reason == "binary"
    assert r.source_sha256 is not None and r.size_bytes == len(data)


def test_binary_inside_gzip_zip_and_jsonl(tmp_path: Path) -> None:
    assert _only_reject(_write(tmp_path / "a.txt.gz", gzip.compress(PNG))).reason == "binary"
    assert _only_reject(_write(tmp_path / "b.jsonl", os.urandom(4096))).reason == "binary"
    with zipfile.ZipFile(tmp_path / "c.zip", "w") as zf:
        zf.writestr("scan.txt", PDF)
        zf.writestr("text.txt", b"fine\n")
    assert _reasons(_read(tmp_path / "c.zip")) == ["binary", None]


# ---------------------------------------------------------------- gzip


def test_gzip_truncated_mid_stream_rejects_the_whole_file(tmp_path: Path) -> None:
    text = "\n".join(f"第{i}行，新闻正文。" for i in range(20000)).encode()
    gz = gzip.compress(text)
    r = _only_reject(_write(tmp_path / "p.txt.gz", gz[: len(gz) // 2]))
    assert r.reason == "gzip_truncated"
    # JSONL: records before the cut are not emitted either: the file is rejected as one.
    recs = b"".join(json.dumps({"text": f"记录{i}"}).encode() + b"\n" for i in range(20000))
    gz = gzip.compress(recs)
    r = _only_reject(_write(tmp_path / "r.jsonl.gz", gz[: len(gz) // 2]))
    assert r.reason == "gzip_truncated" and r.source_path == "r.jsonl.gz"


@pytest.mark.parametrize(
    "data",
    [
        b"this is not gzip at all\n",
        gzip.compress(b"hello\n")[:-8] + b"\x00\x00\x00\x00\x06\x00\x00\x00",  # bad CRC
        gzip.compress(b"hello\n") + b"trailing garbage",
    ],
    ids=["not-gzip", "bad-crc", "trailing-garbage"],
)
def test_gzip_corrupt(tmp_path: Path, data: bytes) -> None:
    assert _only_reject(_write(tmp_path / "p.txt.gz", data)).reason == "gzip_corrupt"


def test_gzip_bomb_is_refused_while_streaming(tmp_path: Path) -> None:
    p = tmp_path / "bomb.txt.gz"
    with gzip.open(p, "wb", compresslevel=9) as gz:
        zeros = b"0" * (1 << 20)
        for _ in range(64):
            gz.write(zeros)
    tracemalloc.start()
    try:
        r = _only_reject(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert r.reason == "gzip_bomb"
    assert peak < 24 << 20, f"peak {peak} bytes while refusing a 64 MB bomb"


# ---------------------------------------------------------------- zip


def test_zip_with_a_corrupt_member_still_reads_the_others(tmp_path: Path) -> None:
    p = tmp_path / "a.zip"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("1.txt", b"first page\n")
        zf.writestr("2.txt", b"SECOND-PAGE-MARKER\n")
        zf.writestr("3.txt", b"third page\n")
    raw = p.read_bytes().replace(b"SECOND-PAGE-MARKER", b"SECOND-PAGE-MANGLD")
    p.write_bytes(raw)
    items = _read(p)
    assert _reasons(items) == [None, "zip_corrupt_member", None]
    assert items[1].source_path == "a.zip!2.txt"


def test_zip_with_corrupt_deflate_data(tmp_path: Path) -> None:
    p = tmp_path / "a.zip"
    body = os.urandom(3000).hex().encode()
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("1.txt", body)
        zf.writestr("2.txt", b"good\n")
    raw = bytearray(p.read_bytes())
    start = raw.index(b"1.txt") + 5
    for i in range(start + 20, start + 60):
        raw[i] ^= 0xFF
    p.write_bytes(bytes(raw))
    assert _reasons(_read(p)) == ["zip_corrupt_member", None]


@pytest.mark.parametrize(
    "data", [b"PK\x03\x04 truncated", b"not a zip", b""], ids=["truncated", "garbage", "empty"]
)
def test_zip_that_cannot_be_opened(tmp_path: Path, data: bytes) -> None:
    assert _only_reject(_write(tmp_path / "a.zip", data)).reason == "zip_corrupt"


def test_zip_path_traversal_is_rejected_and_nothing_is_extracted(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    p = work / "evil.zip"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("ok.txt", b"fine\n")
        for name in ("../../x.txt", "/etc/evil.txt", "a/../../y.txt", "C:/z.txt", "dir\\..\\w.txt"):
            zf.writestr(zipfile.ZipInfo(name), b"payload\n")
    before = sorted(str(q) for q in tmp_path.rglob("*"))
    items = _read(p)
    assert _reasons(items) == [None] + ["zip_unsafe_path"] * 5
    assert items[1].source_path == "evil.zip!../../x.txt"
    assert sorted(str(q) for q in tmp_path.rglob("*")) == before
    assert not (tmp_path.parent / "x.txt").exists()


def _zip_zeros(path: Path, name: str, megabytes: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf, zf.open(name, "w") as m:
        zeros = b"a" * (1 << 20)
        for _ in range(megabytes):
            m.write(zeros)


def test_zip_bomb_is_refused_without_inflating_it(tmp_path: Path) -> None:
    p = tmp_path / "bomb.zip"
    _zip_zeros(p, "bomb.txt", 64)
    with zipfile.ZipFile(p, "a") as zf:
        zf.writestr("next.txt", b"still read\n")
    tracemalloc.start()
    try:
        items = _read(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert _reasons(items) == ["zip_bomb", None]
    assert peak < 8 << 20, f"peak {peak} bytes"


def test_zip_of_many_small_highly_compressed_members_is_a_bomb(tmp_path: Path) -> None:
    """Each member is below the ratio check's minimum size; the archive as a whole is not."""
    p = tmp_path / "many.zip"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for i in range(24):
            zf.writestr(f"{i}.txt", b"a" * (1 << 20))
    r = _only_reject(p)
    assert r.reason == "zip_bomb" and r.source_path == "many.zip"


def test_zip_of_overlapping_members_is_a_bomb(tmp_path: Path) -> None:
    """Central directory entries that all point at one compressed kernel (an "overlap" bomb)."""
    p = tmp_path / "overlap.zip"
    _zip_zeros(p, "kernel.txt", 4)
    raw = p.read_bytes()
    cd_start = raw.index(b"PK\x01\x02")
    eocd = raw.index(b"PK\x05\x06")
    entry = raw[cd_start:eocd]
    copies = 50
    cd = entry * copies
    tail = bytearray(raw[eocd:])
    struct.pack_into("<HHII", tail, 8, copies, copies, len(cd), cd_start)
    p.write_bytes(raw[:cd_start] + cd + bytes(tail))
    r = _only_reject(p)
    assert r.reason == "zip_bomb" and "in all" in r.detail


def test_zip_member_lying_about_its_size_stays_bounded(tmp_path: Path) -> None:
    """A header that declares a small size for a huge member: inflation stops at the declared size."""
    p = tmp_path / "liar.zip"
    _zip_zeros(p, "liar.txt", 32)
    raw = bytearray(p.read_bytes())
    declared = 1000
    local = raw.index(b"PK\x03\x04")
    struct.pack_into("<I", raw, local + 22, declared)  # uncompressed size, local header
    central = raw.index(b"PK\x01\x02")
    struct.pack_into("<I", raw, central + 24, declared)  # uncompressed size, central directory
    p.write_bytes(bytes(raw))
    tracemalloc.start()
    try:
        r = _only_reject(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert r.reason in ("zip_corrupt_member", "zip_bomb")
    assert peak < 8 << 20


def test_zip_total_size_and_member_count_limits(tmp_path: Path) -> None:
    p = tmp_path / "many.zip"
    with zipfile.ZipFile(p, "w") as zf:
        for i in range(5):
            zf.writestr(f"{i}.txt", b"x" * 1000 + b"\n")
    assert _reasons(_read(p, ReadConfig(max_zip_total_bytes=2500))) == [
        None,
        None,
        "zip_bomb",
        "zip_bomb",
        "zip_bomb",
    ]
    r = _only_reject(p, ReadConfig(max_zip_members=4))
    assert r.reason == "zip_too_many_members" and "5 members declared" in r.detail


def test_zip_symlink_member_is_not_read_as_text(tmp_path: Path) -> None:
    p = tmp_path / "a.zip"
    with zipfile.ZipFile(p, "w") as zf:
        link = zipfile.ZipInfo("link.txt")
        link.external_attr = (0o120777 << 16) | 0x20  # a symlink entry, as `zip --symlinks` writes
        zf.writestr(link, b"/etc/passwd")
        zf.writestr("page.txt", b"text\n")
    assert _reasons(_read(p)) == ["unsupported_type", None]


def test_zip_encrypted_and_duplicate_members(tmp_path: Path) -> None:
    p = tmp_path / "a.zip"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("secret.txt", b"ciphertext\n")
        zf.writestr("page.txt", b"one\n")
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("page.txt", b"two\n")
    raw = bytearray(p.read_bytes())
    # Set the "encrypted" flag bit of the first member in both headers.
    local = raw.index(b"PK\x03\x04")
    central = raw.index(b"PK\x01\x02")
    raw[local + 6] |= 1
    raw[central + 8] |= 1
    p.write_bytes(bytes(raw))
    assert _reasons(_read(p)) == ["zip_encrypted", None, "duplicate_input"]


# ---------------------------------------------------------------- JSONL


def test_jsonl_bad_records_are_rejected_and_reading_goes_on(tmp_path: Path) -> None:
    lines = [
        b'{"text": "good one"}',
        b"{not json",
        b'{"title": "no text field"}',
        b'["a", "list"]',
        b'{"text": 42}',
        b'{"text": "bad utf-8 \xff"}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"content": "good two"}',
    ]
    items = _read(_write(tmp_path / "r.jsonl", b"\n".join(lines) + b"\n"))
    assert _reasons(items) == [
        None,
        "jsonl_invalid",
        "jsonl_no_text",
        "jsonl_invalid",
        "jsonl_no_text",
        "jsonl_invalid",
        "jsonl_invalid",
        None,
    ]
    assert [it.source_path for it in items] == [f"r.jsonl#L{i}" for i in range(1, 9)]
    assert "title" in items[2].detail


def test_jsonl_record_beyond_max_record_bytes_is_skipped_in_bounded_pieces(tmp_path: Path) -> None:
    big = json.dumps({"text": "x" * 5000}).encode()
    p = _write(tmp_path / "r.jsonl", b'{"text": "a"}\n' + big + b'\n{"text": "b"}\n')
    items = _read(p, ReadConfig(max_record_bytes=1000))
    assert _reasons(items) == [None, "line_too_long", None]
    assert items[1].source_path == "r.jsonl#L2" and items[2].source_path == "r.jsonl#L3"


# ---------------------------------------------------------------- long lines, NULs, line endings


def test_single_50mb_line_is_rejected_quickly(tmp_path: Path) -> None:
    p = tmp_path / "oneline.txt"
    with p.open("wb") as fh:
        chunk = "一行没有换行的文字".encode() * 40_000  # ~1 MB
        for _ in range(50):
            fh.write(chunk)
        fh.write(b"\n")
    t0 = time.perf_counter()
    r = _only_reject(p)
    elapsed = time.perf_counter() - t0
    assert r.reason == "line_too_long"
    assert re.search(r"a line of \d+ bytes", r.detail)
    assert elapsed < 5, f"{elapsed:.1f}s"


def test_long_line_limit_is_configurable(tmp_path: Path) -> None:
    p = _write(tmp_path / "p.txt", b"short\n" + b"y" * 300 + b"\n")
    assert _only_reject(p, ReadConfig(max_line_bytes=200)).reason == "line_too_long"
    (doc,) = _read(p, ReadConfig(max_line_bytes=400))
    assert isinstance(doc, SourceDoc)


def test_file_larger_than_max_file_bytes(tmp_path: Path) -> None:
    p = _write(tmp_path / "p.txt", b"line\n" * 1000)
    r = _only_reject(p, ReadConfig(max_file_bytes=1000))
    assert r.reason == "too_large" and r.source_sha256 is not None
    g = _write(tmp_path / "g.txt.gz", gzip.compress(b"line\n" * 1000))
    assert _only_reject(g, ReadConfig(max_file_bytes=1000)).reason == "too_large"


@pytest.mark.parametrize(("limit", "whole"), [(10_000, True), (3000, False)])
def test_a_file_that_grows_after_fstat_is_read_to_its_end_or_to_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int, whole: bool
) -> None:
    """The read asks for the size fstat gave; a file that grew since is read on, to the same limit."""
    data = "第一段正文。\n".encode() * 200  # 3,800 bytes
    p = _write(tmp_path / "p.txt", data)
    real_fstat = os.fstat

    def stale_fstat(fd: int) -> os.stat_result:  # the size the file had before it grew
        st = list(real_fstat(fd))
        st[6] = 100  # st_size
        return os.stat_result(st)

    monkeypatch.setattr(reader.os, "fstat", stale_fstat)
    got = _read(p, ReadConfig(max_file_bytes=limit))
    if whole:
        (doc,) = got
        assert isinstance(doc, SourceDoc) and doc.data == data
        assert doc.source_sha256 == hashlib.sha256(data).hexdigest()
    else:
        (r,) = got
        assert isinstance(r, Reject) and r.reason == "too_large" and "grew beyond" in r.detail


def test_nul_bytes_inside_text_are_stripped_by_a_named_rule(tmp_path: Path) -> None:
    text = "新闻正文第一段。\r\n第二段。\n".encode() * 50
    with_nuls = text[:9] + b"\x00\x00" + text[9:30] + b"\x00" + text[30:] + b"\x00" * 10
    (doc,) = _read(_write(tmp_path / "a.txt", with_nuls))
    assert isinstance(doc, SourceDoc) and doc.data == text
    assert doc.source_sha256 == hashlib.sha256(with_nuls).hexdigest()  # of the raw file
    stripped, events = reader.strip_nul_bytes(with_nuls)
    assert stripped == text
    assert [(e.rule, e.line, e.detail) for e in events] == [
        ("read.strip_nul_bytes", 1, "removed 2 NUL bytes"),
        ("read.strip_nul_bytes", 2, "removed 1 NUL byte"),
        ("read.strip_nul_bytes", 100, "removed 10 NUL bytes"),
        ("read.strip_nul_bytes", None, "removed 13 NUL bytes on 3 lines in all"),
    ]
    if hasattr(doc, "events"):
        assert [e.line for e in doc.events] == [1, 2, 100, None]
    # and the document goes through the stages instead of being called binary by the decoder
    from cleaning.config import CleaningConfig
    from cleaning.pipeline import DocResult, process_document

    result = process_document(doc, CleaningConfig())
    assert isinstance(result, DocResult) and len(result.lines) == 100
    assert not any("\x00" in line for line in result.lines)


def test_nul_bytes_in_gb18030_text_are_stripped_too(tmp_path: Path) -> None:
    text = "简体中文的报纸，第一版。\n".encode("gb18030") * 40
    (doc,) = _read(_write(tmp_path / "a.txt", text[:50] + b"\x00" + text[50:]))
    assert isinstance(doc, SourceDoc) and doc.data == text


def test_utf16_nul_bytes_are_left_to_the_decoder(tmp_path: Path) -> None:
    data = "中文 ASCII 混合的文本。\n".encode("utf-16-le") * 40
    (doc,) = _read(_write(tmp_path / "a.txt", data))
    assert isinstance(doc, SourceDoc) and doc.data == data


def test_mostly_nul_is_binary(tmp_path: Path) -> None:
    text = "新闻正文第一段。\n".encode() * 50
    r = _only_reject(_write(tmp_path / "b.txt", text[:100] + b"\x00" * 5000 + text[100:200]))
    assert r.reason == "binary" and "mostly NUL" in r.detail
    r = _only_reject(_write(tmp_path / "c.txt", b"\x00\x00\n\x00 \x00"))
    assert r.reason in ("binary", "empty")


def test_mixed_line_endings_are_read_unchanged_and_split_downstream(tmp_path: Path) -> None:
    data = "第一行\r\n第二行\r第三行\n第四行\r\r\n第六行".encode()
    (doc,) = _read(_write(tmp_path / "p.txt", data))
    assert isinstance(doc, SourceDoc) and doc.data == data
    pipeline = pytest.importorskip("cleaning.pipeline", exc_type=ImportError)
    assert pipeline.split_lines(data.decode()) == ["第一行", "第二行", "第三行", "第四行", "", "第六行"]


# ---------------------------------------------------------------- files changing under us


def test_file_vanishing_between_listing_and_reading(tmp_path: Path) -> None:
    p = _write(tmp_path / "gone.txt", b"x\n")
    (f,), _ = list_inputs([p], CFG)
    p.unlink()
    (r,) = read_file(f, CFG)
    assert isinstance(r, Reject) and r.reason == "vanished" and r.source_path == "gone.txt"


@pytest.mark.parametrize("name", ["p.txt", "p.jsonl", "p.txt.gz", "p.jsonl.gz", "p.zip"])
def test_permission_denied_between_listing_and_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    p = _write(tmp_path / name, b"x\n")
    (f,), _ = list_inputs([p], CFG)
    real_open = os.open

    def denied(path, *args, **kwargs):  # tests run as root: chmod would not stop us
        if os.fspath(path) == os.fspath(p):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(reader.os, "open", denied)
    (r,) = read_file(f, CFG)
    assert isinstance(r, Reject) and r.reason == "unreadable" and "EACCES" in r.detail


def test_io_error_in_the_middle_of_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = b"".join(b'{"text": "r%d"}\n' % i for i in range(10))
    p = _write(tmp_path / "r.jsonl", lines)
    (f,), _ = list_inputs([p], CFG)
    real_fdopen = os.fdopen
    calls = {"n": 0}

    class Flaky:
        def __init__(self, fh):
            self.fh = fh

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def readinto(self, b):
            raise OSError(5, "Input/output error")

    def flaky_fdopen(fd, *args, **kwargs):
        calls["n"] += 1
        fh = real_fdopen(fd, *args, **kwargs)
        return fh if calls["n"] == 1 else Flaky(fh)  # the hashing pass works, the read fails

    monkeypatch.setattr(reader.os, "fdopen", flaky_fdopen)
    items = list(read_file(f, CFG))
    assert _reasons(items) == ["unreadable"] and "EIO" in items[0].detail


def test_directory_or_fifo_in_place_of_a_file(tmp_path: Path) -> None:
    p = _write(tmp_path / "p.txt", b"x\n")
    (f,), _ = list_inputs([p], CFG)
    p.unlink()
    p.mkdir()
    (r,) = read_file(f, CFG)
    assert isinstance(r, Reject) and r.reason == "unreadable"
    p.rmdir()
    os.mkfifo(p)
    (r,) = read_file(f, CFG)  # must not block on the FIFO
    assert isinstance(r, Reject) and r.reason == "unreadable"


def test_fifo_in_an_input_directory_is_never_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    _write(tmp_path / "ok.txt", b"x\n")
    files, rejects = list_inputs([tmp_path], CFG)
    assert [f.source_path for f in files] == ["ok.txt"]
    assert [(r.source_path, r.reason) for r in rejects] == [("pipe.txt", "not_a_regular_file")]


def test_unreadable_directory_while_walking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "locked" / "a.txt", b"x")
    _write(tmp_path / "open" / "b.txt", b"x")
    real_scandir = os.scandir

    def scandir(path):
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(reader.os, "scandir", scandir)
    files, rejects = list_inputs([tmp_path], CFG)
    assert [f.source_path for f in files] == ["open/b.txt"]
    assert [(r.source_path, r.reason) for r in rejects] == [("locked", "unreadable")]


# ---------------------------------------------------------------- names, symlinks, duplicates


def test_non_utf8_file_names_are_read_and_shown_escaped(tmp_path: Path) -> None:
    root = os.fsencode(tmp_path / "in")
    os.makedirs(root)
    for raw in (b"caf\xe9.txt", "新闻".encode("gbk") + b".txt", "正常.txt".encode()):
        with open(os.path.join(root, raw), "wb") as fh:
            fh.write(b"text\n")
    files, rejects = list_inputs([tmp_path / "in"], CFG)
    assert rejects == []
    names = sorted(f.source_path for f in files)
    assert names == sorted(["caf\\xe9.txt", "\\xd0\\xc2\\xce\\xc5.txt", "正常.txt"])
    for f in files:
        f.source_path.encode("utf-8")  # valid text: can go into Parquet
        (doc,) = read_file(f, CFG)
        assert isinstance(doc, SourceDoc) and doc.data == b"text\n"


def test_non_utf8_zip_member_name(tmp_path: Path) -> None:
    p = tmp_path / "a.zip"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("xxxx.txt", b"text\n")
    p.write_bytes(p.read_bytes().replace(b"xxxx.txt", "新闻".encode("gbk") + b".txt"))
    (doc,) = _read(p)
    assert isinstance(doc, SourceDoc)
    assert doc.source_path == "a.zip!\\xd0\\xc2\\xce\\xc5.txt"


@pytest.mark.timeout(10)
def test_symlink_loops_are_rejected_and_never_hang(tmp_path: Path) -> None:
    root = tmp_path / "in"
    _write(root / "a" / "page.txt", b"x")
    os.symlink("..", root / "a" / "up")  # a/up -> in (an ancestor)
    os.symlink(".", root / "a" / "here")  # a/here -> a
    os.symlink("self", root / "self")  # self -> self
    os.symlink("ping", root / "pong")
    os.symlink("pong", root / "ping")
    os.symlink("missing.txt", root / "dangling.txt")
    files, rejects = list_inputs([root], CFG)
    assert [f.source_path for f in files] == ["a/page.txt"]
    assert sorted((r.source_path, r.reason) for r in rejects) == [
        ("a/here", "symlink_loop"),
        ("a/up", "symlink_loop"),
        ("dangling.txt", "broken_symlink"),
        ("ping", "symlink_loop"),
        ("pong", "symlink_loop"),
        ("self", "symlink_loop"),
    ]


def test_symlinks_not_followed_when_configured(tmp_path: Path) -> None:
    _write(tmp_path / "in" / "p.txt", b"x")
    os.symlink("p.txt", tmp_path / "in" / "q.txt")
    files, rejects = list_inputs([tmp_path / "in"], ReadConfig(follow_symlinks=False))
    assert [f.source_path for f in files] == ["p.txt"]
    assert [(r.source_path, r.reason) for r in rejects] == [("q.txt", "symlink_skipped")]


def test_duplicate_input_paths_are_listed_once(tmp_path: Path) -> None:
    root = tmp_path / "in"
    p = _write(root / "sub" / "p.txt", b"x")
    os.symlink("sub/p.txt", root / "link.txt")
    os.link(p, root / "hard.txt")
    os.symlink("sub", root / "subdir-link")
    files, rejects = list_inputs([p, root, str(p), root / "sub"], CFG)
    assert [f.source_path for f in files] == ["p.txt"]
    assert sorted((r.source_path, r.reason) for r in rejects) == [
        ("hard.txt", "duplicate_input"),
        ("link.txt", "duplicate_input"),
        ("p.txt", "duplicate_input"),
        ("sub", "duplicate_input"),
        ("sub/p.txt", "duplicate_input"),
        ("subdir-link", "duplicate_input"),
    ]
    assert all("p.txt" in r.detail or "sub" in r.detail for r in rejects)


def test_the_real_path_names_a_file_also_reached_through_a_link(tmp_path: Path) -> None:
    root = tmp_path / "in"
    _write(root / "good.txt", b"x")
    _write(root / "z" / "deep" / "page.txt", b"y")
    os.symlink("good.txt", root / "a-link.txt")  # sorts before its target
    os.symlink("z/deep", root / "a-dir")  # a directory link sorting before the real directory
    files, rejects = list_inputs([root], CFG)
    assert [f.source_path for f in files] == ["good.txt", "z/deep/page.txt"]
    assert sorted((r.source_path, r.reason, r.detail) for r in rejects) == [
        ("a-dir", "duplicate_input", "same directory as z/deep; read once"),
        ("a-link.txt", "duplicate_input", "same file as good.txt; read once"),
    ]


def test_a_linked_directory_outside_the_root_is_read_under_the_link_name(tmp_path: Path) -> None:
    _write(tmp_path / "elsewhere" / "p.txt", b"x")
    _write(tmp_path / "in" / "own.txt", b"y")
    os.symlink(tmp_path / "elsewhere", tmp_path / "in" / "more")
    files, rejects = list_inputs([tmp_path / "in"], CFG)
    assert [f.source_path for f in files] == ["own.txt", "more/p.txt"] and rejects == []
    # given as well, the real directory names the file and the link is the duplicate
    files, rejects = list_inputs([tmp_path / "in", tmp_path / "elsewhere"], CFG)
    assert [f.source_path for f in files] == ["own.txt", "p.txt"]
    assert [(r.source_path, r.reason) for r in rejects] == [("more", "duplicate_input")]


# ---------------------------------------------------------------- everything at once


def test_a_directory_of_bad_inputs_never_stops_the_run(tmp_path: Path) -> None:
    root = tmp_path / "in"
    _write(root / "good.txt", "好的文本。\n")
    _write(root / "empty.txt", b"")
    _write(root / "image.txt", PNG)
    _write(root / "trunc.txt.gz", gzip.compress(os.urandom(5000).hex().encode())[:200])
    _write(root / "bad.jsonl", b'{"text": "ok"}\nnot json\n')
    _write(root / "notes.md", b"# readme")
    with zipfile.ZipFile(root / "arch.zip", "w") as zf:
        zf.writestr("../../escape.txt", b"x")
        zf.writestr("inside.txt", b"inside\n")
    os.symlink(".", root / "loop")
    files, rejects = list_inputs([root, root / "good.txt"], CFG)
    rows: list[Reject] = list(rejects)
    docs: list[SourceDoc] = []
    for f in files:
        for item in read_file(f, CFG):
            (rows if isinstance(item, Reject) else docs).append(item)
    assert sorted(d.source_path for d in docs) == ["arch.zip!inside.txt", "bad.jsonl#L1", "good.txt"]
    assert sorted((r.source_path, r.reason) for r in rows) == [
        ("arch.zip!../../escape.txt", "zip_unsafe_path"),
        ("bad.jsonl#L2", "jsonl_invalid"),
        ("empty.txt", "empty"),
        ("good.txt", "duplicate_input"),
        ("image.txt", "binary"),
        ("loop", "symlink_loop"),
        ("notes.md", "unsupported_type"),
        ("trunc.txt.gz", "gzip_truncated"),
    ]
    # every file in the directory is accounted for
    on_disk = {p.name for p in root.iterdir()}
    seen = {re.split(r"[!#]", x.source_path)[0] for x in [*docs, *rows]}
    assert on_disk <= seen
    assert all(r.reason in REASON_CODES for r in rows)


def test_input_file_built_by_hand_for_a_missing_path(tmp_path: Path) -> None:
    f = InputFile(path=tmp_path / "never.jsonl", source_path="never.jsonl", size=0)
    (r,) = read_file(f, CFG)
    assert isinstance(r, Reject) and r.reason == "vanished"


def test_docs_describe_every_reason_code() -> None:
    doc = (REPO / "docs" / "bad-input.md").read_text(encoding="utf-8")
    missing = [code for code in REASON_CODES if f"`{code}`" not in doc]
    assert not missing, f"docs/bad-input.md does not mention {missing}"
