"""Article level: an article whose paragraphs repeat another article's (a reprint)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cleaning.dedup.config import DedupConfig
from cleaning.schema import ARTICLE_DECISION_SCHEMA, STATUS_DUPLICATE, STATUS_KEPT, STATUS_TRUNCATED

# Pair entries (article, article, characters) expanded at once from the clusters; the
# run's clusters are worked through in slices of about this many entries.
_PAIR_CHUNK = 2_000_000
_RULE = "dedup.article_reprint"


def article_decisions(articles: pa.Table, paragraph_decisions: pa.Table, cfg: DedupConfig) -> pa.Table:
    """Article-level decisions (schema :data:`ARTICLE_DECISION_SCHEMA`), one row per article.

    Inputs:

    - ``articles``: ``id, source_path, position`` (the article's position in its
      source); other columns are ignored. Every article gets a row, in input order.
    - ``paragraph_decisions``: the table :func:`dedup_reduce` returns (its
      ``article_id``, ``cluster_id`` and ``key_chars`` columns are used), for all
      paragraphs of these articles; paragraphs of articles not listed are ignored.

    Article A is a reprint of article B when at least ``article_threshold`` of
    A's key characters lie in paragraphs that share a duplicate cluster with a
    paragraph of B. Articles are decided greedily in canonical order (most key
    characters, then earliest ``(source_path, position)``), and only against
    articles that stay kept. Relation ``near`` (status ``duplicate``) when B is
    covered by A as well, ``inner`` (status ``truncated``) when A is only a part
    of B; ``similarity`` is the covered share of A. Paragraph-level decisions are
    not changed.
    """
    cluster = paragraph_decisions.column("cluster_id")
    codes = pc.dictionary_encode(
        cluster.combine_chunks() if isinstance(cluster, pa.ChunkedArray) else cluster
    )
    para_cluster = pc.fill_null(codes.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return article_reprints(
        articles,
        paragraph_decisions.column("article_id"),
        para_cluster,
        paragraph_decisions.column("key_chars").to_numpy().astype(np.int64),
        cfg,
    )


def article_reprints(
    articles: pa.Table,
    para_article: pa.Array | pa.ChunkedArray,
    para_cluster: np.ndarray,
    para_chars: np.ndarray,
    cfg: DedupConfig,
) -> pa.Table:
    """:func:`article_decisions` from per-paragraph arrays: article id, cluster number, key characters.

    ``para_cluster`` numbers each paragraph's duplicate cluster (any numbering,
    -1: in none). Works on arrays and sorts, with Python objects only for the
    flagged articles' rows, so a run of millions of paragraphs stays compact.
    """
    art_ids = articles.column("id")
    art_ids = art_ids.combine_chunks() if isinstance(art_ids, pa.ChunkedArray) else art_ids
    n_art = len(art_ids)
    if n_art == 0:
        return ARTICLE_DECISION_SCHEMA.empty_table()
    # an article listed twice is decided once, as its first row
    first = pc.index_in(art_ids, value_set=art_ids).to_numpy(zero_copy_only=False).astype(np.int64)
    # 32-bit numbers where they fit: these arrays have one entry per paragraph
    small = np.int32 if max(n_art, len(para_cluster)) < 2**31 else np.int64
    article = _article_numbers(para_article, art_ids).astype(small)
    known = article >= 0
    article, cluster, chars = article[known], para_cluster[known].astype(small), para_chars[known]
    total = np.bincount(article, weights=chars, minlength=n_art).astype(np.int64)

    a, b, covered = _covered_pairs(article, cluster, chars, total, cfg)

    rank = np.empty(n_art, dtype=np.int64)
    rank[_canonical_order(articles, total)] = np.arange(n_art, dtype=np.int64)
    eligible = (total[a] >= cfg.min_article_chars) & (rank[b] < rank[a])
    ca, cb, cc = a[eligible], b[eligible], covered[eligible]
    # a's candidates, best first: largest share (same denominator: most characters), then earliest b
    order = np.lexsort((rank[cb], -cc, rank[ca]))
    parent = np.full(n_art, -1, dtype=np.int64)
    cover = np.zeros(n_art, dtype=np.int64)
    # a parent ranks before its reprint: its fate is settled when the reprint's turn comes
    flagged = bytearray(n_art)
    for x, y, c in zip(ca[order].tolist(), cb[order].tolist(), cc[order].tolist(), strict=True):
        if flagged[x] or flagged[y]:
            continue
        flagged[x] = 1
        parent[x] = y
        cover[x] = c

    # relation: near when the parent is covered by the reprint as well
    pair_code = a * n_art + b  # sorted: _covered_pairs returns pairs in (a, b) order
    rows = np.flatnonzero(parent >= 0)
    back = np.zeros(len(rows), dtype=np.int64)
    if len(rows):
        want = parent[rows] * n_art + rows
        at = np.minimum(np.searchsorted(pair_code, want), len(pair_code) - 1)
        back = np.where(pair_code[at] == want, covered[at], 0)
    status = np.zeros(n_art, dtype=np.int8)
    relation = np.zeros(n_art, dtype=np.int8)
    sim = np.zeros(n_art, dtype=np.float64)
    reason_texts: list[str] = []
    parent_ids = art_ids.take(pa.array(parent[rows])).to_pylist() if len(rows) else []
    for r, p, c, bc, pid in zip(
        rows.tolist(), parent[rows].tolist(), cover[rows].tolist(), back.tolist(), parent_ids, strict=True
    ):
        s = c / int(total[r])
        near = (bc / int(total[p]) if total[p] else 0.0) >= cfg.article_threshold
        status[r] = 1 if near else 2
        relation[r] = 1 if near else 2
        sim[r] = s
        what = "a reprint of" if near else "a shortened reprint of"
        reason_texts.append(f"{what} article {pid}: {s:.0%} of its text repeats that article's paragraphs")
    reason_at = np.full(n_art, -1, dtype=np.int64)
    reason_at[rows] = np.arange(len(rows), dtype=np.int64)

    # every listed row takes the decision of its id's first row
    status, relation, sim, parent, reason_at = (x[first] for x in (status, relation, sim, parent, reason_at))
    is_flagged = status > 0
    names = pa.array([STATUS_KEPT, STATUS_DUPLICATE, STATUS_TRUNCATED], pa.string())
    relations = pa.array([None, "near", "inner"], pa.string())
    return pa.table(
        {
            "id": art_ids,
            "status": names.take(pa.array(status.astype(np.int64))),
            "relation": relations.take(pa.array(relation.astype(np.int64))),
            "duplicate_of": art_ids.take(pa.array(parent, mask=~is_flagged)),
            "similarity": pa.array(sim.astype(np.float32), mask=~is_flagged),
            # the rule's name made here, not at import: pyarrow imports pandas (~0.3 s) on the
            # first pa.array of a process, and importing the library should not pay for that
            "rule": pa.array([_RULE], pa.string()).take(
                pa.array(np.zeros(n_art, dtype=np.int64), mask=~is_flagged)
            ),
            "reason": pa.array(reason_texts, pa.string()).take(pa.array(reason_at, mask=reason_at < 0)),
        },
        schema=ARTICLE_DECISION_SCHEMA,
    )


def _article_numbers(para_article: pa.Array | pa.ChunkedArray, art_ids: pa.Array) -> np.ndarray:
    """Each paragraph's article as a row of ``art_ids`` (-1: not listed); dictionary-encoded
    columns are looked up once per distinct value."""
    chunks = para_article.chunks if isinstance(para_article, pa.ChunkedArray) else [para_article]
    if not chunks:
        return np.empty(0, np.int64)
    out: list[np.ndarray] = []
    for chunk in chunks:
        if pa.types.is_dictionary(chunk.type):
            found = pc.fill_null(pc.index_in(chunk.dictionary, value_set=art_ids), -1)
            codes = chunk.indices.to_numpy(zero_copy_only=False)
            out.append(found.to_numpy(zero_copy_only=False).astype(np.int64)[codes])
        else:
            found = pc.fill_null(pc.index_in(chunk.cast(art_ids.type), value_set=art_ids), -1)
            out.append(found.to_numpy(zero_copy_only=False).astype(np.int64))
    return np.concatenate(out)


def _canonical_order(articles: pa.Table, total: np.ndarray) -> np.ndarray:
    """Articles in canonical order: most key characters, then earliest (source_path, position), id."""
    table = pa.table(
        {
            "neg_total": -total,
            "source_path": articles.column("source_path"),
            "position": articles.column("position"),
            "id": articles.column("id"),
        }
    )
    keys = [(c, "ascending") for c in table.column_names]
    return pc.sort_indices(table, keys).to_numpy()


def _covered_pairs(
    article: np.ndarray, cluster: np.ndarray, chars: np.ndarray, total: np.ndarray, cfg: DedupConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(a, b, covered)`` sorted by ``(a, b)``, for the pairs where b covers at least
    ``article_threshold`` of a: ``covered`` is a's key characters in clusters where b
    has a paragraph too.

    Clusters with fewer than 2 or more than ``max_bucket`` distinct articles are
    left out (boilerplate repeated everywhere says nothing about reprints). Pairs
    are expanded for a range of articles at a time (all pairs of an article in
    one range, so each range's sums are final) and only those reaching the
    threshold are kept.
    """
    empty = np.empty(0, np.int64)
    n_art = len(total)
    inside = cluster >= 0
    if not inside.any():
        return empty, empty, empty
    article, cluster, chars = article[inside], cluster[inside], chars[inside]
    # one entry per (cluster, article): the article's characters in that cluster
    order = np.lexsort((article, cluster))
    cl, ar = cluster[order], article[order]
    new = np.ones(len(cl), dtype=bool)
    new[1:] = (cl[1:] != cl[:-1]) | (ar[1:] != ar[:-1])
    starts = np.flatnonzero(new)
    e_cluster, e_article = cl[starts], ar[starts]
    e_chars = np.add.reduceat(chars[order], starts)
    del order, cl, ar, new, starts
    # distinct articles per cluster; entries of clusters of a useful size only
    new = np.ones(len(e_cluster), dtype=bool)
    new[1:] = e_cluster[1:] != e_cluster[:-1]
    c_start = np.flatnonzero(new)
    c_size = np.diff(np.append(c_start, len(e_cluster)))
    ok = np.repeat((c_size >= 2) & (c_size <= cfg.max_bucket), c_size)
    e_start, e_size = (
        np.repeat(c_start.astype(article.dtype), c_size),
        np.repeat(c_size.astype(article.dtype), c_size),
    )
    e_cluster, e_article, e_chars = e_cluster[ok], e_article[ok], e_chars[ok]
    e_start, e_size = e_start[ok], e_size[ok]
    # whole clusters were dropped: a start moves back by the entries dropped before it
    e_start = e_start - np.cumsum(~ok)[e_start]
    del ok, c_start, c_size
    # entries by article, cut into article ranges of about _PAIR_CHUNK pairs
    by_article = np.argsort(e_article, kind="stable")
    sorted_article = e_article[by_article]
    cum = np.cumsum(e_size[by_article] - 1)
    codes: list[np.ndarray] = []
    sums: list[np.ndarray] = []
    lo = 0
    while lo < len(by_article):
        base = int(cum[lo - 1]) if lo else 0
        hi = max(lo + 1, int(np.searchsorted(cum, base + _PAIR_CHUNK, side="right")))
        # never split an article's entries
        hi = int(np.searchsorted(sorted_article, sorted_article[hi - 1], side="right"))
        src = by_article[lo:hi]
        lo = hi
        times = e_size[src]
        j = np.repeat(e_start[src], times) + _local(times)
        src = np.repeat(src, times)
        keep = src != j
        src, j = src[keep], j[keep]
        a = e_article[src].astype(np.int64)
        code, covered = _sum_by(a * n_art + e_article[j], e_chars[src])
        a = code // n_art
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(total[a] > 0, covered / total[a], 0.0)
        enough = share >= cfg.article_threshold
        codes.append(code[enough])
        sums.append(covered[enough])
    if not codes:
        return empty, empty, empty
    code, covered = np.concatenate(codes), np.concatenate(sums)
    return code // n_art, code % n_art, covered


def _local(counts: np.ndarray) -> np.ndarray:
    """For groups of the given sizes laid end to end: each element's index inside its group."""
    starts = np.cumsum(counts) - counts
    return np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(starts, counts)


def _sum_by(code: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct codes (sorted) and the sum of the values of each."""
    if not len(code):
        return code, value
    order = np.argsort(code, kind="stable")
    code = code[order]
    new = np.ones(len(code), dtype=bool)
    new[1:] = code[1:] != code[:-1]
    starts = np.flatnonzero(new)
    return code[starts], np.add.reduceat(value[order], starts)
