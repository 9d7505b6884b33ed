"""The furniture pre-pass of a shard: what it hands to the main pass (decoded pages, read files).

The main pass must read every input file exactly once in all, record the read rejects the
pre-pass met, and give the same rows as reading the file again would.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cleaning import reader
from cleaning.config import CleaningConfig
from cleaning.reader import InputFile
from flows import steps
from flows.params import FlowParams

HEADER = "城市晚报 第3版"


def _page(k: int) -> str:
    return (
        f"{HEADER}\n\n市开发区召开第{k}次工作会议\n\n"
        f"本报讯 (记者 黄啟峰) 会议要求各部门把第{k}项工作落到实处，切实提高服务水平。\n"
    )


@pytest.fixture()
def inputs(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    for k in range(3):
        (d / f"p{k}.txt").write_text(_page(k), encoding="utf-8")
    (d / "empty.txt").write_bytes(b"")
    records = [{"text": _page(k)} for k in range(3, 6)]
    (d / "more.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n")
    return d


def _files(d: Path) -> list[InputFile]:
    files, rejects = reader.list_inputs([d], CleaningConfig().read)
    assert not rejects
    return files


def test_prepass_keeps_the_files_it_read_to_the_end(inputs: Path) -> None:
    files = _files(inputs)
    pre = steps._furniture(files, CleaningConfig(), max_pages=100)
    assert sorted(pre.read) == list(range(len(files)))  # every file was read to its end
    assert HEADER.replace("3", "0") in pre.furniture  # keys fold digits
    assert len(pre.decoded) == 6  # the empty file is a reject, not a page


def test_prepass_stops_at_the_sample_and_keeps_only_whole_files(inputs: Path) -> None:
    files = _files(inputs)
    names = [f.path.name for f in files]
    assert names == ["empty.txt", "more.jsonl", "p0.txt", "p1.txt", "p2.txt"]
    # the jsonl's three pages do not fit in a sample of two: it is left to the main pass
    pre = steps._furniture(files, CleaningConfig(), max_pages=2)
    assert len(pre.decoded) == 2
    assert sorted(pre.read) == [0]
    assert pre.read[0][0].reason == "empty"
    # a .txt whose page fills the sample still counts as read to its end
    pre = steps._furniture(files[2:], CleaningConfig(), max_pages=2)
    assert sorted(pre.read) == [0, 1]
    assert steps._furniture(files, CleaningConfig(), max_pages=0).read == {}


def _rows(out: Path, name: str) -> list[dict]:
    t = pa.concat_tables(pq.read_table(p) for p in sorted((out / name).glob("*.parquet")))
    return sorted(t.to_pylist(), key=json.dumps)


@pytest.mark.parametrize("max_pages", [0, 2, 2000])
def test_main_pass_reads_each_file_once_and_gives_the_same_rows(
    inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, max_pages: int
) -> None:
    calls: Counter[str] = Counter()
    real = reader.read_file

    def counting(f: InputFile, cfg: object = None):  # type: ignore[no-untyped-def]
        calls[f.path.name] += 1
        return real(f, cfg)  # type: ignore[arg-type]

    monkeypatch.setattr(reader, "read_file", counting)
    out = tmp_path / f"out{max_pages}"
    steps.run_local(FlowParams(inputs=[str(inputs)], out=str(out), furniture_max_pages=max_pages))
    once = Counter({p.name: 1 for p in inputs.iterdir()})
    if max_pages == 2:
        once["more.jsonl"] = 2  # cut off by the sample: read again by the main pass
    assert calls == once
    rejects = _rows(out, "rejects")
    assert [r["reason"] for r in rejects] == ["empty"]  # recorded once, from whichever pass read it

    monkeypatch.setattr(reader, "read_file", real)
    again = tmp_path / f"again{max_pages}"
    monkeypatch.setattr(steps, "_furniture", _furniture_without_reads)
    steps.run_local(FlowParams(inputs=[str(inputs)], out=str(again), furniture_max_pages=max_pages))
    for name in ("articles", "paragraphs", "rejects"):
        assert _rows(out, name) == _rows(again, name)


_real_furniture = steps._furniture


def _furniture_without_reads(files: list, cfg: object, max_pages: int) -> steps._PrePass:
    pre = _real_furniture(files, cfg, max_pages)
    pre.read.clear()  # the main pass reads every file again, as before the pre-pass kept them
    return pre
