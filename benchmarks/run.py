"""The benchmark: every stage, end to end, the naive baseline and the datatrove peer, in one run.

    python -m benchmarks.run                      # 100 MB (70 % Chinese pages, 30 % English OCR)
    python -m benchmarks.run --quick              # 10 MB, short naive budget: a smoke run
    python -m benchmarks.run --peer               # add datatrove's MinHash dedup on the same paragraphs
    python -m benchmarks.run --scaling            # 10 MB / 100 MB / 1 GB, and 1 vs 2 workers
    python -m benchmarks.run --prefect            # also `presswash run` vs the same steps without Prefect
    python -m benchmarks.run --prefect-only       # only that comparison
    python -m benchmarks.run --runners            # `presswash run` with each runner, 1 and N workers
    python -m benchmarks.run --runners --as-archive  # the same, each set packed as one zip
    python -m benchmarks.run --reduce-scaling UNIT_DIR...   # dedup_reduce time/memory vs paragraphs

Inputs are built by :mod:`benchmarks.corpus` from the real corpora in ``$PRESSWASH_SHARED``
(default ``../shared``); the run stops with a message when they are absent.

Throughput is input MB (10^6 bytes of raw page files) per CPU second ("per core") and per wall
second. Each set (``zh``, ``en``) is measured three ways:

- *stage pass*: one process calls the stage functions directly, per document, with a CPU clock
  around each call, so the stage rows add up to the stage pass's end to end;
- *end to end*: a fresh subprocess runs the flow's own steps without Prefect
  (``flows.steps.run_local``: plan, a shard step per shard, the dedup reduce, a finalize step per
  unit, the publish), so its figures are what a run does and its peak RSS is its own;
- *naive*: :mod:`benchmarks.naive` on the same page files, on a CPU-time-budgeted prefix when it
  is slow (the table says how much it saw).

``--repeats N`` runs the end to end and the naive baseline N times, alternating, and heads the
report with each way's fastest run (a shared machine moves single runs by 10-25 %; noise only
ever adds time), listing every round's figures after it.

Results are printed and saved as JSON under ``benchmarks/out/`` (git ignores it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import corpus
from benchmarks.peak_rss import MB as MIB
from benchmarks.peak_rss import RssSampler, children_peak_rss, process_peak_rss

OUT_DIR = corpus.REPO_ROOT / "benchmarks" / "out"
STAGES = (
    "read",
    "decode",
    "repair",
    "normalize",
    "layout",
    "segment",
    "rows",
    "dedup map",
    "dedup reduce",
    "parquet write",
)
PER_DOCUMENT = frozenset(STAGES[:7]) | {"furniture"}
DEFAULT_SHARD_BYTES = 32 * 2**20  # the flow's default shard size
FURNITURE_MAX_PAGES = 2000  # the flow's default sample for repeated page furniture


# --------------------------------------------------------------------------- measuring


@dataclass(slots=True)
class Stat:
    cpu: float = 0.0
    wall: float = 0.0
    peak_rss: int = 0
    calls: int = 0


class Clock:
    """CPU and wall time per named stage, accumulated over many calls."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.stats: dict[str, Stat] = {n: Stat() for n in names}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        c0, w0 = time.process_time(), time.perf_counter()
        try:
            yield
        finally:
            st = self.stats.setdefault(name, Stat())
            st.cpu += time.process_time() - c0
            st.wall += time.perf_counter() - w0
            st.calls += 1


def flow_gc() -> None:
    """The collector thresholds the flow's shard tasks use (``flows.steps.tune_gc``).

    Every measured way (stage pass, end to end, naive baseline) runs with them, so the ratios
    compare the code, not the collector settings.
    """
    from flows.steps import tune_gc

    tune_gc()


def _rusage_cpu() -> tuple[float, float]:
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime, c.ru_utime + c.ru_stime


def _shards(files: list[Any], shard_bytes: int) -> list[list[Any]]:
    shards: list[list[Any]] = [[]]
    size = 0
    for f in files:
        if shards[-1] and size + f.size > shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append(f)
        size += f.size
    return [s for s in shards if s]


def _dedup_input(para_table: Any, articles: dict[str, list]) -> Any:
    """The dedup map's input: the paragraph table plus each row's article position (the map
    ignores the other columns), as the flow's unit writer hands it over."""
    import pyarrow as pa

    from cleaning.pipeline import paragraph_article_positions

    positions = pa.array(paragraph_article_positions(articles), pa.int32())
    return para_table.append_column("article_position", positions)


# --------------------------------------------------------------------------- stage pass


def _furniture_pages(
    shard: list[Any], cfg: Any, clock: Clock
) -> tuple[frozenset[str], dict[Any, Any], dict[int, list[Any]]]:
    """What the flow does before a shard (``flows.steps._furniture``), with read, decode and the
    repeated-line count each under its own clock for the stage pass.

    Returns the repeated lines, the sampled pages' decode results and the documents of the files
    read to their end (the main pass uses both instead of reading and decoding those pages
    again, as ``flows.steps._clean_shard`` does).
    """
    from cleaning import reader, segment
    from cleaning.model import Reject
    from cleaning.pipeline import decode_document

    decoded: dict[Any, Any] = {}
    read: dict[int, list[Any]] = {}
    pages: list[list[str]] = []
    for k, f in enumerate(shard):
        with clock("read"):
            docs = list(reader.read_file(f, cfg.read))
        read[k] = docs
        for doc in docs:
            if isinstance(doc, Reject):
                continue
            with clock("decode"):
                dec = decode_document(doc, cfg)
            if isinstance(dec, Reject):
                continue
            decoded[(doc.source_path, doc.source_sha256)] = dec
            pages.append(dec.lines)
        if len(pages) >= FURNITURE_MAX_PAGES:
            break
    with clock("furniture"):
        found = frozenset(segment.repeated_furniture(pages, cfg.segment)) if len(pages) >= 2 else frozenset()
    return found, decoded, read


def _reduce_per_unit(index_paths: list[str], cfg: Any) -> list[str]:
    """The dedup reduce as the flow's reduce task runs it with one worker: decisions held
    compactly, written a unit at a time beside each index file, so a unit's finalize reads only
    its own decisions. Returns the decision files, in the order of ``index_paths``."""
    from cleaning.dedup import reduce_index
    from flows.steps import _write_decisions

    reduced = reduce_index(index_paths, cfg.dedup)
    out_paths = []
    for path in index_paths:
        dpath = Path(path).with_name("decisions.parquet")
        _write_decisions(reduced.batches(reduced.rows_of(path)), dpath)
        out_paths.append(str(dpath))
    return out_paths


def stage_pass(root: Path, work: Path, shard_bytes: int) -> dict[str, Any]:
    """Every stage function called directly, one document at a time, each under its own clock."""
    import pyarrow as pa

    from cleaning import layout, normalize, parquet_io, reader, repair, segment
    from cleaning.config import CleaningConfig
    from cleaning.dedup import dedup_map
    from cleaning.model import Reject
    from cleaning.pipeline import DocResult, add_document_columns, decode_document, empty_columns
    from cleaning.schema import INPUT_COL, PARAGRAPHS, PUBLIC_TABLES, UNIT_ARTICLES
    from flows.steps import _apply_decisions, _rebuild_articles

    # the articles as a unit holds them (without their text, which finalize joins again), less
    # the unit writer's input-file column, which the stage pass has no use for
    unit_articles = UNIT_ARTICLES.remove(UNIT_ARTICLES.get_field_index(INPUT_COL))

    flow_gc()
    cfg = CleaningConfig()
    clock = Clock((*STAGES, "furniture"))
    sampler = RssSampler().start()
    counts = {"documents": 0, "rejects": 0, "articles": 0, "paragraphs": 0, "input_bytes": 0}
    index_paths: list[str] = []
    units: list[Path] = []
    c0, w0 = time.process_time(), time.perf_counter()

    with sampler.window() as per_doc_window:
        with clock("read"):
            files, listing_rejects = reader.list_inputs([root], cfg.read)
        counts["rejects"] += len(listing_rejects)
        counts["input_bytes"] = sum(f.size for f in files)
        for k, shard in enumerate(_shards(files, shard_bytes)):
            furniture, predecoded, read = _furniture_pages(shard, cfg, clock)
            articles, paragraphs = empty_columns(unit_articles), empty_columns(PARAGRAPHS)
            for j, f in enumerate(shard):
                docs = read.pop(j, None)
                if docs is None:
                    with clock("read"):
                        docs = list(reader.read_file(f, cfg.read))
                for doc in docs:
                    if isinstance(doc, Reject):
                        counts["rejects"] += 1
                        continue
                    counts["documents"] += 1
                    dec = predecoded.pop((doc.source_path, doc.source_sha256), None)
                    if dec is None:
                        with clock("decode"):
                            dec = decode_document(doc, cfg)
                    if isinstance(dec, Reject):
                        counts["rejects"] += 1
                        continue
                    info, lines, events = dec.info, dec.lines, [*doc.events, *dec.events]
                    with clock("repair"):
                        lines, ev = repair.repair_lines(lines, cfg.repair)
                    events.extend(ev)
                    with clock("normalize"):
                        lines, ev = normalize.normalize_lines(lines, cfg.normalize)
                    events.extend(ev)
                    with clock("layout"):
                        blocks, ev = layout.build_blocks(lines, cfg.layout, compact=True)
                    events.extend(ev)
                    with clock("segment"):
                        items, ev = segment.segment_blocks(
                            blocks, cfg.segment, furniture=furniture, compact=True
                        )
                    events.extend(ev)
                    with clock("rows"):
                        res = DocResult(doc=doc, decode_info=info, lines=lines, items=items, events=events)
                        add_document_columns(res, cfg, articles, paragraphs)
            with clock("rows"):
                art_table = pa.Table.from_pydict(articles, schema=unit_articles)
                para_table = pa.Table.from_pydict(paragraphs, schema=PARAGRAPHS)
            counts["articles"] += art_table.num_rows
            counts["paragraphs"] += para_table.num_rows
            udir = work / f"unit-{k:04d}"
            with clock("parquet write"):
                parquet_io.write_table(art_table, udir / "articles.parquet", unit_articles)
                parquet_io.write_table(para_table, udir / "paragraphs.parquet", PARAGRAPHS)
            units.append(udir)
            with clock("dedup map"):
                # with the text list the table was built from, as the flow's unit writer
                index = dedup_map(_dedup_input(para_table, articles), cfg.dedup, paragraphs["text"])
                parquet_io.write_table(index, udir / "index.parquet")
            index_paths.append(str(udir / "index.parquet"))
            del articles, paragraphs, art_table, para_table, index
    for name in PER_DOCUMENT | {"dedup map"}:
        clock.stats[name].peak_rss = per_doc_window["peak"]

    with sampler.window() as w, clock("dedup reduce"):
        decision_paths = _reduce_per_unit(index_paths, cfg)
    clock.stats["dedup reduce"].peak_rss = w["peak"]

    statuses: dict[str, int] = {}
    with sampler.window() as w, clock("parquet write"):
        for udir, dpath in zip(units, decision_paths, strict=True):
            decisions = parquet_io.read_table(dpath)
            para = _apply_decisions(parquet_io.read_table(udir / "paragraphs.parquet"), decisions)
            for s in para["status"].to_pylist():
                statuses[s] = statuses.get(s, 0) + 1
            parquet_io.write_parts(para, udir / "public", "paragraphs", PUBLIC_TABLES["paragraphs"], 250_000)
            # the articles' text joined from their kept paragraphs, as the flow's finalize does
            # (the article reprints, a reduce step of the flow, are left to the end to end)
            arts = _rebuild_articles(parquet_io.read_table(udir / "articles.parquet"), para, False)
            parquet_io.write_parts(arts, udir / "public", "articles", PUBLIC_TABLES["articles"], 250_000)
    clock.stats["parquet write"].peak_rss = max(w["peak"], per_doc_window["peak"])
    sampler.stop()
    return {
        "stages": {k: asdict(v) for k, v in clock.stats.items()},
        "cpu": time.process_time() - c0,
        "wall": time.perf_counter() - w0,
        "peak_rss": process_peak_rss(),
        "counts": counts,
        "statuses": statuses,
    }


# --------------------------------------------------------------------------- end to end (the flow)


def _run_local(params: Any, workers: int) -> dict[str, Any]:
    """``flows.steps.run_local(params)``, its shard and finalize steps over ``workers`` processes
    when above 1 (its reduce takes ``params.workers`` threads); returns the manifest."""
    from flows import steps

    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            return steps.run_local(params, executor=pool)
    return steps.run_local(params)


def e2e_pass(roots: list[Path], work: Path, workers: int, shard_bytes: int) -> dict[str, Any]:
    """The whole flow without Prefect (``flows.steps.run_local``): plan (listing and hashing the
    inputs), the shard steps, the dedup reduce (paragraphs and article reprints), the finalize
    steps and the publish, on a fresh output directory. ``workers`` > 1 runs the shard and
    finalize steps in that many processes, the reduce on that many threads, as the flow does."""
    import shutil

    from flows.params import FlowParams

    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    params = FlowParams(
        inputs=[str(r) for r in roots],
        out=str(out),
        shard_bytes=shard_bytes,
        workers=workers,
        furniture_max_pages=FURNITURE_MAX_PAGES,
    )
    sampler = RssSampler(interval=0.05, include_children=workers > 1).start()
    self0, child0 = _rusage_cpu()
    w0 = time.perf_counter()
    manifest = _run_local(params, workers)
    wall = time.perf_counter() - w0
    self1, child1 = _rusage_cpu()
    sampler.stop()
    timings = manifest["timings"]
    # each step's seconds by the manifest, summed over its tasks (over the workers, with several)
    phases = {name: timings[step]["seconds"] for step, name in _E2E_STEPS.items() if step in timings}
    if workers == 1:
        phases["start-up and publish"] = wall - sum(phases.values())
    counts = manifest["counts"]
    return {
        "workers": workers,
        "load_average_at_end": os.getloadavg(),
        "files": len(manifest["inputs"]),
        "input_bytes": sum(i["bytes"] for i in manifest["inputs"]),
        "wall": wall,
        "cpu": (self1 - self0) + (child1 - child0),
        "phases": phases,
        "peak_rss_sampled": sampler.peak(),
        "peak_rss_self": process_peak_rss(),
        "peak_rss_children": children_peak_rss(),
        "documents": sum(s.get("documents", 0) for s in manifest["shards"]),
        "rejects": counts["rejects"],
        "articles": counts["articles"],
        "paragraphs": counts["paragraphs"],
        "statuses": {k: v for k, v in manifest["paragraph_status"].items() if v},
        "article_statuses": manifest["dedup"]["article_statuses"],
        "shards": manifest["this_run"]["shards"],
    }


# the manifest's step timings, by the names the report gives the phases
_E2E_STEPS = {
    "plan": "plan",
    "block_furniture": "block furniture",  # only in a run that cut a block into several shards
    "process_shard": "shards",
    "dedup_reduce": "dedup reduce",
    "finalize_unit": "finalize",
}


def e2e_subprocess(roots: list[Path], work: Path, workers: int, shard_bytes: int) -> dict[str, Any]:
    """:func:`e2e_pass` in a fresh interpreter, so its peak memory is its own."""
    result = work / "e2e.json"
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.run",
        "--e2e-only",
        "--workers",
        str(workers),
        "--shard-mb",
        str(shard_bytes / 2**20),
        "--work",
        str(work),
        "--json",
        str(result),
        *[str(r) for r in roots],
    ]
    proc = subprocess.run(cmd, cwd=corpus.REPO_ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"end-to-end subprocess failed:\n{proc.stderr[-4000:]}")
    return json.loads(result.read_text())


# --------------------------------------------------------------------------- peer comparison


def _content_sample(texts: list[str], limit_bytes: int, total_bytes: int) -> list[int]:
    """Indices of a content-keyed sample: copies of a paragraph (same first characters) go together."""
    if total_bytes <= limit_bytes:
        return list(range(len(texts)))
    keep_per_mille = max(1, int(1000 * limit_bytes / total_bytes))
    out = []
    for i, t in enumerate(texts):
        key = "".join(t.split())[:6].encode()
        if int.from_bytes(hashlib.blake2b(key, digest_size=4).digest()) % 1000 < keep_per_mille:
            out.append(i)
    return out


def peer_compare(work: Path, lang: str, limit_mb: float) -> dict[str, Any]:
    """presswash dedup map+reduce vs datatrove's MinHash pipeline on the same paragraphs."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from benchmarks import peer
    from cleaning import parquet_io
    from cleaning.config import CleaningConfig
    from cleaning.dedup import dedup_map, dedup_reduce

    why = peer.available()
    if why is not None:
        return {"skipped": f"datatrove not importable ({why}); pip install 'presswash[bench]'"}
    # every paragraph the end to end published (flagged ones too), unit after unit
    tables = [
        pq.read_table(p, columns=["id", "article_id", "source_path", "position", "text"])
        for p in sorted((work / "out" / "paragraphs").glob("*.parquet"))
    ]
    para = pa.concat_tables(tables)
    texts = para["text"].to_pylist()
    total = sum(len(t.encode()) for t in texts)
    idx = _content_sample(texts, int(limit_mb * corpus.MB), total)
    sub = para.take(pa.array(idx, pa.int64()))
    sub_texts = [texts[i] for i in idx]
    sub_bytes = sum(len(t.encode()) for t in sub_texts)
    # article_position is internal to the flow; paragraph position stands in for it here
    dedup_in = sub.append_column("article_position", sub["position"]).select(
        ["id", "article_id", "source_path", "position", "article_position", "text"]
    )
    cfg = CleaningConfig().dedup
    c0, w0 = time.process_time(), time.perf_counter()
    half = dedup_in.num_rows // 2  # two map shards, as a run of two shards would write
    paths = []
    for k, part in enumerate((dedup_in.slice(0, half), dedup_in.slice(half))):
        path = work / f"peer-index-{k}.parquet"
        parquet_io.write_table(dedup_map(part, cfg), path)
        paths.append(str(path))
    c_map, w_map = time.process_time() - c0, time.perf_counter() - w0
    decisions = dedup_reduce(paths, cfg)
    ours_cpu, ours_wall = time.process_time() - c0, time.perf_counter() - w0
    flagged_ours = sum(1 for s in decisions["status"].to_pylist() if s != "kept")

    theirs = peer.run_datatrove(sub_texts, "cmn" if lang == "zh" else "eng")
    return {
        "paragraphs": len(sub_texts),
        "sample_bytes": sub_bytes,
        "of_total_bytes": total,
        "presswash": {
            "cpu": ours_cpu,
            "wall": ours_wall,
            "map_cpu": c_map,
            "map_wall": w_map,
            "flagged": flagged_ours,
        },
        "datatrove": {
            "cpu": theirs.cpu_total,
            "wall": theirs.wall,
            "steps": theirs.cpu,
            "flagged": theirs.removed,
        },
    }


# --------------------------------------------------------------------------- Prefect overhead


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tree_cpu(pid: int) -> float:
    """User + system CPU seconds of a live process and all its descendants."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system
    return total


@contextmanager
def prefect_server(home: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """A long-lived ``prefect server start`` (as in production), on a private PREFECT_HOME."""
    import signal
    import urllib.request

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_UI_ENABLED="false",
        PREFECT_LOGGING_LEVEL="WARNING",
    )
    home.mkdir(parents=True, exist_ok=True)
    log = open(home / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"prefect server did not start: {(home / 'server.log').read_text()[-800:]}"
                )
            try:
                with urllib.request.urlopen(f"{api}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            time.sleep(0.5)
        yield api, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


def _timed(
    cmd: list[str], env: dict[str, str] | None = None, server_pid: int | None = None
) -> dict[str, Any]:
    """Wall and CPU (the command's process tree, plus the API server's if given) of one command."""
    s0 = _tree_cpu(server_pid) if server_pid else 0.0
    _, ch0 = _rusage_cpu()
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=corpus.REPO_ROOT, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - t
    _, ch1 = _rusage_cpu()
    server = (_tree_cpu(server_pid) - s0) if server_pid else 0.0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} … failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return {"wall": wall, "cpu": (ch1 - ch0) + server, "server_cpu": server}


def prefect_compare(roots: list[Path], work: Path, workers: int, repeats: int = 1) -> dict[str, Any]:
    """``presswash run`` against the flow's own steps called without Prefect.

    Three ways on the same input: the bare steps (``flows.steps.run_local``, no Prefect import);
    the flow against a long-lived ``prefect server start`` (how a scheduled deployment runs: the
    server is up before the run, its CPU during the run is counted); the flow on Prefect's
    ephemeral server (the README's command: the run starts and stops a temporary API server).
    The same three on one page give the fixed cost of each (after one untimed page per way:
    a fresh server's first flow run does one-time work a long-lived server did long ago).

    With ``repeats`` > 1 the three ways run in rounds, the order rotating each round, so slow
    phases of a shared machine fall on every way alike. Noise on a shared machine only adds
    time, so the shares are taken from each way's fastest run (the medians are reported too).
    """
    exe = shutil.which("presswash", path=str(Path(sys.executable).parent))
    if exe is None or not (corpus.REPO_ROOT / "flows" / "cli.py").exists():
        return {"skipped": "the presswash command (flows/) is not installed"}
    tiny = next(iter(sorted(roots[0].rglob("*.txt"))))
    runner = ["--runner", "process"] if workers > 1 else []

    def flow_cmd(inputs: list[Path], out: Path) -> list[str]:
        shutil.rmtree(out, ignore_errors=True)
        return [exe, "run", *map(str, inputs), "--out", str(out), "--workers", str(workers), *runner]

    def bare_cmd(inputs: list[Path], out: Path) -> list[str]:
        shutil.rmtree(out, ignore_errors=True)
        return [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--direct-steps",
            "--workers",
            str(workers),
            "--work",
            str(out),
            *map(str, inputs),
        ]

    eph_env = _ephemeral_env()
    res: dict[str, Any] = {"workers": workers, "repeats": repeats}
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in ("bare", "server", "ephemeral")}
    try:
        home = work / "prefect-home"
        shutil.rmtree(home, ignore_errors=True)
        with prefect_server(home) as (api, server):
            env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
            env.update(PREFECT_HOME=str(home), PREFECT_API_URL=api, DO_NOT_TRACK="1")
            way = {
                "bare": lambda inputs, out: _with_steps(_timed(bare_cmd(inputs, out)), out),
                "server": lambda inputs, out: _with_steps(
                    _timed(flow_cmd(inputs, out), env, server.pid), out
                ),
                "ephemeral": lambda inputs, out: _with_steps(_timed(flow_cmd(inputs, out), eph_env), out),
            }
            # One untimed page per way first: the first flow run a fresh server sees registers the
            # flow and fills its database, which a long-lived server did once, long ago; the
            # page also warms the disk cache and the compiled kernels' cache for every way.
            for mode in way:
                way[mode]([tiny], work / f"tiny-{mode}")
            one_page: dict[str, list[dict[str, Any]]] = {m: [] for m in way}
            warm_ups: list[float] = []
            order = list(way)
            for r in range(repeats):
                warm_ups.append(_warm_up_seconds())
                for mode in order[r % 3 :] + order[: r % 3]:
                    one_page[mode].append(way[mode]([tiny], work / f"tiny-{mode}"))
                    runs[mode].append(way[mode](roots, work / f"{mode}-out"))
                    wall = runs[mode][-1]["wall"]
                    print(f"prefect overhead, round {r + 1}: {mode} {wall:.1f} s", flush=True)
            for mode, timings in one_page.items():  # each way's fixed cost: its fastest one-page run
                res[f"{mode}_one_page"] = {
                    **min(timings, key=lambda t: t["wall"]),
                    "walls": [t["wall"] for t in timings],
                }
    except RuntimeError as exc:
        res["error"] = str(exc)
        return res
    for mode, timings in runs.items():
        best = min(timings, key=lambda t: t["wall"])
        res[mode] = {
            **best,
            "walls": [t["wall"] for t in timings],
            "cpus": [t["cpu"] for t in timings],
            "median_wall": statistics.median(t["wall"] for t in timings),
            "median_cpu": statistics.median(t["cpu"] for t in timings),
        }
        # The same runs, read from inside: the run's seconds beyond its steps' own (manifest
        # ``timings``). The steps are the same work in every way, so this difference between a
        # way and the bare steps is orchestration alone, free of the run-to-run noise of the
        # work (which moves a 40 s run by several seconds on this machine).
        res[mode]["median_outside_wall"] = statistics.median(t["outside_wall"] for t in timings)
        res[mode]["median_outside_cpu"] = statistics.median(t["outside_cpu"] for t in timings)
        res[mode]["median_steps_wall"] = statistics.median(t["steps_wall"] for t in timings)
        res[mode]["outside_walls"] = [t["outside_wall"] for t in timings]
    bare = res["bare"]
    for mode in ("server", "ephemeral"):
        m = res[mode]
        m["direct_wall"] = m["median_outside_wall"] - bare["median_outside_wall"]
        m["direct_share_wall"] = m["direct_wall"] / m["median_wall"]
        m["direct_cpu"] = m["median_outside_cpu"] - bare["median_outside_cpu"]
        m["direct_share_cpu"] = m["direct_cpu"] / m["median_cpu"]
        m["overhead_share_wall"] = (m["wall"] - bare["wall"]) / m["wall"]
        m["overhead_share_cpu"] = (m["cpu"] - bare["cpu"]) / m["cpu"] if m["cpu"] else None
        m["median_share_wall"] = (m["median_wall"] - bare["median_wall"]) / m["median_wall"]
        fixed = res[f"{mode}_one_page"]["wall"] - res["bare_one_page"]["wall"]
        m["fixed_wall"] = fixed
        m["in_run_share_wall"] = (m["wall"] - bare["wall"] - fixed) / m["wall"]
    # With the ephemeral server, `presswash run` warms the stages up before the flow starts (while
    # the server boots): work the bare steps do inside their first shard falls outside its steps.
    # Counted as work, with its seconds measured alone in a fresh process each round.
    eph = res["ephemeral"]
    res["warm_up_seconds"] = statistics.median(warm_ups)
    eph["direct_wall_less_warm_up"] = eph["direct_wall"] - res["warm_up_seconds"]
    eph["direct_share_less_warm_up"] = eph["direct_wall_less_warm_up"] / eph["median_wall"]
    res["command"] = " ".join(["presswash", *flow_cmd(roots, work / "flow-out")[1:]])
    return res


def _warm_up_seconds() -> float:
    """What ``cleaning.warmup.warm_up`` takes in a fresh process (its own clock, after imports)."""
    code = (
        "from cleaning.config import CleaningConfig; from cleaning.warmup import warm_up; "
        "print(warm_up(CleaningConfig()))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=corpus.REPO_ROOT, capture_output=True, text=True, check=True
    )
    return float(proc.stdout.strip().splitlines()[-1])


def _ephemeral_env() -> dict[str, str]:
    """This environment for ``presswash run`` on Prefect's ephemeral server: no API URL, and a
    long boot allowed (a loaded machine)."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
    return env


def published_digest(out: Path) -> str:
    """A digest of the rows a run published under ``out``, whatever files hold them.

    Each public table is read whole, ordered by ``id`` (rejects by source path, reason, detail), and
    its Arrow stream hashed: runs that cut the input into other shards (another runner, another
    number of workers) write other files, and must give the same digest.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    h = hashlib.sha256()
    for name, order in (
        ("articles", ["id"]),
        ("paragraphs", ["id"]),
        ("rejects", ["source_path", "reason", "detail"]),
    ):
        table = pq.read_table(out / name).replace_schema_metadata(None)
        table = table.sort_by([(c, "ascending") for c in order]).combine_chunks()
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        h.update(name.encode() + b"\0" + sink.getvalue().to_pybytes())
    return h.hexdigest()[:16]


def _with_steps(timed: dict[str, Any], out: Path) -> dict[str, Any]:
    """``timed`` plus the seconds the run's steps took by its manifest, and the rest (``outside``)."""
    timings = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["timings"]
    steps_wall = sum(t["seconds"] for t in timings.values())
    steps_cpu = sum(t["cpu_seconds"] for t in timings.values())
    return {
        **timed,
        "steps_wall": steps_wall,
        "steps_cpu": steps_cpu,
        "outside_wall": timed["wall"] - steps_wall,
        "outside_cpu": timed["cpu"] - steps_cpu,
    }


def direct_steps(roots: list[Path], out: Path, workers: int = 1) -> None:
    """The flow's steps in order without Prefect (the baseline of the overhead); ``workers`` > 1:
    the shard and finalize steps over that many processes, the reduce on as many threads."""
    import uuid

    from flows import steps
    from flows.params import FlowParams

    params = FlowParams(inputs=[str(r) for r in roots], out=str(out), workers=workers)
    if hasattr(steps, "run_local"):
        _run_local(params, workers)  # the flow's own Prefect-free composition, kept in step with it
        return
    run_id = uuid.uuid4().hex
    started = steps.now_iso()
    from cleaning.state import StateDir

    StateDir(params.out).ensure()
    the_plan = steps.plan(params, run_id)
    shard_stats = [steps.process_shard(s, params) for s in the_plan["shards"]]
    catalog = the_plan["catalog"]
    dedup_stats = steps.reduce_dedup(catalog, params, run_id)
    live = steps.live_units(catalog)
    finals = [steps.finalize_unit(u, live[u], params, run_id) for u in live]
    steps.publish_run(params, the_plan, shard_stats, finals, dedup_stats, started)


# --------------------------------------------------------------------------- report


def _rate(mb: float, seconds: float) -> float:
    return mb / seconds if seconds > 0 else float("inf")


def _fmt(x: float, nd: int = 2) -> str:
    if x == float("inf"):
        return "inf"
    return f"{x:,.{nd}f}"


def stage_table(name: str, size_mb: float, sp: dict[str, Any], e2e: dict[str, Any] | None) -> list[str]:
    paras = sp["counts"]["paragraphs"]
    head = (
        f"| {name} stage | CPU s | wall s | MB/s per core | MB/s wall | paragraphs/s per core "
        f"| share of CPU | peak RSS MiB |"
    )
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|"]
    total_cpu = sum(v["cpu"] for v in sp["stages"].values())
    for stage in (*STAGES[:5], "furniture", *STAGES[5:]):
        st = sp["stages"].get(stage)
        if st is None or st["calls"] == 0:
            continue
        label = "segment: furniture pre-pass" if stage == "furniture" else stage
        lines.append(
            f"| {label} | {_fmt(st['cpu'])} | {_fmt(st['wall'])} | {_fmt(_rate(size_mb, st['cpu']), 1)} "
            f"| {_fmt(_rate(size_mb, st['wall']), 1)} | {_fmt(_rate(paras, st['cpu']), 0)} "
            f"| {100 * st['cpu'] / total_cpu:.1f}% | {st['peak_rss'] / MIB:,.0f} |"
        )
    lines.append(
        f"| **stage pass, end to end** | {_fmt(sp['cpu'])} | {_fmt(sp['wall'])} "
        f"| **{_fmt(_rate(size_mb, sp['cpu']))}** | {_fmt(_rate(size_mb, sp['wall']))} "
        f"| {_fmt(_rate(paras, sp['cpu']), 0)} | 100% | {sp['peak_rss'] / MIB:,.0f} |"
    )
    if e2e:
        peak = max(e2e["peak_rss_sampled"], e2e["peak_rss_self"])
        lines.append(
            f"| **end to end, the flow without Prefect, {e2e['workers']} worker(s)** | {_fmt(e2e['cpu'])} "
            f"| {_fmt(e2e['wall'])} | **{_fmt(_rate(size_mb, e2e['cpu']))}** "
            f"| {_fmt(_rate(size_mb, e2e['wall']))} | {_fmt(_rate(e2e['paragraphs'], e2e['cpu']), 0)} "
            f"| | {peak / MIB:,.0f} |"
        )
    return lines


def naive_table(name: str, nv: dict[str, Any]) -> list[str]:
    mb = nv["input_bytes"] / corpus.MB
    lines = [
        f"| naive {name} stage | CPU s | MB/s per core | share of CPU |",
        "|---|---:|---:|---:|",
    ]
    for stage, cpu in nv["cpu"].items():
        lines.append(
            f"| {stage} | {_fmt(cpu)} | {_fmt(_rate(mb, cpu), 1)} | {100 * cpu / nv['cpu_total']:.1f}% |"
        )
    lines.append(
        f"| **naive end to end** | {_fmt(nv['cpu_total'])} | **{_fmt(_rate(mb, nv['cpu_total']))}** | 100% |"
    )
    return lines


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            for ln in fh:
                if ln.startswith("model name"):
                    cpu = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import psutil

    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=corpus.REPO_ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        head = ""
    return {
        "commit": head,
        "load_average": os.getloadavg(),
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


# --------------------------------------------------------------------------- main


def _size_label(mb: float) -> str:
    return f"{mb / 1000:g} GB" if mb >= 1000 else f"{mb:g} MB"


def run_main(args: argparse.Namespace) -> dict[str, Any]:
    shard_bytes = int(args.shard_mb * 2**20)
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.run " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "size_mb": args.size_mb,
        "sets": {},
    }
    print(f"building the benchmark sets ({_size_label(args.size_mb)}) ...", flush=True)
    sets = corpus.build_sets(args.size_mb, seed=args.seed)
    report: list[str] = []
    for name, bset in sets.items():
        if args.only and name not in args.only:
            continue
        size_mb = bset.mb
        work = OUT_DIR / f"work-{name}"
        print(f"[{name}] {len(bset.files)} pages, {size_mb:.1f} MB", flush=True)
        entry: dict[str, Any] = {"files": len(bset.files), "mb": size_mb}

        from benchmarks.naive import run_naive

        shutil.rmtree(work, ignore_errors=True)
        e2e_runs: list[dict[str, Any]] = []
        naive_runs: list[dict[str, Any]] = []
        # Rounds alternate the two ways, so a slow spell of a shared machine hits both; each
        # way's fastest run is the headline (noise only ever adds time).
        for r in range(args.repeats):
            rnd = f" (round {r + 1} of {args.repeats})" if args.repeats > 1 else ""
            print(f"[{name}] end to end, the flow without Prefect, 1 worker{rnd} ...", flush=True)
            shutil.rmtree(work / "e2e", ignore_errors=True)
            e2e_runs.append(e2e_subprocess([bset.root], work / "e2e", 1, shard_bytes))
            if r == 0:
                print(f"[{name}] stage pass ...", flush=True)
                (work / "stages").mkdir(parents=True, exist_ok=True)
                entry["stages"] = stage_pass(bset.root, work / "stages", shard_bytes)
            print(f"[{name}] naive baseline (CPU budget {args.naive_seconds:g} s){rnd} ...", flush=True)
            flow_gc()
            naive_runs.append(asdict(run_naive(bset.files, time_budget=args.naive_seconds)))
        if name == "zh":  # issue 8's plain-numpy yardstick, for the report's machine line
            from benchmarks.naive import numpy_signatures

            entry["numpy_reference"] = numpy_signatures(bset.files)
        entry["e2e"] = min(e2e_runs, key=lambda e: e["cpu"])
        entry["naive"] = max(naive_runs, key=lambda n: n["input_bytes"] / n["cpu_total"])
        if args.repeats > 1:
            entry["rounds"] = [
                {"e2e_cpu": e["cpu"], "naive_cpu": n["cpu_total"], "naive_bytes": n["input_bytes"]}
                for e, n in zip(e2e_runs, naive_runs, strict=True)
            ]

        if args.peer:
            print(f"[{name}] datatrove peer on <= {args.peer_mb:g} MB of paragraphs ...", flush=True)
            entry["peer"] = peer_compare(work / "e2e", name, args.peer_mb)
        results["sets"][name] = entry
        report += _set_report(name, entry)
        print("\n".join(_set_report(name, entry)), flush=True)

    if args.prefect:
        print("Prefect overhead ...", flush=True)
        work = OUT_DIR / f"work-prefect-{args.size_mb:g}"
        results["prefect"] = prefect_compare([s.root for s in sets.values()], work, 1, args.prefect_repeats)
        report += _prefect_report(results["prefect"])
    results["report"] = report
    return results


# Issue 8's figures for the naive libraries on Chinese text, "measured on this kind of machine"
# (MB/s per core), beside which it set the end-to-end target: the naive baseline times the
# same calls (its "repair" is ftfy.fix_text of the page, its "tokenize" jieba.lcut per
# paragraph), and benchmarks.naive.numpy_signatures the issue's plain-numpy signatures, so a
# run can say how fast its machine is against the one the target assumed.
ISSUE_RATES = {"repair": ("ftfy.fix_text", 2.0), "tokenize": ("jieba.lcut", 1.0)}
ISSUE_NUMPY_RATE = ("plain numpy 128-permutation signatures over character 3-grams", 15.0)
TARGET_MB_S = 5.0


def machine_calibration(nv: dict[str, Any], numpy_ref: dict[str, Any] | None = None) -> list[str]:
    """What this run measured for the calls issue 8 quotes figures of, and the end-to-end target
    scaled by the same ratios (context for the target, not a new target)."""
    measured = []
    mb = nv["input_bytes"] / corpus.MB
    for stage, (call, issue_rate) in ISSUE_RATES.items():
        cpu = nv["cpu"].get(stage, 0.0)
        if cpu <= 0:
            return []
        measured.append((f"`{call}`", _rate(mb, cpu), issue_rate))
    if numpy_ref and numpy_ref["cpu"] > 0:
        call, issue_rate = ISSUE_NUMPY_RATE
        measured.append((call, _rate(numpy_ref["input_bytes"] / corpus.MB, numpy_ref["cpu"]), issue_rate))
    ratios = [rate / issue_rate for _, rate, issue_rate in measured]
    parts = [
        f"{call} {rate:.2f} MB/s per core (issue: ~{issue_rate:g}, {rate / issue_rate:.2f}x)"
        for call, rate, issue_rate in measured
    ]
    low, high = TARGET_MB_S * min(ratios), TARGET_MB_S * max(ratios)
    return [
        "",
        "Machine against the issue's: " + "; ".join(parts) + ". The 5 MB/s target at those ratios "
        f"would be {low:.2f}–{high:.2f} MB/s per core on this machine.",
    ]


def _set_report(name: str, entry: dict[str, Any]) -> list[str]:
    size_mb = entry["mb"]
    sp, e2e, nv = entry["stages"], entry.get("e2e"), entry["naive"]
    out = ["", f"### {name}: {entry['files']} pages, {size_mb:.1f} MB", ""]
    out += stage_table(name, size_mb, sp, e2e)
    c = sp["counts"]
    out.append("")
    out.append(
        f"{c['documents']} documents, {c['articles']} articles, {c['paragraphs']} paragraphs, "
        f"{c['rejects']} rejects; paragraph statuses after dedup: {sp['statuses']}"
    )
    out.append("")
    out += naive_table(name, nv)
    nmb = nv["input_bytes"] / corpus.MB
    seen = (
        f"naive saw the first {nv['files']} of {entry['files']} pages ({nmb:.1f} MB, CPU budget reached)"
        if nv["stopped_early"]
        else f"naive saw all {nv['files']} pages"
    )
    ours = _rate(size_mb, e2e["cpu"]) if e2e else _rate(size_mb, sp["cpu"])
    naive = _rate(nmb, nv["cpu_total"])
    out += ["", f"{seen}; {nv['paragraphs']} paragraphs, {nv['duplicates']} flagged by its LSH."]
    if name == "zh":  # the issue's figures are for Chinese text
        out += machine_calibration(nv, entry.get("numpy_reference"))
    out += [
        "",
        f"**Headline {name}: presswash end to end {ours:.2f} MB/s per core vs naive {naive:.2f}: "
        f"{ours / naive:.1f}x.**",
    ]
    rounds = entry.get("rounds")
    if rounds:
        pairs = [
            (_rate(size_mb, r["e2e_cpu"]), _rate(r["naive_bytes"] / corpus.MB, r["naive_cpu"]))
            for r in rounds
        ]
        out += [
            "",
            f"{len(rounds)} alternating rounds, each way's fastest run above; per round (presswash / naive "
            "MB/s per core, ratio): "
            + "; ".join(f"{a:.2f} / {b:.2f}, {a / b:.1f}x" for a, b in pairs)
            + f" (median ratio {statistics.median(a / b for a, b in pairs):.1f}x).",
        ]
    peer_r = entry.get("peer")
    if peer_r:
        out.append("")
        if "skipped" in peer_r:
            out.append(f"peer skipped: {peer_r['skipped']}")
        else:
            mb = peer_r["sample_bytes"] / corpus.MB
            pw, dt = peer_r["presswash"], peer_r["datatrove"]
            out += [
                f"| dedup on the same {peer_r['paragraphs']} paragraphs ({mb:.1f} MB) | CPU s | wall s "
                f"| MB/s per core | paragraphs flagged |",
                "|---|---:|---:|---:|---:|",
                f"| presswash dedup_map + dedup_reduce | {_fmt(pw['cpu'])} | {_fmt(pw['wall'])} "
                f"| {_fmt(_rate(mb, pw['cpu']))} | {pw['flagged']} |",
                f"| datatrove MinHash (4 steps) | {_fmt(dt['cpu'])} | {_fmt(dt['wall'])} "
                f"| {_fmt(_rate(mb, dt['cpu']))} | {dt['flagged']} |",
                "",
                f"**Dedup {name}: presswash {dt['cpu'] / pw['cpu']:.1f}x datatrove (CPU).** "
                f"datatrove steps CPU s: " + ", ".join(f"{k} {v:.2f}" for k, v in dt["steps"].items()),
            ]
    return out


def _prefect_report(p: dict[str, Any]) -> list[str]:
    out = ["", "### Prefect overhead", ""]
    if "skipped" in p or "error" in p:
        out.append(p.get("skipped") or p.get("error", ""))
        return out
    repeats = p.get("repeats", 1)
    out.append(f"`{p['command']}` (and with `PREFECT_API_URL` set to a running `prefect server start`)")
    if repeats > 1:
        out[-1] += f"; {repeats} rounds, each way's fastest run (all runs in the last column):"
    else:
        out[-1] += ":"
    out += [
        "",
        "| way | wall s | CPU s (all processes) | orchestration share, wall | share, CPU "
        "| fixed cost (one page, over bare) | share beyond the fixed cost | one page: wall s "
        "| one page: CPU s | wall s of every run |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]

    def walls(m: dict[str, Any]) -> str:
        return ", ".join(f"{w:.1f}" for w in m.get("walls", [m["wall"]]))

    # With several workers the flow's steps run in processes that are not this process's children
    # (the step pool's server forks them), so their CPU is not in the flow's figures, and the
    # manifest's step seconds add up tasks that ran at once: only the wall times compare.
    multi = p.get("workers", 1) > 1

    def cpu(seconds: float) -> str:
        return "–" if multi else f"{seconds:.1f}"

    bare, bare1 = p["bare"], p["bare_one_page"]
    out.append(
        f"| bare steps, no Prefect | {bare['wall']:.1f} | {cpu(bare['cpu'])} | | | | "
        f"| {bare1['wall']:.1f} | {cpu(bare1['cpu'])} | {walls(bare)} |"
    )
    for mode, label in (("server", "flow, running server"), ("ephemeral", "flow, ephemeral server")):
        m, one = p[mode], p[f"{mode}_one_page"]
        fixed = m.get("fixed_wall", one["wall"] - bare1["wall"])
        in_run = m.get("in_run_share_wall", (m["wall"] - bare["wall"] - fixed) / m["wall"])
        cpu_share = "–" if multi else f"{100 * (m['overhead_share_cpu'] or 0):.1f}%"
        out.append(
            f"| {label} | {m['wall']:.1f} | {cpu(m['cpu'])} | {100 * m['overhead_share_wall']:.1f}% "
            f"| {cpu_share} | {fixed:.1f} s | {100 * in_run:.1f}% "
            f"| {one['wall']:.1f} | {cpu(one['cpu'])} | {walls(m)} |"
        )
    if multi:
        out += [
            "",
            f"{p['workers']} workers: the flow's steps ran in worker processes whose CPU the flow's "
            "figures do not hold, and its step seconds add up tasks that ran at once, so the wall "
            "times alone are compared (no CPU, no reading from inside the runs).",
        ]
    if repeats > 1:
        shares = ", ".join(
            f"{mode} {100 * p[mode]['median_share_wall']:.1f}%" for mode in ("server", "ephemeral")
        )
        out += ["", f"Shares from the median runs instead: {shares}."]
    if "direct_wall" in p["server"] and not multi:
        out += [
            "",
            "Measured from inside the same runs (medians): what each run took beyond its steps' own "
            "seconds (manifest `timings`: plan, shards, dedup reduce, finalize), over the bare steps' "
            "(start-up, imports, publish):",
            "",
            "| way | steps, wall s | beyond the steps, wall s | over bare, wall s | share of the run, wall "
            "| beyond the steps, CPU s | over bare, CPU s | share of the run, CPU |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            f"| bare steps, no Prefect | {bare['median_steps_wall']:.1f} "
            f"| {bare['median_outside_wall']:.1f} | | | {bare['median_outside_cpu']:.1f} | | |",
        ]
        for mode, label in (("server", "flow, running server"), ("ephemeral", "flow, ephemeral server")):
            m = p[mode]
            out.append(
                f"| {label} | {m['median_steps_wall']:.1f} | {m['median_outside_wall']:.1f} "
                f"| {m['direct_wall']:.1f} | **{100 * m['direct_share_wall']:.1f}%** "
                f"| {m['median_outside_cpu']:.1f} | {m['direct_cpu']:.1f} "
                f"| {100 * m['direct_share_cpu']:.1f}% |"
            )
        if "warm_up_seconds" in p:
            eph = p["ephemeral"]
            out += [
                "",
                f"The ephemeral way warms the stages up before its flow starts ({p['warm_up_seconds']:.1f} s "
                "measured alone, the median of one fresh process per round): work the bare steps do "
                "inside their first shard. Counted as work, its orchestration is "
                f"{eph['direct_wall_less_warm_up']:.1f} s, **{100 * eph['direct_share_less_warm_up']:.1f}%** "
                "of the run.",
            ]
    return out


def reduce_scaling(unit_dirs: list[Path]) -> list[dict[str, Any]]:
    """How dedup_reduce's time and peak memory grow with the number of paragraphs."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from cleaning import parquet_io
    from cleaning.config import CleaningConfig
    from cleaning.dedup import dedup_map

    cfg = CleaningConfig().dedup
    paths: list[str] = []
    for k, u in enumerate(unit_dirs):
        para = pq.read_table(
            u / "paragraphs.parquet", columns=["id", "article_id", "source_path", "position", "text"]
        )
        # units of different runs reuse source paths (hence ids): make them distinct
        for col in ("id", "article_id"):
            new = pc.binary_join_element_wise(pa.scalar(f"u{k}"), para[col], "-")
            para = para.set_column(para.schema.get_field_index(col), col, new)
        dedup_in = para.append_column("article_position", para["position"]).select(
            ["id", "article_id", "source_path", "position", "article_position", "text"]
        )
        path = u / "index-current.parquet"
        parquet_io.write_table(dedup_map(dedup_in, cfg), path)
        paths.append(str(path))
    out = []
    for k in range(1, len(paths) + 1):
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.run", "--reduce-only", *paths[:k]],
            cwd=corpus.REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        out.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(json.dumps(out[-1]), flush=True)
    return out


def run_prefect_only(args: argparse.Namespace) -> dict[str, Any]:
    sets = corpus.build_sets(args.size_mb, seed=args.seed)
    p = prefect_compare(
        [s.root for s in sets.values()],
        OUT_DIR / f"work-prefect-{args.size_mb:g}",
        args.prefect_workers,
        args.prefect_repeats,
    )
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.run " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "prefect": p,
        "report": _prefect_report(p),
    }


def runners_compare(
    roots: list[Path], work: Path, workers: int, repeats: int, tiny: Path | None = None
) -> dict[str, Any]:
    """``presswash run`` (ephemeral server, as the README runs it) with each runner, against the
    flow's steps without Prefect on 1 and ``workers`` processes (``run_local`` over a process pool,
    as the scaling runs do), in rounds whose order rotates.

    Wall time is the figure: the CPU of a ``--runner process`` run is not all in this process's
    children (the step workers are the children of the pool's server process, which nothing
    waits for), so each run's CPU is taken from its manifest (the steps' own seconds, measured in
    whichever process ran them).
    """
    exe = shutil.which("presswash", path=str(Path(sys.executable).parent))
    if exe is None:
        return {"skipped": "the presswash command is not installed"}
    env = _ephemeral_env()
    shard_bytes = DEFAULT_SHARD_BYTES

    def flow(runner: str, n: int) -> Callable[[list[Path], Path], dict[str, Any]]:
        def run(inputs: list[Path], out: Path) -> dict[str, Any]:
            shutil.rmtree(out, ignore_errors=True)
            cmd = [exe, "run", *map(str, inputs), "--out", str(out), "--runner", runner]
            cmd += ["--workers", str(n), "--shard-bytes", str(shard_bytes)]
            return {**_with_steps(_timed(cmd, env), out), "published": out}

        return run

    def bare(n: int) -> Callable[[list[Path], Path], dict[str, Any]]:
        def run(inputs: list[Path], out: Path) -> dict[str, Any]:
            r = e2e_subprocess(inputs, out, n, shard_bytes)
            # the steps' own CPU from the manifest (e2e_pass publishes to out/out), as for the flow's runs
            return {
                **_with_steps({"wall": r["wall"], "cpu": r["cpu"]}, out / "out"),
                "published": out / "out",
            }

        return run

    ways = {
        "steps without Prefect, 1 process": bare(1),
        f"steps without Prefect, {workers} processes": bare(workers),
        "presswash run --runner thread --workers 1": flow("thread", 1),
        f"presswash run --runner thread --workers {workers}": flow("thread", workers),
        f"presswash run --runner process --workers {workers}": flow("process", workers),
    }
    tiny = tiny or next(iter(sorted(roots[0].rglob("*.txt"))))
    for k, way in enumerate(ways.values()):  # untimed: the disk cache, a fresh server's first run
        way([tiny], work / f"tiny-{k}")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in ways}
    order = list(ways)
    digests: dict[str, str] = {}
    for r in range(repeats):
        for name in order[r % len(order) :] + order[: r % len(order)]:
            runs[name].append(ways[name](roots, work / "out"))
            print(f"runners, round {r + 1}: {name} {runs[name][-1]['wall']:.1f} s", flush=True)
            if name not in digests:  # untimed: what each way published, once
                digests[name] = published_digest(runs[name][-1]["published"])
    shutil.rmtree(work / "out", ignore_errors=True)
    res: dict[str, Any] = {"workers": workers, "repeats": repeats, "ways": {}}
    for name, timings in runs.items():
        res["ways"][name] = {
            "wall": min(t["wall"] for t in timings),
            "median_wall": statistics.median(t["wall"] for t in timings),
            "walls": [t["wall"] for t in timings],
            "median_steps_cpu": statistics.median(t["steps_cpu"] for t in timings),
            "digest": digests[name],
        }
    return res


def _runners_report(p: dict[str, Any], mb: float) -> list[str]:
    out = ["", "### Runners", ""]
    if "skipped" in p:
        return [*out, p["skipped"]]
    ways = p["ways"]
    base = next(iter(ways.values()))["wall"]
    if p.get("inputs"):
        out += [f"Inputs: {', '.join(p['inputs'])}.", ""]
    out += [
        f"{p['repeats']} rounds, order rotating; each way's fastest run, its median, every run; "
        "CPU of the steps from the manifest (median).",
        "",
        "| way | wall s | median wall s | MB/s wall | speed-up over 1 process | steps' CPU s "
        "| every run, wall s |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, w in ways.items():
        walls = ", ".join(f"{x:.1f}" for x in w["walls"])
        out.append(
            f"| {name} | {w['wall']:.1f} | {w['median_wall']:.1f} | {_rate(mb, w['wall']):.2f} "
            f"| {base / w['wall']:.2f}x | {w['median_steps_cpu']:.1f} | {walls} |"
        )
    return [*out, "", _same_rows({name: w.get("digest") for name, w in ways.items()})]


def _same_rows(digests: dict[str, str | None]) -> str:
    """One line: whether every way published the same rows (:func:`published_digest`)."""
    known = {name: d for name, d in digests.items() if d}
    if len(known) < 2:
        return "Published rows: not compared."
    if len(set(known.values())) == 1:
        return f"Published rows: the same for every way (digest `{next(iter(known.values()))}`)."
    return "Published rows DIFFER: " + "; ".join(f"{name} `{d}`" for name, d in known.items()) + "."


def pack_archive(root: Path, dest: Path) -> Path:
    """The pages under ``root`` as one zip archive (deflated, in path order): a dump as it is
    often shipped, which a run cuts into parts of its members."""
    import zipfile

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for page in sorted(root.rglob("*.txt")):
            zf.write(page, page.relative_to(root).as_posix())
    tmp.replace(dest)
    return dest


def run_runners_only(args: argparse.Namespace) -> dict[str, Any]:
    sets = corpus.build_sets(args.size_mb, seed=args.seed)
    mb = sum(s.mb for s in sets.values())
    work = OUT_DIR / f"work-runners-{args.size_mb:g}"
    roots = [s.root for s in sets.values()]
    tiny = None
    if args.as_archive:  # each set as one zip: the run cuts it into parts for the workers
        tiny = next(iter(sorted(roots[0].rglob("*.txt"))))
        roots = [pack_archive(s.root, work / "archives" / f"{s.root.name}.zip") for s in sets.values()]
    p = runners_compare(roots, work, max(args.workers), args.repeats, tiny)
    p["inputs"] = [r.name for r in roots]
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.run " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "runners": p,
        "report": _runners_report(p, mb),
    }


def run_scaling(args: argparse.Namespace) -> dict[str, Any]:
    shard_bytes = int(args.shard_mb * 2**20)
    sizes = args.scaling_sizes
    res: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.run " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "sizes": {},
        "workers": {},
    }
    lines = [
        "| input | pages | wall s | CPU s | MB/s per core | MB/s wall | peak RSS MiB | paragraphs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        print(f"scaling: building {_size_label(size)} ...", flush=True)
        sets = corpus.build_sets(size, seed=args.seed)
        roots = [s.root for s in sets.values()]
        mb = sum(s.mb for s in sets.values())
        work = OUT_DIR / f"work-scale-{size:g}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        print(f"scaling: {_size_label(size)} end to end, 1 worker ...", flush=True)
        r = e2e_subprocess(roots, work, 1, shard_bytes)
        if float(size) == float(args.size_mb):  # the workers' comparison below reuses this run
            r["digest"] = published_digest(work / "out")  # untimed
        res["sizes"][str(float(size))] = r
        print(f"  {json.dumps(r)}", flush=True)
        peak = max(r["peak_rss_sampled"], r["peak_rss_self"])
        lines.append(
            f"| {_size_label(size)} | {r['files']} | {r['wall']:.1f} | {r['cpu']:.1f} "
            f"| {_rate(mb, r['cpu']):.2f} | {_rate(mb, r['wall']):.2f} | {peak / MIB:,.0f} "
            f"| {r['paragraphs']} |"
        )
        print(lines[-1], flush=True)
        shutil.rmtree(work, ignore_errors=True)
    wsize = args.size_mb
    sets = corpus.build_sets(wsize, seed=args.seed)
    roots = [s.root for s in sets.values()]
    mb = sum(s.mb for s in sets.values())
    wlines = [
        "",
        "| workers | input | wall s | CPU s | speedup (wall) | peak RSS MiB (all processes) |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    base = None
    for w in args.workers:
        work = OUT_DIR / f"work-workers-{w}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        if w == 1 and str(float(wsize)) in res["sizes"]:
            r = res["sizes"][str(wsize)]  # the same run as the size row above
        else:
            print(f"scaling: {_size_label(wsize)} with {w} worker(s) ...", flush=True)
            r = e2e_subprocess(roots, work, w, shard_bytes)
            r["digest"] = published_digest(work / "out")  # untimed
        res["workers"][str(w)] = r
        base = base or r["wall"]
        wlines.append(
            f"| {w} | {_size_label(mb)} | {r['wall']:.1f} | {r['cpu']:.1f} | {base / r['wall']:.2f} "
            f"| {r['peak_rss_sampled'] / MIB:,.0f} |"
        )
        print(wlines[-1], flush=True)
        shutil.rmtree(work, ignore_errors=True)
    res["report"] = lines + wlines
    digests = {f"{w} worker(s)": r.get("digest") for w, r in res["workers"].items()}
    res["report"] += ["", _same_rows(digests)]
    return res


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    p.add_argument("--size-mb", type=float, default=100.0, help="input size of the run (default 100)")
    p.add_argument("--quick", action="store_true", help="10 MB, naive budget 10 s, peer 1 MB")
    p.add_argument("--scaling", action="store_true", help="10 MB / 100 MB / 1 GB and the worker counts")
    p.add_argument(
        "--scaling-sizes", type=lambda s: [float(x) for x in s.split(",")], default=[10, 100, 1000]
    )
    p.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2])
    p.add_argument("--peer", action="store_true", help="add datatrove's MinHash dedup on the same paragraphs")
    p.add_argument("--peer-mb", type=float, default=8.0, help="paragraph MB given to the peer comparison")
    p.add_argument("--prefect", action="store_true", help="time `presswash run` against the bare steps")
    p.add_argument("--prefect-only", action="store_true", help="only the Prefect overhead comparison")
    p.add_argument(
        "--runners",
        action="store_true",
        help="only `presswash run` with each runner (1 and the largest --workers) against the bare steps",
    )
    p.add_argument(
        "--as-archive",
        action="store_true",
        help="with --runners: each set packed as one zip archive (a run reads it in parts)",
    )
    p.add_argument(
        "--prefect-repeats", type=int, default=1, help="rounds of the Prefect comparison (fastest per way)"
    )
    p.add_argument(
        "--prefect-workers",
        type=int,
        default=1,
        help="workers of the Prefect comparison (above 1: `--runner process` against the bare steps "
        "over as many processes)",
    )
    p.add_argument(
        "--naive-seconds", type=float, default=90.0, help="CPU budget of the naive baseline per set"
    )
    p.add_argument("--only", nargs="*", choices=["zh", "en"], help="measure only these sets")
    p.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="rounds of end to end and naive baseline, alternating (headline: each way's fastest)",
    )
    p.add_argument("--shard-mb", type=float, default=DEFAULT_SHARD_BYTES / 2**20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="write the results here (default benchmarks/out/…)")
    # internal: one end-to-end pass in this process (used through subprocesses)
    p.add_argument("--e2e-only", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--direct-steps", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "--reduce-only",
        action="store_true",
        help="the dedup reduce, as the flow runs it, over these index files",
    )
    p.add_argument(
        "--reduce-scaling",
        action="store_true",
        help="index the paragraphs.parquet of the unit directories given, then time dedup_reduce over "
        "the first 1, 2, … of them (each in a fresh process)",
    )
    p.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    p.add_argument("roots", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.size_mb = 10.0
        args.naive_seconds = min(args.naive_seconds, 10.0)
        args.peer_mb = min(args.peer_mb, 1.0)
        args.scaling_sizes = [2, 10]
    return args


def compile_bytecode() -> None:
    """Compile the project's modules to bytecode before any fresh process is measured.

    Any install has them: pip compiles a package when it installs it, and Python writes an
    editable checkout's on first import. Without them (``PYTHONDONTWRITEBYTECODE`` set, as on
    the machine these figures come from) every fresh process compiles ~15,000 lines again,
    ~0.25 CPU s that no user pays. ``compileall`` writes them whatever that variable says.
    """
    import compileall

    for package in ("cleaning", "flows", "benchmarks"):
        compileall.compile_dir(corpus.REPO_ROOT / package, quiet=1)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.e2e_only:
        args.work.mkdir(parents=True, exist_ok=True)
        r = e2e_pass(args.roots, args.work, args.workers[0], int(args.shard_mb * 2**20))
        args.json.write_text(json.dumps(r))
        return 0
    if args.reduce_scaling:
        print(json.dumps(reduce_scaling(args.roots), indent=1))
        return 0
    if args.reduce_only:
        # the reduce as the flow runs it, alone over the given index files: reduce_index, then
        # every decision row built a batch at a time and written (how time and memory grow)
        import pyarrow.parquet as pq

        from cleaning.config import CleaningConfig
        from cleaning.dedup import reduce_index
        from cleaning.schema import DECISION_SCHEMA

        c0, w0 = time.process_time(), time.perf_counter()
        reduced = reduce_index([str(r) for r in args.roots], CleaningConfig().dedup)
        sink = OUT_DIR / "reduce-only-decisions.parquet"
        sink.parent.mkdir(parents=True, exist_ok=True)
        with pq.ParquetWriter(sink, DECISION_SCHEMA) as writer:
            for batch in reduced.batches():
                writer.write_batch(batch)
        print(
            json.dumps(
                {
                    "index_files": len(args.roots),
                    "paragraphs": len(reduced),
                    "statuses": reduced.status_counts(),
                    "cpu": time.process_time() - c0,
                    "wall": time.perf_counter() - w0,
                    "peak_rss_mib": process_peak_rss() / MIB,
                }
            )
        )
        sink.unlink()
        return 0
    if args.direct_steps:
        direct_steps(args.roots, args.work, args.workers[0])
        return 0
    if corpus.corpora_dir() is None:
        print(f"skipped: the real corpora are not in {corpus.shared_dir()}/corpora (set PRESSWASH_SHARED)")
        return 0
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    compile_bytecode()
    if args.prefect_only:
        results = run_prefect_only(args)
    elif args.runners:
        results = run_runners_only(args)
    else:
        results = run_scaling(args) if args.scaling else run_main(args)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.json or OUT_DIR / f"{'scaling' if args.scaling else 'run'}-{stamp}.json"
    path.write_text(json.dumps(results, indent=1, default=str))
    print("\n".join(["", f"## {results['command']}  ({results['date']})", *results["report"]]))
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    # The presswash command's exit (no interpreter teardown), here too: the bare steps of the
    # Prefect comparison and `presswash run` then end the same way.
    from flows.cli import run_then_exit

    run_then_exit(main)
