"""Incremental state: catalog, unit ids, the run lock (cleaning.state) and the planning step."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaning.state import (
    CatalogEntry,
    RunLock,
    RunLocked,
    StateDir,
    load_catalog,
    sha256_files,
    unit_id,
    write_catalog,
)

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "data" / "raw" / "000_77a03ed607cd6b14.txt"


def test_unit_id_is_content_addressed() -> None:
    a = unit_id("fp", [("a.txt", "1"), ("b.txt", "2")])
    assert a == unit_id("fp", [("b.txt", "2"), ("a.txt", "1")])
    assert a != unit_id("fp", [("a.txt", "1"), ("b.txt", "3")])
    assert a != unit_id("fp2", [("a.txt", "1"), ("b.txt", "2")])
    assert len(a) == 16


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_sha256_files_gives_each_files_digest_in_order_and_errors_in_place(tmp_path: Path) -> None:
    import hashlib

    contents = [b"", b"x", os.urandom(5000), os.urandom((9 << 20) + 7)]  # the last spans chunks
    paths: list[Path | str] = []
    for i, data in enumerate(contents):
        paths.append(tmp_path / f"f{i}")
        paths[-1].write_bytes(data)  # type: ignore[union-attr]
    paths.insert(2, str(tmp_path / "missing"))
    paths.insert(4, tmp_path)  # a directory opens, and fails on reading
    for ahead in (0, 1, 64):
        got = list(sha256_files(paths, ahead=ahead))
        assert isinstance(got[2], FileNotFoundError)
        assert isinstance(got[4], IsADirectoryError)
        digests = [g for k, g in enumerate(got) if k not in (2, 4)]
        assert digests == [hashlib.sha256(d).hexdigest() for d in contents]


def test_sha256_files_opens_at_its_turn_a_file_it_had_no_descriptor_for_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Running out of descriptors while reading ahead is no fault of the file: no error row."""
    import errno
    import hashlib
    import types

    import cleaning.state as state

    held: set[int] = set()

    def scarce_open(path, flags, *args):  # at most three open at once
        if len(held) >= 3:
            raise OSError(errno.EMFILE, "Too many open files", str(path))
        fd = os.open(path, flags, *args)
        held.add(fd)
        return fd

    def tracked_close(fd: int) -> None:
        held.discard(fd)
        os.close(fd)

    names = [name for name in dir(os) if not name.startswith("__")]
    fake_os = types.SimpleNamespace(**{name: getattr(os, name) for name in names})
    fake_os.open, fake_os.close = scarce_open, tracked_close
    monkeypatch.setattr(state, "os", fake_os)
    paths = []
    for i in range(10):
        paths.append(tmp_path / f"f{i}")
        paths[-1].write_bytes(b"page %d" % i)
    got = list(sha256_files(paths, ahead=8))
    assert got == [hashlib.sha256(b"page %d" % i).hexdigest() for i in range(10)]
    assert not held


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.timeout(30)
def test_sha256_files_does_not_wait_on_a_fifo_in_a_files_place(tmp_path: Path) -> None:
    import hashlib

    fifo = tmp_path / "page.txt"
    os.mkfifo(fifo)
    after = tmp_path / "next.txt"
    after.write_bytes(b"next page")
    got = list(sha256_files([fifo, after]))
    assert isinstance(got[0], OSError) and "not a regular file" in str(got[0])
    assert got[1] == hashlib.sha256(b"next page").hexdigest()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open files under /proc")
def test_sha256_files_closes_what_it_opened_ahead_when_left_early(tmp_path: Path) -> None:
    paths = []
    for i in range(20):
        paths.append(tmp_path / f"f{i}")
        paths[-1].write_bytes(b"page %d" % i)
    before = _open_fds()
    digests = sha256_files(paths, ahead=8)
    next(digests)
    assert _open_fds() > before  # the next files are open, read ahead
    digests.close()
    assert _open_fds() == before
    assert len(list(sha256_files(paths, ahead=8))) == 20
    assert _open_fds() == before


def test_catalog_round_trip(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    cat = {
        "x.txt": CatalogEntry("x.txt", "ab", 3, 7, "fp", "u1"),
        "y.txt": CatalogEntry("y.txt", None, None, None, "fp", "l2"),
        "z.zip": CatalogEntry("z.zip", "cd", 9, 8, "fp", "u2", ["u2", "u3"]),  # cut into parts
    }
    write_catalog(state.catalog_path, cat)
    assert load_catalog(state) == cat
    assert load_catalog(StateDir(tmp_path / "none")) == {}
    for entry in cat.values():  # as_dict is written out by hand: it must stay asdict
        want = dataclasses.asdict(entry)
        if want["units"] is None:
            del want["units"]  # a file in one unit: catalogs written before parts read the same
        assert entry.as_dict() == want
    assert cat["z.zip"].all_units() == ["u2", "u3"] and cat["x.txt"].all_units() == ["u1"]


def test_second_run_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    with RunLock(state, "run-1"):
        with pytest.raises(RunLocked, match=r"in use by another presswash run \(run run-1, pid \d+"):
            RunLock(state, "run-2").acquire()
    with RunLock(state, "run-3"):  # released: the next run gets it
        pass


def test_waiting_run_gets_the_lock_when_the_first_finishes(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    first = RunLock(state, "run-1").acquire()
    threading.Timer(0.6, first.release).start()
    t0 = time.monotonic()
    with RunLock(state, "run-2", wait=True, timeout=10):
        assert time.monotonic() - t0 >= 0.5
    held = RunLock(state, "run-3").acquire()
    with pytest.raises(RunLocked):
        RunLock(state, "run-4", wait=True, timeout=0.3).acquire()
    held.release()


def test_lock_of_a_killed_run_is_released_by_the_os(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys, time
        sys.path.insert(0, sys.argv[2])
        from cleaning.state import RunLock, StateDir
        RunLock(StateDir(sys.argv[1]), "victim").acquire()
        print("locked", flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path), str(REPO)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(RunLocked, match="victim"):
            RunLock(StateDir(tmp_path), "other").acquire()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with RunLock(StateDir(tmp_path), "other"):
        pass


def test_garbage_collection_keeps_live_units(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    state.ensure()
    for u in ("u1", "u2"):
        state.unit_dir(u).mkdir(parents=True)
        state.index_path(u).write_bytes(b"")
    assert state.collect_garbage({"u1"}) == ["u2"]
    assert state.unit_dir("u1").exists() and not state.unit_dir("u2").exists()
    assert state.index_path("u1").exists() and not state.index_path("u2").exists()


# ---- planning and shard tasks, without the Prefect harness (through .fn)


@pytest.fixture()
def params_for(tmp_path: Path):
    from flows.params import FlowParams

    def make(**kw):
        return FlowParams(inputs=[str(tmp_path / "in")], out=str(tmp_path / "out"), **kw)

    (tmp_path / "in").mkdir()
    return make


def test_plan_cuts_shards_by_bytes_and_skips_unchanged(tmp_path: Path, params_for) -> None:
    from flows.clean_corpus import plan_task, process_shard_task

    for i in range(3):
        (tmp_path / "in" / f"p{i}.txt").write_text(
            f"第{i}版\n\n" + "本报讯 今天天气很好。" * 50, encoding="utf-8"
        )
    params = params_for(shard_bytes=2000)
    plan = plan_task.fn(params, "r1")
    assert [len(s["files"]) for s in plan["shards"]] == [1, 1, 1]
    assert plan["processed"] == ["p0.txt", "p1.txt", "p2.txt"] and plan["skipped"] == []
    big = plan_task.fn(params_for(shard_bytes=10**6), "r1")
    assert len(big["shards"]) == 1
    # a unit left complete by an earlier (killed) run with the same plan is reused
    stats = process_shard_task.fn(big["shards"][0], params_for(shard_bytes=10**6))
    assert stats["files"] == 3 and not stats["reused"]
    again = plan_task.fn(params_for(shard_bytes=10**6), "r2")
    assert again["shards"][0]["reuse"] is True


def test_plan_leaves_out_files_inside_the_output_directory(tmp_path: Path) -> None:
    """Whether walked, named, globbed or reached through a symbolic link: the output's own files
    are never inputs; files beside it and links out of it are."""
    from flows.params import FlowParams
    from flows.steps import plan

    data = tmp_path / "data"
    (data / "raw").mkdir(parents=True)
    (data / "clean" / "sub").mkdir(parents=True)
    page = "本报讯 今天天气很好。\n"
    (data / "raw" / "a.txt").write_text(page, encoding="utf-8")
    (data / "clean" / "sub" / "old.txt").write_text(page, encoding="utf-8")
    (data / "raw" / "link.txt").symlink_to(data / "clean" / "sub" / "old.txt")
    (data / "raw" / "sub-link").symlink_to(data / "clean" / "sub", target_is_directory=True)
    (tmp_path / "elsewhere.txt").write_text(page, encoding="utf-8")
    (data / "raw" / "out-link.txt").symlink_to(tmp_path / "elsewhere.txt")
    named = [
        data / "clean" / "sub" / "old.txt",
        data / "raw" / "link.txt",
        data / "raw" / "sub-link" / "old.txt",
    ]
    inputs = [str(data), *map(str, named), str(data / "clean" / "*" / "*.txt")]
    got = plan(FlowParams(inputs=inputs, out=str(data / "clean")), "r1")
    planned = sorted(f["source_path"] for s in got["shards"] for f in s["files"])
    assert planned == ["raw/a.txt", "raw/out-link.txt"]
    # a link met alone, not beside the file it leads to
    got = plan(FlowParams(inputs=[str(data / "raw")], out=str(data / "clean")), "r2")
    planned = sorted(f["source_path"] for s in got["shards"] for f in s["files"])
    assert planned == ["a.txt", "out-link.txt"]


def test_a_named_path_through_a_link_and_dot_dot_is_judged_where_the_os_reads_it(tmp_path: Path) -> None:
    """``raw/sub-link/../x.txt`` is ``clean/x.txt`` when ``sub-link`` leads into ``clean``: the
    output's own file, left out, though the path's text reads as ``raw/x.txt``."""
    from flows.params import FlowParams
    from flows.steps import plan

    data = tmp_path / "data"
    (data / "raw").mkdir(parents=True)
    (data / "clean" / "sub").mkdir(parents=True)
    page = "本报讯 今天天气很好。\n"
    (data / "raw" / "a.txt").write_text(page, encoding="utf-8")
    (data / "clean" / "x.txt").write_text(page, encoding="utf-8")
    (data / "raw" / "sub-link").symlink_to(data / "clean" / "sub", target_is_directory=True)
    sneaky = os.path.join(str(data / "raw" / "sub-link"), "..", "x.txt")
    got = plan(FlowParams(inputs=[str(data / "raw" / "a.txt"), sneaky], out=str(data / "clean")), "r1")
    planned = sorted(f["source_path"] for s in got["shards"] for f in s["files"])
    assert planned == ["a.txt"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 5000), min_size=1, max_size=60), st.integers(1, 80))
def test_the_shards_of_a_block_are_as_even_as_its_files_allow(sizes: list[int], n: int) -> None:
    from flows.steps import _cut_even

    files = [{"size": size, "k": k} for k, size in enumerate(sizes)]
    pieces = _cut_even(files, n)
    assert [f for piece in pieces for f in piece] == files and all(pieces)  # in order, none empty
    assert len(pieces) == min(n, len(files))
    # each cut at the file boundary nearest its share: of files small beside a piece, every piece
    # is within a file of the even share
    share = sum(sizes) / len(pieces)
    if max(sizes) <= share / 4:
        assert all(abs(sum(f["size"] for f in piece) - share) <= max(sizes) for piece in pieces)


def test_parts_of_one_file_make_a_shard_a_worker() -> None:
    from flows.steps import _cut, _cut_even

    parts = [{"size": 1_015_808} for _ in range(17)] + [{"size": 891_296}]  # a 18 MB .jsonl.gz
    limit = -(-sum(p["size"] for p in parts) // 2)  # the even share of two workers
    assert [len(p) for p in _cut(parts, limit)] == [8, 8, 2]  # a greedy fill: three shards
    assert [len(p) for p in _cut_even(parts, 2)] == [9, 9]


@pytest.mark.parametrize(
    ("blocks", "workers", "counts"),
    [
        ([32, 32, 32], 2, [2, 1, 1]),  # 100 MB on two workers: 16+32 and 16+32, not 32+32 and 32
        ([32, 32, 32], 3, [1, 1, 1]),
        ([32, 32, 32, 32], 2, [1, 1, 1, 1]),
        ([21], 2, [2]),  # a small input: a shard a worker
        ([21], 4, [4]),
        ([21], 1, [1]),
        ([32, 4], 2, [2, 1]),  # 16+4 and 16
        ([3], 8, [3]),  # never below min_shard_bytes (1 here)
    ],
)
def test_blocks_are_cut_until_the_workers_are_evenly_busy(
    blocks: list[int], workers: int, counts: list[int]
) -> None:
    from flows.steps import split_counts

    mib = 2**20
    assert split_counts([b * mib for b in blocks], [100] * len(blocks), workers, mib) == counts
    assert split_counts([21 * mib], [2], 4, mib) == [2]  # at most a shard a file


def test_a_mid_sized_input_gives_every_worker_a_shard(tmp_path: Path, params_for) -> None:
    from flows.steps import plan

    for i in range(6):
        (tmp_path / "in" / f"p{i}.txt").write_text("本报讯 今天天气很好。" * 60, encoding="utf-8")
    one = plan(params_for(shard_bytes=10**6, min_shard_bytes=1024, workers=1), "r1")
    assert len(one["shards"]) == 1
    three = plan(params_for(shard_bytes=10**6, min_shard_bytes=1024, workers=3), "r1")
    assert len(three["shards"]) == 3 and sum(len(s["files"]) for s in three["shards"]) == 6
    # never below min_shard_bytes: a tiny input stays one task
    tiny = plan(params_for(shard_bytes=10**6, workers=3), "r1")
    assert len(tiny["shards"]) == 1


def test_a_document_that_raises_becomes_an_internal_error_reject(
    tmp_path: Path, params_for, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    import cleaning.pipeline
    from flows.clean_corpus import plan_task, process_shard_task

    shutil.copy(SEED, tmp_path / "in" / "good.txt")
    (tmp_path / "in" / "bad.txt").write_text("这一页会让处理出错。\n", encoding="utf-8")
    real = cleaning.pipeline.process_document

    def failing(doc, cfg, furniture=frozenset(), decoded=None):
        if doc.source_path == "bad.txt":
            raise ValueError("boom on purpose")
        return real(doc, cfg, furniture, decoded)

    monkeypatch.setattr(cleaning.pipeline, "process_document", failing)
    params = params_for()
    plan = plan_task.fn(params, "r1")
    stats = process_shard_task.fn(plan["shards"][0], params)
    assert stats["rejects"] == 1 and stats["articles"] == 9
    assert stats["sources"]["bad.txt"] == {"articles": 0, "paragraphs": 0, "rejects": 1}
    rej = pq.read_table(StateDir(params.out).unit_dir(stats["unit"]) / "rejects.parquet").to_pylist()
    assert rej[0]["reason"] == "internal_error" and "boom on purpose" in rej[0]["detail"]


def test_rows_that_fail_halfway_leave_nothing_behind(
    tmp_path: Path, params_for, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A document whose row building raises after some columns grew: cut back, recorded as a reject."""
    import pyarrow.parquet as pq

    import cleaning.pipeline
    from flows.clean_corpus import plan_task, process_shard_task

    shutil.copy(SEED, tmp_path / "in" / "a-good.txt")
    (tmp_path / "in" / "b-bad.txt").write_text(
        "这一页的行会在半路出错。\n\n第二段也在这里。\n", encoding="utf-8"
    )
    real = cleaning.pipeline._article_values

    def fails_on_the_bad_page(*args: Any) -> tuple[Any, ...]:
        # called for each article after its paragraph columns have grown; args[4] is its text
        if "半路" in args[4]:
            raise ValueError("rows failed halfway")
        return real(*args)

    monkeypatch.setattr(cleaning.pipeline, "_article_values", fails_on_the_bad_page)
    params = params_for()
    plan = plan_task.fn(params, "r1")
    stats = process_shard_task.fn(plan["shards"][0], params)
    assert stats["articles"] == 9 and stats["paragraphs"] == 40 and stats["rejects"] == 1
    udir = StateDir(params.out).unit_dir(stats["unit"])
    paras = pq.read_table(udir / "paragraphs.parquet")
    assert paras.num_rows == 40 and set(paras["_input"].to_pylist()) == {"a-good.txt"}
    assert pq.read_table(udir / "articles.parquet").num_rows == 9
    rej = pq.read_table(udir / "rejects.parquet").to_pylist()
    assert rej[0]["reason"] == "internal_error" and "rows failed halfway" in rej[0]["detail"]


def test_unreadable_input_is_rejected_at_planning(tmp_path: Path, params_for) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads files regardless of permissions")
    from flows.clean_corpus import plan_task

    p = tmp_path / "in" / "locked.txt"
    p.write_text("x", encoding="utf-8")
    p.chmod(0)
    plan = plan_task.fn(params_for(), "r1")
    assert plan["listing_rejects"] == ["locked.txt"]


def test_a_file_that_fails_while_hashed_is_rejected_and_the_rest_are_planned(
    tmp_path: Path, params_for, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs as root too: a directory in the listing stats fine and fails when read."""
    import hashlib

    import cleaning.reader
    from cleaning.reader import InputFile
    from flows.clean_corpus import plan_task

    good = tmp_path / "in" / "good.txt"
    good.write_text("本报讯 今天天气很好。", encoding="utf-8")
    odd = tmp_path / "in" / "odd.txt"
    odd.mkdir()
    listing = [InputFile(odd, "odd.txt", 0), InputFile(good, "good.txt", good.stat().st_size)]
    monkeypatch.setattr(cleaning.reader, "list_inputs", lambda *a, **k: (list(listing), []))
    plan = plan_task.fn(params_for(), "r1")
    assert plan["listing_rejects"] == ["odd.txt"]
    assert plan["processed"] == ["good.txt"]
    [f] = plan["shards"][0]["files"]
    assert f["sha256"] == hashlib.sha256(good.read_bytes()).hexdigest()


def _run_steps(params, run_id: str, stop_after_shards: int | None = None) -> None:
    """The flow's steps in order, without Prefect; optionally 'killed' after some shards."""
    from flows import steps

    plan = steps.plan(params, run_id)
    stats = []
    for i, shard in enumerate(plan["shards"]):
        if stop_after_shards is not None and i >= stop_after_shards:
            return
        stats.append(steps.process_shard(shard, params))
    dedup = steps.reduce_dedup(plan["catalog"], params, run_id)
    finals = [
        steps.finalize_unit(u, live, params, run_id) for u, live in steps.live_units(plan["catalog"]).items()
    ]
    steps.publish_run(params, plan, stats, finals, dedup, steps.now_iso())


def test_a_killed_run_is_completed_by_the_next_one_with_a_clean_runs_output(tmp_path: Path) -> None:
    import hashlib

    from flows.params import FlowParams

    (tmp_path / "in").mkdir()
    text = SEED.read_text(encoding="utf-8")
    for i in range(3):
        (tmp_path / "in" / f"p{i}.txt").write_text(text[: len(text) // (i + 1)], encoding="utf-8")

    def params(out: str) -> FlowParams:
        return FlowParams(inputs=[str(tmp_path / "in")], out=str(tmp_path / out), shard_bytes=2048)

    def digests(out: str) -> dict[str, str]:
        root = tmp_path / out
        return {
            p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.glob("*/*.parquet")
        }

    _run_steps(params("clean"), "r0")
    _run_steps(params("crashed"), "r1", stop_after_shards=2)
    assert not (tmp_path / "crashed" / "manifest.json").exists()
    _run_steps(params("crashed"), "r2")
    assert digests("crashed") == digests("clean") and len(digests("clean")) >= 6
