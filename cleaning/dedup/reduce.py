"""The reduce phase: index files in, one decision per paragraph out.

1. Load the index files (without the key text), drop repeated ids (the same
   input indexed by an earlier run), order paragraphs canonically: longest key
   first, then earliest ``(source_path, article_position, position)``, then id.
2. Exact groups: equal key hashes. Only the best of each group (its
   representative) takes part in the rest; the others follow its fate.
3. Candidates, all by sorting arrays: LSH band buckets, anchor buckets, and
   head / tail window buckets (prefix and suffix fragments). Each bucket is a
   star on its first ``bucket_heads`` paragraphs in canonical order.
4. A screen drops pairs that cannot pass (lengths, b-bit sketch estimate with
   a three-standard-error margin); the rest are verified on their real shingle
   sets, recomputed from the keys of candidate rows only, a bounded block at a
   time: Jaccard, both directed containments, typed relation.
5. Greedy clustering in canonical order on verified edges only: a paragraph is
   flagged only when it verified against a paragraph that stays kept, so nothing
   chains through a third paragraph or shared boilerplate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cleaning.dedup.config import DedupConfig
from cleaning.dedup.key import UNIT_WORD
from cleaning.dedup.minhash import encode, shingle_hashes, shingle_width
from cleaning.schema import DEDUP_INDEX_KEY, STATUS_DUPLICATE, STATUS_KEPT, STATUS_TRUNCATED

DECISION_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("relation", pa.string()),
        pa.field("duplicate_of", pa.string()),
        pa.field("cluster_id", pa.string()),
        pa.field("similarity", pa.float32()),
        pa.field("containment", pa.float32()),
        # the named rule that made the decision, and why (for ``presswash explain``)
        pa.field("rule", pa.string()),
        pa.field("reason", pa.string()),
        # carried over from the index, for article_decisions and the flow
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("source_path", pa.string(), nullable=False),
        pa.field("key_chars", pa.int32(), nullable=False),
    ]
)

_LOAD_COLUMNS = [
    "id",
    "article_id",
    "source_path",
    "article_position",
    "position",
    "unit",
    "key_chars",
    "key_tokens",
    "key_hash",
    "bands",
    "anchors",
    "head",
    "tail",
    "sketch",
]

RULE_BY_RELATION = {
    "exact": "dedup.exact",
    "near": "dedup.near",
    "prefix": "dedup.truncated_prefix",
    "suffix": "dedup.truncated_suffix",
    "inner": "dedup.truncated_inner",
}


@dataclass(slots=True)
class Edge:
    """A verified relation: ``child`` (not longer) repeats ``parent``."""

    child: int
    parent: int
    relation: str  # exact | near | prefix | suffix | inner
    similarity: float  # Jaccard of the shingle sets
    containment: float  # share of the child's shingles found in the parent
    coverage: float = 1.0  # share of the parent's shingles found in the child


class IndexMismatch(ValueError):
    """Index files written with different index settings cannot be deduplicated together."""


def _load(index_paths: Sequence[str | Path], cfg: DedupConfig) -> tuple[pa.Table, list[str]]:
    expected = cfg.index_fingerprint()
    paths = sorted({str(p) for p in index_paths})
    tables = []
    for file_no, path in enumerate(paths):
        pf = pq.ParquetFile(path)
        found = (pf.schema_arrow.metadata or {}).get(DEDUP_INDEX_KEY, b"").decode()
        if found != expected:
            raise IndexMismatch(
                f"{path}: written with index settings {found or 'unknown'}, this run uses {expected}; "
                "rebuild the index or use the same [dedup] settings"
            )
        t = pf.read(columns=_LOAD_COLUMNS)
        t = t.append_column("_file", pa.array(np.full(len(t), file_no, dtype=np.int32)))
        t = t.append_column("_row", pa.array(np.arange(len(t), dtype=np.int64)))
        tables.append(t)
    if not tables:
        return pa.table({c: [] for c in [*_LOAD_COLUMNS, "_file", "_row"]}), paths
    table = pa.concat_tables(tables).combine_chunks()
    # One row per id: a paragraph indexed by an earlier run and again now counts once.
    table = table.take(pc.sort_indices(table, [("id", "ascending"), ("_file", "ascending")]))
    ids = table.column("id").to_numpy(zero_copy_only=False)
    if len(ids) > 1:
        first = np.ones(len(ids), dtype=bool)
        first[1:] = ids[1:] != ids[:-1]
        if not first.all():
            table = table.filter(pa.array(first))
    return table, paths


def _priority(table: pa.Table) -> np.ndarray:
    """Rank of every row in canonical order (0 = most complete, earliest)."""
    order_table = pa.table(
        {
            "neg_len": pc.negate(table.column("key_chars").cast(pa.int64())),
            "source_path": table.column("source_path"),
            "article_position": table.column("article_position"),
            "position": table.column("position"),
            "id": table.column("id"),
        }
    )
    order = pc.sort_indices(
        order_table,
        [
            ("neg_len", "ascending"),
            ("source_path", "ascending"),
            ("article_position", "ascending"),
            ("position", "ascending"),
            ("id", "ascending"),
        ],
    ).to_numpy()
    prio = np.empty(len(order), dtype=np.int64)
    prio[order] = np.arange(len(order), dtype=np.int64)
    return prio


def _star_pairs(
    bucket: np.ndarray, rows: np.ndarray, prio: np.ndarray, heads: int, max_bucket: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (member, head) for buckets of equal ``bucket`` values; heads = first in canonical order."""
    if len(bucket) < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    # most buckets hold one paragraph: find the others with a cheap unstable sort first
    order = np.argsort(bucket)
    sb = bucket[order]
    same = sb[1:] == sb[:-1]
    multi = np.zeros(len(sb), dtype=bool)
    multi[1:] |= same
    multi[:-1] |= same
    keep = order[multi]
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


def _candidates(table: pa.Table, rep: np.ndarray, prio: np.ndarray, cfg: DedupConfig) -> np.ndarray:
    """Candidate pairs among representatives, as ``(n, 2)`` int64 rows ``(child, parent)``."""
    n = len(table)
    us: list[np.ndarray] = []
    vs: list[np.ndarray] = []

    band_values, band_counts = _list_values(table.column("bands"))
    with_bands = (band_counts == cfg.bands) & rep
    band_rows = np.flatnonzero(band_counts == cfg.bands)
    matrix = band_values.reshape(-1, cfg.bands) if len(band_values) else np.empty((0, cfg.bands), np.uint64)
    sel = with_bands[band_rows]
    rows_b, matrix = band_rows[sel], matrix[sel]
    for band in range(cfg.bands):
        u, v = _star_pairs(matrix[:, band], rows_b, prio, cfg.bucket_heads, None)
        us.append(u)
        vs.append(v)
    del matrix, band_values

    anchor_values, anchor_counts = _list_values(table.column("anchors"))
    anchor_rows = np.repeat(np.arange(n, dtype=np.int32), anchor_counts)
    if not rep.all():
        sel = rep[anchor_rows]
        anchor_values, anchor_rows = anchor_values[sel], anchor_rows[sel]
        del sel
    u, v = _star_pairs(anchor_values, anchor_rows, prio, cfg.bucket_heads, cfg.max_bucket)
    u, v = u.astype(np.int64), v.astype(np.int64)
    del anchor_values, anchor_rows
    if len(u):
        # a pair must share min_shared_anchors anchors (fewer when one side has fewer anchors)
        lo, hi = np.minimum(u, v), np.maximum(u, v)
        code, shared = np.unique(lo * n + hi, return_counts=True)
        lo, hi = code // n, code % n
        need = np.minimum(cfg.min_shared_anchors, np.minimum(anchor_counts[lo], anchor_counts[hi]))
        ok = shared >= np.maximum(need, 1)
        u, v = lo[ok], hi[ok]
    us.append(u)
    vs.append(v)

    for name in ("head", "tail"):
        values = table.column(name).to_numpy().astype(np.uint64)
        rows = np.flatnonzero((values != 0) & rep)
        u, v = _star_pairs(values[rows], rows, prio, cfg.bucket_heads, cfg.max_bucket)
        us.append(u)
        vs.append(v)

    u = np.concatenate(us) if us else np.empty(0, np.int64)
    v = np.concatenate(vs) if vs else np.empty(0, np.int64)
    child = np.where(prio[u] > prio[v], u, v)
    parent = np.where(prio[u] > prio[v], v, u)
    code = np.unique(child * n + parent)
    return np.stack([code // n, code % n], axis=1)


def _read_keys(table: pa.Table, rows: np.ndarray, paths: list[str]) -> dict[int, str]:
    """Key text of the given rows, reading one file's key column at a time."""
    files = table.column("_file").to_numpy()[rows]
    file_rows = table.column("_row").to_numpy()[rows]
    keys: dict[int, str] = {}
    for file_no in np.unique(files):
        m = files == file_no
        col = pq.read_table(paths[int(file_no)], columns=["key"]).column("key")
        taken = col.take(pa.array(file_rows[m])).to_pylist()
        keys.update(zip(rows[m].tolist(), taken, strict=True))
    return keys


class _Shingles:
    """Shingle sequences and sets of the candidate rows, computed in one batch."""

    def __init__(self, rows: np.ndarray, keys: dict[int, str], units: np.ndarray, cfg: DedupConfig):
        key_list = [keys[int(r)] for r in rows]
        unit_arr = units[rows].astype(np.int8)
        hashes, counts = shingle_hashes(encode(key_list, unit_arr), unit_arr, cfg)
        ends = np.cumsum(counts)
        self._seq: dict[int, np.ndarray] = {}
        for r, e, c in zip(rows.tolist(), ends.tolist(), counts.tolist(), strict=True):
            self._seq[r] = hashes[e - c : e]
        self._sets: dict[int, frozenset[int]] = {}

    def seq(self, row: int) -> np.ndarray:
        return self._seq[row]

    def set(self, row: int) -> frozenset[int]:
        s = self._sets.get(row)
        if s is None:
            s = frozenset(self._seq[row].tolist())
            self._sets[row] = s
        return s


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


# Key characters whose shingle sets are held at once during verification.
_VERIFY_BLOCK_CHARS = 2_000_000


def _pair_blocks(pairs: np.ndarray, key_chars: np.ndarray) -> list[np.ndarray]:
    """Candidate pairs in blocks of bounded key text, grouped by parent (rows recur less)."""
    if len(pairs) == 0:
        return []
    pairs = pairs[np.argsort(pairs[:, 1], kind="stable")]
    cost = np.cumsum(key_chars[pairs[:, 0]] + key_chars[pairs[:, 1]])
    block = cost // _VERIFY_BLOCK_CHARS
    cuts = np.flatnonzero(np.diff(block)) + 1
    return np.split(pairs, cuts)


def _alignment(
    child_key: str, parent_key: str, child_set: frozenset[int], parent_seq: np.ndarray, n: int
) -> tuple[int, int, int]:
    """Where the child lies in the parent: (start, end, length) in shingle positions of the parent."""
    pos = parent_key.find(child_key)
    if pos >= 0 and parent_key:
        return pos, pos + len(child_key), len(parent_key)
    total = len(parent_seq) + n - 1
    hit = [i for i, h in enumerate(parent_seq.tolist()) if h in child_set]
    if not hit:
        return 0, total, total
    # a stray common shingle far from the matched run must not stretch the span:
    # keep hits with another hit within 2n positions
    supported = [
        h
        for k, h in enumerate(hit)
        if (k > 0 and h - hit[k - 1] <= 2 * n) or (k + 1 < len(hit) and hit[k + 1] - h <= 2 * n)
    ]
    if supported:
        hit = supported
    return hit[0], hit[-1] + n, total


def _verify(
    pairs: np.ndarray,
    keys: dict[int, str],
    sh: _Shingles,
    tokens: np.ndarray,
    units: np.ndarray,
    cfg: DedupConfig,
) -> list[Edge]:
    edges: list[Edge] = []
    widths = [shingle_width(u, cfg) for u in range(3)]
    for child, parent in pairs.tolist():
        ck, pk = keys[child], keys[parent]
        if ck == pk:
            edges.append(Edge(child, parent, "exact", 1.0, 1.0))
            continue
        a, b = sh.set(child), sh.set(parent)
        if not a or not b:
            continue
        inter = len(a & b)
        if inter == 0:
            continue
        jac = inter / (len(a) + len(b) - inter)
        c_child = inter / len(a)
        c_parent = inter / len(b)
        if (
            c_child >= cfg.containment_threshold
            and tokens[child] >= cfg.min_fragment_tokens
            and tokens[child] <= (1.0 - cfg.truncation_min_missing) * tokens[parent]
        ):
            n = widths[units[parent]]
            lo, hi, total = _alignment(ck, pk, a, sh.seq(parent), n)
            slack = max(n, cfg.end_slack * total)
            at_start = lo <= slack
            at_end = hi >= total - slack
            if at_start and at_end:
                # spans the whole parent but misses a part of it: an edited copy
                if jac >= cfg.near_threshold:
                    edges.append(Edge(child, parent, "near", jac, c_child, c_parent))
                continue
            relation = "prefix" if at_start else "suffix" if at_end else "inner"
            edges.append(Edge(child, parent, relation, jac, c_child, c_parent))
        elif jac >= cfg.near_threshold:
            edges.append(Edge(child, parent, "near", jac, c_child, c_parent))
    return edges


_RELATION_RANK = {"exact": 0, "near": 1, "prefix": 2, "suffix": 2, "inner": 2}


def _assign(n: int, edges: list[Edge], prio: np.ndarray) -> dict[int, Edge]:
    """Greedy in canonical order: a row is flagged by its best edge to a row that stays kept."""
    by_child: dict[int, list[Edge]] = {}
    for e in edges:
        by_child.setdefault(e.child, []).append(e)
    flagged: dict[int, Edge] = {}
    for child in sorted(by_child, key=lambda r: prio[r]):
        live = [e for e in by_child[child] if e.parent not in flagged]
        if not live:
            continue
        flagged[child] = min(
            live, key=lambda e: (_RELATION_RANK[e.relation], -e.containment, -e.similarity, prio[e.parent])
        )
    return flagged


def _reason(e: Edge, parent_id: str, cfg: DedupConfig, unit: int) -> str:
    relation, sim, cont = e.relation, e.similarity, e.containment
    n = shingle_width(int(unit), cfg)
    shingle = f"{n}-word" if unit == UNIT_WORD else f"{n}-character"
    if relation == "exact":
        return f"exact repeat of {parent_id} (same dedup key)"
    if relation == "near":
        return (
            f"near duplicate of {parent_id}: Jaccard {sim:.2f} of {shingle} shingles "
            f"(containment {cont:.0%} / {e.coverage:.0%})"
        )
    where = {
        "prefix": "the beginning",
        "suffix": "the end",
        "inner": "a middle part",
    }[relation]
    return (
        f"truncated copy ({where}) of the longer {parent_id}: {cont:.0%} of its {shingle} shingles "
        f"are in it, it covers {e.coverage:.0%} of that paragraph (Jaccard {sim:.2f})"
    )


def dedup_reduce(index_paths: Sequence[str | Path], cfg: DedupConfig) -> pa.Table:
    """Decisions (schema :data:`DECISION_SCHEMA`) for every paragraph of the given index files.

    Columns: ``id, status, relation, duplicate_of, cluster_id, similarity,
    containment`` as in ``cleaning.schema.PARAGRAPHS``, plus ``rule`` (the named
    rule behind a flag), ``reason`` (human explanation), ``article_id``,
    ``source_path`` and ``key_chars``. Rows are sorted by id. A paragraph id
    present in several files (an earlier run indexed the same input) appears
    once. File order does not matter; the same files always give the same
    decisions. Status ``duplicate`` goes with relation ``exact``/``near``,
    ``truncated`` with ``prefix``/``suffix``/``inner``.
    """
    table, paths = _load(index_paths, cfg)
    n = len(table)
    if n == 0:
        return DECISION_SCHEMA.empty_table()
    prio = _priority(table)
    tokens = table.column("key_tokens").to_numpy().astype(np.int64)
    units = table.column("unit").to_numpy().astype(np.int8)
    key_hash = table.column("key_hash").to_numpy().astype(np.uint64)
    key_chars = table.column("key_chars").to_numpy().astype(np.int64)

    # exact groups (key hash and length must agree); empty keys never group
    order = np.lexsort((prio, key_chars, key_hash))
    kh, kc = key_hash[order], key_chars[order]
    new = np.ones(n, dtype=bool)
    new[1:] = (kh[1:] != kh[:-1]) | (kc[1:] != kc[:-1])
    group_head = order[np.flatnonzero(new)[np.cumsum(new) - 1]]
    representative = np.empty(n, dtype=np.int64)
    representative[order] = group_head
    representative[key_chars == 0] = np.flatnonzero(key_chars == 0)
    rep = representative == np.arange(n)

    pairs = _candidates(table, rep, prio, cfg)
    pairs = _screen(pairs, _sketches(table.column("sketch")), tokens, units, cfg)
    # the signatures are done with: keep only what verification and the output need
    table = table.select(["id", "article_id", "source_path", "key_chars", "_file", "_row"])
    cand_rows = np.unique(pairs.reshape(-1)) if len(pairs) else np.empty(0, np.int64)
    dup_members = np.flatnonzero(~rep)
    keys = _read_keys(table, cand_rows, paths)
    edges: list[Edge] = []
    for block in _pair_blocks(pairs, key_chars):
        # shingle sets cost ~50 bytes per shingle in Python: build them one block at a time
        sh = _Shingles(np.unique(block.reshape(-1)), keys, units, cfg)
        edges.extend(_verify(block, keys, sh, tokens, units, cfg))
        del sh
    flagged = _assign(n, edges, prio)

    ids = table.column("id").to_pylist()
    status = [STATUS_KEPT] * n
    relation: list[str | None] = [None] * n
    dup_of: list[str | None] = [None] * n
    cluster: list[str | None] = [None] * n
    sim: list[float | None] = [None] * n
    cont: list[float | None] = [None] * n
    rule: list[str | None] = [None] * n
    reason: list[str | None] = [None] * n

    def flag(row: int, e: Edge, parent: int, text: str) -> None:
        status[row] = STATUS_DUPLICATE if e.relation in ("exact", "near") else STATUS_TRUNCATED
        relation[row] = e.relation
        dup_of[row] = ids[parent]
        cluster[row] = ids[parent]
        cluster[parent] = ids[parent]
        sim[row] = e.similarity
        cont[row] = e.containment
        rule[row] = RULE_BY_RELATION[e.relation]
        reason[row] = text

    for child, e in flagged.items():
        flag(child, e, e.parent, _reason(e, ids[e.parent], cfg, units[child]))
    for row in dup_members.tolist():
        head = int(representative[row])
        if head in flagged:
            e = flagged[head]
            text = f"exact repeat of {ids[head]}, which is a " + _reason(e, ids[e.parent], cfg, units[row])
            flag(row, e, e.parent, text)
        else:
            e = Edge(row, head, "exact", 1.0, 1.0)
            flag(row, e, head, _reason(e, ids[head], cfg, units[row]))

    return pa.table(
        {
            "id": pa.array(ids, pa.string()),
            "status": pa.array(status, pa.string()),
            "relation": pa.array(relation, pa.string()),
            "duplicate_of": pa.array(dup_of, pa.string()),
            "cluster_id": pa.array(cluster, pa.string()),
            "similarity": pa.array(sim, pa.float32()),
            "containment": pa.array(cont, pa.float32()),
            "rule": pa.array(rule, pa.string()),
            "reason": pa.array(reason, pa.string()),
            "article_id": table.column("article_id"),
            "source_path": table.column("source_path"),
            "key_chars": table.column("key_chars").cast(pa.int32()),
        },
        schema=DECISION_SCHEMA,
    )
