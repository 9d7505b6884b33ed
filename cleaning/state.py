"""Incremental state of an output directory, under ``<out>/.presswash/``.

The directory is hidden so globs such as ``articles/*.parquet`` never see it::

    .presswash/
      catalog.json            source_path -> sha256, size, mtime, fingerprint, unit
      units/<unit>/           pre-dedup articles (without their text: the paragraphs hold
                              it, finalize joins it)/paragraphs/rejects + stats.json (written last)
      index/<unit>.parquet    dedup signatures of the unit's paragraphs
      staging/<run>/          files of a run not yet published
      publish-journal.json    present only while (or if interrupted while) publishing
      lock                    fcntl lock: one run per output directory

A *unit* is what one shard task produced: its id hashes the cleaning
fingerprint and the (source_path, sha256) pairs of its files, so a unit left
complete by a killed run is reused by the next run with the same plan. Units
are never modified; a source re-processed later simply points at its new unit
in the catalog and the old unit's rows of that source are filtered out.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import socket
import stat
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cleaning.parquet_io import write_json_atomic

STATE_DIRNAME = ".presswash"
CATALOG_VERSION = 1


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    source_path: str
    sha256: str | None
    size: int | None
    mtime_ns: int | None
    fingerprint: str
    unit: str
    # every unit holding the file's rows when a large archive was cut into parts (``unit`` is
    # the first of them); empty for a file in one unit
    units: list[str] | None = None

    def all_units(self) -> list[str]:
        return list(self.units) if self.units else [self.unit]

    def as_dict(self) -> dict[str, Any]:
        # by hand: dataclasses.asdict deep-copies field by field, a plan makes one per input
        d = {
            "source_path": self.source_path,
            "sha256": self.sha256,
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "fingerprint": self.fingerprint,
            "unit": self.unit,
        }
        if self.units:
            d["units"] = list(self.units)
        return d


def entry_units(entry: dict[str, Any]) -> list[str]:
    """The units of a catalog entry in its dict form (:meth:`CatalogEntry.as_dict`)."""
    return list(entry.get("units") or [entry["unit"]])


class StateDir:
    """Paths of the internal state of one output directory."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.root = self.out / STATE_DIRNAME

    @property
    def catalog_path(self) -> Path:
        return self.root / "catalog.json"

    @property
    def lock_path(self) -> Path:
        return self.root / "lock"

    def unit_dir(self, unit: str) -> Path:
        return self.root / "units" / unit

    def index_path(self, unit: str) -> Path:
        return self.root / "index" / f"{unit}.parquet"

    def staging(self, run_id: str) -> Path:
        return self.root / "staging" / run_id

    def rel(self, path: Path) -> str:
        """``path`` relative to the output directory, POSIX style (for the publish journal)."""
        return path.relative_to(self.out).as_posix()

    def ensure(self) -> None:
        for sub in ("units", "index", "staging"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def unit_complete(self, unit: str) -> bool:
        """A unit counts only once its stats file (written last) exists."""
        return (self.unit_dir(unit) / "stats.json").is_file() and self.index_path(unit).is_file()

    def unit_stats(self, unit: str) -> dict[str, Any]:
        return json.loads((self.unit_dir(unit) / "stats.json").read_text(encoding="utf-8"))

    def clear_staging(self) -> None:
        """Drop staging left by runs that died before their publish journal was written."""
        shutil.rmtree(self.root / "staging", ignore_errors=True)
        (self.root / "staging").mkdir(parents=True, exist_ok=True)

    def collect_garbage(self, live_units: set[str]) -> list[str]:
        """Remove units (and their index) no catalog entry points at; returns their ids."""
        removed = []
        units_root = self.root / "units"
        if units_root.is_dir():
            for d in sorted(units_root.iterdir()):
                if d.is_dir() and d.name not in live_units:
                    shutil.rmtree(d, ignore_errors=True)
                    removed.append(d.name)
        index_root = self.root / "index"
        if index_root.is_dir():
            for p in sorted(index_root.glob("*.parquet")):
                if p.stem not in live_units:
                    p.unlink(missing_ok=True)
        return removed


def unit_id(fingerprint: str, files: list[tuple[str, str | None]], scope: str = "") -> str:
    """Content address of a shard: same files, same bytes, same settings, same unit.

    ``scope`` names what else the unit's rows depend on: the block whose furniture a shard cut
    out of a larger block takes (empty for a shard that finds its own, whose id is unchanged).
    A part of an archive is named by its source path and its range (:func:`part_name`).
    """
    h = hashlib.sha256(fingerprint.encode())
    for source_path, sha in sorted(files, key=lambda f: (f[0], f[1] or "")):
        h.update(b"\x1e" + source_path.encode("utf-8", "surrogateescape") + b"\x1f" + (sha or "-").encode())
    if scope:
        h.update(b"\x1d" + scope.encode())
    return h.hexdigest()[:16]


def part_name(source_path: str, part: list[int] | tuple[int, ...] | None) -> str:
    """``source_path`` as :func:`unit_id` names it: with the range of a part of it."""
    return source_path if part is None else f"{source_path}\x1c" + ":".join(map(str, part))


def load_catalog(state: StateDir) -> dict[str, CatalogEntry]:
    if not state.catalog_path.exists():
        return {}
    data = json.loads(state.catalog_path.read_text(encoding="utf-8"))
    if data.get("version") != CATALOG_VERSION:
        raise ValueError(
            f"{state.catalog_path}: catalog version {data.get('version')} is not {CATALOG_VERSION}; "
            "use a new output directory"
        )
    return {sp: CatalogEntry(source_path=sp, **e) for sp, e in data["sources"].items()}


def write_catalog(path: str | Path, catalog: dict[str, CatalogEntry]) -> None:
    sources = {}
    for sp in sorted(catalog):
        d = catalog[sp].as_dict()
        d.pop("source_path")
        sources[sp] = d
    write_json_atomic(path, {"version": CATALOG_VERSION, "sources": sources}, indent=None)


# How many files past the one being hashed :func:`sha256_files` asks the kernel to read ahead.
# Read-ahead overlaps the disk with the hashing in one thread. A pool of hashing threads did the
# same for a cold page cache, but on a dump of small pages each file's hash contends for the GIL:
# measured on 39,000 pages (700 MB), four threads cost 2.4 CPU s cold and 2.0 warm, one thread
# with read-ahead 1.4-1.7 cold and 0.6 warm, at about the same wall time cold.
READ_AHEAD_FILES = 64
# Of each file, at most this much is asked for ahead: the sequential reads of a large file
# get the kernel's own read-ahead, and a queue of large files must not flood the page cache.
READ_AHEAD_BYTES = 8 << 20
_HASH_CHUNK = 4 << 20
# O_NONBLOCK: should a FIFO have taken a listed file's place, opening it must not wait for a writer
_OPEN_FLAGS = (
    os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
)


_FD_SHORTAGE = (errno.EMFILE, errno.ENFILE)


def sha256_files(paths: Iterable[str | Path], ahead: int = READ_AHEAD_FILES) -> Iterator[str | OSError]:
    """The SHA-256 (hex) of each file, in order; an ``OSError`` in the place of a file that cannot
    be opened or read. Up to ``ahead`` files are opened before their turn and the kernel is asked
    to read them (``posix_fadvise``, where the platform has it). Should the process run out of
    file descriptors while reading ahead, a file is opened at its turn instead (a shortage is no
    fault of the file). Closing the generator early closes the files it holds open."""
    pending: deque[tuple[str | Path, int | None, OSError | None]] = deque()
    it = iter(paths)
    advise = getattr(os, "posix_fadvise", None)

    def open_next() -> bool:
        path = next(it, None)
        if path is None:
            return False
        try:
            fd = os.open(path, _OPEN_FLAGS)
        except OSError as exc:
            # out of descriptors (EMFILE, ENFILE): opened again at its turn, when fewer are open
            pending.append((path, None, None if exc.errno in _FD_SHORTAGE else exc))
            return True
        if advise is not None:
            try:
                advise(fd, 0, READ_AHEAD_BYTES, os.POSIX_FADV_WILLNEED)
            except OSError:
                pass  # a file system that takes no advice is read all the same
        pending.append((path, fd, None))
        return True

    try:
        for _ in range(max(ahead, 0) + 1):
            if not open_next():
                break
        while pending:
            path, fd, error = pending.popleft()
            if fd is None and error is None:  # not opened ahead for want of descriptors
                try:
                    fd = os.open(path, _OPEN_FLAGS)
                except OSError as exc:
                    error = exc
            open_next()
            if fd is None:
                assert error is not None
                yield error
                continue
            try:
                h = hashlib.sha256()
                st = os.fstat(fd)
                if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):  # a directory fails to read
                    raise OSError(errno.EINVAL, "not a regular file", os.fsdecode(path))
                # the first read asks for the whole of a small file: one read and the one that
                # meets its end
                want = min(max(st.st_size + 1, 1 << 12), _HASH_CHUNK)
                while block := os.read(fd, want):
                    h.update(block)
                    want = _HASH_CHUNK
                digest: str | OSError = h.hexdigest()
            except OSError as exc:
                digest = exc
            finally:
                os.close(fd)
            yield digest
    finally:
        for _, fd, _ in pending:
            if fd is not None:
                os.close(fd)


class RunLocked(RuntimeError):
    """Another run holds the output directory."""


class RunLock:
    """An exclusive ``fcntl.flock`` on ``<out>/.presswash/lock``.

    The OS drops the lock when the holder dies, so a killed run never leaves a
    stale lock behind. The holder writes who it is into the file, so a refused
    run can say which process to wait for.
    """

    def __init__(self, state: StateDir, run_id: str, wait: bool = False, timeout: float | None = None):
        self.state = state
        self.run_id = run_id
        self.wait = wait
        self.timeout = timeout
        self._fd: int | None = None

    def holder(self) -> str:
        try:
            return self.state.lock_path.read_text(encoding="utf-8").strip() or "unknown process"
        except OSError:
            return "unknown process"

    def acquire(self) -> RunLock:
        self.state.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.state.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
                if not self.wait or (deadline is not None and time.monotonic() > deadline):
                    os.close(fd)
                    raise RunLocked(
                        f"output directory {self.state.out} is in use by another presswash run "
                        f"({self.holder()}); wait for it to finish or pass --wait"
                    ) from None
                time.sleep(0.5)
        os.ftruncate(fd, 0)
        info = (
            f"run {self.run_id}, pid {os.getpid()} on {socket.gethostname()}, "
            f"since {datetime.now(UTC).isoformat(timespec='seconds')}"
        )
        os.pwrite(fd, info.encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
