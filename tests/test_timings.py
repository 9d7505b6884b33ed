"""The manifest's ``timings``: where this run's seconds went, step by step.

Each step (plan, process_shard, dedup_reduce, finalize_unit) reports its wall and CPU seconds;
the manifest sums them per step, so a user (and the Prefect overhead benchmark) can tell the
work from what the run spent around it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows import artifacts, steps
from flows.params import FlowParams

PAGE = "市开发区召开工作会议\n\n本报讯 (记者 黄啟峰) 会议要求各部门把第{k}项工作落到实处。\n"


@pytest.fixture()
def inputs(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    for k in range(4):
        (d / f"p{k}.txt").write_text(PAGE.format(k=k) * 8, encoding="utf-8")  # ~1.2 KB
    return d


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def test_every_step_reports_its_calls_and_seconds(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    steps.run_local(FlowParams(inputs=[str(inputs)], out=str(out), shard_bytes=1024))
    m = _manifest(out)
    t = m["timings"]
    assert set(t) == {"plan", "process_shard", "dedup_reduce", "finalize_unit"}
    assert t["plan"]["calls"] == 1 and t["dedup_reduce"]["calls"] == 1
    assert t["process_shard"]["calls"] == m["this_run"]["shards"] > 1
    assert t["finalize_unit"]["calls"] == len({s["unit"] for s in m["shards"]})
    for step in t.values():
        assert step["seconds"] > 0 and step["cpu_seconds"] >= 0
    shard_sum = sum(s["seconds"] for s in m["shards"])
    assert t["process_shard"]["seconds"] == pytest.approx(shard_sum, abs=0.01)
    assert all({"seconds", "cpu_seconds"} <= set(s) for s in m["shards"])
    assert all("cpu_seconds" in row for row in artifacts.shard_table(m))


def test_a_reused_shard_reports_this_runs_seconds(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    params = FlowParams(inputs=[str(inputs)], out=str(out))
    steps.run_local(params)
    first = _manifest(out)["shards"]
    # a forced rerun plans the same shards, finds their units complete and reuses them
    steps.run_local(params.model_copy(update={"force": True}))
    again = _manifest(out)["shards"]
    assert [s["reused"] for s in again] == [True] * len(first)
    # the time of checking the unit, not the first run's work
    assert sum(s["seconds"] for s in again) <= sum(s["seconds"] for s in first)


def test_the_run_summary_says_where_the_time_went(inputs: Path, tmp_path: Path) -> None:
    from flows.clean_corpus import summarize
    from flows.cli import format_summary

    out = tmp_path / "out"
    manifest = steps.run_local(FlowParams(inputs=[str(inputs)], out=str(out), shard_bytes=1024))
    line = format_summary(summarize(manifest)).splitlines()[-1]
    assert line.startswith("time:       plan ")
    assert "shards " in line and "(4 tasks)" in line and "dedup reduce " in line and "finalize " in line
    assert "; CPU of the steps " in line
    assert format_summary(summarize(manifest), 9.25).endswith("; the run in all 9.2 s")
    md = artifacts.summary_markdown(manifest, {"changed_files": []})
    assert "Time in the steps (wall): plan " in md


def test_a_manifest_without_timings_has_no_time_line() -> None:
    assert artifacts.timings_text(None) is None
    assert artifacts.timings_text({}) is None
