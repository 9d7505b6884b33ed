"""The reduce phase: index files in, one decision per paragraph out.

1. Load the scalar columns of the index files (no key text, no signatures),
   drop repeated ids (the same input indexed by an earlier run), order
   paragraphs canonically: longest key first, then earliest ``(source_path,
   article_position, position)``, then id.
2. Exact groups: equal key hashes. Only the best of each group (its
   representative) takes part in the rest; the others follow its fate.
3. Candidates, all by sorting arrays, each signature column read from the files
   only for its phase: LSH band buckets, anchor buckets (large runs: a hash range
   at a time, spilled to temporary files), and head / tail window buckets (prefix
   and suffix fragments). Each bucket is a star on its first ``bucket_heads``
   paragraphs in canonical order.
4. A screen drops pairs that cannot pass (lengths, b-bit sketch estimate with
   a three-standard-error margin; sketches read for candidate rows only); the
   rest are verified on their real shingle sets, recomputed from the keys of
   candidate rows only, a bounded block at a time, set sizes and intersections
   for the whole block at once: Jaccard, both directed containments, typed relation.
5. Greedy clustering in canonical order on verified edges only: a paragraph is
   flagged only when it verified against a paragraph that stays kept, so nothing
   chains through a third paragraph or shared boilerplate.
"""

from __future__ import annotations

import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cleaning import jit
from cleaning.dedup.config import DedupConfig
from cleaning.dedup.key import UNIT_WORD
from cleaning.dedup.minhash import shingle_hashes_of_codes, shingle_width
from cleaning.schema import (
    DECISION_SCHEMA,
    DEDUP_INDEX,
    DEDUP_INDEX_KEY,
    STATUS_DUPLICATE,
    STATUS_KEPT,
    STATUS_TRUNCATED,
)

RULE_BY_RELATION = {
    "exact": "dedup.exact",
    "near": "dedup.near",
    "prefix": "dedup.truncated_prefix",
    "suffix": "dedup.truncated_suffix",
    "inner": "dedup.truncated_inner",
}


class IndexMismatch(ValueError):
    """Index files written with different index settings cannot be deduplicated together."""


@dataclass(slots=True)
class _Index:
    """The scalar columns of a run's index rows (one row per id, sorted by id).

    Signature columns (bands, anchors, head / tail, sketches) are not held here:
    each phase reads the one it needs from the files, a file at a time, and drops
    it when done, so the reduce's peak is one phase's arrays, not all of them.
    """

    paths: list[str]
    dest: list[np.ndarray]  # per file: each file row's row here (-1: an id seen in an earlier file)
    ids: pa.Array
    article_id: pa.Array
    source_path: pa.Array
    unit: np.ndarray  # int8
    key_chars: np.ndarray  # int64
    key_tokens: np.ndarray  # int32
    key_hash: np.ndarray  # uint64
    prio: np.ndarray  # int64: rank in canonical order
    file: np.ndarray  # int32: which index file
    row: np.ndarray  # int32: row in that file

    def __len__(self) -> int:
        return len(self.key_chars)

    def read(self, column: str, rows: np.ndarray | None = None):
        """Yield ``(where, values)`` for every row group of every file, reading only ``column``.

        Without ``rows``: ``where`` are this index's rows of the group's kept rows.
        With ``rows``: only row groups holding some of them are read, and ``where``
        are positions in ``rows``. A row group at a time, on one thread: the
        column of a whole file never has to be held, and Arrow's reader threads
        would keep their freed buffers (tens of MB) for good.
        """
        files = self.file[rows] if rows is not None else None
        for file_no, path in enumerate(self.paths):
            if files is None:
                dest = self.dest[file_no]
            else:
                in_file = np.flatnonzero(files == file_no)
                if not len(in_file):
                    continue
                wanted = self.row[rows[in_file]]
            pf = pq.ParquetFile(path)
            start = 0
            for group in range(pf.metadata.num_row_groups):
                end = start + pf.metadata.row_group(group).num_rows
                if files is None:
                    group_rows = np.flatnonzero(dest[start:end] >= 0)
                    where = dest[start:end][group_rows]
                else:
                    sel = (wanted >= start) & (wanted < end)
                    where, group_rows = in_file[sel], wanted[sel] - start
                start = end
                if not len(group_rows):
                    continue
                col = pf.read_row_group(group, columns=[column], use_threads=False).column(column)
                col = col.combine_chunks()
                if len(group_rows) != len(col):
                    col = col.take(pa.array(group_rows))
                yield where, col


def _numpy(col: pa.ChunkedArray | pa.Array, dtype: type) -> np.ndarray:
    return col.to_numpy().astype(dtype, copy=False) if len(col) else np.empty(0, dtype)


_DICT_COLUMNS = ["article_id", "source_path"]
_DICT_TYPE = pa.dictionary(pa.int32(), pa.string())
_SCALAR_COLUMNS = [
    "id",
    "article_id",
    "source_path",
    "article_position",
    "position",
    "unit",
    "key_chars",
    "key_tokens",
    "key_hash",
]


def _load(index_paths: Sequence[str | Path], cfg: DedupConfig) -> _Index:
    """Check the files' settings and read their scalar columns (see :class:`_Index`)."""
    expected = cfg.index_fingerprint()
    paths = sorted({str(p) for p in index_paths})
    parts: dict[str, list] = {c: [] for c in _SCALAR_COLUMNS}
    for path in paths:
        pf = pq.ParquetFile(path)
        found = (pf.schema_arrow.metadata or {}).get(DEDUP_INDEX_KEY, b"").decode()
        if found != expected:
            raise IndexMismatch(
                f"{path}: written with index settings {found or 'unknown'}, this run uses {expected}; "
                "rebuild the index or use the same [dedup] settings"
            )
        # repeated strings (an article's or a page's paragraphs) as dictionary codes
        t = pq.ParquetFile(path, read_dictionary=_DICT_COLUMNS).read(
            columns=_SCALAR_COLUMNS, use_threads=False
        )
        for name in _SCALAR_COLUMNS:
            parts[name].append(t.column(name).combine_chunks())
        del t
    sizes = np.array([len(x) for x in parts["id"]], dtype=np.int64)
    file_col = np.repeat(np.arange(len(paths), dtype=np.int32), sizes)
    row_col = np.arange(int(sizes.sum()), dtype=np.int64) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    # chunked, not concatenated: the only copy is the reordering take below
    empty_type = {
        name: _DICT_TYPE if name in _DICT_COLUMNS else DEDUP_INDEX.field(name).type for name in parts
    }
    cols = {
        name: pa.chunked_array(chunks, None if chunks else empty_type[name]) for name, chunks in parts.items()
    }
    del parts
    for name in _DICT_COLUMNS:
        cols[name] = cols[name].unify_dictionaries()
    # One row per id: a paragraph indexed by an earlier run and again now counts once.
    order = pc.sort_indices(
        pa.table({"id": cols["id"], "_file": file_col}), [("id", "ascending"), ("_file", "ascending")]
    ).to_numpy()
    sorted_ids = cols["id"].take(pa.array(order, pa.int64()))
    if len(order) > 1:
        first = np.ones(len(order), dtype=bool)
        first[1:] = pc.not_equal(sorted_ids.slice(1), sorted_ids.slice(0, len(order) - 1)).to_numpy(
            zero_copy_only=False
        )
        if not first.all():
            order = order[first]
            sorted_ids = sorted_ids.filter(pa.array(first))
    take = pa.array(order, pa.int64())
    n = len(order)
    dest_all = np.full(len(file_col), -1, dtype=np.int64)
    dest_all[order] = np.arange(n, dtype=np.int64)
    idx = _Index(
        paths=paths,
        dest=[d.astype(np.int32) if n < 2**31 else d for d in np.split(dest_all, np.cumsum(sizes)[:-1])],
        ids=sorted_ids,
        article_id=cols["article_id"].take(take),
        source_path=cols["source_path"].take(take),
        unit=_numpy(cols["unit"], np.int8)[order],
        key_chars=_numpy(cols["key_chars"], np.int64)[order],
        key_tokens=_numpy(cols["key_tokens"], np.int32)[order],
        key_hash=_numpy(cols["key_hash"], np.uint64)[order],
        prio=np.empty(0, np.int64),
        file=file_col[order],
        row=row_col[order].astype(np.int32),
    )
    idx.prio = _priority(
        idx,
        _numpy(cols["article_position"], np.int32)[order],
        _numpy(cols["position"], np.int32)[order],
    )
    del cols
    _release()
    return idx


def _local_index(counts: np.ndarray) -> np.ndarray:
    """For groups of the given sizes laid end to end: each element's index inside its group."""
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)


def _priority(idx: _Index, article_position: np.ndarray, position: np.ndarray) -> np.ndarray:
    """Rank of every row in canonical order (0 = most complete, earliest).

    The rows are in ascending id order, ids unique (:func:`_load`), so the last key, the id, is
    the row order itself: a stable sort on the other keys gives it without comparing strings.
    """
    keys = [-idx.key_chars, _value_rank(idx.source_path), article_position, position]
    order = _stable_order(keys)
    prio = np.empty(len(order), dtype=np.int64)
    prio[order] = np.arange(len(order), dtype=np.int64)
    return prio


def _stable_order(keys: list[np.ndarray]) -> np.ndarray:
    """Indices of a stable ascending sort by the integer ``keys`` (the first the most significant):
    one sort of the keys packed into a uint64 when their ranges fit in 63 bits together, else
    Arrow's (stable) multi-key sort."""
    n = len(keys[0])
    if n == 0:
        return np.empty(0, np.int64)
    shifted = [k.astype(np.int64) - int(k.min()) for k in keys]
    widths = [int(k.max()).bit_length() for k in shifted]
    if sum(widths) > 63:
        table = pa.table({str(i): k for i, k in enumerate(shifted)})
        return pc.sort_indices(table, [(str(i), "ascending") for i in range(len(keys))]).to_numpy()
    packed = np.zeros(n, dtype=np.uint64)
    for k, width in zip(shifted, widths, strict=True):
        packed = (packed << np.uint64(width)) | k.astype(np.uint64)
    row_bits = (n - 1).bit_length()
    if sum(widths) + row_bits <= 63:
        # the row number as the last key makes the keys distinct: a plain sort of the values gives
        # the stable order (116k rows of the zh 21 MB set: 16 -> 5 ms; no stable argsort)
        packed = (packed << np.uint64(row_bits)) | np.arange(n, dtype=np.uint64)
        packed.sort()
        return (packed & np.uint64((1 << row_bits) - 1)).astype(np.int64)
    return np.argsort(packed, kind="stable")


def _value_rank(col: pa.ChunkedArray) -> np.ndarray:
    """Per row of a dictionary-encoded string column (one shared dictionary): the rank of
    its value among the distinct values, in string order."""
    col = col.unify_dictionaries()
    dictionary = col.chunk(0).dictionary if col.num_chunks else pa.array([], pa.string())
    rank = np.empty(len(dictionary), dtype=np.int32)
    rank[pc.sort_indices(dictionary).to_numpy()] = np.arange(len(dictionary), dtype=np.int32)
    codes = [c.indices.to_numpy(zero_copy_only=False) for c in col.chunks]
    return rank[np.concatenate(codes)] if codes else np.empty(0, np.int32)


def _star_pairs(
    bucket: np.ndarray,
    rows: np.ndarray,
    prio: np.ndarray,
    heads: int,
    max_bucket: int | None,
    few_repeats: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (member, head) for buckets of equal ``bucket`` values; heads = first in canonical order.

    The same pairs, as a multiset, however they are found; their order is not part of the
    result (every caller sorts them). The numpy definition gives them head by head (all
    buckets' pairs with their first head, then with their second, ...), buckets in
    ``bucket`` order, members in canonical order; the kernels take the buckets in the order
    of their hash slots instead. ``few_repeats``: a hint that nearly every value occurs once
    (LSH bands), which the kernels drop first by a cheaper pass; the pairs are the same.
    """
    if len(bucket) < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    if jit.enabled() and few_repeats and len(bucket) < 2**31:
        # a band of the zh 21 MB set keeps ~7 % of its values: one count table of 16 slots a value
        # (two passes) leaves the slot grouping below a few thousand values instead of all of them
        # (its 16 bands: 30 -> 20 ms)
        maybe = _shared_slots(bucket, min(26, len(bucket).bit_length() + 4))
        bucket, rows = bucket[maybe], rows[maybe]
        del maybe
        if len(bucket) < 2:
            return np.empty(0, np.int64), np.empty(0, np.int64)
    if jit.enabled():
        # most buckets hold one paragraph: group only values whose hash slot is hit twice, by
        # slot (a counting sort: no comparison sort of all the values)
        bits = min(22, max(10, (2 * len(bucket)).bit_length()))
        if len(bucket) < 2**31:
            bucket, rows = _slot_groups(bucket, rows, bits, _partition_bits(len(bucket)))
        else:
            maybe = _shared_slots(bucket, bits)
            bucket, rows = bucket[maybe], rows[maybe]
            del maybe
            order = np.argsort(bucket)
            bucket, rows = bucket[order], rows[order]
            del order
        u, v = _star_kernel(bucket, rows, prio, heads, max_bucket or 0)
        return (u, v) if len(u) else (np.empty(0, np.int64), np.empty(0, np.int64))
    return _star_pairs_numpy(bucket, rows, prio, heads, max_bucket)


@jit.kernel
def _shared_slots(values: np.ndarray, bits: int) -> np.ndarray:
    """Positions of the values whose low ``bits`` bits some other value has too: every value that
    occurs more than once, and a few others."""
    mask = np.uint64((1 << bits) - 1)
    seen = np.zeros(1 << bits, dtype=np.uint8)
    for i in range(values.shape[0]):
        slot = values[i] & mask
        if seen[slot] < 2:
            seen[slot] += 1
    count = 0
    for i in range(values.shape[0]):
        if seen[values[i] & mask] == 2:
            count += 1
    out = np.empty(count, dtype=np.int64)
    count = 0
    for i in range(values.shape[0]):
        if seen[values[i] & mask] == 2:
            out[count] = i
            count += 1
    return out


# Values grouped at once by one slot table (int32 a slot). Above this, _slot_groups first splits
# the values by their top bits, so that each part's table stays in cache: on the 1.3 M anchors
# of the zh 21 MB set a table of 4 M slots (16 MB) cost a cache miss per value and per pass.
_PARTITION_MIN = 1 << 18


def _partition_bits(n: int) -> int:
    """How many top bits :func:`_slot_groups` splits ``n`` values by: parts of ~1-2 k values."""
    return 0 if n < _PARTITION_MIN else min(10, (n >> 10).bit_length())


@jit.kernel
def _slot_groups(
    values: np.ndarray, rows: np.ndarray, bits: int, part_bits: int
) -> tuple[np.ndarray, np.ndarray]:
    """``values`` and ``rows`` of the values whose low ``bits`` bits some other value has too (as
    :func:`_shared_slots`), grouped by those bits and sorted by value inside each group: equal
    values lie together, as :func:`_star_kernel` needs, and groups come in slot order.

    With ``part_bits`` > 0 the values are first split into ``2 ** part_bits`` parts by their top
    bits (a counting pass and a scatter), and each part is grouped alone, by as many low bits as
    its size calls for: equal values still lie together (they share their top bits), groups come
    part after part, and a value is kept when its part holds another with its low bits."""
    n = values.shape[0]
    parts = 1 << part_bits
    bounds = np.zeros(parts + 1, dtype=np.int64)
    if part_bits == 0:
        bounds[1] = n
        src_v = values
        src_r = rows
    else:
        shift = np.uint64(64 - part_bits)
        for i in range(n):
            bounds[np.int64(values[i] >> shift) + 1] += 1
        for p in range(parts):
            bounds[p + 1] += bounds[p]
        fill = bounds[:-1].copy()
        src_v = np.empty(n, dtype=values.dtype)
        src_r = np.empty(n, dtype=rows.dtype)
        for i in range(n):
            p = np.int64(values[i] >> shift)
            q = fill[p]
            src_v[q] = values[i]
            src_r[q] = rows[i]
            fill[p] = q + 1
    largest = 0
    for p in range(parts):
        largest = max(largest, bounds[p + 1] - bounds[p])
    table_bits = bits
    if part_bits > 0:
        table_bits = 4
        while (1 << table_bits) < 2 * largest:
            table_bits += 1
    at = np.empty(1 << table_bits, dtype=np.int32)
    # Groups are made a part at a time in out_v / out_r. Split: a scratch pair the size of the
    # largest part, each part's groups then copied back into the split arrays (they never pass
    # the part's end, where the next part starts). One part: arrays of the groups' exact size.
    out_v = np.empty(largest if part_bits > 0 else 0, dtype=values.dtype)
    out_r = np.empty(largest if part_bits > 0 else 0, dtype=rows.dtype)
    total = 0
    for part in range(parts):
        lo, hi = bounds[part], bounds[part + 1]
        b = bits
        if part_bits > 0:
            b = 4
            while (1 << b) < 2 * (hi - lo):
                b += 1
        mask = np.uint64((1 << b) - 1)
        # per slot: how many values, then (slots hit twice or more) where its group starts
        for s in range(1 << b):
            at[s] = 0
        for i in range(lo, hi):
            at[src_v[i] & mask] += 1
        used = 0
        for s in range(1 << b):
            c = at[s]
            if c >= 2:
                at[s] = used
                used += c
            else:
                at[s] = -1
        if part_bits == 0:
            out_v = np.empty(used, dtype=values.dtype)
            out_r = np.empty(used, dtype=rows.dtype)
        for i in range(lo, hi):
            s = src_v[i] & mask
            p = at[s]
            if p >= 0:
                out_v[p] = src_v[i]
                out_r[p] = src_r[i]
                at[s] = p + 1
        # each group (a run of equal slots) sorted by value: a Shell sort, as groups are a few values
        start = 0
        while start < used:
            slot = out_v[start] & mask
            end = start + 1
            while end < used and (out_v[end] & mask) == slot:
                end += 1
            size = end - start
            if size > 2 or (size == 2 and out_v[start] > out_v[start + 1]):
                gap = 1
                while gap < size // 3:
                    gap = 3 * gap + 1
                while gap >= 1:
                    for i in range(start + gap, end):
                        v = out_v[i]
                        r = out_r[i]
                        j = i
                        while j - gap >= start and out_v[j - gap] > v:
                            out_v[j] = out_v[j - gap]
                            out_r[j] = out_r[j - gap]
                            j -= gap
                        out_v[j] = v
                        out_r[j] = r
                    gap //= 3
            start = end
        if part_bits == 0:
            total = used
        else:
            for i in range(used):
                src_v[total + i] = out_v[i]
                src_r[total + i] = out_r[i]
            total += used
    if part_bits == 0:
        return out_v, out_r
    return src_v[:total], src_r[:total]


@jit.kernel
def _star_kernel(
    bucket: np.ndarray, rows: np.ndarray, prio: np.ndarray, heads: int, max_bucket: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_star_pairs` on ``bucket`` sorted and ``rows`` in the same order (``max_bucket`` 0: no
    limit). Reorders each bucket's ``rows`` by ``prio`` in place."""
    n = bucket.shape[0]
    run_start = np.empty(n // 2 + 1, dtype=np.int64)
    run_end = np.empty(n // 2 + 1, dtype=np.int64)
    runs = 0
    count = 0
    start = 0
    while start < n:
        end = start + 1
        while end < n and bucket[end] == bucket[start]:
            end += 1
        size = end - start
        if size >= 2 and (max_bucket <= 0 or size <= max_bucket):
            # Shell sort by rank (an insertion sort for the usual two or three rows); written
            # out, as numba's own sorts take seconds more to compile
            gap = 1
            while gap < size // 3:
                gap = 3 * gap + 1
            while gap >= 1:
                for i in range(start + gap, end):
                    r = rows[i]
                    key = prio[r]
                    j = i
                    while j - gap >= start and prio[rows[j - gap]] > key:
                        rows[j] = rows[j - gap]
                        j -= gap
                    rows[j] = r
                gap //= 3
            run_start[runs] = start
            run_end[runs] = end
            runs += 1
            for h in range(min(heads, size - 1)):
                count += size - 1 - h
        start = end
    u = np.empty(count, dtype=rows.dtype)
    v = np.empty(count, dtype=rows.dtype)
    out = 0
    for h in range(heads):
        for k in range(runs):
            start, end = run_start[k], run_end[k]
            if h < end - start - 1:
                head = rows[start + h]
                for i in range(start + h + 1, end):
                    if rows[i] != head:  # a row twice in one bucket (an anchor it repeats)
                        u[out] = rows[i]
                        v[out] = head
                        out += 1
    return u[:out], v[:out]


def _star_pairs_numpy(
    bucket: np.ndarray, rows: np.ndarray, prio: np.ndarray, heads: int, max_bucket: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """The numpy definition of :func:`_star_pairs` (``len(bucket) >= 2``)."""
    # most buckets hold one paragraph: find the others with a cheap unstable sort first
    order = np.argsort(bucket)
    sb = bucket[order]
    same = sb[1:] == sb[:-1]
    del sb
    multi = np.zeros(len(order), dtype=bool)
    multi[1:] |= same
    multi[:-1] |= same
    keep = order[multi]
    del order, same, multi
    bucket, rows = bucket[keep], rows[keep]
    if len(bucket) < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    order = np.lexsort((prio[rows], bucket))
    b, r = bucket[order], rows[order]
    new = np.ones(len(b), dtype=bool)
    new[1:] = b[1:] != b[:-1]
    run_start = np.flatnonzero(new)
    run_size = np.diff(np.append(run_start, len(b)))
    run_id = np.cumsum(new) - 1
    pos = np.arange(len(b)) - run_start[run_id]
    size = run_size[run_id]
    ok = size >= 2
    if max_bucket is not None:
        ok &= size <= max_bucket
    us, vs = [], []
    for h in range(heads):
        m = ok & (pos > h)
        us.append(r[m])
        vs.append(r[run_start[run_id[m]] + h])
    u, v = np.concatenate(us), np.concatenate(vs)
    keep = u != v
    return u[keep], v[keep]


def _list_values(col: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(flat values, counts per row) of a list<uint64> column."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    counts = pc.list_value_length(arr).to_numpy(zero_copy_only=False).astype(np.int64)
    values = pc.list_flatten(arr).to_numpy(zero_copy_only=False).astype(np.uint64)
    return values, counts


# Anchors sorted at once in the candidate phase. Runs with more representatives than
# _ANCHOR_SPILL_ROWS split their anchors by hash range (a bucket never spans two ranges) into
# temporary files, about _ANCHOR_SPILL_ROWS / 8 rows' worth each, and read back adjacent ranges
# together up to _ANCHORS_PER_RANGE anchors: the sort's temporaries stay bounded whatever the
# number of paragraphs.
_ANCHOR_SPILL_ROWS = 200_000
_ANCHORS_PER_RANGE = 2_000_000


def _band_pairs(idx: _Index, rep: np.ndarray, cfg: DedupConfig) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    # band hashes of the representatives only, one contiguous row per band, columns in the order
    # the files give the rows (the pairs do not depend on it): each row group's block transposed
    # into the next columns, a cache-sized copy, not a scatter by row number across the matrix
    matrix = np.empty((cfg.bands, int(rep.sum())), dtype=np.uint64)
    rows_b = np.empty(matrix.shape[1], dtype=np.int64)
    done = 0
    for where, col in idx.read("bands"):
        values, offsets = _list_buffers(col)  # views: no flattened copy
        values = values[offsets[0] : offsets[-1]]
        # a row has all its bands or none (too short for a signature)
        rows = where[np.diff(offsets) == cfg.bands]
        mine = rep[rows]
        size = int(mine.sum())
        if size:
            matrix[:, done : done + size] = np.compress(mine, values.reshape(-1, cfg.bands), axis=0).T
            rows_b[done : done + size] = rows[mine]
            done += size
        del values, offsets
    for band in range(cfg.bands):
        yield _star_pairs(
            matrix[band, :done], rows_b[:done], idx.prio, cfg.bucket_heads, None, few_repeats=True
        )


def _anchor_ranges(
    idx: _Index, rep: np.ndarray, ranges: int, spill: Path, counts_out: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(anchor values, rows)`` of the representatives, one hash range at a time.

    One range: straight from the files. Several: one pass over the files writes
    every range's anchors to its own temporary file, then the ranges are read back
    one by one. ``counts_out`` gets every row's number of anchors before the first yield.
    """
    if ranges == 1 and jit.enabled():
        # the row groups' columns held as read (as much as the filtered copies took), then the
        # representatives' anchors copied out once, into arrays sized for all of them: no
        # per-row-group flatten, repeat, mask and final concatenation
        groups = [(where, *_list_buffers(col)) for where, col in idx.read("anchors")]
        total = sum(int(offsets[-1] - offsets[0]) for _, _, offsets in groups)
        out_v = np.empty(total, dtype=np.uint64)
        out_r = np.empty(total, dtype=np.int32)
        done = 0
        for where, values, offsets in groups:
            done = _rep_anchors(values, offsets, where, rep, counts_out, out_v, out_r, done)
        if groups:
            del groups
            yield out_v[:done], out_r[:done]
        return
    if ranges == 1:
        values_parts, rows_parts = [], []
        for where, col in idx.read("anchors"):
            values, counts = _list_values(col)
            counts_out[where] = counts
            rows = np.repeat(where.astype(np.int32), counts)
            keep = rep[rows]
            values_parts.append(values[keep])
            rows_parts.append(rows[keep])
        if values_parts:
            yield np.concatenate(values_parts), np.concatenate(rows_parts)
        return
    shift = np.uint64(64 - max(1, (ranges - 1).bit_length()))
    ranges = 1 << (64 - int(shift))
    handles = [((spill / f"v{k}").open("wb"), (spill / f"r{k}").open("wb")) for k in range(ranges)]
    try:
        for where, col in idx.read("anchors"):
            values, counts = _list_values(col)
            counts_out[where] = counts
            rows = np.repeat(where.astype(np.int32), counts)
            keep = rep[rows]
            values, rows = values[keep], rows[keep]
            # at most 1024 ranges: 16-bit range numbers, which numpy's stable sort radix-sorts
            part = (values >> shift).astype(np.uint16)
            order = np.argsort(part, kind="stable")
            bounds = np.zeros(ranges + 1, dtype=np.int64)
            np.cumsum(np.bincount(part, minlength=ranges), out=bounds[1:])
            for k in range(ranges):
                sel = order[bounds[k] : bounds[k + 1]]
                if len(sel):
                    values[sel].tofile(handles[k][0])
                    rows[sel].tofile(handles[k][1])
    finally:
        for hv, hr in handles:
            hv.close()
            hr.close()
    k = 0
    while k < ranges:
        # adjacent hash ranges together, up to _ANCHORS_PER_RANGE anchors
        group, size = [k], (spill / f"v{k}").stat().st_size // 8
        while (
            group[-1] + 1 < ranges
            and size + (spill / f"v{group[-1] + 1}").stat().st_size // 8 <= _ANCHORS_PER_RANGE
        ):
            group.append(group[-1] + 1)
            size += (spill / f"v{group[-1]}").stat().st_size // 8
        k = group[-1] + 1
        values = np.concatenate([np.fromfile(spill / f"v{g}", dtype=np.uint64) for g in group])
        rows = np.concatenate([np.fromfile(spill / f"r{g}", dtype=np.int32) for g in group])
        for g in group:
            (spill / f"v{g}").unlink()
            (spill / f"r{g}").unlink()
        if len(values):
            yield values, rows


def _list_buffers(col: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(values, ``len + 1`` offsets into them) of a list<uint64> column without null lists (the
    index's list columns have none, as :func:`_list_values` assumes): views of its buffers."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    offsets = arr.offsets.to_numpy()
    values = arr.values.to_numpy(zero_copy_only=False).astype(np.uint64, copy=False)
    return values, offsets


@jit.kernel
def _rep_anchors(
    values: np.ndarray,
    offsets: np.ndarray,
    where: np.ndarray,
    rep: np.ndarray,
    counts_out: np.ndarray,
    out_v: np.ndarray,
    out_r: np.ndarray,
    done: int,
) -> int:
    """Row ``where[i]``'s anchors are ``values[offsets[i]:offsets[i + 1]]``: count them in
    ``counts_out``, and for a representative (``rep``) append them to ``out_v`` from ``done`` on,
    the row to ``out_r``; returns the new end. The order of the numpy path in
    :func:`_anchor_ranges` (rows as read, each row's anchors in its order)."""
    for i in range(where.shape[0]):
        row = where[i]
        lo, hi = offsets[i], offsets[i + 1]
        counts_out[row] = hi - lo
        if rep[row]:
            for j in range(lo, hi):
                out_v[done] = values[j]
                out_r[done] = row
                done += 1
    return done


def _anchor_pairs(
    idx: _Index, rep: np.ndarray, cfg: DedupConfig, threads: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs sharing ``min_shared_anchors`` anchors (or all of the smaller side's).

    With ``threads`` > 1, the hash ranges read back from the spill are paired on that many
    threads while the next one is read, at most ``threads`` ranges ahead of the one being
    read (the codes are sorted after, so their order does not matter)."""
    n = len(idx)
    anchor_counts = np.zeros(n, dtype=np.int64)
    reps = int(rep.sum())
    ranges = 1 if reps <= _ANCHOR_SPILL_ROWS else min(1024, -(-8 * reps // _ANCHOR_SPILL_ROWS))

    def range_codes(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
        u, v = _star_pairs(values, rows, idx.prio, cfg.bucket_heads, cfg.max_bucket)
        u, v = u.astype(np.int64), v.astype(np.int64)
        return np.minimum(u, v) * n + np.maximum(u, v)

    codes: list[np.ndarray] = []
    with (
        tempfile.TemporaryDirectory(prefix="presswash-anchors-") as spill,
        ThreadPoolExecutor(threads, thread_name_prefix="presswash-anchors") as pool,
    ):
        pending: deque[Future[np.ndarray]] = deque()
        for values, rows in _anchor_ranges(idx, rep, ranges, Path(spill), anchor_counts):
            if ranges == 1 or threads == 1:
                codes.append(range_codes(values, rows))
            else:
                pending.append(pool.submit(range_codes, values, rows))
                while len(pending) > threads:
                    codes.append(pending.popleft().result())
            del values, rows
        codes.extend(f.result() for f in pending)
    code = np.concatenate(codes) if codes else np.empty(0, np.int64)
    if not len(code):
        return code, code
    # a pair must share min_shared_anchors anchors (fewer when one side has fewer anchors)
    code.sort()
    shared = _shared_enough if jit.enabled() else _shared_enough_numpy
    return shared(code, n, anchor_counts, cfg.min_shared_anchors)


def _shared_enough_numpy(
    code: np.ndarray, n: int, anchor_counts: np.ndarray, min_shared: int
) -> tuple[np.ndarray, np.ndarray]:
    """Of the sorted pair codes ``lo * n + hi`` (a pair once per anchor it shares), the pairs
    found ``min_shared`` times, or as often as the side with fewer anchors has anchors (once at
    least): ``(lo, hi)`` in code order."""
    new = np.ones(len(code), dtype=bool)
    new[1:] = code[1:] != code[:-1]
    starts = np.flatnonzero(new)
    shared = np.diff(np.append(starts, len(code)))
    code = code[starts]
    del new, starts
    lo, hi = code // n, code % n
    need = np.minimum(min_shared, np.minimum(anchor_counts[lo], anchor_counts[hi]))
    ok = shared >= np.maximum(need, 1)
    return lo[ok], hi[ok]


@jit.kernel
def _shared_enough(
    code: np.ndarray, n: int, anchor_counts: np.ndarray, min_shared: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_shared_enough_numpy` in one pass over the runs of equal codes (no temporaries the
    size of the codes: they were six numpy passes)."""
    lo = np.empty(code.shape[0], dtype=np.int64)
    hi = np.empty(code.shape[0], dtype=np.int64)
    out = 0
    i = 0
    while i < code.shape[0]:
        j = i + 1
        while j < code.shape[0] and code[j] == code[i]:
            j += 1
        a, b = code[i] // n, code[i] % n
        if j - i >= max(min(min_shared, min(anchor_counts[a], anchor_counts[b])), 1):
            lo[out] = a
            hi[out] = b
            out += 1
        i = j
    return lo[:out], hi[:out]


class _PairSet:
    """Distinct ``(child, parent)`` pairs as sorted codes ``child * n + parent``, merged as they come:
    the same pair found by several bands and anchors is held once, not once per finder."""

    def __init__(self, n: int, prio: np.ndarray) -> None:
        self.n, self.prio = n, prio
        self.parts: list[np.ndarray] = []
        self.merged = 0  # size of parts[0] after the last merge

    def add(self, u: np.ndarray, v: np.ndarray) -> None:
        if not len(u):
            return
        later = self.prio[u] > self.prio[v]
        child, parent = np.where(later, u, v).astype(np.int64), np.where(later, v, u)
        self.add_codes(_sorted_unique(child * self.n + parent))

    def add_codes(self, codes: np.ndarray) -> None:
        """Add pairs given as sorted, distinct codes (another set's :meth:`codes`)."""
        self.parts.append(codes)
        if sum(len(x) for x in self.parts) > 2 * self.merged + 4_000_000:
            self.parts = [_sorted_unique(np.concatenate(self.parts))]
            self.merged = len(self.parts[0])

    def codes(self) -> np.ndarray:
        """The pairs' codes, sorted and distinct; the set is empty afterwards."""
        code = _sorted_unique(np.concatenate(self.parts)) if self.parts else np.empty(0, np.int64)
        self.parts = []
        return code

    def pairs(self) -> np.ndarray:
        code = self.codes()
        return np.stack([code // self.n, code % self.n], axis=1)


def _affix_pairs(idx: _Index, rep: np.ndarray, cfg: DedupConfig) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Pairs of representatives whose first (``head``) or last (``tail``) characters hash alike."""
    n = len(idx)
    for name in ("head", "tail"):
        values = np.zeros(n, dtype=np.uint64)
        for where, col in idx.read(name):
            values[where] = _numpy(col, np.uint64)
        rows = np.flatnonzero((values != 0) & rep)
        values = values[rows]
        yield _star_pairs(values, rows, idx.prio, cfg.bucket_heads, cfg.max_bucket)
        del values, rows


def _candidates(idx: _Index, rep: np.ndarray, cfg: DedupConfig, threads: int = 1) -> np.ndarray:
    """Candidate pairs among representatives, as ``(n, 2)`` int64 rows ``(child, parent)``.

    Three finders propose them: the LSH bands, the shared anchors, and the head and tail
    hashes. Each finder fills its own pair set, so with ``threads`` > 1 they run at once
    (their kernels, sorts and Parquet reads release the GIL); the union is a sorted set,
    the same whichever finder ends first.
    """
    n = len(idx)
    finders: list[Callable[[], Iterable[tuple[np.ndarray, np.ndarray]]]] = [
        lambda: [_anchor_pairs(idx, rep, cfg, threads)],  # the longest: the first to start
        lambda: _band_pairs(idx, rep, cfg),
        lambda: _affix_pairs(idx, rep, cfg),
    ]

    def found_by(finder: Callable[[], Iterable[tuple[np.ndarray, np.ndarray]]]) -> np.ndarray:
        found = _PairSet(n, idx.prio)
        for u, v in finder():
            found.add(u, v)
        return found.codes()

    if threads > 1:
        with ThreadPoolExecutor(min(threads, len(finders)), thread_name_prefix="presswash-pairs") as pool:
            parts = list(pool.map(found_by, finders))
    else:
        parts = [found_by(finder) for finder in finders]
    union = _PairSet(n, idx.prio)
    for codes in parts:
        union.add_codes(codes)
    del parts
    return union.pairs()


@dataclass(slots=True)
class _KeyBytes:
    """The candidates' keys as UTF-8, back to back: key ``i`` is ``data[offsets[i]:offsets[i + 1]]``."""

    data: np.ndarray  # uint8
    offsets: np.ndarray  # int64, one more than there are keys


_DAMAGED_KEY = "dedup index: a key's length differs from its key_chars"


def _read_keys(idx: _Index, rows: np.ndarray) -> tuple[_KeyBytes, np.ndarray]:
    """Key text of the given (sorted) rows as UTF-8 in one buffer, and where row ``rows[i]``'s
    key is in it.

    One row group's key column is read at a time and only the candidates' keys are copied
    out: no Python string per paragraph, no second copy of the keys. The buffer is allocated
    for the longest UTF-8 the keys' ``key_chars`` allow (4 bytes a character); the pages past
    what the keys take are never written, so they never become resident.
    """
    capacity = 4 * int(idx.key_chars[rows].sum())
    data = np.empty(capacity, dtype=np.uint8)
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    at = np.empty(len(rows), dtype=np.int64)
    pos = done = 0
    for where, col in idx.read("key", rows):
        col_data, col_off = _utf8_views(col)
        size = int(col_off[-1] - col_off[0])
        if pos + size > capacity:
            raise ValueError(_DAMAGED_KEY)
        data[pos : pos + size] = col_data[col_off[0] : col_off[-1]]
        offsets[done + 1 : done + 1 + len(col)] = col_off[1:] - col_off[0] + pos
        at[where] = np.arange(done, done + len(col), dtype=np.int64)
        pos += size
        done += len(col)
    return _KeyBytes(data, offsets), at


@dataclass(slots=True)
class _BlockKeys(Sequence[str]):
    """The keys of a verification block as code points: key ``i`` is ``codes[offsets[i]:offsets[i + 1]]``.

    Indexing gives a key as a string, made when asked: only the pairs that compare texts (equal
    hashes) or look for one key in another (truncation candidates) pay for one.
    """

    codes: np.ndarray  # uint32
    offsets: np.ndarray  # int64, one more than there are keys

    @classmethod
    def of(cls, keys: Sequence[str]) -> _BlockKeys:
        offsets = np.zeros(len(keys) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, keys), dtype=np.int64, count=len(keys)), out=offsets[1:])
        return cls(np.frombuffer("".join(keys).encode("utf-32-le"), dtype=np.uint32), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> str:  # type: ignore[override]  # a key, not a slice of keys
        return self.codes[self.offsets[i] : self.offsets[i + 1]].tobytes().decode("utf-32-le")


def _utf8_views(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The bytes and the ``len + 1`` byte offsets of a ``string`` or ``large_string`` array
    (views of its buffers, no copy)."""
    _, off_buf, data_buf = arr.buffers()
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(off_buf, dtype=width, count=len(arr) + 1, offset=arr.offset * width().itemsize)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    return data, offsets.astype(np.int64, copy=False)


def _key_codes(keys: _KeyBytes, at: np.ndarray, chars: np.ndarray) -> _BlockKeys:
    """Keys ``at`` of ``keys`` as code points, decoded from their UTF-8 by one compiled pass:
    no Python string per key. ``chars``: the keys' lengths in characters (the index's
    ``key_chars``), which place each key in the output; a key whose bytes do not decode to
    exactly that many characters is an error (a damaged index file)."""
    offsets = np.zeros(len(at) + 1, dtype=np.int64)
    np.cumsum(chars, out=offsets[1:])
    if not jit.enabled():
        data, byte_off = keys.data, keys.offsets
        try:
            texts = [data[byte_off[i] : byte_off[i + 1]].tobytes().decode("utf-8") for i in at.tolist()]
        except UnicodeDecodeError:
            raise ValueError(_DAMAGED_KEY) from None
        got = _BlockKeys.of(texts)
        if not np.array_equal(got.offsets, offsets):
            raise ValueError(_DAMAGED_KEY)
        return got
    codes = np.empty(int(offsets[-1]), dtype=np.uint32)
    if _utf8_gather_kernel(keys.data, keys.offsets, at, offsets, codes) >= 0:
        raise ValueError(_DAMAGED_KEY)
    return _BlockKeys(codes, offsets)


@jit.kernel
def _utf8_gather_kernel(
    data: np.ndarray, byte_off: np.ndarray, take: np.ndarray, offsets: np.ndarray, out: np.ndarray
) -> int:
    """Decode the UTF-8 strings ``take`` of ``data`` into ``out``, the ``k``-th at ``offsets[k]``;
    returns the first ``k`` whose characters do not fill its place exactly (or whose bytes do
    not decode), else -1."""
    for k in range(take.shape[0]):
        p = byte_off[take[k]]
        end = byte_off[take[k] + 1]
        o = offsets[k]
        o_end = offsets[k + 1]
        while p < end:
            if o >= o_end:
                return k
            b = np.int64(data[p])
            # each width written out (no loop over continuation bytes): CJK keys are runs of 3
            if b < 0x80:
                cp = b
                p += 1
            elif b >= 0xF0:
                if p + 4 > end:
                    return k
                cp = (
                    ((b & 0x07) << 18)
                    | ((np.int64(data[p + 1]) & 0x3F) << 12)
                    | ((np.int64(data[p + 2]) & 0x3F) << 6)
                    | (np.int64(data[p + 3]) & 0x3F)
                )
                p += 4
            elif b >= 0xE0:
                if p + 3 > end:
                    return k
                cp = (
                    ((b & 0x0F) << 12)
                    | ((np.int64(data[p + 1]) & 0x3F) << 6)
                    | (np.int64(data[p + 2]) & 0x3F)
                )
                p += 3
            elif b >= 0xC0:
                if p + 2 > end:
                    return k
                cp = ((b & 0x1F) << 6) | (np.int64(data[p + 1]) & 0x3F)
                p += 2
            else:
                return k
            out[o] = cp
            o += 1
        if o != o_end:
            return k
    return -1


def _positions(values: np.ndarray, n: int) -> np.ndarray:
    """A table of ``n`` entries giving each of the distinct ``values`` (row numbers below ``n``) its
    position in ``values`` (int32: the table is indexed once per candidate pair)."""
    at = np.zeros(n, dtype=np.int32 if len(values) < 2**31 else np.int64)
    at[values] = np.arange(len(values), dtype=at.dtype)
    return at


def _row_set(rows: np.ndarray, n: int) -> np.ndarray:
    """The distinct values of ``rows`` (row numbers below ``n``), ascending, as
    ``_sorted_unique(rows.reshape(-1).copy())`` gives them: by a mask over the ``n`` rows, no sort
    (the candidate pairs name their rows twice each; 460k on the zh 21 MB set: 9 -> 1 ms)."""
    seen = np.zeros(n, dtype=bool)
    seen[rows.reshape(-1)] = True
    return np.flatnonzero(seen)


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` by an in-place sort (numpy's hash-based unique is slower on large uint64 arrays)."""
    values.sort()
    keep = np.ones(len(values), dtype=bool)
    keep[1:] = values[1:] != values[:-1]
    return values[keep]


class _Shingles:
    """Shingle hashes of a block's rows: the sequences (for alignment) and the distinct sets.

    ``sets`` holds each row's distinct hashes as ``local_row << 32 | hash``, rows in order
    (row ``k``'s are ``sets[set_off[k]:set_off[k + 1]]``). With kernels, a row's values come in
    first-occurrence order and each row also gets an open-addressing hash table of its set
    (:func:`_set_tables_kernel`): deduplicating by table is a probe or two per shingle where
    sorting the block's shingles cost four times as much, and an intersection probes the
    smaller set in the other's table. The numpy definition sorts the whole block instead
    (values sorted inside each row), which its ``searchsorted`` needs.
    """

    def __init__(self, rows: np.ndarray, keys: _BlockKeys, units: np.ndarray, cfg: DedupConfig):
        unit_arr = units[rows].astype(np.int8)
        hashes, counts = shingle_hashes_of_codes(keys.codes, keys.offsets, unit_arr, cfg)
        self.seq = hashes
        self.seq_off = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(counts, out=self.seq_off[1:])
        self.tables: _SetTables | None = None
        if jit.enabled():
            self.sets, self.set_off, self.tables = _set_tables(hashes, counts, _set_tables_kernel)
            return
        owner = np.repeat(np.arange(len(rows), dtype=np.uint64), counts)
        self.sets = _sorted_unique((owner << np.uint64(32)) | hashes.astype(np.uint64))
        self.set_off = np.searchsorted(self.sets >> np.uint64(32), np.arange(len(rows) + 1, dtype=np.uint64))

    def set_sizes(self, local: np.ndarray) -> np.ndarray:
        return self.set_off[local + 1] - self.set_off[local]

    def intersections(self, child: np.ndarray, parent: np.ndarray) -> np.ndarray:
        """|set(child) & set(parent)| for arrays of local rows."""
        if self.tables is not None:
            t = self.tables
            return _table_intersect_kernel(self.sets, self.set_off, t.table, t.offsets, t.zero, child, parent)
        return self.intersections_numpy(child, parent)

    def sorted_sets(self) -> np.ndarray:
        """``sets`` with each row's values in ascending order (the layout, ``set_off``, is the same)."""
        return self.sets if self.tables is None else np.sort(self.sets)

    def intersections_numpy(self, child: np.ndarray, parent: np.ndarray) -> np.ndarray:
        """The numpy definition of :meth:`intersections`."""
        sets = self.sorted_sets()
        sizes = self.set_sizes(child)
        at = np.repeat(self.set_off[child], sizes) + _local_index(sizes)
        query = (np.repeat(parent.astype(np.uint64), sizes) << np.uint64(32)) | (
            sets[at] & np.uint64(0xFFFFFFFF)
        )
        pos = np.minimum(np.searchsorted(sets, query), max(len(sets) - 1, 0))
        hit = sets[pos] == query if len(sets) else np.zeros(len(query), dtype=bool)
        pair = np.repeat(np.arange(len(child), dtype=np.int64), sizes)
        return np.bincount(pair[hit], minlength=len(child))

    def sequence(self, local: int) -> np.ndarray:
        return self.seq[self.seq_off[local] : self.seq_off[local + 1]]

    def hash_set(self, local: int) -> np.ndarray:
        """Row ``local``'s distinct hashes, ascending (:func:`_alignment` searches them)."""
        values = (self.sets[self.set_off[local] : self.set_off[local + 1]] & np.uint64(0xFFFFFFFF)).astype(
            np.uint32
        )
        return values if self.tables is None else np.sort(values)


@dataclass(slots=True)
class _SetTables:
    """Per row of a block, an open-addressing table (linear probing) of its distinct shingle hashes:
    row ``k``'s is ``table[offsets[k]:offsets[k + 1]]``, a power of two at least twice its
    shingle count; 0 marks an empty slot, so a row holding the hash 0 says so in ``zero``."""

    table: np.ndarray  # uint32
    offsets: np.ndarray  # int64, one more than there are rows
    zero: np.ndarray  # bool


def _set_tables(
    hashes: np.ndarray, counts: np.ndarray, kernel: Callable[..., Any]
) -> tuple[np.ndarray, np.ndarray, _SetTables]:
    """``(sets, set_off, tables)`` of :class:`_Shingles` by ``kernel`` (:func:`_set_tables_kernel`,
    compiled or as plain Python)."""
    sets, set_off, table, offsets, zero = kernel(hashes, counts)
    return sets, set_off, _SetTables(table, offsets, zero)


@jit.kernel
def _set_tables_kernel(
    hashes: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Insert each row's hashes (``counts[k]`` of them, rows back to back in ``hashes``) into a
    table of its own, a power of two at least twice its count (4 at least: probes stay short),
    and write each value the first time it is seen to ``sets`` as ``k << 32 | hash``. Returns
    ``(sets, set_off, table, table offsets, zero)``; ``sets`` is a view of a buffer sized for
    every hash (a block's repeats are few)."""
    low = np.uint64(0xFFFFFFFF)
    gold = np.uint64(0x9E3779B1)
    n = counts.shape[0]
    bits = np.empty(n, dtype=np.int64)
    tab_off = np.empty(n + 1, dtype=np.int64)
    size = 0
    for k in range(n):
        b = 2
        while (1 << b) < 2 * counts[k]:
            b += 1
        bits[k] = b
        tab_off[k] = size
        size += 1 << b
    tab_off[n] = size
    table = np.zeros(size, dtype=np.uint32)
    zero = np.zeros(n, dtype=np.bool_)
    sets = np.empty(hashes.shape[0], dtype=np.uint64)
    set_off = np.empty(n + 1, dtype=np.int64)
    pos = 0
    i = 0
    for k in range(n):
        t0 = tab_off[k]
        mask = (1 << bits[k]) - 1
        shift = np.uint64(32 - bits[k])
        high = np.uint64(k) << np.uint64(32)
        set_off[k] = pos
        for _ in range(counts[k]):
            x = np.uint64(hashes[i])
            i += 1
            if x == 0:  # 0 marks empty slots: the hash 0 is a flag
                if not zero[k]:
                    zero[k] = True
                    sets[pos] = high
                    pos += 1
                continue
            h = np.int64(((x * gold) & low) >> shift)
            while True:
                y = np.uint64(table[t0 + h])
                if y == 0:
                    table[t0 + h] = x
                    sets[pos] = high | x
                    pos += 1
                    break
                if y == x:
                    break
                h = (h + 1) & mask
    set_off[n] = pos
    return sets[:pos], set_off, table, tab_off, zero


@jit.kernel
def _table_intersect_kernel(
    sets: np.ndarray,
    set_off: np.ndarray,
    table: np.ndarray,
    tab_off: np.ndarray,
    zero: np.ndarray,
    child: np.ndarray,
    parent: np.ndarray,
) -> np.ndarray:
    """:meth:`_Shingles.intersections`: the smaller set of every pair looked up in the other's table."""
    low = np.uint64(0xFFFFFFFF)
    gold = np.uint64(0x9E3779B1)
    out = np.zeros(child.shape[0], dtype=np.int64)
    for k in range(child.shape[0]):
        s, t = child[k], parent[k]
        if set_off[s + 1] - set_off[s] > set_off[t + 1] - set_off[t]:
            s, t = t, s
        t0 = tab_off[t]
        size = tab_off[t + 1] - t0
        mask = size - 1
        bits = 0
        while (1 << bits) < size:
            bits += 1
        shift = np.uint64(32 - bits)
        shared = 0
        for j in range(set_off[s], set_off[s + 1]):
            x = sets[j] & low
            if x == 0:
                shared += zero[t]
                continue
            h = np.int64(((x * gold) & low) >> shift)
            while True:
                y = np.uint64(table[t0 + h])
                if y == x:
                    shared += 1
                    break
                if y == 0:
                    break
                h = (h + 1) & mask
        out[k] = shared
    return out


@jit.kernel
def _align_kernel(
    sets: np.ndarray,
    set_off: np.ndarray,
    seq: np.ndarray,
    seq_off: np.ndarray,
    child: np.ndarray,
    parent: np.ndarray,
    width: np.ndarray,
) -> np.ndarray:
    """:func:`_alignment` by shingles for arrays of local rows: ``(len(child), 3)`` rows (start, end,
    length); each parent shingle looked up in the child's set.

    The child's set goes into an open-addressing hash table first (twice its size, linear
    probing): a lookup is a probe or two where a binary search took a mispredicted branch per
    halving. Slots carry the pair's number, so the table is never cleared between pairs."""
    low = np.uint64(0xFFFFFFFF)
    out = np.empty((child.shape[0], 3), dtype=np.int64)
    largest = 0
    for k in range(child.shape[0]):
        largest = max(largest, set_off[child[k] + 1] - set_off[child[k]])
    cap = 16
    while cap < 2 * largest:
        cap *= 2
    stamp = np.zeros(cap, dtype=np.int64)  # pair number + 1 of the entry in a slot (0: never used)
    value = np.zeros(cap, dtype=np.uint64)
    gold = np.uint64(0x9E3779B1)
    for k in range(child.shape[0]):
        n = width[k]
        s0, s1 = seq_off[parent[k]], seq_off[parent[k] + 1]
        c0, c1 = set_off[child[k]], set_off[child[k] + 1]
        total = s1 - s0 + n - 1
        first = last = first_close = last_close = prev = -1
        mark = k + 1
        bits = 4
        while (1 << bits) < 2 * (c1 - c0):
            bits += 1
        mask = (1 << bits) - 1
        shift = np.uint64(32 - bits)
        for j in range(c0, c1):  # the set's values are distinct: no probe meets an equal one
            x = sets[j] & low
            h = np.int64(((x * gold) & low) >> shift)
            while stamp[h] == mark:
                h = (h + 1) & mask
            stamp[h] = mark
            value[h] = x
        for i in range(s0, s1):
            x = np.uint64(seq[i])
            h = np.int64(((x * gold) & low) >> shift)
            hit = False
            while stamp[h] == mark:
                if value[h] == x:
                    hit = True
                    break
                h = (h + 1) & mask
            if hit:
                pos = i - s0
                if first < 0:
                    first = pos
                # a hit with another hit within 2n positions is supported (see _alignment)
                if prev >= 0 and pos - prev <= 2 * n:
                    if first_close < 0:
                        first_close = prev
                    last_close = pos
                prev = pos
                last = pos
        if first < 0:
            out[k, 0], out[k, 1] = 0, total
        elif first_close >= 0:
            out[k, 0], out[k, 1] = first_close, last_close + n
        else:
            out[k, 0], out[k, 1] = first, last + n
        out[k, 2] = total
    return out


def _sketches(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """``(n, width) uint8`` b-bit MinHash sketches; rows without one are all zero (width 0 if none)."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    n = len(arr)
    if n == 0 or arr.null_count == n:
        return np.zeros((n, 0), dtype=np.uint8)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int32)[arr.offset : arr.offset + n + 1].astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    width = int(lengths.max())
    has = lengths == width
    out = np.zeros((n, width), dtype=np.uint8)
    if width and np.all(has | (lengths == 0)):
        # the sketches lie end to end: one reshape, no (rows x width) index array
        _byte_rows(out)[has] = _byte_rows(data[offsets[0] : offsets[-1]].reshape(-1, width))
    else:
        out[has] = data[offsets[:-1][has][:, None] + np.arange(width)]
    return out


def _screen(
    pairs: np.ndarray, sketch: np.ndarray, tokens: np.ndarray, units: np.ndarray, cfg: DedupConfig
) -> np.ndarray:
    """Drop candidate pairs that cannot pass verification, judged from lengths and b-bit sketches.

    From the key lengths, a pair can only be ``near`` if its shorter side has at
    least ``near_threshold`` of the longer one's shingles, and only ``truncated``
    if the shorter side is long enough and short enough. Where one of them is
    possible, the Jaccard it needs is compared with the sketch estimate (low
    bytes of 64 MinHash values), with a margin of three standard errors: the
    screen only removes pairs that are clearly out of reach; survivors are
    verified on their real shingle sets.
    """
    if len(pairs) == 0:
        return pairs
    if not jit.enabled():
        return _screen_numpy(pairs, sketch, tokens, units, cfg)
    width = np.array([shingle_width(u, cfg) for u in range(3)])[units.astype(np.int64)]
    n_sh = np.maximum(tokens - width + 1, 1).astype(np.float64)
    has = sketch.any(axis=1) if sketch.shape[1] else np.zeros(len(sketch), dtype=bool)
    keep = _screen_kernel(
        pairs,
        n_sh,
        tokens,
        _sketch_words(sketch),
        sketch.shape[1],
        has,
        float(cfg.containment_threshold),
        float(cfg.near_threshold),
        int(cfg.min_fragment_tokens),
        1.0 - cfg.truncation_min_missing,
    )
    return np.compress(keep, pairs, axis=0)  # a boolean index of an (m, 2) array is ~8x slower


def _sketch_words(sketch: np.ndarray) -> np.ndarray:
    """``(n, width) uint8`` sketches as ``(n, ceil(width / 8)) uint64`` words, zero-padded (a view
    when the width is a multiple of 8): :func:`_screen_kernel` compares eight bytes at a time."""
    n, width = sketch.shape
    if width % 8 == 0 and sketch.flags.c_contiguous:
        return sketch.view(np.uint64).reshape(n, width // 8)
    padded = np.zeros((n, -(-width // 8) * 8), dtype=np.uint8)
    padded[:, :width] = sketch
    return padded.view(np.uint64)


@jit.kernel
def _screen_kernel(
    pairs: np.ndarray,
    n_sh: np.ndarray,
    tokens: np.ndarray,
    words: np.ndarray,
    k: int,
    has: np.ndarray,
    t: float,
    near_threshold: float,
    min_fragment_tokens: int,
    kept_share: float,
) -> np.ndarray:
    """:func:`_screen`'s mask, pair by pair, with the numpy definition's arithmetic in the same
    order (so the same floating-point results). ``words``: the ``k``-byte sketches as
    :func:`_sketch_words`; equal bytes are counted a word at a time (the zero bytes of the XOR),
    the padding's bytes, equal in every row, taken off."""
    keep = np.zeros(pairs.shape[0], dtype=np.bool_)
    low7 = np.uint64(0x7F7F7F7F7F7F7F7F)
    pad = 8 * words.shape[1] - k
    for i in range(pairs.shape[0]):
        c, p = pairs[i, 0], pairs[i, 1]
        small = min(n_sh[c], n_sh[p])
        large = max(n_sh[c], n_sh[p])
        r = small / large
        short = min(tokens[c], tokens[p])
        cont_ok = short >= min_fragment_tokens and short <= kept_share * max(tokens[c], tokens[p]) + 1
        j_need = t * r / (1.0 + r - t * r) if cont_ok else np.inf
        if r >= near_threshold - 0.1:
            j_need = min(j_need, near_threshold)
        if not np.isfinite(j_need):
            continue
        if k and has[c] and has[p]:
            same = -pad
            for j in range(words.shape[1]):
                z = words[c, j] ^ words[p, j]
                # a 1 in each byte that is 0, then those summed by shifts (no multiply: it would
                # overflow, which plain Python's numpy scalars warn about)
                y = ~(((z & low7) + low7) | z | low7) >> np.uint64(7)
                y += y >> np.uint64(8)
                y += y >> np.uint64(16)
                y += y >> np.uint64(32)
                same += np.int64(y & np.uint64(0xFF))
            match = same / k
            est = min(max((match - 1 / 256) / (1 - 1 / 256), 0.0), 1.0)
            jn = min(max(j_need, 0.0), 1.0)
            margin = 3.0 * np.sqrt(jn * (1.0 - jn) / k) + 1.0 / k
            if not est >= jn - margin:
                continue
        keep[i] = True
    return keep


def _screen_numpy(
    pairs: np.ndarray, sketch: np.ndarray, tokens: np.ndarray, units: np.ndarray, cfg: DedupConfig
) -> np.ndarray:
    """The numpy definition of :func:`_screen`."""
    child, parent = pairs[:, 0], pairs[:, 1]
    width = np.array([shingle_width(u, cfg) for u in range(3)])[units.astype(np.int64)]
    n_sh = np.maximum(tokens - width + 1, 1).astype(np.float64)
    small = np.minimum(n_sh[child], n_sh[parent])
    large = np.maximum(n_sh[child], n_sh[parent])
    r = small / large
    short_tokens = np.minimum(tokens[child], tokens[parent])
    t = cfg.containment_threshold
    cont_ok = (short_tokens >= cfg.min_fragment_tokens) & (
        np.minimum(tokens[child], tokens[parent])
        <= (1.0 - cfg.truncation_min_missing) * np.maximum(tokens[child], tokens[parent]) + 1
    )
    j_need = np.where(cont_ok, t * r / (1.0 + r - t * r), np.inf)
    # shingle sets can be a little smaller than the token counts say: be lenient on the ratio
    near_ok = r >= cfg.near_threshold - 0.1
    j_need = np.where(near_ok, np.minimum(j_need, cfg.near_threshold), j_need)
    keep = np.isfinite(j_need)
    k = sketch.shape[1]
    if k:
        has = sketch.any(axis=1)
        both = has[child] & has[parent]
        match = np.empty(len(pairs), dtype=np.float64)
        for lo in range(0, len(pairs), 65536):  # bounded temporaries: (pairs x 64) bytes per chunk
            hi = lo + 65536
            match[lo:hi] = (sketch[child[lo:hi]] == sketch[parent[lo:hi]]).mean(axis=1)
        est = np.clip((match - 1 / 256) / (1 - 1 / 256), 0.0, 1.0)
        jn = np.clip(np.where(np.isfinite(j_need), j_need, 1.0), 0.0, 1.0)
        margin = 3.0 * np.sqrt(jn * (1.0 - jn) / k) + 1.0 / k
        keep &= ~both | (est >= jn - margin)
    return pairs[keep]


# Candidate pairs screened at once.
_SCREEN_SLICE = 1_000_000

# Key characters whose shingle sets are held at once during verification.
_VERIFY_BLOCK_CHARS = 1_000_000


def _pair_blocks(pairs: np.ndarray, key_chars: np.ndarray) -> list[np.ndarray]:
    """Candidate pairs (rows of ``key_chars``) in blocks of at most ``_VERIFY_BLOCK_CHARS`` key
    characters of distinct rows (a block of one pair may hold more), each verified on its own.

    A row is shingled once per block it is in, so the pairs are ordered to keep a row's pairs
    together: by connected component of the candidate graph (components numbered in the order of
    their first pair as given), then by parent, then as given; a block is cut before the pair
    whose new rows would pass the bound. Grouped by parent only and cut by the sum of both keys
    per pair, a candidate row of the 100 MB benchmark index was in 2.07 blocks on average; in
    this order 1.78, and the blocks of the 1 GB index took 15-17 s on two threads against 28.
    """
    if len(pairs) == 0:
        return []
    components, cuts = (
        (_pair_components, _block_cuts) if jit.enabled() else (_pair_components.py_func, _block_cuts.py_func)
    )
    order = _stable_order([components(pairs, len(key_chars)), pairs[:, 1]])
    # fancy indexing of an (m, 2) array takes ~8x as long as np.take
    pairs = np.take(pairs, order, axis=0)
    return np.split(pairs, cuts(pairs, key_chars.astype(np.int64, copy=False), _VERIFY_BLOCK_CHARS))


@jit.device
def _root_of(root: np.ndarray, x: int) -> int:
    """The root of ``x`` in the union-find forest ``root``, halving the path on the way."""
    while root[x] != x:
        root[x] = root[root[x]]
        x = root[x]
    return x


@jit.kernel
def _pair_components(pairs: np.ndarray, n: int) -> np.ndarray:
    """Per pair, the number of its connected component among rows ``0 .. n - 1``, components
    numbered in the order of their first pair (union-find; without numba the same loop in
    Python, as the definition)."""
    root = np.arange(n, dtype=np.int64)
    m = pairs.shape[0]
    for i in range(m):
        a, b = _root_of(root, pairs[i, 0]), _root_of(root, pairs[i, 1])
        if a != b:
            root[max(a, b)] = min(a, b)
    number = np.full(n, -1, dtype=np.int64)
    out = np.empty(m, dtype=np.int64)
    count = 0
    for i in range(m):
        a = _root_of(root, pairs[i, 0])
        if number[a] < 0:
            number[a] = count
            count += 1
        out[i] = number[a]
    return out


@jit.kernel
def _block_cuts(pairs: np.ndarray, key_chars: np.ndarray, limit: int) -> np.ndarray:
    """Where to cut ``pairs`` (in order) into blocks whose distinct rows hold at most ``limit`` key
    characters; a pair is never split, so a block of one pair may hold more. Greedy: a block is
    cut before the first pair whose rows not yet in it would pass the bound."""
    block_of = np.full(key_chars.shape[0], -1, dtype=np.int64)
    cuts = np.empty(pairs.shape[0], dtype=np.int64)
    n_cuts = 0
    block = 0
    start = 0  # the block's first pair
    size = 0
    for i in range(pairs.shape[0]):
        a, b = pairs[i, 0], pairs[i, 1]
        add = 0
        if block_of[a] != block:
            add += key_chars[a]
        if block_of[b] != block:
            add += key_chars[b]
        if i > start and size + add > limit:
            cuts[n_cuts] = i
            n_cuts += 1
            block += 1
            start = i
            size = key_chars[a] + key_chars[b]  # a pair joins two distinct rows
        else:
            size += add
        block_of[a] = block
        block_of[b] = block
    return cuts[:n_cuts]


def _alignment(
    child_key: str, parent_key: str, child_set: np.ndarray, parent_seq: np.ndarray, n: int
) -> tuple[int, int, int]:
    """Where the child lies in the parent: (start, end, length) in shingle positions of the parent."""
    pos = parent_key.find(child_key)
    if pos >= 0 and parent_key:
        return pos, pos + len(child_key), len(parent_key)
    total = len(parent_seq) + n - 1
    # child_set is sorted: membership by binary search
    at = np.minimum(np.searchsorted(child_set, parent_seq), len(child_set) - 1)
    hit = np.flatnonzero(child_set[at] == parent_seq) if len(child_set) else np.empty(0, np.int64)
    if not len(hit):
        return 0, total, total
    # a stray common shingle far from the matched run must not stretch the span:
    # keep hits with another hit within 2n positions
    close = np.diff(hit) <= 2 * n
    supported = np.zeros(len(hit), dtype=bool)
    supported[1:] |= close
    supported[:-1] |= close
    if supported.any():
        hit = hit[supported]
    return int(hit[0]), int(hit[-1]) + n, total


@dataclass(slots=True)
class _Edges:
    """Verified relations as arrays: ``child[k]`` (not longer) repeats ``parent[k]``.

    ``relation`` holds codes into ``_RELATIONS``. The shingle-set sizes and their
    intersection are kept as integers (21 bytes an edge; a run can verify
    millions of pairs) and the ratios computed from them when needed, always
    the same way (:meth:`ratios`).
    """

    child: np.ndarray  # int32 (int64 past 2**31 rows)
    parent: np.ndarray
    relation: np.ndarray  # int8
    inter: np.ndarray  # int32: |child & parent|
    size_child: np.ndarray  # int32
    size_parent: np.ndarray  # int32

    def __len__(self) -> int:
        return len(self.child)

    @classmethod
    def concat(cls, parts: list[_Edges]) -> _Edges:
        if not parts:
            return cls(*(np.empty(0, t) for t in (np.int32, np.int32, np.int8, np.int32, np.int32, np.int32)))
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__slots__))

    def ratios(self, at: np.ndarray | slice = slice(None)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(Jaccard, containment of the child in the parent, coverage of the parent) of edges ``at``."""
        inter = self.inter[at].astype(np.float64)
        a, b = self.size_child[at].astype(np.float64), self.size_parent[at].astype(np.float64)
        return inter / (a + b - inter), inter / a, inter / b


def _verify(
    pairs: np.ndarray,
    rows: np.ndarray,
    keys: _BlockKeys,
    sh: _Shingles,
    idx: _Index,
    cfg: DedupConfig,
) -> _Edges:
    """Verified edges of a block of pairs whose rows (sorted) are ``rows`` with keys ``keys``.

    Set sizes and intersections for all pairs at once; only the pairs that pass
    as truncations are aligned one by one.
    """
    tokens, units = idx.key_tokens, idx.unit
    widths = _widths(cfg)
    child, parent = pairs[:, 0], pairs[:, 1]
    # local rows by a table (untouched past the block's rows), not a binary search per pair
    local = np.empty(len(idx), dtype=np.int64)
    local[rows] = np.arange(len(rows), dtype=np.int64)
    lc, lp = local[child], local[parent]
    del local
    # equal keys have equal hashes and lengths; the strings decide
    same_hash = (idx.key_hash[child] == idx.key_hash[parent]) & (
        idx.key_chars[child] == idx.key_chars[parent]
    )
    exact = np.zeros(len(pairs), dtype=bool)
    for k in np.flatnonzero(same_hash).tolist():
        exact[k] = keys[lc[k]] == keys[lp[k]]
    size_a, size_b = sh.set_sizes(lc), sh.set_sizes(lp)
    inter = sh.intersections(lc, lp)
    live = ~exact & (size_a > 0) & (size_b > 0) & (inter > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        jac = inter / (size_a + size_b - inter)
        c_child = inter / size_a
    trunc = (
        live
        & (c_child >= cfg.containment_threshold)
        & (tokens[child] >= cfg.min_fragment_tokens)
        & (tokens[child] <= (1.0 - cfg.truncation_min_missing) * tokens[parent])
    )
    near = live & ~trunc & (jac >= cfg.near_threshold)
    relation = np.full(len(pairs), -1, dtype=np.int8)
    relation[near] = _RELATION_CODE["near"]
    at = np.flatnonzero(trunc)
    if len(at):
        typed = _truncations if jit.enabled() else _truncations_numpy
        relation[at] = typed(lc[at], lp[at], keys, sh, widths, units[parent[at]], jac[at], cfg)
    relation[exact] = _RELATION_CODE["exact"]
    keep = relation >= 0
    one = exact[keep]
    rows = np.int32 if len(idx) < 2**31 else np.int64
    # an exact repeat counts as one shared shingle of one: every ratio 1.0
    return _Edges(
        child=child[keep].astype(rows),
        parent=parent[keep].astype(rows),
        relation=relation[keep],
        inter=np.where(one, 1, inter[keep]).astype(np.int32),
        size_child=np.where(one, 1, size_a[keep]).astype(np.int32),
        size_parent=np.where(one, 1, size_b[keep]).astype(np.int32),
    )


def _truncations(
    lc: np.ndarray,
    lp: np.ndarray,
    keys: _BlockKeys,
    sh: _Shingles,
    widths: tuple[int, ...],
    parent_units: np.ndarray,
    jac: np.ndarray,
    cfg: DedupConfig,
) -> np.ndarray:
    """Relation codes (-1: none) of pairs of local rows that pass as truncations, by where the child
    lies in the parent (:func:`_alignment`): the key found in the parent's key as is, else aligned
    by shingles; each step one kernel call for all the pairs."""
    lengths = np.diff(keys.offsets)
    at = np.empty(len(lc), dtype=np.int64)
    _find_kernel(keys.codes, keys.offsets, lc, lp, at)
    spans = np.stack([at, at + lengths[lc], lengths[lp]], axis=1)
    width = np.asarray(widths, dtype=np.int64)[parent_units]
    miss = np.flatnonzero(spans[:, 0] < 0)
    if len(miss):
        spans[miss] = _align_kernel(sh.sets, sh.set_off, sh.seq, sh.seq_off, lc[miss], lp[miss], width[miss])
    lo, hi, total = spans.T
    slack = np.maximum(width, cfg.end_slack * total)
    at_start = lo <= slack
    at_end = hi >= total - slack
    relation = np.where(
        at_start,
        _RELATION_CODE["prefix"],
        np.where(at_end, _RELATION_CODE["suffix"], _RELATION_CODE["inner"]),
    ).astype(np.int8)
    # spans the whole parent but misses a part of it: an edited copy
    whole = at_start & at_end
    relation[whole] = np.where(jac[whole] >= cfg.near_threshold, _RELATION_CODE["near"], -1)
    return relation


@jit.kernel
def _find_kernel(
    codes: np.ndarray, offsets: np.ndarray, child: np.ndarray, parent: np.ndarray, out: np.ndarray
) -> None:
    """``out[k]``: where key ``child[k]`` first occurs in key ``parent[k]`` (``str.find``), -1 where
    it does not or the parent is empty."""
    for k in range(child.shape[0]):
        c0 = offsets[child[k]]
        m = offsets[child[k] + 1] - c0
        p0 = offsets[parent[k]]
        n = offsets[parent[k] + 1] - p0
        out[k] = -1
        if n == 0:
            continue
        for start in range(n - m + 1):
            j = 0
            while j < m and codes[p0 + start + j] == codes[c0 + j]:
                j += 1
            if j == m:
                out[k] = start
                break


def _truncations_numpy(
    lc: np.ndarray,
    lp: np.ndarray,
    keys: _BlockKeys,
    sh: _Shingles,
    widths: tuple[int, ...],
    parent_units: np.ndarray,
    jac: np.ndarray,
    cfg: DedupConfig,
) -> np.ndarray:
    """The numpy definition of :func:`_truncations`: one :func:`_alignment` call per pair."""
    relation = np.full(len(lc), -1, dtype=np.int8)
    for k in range(len(lc)):
        n = widths[parent_units[k]]
        lo, hi, total = _alignment(keys[lc[k]], keys[lp[k]], sh.hash_set(lc[k]), sh.sequence(lp[k]), n)
        slack = max(n, cfg.end_slack * total)
        at_start = lo <= slack
        at_end = hi >= total - slack
        if at_start and at_end:
            # spans the whole parent but misses a part of it: an edited copy
            if jac[k] >= cfg.near_threshold:
                relation[k] = _RELATION_CODE["near"]
            continue
        relation[k] = _RELATION_CODE["prefix" if at_start else "suffix" if at_end else "inner"]
    return relation


_RELATION_RANK = {"exact": 0, "near": 1, "prefix": 2, "suffix": 2, "inner": 2}
_RELATIONS = ("exact", "near", "prefix", "suffix", "inner")
_RELATION_CODE = {r: i for i, r in enumerate(_RELATIONS)}


_ASSIGN_SLICE = 262_144


def _assign(n: int, edges: _Edges, prio: np.ndarray) -> np.ndarray:
    """Greedy in canonical order: a row is flagged by its best edge to a row that stays kept.

    Returns, per row, the index of the edge that flags it (-1: not flagged by an
    edge of its own). Edges are sorted by child in canonical order, then by
    preference (relation, containment, similarity, parent's rank); a parent always
    ranks before its child, so its fate is settled when the child's turn comes.
    """
    chosen = np.full(n, -1, dtype=np.int64)
    if not len(edges):
        return chosen
    rank = np.array([_RELATION_RANK[r] for r in _RELATIONS], dtype=np.int8)[edges.relation]
    sim, cont, _ = edges.ratios()
    order = np.lexsort((prio[edges.parent], -sim, -cont, rank, prio[edges.child]))
    del rank, sim, cont
    if jit.enabled():
        return _assign_kernel(order, edges.child, edges.parent, chosen)
    flagged = bytearray(n)
    last = -1
    # Python lists a slice at a time: millions of edges would take ~100 bytes each as ints
    for lo in range(0, len(order), _ASSIGN_SLICE):
        at = order[lo : lo + _ASSIGN_SLICE]
        for k, c, p in zip(at.tolist(), edges.child[at].tolist(), edges.parent[at].tolist(), strict=True):
            if c == last or flagged[p]:
                continue
            flagged[c] = 1
            chosen[c] = k
            last = c
    return chosen


@jit.kernel
def _assign_kernel(
    order: np.ndarray, child: np.ndarray, parent: np.ndarray, chosen: np.ndarray
) -> np.ndarray:
    """The greedy loop of :func:`_assign` over edges in ``order``, writing into ``chosen`` (all -1)."""
    flagged = np.zeros(chosen.shape[0], dtype=np.bool_)
    last = -1
    for i in range(order.shape[0]):
        k = order[i]
        c = child[k]
        if c == last or flagged[parent[k]]:
            continue
        flagged[c] = True
        chosen[c] = k
        last = c
    return chosen


def _widths(cfg: DedupConfig) -> tuple[int, ...]:
    return _widths_of(cfg.char_ngram, cfg.word_ngram, cfg.latin_char_ngram)


@cache
def _widths_of(char_ngram: int, word_ngram: int, latin_char_ngram: int) -> tuple[int, ...]:
    """Shingle width per unit code (UNIT_CHAR, UNIT_WORD, UNIT_LATIN_CHAR)."""
    return (char_ngram, word_ngram, latin_char_ngram)


def _reason(
    relation: str, sim: float, cont: float, cov: float, parent_id: str, cfg: DedupConfig, unit: int
) -> str:
    n = _widths(cfg)[int(unit)]
    shingle = f"{n}-word" if unit == UNIT_WORD else f"{n}-character"
    if relation == "exact":
        return f"exact repeat of {parent_id} (same dedup key)"
    if relation == "near":
        return (
            f"near duplicate of {parent_id}: Jaccard {sim:.2f} of {shingle} shingles "
            f"(containment {cont:.0%} / {cov:.0%})"
        )
    where = {
        "prefix": "the beginning",
        "suffix": "the end",
        "inner": "a middle part",
    }[relation]
    return (
        f"truncated copy ({where}) of the longer {parent_id}: {cont:.0%} of its {shingle} shingles "
        f"are in it, it covers {cov:.0%} of that paragraph (Jaccard {sim:.2f})"
    )


# Decision rows built at a time by :meth:`Reduced.batches` (Arrow strings for one batch only).
DECISION_BATCH_ROWS = 50_000


class Reduced:
    """The reduce's decisions for every paragraph, held as a few arrays per row.

    Decision rows (schema :data:`DECISION_SCHEMA`), with their id strings and
    reason texts, are built only a batch at a time by :meth:`batches`, so a caller
    can stream them to disk: the whole table with millions of reason strings
    never has to exist. ``paths`` are the index files (sorted); ``file`` gives the
    file each row was read from (for a paragraph id found in several files: the
    first of them).
    """

    def __init__(
        self,
        idx: _Index,
        cfg: DedupConfig,
        representative: np.ndarray,
        edges: _Edges,
        own_edge: np.ndarray,
    ) -> None:
        n = len(idx)
        self._cfg = cfg
        self.paths = idx.paths
        self.ids = idx.ids
        self.article_id = idx.article_id
        self.source_path = idx.source_path
        self.unit = idx.unit
        self.key_chars = idx.key_chars.astype(np.int32)
        self.file = idx.file
        self._row = idx.row  # each row's row in its file
        self._edges = edges
        rows = np.arange(n, dtype=np.int64)
        # exact repeats follow their group's representative: its edge if it is flagged
        self._head = representative
        edge = own_edge[representative]
        self._edge = edge
        flagged_edge = edge >= 0
        self.relation = _gather(edges.relation, edge, -1).astype(np.int8)
        self.relation[~flagged_edge & (representative != rows)] = _RELATION_CODE["exact"]
        is_flagged = self.relation >= 0
        self.parent = np.where(
            flagged_edge, _gather(edges.parent, edge, -1), np.where(is_flagged, representative, -1)
        )
        in_cluster = is_flagged.copy()
        in_cluster[self.parent[is_flagged]] = True
        # a kept paragraph is the id of its own cluster
        self._cluster_self = in_cluster & ~is_flagged

    def __len__(self) -> int:
        return len(self.relation)

    def rows_of(self, path: str | Path, file_order: bool = False) -> np.ndarray:
        """This reduce's rows read from the index file ``path``: ascending (i.e. by id), or with
        ``file_order`` in the order of that file's own rows (the map writes a unit's index in its
        paragraphs' order, so a step can pair decisions and paragraphs by position)."""
        rows = np.flatnonzero(self.file == self.paths.index(str(path)))
        if file_order:
            rows = rows[np.argsort(self._row[rows], kind="stable")]
        return rows

    def status_counts(self) -> dict[str, int]:
        relation = self.relation.astype(np.int64) + 1
        counts = np.bincount(relation, minlength=len(_RELATIONS) + 1)
        near = _RELATION_CODE["near"] + 1
        return {
            STATUS_KEPT: int(counts[0]),
            STATUS_DUPLICATE: int(counts[1 : near + 1].sum()),
            STATUS_TRUNCATED: int(counts[near + 1 :].sum()),
        }

    def cluster(self) -> np.ndarray:
        """Per row: the row of its cluster's kept paragraph (-1: not in a cluster)."""
        rows = np.arange(len(self), dtype=np.int64)
        return np.where(self.relation >= 0, self.parent, np.where(self._cluster_self, rows, -1))

    def batches(
        self,
        rows: np.ndarray | None = None,
        size: int = DECISION_BATCH_ROWS,
        columns: Sequence[str] | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Decision rows for ``rows`` (default: all, by id), ``size`` rows per batch.

        ``columns``: only these columns of :data:`DECISION_SCHEMA` (in its order), for a caller
        that needs a few: the reason texts, most of a batch's cost, are made only when asked for.
        """
        schema = decision_schema(columns)
        if rows is None:
            rows = np.arange(len(self), dtype=np.int64)
        for lo in range(0, len(rows), size):
            yield self._batch(np.asarray(rows[lo : lo + size], dtype=np.int64), schema)

    def table(self) -> pa.Table:
        """All decisions as one table, rows sorted by id."""
        return pa.Table.from_batches(list(self.batches()), schema=DECISION_SCHEMA)

    def _batch(self, rows: np.ndarray, schema: pa.Schema = DECISION_SCHEMA) -> pa.RecordBatch:
        ids = self.ids
        relation = self.relation[rows]
        flagged = relation >= 0
        rel_take = pa.array(relation.astype(np.int64), mask=~flagged)
        edge = self._edge[rows]
        has_edge = edge >= 0

        def cluster() -> pa.Array:
            at = np.where(flagged, self.parent[rows], np.where(self._cluster_self[rows], rows, -1))
            return ids.take(pa.array(at, mask=at < 0))

        ratios: list[tuple] = []  # the edges' ratios, computed once if a column needs them

        def ratio(which: int) -> pa.Array:
            if not ratios:
                ratios.append(
                    self._edges.ratios(np.maximum(edge, 0)) if len(self._edges) else (1.0, 1.0, 1.0)
                )
            return pa.array(np.where(has_edge, ratios[0][which], 1.0).astype(np.float32), mask=~flagged)

        # each column made only if the schema asks for it
        make = {
            "id": lambda: ids.take(pa.array(rows)),
            "status": lambda: _status_names().take(
                pa.array(
                    np.where(relation < 0, 0, np.where(relation <= _RELATION_CODE["near"], 1, 2)), pa.int64()
                )
            ),
            "relation": lambda: _relation_names().take(rel_take),
            "duplicate_of": lambda: ids.take(pa.array(self.parent[rows], mask=~flagged)),
            "cluster_id": cluster,
            "similarity": lambda: ratio(0),
            "containment": lambda: ratio(1),
            "rule": lambda: _rule_names().take(rel_take),
            "reason": lambda: self._reasons(rows, flagged, edge, has_edge),
            "article_id": lambda: self.article_id.take(pa.array(rows)),
            "source_path": lambda: self.source_path.take(pa.array(rows)),
            "key_chars": lambda: pa.array(self.key_chars[rows]),
        }
        return pa.RecordBatch.from_arrays([_flat(make[name]()) for name in schema.names], schema=schema)

    def _reasons(
        self, rows: np.ndarray, flagged: np.ndarray, edge: np.ndarray, has_edge: np.ndarray
    ) -> pa.Array:
        """Reason texts of a batch: one Python string per distinct (edge, unit), the rest by Arrow joins.

        A row flagged by its own edge gets that edge's text; an exact repeat of a
        flagged representative "exact repeat of <head>, which is a <edge text>"
        (with the repeat's own shingle unit); an exact repeat of a kept one
        "exact repeat of <head> (same dedup key)".
        """
        n = len(rows)
        head = self._head[rows]
        own = has_edge & (head == rows)
        via = has_edge & ~own
        plain = flagged & ~has_edge
        e = self._edges
        texts = pa.nulls(n, pa.string())
        if has_edge.any():
            sel = np.flatnonzero(has_edge)
            combo = edge[sel] * 4 + self.unit[rows[sel]].astype(np.int64)
            uniq, inverse = np.unique(combo, return_inverse=True)
            k, units = uniq // 4, uniq % 4
            parent_ids = self.ids.take(pa.array(e.parent[k])).to_pylist()
            sims, conts, covs = e.ratios(k)
            strings = [
                _reason(_RELATIONS[r], s, c, v, pid, self._cfg, u)
                for r, s, c, v, pid, u in zip(
                    e.relation[k].tolist(),
                    sims.tolist(),
                    conts.tolist(),
                    covs.tolist(),
                    parent_ids,
                    units.tolist(),
                    strict=True,
                )
            ]
            at = np.full(n, -1, dtype=np.int64)
            at[sel] = inverse.reshape(-1)
            texts = pa.array(strings, pa.string()).take(pa.array(at, mask=at < 0))
        if not (via.any() or plain.any()):
            return texts
        head_ids = self.ids.take(pa.array(head, mask=~(via | plain)))
        joined_via = pc.binary_join_element_wise("exact repeat of ", head_ids, ", which is a ", texts, "")
        joined_plain = pc.binary_join_element_wise("exact repeat of ", head_ids, " (same dedup key)", "")
        out = pc.if_else(pa.array(via), joined_via, texts)
        return pc.if_else(pa.array(plain), joined_plain, out)


def decision_schema(columns: Sequence[str] | None = None) -> pa.Schema:
    """:data:`DECISION_SCHEMA`, or the part of it with these columns (in its order)."""
    if columns is None:
        return DECISION_SCHEMA
    wanted = set(columns)
    if wanted - set(DECISION_SCHEMA.names):
        raise ValueError(f"not decision columns: {sorted(wanted - set(DECISION_SCHEMA.names))}")
    return pa.schema([f for f in DECISION_SCHEMA if f.name in wanted], metadata=DECISION_SCHEMA.metadata)


def _gather(values: np.ndarray, at: np.ndarray, fill: float) -> np.ndarray:
    """``values[at]`` where ``at >= 0``, else ``fill``."""
    if not len(values):
        return np.full(len(at), fill, dtype=np.result_type(values.dtype, np.min_scalar_type(fill)))
    return np.where(at >= 0, values[np.maximum(at, 0)], fill)


def _flat(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous array of plain values (chunks combined, dictionary-encoded columns decoded)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.dictionary_decode() if pa.types.is_dictionary(arr.type) else arr


def reduce_index(index_paths: Sequence[str | Path], cfg: DedupConfig, threads: int = 1) -> Reduced:
    """The decisions for every paragraph of the given index files, as a :class:`Reduced`.

    The same decisions as :func:`dedup_reduce`, held compactly: write them with
    :meth:`Reduced.batches` instead of building one table. ``threads``: how many
    blocks of candidate pairs are verified at once (the decisions are the same for
    any number).
    """
    with _system_memory_pool():
        return _reduce_index(index_paths, cfg, threads)


@contextmanager
def _system_memory_pool() -> Iterator[None]:
    """Arrow allocates from the C library's allocator meanwhile.

    The reduce reads columns and frees them phase after phase; Arrow's default
    mimalloc pool keeps about 100 MB of those freed pages mapped on the zh
    benchmark index (358k paragraphs), even after ``release_unused``, while
    ``malloc`` hands them back: peak RSS ~470 instead of ~570 MiB, at the same
    CPU time. Buffers remember their pool, so arrays made here are freed
    correctly after the default is restored.
    """
    previous = pa.default_memory_pool()
    system = pa.system_memory_pool()
    if previous.backend_name == system.backend_name:
        yield
        return
    pa.set_memory_pool(system)
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


def _reduce_index(index_paths: Sequence[str | Path], cfg: DedupConfig, threads: int = 1) -> Reduced:
    idx = _load(index_paths, cfg)
    n = len(idx)
    prio = idx.prio
    tokens, units, key_hash, key_chars = idx.key_tokens, idx.unit, idx.key_hash, idx.key_chars

    # exact groups (key hash and length must agree); empty keys never group
    representative = (_exact_heads if jit.enabled() else _exact_heads_numpy)(key_hash, key_chars, prio)
    representative[key_chars == 0] = np.flatnonzero(key_chars == 0)
    rep = representative == np.arange(n)

    _release()
    pairs = _candidates(idx, rep, cfg, threads) if n else np.empty((0, 2), np.int64)
    _release()
    cand_rows = _row_set(pairs, n)
    if len(pairs):
        # sketches of candidate rows only, screened on local row numbers (a lookup table, not a
        # binary search per pair)
        local = _positions(cand_rows, n)[pairs]
        sketches, cand_tokens, cand_units = (
            _candidate_sketches(idx, cand_rows),
            tokens[cand_rows],
            units[cand_rows],
        )
        del pairs
        # a slice of pairs at a time: the screen's temporaries are a dozen numbers per pair
        kept = [
            _screen(local[lo : lo + _SCREEN_SLICE], sketches, cand_tokens, cand_units, cfg)
            for lo in range(0, len(local), _SCREEN_SLICE)
        ]
        del sketches, cand_tokens, cand_units, local
        pairs = cand_rows[np.concatenate(kept)]
        del kept
        cand_rows = _row_set(pairs, n)
    cand_keys, key_at = _read_keys(idx, cand_rows)
    key_of = np.zeros(n, dtype=np.int64)
    key_of[cand_rows] = key_at
    del key_at
    _release()
    blocks = _pair_blocks(pairs, key_chars)
    check = partial(_check_block, keys=cand_keys, key_of=key_of, idx=idx, cfg=cfg)
    if threads > 1 and len(blocks) > 1:
        # blocks are independent and their heavy steps (kernels, sorts) release the GIL; map
        # keeps the block order, so the edges and decisions do not depend on the threads
        with ThreadPoolExecutor(threads, thread_name_prefix="presswash-verify") as pool:
            parts = list(pool.map(check, blocks))
    else:
        parts = [check(block) for block in blocks]
    del cand_keys, key_of, pairs, cand_rows, rep, blocks, check
    edges = _Edges.concat(parts)
    del parts
    own_edge = _assign(n, edges, prio)
    # what the decisions do not need any more
    idx.prio = idx.key_tokens = idx.key_hash = np.empty(0, np.int64)
    idx.dest = []
    _release()
    return Reduced(idx, cfg, representative, edges, own_edge)


def _exact_heads_numpy(key_hash: np.ndarray, key_chars: np.ndarray, prio: np.ndarray) -> np.ndarray:
    """Per row: the row of its exact group (equal ``key_hash`` and ``key_chars``) first in
    canonical order (lowest ``prio``)."""
    n = len(key_hash)
    order = np.lexsort((prio, key_chars, key_hash))
    kh, kc = key_hash[order], key_chars[order]
    new = np.ones(n, dtype=bool)
    new[1:] = (kh[1:] != kh[:-1]) | (kc[1:] != kc[:-1])
    group_head = order[np.flatnonzero(new)[np.cumsum(new) - 1]]
    representative = np.empty(n, dtype=np.int64)
    representative[order] = group_head
    return representative


@jit.kernel
def _exact_heads(key_hash: np.ndarray, key_chars: np.ndarray, prio: np.ndarray) -> np.ndarray:
    """:func:`_exact_heads_numpy` by an open-addressing table of the groups, no sort: each slot holds
    its group's lowest-``prio`` row so far."""
    n = key_hash.shape[0]
    bits = 4
    while (1 << bits) < 2 * n:
        bits += 1
    mask = (1 << bits) - 1
    shift = np.uint64(64 - bits)
    best = np.full(1 << bits, -1, dtype=np.int64)
    slot_of = np.empty(n, dtype=np.int64)
    for i in range(n):
        h, c = key_hash[i], key_chars[i]
        # the hash is already uniform; the length mixed in only parts equal hashes of other lengths
        slot = np.int64(
            ((h ^ (np.uint64(c) * np.uint64(0x9E3779B97F4A7C15))) * np.uint64(0xBF58476D1CE4E5B9)) >> shift
        )
        while best[slot] >= 0 and (key_hash[best[slot]] != h or key_chars[best[slot]] != c):
            slot = (slot + 1) & mask
        if best[slot] < 0 or prio[i] < prio[best[slot]]:
            best[slot] = i
        slot_of[i] = slot
    representative = np.empty(n, dtype=np.int64)
    for i in range(n):
        representative[i] = best[slot_of[i]]
    return representative


def _check_block(
    block: np.ndarray, keys: _KeyBytes, key_of: np.ndarray, idx: _Index, cfg: DedupConfig
) -> _Edges:
    """Verified edges of one block of candidate pairs (its shingles made, used and dropped here:
    working memory bounded by _VERIFY_BLOCK_CHARS)."""
    rows = _sorted_unique(block.reshape(-1).copy())
    block_keys = _key_codes(keys, key_of[rows], idx.key_chars[rows])
    return _verify(block, rows, block_keys, _Shingles(rows, block_keys, idx.unit, cfg), idx, cfg)


def dedup_reduce(index_paths: Sequence[str | Path], cfg: DedupConfig, threads: int = 1) -> pa.Table:
    """Decisions (schema :data:`DECISION_SCHEMA`) for every paragraph of the given index files.

    Columns: ``id, status, relation, duplicate_of, cluster_id, similarity,
    containment`` as in ``cleaning.schema.PARAGRAPHS``, plus ``rule`` (the named
    rule behind a flag), ``reason`` (human explanation), ``article_id``,
    ``source_path`` and ``key_chars``. Rows are sorted by id. A paragraph id
    present in several files (an earlier run indexed the same input) appears
    once. File order does not matter; the same files always give the same
    decisions. Status ``duplicate`` goes with relation ``exact``/``near``,
    ``truncated`` with ``prefix``/``suffix``/``inner``. For millions of
    paragraphs, :func:`reduce_index` and :meth:`Reduced.batches` give the same
    rows a batch at a time. ``threads``: as for :func:`reduce_index`.
    """
    return reduce_index(index_paths, cfg, threads).table()


def _release() -> None:
    """Hand memory Arrow freed back to the system between phases (its pool keeps it otherwise)."""
    pa.default_memory_pool().release_unused()


def _candidate_sketches(idx: _Index, rows: np.ndarray) -> np.ndarray:
    """``(len(rows), width) uint8`` sketches of the given rows (all zero where a row has none)."""
    out = np.zeros((len(rows), 0), dtype=np.uint8)
    for where, col in idx.read("sketch", rows):
        part = _sketches(col)
        if part.shape[1] > out.shape[1]:
            out = np.zeros((len(rows), part.shape[1]), dtype=np.uint8)
        if part.shape[1]:
            _byte_rows(out)[where] = _byte_rows(part)
    return out


def _byte_rows(a: np.ndarray) -> np.ndarray:
    """A C-contiguous ``(n, width)`` array as ``n`` items of ``width`` bytes (a view): numpy
    copies rows picked by a mask or an index array several times faster as single items than as
    rows of an ``(n, width)`` array (the candidates' sketches: 2-4x)."""
    return a.view(np.dtype((np.void, a.shape[1] * a.itemsize))).reshape(-1)


# Made on first use, not at import: pyarrow imports pandas (~0.3 s) on the first ``pa.array``
# of a process, and importing the library should not pay for that.
@cache
def _status_names() -> pa.Array:
    return pa.array([STATUS_KEPT, STATUS_DUPLICATE, STATUS_TRUNCATED], pa.string())


@cache
def _relation_names() -> pa.Array:
    return pa.array(list(_RELATIONS), pa.string())


@cache
def _rule_names() -> pa.Array:
    return pa.array([RULE_BY_RELATION[r] for r in _RELATIONS], pa.string())
