"""Stage 1, read: listing inputs and reading txt, jsonl, gzip and zip into documents."""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import json
import os
import zipfile
from itertools import islice
from pathlib import Path

import pytest
from pydantic import ValidationError

from cleaning.model import Reject, SourceDoc
from cleaning.reader import (
    REASON_CODES,
    InputFile,
    ReadConfig,
    binary_reason,
    list_inputs,
    longest_line_bytes,
    read_file,
)
from cleaning.rules import _REGISTRY

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "data" / "raw" / "000_77a03ed607cd6b14.txt"
SHARED = Path(os.environ.get("PRESSWASH_SHARED", REPO.parent / "shared"))
CORPORA = SHARED / "corpora"

CFG = ReadConfig()


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _read_all(path: Path, cfg: ReadConfig = CFG) -> list[SourceDoc | Reject]:
    files, rejects = list_inputs([path], cfg)
    assert not rejects, rejects
    assert len(files) == 1
    return list(read_file(files[0], cfg))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- config


def test_config_forbids_unknown_keys_and_documents_every_field() -> None:
    with pytest.raises(ValidationError):
        ReadConfig(max_file_byte=10)  # type: ignore[call-arg]
    for name, field in ReadConfig.model_fields.items():
        assert field.description, f"ReadConfig.{name} has no description"


def test_reason_codes_cover_decoder_codes_and_are_one_line() -> None:
    for code in ("empty", "binary", "undecodable", "gzip_truncated", "zip_bomb", "zip_unsafe_path"):
        assert code in REASON_CODES
    for code, text in REASON_CODES.items():
        assert code == code.lower() and " " not in code
        assert text and "\n" not in text


def test_read_rules_are_registered() -> None:
    rules = dict(_REGISTRY)  # this module's own rules, without importing the other stages
    for name in ("read.reject_binary", "read.zip_member", "read.zip_bomb", "read.jsonl_record"):
        assert name in rules and rules[name].stage == "read"


# ---------------------------------------------------------------- listing


def test_directory_is_recursed_sorted_and_relative_to_its_root(tmp_path: Path) -> None:
    root = tmp_path / "in"
    for rel in ["b.txt", "a.txt", "sub/z.txt", "sub/deeper/y.jsonl", "c.txt.gz", "x.zip", ".hidden.txt"]:
        _write(root / rel, b"x")
    files, rejects = list_inputs([root], CFG)
    assert [f.source_path for f in files] == [
        "a.txt",
        "b.txt",
        "c.txt.gz",
        "x.zip",
        "sub/z.txt",
        "sub/deeper/y.jsonl",
    ]
    assert rejects == []
    assert all(f.size == 1 and f.path.is_absolute() == root.is_absolute() for f in files)


def test_source_paths_do_not_depend_on_where_the_data_sits(tmp_path: Path) -> None:
    for place in ("one", "two/levels"):
        _write(tmp_path / place / "corpus" / "p" / "1.txt", b"x")
    a, _ = list_inputs([tmp_path / "one" / "corpus"], CFG)
    b, _ = list_inputs([str(tmp_path / "two" / "levels" / "corpus")], CFG)
    assert [f.source_path for f in a] == [f.source_path for f in b] == ["p/1.txt"]


def test_file_argument_is_named_by_its_file_name(tmp_path: Path) -> None:
    p = _write(tmp_path / "deep" / "dir" / "page.txt", b"x")
    files, _ = list_inputs([p], CFG)
    assert [f.source_path for f in files] == ["page.txt"]


def test_glob_is_relative_to_its_fixed_prefix(tmp_path: Path) -> None:
    for rel in ["2019/p1.txt", "2019/q.txt", "2020/p2.txt", "2020/p3.md"]:
        _write(tmp_path / "data" / rel, b"x")
    files, rejects = list_inputs([str(tmp_path / "data" / "*" / "p*")], CFG)
    assert [f.source_path for f in files] == ["2019/p1.txt", "2020/p2.txt"]
    assert [(r.source_path, r.reason) for r in rejects] == [("2020/p3.md", "unsupported_type")]


def test_recursive_glob(tmp_path: Path) -> None:
    for rel in ["a/1.txt", "a/b/2.txt", "c.jsonl"]:
        _write(tmp_path / rel, b"x")
    files, _ = list_inputs([str(tmp_path / "**" / "*.txt")], CFG)
    assert [f.source_path for f in files] == ["a/1.txt", "a/b/2.txt"]


@pytest.mark.parametrize("pattern", ["data/**", "data/*", "data/**/*.txt", "data/**/"])
def test_glob_matching_directories_lists_each_file_once(tmp_path: Path, pattern: str) -> None:
    for rel in ["data/raw/a.txt", "data/raw/sub/b.txt", "data/top.txt"]:
        _write(tmp_path / rel, b"x")
    files, rejects = list_inputs([f"{tmp_path}/{pattern}"], CFG)
    assert rejects == []
    assert sorted(f.source_path for f in files) == ["raw/a.txt", "raw/sub/b.txt", "top.txt"]


def test_glob_without_match_and_missing_path_are_rejects(tmp_path: Path) -> None:
    files, rejects = list_inputs([str(tmp_path / "*.nothing"), tmp_path / "missing.txt"], CFG)
    assert files == []
    assert [r.reason for r in rejects] == ["no_match", "not_found"]


def test_same_relative_name_under_two_roots_is_disambiguated(tmp_path: Path) -> None:
    _write(tmp_path / "2019" / "page.txt", b"a")
    _write(tmp_path / "2020" / "page.txt", b"b")
    files, rejects = list_inputs([tmp_path / "2019", tmp_path / "2020"], CFG)
    assert [f.source_path for f in files] == ["page.txt", "2020/page.txt"]
    assert rejects == []


def test_unsupported_files_are_accounted_for(tmp_path: Path) -> None:
    _write(tmp_path / "notes.md", b"# x")
    _write(tmp_path / "page.TXT", b"x")
    files, rejects = list_inputs([tmp_path], CFG)
    assert [f.source_path for f in files] == ["page.TXT"]
    assert [(r.source_path, r.reason) for r in rejects] == [("notes.md", "unsupported_type")]


def test_include_and_exclude_globs_leave_files_out_silently(tmp_path: Path) -> None:
    for rel in ["keep/a.txt", "keep/b.txt", "drop/c.txt", "notes.md"]:
        _write(tmp_path / rel, b"x")
    cfg = ReadConfig(include_globs=["keep/*"], exclude_globs=["*/b.txt"])
    files, rejects = list_inputs([tmp_path], cfg)
    assert [f.source_path for f in files] == ["keep/a.txt"]
    assert rejects == []


def test_skip_dirs_leaves_the_output_directory_out(tmp_path: Path) -> None:
    _write(tmp_path / "data" / "raw" / "p.txt", b"x")
    _write(tmp_path / "data" / "clean" / "manifest.json", b"{}")
    _write(tmp_path / "data" / "clean" / "articles" / "part-0.parquet", b"PAR1")
    files, rejects = list_inputs(
        [tmp_path / "data"], CFG, skip_dirs=[tmp_path / "data" / "clean", tmp_path / "nope"]
    )
    assert [f.source_path for f in files] == ["raw/p.txt"] and rejects == []
    files, rejects = list_inputs([tmp_path / "data" / "clean"], CFG, skip_dirs=[tmp_path / "data" / "clean"])
    assert files == [] and rejects == []


def test_presswash_output_directories_are_never_read_back(tmp_path: Path) -> None:
    from cleaning.state import STATE_DIRNAME

    _write(tmp_path / "data" / "raw" / "p.txt", b"x")
    _write(tmp_path / "data" / "clean" / "manifest.json", b"{}")
    _write(tmp_path / "data" / "clean" / "notes.txt", b"x")
    (tmp_path / "data" / "clean" / STATE_DIRNAME).mkdir()
    files, rejects = list_inputs([tmp_path / "data"], CFG)
    assert [f.source_path for f in files] == ["raw/p.txt"] and rejects == []
    files, rejects = list_inputs([tmp_path / "data"], ReadConfig(skip_output_dirs=False))
    assert [f.source_path for f in files] == ["clean/notes.txt", "raw/p.txt"]
    assert [r.source_path for r in rejects] == ["clean/manifest.json"]


def test_extra_text_extension_is_read_as_text(tmp_path: Path) -> None:
    _write(tmp_path / "law.md", "# 标题\n正文。\n")
    cfg = ReadConfig(extensions=[".txt", ".md"])
    (doc,) = _read_all(tmp_path / "law.md", cfg)
    assert isinstance(doc, SourceDoc) and doc.data == "# 标题\n正文。\n".encode()


# ---------------------------------------------------------------- reading


def test_txt_is_raw_bytes_with_sha256_of_the_file(tmp_path: Path) -> None:
    data = "第一行\r\n第二行\n".encode("gb18030")
    (doc,) = _read_all(_write(tmp_path / "p.txt", data))
    assert isinstance(doc, SourceDoc)
    assert doc.data == data and doc.source_sha256 == _sha(data)
    assert doc.source_path == "p.txt" and doc.metadata == {}


def test_seed_page_reads_as_one_document() -> None:
    (doc,) = _read_all(SEED)
    assert isinstance(doc, SourceDoc)
    assert doc.data == SEED.read_bytes()
    assert doc.source_sha256 == _sha(SEED.read_bytes())


def test_jsonl_records_text_metadata_and_line_numbers(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": 1, "title": "標題", "content": "內文一。\n\n內文二。"}, ensure_ascii=False),
        "",
        json.dumps({"text": "English text.", "content": "kept as metadata", "n": [1, 2]}),
    ]
    raw = ("\n".join(lines) + "\n").encode()
    docs = _read_all(_write(tmp_path / "news.jsonl", raw))
    assert [d.source_path for d in docs] == ["news.jsonl#L1", "news.jsonl#L3"]
    assert all(isinstance(d, SourceDoc) and d.source_sha256 == _sha(raw) for d in docs)
    assert docs[0].data == "內文一。\n\n內文二。"
    assert docs[0].metadata == {"id": 1, "title": "標題"}
    assert docs[1].data == "English text."
    assert docs[1].metadata == {"content": "kept as metadata", "n": [1, 2]}


def test_jsonl_with_raw_tabs_and_crlf(tmp_path: Path) -> None:
    p = _write(tmp_path / "a.jsonl", b'{"text": "col1\tcol2", "n": 1}\r\n{"text": "two"}\r\n')
    docs = _read_all(p)
    assert [(d.source_path, d.data) for d in docs] == [("a.jsonl#L1", "col1\tcol2"), ("a.jsonl#L2", "two")]


def test_jsonl_in_utf16_with_bom_as_windows_powershell_writes_it(tmp_path: Path) -> None:
    text = '{"text": "總統府新聞稿。"}\r\n{"content": "第二則", "id": 2}\r\n'
    for codec in ("utf-16", "utf-16-be"):
        raw = text.encode(codec) if codec == "utf-16" else codecs.BOM_UTF16_BE + text.encode(codec)
        docs = _read_all(_write(tmp_path / f"{codec}.jsonl", raw))
        assert [(d.source_path, d.data, d.metadata) for d in docs] == [
            (f"{codec}.jsonl#L1", "總統府新聞稿。", {}),
            (f"{codec}.jsonl#L2", "第二則", {"id": 2}),
        ]
        assert all(d.source_sha256 == _sha(raw) for d in docs)
    no_bom = _write(tmp_path / "nobom.jsonl", text.encode("utf-16-le") * 20)
    (r,) = _read_all(no_bom)
    assert isinstance(r, Reject) and r.reason == "jsonl_invalid" and "UTF-8" in r.detail


def test_jsonl_text_fields_are_configurable(tmp_path: Path) -> None:
    p = _write(tmp_path / "a.jsonl", json.dumps({"body": "正文", "text": 3}) + "\n")
    (doc,) = _read_all(p, ReadConfig(jsonl_text_fields=["body"]))
    assert isinstance(doc, SourceDoc) and doc.data == "正文" and doc.metadata == {"text": 3}


def test_jsonl_lone_surrogate_escape_becomes_replacement_char(tmp_path: Path) -> None:
    p = _write(tmp_path / "a.jsonl", '{"text": "ok\\ud800ok", "t": "\\udfff"}\n')
    (doc,) = _read_all(p)
    assert isinstance(doc, SourceDoc)
    assert doc.data == "ok\ufffdok" and doc.metadata == {"t": "\ufffd"}


def test_gzip_of_txt_and_jsonl(tmp_path: Path) -> None:
    text = "甲乙丙\n".encode()
    raw_txt = gzip.compress(text)
    (doc,) = _read_all(_write(tmp_path / "p.txt.gz", raw_txt))
    assert isinstance(doc, SourceDoc) and doc.data == text and doc.source_sha256 == _sha(raw_txt)
    assert doc.source_path == "p.txt.gz"

    raw_jsonl = gzip.compress(b'{"text": "a"}\n{"text": "b"}\n')
    docs = _read_all(_write(tmp_path / "r.jsonl.gz", raw_jsonl))
    assert [(d.source_path, d.data) for d in docs] == [("r.jsonl.gz#L1", "a"), ("r.jsonl.gz#L2", "b")]
    assert {d.source_sha256 for d in docs} == {_sha(raw_jsonl)}


def test_concatenated_gzip_members_are_read_whole(tmp_path: Path) -> None:
    p = _write(tmp_path / "p.txt.gz", gzip.compress(b"one\n") + gzip.compress(b"two\n"))
    (doc,) = _read_all(p)
    assert isinstance(doc, SourceDoc) and doc.data == b"one\ntwo\n"


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_zip_members_txt_jsonl_and_gz(tmp_path: Path) -> None:
    p = _zip(
        tmp_path / "a.zip",
        {
            "pages/2.txt": b"page two\n",
            "pages/1.txt": b"page one\n",
            "recs.jsonl": b'{"text": "r1"}\n{"text": "r2", "k": 1}\n',
            "g.txt.gz": gzip.compress(b"gz member\n"),
            "pages/": b"",
        },
    )
    docs = _read_all(p)
    got = [(d.source_path, d.data) for d in docs]
    assert got == [
        ("a.zip!pages/2.txt", b"page two\n"),
        ("a.zip!pages/1.txt", b"page one\n"),
        ("a.zip!recs.jsonl#L1", "r1"),
        ("a.zip!recs.jsonl#L2", "r2"),
        ("a.zip!g.txt.gz", b"gz member\n"),
    ]
    assert {d.source_sha256 for d in docs} == {_sha(p.read_bytes())}
    assert docs[3].metadata == {"k": 1}


def test_zip_hidden_members_are_skipped_and_others_rejected(tmp_path: Path) -> None:
    p = _zip(
        tmp_path / "a.zip",
        {
            "__MACOSX/._p.txt": b"\x00\x05\x16\x07",
            "p.txt": b"text\n",
            "img.png": b"\x89PNG\r\n\x1a\n",
            "inner.zip": b"PK\x05\x06" + b"\x00" * 18,
        },
    )
    docs = _read_all(p)
    assert [(d.source_path, getattr(d, "reason", None)) for d in docs] == [
        ("a.zip!p.txt", None),
        ("a.zip!img.png", "unsupported_type"),
        ("a.zip!inner.zip", "nested_archive"),
    ]


def test_zip_member_name_written_as_utf8_without_flag(tmp_path: Path) -> None:
    p = tmp_path / "a.zip"
    with zipfile.ZipFile(p, "w") as zf:
        info = zipfile.ZipInfo("placeholder.txt")
        zf.writestr(info, b"x")
    # Rewrite the name bytes in place as UTF-8 without setting the UTF-8 flag (as many tools do).
    raw = p.read_bytes().replace(b"placeholder.txt", "新聞一.txt".encode().ljust(15, b"_")[:15])
    p.write_bytes(raw)
    name = "新聞一.txt".encode().ljust(15, b"_")[:15].decode("utf-8", "replace")
    (doc,) = _read_all(p)
    assert doc.source_path == f"a.zip!{name}"


def test_read_file_on_unsupported_input_file_is_a_reject(tmp_path: Path) -> None:
    p = _write(tmp_path / "x.pdf", b"%PDF-1.4")
    (r,) = read_file(InputFile(path=p, source_path="x.pdf", size=8), CFG)
    assert isinstance(r, Reject) and r.reason == "unsupported_type"


# ---------------------------------------------------------------- byte checks


@pytest.mark.parametrize(
    "data",
    [
        "中文文本，没有问题。\n".encode("utf-16-le") * 50,
        "中文文本，没有问题。\n".encode("utf-16-be") * 50,
        "ASCII in UTF-16\r\n".encode("utf-16-le") * 50,
        "ASCII in UTF-32\n".encode("utf-32-le") * 50,
        "中文\n".encode("utf-32-be") * 50,
        "繁體中文的新聞稿。\n".encode("big5") * 50,
        "简体中文的报纸。\n".encode("gb18030") * 50,
        b"text with a form feed\x0c and an escape \x1b[0m\n" * 20,
        b"text padded with NULs at the end\n" + b"\x00" * 4000,
        b"BZhang said the RIFF RAFF of PAR1 would go.\n" * 5,
    ],
    ids=[
        "utf16le-zh",
        "utf16be-zh",
        "utf16le-ascii",
        "utf32le",
        "utf32be",
        "big5",
        "gb18030",
        "ff-esc",
        "pad",
        "signature-like-words",
    ],
)
def test_text_in_other_encodings_is_not_binary(data: bytes) -> None:
    assert binary_reason(data, CFG) is None


def test_longest_line_counts_cr_lf_and_crlf() -> None:
    assert longest_line_bytes(b"ab\r\ncdef\rg\nhij") == 4
    assert longest_line_bytes(b"x" * 10) == 10
    assert longest_line_bytes(b"") == 0
    big = b"a\n" + b"b" * (9 << 20) + b"\ncc"
    assert longest_line_bytes(big) == 9 << 20


# ---------------------------------------------------------------- real corpora (derived in code)

needs_corpora = pytest.mark.skipif(not CORPORA.is_dir(), reason="shared corpora not present")


@needs_corpora
def test_real_chronam_pages_in_a_zip(tmp_path: Path) -> None:
    out = tmp_path / "chronam-sample.zip"
    with zipfile.ZipFile(CORPORA / "chronam-1916-01.zip") as src, zipfile.ZipFile(out, "w") as dst:
        names = [n for n in src.namelist() if n.endswith(".txt")][:40]
        for n in names:
            dst.writestr(n, src.read(n), compress_type=zipfile.ZIP_DEFLATED)
    docs = _read_all(out)
    assert [d.source_path for d in docs] == [f"chronam-sample.zip!{n}" for n in names]
    assert all(isinstance(d, SourceDoc) for d in docs), [d for d in docs if isinstance(d, Reject)]


@needs_corpora
def test_real_president_news_jsonl_gz(tmp_path: Path) -> None:
    with gzip.open(CORPORA / "tw-president-news.jsonl.gz", "rb") as fh:
        head = list(islice(fh, 30))
    out = _write(tmp_path / "news.jsonl.gz", gzip.compress(b"".join(head)))
    docs = _read_all(out)
    assert len(docs) == 30 and all(isinstance(d, SourceDoc) for d in docs)
    first = json.loads(head[0])
    assert docs[0].data == first["content"]
    assert "content" not in docs[0].metadata and docs[0].metadata["title"] == first["title"]


@needs_corpora
def test_real_law_markdown_via_configured_extension(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(CORPORA / "cn-laws.zip") as src, zipfile.ZipFile(buf, "w") as dst:
        names = [n for n in src.namelist() if n.endswith(".md")][:10]
        for n in names:
            dst.writestr(n, src.read(n))
    p = _write(tmp_path / "laws.zip", buf.getvalue())
    docs = _read_all(p, ReadConfig(extensions=[".zip", ".md"]))
    assert len(docs) == 10 and all(isinstance(d, SourceDoc) for d in docs)
