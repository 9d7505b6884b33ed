"""Article level: an article whose paragraphs repeat another article's (a reprint)."""

from __future__ import annotations

from collections import defaultdict

import pyarrow as pa

from cleaning.dedup.config import DedupConfig
from cleaning.schema import ARTICLE_DECISION_SCHEMA, STATUS_DUPLICATE, STATUS_KEPT, STATUS_TRUNCATED


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
    art_ids = articles.column("id").to_pylist()
    known = set(art_ids)
    src = dict(zip(art_ids, articles.column("source_path").to_pylist(), strict=True))
    pos = dict(zip(art_ids, articles.column("position").to_pylist(), strict=True))

    total: dict[str, int] = defaultdict(int)
    members: dict[str, list[tuple[str, int]]] = defaultdict(list)  # cluster -> (article, chars)
    para_rows = zip(
        paragraph_decisions.column("article_id").to_pylist(),
        paragraph_decisions.column("cluster_id").to_pylist(),
        paragraph_decisions.column("key_chars").to_pylist(),
        strict=True,
    )
    for aid, cid, chars in para_rows:
        if aid not in known:
            continue
        total[aid] += chars
        if cid is not None:
            members[cid].append((aid, chars))

    # covered[A][B]: A's key characters in clusters that B also has a paragraph in
    covered: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for group in members.values():
        arts = {a for a, _ in group}
        if len(arts) < 2 or len(arts) > cfg.max_bucket:
            continue
        for a, chars in group:
            for b in arts:
                if b != a:
                    covered[a][b] += chars

    def share(a: str, b: str) -> float:
        return covered[a].get(b, 0) / total[a] if total[a] else 0.0

    order = sorted(art_ids, key=lambda a: (-total.get(a, 0), src[a], pos[a], a))
    rank = {a: i for i, a in enumerate(order)}
    flagged: dict[str, tuple[str, float, str]] = {}
    for a in order:
        if total.get(a, 0) < cfg.min_article_chars or a not in covered:
            continue
        best: tuple[float, int, str] | None = None
        for b in covered[a]:
            if b in flagged or rank[b] > rank[a]:
                continue
            s = share(a, b)
            if s >= cfg.article_threshold and (best is None or (-s, rank[b]) < (-best[0], best[1])):
                best = (s, rank[b], b)
        if best is not None:
            s, _, b = best
            relation = "near" if share(b, a) >= cfg.article_threshold else "inner"
            flagged[a] = (b, s, relation)

    status, relation, dup_of, sim, rule, reason = [], [], [], [], [], []
    for a in art_ids:
        if a in flagged:
            b, s, rel = flagged[a]
            status.append(STATUS_DUPLICATE if rel == "near" else STATUS_TRUNCATED)
            relation.append(rel)
            dup_of.append(b)
            sim.append(s)
            rule.append("dedup.article_reprint")
            what = "a reprint of" if rel == "near" else "a shortened reprint of"
            reason.append(f"{what} article {b}: {s:.0%} of its text repeats that article's paragraphs")
        else:
            status.append(STATUS_KEPT)
            relation.append(None)
            dup_of.append(None)
            sim.append(None)
            rule.append(None)
            reason.append(None)
    return pa.table(
        {
            "id": pa.array(art_ids, pa.string()),
            "status": status,
            "relation": pa.array(relation, pa.string()),
            "duplicate_of": pa.array(dup_of, pa.string()),
            "similarity": pa.array(sim, pa.float32()),
            "rule": pa.array(rule, pa.string()),
            "reason": pa.array(reason, pa.string()),
        },
        schema=ARTICLE_DECISION_SCHEMA,
    )
