"""The map phase: one shard's paragraphs in, its rows of the dedup index out."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pyarrow as pa

from cleaning import jit
from cleaning.dedup.config import DedupConfig
from cleaning.dedup.key import key_codes
from cleaning.dedup.minhash import (
    SKETCH_PERMS,
    anchors_of_windows,
    band_hashes,
    key_windows,
    minhash_signatures,
)
from cleaning.dedup.xxh3 import xxh3_64_of_strings
from cleaning.schema import DEDUP_INDEX, DEDUP_INDEX_KEY

MAP_INPUT_COLUMNS = ("id", "article_id", "source_path", "position", "article_position", "text")
# Characters of key text per vectorized batch: bounds the map's working memory
# (about 60 bytes per character) independently of the shard size.
_BATCH_CHARS = 500_000


def index_schema(cfg: DedupConfig) -> pa.Schema:
    meta = dict(DEDUP_INDEX.metadata or {})
    meta[DEDUP_INDEX_KEY] = cfg.index_fingerprint().encode()
    return DEDUP_INDEX.with_metadata(meta)


def _list_array(values: np.ndarray, counts: np.ndarray) -> pa.Array:
    offsets = np.zeros(len(counts) + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, type=pa.uint64()))


def _sketch_array(sig: np.ndarray, eligible: np.ndarray) -> pa.Array:
    width = min(SKETCH_PERMS, sig.shape[1])
    low = np.ascontiguousarray((sig[:, :width] & 0xFF).astype(np.uint8))
    offsets = np.zeros(len(eligible) + 1, dtype=np.int32)
    np.cumsum(np.where(eligible, width, 0), out=offsets[1:])
    valid = pa.array(eligible).buffers()[1] if not eligible.all() else None
    return pa.BinaryArray.from_buffers(
        pa.binary(), len(eligible), [valid, pa.py_buffer(offsets), pa.py_buffer(low.tobytes())]
    )


def _string_array(keys: list[str] | None, codes: np.ndarray, offsets: np.ndarray) -> pa.Array:
    """``pa.array(keys, pa.string())`` from the keys' code points (key ``k`` is
    ``codes[offsets[k]:offsets[k + 1]]``), UTF-8 encoded by a kernel: no conversion of a Python
    string per key. ``keys`` None: the keys as strings are made from the code points if needed."""
    if keys is None and (not jit.enabled() or len(codes) >= 2**29):
        text, bounds = codes.tobytes().decode("utf-32-le"), offsets.tolist()
        keys = [text[lo:hi] for lo, hi in pairwise(bounds)]
    if not jit.enabled():
        return pa.array(keys, type=pa.string())
    byte_off, data = _utf8_kernel(codes, offsets)
    if byte_off[-1] >= 2**31:  # past what int32 offsets hold: Arrow's own conversion decides
        return pa.array(keys, type=pa.string())
    return pa.StringArray.from_buffers(
        len(offsets) - 1, pa.py_buffer(byte_off.astype(np.int32)), pa.py_buffer(data)
    )


@jit.kernel
def _utf8_kernel(codes: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 of the keys ``codes[offsets[k]:offsets[k + 1]]`` (code points without surrogates: they
    come from ``str.encode``) and the byte offset of every key."""
    byte_off = np.empty(offsets.shape[0], dtype=np.int64)
    data = np.empty(4 * codes.shape[0], dtype=np.uint8)  # room for the widest; a batch is small
    p = 0
    for k in range(offsets.shape[0] - 1):
        byte_off[k] = p
        for i in range(offsets[k], offsets[k + 1]):
            c = codes[i]
            if c < 0x80:
                data[p] = c
                p += 1
            elif c < 0x800:
                data[p] = 0xC0 | (c >> 6)
                data[p + 1] = 0x80 | (c & 0x3F)
                p += 2
            elif c < 0x10000:
                data[p] = 0xE0 | (c >> 12)
                data[p + 1] = 0x80 | ((c >> 6) & 0x3F)
                data[p + 2] = 0x80 | (c & 0x3F)
                p += 3
            else:
                data[p] = 0xF0 | (c >> 18)
                data[p + 1] = 0x80 | ((c >> 12) & 0x3F)
                data[p + 2] = 0x80 | ((c >> 6) & 0x3F)
                data[p + 3] = 0x80 | (c & 0x3F)
                p += 4
    byte_off[offsets.shape[0] - 1] = p
    return byte_off, data[:p]


def _code_rows(
    keys: list[str] | None, unit_arr: np.ndarray, codes: np.ndarray, offsets: np.ndarray, cfg: DedupConfig
) -> dict[str, pa.Array]:
    """The index columns of the keys ``codes[offsets[k]:offsets[k + 1]]`` (``keys``, as strings, may
    be None with compiled kernels: the key column is encoded from the code points)."""
    # the token counts, shingles and anchor windows of encode_codes(codes, offsets, unit_arr)
    tokens, sh, counts, window_hashes, window_counts = key_windows(codes, offsets, unit_arr, cfg)
    eligible = tokens >= cfg.min_signature_tokens
    if not eligible.all():
        sh = sh[np.repeat(eligible, counts)]
    sig = minhash_signatures(sh, counts[eligible], cfg)
    bands = band_hashes(sig, cfg)
    band_counts = np.where(eligible, cfg.bands, 0)
    ah, acounts, head, tail = anchors_of_windows(window_hashes, window_counts, eligible, cfg)
    key_arr = _string_array(keys, codes, offsets)
    return {
        "unit": pa.array(unit_arr, type=pa.int8()),
        "key": key_arr,
        "key_chars": pa.array(np.diff(offsets).astype(np.int32)),
        "key_tokens": pa.array(tokens.astype(np.int32)),
        # xxh3 of the keys' UTF-8, hashed where the key column holds it (no bytes object per key)
        "key_hash": pa.array(xxh3_64_of_strings(key_arr)),
        "bands": _list_array(bands.reshape(-1), band_counts),
        "anchors": _list_array(ah, acounts),
        "head": pa.array(head),
        "tail": pa.array(tail),
        "sketch": _sketch_array(sig, eligible),
    }


def dedup_map(paragraphs: pa.Table, cfg: DedupConfig, texts: list[str | None] | None = None) -> pa.Table:
    """Index rows (schema ``cleaning.schema.DEDUP_INDEX``) for one shard of paragraphs.

    ``paragraphs`` needs the columns ``id, article_id, source_path, position``
    (paragraph position in its article), ``article_position`` (article position
    in its source) and ``text``; other columns are ignored. Rows come out in
    input order. The result depends only on each row's own values and the index
    settings of ``cfg``, so shards can be mapped in any order, in any worker.

    ``texts``: the ``text`` column as Python strings, when the caller still holds
    them (the flow's unit writer does); it saves converting the column back. It
    must equal ``paragraphs["text"].to_pylist()``.
    """
    missing = [c for c in MAP_INPUT_COLUMNS if c not in paragraphs.column_names]
    if missing:
        raise ValueError(f"dedup_map: missing input columns {missing}")
    if texts is None:
        texts = paragraphs.column("text").to_pylist()
    elif len(texts) != paragraphs.num_rows:
        raise ValueError(f"dedup_map: {len(texts)} texts for {paragraphs.num_rows} rows")
    schema = index_schema(cfg)
    # texts equals the column, whose null count Arrow keeps: no scan comparing each text with None
    if paragraphs.column("text").null_count:
        texts = ["" if t is None else t for t in texts]
    # the keys as code points, which the index columns are computed from (as strings too when
    # they were made as strings)
    keys, (units, codes, offsets) = key_codes(texts, cfg)
    parts: dict[str, list[pa.Array]] = {}
    ends = offsets[1:]
    n = len(ends)
    lo = 0
    while lo < n:
        # the shortest run of keys from lo with at least _BATCH_CHARS characters (at least one key)
        before = int(ends[lo - 1]) if lo else 0
        hi = max(int(np.searchsorted(ends, before + _BATCH_CHARS, side="left")) + 1, lo + 1)
        hi = min(hi, n)
        first, last = int(offsets[lo]), int(offsets[hi])
        batch = _code_rows(
            None if keys is None else keys[lo:hi],
            units[lo:hi],
            codes[first:last],
            offsets[lo : hi + 1] - first,
            cfg,
        )
        for name, arr in batch.items():
            parts.setdefault(name, []).append(arr)
        lo = hi
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "id": paragraphs.column("id").cast(pa.string()),
        "article_id": paragraphs.column("article_id").cast(pa.string()),
        "source_path": paragraphs.column("source_path").cast(pa.string()),
        "article_position": paragraphs.column("article_position").cast(pa.int32()),
        "position": paragraphs.column("position").cast(pa.int32()),
    }
    for field in schema:
        if field.name in columns:
            continue
        chunks = parts.get(field.name)
        columns[field.name] = (
            pa.chunked_array(chunks, type=field.type) if chunks else pa.chunked_array([], type=field.type)
        )
    return pa.table([columns[f.name] for f in schema], schema=schema).combine_chunks()
