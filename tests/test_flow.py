"""End to end through the Prefect flow (session-scoped test harness): publish, rerun, grow, force.

Kept to a few flow runs on purpose: each costs about a second under the harness.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from cleaning.state import RunLock, RunLocked, StateDir
from flows.params import FlowParams
from flows.steps import validate_output

pytestmark = pytest.mark.flow

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "data" / "raw" / "000_77a03ed607cd6b14.txt"


def _table(out: Path, name: str) -> pa.Table:
    return pa.concat_tables(pq.read_table(p) for p in sorted((out / name).glob("*.parquet")))


def _digests(out: Path) -> dict[str, str]:
    """Every published Parquet file and its hash (the manifest alone may differ between runs)."""
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.glob("*/*.parquet"))
    }


def _seed_paragraph(text_start: str) -> str:
    for line in SEED.read_text(encoding="utf-8").splitlines():
        if line.startswith(text_start):
            return line
    raise AssertionError(text_start)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("flow")
    (d / "in").mkdir()
    shutil.copy(SEED, d / "in" / "seed.txt")
    return d


def _run(workdir: Path, **kw) -> dict:
    from flows.clean_corpus import clean_corpus

    params = FlowParams(inputs=[str(workdir / "in")], out=str(workdir / "out"), **kw)
    summary = asyncio.run(clean_corpus(params=params))
    _check_invariants(workdir / "in", workdir / "out")
    return summary


def _check_invariants(inp: Path, out: Path) -> None:
    """After every flow run: `presswash validate` is clean and each input is in the manifest once."""
    assert validate_output(out) == []
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    listed = [i["source_path"] for i in manifest["inputs"]]
    given = {p.relative_to(inp).as_posix() for p in inp.rglob("*") if p.is_file()}
    assert len(listed) == len(set(listed)) and given <= set(listed)


def test_first_run_publishes_a_valid_dataset(prefect_harness, workdir: Path) -> None:
    summary = _run(workdir)
    out = workdir / "out"
    assert validate_output(out) == []
    assert summary["files_processed"] == 1 and summary["articles"] == 9
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["inputs"][0]["source_path"] == "seed.txt"
    assert manifest["inputs"][0]["status"] == "processed"
    assert manifest["schema_version"] == "1" and manifest["versions"]["prefect"]
    para = _table(out, "paragraphs")
    flagged = [r for r in para.to_pylist() if r["status"] != "kept"]
    assert sorted(r["status"] for r in flagged) == ["duplicate", "truncated", "truncated"]
    # the seed's dedup happens inside one file; the article text keeps only kept paragraphs
    arts = {a["id"]: a for a in _table(out, "articles").to_pylist()}
    for r in flagged:
        art = arts[r["article_id"]]
        assert art["paragraphs_kept"] == art["paragraph_count"] - sum(
            1 for f in flagged if f["article_id"] == art["id"]
        )
    assert not list(out.glob("*/.*")), "no hidden or temporary files in the table folders"


def test_rerun_of_the_same_input_changes_no_parquet_byte(prefect_harness, workdir: Path) -> None:
    out = workdir / "out"
    before = _digests(out)
    summary = _run(workdir)
    assert summary["files_processed"] == 0 and summary["files_skipped"] == 1
    assert summary["changed_files"] == 0
    assert _digests(out) == before


def test_new_file_is_deduplicated_against_the_published_ones(prefect_harness, workdir: Path) -> None:
    repeated = _seed_paragraph("用心打造营商环境")
    (workdir / "in" / "next.txt").write_text(
        "开发区夏季项目观摩会召开\n\n"
        "本报讯 昨天上午，开发区召开夏季重点项目观摩会，与会人员实地察看了十二个在建项目的进展情况。\n\n"
        f"{repeated}\n",
        encoding="utf-8",
    )
    summary = _run(workdir)
    out = workdir / "out"
    assert summary["files_processed"] == 1 and summary["files_skipped"] == 1
    assert validate_output(out) == []
    para = _table(out, "paragraphs").to_pylist()
    copies = {r["source_path"]: r for r in para if r["text"].startswith("用心打造营商环境")}
    assert set(copies) == {"seed.txt", "next.txt"}
    # Exactly one copy is flagged, pointing at the other. Which one is kept follows the
    # dedup stage's canonical order, not the order of runs, so the result equals a
    # clean run over both files.
    flagged = [r for r in copies.values() if r["status"] == "duplicate"]
    kept = [r for r in copies.values() if r["status"] == "kept"]
    assert len(flagged) == 1 and len(kept) == 1
    assert flagged[0]["duplicate_of"] == kept[0]["id"] and flagged[0]["relation"] == "exact"
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert {i["source_path"]: i["status"] for i in manifest["inputs"]} == {
        "next.txt": "processed",
        "seed.txt": "skipped",
    }


def _rows(out: Path, name: str) -> list[dict]:
    return sorted(_table(out, name).to_pylist(), key=lambda r: r["id"])


def test_force_reprocesses_into_the_same_rows(prefect_harness, workdir: Path) -> None:
    out = workdir / "out"
    before = {name: _rows(out, name) for name in ("articles", "paragraphs")}
    summary = _run(workdir, force=True)
    assert summary["files_processed"] == 2
    # both files now form one shard (one unit, other file names), with the same rows
    assert {name: _rows(out, name) for name in ("articles", "paragraphs")} == before
    assert validate_output(out) == []
    assert len(list((out / ".presswash" / "units").iterdir())) == 1


def test_changed_file_replaces_its_old_rows(prefect_harness, workdir: Path) -> None:
    (workdir / "in" / "next.txt").write_text(
        "开发区秋季项目观摩会召开\n\n本报讯 开发区召开秋季重点项目观摩会，察看了八个在建项目。\n",
        encoding="utf-8",
    )
    _run(workdir)
    out = workdir / "out"
    assert validate_output(out) == []
    texts = [r["text"] for r in _table(out, "paragraphs").to_pylist() if r["source_path"] == "next.txt"]
    assert texts and all("夏季" not in t for t in texts)
    assert any("秋季" in t for t in _table(out, "articles")["headline"].to_pylist()[-1] + texts)
    # the units of the superseded content are gone once nothing points at them
    units = {e["unit"] for e in json.loads(StateDir(out).catalog_path.read_text())["sources"].values()}
    assert {p.name for p in (out / ".presswash" / "units").iterdir()} == units


def test_a_second_run_on_the_same_output_is_refused(prefect_harness, workdir: Path) -> None:
    with RunLock(StateDir(workdir / "out"), "someone-else"), pytest.raises(RunLocked, match="someone-else"):
        _run(workdir)


def test_invalid_parameters_fail_before_any_task(prefect_harness, tmp_path: Path) -> None:
    from flows.clean_corpus import clean_corpus

    with pytest.raises(ValidationError):
        FlowParams(inputs=[], out=str(tmp_path / "o"))
    with pytest.raises(ValidationError, match="shard_bytes"):
        FlowParams.model_validate({"shard_bytes": 0})
    with pytest.raises(ValidationError, match="Extra inputs"):
        FlowParams.model_validate({"layout": {"no_such_setting": 1}})
    # the flow validates its parameters itself, before running anything (on the session's API
    # server: a flow run starts by registering with one, and a temporary one may not start in
    # Prefect's default 20 s on a busy machine)
    with pytest.raises(Exception, match="shard_bytes"):
        asyncio.run(clean_corpus(params={"inputs": ["x"], "out": str(tmp_path / "o"), "shard_bytes": -5}))
    assert not (tmp_path / "o").exists()


def test_disk_full_while_staging_publishes_nothing(
    prefect_harness, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from flows import steps

    out = workdir / "out"
    before = _digests(out)
    manifest = (out / "manifest.json").read_bytes()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(steps.parquet_io, "write_parts", full)
    with pytest.raises(OSError, match="No space left"):
        _run(workdir, force=True, retries=0)
    assert _digests(out) == before and (out / "manifest.json").read_bytes() == manifest
    monkeypatch.undo()
    _run(workdir)  # the next run starts clean
    assert validate_output(out) == []
