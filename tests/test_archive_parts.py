"""A large zip archive or (gzipped) JSONL file is cut into parts, read by several shards.

One file used to be one shard: a dump shipped as one zip or one JSONL file ran on one worker
however many the run had, and held the whole file's work in one task. The plan now cuts such a
file larger than the finest shard into parts (a zip's members, from its central directory; a
JSONL file's lines, at line ends; a gzipped JSONL file's lines, at line ends of what it inflates
to, each part starting from a seek index), which the blocks and shards take like files. A part
is read as the whole file's reading reads it (the same rejects, duplicate-name decisions and
line numbers), so the rows do not depend on the cut.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import os
import random
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from cleaning.reader import (
    InputFile,
    ReadConfig,
    file_parts,
    jsonl_gz_parts,
    jsonl_parts,
    read_file,
    write_gz_index,
    zip_parts,
)
from cleaning.state import StateDir, load_catalog
from flows import steps
from flows.explain import explain_file, render
from flows.params import FlowParams

HAN = "城市网络建设工作推进会议召开本报讯记者市民反映问题部门要求年底前见到成效道路改造垃圾分类老旧小区"
HAN += "公交线路菜市场图书馆体育公园河道治理停车难夜市学校医院社区服务中心志愿者活动文化节展览比赛"
HEADER = "城市晚报 第3版"
PAGES = 40


def _page(rng: random.Random, k: int) -> str:
    paras = ["".join(rng.choice(HAN) for _ in range(rng.randint(60, 160))) + "。" for _ in range(4)]
    return f"{HEADER}\n\n第{k}号新闻标题\n\n" + "\n\n".join("　　" + p for p in paras) + "\n"


def _archive(path: Path, seed: int = 0, odd_members: bool = True) -> Path:
    """An archive of pages with, between them, the members a reading rejects or skips."""
    rng = random.Random(seed)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("pages/", "")
        for k in range(PAGES):
            zf.writestr(f"pages/p{k:02d}.txt", _page(rng, k))
            if odd_members and k == 7:
                zf.writestr("pages/notes.md", "# not a page\n")
                zf.writestr("pages/.hidden.txt", "skipped\n")
                zf.writestr("../evil.txt", "never extracted\n")
            if odd_members and k == 20:
                rows = [{"text": _page(rng, 100 + j)} for j in range(3)]
                zf.writestr(
                    "pages/feed.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
                )
            if odd_members and k == 30:
                with pytest.warns(UserWarning, match="Duplicate name"):
                    zf.writestr("pages/p03.txt", "a second member of this name\n")
    return path


def _feed(path: Path, seed: int = 0, pages: int = PAGES) -> Path:
    """A JSONL file of pages with, between them, the lines a reading rejects or skips; gzipped
    (in two members) when ``path`` ends in ``.gz``."""
    rng = random.Random(seed)
    lines = []
    for k in range(pages):
        lines.append(json.dumps({"id": k, "text": _page(rng, k)}, ensure_ascii=False))
        if k == 5:
            lines += ["", "   ", "{not json", json.dumps({"title": "no text"}), "[1, 2]"]
        if k == 12:
            lines.append(json.dumps({"text": "长" * 3000}, ensure_ascii=False))  # over max_record_bytes
        if k == 25:
            lines.append(json.dumps({"content": _page(rng, 99)}, ensure_ascii=False) + "\r")
    data = b"\xef\xbb\xbf" + "\n".join(lines).encode("utf-8") + b"\n"
    if path.suffix == ".gz":  # `cat a.gz b.gz` is one gzip file: it reads as one stream
        half = data.rindex(b"\n", 0, len(data) // 2) + 1
        data = gzip.compress(data[:half], mtime=0) + gzip.compress(data[half:], mtime=0)
    path.write_bytes(data)
    return path


def _dump(path: Path, kind: str, seed: int = 0) -> Path:
    """The test file of ``kind``: an archive, a JSONL file, a gzipped one (more pages: it cuts by
    compressed bytes)."""
    if kind == "zip":
        return _archive(path, seed)
    return _feed(path, seed, PAGES * 4 if kind == "jsonl.gz" else PAGES)


CFG = ReadConfig(max_record_bytes=8000)


def _docs(files: list[InputFile]) -> list[tuple[Any, ...]]:
    out = []
    for f in files:
        for d in read_file(f, CFG):
            data, meta = getattr(d, "data", None), getattr(d, "metadata", None)
            out.append((d.source_path, d.source_sha256, data, meta, getattr(d, "reason", None)))
    return out


@pytest.mark.parametrize("part_bytes", [1024, 5000, 20_000])
@pytest.mark.parametrize("kind", ["zip", "jsonl", "jsonl.gz"])
def test_the_parts_read_as_the_whole_file(tmp_path: Path, part_bytes: int, kind: str) -> None:
    path = _dump(tmp_path / f"dump.{kind}", kind)
    size = path.stat().st_size
    whole = InputFile(path, path.name, size)
    parts = file_parts(path, CFG, part_bytes)
    assert parts is not None and len(parts) >= 2
    assert sum(n for _, n in parts) == size
    assert [p[1] for p, _ in parts[:-1]] == [p[0] for p, _ in parts[1:]]  # consecutive, no gap
    sha = next(d for d in read_file(whole, CFG) if hasattr(d, "data")).source_sha256
    got = _docs([InputFile(path, path.name, n, part=part, sha256=sha) for part, n in parts])
    want = _docs([whole])
    assert got == want
    reasons = {r for *_, r in want if r}
    if kind == "zip":
        assert {"unsupported_type", "zip_unsafe_path", "duplicate_input"} <= reasons
    else:
        assert {"jsonl_invalid", "jsonl_no_text", "line_too_long"} <= reasons
        assert any(sp.endswith("#L1") for sp, *_ in want)  # the first record, after the BOM
    if kind == "jsonl.gz":  # each part from the seek index: what the parts read without it
        index = tmp_path / "dump.gzidx"
        assert write_gz_index(path, index)
        indexed = [InputFile(path, path.name, n, part, sha, str(index)) for part, n in parts]
        assert _docs(indexed) == want
        index.write_bytes(b"not an index")  # a damaged index costs time, never records
        assert _docs(indexed) == want


def test_files_read_whole(tmp_path: Path) -> None:
    path = _archive(tmp_path / "dump.zip")
    assert zip_parts(path, CFG, path.stat().st_size) is None  # fits one part
    with zipfile.ZipFile(tmp_path / "gz.zip", "w") as zf:  # what a gzip member inflates to is unknown
        zf.writestr("a.txt", "x" * 5000)
        zf.writestr("b.txt.gz", b"\x1f\x8b" + b"y" * 5000)
    assert zip_parts(tmp_path / "gz.zip", CFG, 1024) is None
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04" + b"\x00" * 5000)
    assert zip_parts(tmp_path / "bad.zip", CFG, 1024) is None
    with zipfile.ZipFile(tmp_path / "hidden.zip", "w") as zf:  # cut, and still reported as empty
        for k in range(4):
            zf.writestr(f".h{k}.txt", "x" * 500)
    assert _reads_the_same_in_parts(tmp_path / "hidden.zip", zip_parts(tmp_path / "hidden.zip", CFG, 600))
    feed = _feed(tmp_path / "feed.jsonl")
    assert jsonl_parts(feed, CFG, feed.stat().st_size) is None
    # UTF-16 (transcoded whole), blank (rejected whole as empty), binary (rejected whole)
    (tmp_path / "u16.jsonl").write_bytes(feed.read_text(encoding="utf-8-sig").encode("utf-16"))
    (tmp_path / "blank.jsonl").write_bytes(b"\n  \n" * 3000)
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + b"\n  \n" * 3000)
    (tmp_path / "bin.jsonl").write_bytes(bytes(range(256)) * 100)
    for name in ("u16.jsonl", "blank.jsonl", "bom.jsonl", "bin.jsonl"):
        assert jsonl_parts(tmp_path / name, CFG, 1024) is None, name
        # gzipped, and what its reading rejects whole or reads other than as UTF-8 lines
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress((tmp_path / name).read_bytes()))
        assert jsonl_gz_parts(tmp_path / f"{name}.gz", CFG, 256) is None, name
    # blank beyond the first 64 KiB the cut sniffs, as a whole; a record after it is cut
    (tmp_path / "long-blank.jsonl.gz").write_bytes(gzip.compress(b"\xef\xbb\xbf" + b"\n  \n" * 30000))
    assert jsonl_gz_parts(tmp_path / "long-blank.jsonl.gz", CFG, 256) is None
    late = tmp_path / "late.jsonl.gz"
    late.write_bytes(gzip.compress(b"\n" * 100_000 + os.urandom(3000).hex().encode() + b'\n{"text": "x"}\n'))
    assert _reads_the_same_in_parts(late, jsonl_gz_parts(late, CFG, 256))
    packed = _feed(tmp_path / "feed.jsonl.gz", pages=PAGES * 4).read_bytes()
    assert jsonl_gz_parts(tmp_path / "feed.jsonl.gz", CFG, len(packed)) is None  # fits one part
    damaged = {
        "truncated.jsonl.gz": packed[: len(packed) // 2],
        "corrupt.jsonl.gz": packed[:5000] + bytes(b ^ 0x5A for b in packed[5000:5100]) + packed[5100:],
        "trailing.jsonl.gz": packed + b"PK\x03\x04 not gzip",
        "bomb.jsonl.gz": gzip.compress(b'{"text": "' + b"a" * (40 << 20) + b'"}\n' * 2),
    }
    for name, data in damaged.items():
        (tmp_path / name).write_bytes(data)
        assert jsonl_gz_parts(tmp_path / name, CFG, 256) is None, name
        (rejected,) = read_file(InputFile(tmp_path / name, name, len(data)), CFG)  # rejected whole
        assert rejected.reason.startswith("gzip_"), name


def _params(inputs: Path, out: Path, workers: int, shard_bytes: int = 10**6) -> FlowParams:
    return FlowParams(
        inputs=[str(inputs)], out=str(out), workers=workers, shard_bytes=shard_bytes, min_shard_bytes=1024
    )


def _rows(out: Path) -> dict[str, list[dict]]:
    return {
        name: sorted(
            pq.read_table(out / name).to_pylist(),
            key=lambda r: json.dumps(r, sort_keys=True, ensure_ascii=False),
        )
        for name in ("articles", "paragraphs", "rejects")
    }


@pytest.fixture(params=["zip", "jsonl", "jsonl.gz"])
def dump(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    _dump(d / f"dump.{request.param}", request.param)
    return d


def _file(dump: Path) -> Path:
    (path,) = dump.iterdir()
    return path


def test_one_archive_runs_on_every_worker_with_the_same_rows(dump: Path, tmp_path: Path) -> None:
    one = steps.run_local(_params(dump, tmp_path / "o1", 1))
    three = steps.run_local(_params(dump, tmp_path / "o3", 3))
    assert one["this_run"]["shards"] == 1  # the parts of one shard come together: the archive whole
    shards = three["this_run"]["shards"]  # about one a worker: the cut is greedy, by bytes
    assert shards >= 2 and three["this_run"]["furniture_blocks"] == 1
    assert _rows(tmp_path / "o1") == _rows(tmp_path / "o3")
    # one input, its rows in three units: the catalog and the manifest name them all
    (entry,) = load_catalog(StateDir(tmp_path / "o3")).values()
    assert entry.units is not None and len(entry.units) == shards and entry.unit == entry.units[0]
    assert entry.size == _file(dump).stat().st_size
    (listed,) = three["inputs"]
    assert listed["units"] == entry.units and listed["status"] == "processed"
    assert (
        listed["articles"] == three["counts"]["articles"] and listed["rejects"] == three["counts"]["rejects"]
    )
    (listed_one,) = one["inputs"]
    assert "units" not in listed_one and listed_one["articles"] == listed["articles"]
    assert steps.validate_output(tmp_path / "o3") == []


def test_a_rerun_keeps_the_parts_and_a_changed_archive_replaces_them(dump: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shards = steps.run_local(_params(dump, out, 3))["this_run"]["shards"]
    units_dir = StateDir(out).root / "units"
    first = sorted(p.name for p in units_dir.iterdir())
    again = steps.run_local(_params(dump, out, 3))
    assert again["this_run"]["skipped"] == 1 and again["this_run"]["shards"] == 0
    assert sorted(p.name for p in units_dir.iterdir()) == first
    path = _file(dump)
    _dump(path, path.name.partition(".")[2], seed=1)
    changed = steps.run_local(_params(dump, out, 3))
    assert changed["this_run"]["processed"] == 1
    now = sorted(p.name for p in units_dir.iterdir())
    assert len(now) == len(first) == shards and not set(now) & set(
        first
    )  # the old parts' units are collected
    assert steps.validate_output(out) == []


def test_explain_reads_each_part_with_its_block(dump: Path, tmp_path: Path) -> None:
    shard_bytes = 16 * 1024  # blocks of 16 KiB: the archive falls in several
    manifest = steps.run_local(_params(dump, tmp_path / "out", 1, shard_bytes))
    assert manifest["this_run"]["shards"] >= 3
    cfg = FlowParams(inputs=["x"]).cleaning()
    report = explain_file(_file(dump), cfg, inputs=[str(dump)], shard_bytes=shard_bytes)
    assert len(report["furniture_blocks"]) == manifest["this_run"]["shards"]
    parts = [b["part"] for b in report["furniture_blocks"]]
    assert parts[0][0] == 0 and [p[1] for p in parts[:-1]] == [p[0] for p in parts[1:]]
    shown = render(report)
    assert shown.count("archive entries" if _file(dump).suffix == ".zip" else "bytes ") >= len(parts)
    explained = sorted((it["id"], it["kind"]) for d in report["documents"] for it in d["items"])
    published = pq.read_table(tmp_path / "out" / "articles", columns=["id", "kind"]).to_pylist()
    assert explained == sorted((a["id"], a["kind"]) for a in published)


def _reads_the_same_in_parts(path: Path, parts: list[tuple[tuple[int, ...], int]] | None) -> bool:
    """Reading ``parts`` gives what reading ``path`` whole gives; False when it was not cut."""
    if parts is None:
        return False
    whole = _docs([InputFile(path, path.name, path.stat().st_size)])
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert _docs([InputFile(path, path.name, n, part=p, sha256=sha) for p, n in parts]) == whole
    return True


_LINE = st.one_of(
    st.builds(lambda t: json.dumps({"text": t}, ensure_ascii=False), st.text(min_size=1, max_size=300)),
    st.builds(lambda t: json.dumps({"content": t, "n": 1}), st.text(max_size=50)),
    st.sampled_from(["", "  ", "{bad", "[1]", '{"title": "x"}', "\ufeff{}", '{"text": "a\\ud800b"}']),
    st.builds(lambda n: json.dumps({"text": "长" * n}, ensure_ascii=False), st.integers(2000, 4000)),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(_LINE, min_size=1, max_size=40),
    st.sampled_from([b"\n", b"\r\n"]),
    st.booleans(),
    st.integers(16, 3000),
)
def test_any_jsonl_reads_the_same_in_parts(lines: list[str], eol: bytes, bom: bool, part_bytes: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "feed.jsonl"
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + eol.join(x.encode("utf-8") for x in lines))
        event("cut" if _reads_the_same_in_parts(path, jsonl_parts(path, CFG, part_bytes)) else "read whole")


_NAME = st.sampled_from(["a.txt", "b/c.txt", "a.txt", ".h.txt", "../x.txt", "d.md", "e.jsonl", "f.zip", "g/"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_NAME, st.text(max_size=400)), min_size=1, max_size=30), st.integers(16, 2000))
def test_any_zip_reads_the_same_in_parts(members: list[tuple[str, str]], part_bytes: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dump.zip"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # duplicate names, on purpose
            with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for name, text in members:
                    zf.writestr(name, "" if name.endswith("/") else text)
        event("cut" if _reads_the_same_in_parts(path, zip_parts(path, CFG, part_bytes)) else "read whole")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(_LINE, min_size=1, max_size=40),
    st.sampled_from([b"\n", b"\r\n"]),
    st.lists(st.integers(0, 10_000), max_size=3),
    st.booleans(),
    st.integers(16, 3000),
)
def test_any_gzipped_jsonl_reads_the_same_in_parts(
    lines: list[str], eol: bytes, splits: list[int], padded: bool, part_bytes: int
) -> None:
    """Cut anywhere in the inflated stream, of one or more members (NUL padding between them)."""
    data = eol.join(x.encode("utf-8") for x in lines)
    bounds = sorted({0, len(data), *(k % (len(data) + 1) for k in splits)})
    pad = b"\0\0" if padded else b""
    packed = pad.join(gzip.compress(data[a:b], mtime=0) for a, b in itertools.pairwise(bounds))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "feed.jsonl.gz"
        path.write_bytes(packed)
        parts = jsonl_gz_parts(path, CFG, part_bytes)
        event("cut" if _reads_the_same_in_parts(path, parts) else "read whole")


def test_the_plan_indexes_a_gzipped_file_it_reads_in_parts(tmp_path: Path) -> None:
    dump = tmp_path / "in"
    dump.mkdir()
    path = _dump(dump / "dump.jsonl.gz", "jsonl.gz")
    params = _params(dump, tmp_path / "out", 3)
    the_plan = steps.plan(params, "run")
    files = [f for shard in the_plan["shards"] for f in shard["files"]]
    assert len(files) >= 2 and all("part" in f for f in files)
    (index,) = {f["gz_index"] for f in files}  # one index, for all the parts
    assert Path(index).is_file() and Path(index).parent.parent == StateDir(params.out).staging("run")
    # one shard reads the file whole: nothing to index
    assert "gz_index" not in steps.plan(_params(dump, tmp_path / "one", 1), "run")["shards"][0]["files"][0]
    # a file changed since the plan cut it: its parts reject it, none reads the other file's lines
    part = InputFile(path, path.name, 1, tuple(files[1]["part"]), "sha", index)
    path.write_bytes(path.read_bytes() + b"\0")
    (rej,) = read_file(part, CFG)
    assert rej.reason == "gzip_corrupt" and "changed while read" in rej.detail
    # the run's staging, the index with it, goes with the publish
    _feed(path, pages=PAGES * 4)
    steps.run_local(params)
    assert not list((tmp_path / "out").rglob("*.gzidx"))
