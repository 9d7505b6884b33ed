"""Parquet writing, staged files and the atomic publish of an output directory.

Writes are deterministic: the same table gives the same bytes (fixed row-group
size, fixed codec, schema metadata from :mod:`cleaning.schema`), so re-running a
job over unchanged input leaves every published file byte-identical.

Publishing moves staged files into place with :func:`os.replace` (atomic on one
file system), following a *journal* written before the first move. A run killed
during the moves leaves the journal behind; :func:`recover` (called by the next
run before anything else) replays it. Every move is idempotent: a move whose
source is gone was already done.
"""

from __future__ import annotations

import functools
import io
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from cleaning.schema import (
    DISTINCT_COLUMNS,
    INTERNAL_COMPRESSION,
    INTERNAL_TABLES,
    METADATA_VERSION_KEY,
    RAW_COLUMNS,
    SCHEMA_VERSION,
    table_name,
)

# Rows per row group: small enough for readers to skip, large enough for zstd.
ROW_GROUP_ROWS = 50_000
JOURNAL_NAME = "publish-journal.json"


@functools.lru_cache(maxsize=64)
def _leaf_paths(schema: pa.Schema) -> tuple[tuple[str, str], ...]:
    """(top-level column, Parquet leaf path) of every leaf column of ``schema``.

    Per-column writer settings address leaves: a list column ``rules`` is stored as
    ``rules.list.element``, and a setting given for ``rules`` alone is silently not applied.
    The paths are read from the Parquet schema Arrow derives, so they follow its naming.
    """
    buf = io.BytesIO()
    pq.write_table(schema.empty_table(), buf)
    parquet_schema = pq.ParquetFile(pa.BufferReader(buf.getvalue())).schema
    return tuple(
        (parquet_schema.column(i).path.split(".")[0], parquet_schema.column(i).path)
        for i in range(len(parquet_schema))
    )


def _encoding(schema: pa.Schema, compression: str) -> dict[str, Any]:
    """Writer settings for a table, per leaf column, from :mod:`cleaning.schema`'s storage rules:

    - the codec: ``compression`` for public tables, :data:`INTERNAL_COMPRESSION` for
      :data:`INTERNAL_TABLES`, none for the table's :data:`RAW_COLUMNS` (hash values);
    - dictionaries everywhere except on raw columns and :data:`DISTINCT_COLUMNS`;
    - statistics except on raw and distinct columns and on list columns.
    """
    name = table_name(schema) or ""
    codec = INTERNAL_COMPRESSION if name in INTERNAL_TABLES else compression
    raw = set(RAW_COLUMNS.get(name, ()))
    nested = {f.name for f in schema if pa.types.is_nested(f.type)}
    leaves = _leaf_paths(schema.remove_metadata())
    plain = raw | DISTINCT_COLUMNS
    return {
        "compression": {path: ("none" if top in raw else codec) for top, path in leaves},
        "use_dictionary": [path for top, path in leaves if top not in plain],
        "write_statistics": [path for top, path in leaves if top not in plain and top not in nested],
    }


def fsync_dir(path: str | Path) -> None:
    """Make a rename or unlink inside ``path`` durable (no-op where unsupported)."""
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write, fsync, rename: readers see the old file or the new one, never a torn one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_json_atomic(path: str | Path, obj: Any, indent: int | None = 2) -> None:
    """``obj`` as JSON (sorted keys), written atomically. ``indent=None`` for files that only
    presswash reads (a unit's stats, the catalog): the json module's C encoder runs only without
    indentation, and the Python one took 1 % of a run on those files."""
    if indent is None:
        data = json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    else:
        data = json.dumps(obj, ensure_ascii=False, indent=indent, sort_keys=True)
    write_bytes_atomic(path, (data + "\n").encode("utf-8"))


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` in exactly ``schema``: column order, types and the schema's metadata."""
    if table.schema.equals(schema, check_metadata=True):
        return table
    cols = [table.column(f.name).cast(f.type) for f in schema]
    return pa.Table.from_arrays(cols, schema=schema)


def write_table(
    table: pa.Table, path: str | Path, schema: pa.Schema | None = None, compression: str = "zstd"
) -> int:
    """Write one Parquet file (staged + fsync + rename); returns its row count.

    The file carries ``presswash.schema_version`` in its key-value metadata even
    when ``schema`` is an internal one without it.
    """
    path = Path(path)
    if schema is not None:
        table = conform(table, schema)
    meta = dict(table.schema.metadata or {})
    meta.setdefault(METADATA_VERSION_KEY, SCHEMA_VERSION.encode())
    # one chunk per column: the bytes then depend on the rows alone, not on how
    # the table was assembled (batches written by ParquetAppender, slices, filters)
    table = table.replace_schema_metadata(meta).combine_chunks()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    with open(tmp, "wb") as fh:
        pq.write_table(
            table,
            fh,
            row_group_size=ROW_GROUP_ROWS,
            **_encoding(table.schema, compression),
        )
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
    return table.num_rows


class ParquetAppender:
    """One Parquet file written a batch at a time (staged + fsync + rename on :meth:`close`).

    Lets a task stream its rows to disk instead of holding a whole shard's
    rows in memory. Each :meth:`write` adds row groups of at most
    ``ROW_GROUP_ROWS`` rows, so the file depends only on the batches given.
    """

    def __init__(self, path: str | Path, schema: pa.Schema, compression: str = "zstd") -> None:
        self.path = Path(path)
        meta = dict(schema.metadata or {})
        meta.setdefault(METADATA_VERSION_KEY, SCHEMA_VERSION.encode())
        self.schema = schema.with_metadata(meta)
        self.rows = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = _tmp_name(self.path)
        self._fh = open(self._tmp, "wb")
        self._writer = pq.ParquetWriter(self._fh, self.schema, **_encoding(self.schema, compression))

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self._writer.write_table(conform(table, self.schema), row_group_size=ROW_GROUP_ROWS)
        self.rows += table.num_rows

    def close(self) -> int:
        """Finish the file and move it into place; returns its row count."""
        self._writer.close()
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self._tmp, self.path)
        fsync_dir(self.path.parent)
        return self.rows

    def abort(self) -> None:
        """Drop the partial file (after an error)."""
        try:
            self._writer.close()
        except Exception:  # the file is thrown away anyway
            pass
        self._fh.close()
        self._tmp.unlink(missing_ok=True)


def write_parts(
    table: pa.Table,
    directory: str | Path,
    stem: str,
    schema: pa.Schema,
    rows_per_file: int,
    compression: str = "zstd",
) -> list[Path]:
    """Split ``table`` into ``<stem>-00000.parquet``, ``<stem>-00001.parquet``, … (none if empty)."""
    directory = Path(directory)
    paths: list[Path] = []
    for k, start in enumerate(range(0, table.num_rows, rows_per_file)):
        part = directory / f"{stem}-{k:05d}.parquet"
        write_table(table.slice(start, rows_per_file), part, schema, compression)
        paths.append(part)
    return paths


def read_table(path: str | Path, columns: list[str] | None = None) -> pa.Table:
    return pq.read_table(str(path), columns=columns)


def same_bytes(a: Path, b: Path) -> bool:
    """True when both files exist with identical content."""
    try:
        if a.stat().st_size != b.stat().st_size:
            return False
    except FileNotFoundError:
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            ca, cb = fa.read(1 << 20), fb.read(1 << 20)
            if ca != cb:
                return False
            if not ca:
                return True


@dataclass
class PublishPlan:
    """File moves (``staged → published``) and removals, paths relative to the output dir.

    ``moves`` run in order, so the caller puts the manifest last: readers that
    trust the manifest only ever see a complete dataset behind it.
    """

    run_id: str
    moves: list[tuple[str, str]] = field(default_factory=list)
    removes: list[str] = field(default_factory=list)
    # directories (relative) deleted once the journal is done, e.g. the run's staging dir
    cleanup: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "moves": [list(m) for m in self.moves],
            "removes": list(self.removes),
            "cleanup": list(self.cleanup),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PublishPlan:
        return cls(
            run_id=d["run_id"],
            moves=[(a, b) for a, b in d["moves"]],
            removes=list(d["removes"]),
            cleanup=list(d.get("cleanup", [])),
        )


class PublishError(RuntimeError):
    pass


def journal_path(state_dir: str | Path) -> Path:
    return Path(state_dir) / JOURNAL_NAME


def _drop_unchanged(out: Path, plan: PublishPlan) -> PublishPlan:
    """Skip moves whose target already holds the same bytes (unchanged files keep their mtime)."""
    moves: list[tuple[str, str]] = []
    for src, dst in plan.moves:
        if same_bytes(out / src, out / dst):
            (out / src).unlink()
        else:
            moves.append((src, dst))
    removes = [r for r in plan.removes if r not in {d for _, d in moves}]
    return PublishPlan(run_id=plan.run_id, moves=moves, removes=removes, cleanup=plan.cleanup)


def _roll_forward(out: Path, plan: PublishPlan) -> None:
    touched: set[Path] = set()
    for src, dst in plan.moves:
        s, d = out / src, out / dst
        if s.exists():
            d.parent.mkdir(parents=True, exist_ok=True)
            os.replace(s, d)
            touched.add(d.parent)
        elif not d.exists():
            raise PublishError(f"publish journal of run {plan.run_id}: staged file {src} is missing")
    for rel in plan.removes:
        p = out / rel
        p.unlink(missing_ok=True)
        touched.add(p.parent)
    for d in sorted(touched):
        fsync_dir(d)
    for rel in plan.cleanup:
        shutil.rmtree(out / rel, ignore_errors=True)


def publish(out: str | Path, state_dir: str | Path, plan: PublishPlan) -> PublishPlan:
    """Apply ``plan`` atomically file by file, after writing it down as a journal.

    Returns the plan actually applied (moves of byte-identical files dropped).
    """
    out = Path(out)
    plan = _drop_unchanged(out, plan)
    jpath = journal_path(state_dir)
    write_json_atomic(jpath, plan.as_dict())
    _roll_forward(out, plan)
    jpath.unlink()
    fsync_dir(jpath.parent)
    return plan


def recover(out: str | Path, state_dir: str | Path) -> str | None:
    """Finish an interrupted publish, if any; returns the run id it completed."""
    jpath = journal_path(state_dir)
    if not jpath.exists():
        return None
    try:
        plan = PublishPlan.from_dict(json.loads(jpath.read_text(encoding="utf-8")))
    except (ValueError, KeyError) as exc:
        # The journal is written atomically, so this means tampering: stop, do not guess.
        raise PublishError(f"unreadable publish journal {jpath}: {exc}") from exc
    _roll_forward(Path(out), plan)
    jpath.unlink()
    fsync_dir(jpath.parent)
    return plan.run_id


def iter_parquet(directory: str | Path) -> Iterator[Path]:
    """Published Parquet files of one table directory, in name order."""
    directory = Path(directory)
    if not directory.is_dir():
        return iter(())
    return iter(sorted(p for p in directory.glob("*.parquet") if p.is_file()))


def row_count(paths: Iterable[str | Path]) -> int:
    return sum(pq.ParquetFile(str(p)).metadata.num_rows for p in paths)
