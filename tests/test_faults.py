"""Faults: a whole run killed (SIGKILL) at seeded points of every phase, then rerun.

After each kill the previous dataset must still be there (``presswash validate``
passes and the published files are byte-identical), or, when the kill hit the
publish itself, every file must be readable and the journal must say so; the
next run must complete and give exactly the rows of a clean run.

The killed runs execute the flow's steps without Prefect (``flows.steps.run_local``)
in a subprocess that kills itself at its k-th file event, so a kill lands
precisely in a shard, the dedup reduce, finalize or the publish moves. One real
``presswash run`` (Prefect, ephemeral server) is killed too, in the middle of its
shard work.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cleaning import parquet_io
from cleaning.schema import PUBLIC_TABLES
from flows import steps
from flows.params import FlowParams

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "data" / "raw" / "000_77a03ed607cd6b14.txt"
SHARD_BYTES = 2048  # every input below is its own shard

# Runs in a subprocess: the flow's steps in order, killing itself at file event ``kill_at``
# (a Parquet batch written, or a file moved into place). kill_at 0 never kills.
KILLER = textwrap.dedent(
    """
    import json, os, signal, sys
    sys.path.insert(0, sys.argv[1])
    from cleaning import parquet_io
    from flows import steps
    from flows.params import FlowParams

    kill_at = int(sys.argv[3])
    count = 0

    def tick():
        global count
        count += 1
        if count == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    real_replace, real_write = os.replace, parquet_io.ParquetAppender.write

    def replace(src, dst):
        tick()
        real_replace(src, dst)

    def write(self, table):
        real_write(self, table)
        tick()

    os.replace = replace
    parquet_io.ParquetAppender.write = write
    steps.run_local(FlowParams.model_validate(json.loads(sys.argv[2])), run_id=f"kill{kill_at}")
    print("events", count)
    """
)


def _inputs(root: Path, second: bool) -> Path:
    """Run 1 sees three pages; run 2 adds two, changes one and adds an unsupported file."""
    text = SEED.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    d = root / "in"
    d.mkdir(parents=True, exist_ok=True)
    (d / "a.txt").write_text(text, encoding="utf-8")
    (d / "b.txt").write_text("".join(lines[: len(lines) // 2]), encoding="utf-8")
    (d / "c.txt").write_text("".join(lines[len(lines) // 3 :]), encoding="utf-8")
    if second:
        (d / "c.txt").write_text("".join(lines[len(lines) // 4 :]), encoding="utf-8")
        (d / "d.txt").write_text("".join(reversed(lines)), encoding="utf-8")
        (d / "sub").mkdir(exist_ok=True)
        (d / "sub" / "e.txt").write_text(text.replace("\u3002", "\uff01"), encoding="utf-8")
        (d / "f.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    return d


def _params(inp: Path, out: Path) -> FlowParams:
    return FlowParams(inputs=[str(inp)], out=str(out), shard_bytes=SHARD_BYTES, retries=0)


def _digests(out: Path) -> dict[str, str]:
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.glob("*/*.parquet"))
    }


def _rows(out: Path) -> dict[str, list[dict[str, Any]]]:
    """Every public table's rows, in a canonical order (files are cut per unit, so order differs)."""
    rows = {}
    for name in PUBLIC_TABLES:
        t = pa.concat_tables(pq.read_table(p) for p in sorted((out / name).glob("*.parquet")))
        key = "id" if "id" in t.column_names else "source_path"
        rows[name] = sorted(t.to_pylist(), key=lambda r, k=key: (r[k], json.dumps(r, default=str)))
    return rows


def check_invariants(out: Path, inp: Path | None = None) -> None:
    """``presswash validate`` finds nothing, and every input file is in the manifest exactly once."""
    assert steps.validate_output(out) == []
    if inp is not None:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        listed = [i["source_path"] for i in manifest["inputs"]]
        given = sorted(p.relative_to(inp).as_posix() for p in inp.rglob("*") if p.is_file())
        assert sorted(listed) == given


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The previous dataset (run 1), the reference (a clean run over run 2's inputs) and the
    file events of an uninterrupted run 2, each with the step it happens in."""
    root = tmp_path_factory.mktemp("faults")
    prev_in = _inputs(root / "prev", second=False)
    steps.run_local(_params(prev_in, root / "prev" / "out"))
    check_invariants(root / "prev" / "out", prev_in)

    inp = _inputs(root / "next", second=True)
    steps.run_local(_params(inp, root / "reference"))
    check_invariants(root / "reference", inp)

    # Count run 2's file events in-process, labelled by step, on a copy of the previous dataset.
    out = root / "count"
    shutil.copytree(root / "prev" / "out", out)
    phase = ["plan"]
    events: list[str] = []
    real_replace, real_write = os.replace, parquet_io.ParquetAppender.write

    def replace(src: Any, dst: Any) -> None:
        events.append(phase[0])
        real_replace(src, dst)

    def write(self: parquet_io.ParquetAppender, table: pa.Table) -> None:
        real_write(self, table)
        events.append(phase[0])

    def phased(name: str, fn: Any) -> Any:
        def wrapper(*a: Any, **kw: Any) -> Any:
            phase[0] = name
            return fn(*a, **kw)

        return wrapper

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "replace", replace)
        mp.setattr(parquet_io.ParquetAppender, "write", write)
        for name in ("process_shard", "reduce_dedup", "finalize_unit", "publish_run"):
            mp.setattr(steps, name, phased(name, getattr(steps, name)))
        steps.run_local(_params(inp, out))
    check_invariants(out, inp)
    assert _rows(out) == _rows(root / "reference"), "an incremental run equals a clean run"
    return {
        "root": root,
        "inp": inp,
        "prev": root / "prev" / "out",
        "reference": root / "reference",
        "events": events,
    }


def _after_kill(out: Path, prev: Path) -> bool:
    """What a reader finds after the kill: the previous dataset, or a journaled publish (True)."""
    for p in out.glob("*/*.parquet"):
        pq.read_table(p)  # never a torn file
    if parquet_io.journal_path(out / ".presswash").exists():
        assert any("interrupted" in p for p in steps.validate_output(out))
        return True
    else:
        check_invariants(out)
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        if manifest["run_id"] == json.loads((prev / "manifest.json").read_text(encoding="utf-8"))["run_id"]:
            assert _digests(out) == _digests(prev), "the previous dataset is intact"
    return False


def test_run_killed_in_every_phase_is_completed_by_the_next_run(scenario: dict[str, Any]) -> None:
    events: list[str] = scenario["events"]
    phases = ("process_shard", "reduce_dedup", "finalize_unit", "publish_run")
    assert {e for e in events} >= set(phases), events
    rng = random.Random(7)
    kills = []
    for phase in phases:
        ks = [k for k, e in enumerate(events, start=1) if e == phase]
        # publish: its second half are the moves after the journal (catalog, manifest, journal first)
        kills.append(rng.choice(ks[len(ks) // 2 :] if phase == "publish_run" else ks))
    journaled = 0
    for n, k in enumerate(kills):
        out = scenario["root"] / f"killed{n}"
        shutil.copytree(scenario["prev"], out)
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                KILLER,
                str(REPO),
                _params(scenario["inp"], out).model_dump_json(),
                str(k),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == -signal.SIGKILL, (k, events[k - 1], proc.stdout, proc.stderr[-2000:])
        journaled += _after_kill(out, scenario["prev"])
        steps.run_local(_params(scenario["inp"], out))
        check_invariants(out, scenario["inp"])
        assert _rows(out) == _rows(scenario["reference"]), f"kill at event {k} ({events[k - 1]})"
    assert journaled == 1, "exactly the kill among the publish moves leaves a journal"


def test_presswash_run_killed_mid_run_leaves_the_previous_dataset(scenario: dict[str, Any]) -> None:
    out = scenario["root"] / "killed-cli"
    shutil.copytree(scenario["prev"], out)
    exe = Path(sys.executable).parent / "presswash"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "flows.cli"]
    env = dict(os.environ, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="90")
    proc = subprocess.Popen(
        [*cmd, "run", str(scenario["inp"]), "--out", str(out), "--shard-bytes", str(SHARD_BYTES)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill takes the API server child too
    )
    try:
        # kill once the run has finished a shard of its own, i.e. in the middle of its work
        units = out / ".presswash" / "units"
        before = {p.parent.name for p in units.glob("*/stats.json")}
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            if {p.parent.name for p in units.glob("*/stats.json")} - before:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be killed"
    finally:
        # SIGKILL to the whole group, as a power cut would; never leaves the server behind
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    _after_kill(out, scenario["prev"])
    assert _digests(out) == _digests(scenario["prev"])
    steps.run_local(_params(scenario["inp"], out))
    check_invariants(out, scenario["inp"])
    assert _rows(out) == _rows(scenario["reference"])
