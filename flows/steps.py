"""The work of each ``clean-corpus`` task, as plain functions (no Prefect import).

The flow (:mod:`flows.clean_corpus`) wraps each of these in a task; tests call
them directly. Every function takes and returns paths and small dicts: text
only ever moves between a shard task and the disk.

Steps: :func:`plan` (list, hash, diff against the catalog, cut shards) →
:func:`process_shard` (one per shard: read, clean, write the unit and its dedup
index) → :func:`reduce_dedup` (decisions over every live unit) →
:func:`finalize_unit` (one per live unit: apply decisions, stage the public
parts) → :func:`publish_run` (journal, atomic moves, manifest last).
"""

from __future__ import annotations

import bisect
import gc
import heapq
import itertools
import json
import logging
import os
import platform
import queue
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cleaning import parquet_io
from cleaning.model import Reject
from cleaning.schema import (
    ARTICLE_DEDUP_FIELDS,
    ARTICLE_POS_COL,
    ARTICLES,
    DECISION_SCHEMA,
    INPUT_COL,
    PARAGRAPH_DEDUP_FIELDS,
    PUBLIC_TABLES,
    SCHEMA_VERSION,
    STATUS_KEPT,
    STATUSES,
    UNIT_SCHEMAS,
)
from cleaning.state import (
    CatalogEntry,
    StateDir,
    entry_units,
    load_catalog,
    part_name,
    sha256_files,
    unit_id,
    write_catalog,
)
from flows.params import FlowParams

log = logging.getLogger("presswash")

INTERNAL_ERROR = "internal_error"
DECISION_COLUMNS = [f.name for f in PARAGRAPH_DEDUP_FIELDS]
ARTICLE_DECISION_COLUMNS = [f.name for f in ARTICLE_DEDUP_FIELDS]


VERSIONED_PACKAGES = ("presswash", "prefect", "pyarrow", "datasketch", "ftfy", "jieba", "charset-normalizer")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class _Clock:
    """Wall and CPU seconds of one step, for the manifest's ``timings``.

    The CPU is the calling thread's (``time.thread_time``): with the thread runner several
    steps share one process, so the process clock would mix them. Threads a step's libraries
    start (Arrow's) are not in it.
    """

    __slots__ = ("_cpu", "_wall")

    def __init__(self) -> None:
        self._wall = time.perf_counter()
        self._cpu = time.thread_time()

    def read(self) -> dict[str, float]:
        return {
            "seconds": round(time.perf_counter() - self._wall, 3),
            "cpu_seconds": round(time.thread_time() - self._cpu, 3),
        }


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            found[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            found[name] = None
    return found


def reject_row(r: Reject, input_sp: str) -> dict[str, Any]:
    return {
        "source_path": r.source_path,
        "source_sha256": r.source_sha256,
        "reason": r.reason,
        "detail": r.detail,
        "size_bytes": r.size_bytes,
        INPUT_COL: input_sp,
    }


# --------------------------------------------------------------------------- plan


def plan(params: FlowParams, run_id: str) -> dict[str, Any]:
    """List and hash the inputs, diff them against the catalog, cut the work into shards.

    Inputs the reader rejects while listing (unreadable, unsupported, …) go
    into a small unit of their own, so they are accounted for like any file.
    """
    from cleaning.reader import list_inputs
    from flows.runners import default_workers

    clock = _Clock()
    cfg = params.cleaning()
    state = StateDir(params.out)
    state.ensure()
    fingerprint = params.processing_fingerprint()
    catalog = load_catalog(state)
    out_abs = Path(params.out).resolve()

    # The output directory may sit inside an input directory (data/ holding raw/ and clean/):
    # the reader does not walk into it (nor reject its files); the filter covers files given by name.
    files, list_rejects = list_inputs(params.inputs, cfg.read, skip_dirs=[out_abs])
    files = _outside(files, out_abs)

    seen: dict[str, Any] = {}
    duplicates = 0
    for f in files:
        if f.source_path in seen:
            duplicates += 1  # the same input given twice: count it once
            continue
        seen[f.source_path] = f
    files = [seen[sp] for sp in sorted(seen)]

    # (source_path, sha256, size, mtime_ns, error) of each file: stat them all, then hash those
    # the catalog cannot vouch for, in one pass that reads ahead (sha256_files)
    hashed: list[tuple[str, str | None, int | None, int | None, str | None]] = []
    to_hash: list[int] = []
    for f in files:
        try:
            st = os.stat(f.path)
        except OSError as exc:
            hashed.append((f.source_path, None, None, None, f"{type(exc).__name__}: {exc}"))
            continue
        old = catalog.get(f.source_path)
        if (
            params.trust_mtime
            and old is not None
            and old.sha256
            and old.size == st.st_size
            and old.mtime_ns == st.st_mtime_ns
        ):
            hashed.append((f.source_path, old.sha256, st.st_size, st.st_mtime_ns, None))
            continue
        to_hash.append(len(hashed))
        hashed.append((f.source_path, None, st.st_size, st.st_mtime_ns, None))
    digests = sha256_files(files[k].path for k in to_hash)
    for k, digest in zip(to_hash, digests, strict=True):
        sp, _, size, mtime, _ = hashed[k]
        if isinstance(digest, OSError):
            hashed[k] = (sp, None, size, mtime, f"{type(digest).__name__}: {digest}")
        else:
            hashed[k] = (sp, digest, size, mtime, None)

    new_catalog: dict[str, CatalogEntry] = dict(catalog)
    todo: list[dict[str, Any]] = []
    cwd = os.getcwd()
    skipped: list[str] = []
    for f, (sp, sha, size, mtime, err) in zip(files, hashed, strict=True):
        if err is not None:
            reason = "vanished" if err.startswith("FileNotFoundError") else "unreadable"
            list_rejects.append(Reject(source_path=sp, reason=reason, detail=err, size_bytes=size))
            continue
        old = catalog.get(sp)
        unchanged = (
            not params.force
            and old is not None
            and old.sha256 == sha
            and old.fingerprint == fingerprint
            and all(map(state.unit_complete, old.all_units()))
        )
        if unchanged:
            skipped.append(sp)
            new_catalog[sp] = CatalogEntry(sp, sha, size, mtime, fingerprint, old.unit, old.units)
        else:
            todo.append(
                {
                    "path": os.path.join(cwd, f.path),  # Path.absolute, without a Path per file
                    "source_path": sp,
                    "size": int(size or 0),
                    "sha256": sha,
                    "mtime": mtime,
                }
            )

    # a large zip archive or (gzipped) JSONL file becomes parts, so that its shards run in parallel and
    # stay as small as any other
    todo = _split_archives(todo, cfg.read, part_bytes(params.shard_bytes))
    shards, blocks = _cut_shards(
        todo,
        params.shard_bytes,
        params.workers or default_workers(),
        params.min_shard_bytes,
        fingerprint,
        state,
        state.staging(run_id) / "furniture",
    )
    _index_gzip_parts([*shards, *blocks], state.staging(run_id) / "gzindex")
    units_of: dict[str, list[str]] = defaultdict(list)
    for shard in shards:
        for f in shard["files"]:
            units_of[f["source_path"]].append(shard["unit"])
    for shard in shards:
        for f in shard["files"]:
            units = units_of[f["source_path"]]
            new_catalog[f["source_path"]] = CatalogEntry(
                f["source_path"],
                f["sha256"],
                f.get("file_size", f["size"]),
                f["mtime"],
                fingerprint,
                units[0],
                units if len(units) > 1 else None,
            )

    rejected_inputs: list[str] = []
    list_rejects = _dedupe_rejects(list_rejects)
    pending = []
    for r in list_rejects:
        old = catalog.get(r.source_path)
        if (
            not params.force
            and old is not None
            and old.sha256 == r.source_sha256
            and old.fingerprint == fingerprint
            and all(map(state.unit_complete, old.all_units()))
        ):
            skipped.append(r.source_path)
            new_catalog[r.source_path] = old
        else:
            pending.append(r)
        rejected_inputs.append(r.source_path)
    listing_unit = None
    if pending:
        listing_unit = write_listing_unit(state, pending, fingerprint, cfg)
        for r in pending:
            new_catalog[r.source_path] = CatalogEntry(
                r.source_path, r.source_sha256, r.size_bytes, None, fingerprint, listing_unit
            )

    given = sorted({f.source_path for f in files} | {r.source_path for r in list_rejects})
    return {
        "run_id": run_id,
        "fingerprint": fingerprint,
        "given": given,
        "duplicate_inputs": duplicates,
        "skipped": sorted(set(skipped)),
        "processed": sorted({f["source_path"] for f in todo}),  # an archive cut into parts: once
        "listing_rejects": sorted(r.source_path for r in pending),
        "listing_unit": listing_unit,
        "shards": shards,
        "furniture_blocks": blocks,
        "catalog": {sp: e.as_dict() for sp, e in sorted(new_catalog.items())},
        "timing": clock.read(),
    }


# The wall time a run's shards may take over the even share of the workers before blocks are cut
# into more shards: each split block costs a block-furniture step (its sample read once more).
BALANCE_SLACK = 1.15


def _longest_first(sizes: list[float], workers: int) -> float:
    """The busiest worker's bytes when ``workers`` take ``sizes`` largest first, each the next
    piece as it gets free (how the flow hands its shards out)."""
    loads = [0.0] * workers
    for size in sorted(sizes, reverse=True):
        heapq.heapreplace(loads, loads[0] + size)
    return max(loads)


def largest_first(shards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The order to hand shards to the workers in: the largest first (a unit to reuse costs
    nothing, last), so the last shards to start are small ones and no worker is left running a
    large one while the others wait, as :func:`split_counts` plans."""
    return sorted(shards, key=lambda s: 0 if s.get("reuse") else -s["bytes"])


def in_order(
    submit: Callable[[int], Any], after: list[int | None], slots: int | None
) -> Iterator[tuple[int, Any]]:
    """Submit jobs ``0 … len(after) - 1`` (``submit(k)`` returns a future with
    ``add_done_callback``), each in turn as soon as it may: with at most ``slots`` submitted and
    not finished (all at once when None), and job ``k`` only once job ``after[k]`` has finished.
    Yields ``(k, future)`` as they finish. The jobs a finished one lets go are submitted only when
    the caller asks for the next, so a caller that raises on a failed job (``future.result()``)
    submits none of its dependents.

    The flow's shard steps wait so for their block's furniture and no longer for every block's:
    the shards of whole blocks run beside a block-furniture step.
    """
    finished: queue.SimpleQueue[tuple[int, Any]] = queue.SimpleQueue()
    ready = [k for k, first in enumerate(after) if first is None]  # in order: a heap already
    dependents: defaultdict[int, list[int]] = defaultdict(list)
    for k, first in enumerate(after):
        if first is not None:
            dependents[first].append(k)
    running = 0

    def submit_ready() -> None:
        nonlocal running
        while ready and (slots is None or running < max(slots, 1)):
            k = heapq.heappop(ready)  # the first in order of those that may go
            submit(k).add_done_callback(lambda f, k=k: finished.put((k, f)))
            running += 1

    submit_ready()
    while running:
        k, fut = finished.get()
        running -= 1
        yield k, fut
        for d in dependents.pop(k, ()):
            heapq.heappush(ready, d)
        submit_ready()
    if dependents:  # after[] named a job that never ran: a caller's mistake, not a state to hide
        waiting = sorted(k for ks in dependents.values() for k in ks)
        raise ValueError(f"jobs {waiting} wait for jobs that are not among them")


def shard_jobs(
    blocks: list[dict[str, Any]], shards: list[dict[str, Any]]
) -> tuple[list[tuple[str, dict[str, Any]]], list[int | None]]:
    """The steps that find split blocks' furniture and the shard steps, in the order to run them
    (:func:`in_order`): ``("block", block)`` jobs first, then ``("shard", shard)`` jobs largest
    first (:func:`largest_first`), each shard of a split block after its block's job."""
    jobs: list[tuple[str, dict[str, Any]]] = [("block", b) for b in blocks]
    by_path = {b["path"]: k for k, b in enumerate(blocks)}
    after: list[int | None] = [None] * len(blocks)
    for shard in largest_first(shards):
        jobs.append(("shard", shard))
        # a reused shard names its block's furniture but reads nothing: it waits for nothing
        after.append(None if shard.get("reuse") else by_path.get(shard.get("furniture", "")))
    return jobs, after


def split_counts(blocks: list[int], files: list[int], workers: int, min_shard_bytes: int) -> list[int]:
    """How many shards each block (of ``blocks[i]`` bytes, ``files[i]`` files or parts) is cut into,
    so that ``workers`` taking the shards largest first finish within :data:`BALANCE_SLACK` of the
    even share: the block whose shards are largest is cut once more until they do, or until its
    shards would fall below ``min_shard_bytes`` or have no file each.

    A small input (one block) is so cut into about ``workers`` shards; three blocks on two workers
    into four shards (one block in two), where whole blocks left one worker a block behind.
    """
    counts = [1] * len(blocks)
    even = sum(blocks) / max(workers, 1)
    while workers > 1 and blocks:
        pieces = [size / n for size, n in zip(blocks, counts, strict=True) for _ in range(n)]
        if _longest_first(pieces, workers) <= BALANCE_SLACK * even:
            break
        i = max(range(len(blocks)), key=lambda k: blocks[k] / counts[k])
        if blocks[i] / (counts[i] + 1) < min_shard_bytes or counts[i] + 1 > files[i]:
            break
        counts[i] += 1
    return counts


def _outside(files: list[Any], root: Path) -> list[Any]:
    """The input files whose real path is not inside ``root`` (the resolved output directory).

    Each directory is resolved once for the files in it (a resolve per file cost more than the
    rest of the plan on a dump of many small pages), and is inside ``root`` or not for all of
    them; a file that is a symbolic link itself is resolved on its own.
    """
    top = str(root)
    prefix = os.path.join(top, "")

    def inside(real: str) -> bool:
        return real == top or real.startswith(prefix)

    folder_inside: dict[str, bool] = {}
    kept = []
    for f in files:
        path = os.fspath(f.path)
        if os.path.islink(path):
            if not inside(os.path.realpath(path)):
                kept.append(f)
            continue
        # a file's real path is its folder's, joined with its name: inside root exactly when its
        # folder is (the file itself cannot be root, a directory)
        folder = os.path.dirname(path)
        folder_in = folder_inside.get(folder)
        if folder_in is None:
            folder_in = folder_inside[folder] = inside(os.path.realpath(folder or os.curdir))
        if not folder_in:
            kept.append(f)
    return kept


def _dedupe_rejects(rejects: list[Reject]) -> list[Reject]:
    by_path: dict[str, Reject] = {}
    for r in rejects:
        by_path.setdefault(r.source_path, r)
    return [by_path[sp] for sp in sorted(by_path)]


def _cut(files: list[dict[str, Any]], limit: int) -> list[list[dict[str, Any]]]:
    """Consecutive files until ``limit`` bytes; one big file is a part of its own."""
    parts: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for f in files:
        if current and size + f["size"] > limit:
            parts.append(current)
            current, size = [], 0
        current.append(f)
        size += f["size"]
    if current:
        parts.append(current)
    return parts


def _cut_even(files: list[dict[str, Any]], n: int) -> list[list[dict[str, Any]]]:
    """Consecutive files in ``n`` pieces (at most one a file) of about equal bytes, each cut at the
    file boundary nearest to its share of the total. (A greedy fill up to a size left a last piece
    of what did not fit: shards of 8.4, 1.4 and 8.4 MB for two workers, one worker then doing two
    shards' work while the other waited.)"""
    sizes = [f["size"] for f in files]
    total = sum(sizes)
    n = min(n, len(files))
    if n <= 1:
        return [files] if files else []
    ends = list(itertools.accumulate(sizes))  # ends[i]: the bytes of files[0] to files[i]
    pieces: list[list[dict[str, Any]]] = []
    start = 0
    for k in range(1, n):
        target = total * k / n
        last = len(files) - (n - k) - 1  # the latest cut that leaves a file for each piece after
        i = min(bisect.bisect_left(ends, target, start, last + 1), last)  # the first end >= target
        if i > start and target - ends[i - 1] <= ends[i] - target:
            i -= 1  # the end before it is as near
        pieces.append(files[start : i + 1])
        start = i + 1
    pieces.append(files[start:])
    return pieces


# A large file is cut into parts of 1/PARTS_PER_BLOCK of a block (1 MiB of the default 32 MiB):
# fine enough for the cut that gives every worker a shard, and a function of shard_bytes alone,
# like the blocks, so the rows do not depend on workers or min_shard_bytes.
PARTS_PER_BLOCK = 32


def part_bytes(shard_bytes: int) -> int:
    """The bytes of the parts a large zip or JSONL file is cut into (:func:`_split_archives`)."""
    return max(shard_bytes // PARTS_PER_BLOCK, 1)


def _split_archives(files: list[dict[str, Any]], read_cfg: Any, part_bytes: int) -> list[dict[str, Any]]:
    """``files`` with each zip archive or (gzipped) JSONL file larger than ``part_bytes`` replaced
    by its parts (:func:`cleaning.reader.file_parts`): entries of the same file with a ``part`` (a
    range of members or of lines), ``size`` the part's bytes, ``file_size`` the file's and ``whole``
    the part that would be the whole file."""
    from cleaning.reader import file_parts

    out: list[dict[str, Any]] = []
    for f in files:
        parts = None
        if f["size"] > part_bytes:
            parts = file_parts(Path(f["path"]), read_cfg, part_bytes)
        if not parts:
            out.append(f)
            continue
        first, last = parts[0][0], parts[-1][0]
        whole = [first[0], last[1], *first[2:]]
        out.extend(
            {**f, "size": n, "file_size": f["size"], "part": list(part), "whole": whole} for part, n in parts
        )
    return out


def _index_gzip_parts(groups: list[dict[str, Any]], index_dir: Path) -> None:
    """Give the parts of gzipped files that the shards and blocks of ``groups`` read a seek index
    (``gz_index``), written to ``index_dir`` once per file, named by its SHA-256. Only a file
    some shard reads in parts needs one: a file whose parts all fell in one shard is read whole."""
    from cleaning.reader import write_gz_index

    made: dict[str, str | None] = {}
    for group in groups:
        if group.get("reuse"):
            continue
        for f in group["files"]:
            if "part" not in f or not f["path"].lower().endswith(".gz"):
                continue
            sha = f["sha256"]
            if sha not in made:
                index = index_dir / f"{sha}.gzidx"
                made[sha] = str(index) if write_gz_index(Path(f["path"]), index) else None
            if made[sha] is not None:
                f["gz_index"] = made[sha]


def _merge_parts(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive parts of one file as one part (a shard opens the file once)."""
    merged: list[dict[str, Any]] = []
    for f in files:
        last = merged[-1] if merged else None
        if last is not None and "part" in f and "part" in last and last["source_path"] == f["source_path"]:
            part = [last["part"][0], f["part"][1], *last["part"][2:]]
            merged[-1] = {**last, "size": last["size"] + f["size"], "part": part}
        else:
            merged.append(f)
    # a file whose parts all came together is read whole, as a file never cut is
    return [_whole(f) if "part" in f and f["part"] == f["whole"] else f for f in merged]


def _whole(f: dict[str, Any]) -> dict[str, Any]:
    whole = {k: v for k, v in f.items() if k not in ("part", "file_size", "whole", "gz_index")}
    whole["size"] = f["file_size"]
    return whole


def _unit_names(files: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(part_name(f["source_path"], f.get("part")), f["sha256"]) for f in files]


def _cut_shards(
    todo: list[dict[str, Any]],
    block_bytes: int,
    workers: int,
    min_shard_bytes: int,
    fingerprint: str,
    state: StateDir,
    furniture_dir: Path,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The shards of the files to process, and the blocks split across shards.

    Files (in source-path order) are cut into *blocks* of ``block_bytes`` (``FlowParams.shard_bytes``),
    a cut that depends on the input alone. A block is one shard, unless the blocks would keep the
    workers unevenly busy (:func:`split_counts`: an input too small to give every worker a block,
    or a last block one worker would run alone): then it is cut further, and its shards take the
    furniture found over the whole block (:func:`block_furniture`, run before them, writes it to
    a file under ``furniture_dir`` that each such shard names). So the rows of a run do not
    depend on the number of workers. Returns ``(shards, blocks)``, the blocks being those split
    with a shard still to make (a split block's shards all reused need no furniture).
    """
    shards: list[dict[str, Any]] = []
    blocks: list[dict[str, Any]] = []
    cut = _cut(sorted(todo, key=lambda f: f["source_path"]), block_bytes)
    # a block is cut between its files or parts, so into at most as many shards as it has
    counts = split_counts(
        [sum(f["size"] for f in block) for block in cut],
        [len(block) for block in cut],
        workers,
        min_shard_bytes,
    )
    for block, n in zip(cut, counts, strict=True):
        parts = [_merge_parts(files) for files in _cut_even(block, n)]
        block = _merge_parts(block)
        scope = ""
        if len(parts) > 1:
            # the split shards' units differ from the units of the same files cut on their own,
            # whose furniture comes from those files only
            scope = unit_id(fingerprint, _unit_names(block))
        first = len(shards)
        for files in parts:
            uid = unit_id(fingerprint, _unit_names(files), scope)
            shard = {
                "unit": uid,
                "files": files,
                "bytes": sum(f["size"] for f in files),
                # a unit left complete by an interrupted run with the same plan is reused
                "reuse": state.unit_complete(uid),
            }
            if scope:
                shard["furniture"] = str(furniture_dir / f"{scope}.json")
            shards.append(shard)
        if scope and not all(s["reuse"] for s in shards[first:]):
            blocks.append(
                {
                    "block": scope,
                    "files": block,
                    "bytes": sum(f["size"] for f in block),
                    "path": shards[first]["furniture"],
                }
            )
    return shards, blocks


def write_listing_unit(state: StateDir, rejects: list[Reject], fingerprint: str, cfg: Any) -> str:
    uid = "l" + unit_id(fingerprint, [(r.source_path, r.source_sha256) for r in rejects])[1:]
    if state.unit_complete(uid):
        return uid
    rows = [reject_row(r, r.source_path) for r in rejects]
    sources = {r.source_path: {"articles": 0, "paragraphs": 0, "rejects": 1} for r in rejects}
    _write_reject_unit(state, uid, rows, sources, {"files": 0, "bytes": 0}, cfg)
    return uid


# ------------------------------------------------------------------- shard


def predecode(doc: Any, cfg: Any) -> Any:
    """``doc`` decoded for the furniture pre-pass (a :class:`cleaning.pipeline.Decoded`), or None.

    None when it cannot be decoded (a reject) or decoding raises: the main pass decodes such a
    document itself and records what went wrong.
    """
    from cleaning.pipeline import decode_document

    try:
        dec = decode_document(doc, cfg)
    except Exception:  # the main pass meets the same error and records it
        return None
    return None if isinstance(dec, Reject) else dec


@dataclass
class _PrePass:
    """What the furniture pre-pass of a shard found and keeps for the main pass.

    ``furniture``: the repeated lines. ``decoded``: the sampled pages' decode results, keyed by
    source path and hash, so the main pass does not decode those pages a second time. ``read``:
    the documents (and read rejects) of every input file the pre-pass read to its end, keyed by
    the file's position in the shard, so the main pass does not read, hash and sniff those
    files a second time.
    """

    furniture: frozenset[str] = frozenset()
    decoded: dict[tuple[str, str], Any] = field(default_factory=dict)
    read: dict[int, list[Any]] = field(default_factory=dict)


def _furniture(files: list[Any], cfg: Any, max_pages: int) -> _PrePass:
    """Lines repeated across the shard's pages (running heads, footers), from a bounded sample."""
    from cleaning.reader import read_file
    from cleaning.segment import repeated_furniture

    pre = _PrePass()
    if max_pages <= 0:
        return pre
    pages: list[list[str]] = []
    for k, f in enumerate(files):
        docs: list[Any] = []
        try:
            for doc in read_file(f, cfg.read):
                # checked before taking a document, so a file whose last page fills the sample
                # still counts as read to its end
                if len(pages) >= max_pages:
                    break
                docs.append(doc)
                if isinstance(doc, Reject):
                    continue
                dec = predecode(doc, cfg)
                if dec is None:
                    continue
                pre.decoded[(doc.source_path, doc.source_sha256)] = dec
                pages.append(dec.lines)
            else:
                pre.read[k] = docs  # read to its end: the main pass takes these documents
        except Exception:  # reading problems are reported by the main pass
            continue
        if len(pages) >= max_pages:
            break
    if len(pages) < 2:
        return pre
    try:
        pre.furniture = frozenset(repeated_furniture(pages, cfg.segment))
    except Exception as exc:
        log.warning("furniture detection failed, continuing without: %s", exc)
    return pre


def _input_files(files: list[dict[str, Any]]) -> list[Any]:
    """The planned files of a shard or block (``plan``'s dicts) as the reader's ``InputFile``."""
    from cleaning.reader import InputFile

    return [
        InputFile(
            path=Path(f["path"]),
            source_path=f["source_path"],
            size=f["size"],
            part=tuple(f["part"]) if f.get("part") else None,
            sha256=f.get("sha256") if f.get("part") else None,
            gz_index=f.get("gz_index") if f.get("part") else None,
        )
        for f in files
    ]


def block_furniture(block: dict[str, Any], params: FlowParams) -> dict[str, Any]:
    """Find the repeated furniture of a block cut into several shards; write it where they read it.

    The same sample a shard of the whole block would take (its first ``furniture_max_pages``
    pages), so a run's rows do not depend on how many shards the block was cut into. The file
    (JSON: the block, its sampled pages, the furniture keys) is written atomically under the
    run's staging directory and goes with the publish. Returns a small summary.
    """
    clock = _Clock()
    path = Path(block["path"])
    summary = {"block": block["block"], "files": len(block["files"])}
    if path.exists():  # found by an earlier try of this run
        found = json.loads(path.read_text(encoding="utf-8"))
        return {**summary, "furniture_lines": len(found["furniture"]), "reused": True, **clock.read()}
    pre = _furniture(_input_files(block["files"]), params.cleaning(), params.furniture_max_pages)
    path.parent.mkdir(parents=True, exist_ok=True)
    parquet_io.write_json_atomic(
        path,
        {"block": block["block"], "sampled_pages": len(pre.decoded), "furniture": sorted(pre.furniture)},
    )
    return {**summary, "furniture_lines": len(pre.furniture), "reused": False, **clock.read()}


def _block_furniture_of(shard: dict[str, Any]) -> frozenset[str]:
    """The furniture :func:`block_furniture` found for a shard's block."""
    path = Path(shard["furniture"])
    try:
        return frozenset(json.loads(path.read_text(encoding="utf-8"))["furniture"])
    except FileNotFoundError as exc:
        raise FileNotFoundError(
            f"{path}: the furniture of shard {shard['unit']}'s block is missing; "
            "block_furniture runs before the shards of a split block"
        ) from exc


class _UnitWriter:
    """Streams the rows of one shard to its unit files and dedup index, a batch at a time.

    A shard's rows as Python dicts cost ~50 bytes of memory per input byte; held
    whole, a 32 MB shard took over 1.5 GB. Buffering at most ``batch_rows`` rows
    per table keeps a shard task's memory flat whatever the shard's size.
    The files are moved into place on :meth:`close`; ``stats.json``, written
    last, marks the unit complete.
    """

    def __init__(self, state: StateDir, uid: str, cfg: Any, batch_rows: int = 5000) -> None:
        from cleaning.dedup import index_schema

        self.state, self.uid, self.cfg, self.batch_rows = state, uid, cfg, batch_rows
        udir = state.unit_dir(uid)
        udir.mkdir(parents=True, exist_ok=True)
        for leftover in udir.glob(".*.tmp-*"):  # partial files of a killed run
            leftover.unlink(missing_ok=True)
        for leftover in state.index_path(uid).parent.glob(f".{uid}.parquet.tmp-*"):
            leftover.unlink(missing_ok=True)
        from cleaning.pipeline import empty_columns

        # articles and paragraphs are gathered a column at a time (no dict per row); rejects are rare
        self.columns = {name: empty_columns(UNIT_SCHEMAS[name]) for name in ("articles", "paragraphs")}
        self.buffers: dict[str, list[dict]] = {"rejects": []}
        self.files = {
            name: parquet_io.ParquetAppender(udir / f"{name}.parquet", schema)
            for name, schema in UNIT_SCHEMAS.items()
        }
        self.files["index"] = parquet_io.ParquetAppender(state.index_path(uid), index_schema(cfg.dedup))

    def add(self, name: str, rows: list[dict]) -> None:
        """Rows of the ``rejects`` table."""
        buf = self.buffers[name]
        buf.extend(rows)
        if len(buf) >= self.batch_rows:
            self._flush(name)

    def add_document(self, result: Any, input_path: str) -> tuple[int, int, int]:
        """The article and paragraph rows of one processed document; returns (articles, paragraphs, joins).

        A document that fails while its rows are built adds none (``add_document_columns`` cuts its
        columns back), so the caller records it as a reject and goes on.
        """
        from cleaning.pipeline import add_document_columns, paragraph_article_positions

        arts, paras = self.columns["articles"], self.columns["paragraphs"]
        a0, p0 = len(arts["id"]), len(paras["id"])
        add_document_columns(result, self.cfg, arts, paras)
        n_arts, n_paras = len(arts["id"]) - a0, len(paras["id"]) - p0
        arts[INPUT_COL].extend([input_path] * n_arts)
        paras[INPUT_COL].extend([input_path] * n_paras)
        paras[ARTICLE_POS_COL].extend(paragraph_article_positions(arts, a0))
        joins = sum(map(len, paras["joins"][p0:]))
        for name in ("articles", "paragraphs"):
            if len(self.columns[name]["id"]) >= self.batch_rows:
                self._flush(name)
        return n_arts, n_paras, joins

    def _flush(self, name: str) -> None:
        from cleaning.dedup import dedup_map
        from cleaning.pipeline import empty_columns

        texts = None
        if name in self.columns:
            columns = self.columns[name]
            if not columns["id"]:
                return
            table = self._table(columns, UNIT_SCHEMAS[name])
            texts = columns.get("text")
            self.columns[name] = empty_columns(UNIT_SCHEMAS[name])
        else:
            rows = self.buffers[name]
            if not rows:
                return
            table = pa.Table.from_pylist(rows, schema=UNIT_SCHEMAS[name])
            self.buffers[name] = []
        self.files[name].write(table)
        if name == "paragraphs":
            # dedup_map depends on each row alone, so batches give the same index as the whole shard
            dedup_in = pa.table(
                {
                    "id": table["id"],
                    "article_id": table["article_id"],
                    "source_path": table["source_path"],
                    "position": table["position"],
                    "article_position": table[ARTICLE_POS_COL],
                    "text": table["text"],
                }
            )
            # the text list the table was built from: dedup_map need not convert it back
            self.files["index"].write(dedup_map(dedup_in, self.cfg.dedup, texts))

    # The dedup outcome columns: before dedup every row holds the same value (kept, no duplicate)
    _REPEATED = frozenset(DECISION_COLUMNS + ARTICLE_DECISION_COLUMNS)

    @classmethod
    def _table(cls, columns: dict[str, list], schema: pa.Schema) -> pa.Table:
        """``pa.Table.from_pydict(columns, schema=schema)``, a column of one repeated value made as
        such (a batch's dedup outcome columns: Arrow converts no value per row)."""
        n = len(columns["id"])
        arrays = []
        for col in schema:
            values = columns[col.name]
            if col.name in cls._REPEATED and values and values.count(values[0]) == n:
                value = values[0]
                arrays.append(
                    pa.nulls(n, col.type) if value is None else pa.repeat(pa.scalar(value, col.type), n)
                )
            else:
                arrays.append(pa.array(values, type=col.type))
        return pa.Table.from_arrays(arrays, schema=schema)

    def close(self, sources: dict[str, dict[str, int]], summary: dict[str, Any]) -> None:
        for name in UNIT_SCHEMAS:
            self._flush(name)
        rows = {name: f.close() for name, f in self.files.items()}
        stats = dict(summary)
        stats.update(
            {
                "unit": self.uid,
                "articles": rows["articles"],
                "paragraphs": rows["paragraphs"],
                "rejects": rows["rejects"],
                "sources": sources,
            }
        )
        # written last: its presence marks the unit complete
        parquet_io.write_json_atomic(self.state.unit_dir(self.uid) / "stats.json", stats, indent=None)

    def abort(self) -> None:
        for f in self.files.values():
            f.abort()


# The per-document stages allocate many small, short-lived objects (lines, events, row dicts)
# that seldom form reference cycles. With CPython's default generation-0 threshold (700
# allocations) the cyclic collector runs thousands of times per shard, and each older-generation
# pass walks everything the shard holds: 15-20 % of the CPU of a shard task, measured on the
# benchmark pages. A higher threshold keeps collection but makes it rare; memory is unchanged
# within noise (cycles are still freed).
GC_THRESHOLD = (50_000, 20, 20)


def tune_gc() -> None:
    """Raise the collector's thresholds to :data:`GC_THRESHOLD` (never lowers a higher setting)."""
    if gc.get_threshold()[0] < GC_THRESHOLD[0]:
        gc.set_threshold(*GC_THRESHOLD)


def process_shard(shard: dict[str, Any], params: FlowParams) -> dict[str, Any]:
    """Read and clean the files of one shard; write its unit and dedup index; return its stats."""
    tune_gc()
    clock = _Clock()
    state = StateDir(params.out)
    uid = shard["unit"]
    if state.unit_complete(uid):
        stats = state.unit_stats(uid)
        stats.update(clock.read())  # this run's seconds: checking the unit, not the old run's work
        stats["reused"] = True
        return stats
    cfg = params.cleaning()
    writer = _UnitWriter(state, uid, cfg)
    try:
        sources, summary = _clean_shard(shard, params, cfg, writer)
        writer.close(sources, summary)
    except BaseException:
        writer.abort()
        raise
    stats = state.unit_stats(uid)
    stats.update(clock.read())
    stats["reused"] = False
    return stats


def _internal_error(
    writer: _UnitWriter,
    input_path: str,
    source_path: str,
    exc: Exception,
    prefix: str,
    sha256: str | None,
    size: int | None,
) -> None:
    """Record an exception raised while cleaning as an ``internal_error`` reject row."""
    detail = f"{prefix}{type(exc).__name__}: {exc}"[:2000]
    reject = Reject(
        source_path=source_path, reason=INTERNAL_ERROR, detail=detail, source_sha256=sha256, size_bytes=size
    )
    writer.add("rejects", [reject_row(reject, input_path)])


def _clean_shard(
    shard: dict[str, Any], params: FlowParams, cfg: Any, writer: _UnitWriter
) -> tuple[dict[str, dict[str, int]], dict[str, Any]]:
    from cleaning.pipeline import process_document
    from cleaning.reader import read_file

    inputs = _input_files(shard["files"])
    if shard.get("furniture"):  # a shard of a split block: its block's, found before
        prepass = _PrePass(furniture=_block_furniture_of(shard))
    else:
        prepass = _furniture(inputs, cfg, params.furniture_max_pages)
    furniture, decoded = prepass.furniture, prepass.decoded

    encodings: Counter[str] = Counter()
    stage_events: Counter[str] = Counter()
    joins = 0
    docs = 0
    sources: dict[str, dict[str, int]] = {}
    for k, inp in enumerate(inputs):
        counts = sources.setdefault(inp.source_path, {"articles": 0, "paragraphs": 0, "rejects": 0})
        read_before = prepass.read.pop(k, None)
        try:
            for doc in read_file(inp, cfg.read) if read_before is None else read_before:
                if isinstance(doc, Reject):
                    writer.add("rejects", [reject_row(doc, inp.source_path)])
                    counts["rejects"] += 1
                    continue
                docs += 1
                try:
                    pre = decoded.pop((doc.source_path, doc.source_sha256), None)
                    result = process_document(doc, cfg, furniture, pre)
                    if isinstance(result, Reject):
                        writer.add("rejects", [reject_row(result, inp.source_path)])
                        counts["rejects"] += 1
                        continue
                    n_arts, n_paras, n_joins = writer.add_document(result, inp.source_path)
                except Exception as exc:
                    # A deterministic failure on one document (a bug or data no rule
                    # expects): record it, keep the run going, never retry it.
                    size = len(doc.data) if isinstance(doc.data, bytes) else None
                    _internal_error(
                        writer, inp.source_path, doc.source_path, exc, "", doc.source_sha256, size
                    )
                    counts["rejects"] += 1
                    continue
                encodings[result.decode_info.encoding] += 1
                for e in result.events:
                    stage_events[e.stage] += 1
                del result
                joins += n_joins
                counts["articles"] += n_arts
                counts["paragraphs"] += n_paras
        except OSError:
            raise  # I/O: let the task's retries deal with it
        except Exception as exc:
            _internal_error(
                writer, inp.source_path, inp.source_path, exc, "reading stopped: ", None, inp.size
            )
            counts["rejects"] += 1

    summary = {
        "unit": shard["unit"],
        "files": len(inputs),
        "bytes": int(shard["bytes"]),
        "documents": docs,
        "encodings": dict(sorted(encodings.items())),
        "repairs": stage_events.get("repair", 0),
        "normalizations": stage_events.get("normalize", 0),
        "joins": joins,
        "furniture_lines": len(furniture),
        "furniture_of": "block" if shard.get("furniture") else "shard",
    }
    return sources, summary


def _write_reject_unit(
    state: StateDir,
    uid: str,
    rejects: list[dict],
    sources: dict[str, dict[str, int]],
    summary: dict[str, Any],
    cfg: Any,
) -> None:
    """A unit of reject rows only (its article and paragraph files are empty)."""
    writer = _UnitWriter(state, uid, cfg)
    try:
        writer.add("rejects", rejects)
        writer.close(sources, summary)
    except BaseException:
        writer.abort()
        raise


# ------------------------------------------------------------------ reduce


def live_units(catalog: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """unit -> the input source paths whose current rows live in it."""
    units: dict[str, list[str]] = defaultdict(list)
    for sp, e in catalog.items():
        for u in entry_units(e):
            units[u].append(sp)
    return {u: sorted(v) for u, v in sorted(units.items())}


def _unit_table(
    state: StateDir, uid: str, name: str, live: list[str], columns: list[str] | None = None
) -> pa.Table:
    # the file's own reader, not pq.read_table's dataset scan: a fifth less CPU on a unit's files
    # (zh 21 MB), and one chunk per column where the scan gives one per row group (values, types
    # and metadata are the same)
    with pq.ParquetFile(state.unit_dir(uid) / f"{name}.parquet") as pf:
        t = pf.read(columns=columns)
    stats_sources = set(state.unit_stats(uid)["sources"])
    if set(live) >= stats_sources:
        return t
    return t.filter(pc.is_in(t[INPUT_COL], value_set=pa.array(live, pa.string())))


# what finalize_unit reads of a unit's decisions: its paragraphs' dedup columns, matched by id
STAGED_DECISION_COLUMNS = ["id", *DECISION_COLUMNS]


def _write_decisions(batches: Any, path: Path, schema: pa.Schema = DECISION_SCHEMA) -> int:
    """Stream decision batches (of ``schema``) into one Parquet file; returns its row count."""
    out = parquet_io.ParquetAppender(path, schema)
    try:
        for batch in batches:
            out.write(pa.Table.from_batches([batch]))
    except BaseException:
        out.abort()
        raise
    return out.close()


def reduce_dedup(catalog: dict[str, dict[str, Any]], params: FlowParams, run_id: str) -> dict[str, Any]:
    """Dedup decisions over every live unit, written per unit to the run's staging directory.

    Reads index files (keys and signatures) and id columns only; paragraph text
    stays in the units, so this task never holds the corpus text. The decisions
    are held as compact arrays and written a unit at a time, a batch at a time:
    memory grows by about a hundred bytes per paragraph, not by the decision
    table with its reason texts.
    """
    from cleaning.dedup import article_reprints, reduce_index
    from cleaning.dedup.reduce import decision_schema
    from flows.runners import default_workers

    clock = _Clock()
    state = StateDir(params.out)
    cfg = params.cleaning()
    staging = state.staging(run_id)
    units = live_units(catalog)
    index_paths: dict[str, str] = {}
    art_cols: list[pa.Table] = []
    for uid, live in units.items():
        arts = _unit_table(state, uid, "articles", live, ["id", "source_path", "position", INPUT_COL])
        art_cols.append(arts.select(["id", "source_path", "position"]))
        path = state.index_path(uid)
        if not set(live) >= set(state.unit_stats(uid)["sources"]):
            # some sources of this unit were re-processed into newer units: drop their signatures
            ids = _unit_table(state, uid, "paragraphs", live, ["id", INPUT_COL])["id"]
            idx = pq.read_table(path)
            path = staging / "index" / f"{uid}.parquet"
            parquet_io.write_table(idx.filter(pc.is_in(idx["id"], value_set=ids.combine_chunks())), path)
            del idx, ids
        index_paths[uid] = str(path)

    # the reduce runs alone, after every shard: it works on as many threads as the run has workers
    threads = params.workers or default_workers()
    reduced = reduce_index(list(index_paths.values()), cfg.dedup, threads=threads)
    # each unit's index holds exactly its live paragraphs: its rows are the unit's decisions. Only
    # the columns finalize_unit applies (no reason texts: they were never read), in the index
    # file's row order, which is the unit's paragraph order: finalize pairs them by position.
    staged = decision_schema(STAGED_DECISION_COLUMNS)

    def stage_decisions(uid: str) -> None:
        rows = reduced.rows_of(index_paths[uid], file_order=True)
        _write_decisions(
            reduced.batches(rows, columns=staged.names), staging / "decisions" / f"{uid}.parquet", staged
        )

    articles = (
        pa.concat_tables(art_cols)
        if art_cols
        else ARTICLES.empty_table().select(["id", "source_path", "position"])
    )
    # the article reprints beside the units' decision files, a unit's file at a time per thread:
    # both only read the reduce's arrays, and their array work and writes release the GIL mostly
    with ThreadPoolExecutor(threads, thread_name_prefix="presswash-decisions") as pool:
        reprints = pool.submit(
            article_reprints, articles, reduced.article_id, reduced.cluster(), reduced.key_chars, cfg.dedup
        )
        list(pool.map(stage_decisions, index_paths))
        art_decisions = reprints.result()
    # articles were listed unit after unit: each unit's decisions are the next slice
    start = 0
    for uid, arts in zip(units, art_cols, strict=True):
        part = art_decisions.slice(start, arts.num_rows)
        parquet_io.write_table(part, staging / "article_decisions" / f"{uid}.parquet")
        start += arts.num_rows
    art_counts = {r["values"]: r["counts"] for r in pc.value_counts(art_decisions["status"]).to_pylist()}
    counts = reduced.status_counts()
    return {
        "units": len(units),
        "paragraphs": len(reduced),
        "statuses": {s: counts.get(s, 0) for s in STATUSES},
        "article_statuses": {s: art_counts.get(s, 0) for s in STATUSES},
        **clock.read(),
    }


# ---------------------------------------------------------------- finalize


def _apply_decisions(para: pa.Table, decisions: pa.Table, columns: list[str] = DECISION_COLUMNS) -> pa.Table:
    """Rows with the dedup columns taken from ``decisions`` (matched by id, order kept)."""
    if decisions.num_rows == 0 or para.num_rows == 0:
        return para
    # the flow stages decisions in the rows' own order: then row i's decision is decisions' row i,
    # with no hash look-up of every id (one chunk, as the look-up's take gives)
    aligned = decisions.num_rows == para.num_rows and decisions["id"].equals(para["id"])
    pos = None if aligned else pc.index_in(para["id"], value_set=decisions["id"])
    for col in columns:
        if col not in decisions.column_names:
            continue
        new = (
            pa.chunked_array([decisions[col].combine_chunks()])
            if pos is None
            else pc.take(decisions[col], pos)
        )
        new = new.cast(para.schema.field(col).type)
        if col == "status":
            new = pc.fill_null(new, STATUS_KEPT)
        para = para.set_column(para.schema.get_field_index(col), col, new)
    return para


def _rebuild_articles(articles: pa.Table, para: pa.Table, simplified: bool) -> pa.Table:
    """The public article columns that follow dedup: ``text`` (the article's kept paragraphs
    joined with line feeds), ``paragraphs_kept``, ``char_count`` and, with ``simplified``, the
    ``text_simplified`` of the articles with a flagged paragraph.

    The unit's articles carry no text (``cleaning.schema.UNIT_ARTICLES``): every article's text is
    joined here from its kept paragraphs by Arrow, in the paragraphs' order, without turning the
    unit's text into Python strings. An article with no flagged paragraph gets the text it was
    built with. A unit written with a text column (by an earlier version) has it replaced alike.
    """
    if "text" in articles.column_names:
        articles = articles.drop_columns(["text"])
    n = articles.num_rows
    ids = articles["id"].combine_chunks() if n else pa.array([], pa.string())
    found = pc.index_in(para["article_id"], value_set=ids)
    if found.null_count:
        raise ValueError("finalize: the unit holds paragraphs of an article it does not hold")
    where = found.to_numpy(zero_copy_only=False).astype(np.int64)  # each paragraph's article row
    kept_rows = np.flatnonzero(pc.equal(para["status"], STATUS_KEPT).to_numpy(zero_copy_only=False))
    kept_where = where[kept_rows]
    order = kept_rows[np.argsort(kept_where, kind="stable")]  # article by article, in page order
    kept_counts = np.bincount(kept_where, minlength=n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(kept_counts, out=offsets[1:])
    # large types: a unit's text may pass 2 GiB; each published part is cast to the schema's type
    texts = pc.take(para["text"], pa.array(order, pa.int64())).cast(pa.large_string()).combine_chunks()
    text = pc.binary_join(
        pa.LargeListArray.from_arrays(pa.array(offsets), texts), pa.scalar("\n", pa.large_string())
    )
    articles = articles.set_column(
        articles.schema.get_field_index("paragraphs_kept"),
        ARTICLES.field("paragraphs_kept"),
        pa.array(kept_counts, pa.int32()),
    )
    articles = articles.set_column(
        articles.schema.get_field_index("char_count"),
        ARTICLES.field("char_count"),
        pc.utf8_length(text).cast(pa.int32()),
    )
    # the articles with a flagged paragraph: only their simplified text changes
    touched = np.flatnonzero(kept_counts != np.bincount(where, minlength=n)) if simplified else []
    if len(touched):
        from cleaning.lang import to_simplified

        fresh: list[str | None] = [None] * n
        for row, t in zip(touched.tolist(), pc.take(text, pa.array(touched)).to_pylist(), strict=True):
            fresh[row] = to_simplified(t)
        mask = np.zeros(n, dtype=bool)
        mask[touched] = True
        i = articles.schema.get_field_index("text_simplified")
        merged = pc.if_else(pa.array(mask), pa.array(fresh, pa.string()), articles["text_simplified"])
        articles = articles.set_column(i, ARTICLES.field("text_simplified"), merged)
    return articles.append_column(pa.field("text", pa.large_string(), nullable=False), text)


def finalize_unit(uid: str, live: list[str], params: FlowParams, run_id: str) -> dict[str, Any]:
    """Apply the dedup decisions to one unit and stage its public Parquet parts."""
    clock = _Clock()
    state = StateDir(params.out)
    cfg = params.cleaning()
    staging = state.staging(run_id)
    arts = _unit_table(state, uid, "articles", live)
    para = _unit_table(state, uid, "paragraphs", live)
    rej = _unit_table(state, uid, "rejects", live)
    dpath = staging / "decisions" / f"{uid}.parquet"
    decisions = pq.read_table(dpath) if dpath.exists() else None
    if decisions is not None:
        para = _apply_decisions(para, decisions)
    arts = _rebuild_articles(arts, para, cfg.output.simplified_column)
    apath = staging / "article_decisions" / f"{uid}.parquet"
    if apath.exists():
        arts = _apply_decisions(arts, pq.read_table(apath), ARTICLE_DECISION_COLUMNS)

    staged: dict[str, list[str]] = {}
    rows_per_file = cfg.output.rows_per_file
    for name, table in (("articles", arts), ("paragraphs", para), ("rejects", rej)):
        public = table.drop_columns([c for c in table.column_names if c.startswith("_")])
        paths = parquet_io.write_parts(
            public, staging / name, uid, PUBLIC_TABLES[name], rows_per_file, cfg.output.compression
        )
        staged[name] = [state.rel(p) for p in paths]
    status = {r["values"]: r["counts"] for r in pc.value_counts(para["status"]).to_pylist()}
    stats = state.unit_stats(uid)
    return {
        "unit": uid,
        "staged": staged,
        "articles": arts.num_rows,
        "paragraphs": para.num_rows,
        "rejects": rej.num_rows,
        "kept": status.get("kept", 0),
        "duplicate": status.get("duplicate", 0),
        "truncated": status.get("truncated", 0),
        "sources": {sp: stats["sources"].get(sp, {}) for sp in live},
        **clock.read(),
    }


# ----------------------------------------------------------------- publish


def build_manifest(
    params: FlowParams,
    the_plan: dict[str, Any],
    shard_stats: list[dict[str, Any]],
    finals: list[dict[str, Any]],
    dedup_stats: dict[str, Any],
    files: dict[str, list[str]],
    started: str,
    block_stats: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    processed = set(the_plan["processed"]) | set(the_plan["listing_rejects"])
    skipped = set(the_plan["skipped"])
    given = set(the_plan["given"])
    catalog = the_plan["catalog"]
    per_source: dict[str, Counter[str]] = defaultdict(Counter)
    for fin in finals:
        for sp, c in fin["sources"].items():
            per_source[sp].update(c)  # an archive cut into parts: the sum of its units
    inputs = []
    for sp in sorted(catalog):
        e = catalog[sp]
        c = per_source.get(sp, {})
        if sp not in given:
            # from an earlier run, not given this time: its rows (articles or rejects)
            # stay, as in a clean run over every input ever given
            status = "retained"
        elif c.get("articles", 0) == 0 and c.get("rejects", 0) > 0:
            status = "rejected"
        elif sp in processed:
            status = "processed"
        elif sp in skipped:
            status = "skipped"
        else:
            status = "retained"
        inputs.append(
            {
                "source_path": sp,
                "sha256": e["sha256"],
                "bytes": e["size"],
                "status": status,
                "unit": e["unit"],
                **({"units": e["units"]} if e.get("units") else {}),
                "articles": c.get("articles", 0),
                "rejects": c.get("rejects", 0),
            }
        )
    counts = {
        "articles": sum(f["articles"] for f in finals),
        "paragraphs": sum(f["paragraphs"] for f in finals),
        "rejects": sum(f["rejects"] for f in finals),
    }
    paragraph_status = {s: sum(f[s] for f in finals) for s in STATUSES}
    this_run = {
        "given": len(the_plan["given"]),
        "processed": len(processed),
        "skipped": len(skipped),
        "duplicate_inputs": the_plan["duplicate_inputs"],
        "shards": len(the_plan["shards"]),
        # blocks of shard_bytes cut into several shards, whose furniture was found first
        "furniture_blocks": len(block_stats or []),
    }
    cfg = params.cleaning()
    dedup_info: dict[str, Any] = {"parameters": cfg.dedup.model_dump(mode="json")}
    try:
        from cleaning import dedup as dedup_mod

        dedup_info["lsh_expected_error_rates"] = dedup_mod.expected_error_rates(cfg.dedup)
    except Exception as exc:
        log.debug("no LSH error rates: %s", exc)
    dedup_info["statuses"] = dedup_stats.get("statuses")
    dedup_info["article_statuses"] = dedup_stats.get("article_statuses")
    dedup_info["reduce_seconds"] = dedup_stats.get("seconds")
    timings = {
        "plan": _timing([the_plan["timing"]]),
        **({"block_furniture": _timing(block_stats)} if block_stats else {}),
        "process_shard": _timing(shard_stats),
        "dedup_reduce": _timing([dedup_stats]),
        "finalize_unit": _timing(finals),
    }
    return {
        "presswash_manifest": 1,
        "schema_version": SCHEMA_VERSION,
        "run_id": the_plan["run_id"],
        "started": started,
        "finished": now_iso(),
        "output": str(Path(params.out)),
        "inputs": inputs,
        "this_run": this_run,
        "counts": counts,
        "paragraph_status": paragraph_status,
        "files": files,
        "shards": shard_stats,
        "parameters": params.model_dump(mode="json"),
        "cleaning_fingerprint": params.cleaning().fingerprint(),
        "processing_fingerprint": the_plan["fingerprint"],
        "dedup": dedup_info,
        "timings": timings,
        "versions": versions(),
    }


def _timing(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """Calls of one step, with their summed wall and CPU seconds (``_Clock``)."""
    return {
        "calls": len(calls),
        "seconds": round(sum(c["seconds"] for c in calls), 3),
        "cpu_seconds": round(sum(c["cpu_seconds"] for c in calls), 3),
    }


def publish_run(
    params: FlowParams,
    the_plan: dict[str, Any],
    shard_stats: list[dict[str, Any]],
    finals: list[dict[str, Any]],
    dedup_stats: dict[str, Any],
    started: str,
    block_stats: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Stage catalog and manifest, then move everything into place (manifest last).

    ``block_stats``: what :func:`block_furniture` returned for the blocks cut into shards.
    """
    state = StateDir(params.out)
    run_id = the_plan["run_id"]
    staging = state.staging(run_id)
    out = Path(params.out)

    staged: dict[str, list[str]] = {name: [] for name in PUBLIC_TABLES}
    for fin in sorted(finals, key=lambda f: f["unit"]):
        for name, rels in fin["staged"].items():
            staged[name].extend(rels)
    for name, schema in PUBLIC_TABLES.items():
        if not staged[name]:
            # an empty table still gets one file, so globs and readers see its schema
            p = staging / name / "empty-00000.parquet"
            parquet_io.write_table(schema.empty_table(), p, schema)
            staged[name].append(state.rel(p))

    moves: list[tuple[str, str]] = []
    final_files: dict[str, list[str]] = {}
    for name, rels in staged.items():
        dests = []
        for rel in sorted(rels):
            dst = f"{name}/{Path(rel).name}"
            moves.append((rel, dst))
            dests.append(dst)
        final_files[name] = dests
    keep = {d for _, d in moves}
    removes = []
    for name in PUBLIC_TABLES:
        for p in parquet_io.iter_parquet(out / name):
            rel = f"{name}/{p.name}"
            if rel not in keep:
                removes.append(rel)

    catalog = {
        sp: CatalogEntry(source_path=sp, **{k: v for k, v in e.items() if k != "source_path"})
        for sp, e in the_plan["catalog"].items()
    }
    write_catalog(staging / "catalog.json", catalog)
    moves.append((state.rel(staging / "catalog.json"), state.rel(state.catalog_path)))

    manifest = build_manifest(
        params, the_plan, shard_stats, finals, dedup_stats, final_files, started, block_stats
    )
    parquet_io.write_json_atomic(staging / "manifest.json", manifest)
    moves.append((state.rel(staging / "manifest.json"), "manifest.json"))

    plan_ = parquet_io.PublishPlan(run_id=run_id, moves=moves, removes=removes, cleanup=[state.rel(staging)])
    applied = parquet_io.publish(out, state.root, plan_)
    removed_units = state.collect_garbage({u for e in catalog.values() for u in e.all_units()})
    return {
        "manifest": manifest,
        "changed_files": [d for _, d in applied.moves if d.endswith(".parquet") and not d.startswith(".")],
        "removed_files": applied.removes,
        "removed_units": removed_units,
    }


# ---------------------------------------------------------------- validate


# validate reads only the columns its checks need: never the text of the whole dataset
_VALIDATE_COLUMNS = {
    "articles": ["id", "source_path"],
    "paragraphs": ["id", "article_id", "status", "duplicate_of"],
    "rejects": ["source_path"],
}


def validate_output(out: str | Path) -> list[str]:
    """Check the invariants of a published output directory; returns the problems found."""
    out = Path(out)
    problems: list[str] = []
    mpath = out / "manifest.json"
    journal = parquet_io.journal_path(StateDir(out).root)
    if journal.exists():
        # files are being (or were, by a killed run) moved into place: old and new versions mix
        problems.append(f"{journal}: a publish is in progress or was interrupted; the next run completes it")
    if not mpath.exists():
        return [*problems, f"{mpath}: missing"]
    manifest = json.loads(mpath.read_text(encoding="utf-8"))
    tables: dict[str, pa.Table] = {}
    for name, schema in PUBLIC_TABLES.items():
        d = out / name
        paths = list(parquet_io.iter_parquet(d))
        if not paths:
            problems.append(f"{name}/: no parquet files")
            tables[name] = schema.empty_table().select(_VALIDATE_COLUMNS[name])
            continue
        extra = [p.name for p in d.iterdir() if p.suffix != ".parquet"]
        if extra:
            problems.append(f"{name}/: files other than *.parquet: {extra}")
        parts = []
        for p in paths:
            f = pq.ParquetFile(p)
            meta = f.schema_arrow.metadata or {}
            if meta.get(b"presswash.schema_version") != SCHEMA_VERSION.encode():
                problems.append(f"{name}/{p.name}: schema version missing or not {SCHEMA_VERSION}")
            if not f.schema_arrow.remove_metadata().equals(schema.remove_metadata()):
                problems.append(f"{name}/{p.name}: schema differs from the public {name} schema")
            parts.append(f.read(columns=_VALIDATE_COLUMNS[name]))
        tables[name] = (
            pa.concat_tables(parts) if parts else schema.empty_table().select(_VALIDATE_COLUMNS[name])
        )
        listed = sorted(manifest.get("files", {}).get(name, []))
        if listed and listed != sorted(f"{name}/{p.name}" for p in paths):
            problems.append(f"{name}/: files differ from the manifest's list")
        want = manifest.get("counts", {}).get(name)
        if want != tables[name].num_rows:
            problems.append(f"{name}: manifest counts {want} rows, files hold {tables[name].num_rows}")

    inputs = [i["source_path"] for i in manifest.get("inputs", [])]
    dup_inputs = [sp for sp, n in Counter(inputs).items() if n > 1]
    if dup_inputs:
        problems.append(f"manifest lists inputs more than once: {dup_inputs[:5]}")
    known = set(inputs)

    def input_of(sp: str) -> bool:
        if sp in known:
            return True
        for sep in ("!", "#L"):
            i = sp.find(sep)
            while i != -1:
                if sp[:i] in known:
                    return True
                i = sp.find(sep, i + 1)
        return False

    for name in ("articles", "rejects"):
        stray = [sp for sp in set(tables[name]["source_path"].to_pylist()) if not input_of(sp)]
        if stray:
            problems.append(f"{name}: rows from sources missing in the manifest: {sorted(stray)[:5]}")

    for name in ("articles", "paragraphs"):
        ids = tables[name]["id"].to_pylist()
        dups = [i for i, n in Counter(ids).items() if n > 1]
        if dups:
            problems.append(f"{name}: duplicate ids: {dups[:5]}")
    para = tables["paragraphs"]
    kept_ids = set(pc.filter(para["id"], pc.equal(para["status"], STATUS_KEPT)).to_pylist())
    bad_status = set(para["status"].to_pylist()) - set(STATUSES)
    if bad_status:
        problems.append(f"paragraphs: unknown status values {sorted(bad_status)}")
    dangling = [
        (i, d)
        for i, d, s in zip(
            para["id"].to_pylist(), para["duplicate_of"].to_pylist(), para["status"].to_pylist(), strict=True
        )
        if s != STATUS_KEPT and (d is None or d not in kept_ids)
    ]
    if dangling:
        problems.append(f"paragraphs: duplicate_of not pointing at a kept paragraph: {dangling[:5]}")
    art_ids = set(tables["articles"]["id"].to_pylist())
    orphans = set(para["article_id"].to_pylist()) - art_ids
    if orphans:
        problems.append(f"paragraphs: article_id without an article: {sorted(orphans)[:5]}")
    return problems


# ------------------------------------------------------------ in-process run


def run_local(
    params: FlowParams, run_id: str | None = None, executor: Executor | None = None
) -> dict[str, Any]:
    """The whole flow without Prefect: the same steps in the same order.

    For tests (a fault-injection run costs no API server start-up) and for
    measuring the pipeline and what orchestration adds; :func:`flows.clean_corpus.clean_corpus`
    is the real thing. The shard and finalize steps run one after the other in this process, or
    with ``executor`` in its workers, the shard steps as the flow hands them out
    (:func:`shard_jobs`: a split block's shards after its furniture, the others beside it).
    Returns the published manifest.
    """
    import uuid
    from itertools import repeat

    from cleaning.state import RunLock

    params = params.model_copy(update={"out": str(Path(params.out).absolute())})
    run_id = run_id or uuid.uuid4().hex
    started = now_iso()
    state = StateDir(params.out)
    state.ensure()
    with RunLock(state, run_id, wait=params.wait, timeout=params.wait_timeout_seconds):
        parquet_io.recover(state.out, state.root)
        state.clear_staging()
        the_plan = plan(params, run_id)
        map_fn = map if executor is None else executor.map
        if executor is not None:
            jobs, after = shard_jobs(the_plan["furniture_blocks"], the_plan["shards"])
            steps_of = {"block": block_furniture, "shard": process_shard}

            def submit(k: int) -> Any:
                kind, job = jobs[k]
                return executor.submit(steps_of[kind], job, params)

            done = {k: fut.result() for k, fut in in_order(submit, after, None)}
            block_stats = [done[k] for k, (kind, _) in enumerate(jobs) if kind == "block"]
            shard_stats = [done[k] for k, (kind, _) in enumerate(jobs) if kind == "shard"]
        else:  # one after the other: each block's furniture, then the shards
            block_stats = list(map_fn(block_furniture, the_plan["furniture_blocks"], repeat(params)))
            shard_stats = list(map_fn(process_shard, largest_first(the_plan["shards"]), repeat(params)))
        shard_stats.sort(key=lambda s: s["unit"])
        catalog = the_plan["catalog"]
        dedup_stats = reduce_dedup(catalog, params, run_id)
        live = live_units(catalog)
        finals = list(map_fn(finalize_unit, list(live), list(live.values()), repeat(params), repeat(run_id)))
        by_unit = {f["unit"]: f for f in finals}
        for s in shard_stats:
            for key in ("kept", "duplicate", "truncated"):
                s[key] = by_unit.get(s["unit"], {}).get(key, 0)
        published = publish_run(params, the_plan, shard_stats, finals, dedup_stats, started, block_stats)
    return published["manifest"]
