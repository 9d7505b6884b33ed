"""Stage 7, dedup: exact, near-duplicate and truncated paragraphs, and reprinted articles.

Map/reduce, so it scales past one machine's memory and works across runs:

- :func:`dedup_map` (one call per shard, in a worker): paragraphs in, index
  rows out (dedup key, exact-key hash, LSH band hashes, anchors), written by
  the flow to ``<out>/.presswash/index/<unit>.parquet``.
- :func:`dedup_reduce` (one call per run): this run's and earlier runs' index
  files in, one decision per paragraph out (:func:`reduce_index`: the same
  decisions held compactly, written a batch at a time).
- :func:`article_decisions`: article-level reprints from the paragraph decisions.

Nothing is deleted: flagged rows keep their text and point at the kept copy.
"""

from __future__ import annotations

from cleaning.dedup.article import ARTICLE_DECISION_SCHEMA, article_decisions, article_reprints
from cleaning.dedup.config import DedupConfig
from cleaning.dedup.index import dedup_map, index_schema
from cleaning.dedup.key import dedup_key, key_and_unit
from cleaning.dedup.lsh import expected_error_rates
from cleaning.dedup.reduce import DECISION_SCHEMA, IndexMismatch, Reduced, dedup_reduce, reduce_index
from cleaning.rules import register

STAGE = "dedup"

register(
    "dedup.key",
    STAGE,
    "Dedup key: NFKC width fold, case fold, optional Traditional→Simplified fold; punctuation, "
    "symbols and whitespace removed (one space kept between words of space-separated text); digits kept.",
    case_fn=dedup_key,
)
register("dedup.exact", STAGE, "Paragraph with the same dedup key as a kept one: duplicate (exact).")
register(
    "dedup.near",
    STAGE,
    "Paragraph whose shingle set has Jaccard >= near_threshold with a longer or earlier kept one: "
    "duplicate (near).",
)
register(
    "dedup.truncated_prefix",
    STAGE,
    "Paragraph contained in a longer kept one (containment >= containment_threshold) that matches its "
    "beginning: truncated (prefix).",
)
register(
    "dedup.truncated_suffix",
    STAGE,
    "Paragraph contained in a longer kept one that matches its end: truncated (suffix).",
)
register(
    "dedup.truncated_inner",
    STAGE,
    "Paragraph contained in a longer kept one that matches a middle part of it: truncated (inner).",
)
register(
    "dedup.article_reprint",
    STAGE,
    "Article whose paragraphs (nearly) all repeat another kept article's paragraphs: flagged at "
    "article level with duplicate_of.",
)

__all__ = [
    "ARTICLE_DECISION_SCHEMA",
    "DECISION_SCHEMA",
    "DedupConfig",
    "IndexMismatch",
    "Reduced",
    "article_decisions",
    "article_reprints",
    "dedup_key",
    "dedup_map",
    "dedup_reduce",
    "expected_error_rates",
    "index_schema",
    "key_and_unit",
    "reduce_index",
]
