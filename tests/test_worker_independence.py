"""The published rows do not depend on how many workers a run had.

An input smaller than ``workers x shard_bytes`` is cut into about ``workers`` shards so that
every worker has one. Page furniture (running heads, footers) is a decision over many pages;
taken per shard, it changed with the cut: a running head on 3 of 10 pages is furniture for the
whole input, but in a cut of two shards of five pages it is furniture in one shard and body
text in the other. Furniture is therefore found per *block* of ``shard_bytes`` input bytes,
a cut that does not depend on ``workers``; the shards of a split block take their block's.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from flows import steps
from flows.params import FlowParams

HEADER = "城市晚报 第3版 2024年5月1日"
PAGES = 10
HEADED = (0, 4, 8)  # 3 of 10 pages: furniture for all ten (30 %); for pages 5-9 alone, 1 of 5


TOPICS = ("道路改造", "垃圾分类", "老旧小区", "公交线路", "菜市场")
TOPICS += ("图书馆", "体育公园", "河道治理", "停车难", "夜市")


def _page(k: int) -> str:
    head = f"{HEADER}\n\n" if k in HEADED else ""
    topic = TOPICS[k]
    return (
        f"{head}{topic}工作推进会召开\n\n"
        f"本报讯 (记者 黄啟峰) 会议听取了{topic}工作的情况汇报，要求各部门把{topic}工作落到实处，"
        f"切实解决群众反映强烈的{topic}问题，确保年底前见到成效。\n\n"
        f"会议强调，{topic}工作事关群众切身利益，各部门要加强协调配合，形成工作合力，定期通报进展情况。\n"
    )


@pytest.fixture()
def pages(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    for k in range(PAGES):
        (d / f"p{k:02d}.txt").write_text(_page(k), encoding="utf-8")
    return d


def _params(pages: Path, out: Path, workers: int, **kw: Any) -> FlowParams:
    return FlowParams(
        inputs=[str(pages)], out=str(out), workers=workers, shard_bytes=10**6, min_shard_bytes=1024, **kw
    )


def _published(out: Path) -> dict[str, list[dict]]:
    tables = {}
    for name in ("articles", "paragraphs", "rejects"):
        rows = pq.read_table(out / name).to_pylist()
        tables[name] = sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, ensure_ascii=False))
    return tables


def test_the_cut_depends_on_workers_and_the_blocks_do_not(pages: Path, tmp_path: Path) -> None:
    one = steps.plan(_params(pages, tmp_path / "o1", 1), "r1")
    three = steps.plan(_params(pages, tmp_path / "o3", 3), "r1")
    assert len(one["shards"]) == 1 and "furniture" not in one["shards"][0]
    assert one["furniture_blocks"] == []
    assert len(three["shards"]) == 3
    (block,) = three["furniture_blocks"]
    assert [f["source_path"] for f in block["files"]] == [f"p{k:02d}.txt" for k in range(PAGES)]
    assert {s["furniture"] for s in three["shards"]} == {block["path"]}
    # a split shard's unit is not the unit of the same files cut on their own
    assert len({s["unit"] for s in three["shards"]} | {one["shards"][0]["unit"]}) == 4


@pytest.mark.parametrize("workers", [2, 3, 4])
def test_the_published_rows_are_the_same_for_any_number_of_workers(
    pages: Path, tmp_path: Path, workers: int
) -> None:
    steps.run_local(_params(pages, tmp_path / "one", 1))
    steps.run_local(_params(pages, tmp_path / "many", workers))
    one, many = _published(tmp_path / "one"), _published(tmp_path / "many")
    assert one == many
    # the running head is furniture on every page that has it (the text of an article keeps
    # only its kept paragraphs: the later heads are duplicates of the first)
    furniture = {a["id"]: a["source_path"] for a in one["articles"] if a["kind"] == "furniture"}
    heads = {furniture.get(p["article_id"]) for p in one["paragraphs"] if p["text"] == HEADER}
    assert heads == {f"p{k:02d}.txt" for k in HEADED}


def test_a_split_block_reads_its_sample_once(
    pages: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The block's furniture is found by one step; its shards do not sample the block again."""
    calls: list[int] = []
    real = steps._furniture

    def counting(files: list[Any], *args: Any) -> Any:
        calls.append(len(files))
        return real(files, *args)

    monkeypatch.setattr(steps, "_furniture", counting)
    manifest = steps.run_local(_params(pages, tmp_path / "out", 3))
    assert calls == [PAGES]
    assert manifest["this_run"]["furniture_blocks"] == 1
    assert manifest["timings"]["block_furniture"]["calls"] == 1
    assert {s["furniture_of"] for s in manifest["shards"]} == {"block"}
    assert manifest["counts"]["articles"] == PAGES + len(HEADED)  # an article and the furniture
    assert steps.validate_output(tmp_path / "out") == []
    # the block's furniture lived in the run's staging directory, gone with the publish
    assert not any((tmp_path / "out" / ".presswash" / "staging").rglob("*.json"))


@pytest.mark.flow
def test_the_flow_finds_a_split_blocks_furniture_before_its_shards(
    prefect_harness, pages: Path, tmp_path: Path
) -> None:
    from flows.clean_corpus import clean_corpus

    steps.run_local(_params(pages, tmp_path / "one", 1))
    summary = asyncio.run(clean_corpus(params=_params(pages, tmp_path / "flow", 3)))
    assert summary["files_processed"] == PAGES
    assert summary["timings"]["block_furniture"]["calls"] == 1
    assert _published(tmp_path / "flow") == _published(tmp_path / "one")


def test_explain_with_the_runs_inputs_finds_the_runs_furniture_and_ids(
    pages: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One page alone has nothing repeated; explained as part of the run's inputs, its running
    head is the furniture the run found, and its paragraph ids are the run's."""
    from cleaning.segment import furniture_key
    from flows.cli import main
    from flows.explain import explain_file

    page = pages / "p04.txt"
    alone = explain_file(page, FlowParams(inputs=["x"]).cleaning())
    assert alone["documents"][0]["furniture"] == []

    steps.run_local(_params(pages, tmp_path / "out", 2))
    run_ids = {p["id"] for p in _published(tmp_path / "out")["paragraphs"] if p["source_path"] == "p04.txt"}
    assert main(["explain", str(page), "--inputs", str(pages), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    block = {"files": PAGES, "first": "p00.txt", "last": "p09.txt", "sampled_pages": PAGES}
    assert report["furniture_block"] == block
    (doc,) = report["documents"]
    assert doc["furniture"] == [furniture_key(HEADER)]
    kinds = {it["kind"] for it in doc["items"] if any(p["text"] == HEADER for p in it["paragraphs"])}
    assert kinds == {"furniture"}
    assert {p["id"] for it in doc["items"] for p in it["paragraphs"]} == run_ids

    assert main(["explain", str(page), "--inputs", str(pages)]) == 0
    assert "furniture found over the run's block of 10 files (p00.txt … p09.txt)" in capsys.readouterr().out
    # a file that is not among the inputs is a usage error, not an empty report
    assert main(["explain", str(page), "--inputs", str(tmp_path / "out" / "articles")]) == 2
