"""The benchmark harness runs: its end to end (the flow's own steps) and its stage pass (a copy
of the steps with a clock around each) give the same rows and decisions on the same pages."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmarks import run

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "data" / "raw" / "000_77a03ed607cd6b14.txt"


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    inp = tmp_path_factory.mktemp("pages")
    text = SEED.read_text(encoding="utf-8")
    for i in range(3):  # pages that repeat each other in part: dedup has work
        (inp / f"p{i}.txt").write_text(text if i == 0 else text[: len(text) // (i + 1)], encoding="utf-8")
    return inp


def test_end_to_end_and_stage_pass_agree(pages: Path, tmp_path: Path) -> None:
    e2e = run.e2e_pass([pages], tmp_path / "e2e", 1, 4096)
    stages = run.stage_pass(pages, tmp_path / "stages", 4096)
    assert e2e["files"] == 3 and e2e["shards"] >= 2
    assert e2e["documents"] == stages["counts"]["documents"] == 3
    assert e2e["articles"] == stages["counts"]["articles"]
    assert e2e["paragraphs"] == stages["counts"]["paragraphs"]
    assert e2e["statuses"] == stages["statuses"] and e2e["statuses"]["duplicate"] > 0
    assert set(e2e["phases"]) == {"plan", "shards", "dedup reduce", "finalize", "start-up and publish"}
    assert e2e["cpu"] > 0 and set(stages["stages"]) >= set(run.STAGES)
    # both publish the same article text: the kept paragraphs joined
    published = pq.read_table(tmp_path / "e2e" / "out" / "articles")["text"].to_pylist()
    staged = [
        t
        for p in sorted((tmp_path / "stages").glob("unit-*/public/articles-*.parquet"))
        for t in pq.read_table(p)["text"].to_pylist()
    ]
    assert sorted(staged) == sorted(published) and any("\n" in t for t in published)


def test_runners_report_reads_the_fastest_run_of_each_way() -> None:
    args = run.parse_args(["--runners", "--size-mb", "10", "--repeats", "2", "--workers", "1,2"])
    assert args.runners and args.repeats == 2 and max(args.workers) == 2
    assert run.parse_args(["--prefect-only"]).prefect_workers == 1
    assert run.parse_args(["--prefect-only", "--prefect-workers", "2"]).prefect_workers == 2
    ways = {
        "steps without Prefect, 1 process": {"wall": 10.0, "median_wall": 11.0, "walls": [12.0, 10.0]},
        "presswash run --runner process --workers 2": {"wall": 6.0, "median_wall": 6.5, "walls": [6.0, 7.0]},
    }
    for w in ways.values():
        w["median_steps_cpu"] = 9.0
    lines = run._runners_report({"repeats": 2, "ways": ways}, mb=20.0)
    rows = [line for line in lines if line.startswith("| presswash") or line.startswith("| steps")]
    assert rows[0].split(" | ")[1:6] == ["10.0", "11.0", "2.00", "1.00x", "9.0"]
    assert rows[1].split(" | ")[1:6] == ["6.0", "6.5", "3.33", "1.67x", "9.0"]
    assert rows[1].endswith("| 6.0, 7.0 |")
    assert run._runners_report({"skipped": "no command"}, mb=1.0)[-1] == "no command"
    assert lines[-1] == "Published rows: not compared."  # no digests in these ways


def test_published_digest_is_the_rows_not_the_files(pages: Path, tmp_path: Path) -> None:
    """One worker and three cut the pages into other shards, so other files: the same digest."""
    from flows import steps
    from flows.params import FlowParams

    def published(name: str, workers: int) -> Path:
        out = tmp_path / name
        params = FlowParams(inputs=[str(pages)], out=str(out), workers=workers, min_shard_bytes=1024)
        manifest = steps.run_local(params)
        assert manifest["this_run"]["shards"] == (1 if workers == 1 else 3)
        return out

    one, three = published("one", 1), published("three", 3)
    assert sorted(p.name for p in (one / "paragraphs").iterdir()) != sorted(
        p.name for p in (three / "paragraphs").iterdir()
    )
    digest = run.published_digest(one)
    assert digest == run.published_digest(three)
    assert run._same_rows({"1 worker(s)": digest, "3 worker(s)": digest}).startswith(
        f"Published rows: the same for every way (digest `{digest}`)"
    )
    # a changed row changes it
    part = sorted((three / "articles").glob("*.parquet"))[0]
    table = pq.read_table(part)
    title = table.schema.get_field_index("title")
    pq.write_table(table.set_column(title, "title", pa.array(["?"] * len(table))), part)
    assert run.published_digest(three) != digest
    assert run._same_rows({"a": digest, "b": "0" * 16}).startswith("Published rows DIFFER: a `")


def test_machine_calibration_scales_the_target_by_the_naive_calls() -> None:
    """ftfy at 1 MB/s (half the issue's 2), jieba at 0.5 (half its 1), numpy signatures at 6
    (0.4x its 15): the target reads 2.0-2.5 MB/s per core."""
    mb = 10.0
    nv = {"input_bytes": mb * run.corpus.MB, "cpu": {"repair": 10.0, "tokenize": 20.0, "minhash": 5.0}}
    (line,) = [x for x in run.machine_calibration(nv) if x]
    assert "`ftfy.fix_text` 1.00 MB/s per core (issue: ~2, 0.50x)" in line
    assert "`jieba.lcut` 0.50 MB/s per core (issue: ~1, 0.50x)" in line
    assert line.endswith("would be 2.50–2.50 MB/s per core on this machine.")
    numpy_ref = {"input_bytes": 6 * run.corpus.MB, "cpu": 1.0}
    (line,) = [x for x in run.machine_calibration(nv, numpy_ref) if x]
    assert "character 3-grams 6.00 MB/s per core (issue: ~15, 0.40x)" in line
    assert line.endswith("would be 2.00–2.50 MB/s per core on this machine.")
    assert run.machine_calibration({"input_bytes": 1, "cpu": {"repair": 0.0}}) == []


def test_numpy_signatures_equal_a_paragraph_at_a_time(tmp_path: Path) -> None:
    """The yardstick's whole-array passes give each paragraph the signature of its own 3-grams."""
    import numpy as np

    from benchmarks import naive

    paragraphs = ["本报讯记者黄啟峰", "abc", "The council met on Tuesday.", "会议要求各部门"]
    got = naive.char3_signatures(paragraphs)
    for row, p in zip(got, paragraphs, strict=True):
        c = np.array([ord(ch) for ch in p], dtype=np.uint64)
        grams = ((c[:-2] * np.uint64(1000003)) ^ (c[1:-1] * np.uint64(8191)) ^ c[2:]) & naive._LOW32
        perms = (naive._PERM_A[:, None] * grams[None, :] + naive._PERM_B[:, None]) & naive._LOW32
        assert (row == perms.min(axis=1)).all()
    (tmp_path / "p.txt").write_text("\n\n".join(paragraphs), encoding="utf-8")
    ref = naive.numpy_signatures([tmp_path / "p.txt"], repeats=1)
    assert ref["paragraphs"] == 4 and ref["input_bytes"] > 0 and ref["cpu"] >= 0


def test_pack_archive_holds_the_pages_a_run_reads_as_the_directory(pages: Path, tmp_path: Path) -> None:
    """``--as-archive`` measures the same pages: the zip's members are the directory's files."""
    from cleaning.reader import InputFile, read_file

    archive = run.pack_archive(pages, tmp_path / "set" / "pages.zip")
    docs = [d for d in read_file(InputFile(archive, "pages.zip", archive.stat().st_size))]
    files = sorted(pages.rglob("*.txt"))
    assert [d.source_path for d in docs] == [f"pages.zip!{f.relative_to(pages).as_posix()}" for f in files]
    assert [d.data for d in docs] == [f.read_bytes() for f in files]
    assert [p.name for p in archive.parent.iterdir()] == ["pages.zip"]  # no staging file left
