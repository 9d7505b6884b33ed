"""Settings of the dedup stage: every threshold is a named, documented field."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Bumped whenever the index columns or their meaning change (part of the fingerprint).
INDEX_FORMAT = 2
# Settings that change what ``dedup_map`` writes into the index. Index files
# written with different values cannot be compared, so the reduce checks them.
INDEX_FIELDS: tuple[str, ...] = (
    "unit",
    "latin_unit",
    "char_ngram",
    "word_ngram",
    "latin_char_ngram",
    "fold_traditional",
    "casefold",
    "num_perm",
    "bands",
    "rows",
    "seed",
    "min_signature_tokens",
    "anchor_window_chars",
    "anchor_window_words",
    "anchor_window_latin_chars",
    "anchor_sample",
    "max_anchors",
)


class DedupConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # --- the dedup key -------------------------------------------------------
    unit: Literal["auto", "char", "word", "jieba"] = Field(
        "auto",
        description="Shingle unit. 'auto': character n-grams for text that is mostly CJK, word n-grams "
        "for space-separated text; 'char' / 'word' force one; 'jieba' uses jieba word n-grams for CJK "
        "text (slow: segments every paragraph).",
    )
    char_ngram: int = Field(
        3,
        ge=1,
        le=8,
        description="n of character n-gram shingles for CJK keys (3 chosen by measurement, see "
        "docs/dedup.md: 2 is too unspecific for containment, 4-5 lose recall under OCR noise).",
    )
    word_ngram: int = Field(
        2,
        ge=1,
        le=8,
        description="n of word n-gram shingles for space-separated keys (and jieba words).",
    )
    latin_unit: Literal["word", "char"] = Field(
        "word",
        description="Shingles of space-separated (non-CJK) text in 'auto' mode: word n-grams, or "
        "character n-grams of the key with spaces dropped ('char': more robust to OCR noise that "
        "splits, joins and garbles words; measured in docs/dedup.md).",
    )
    latin_char_ngram: int = Field(
        5, ge=2, le=12, description="n of character n-grams for space-separated text when latin_unit='char'."
    )
    fold_traditional: bool = Field(
        False,
        description="Fold Traditional to Simplified characters in the key (cleaning.lang.fold_traditional), "
        "so a Traditional and a Simplified copy of one text count as duplicates.",
    )
    casefold: bool = Field(True, description="Case-fold the key (Latin script), so case changes are ignored.")

    # --- MinHash / LSH -------------------------------------------------------
    num_perm: int = Field(
        128, ge=8, le=1024, description="MinHash permutations (signature length), datasketch 'affine32'."
    )
    bands: int = Field(16, ge=1, description="LSH bands; bands * rows must equal num_perm.")
    rows: int = Field(
        8,
        ge=1,
        description="LSH rows per band. 16x8 puts the S-curve midpoint near Jaccard 0.7: near duplicates "
        "below that are found through shared anchors instead, and 32x4 (midpoint 0.38) found no more "
        "on the labelled sets while proposing several times more candidates to verify.",
    )
    seed: int = Field(1, description="Seed of the MinHash permutations (datasketch's default is 1).")
    min_signature_tokens: int = Field(
        8,
        ge=1,
        description="Keys shorter than this many tokens (characters for CJK, words otherwise) get no "
        "MinHash signature: they are matched by their exact key only (short lines, headlines).",
    )

    # --- candidates for fragments (containment) -----------------------------
    anchor_window_chars: int = Field(
        8,
        ge=2,
        description="Length in characters of the anchor windows (CJK keys) used to find short fragments "
        "of long paragraphs, whose Jaccard with the full copy is too low for LSH. The first and the "
        "last window of every key are also indexed (prefix / suffix candidates).",
    )
    anchor_window_words: int = Field(4, ge=1, description="Anchor window length in words (word keys).")
    anchor_window_latin_chars: int = Field(
        20, ge=2, description="Anchor window length in characters for latin_unit='char' keys."
    )
    anchor_sample: int = Field(
        4,
        ge=1,
        description="Keep about 1 in this many windows as anchors (content-defined, by hash), so both "
        "copies of a shared passage pick the same windows.",
    )
    max_anchors: int = Field(
        64,
        ge=0,
        description="About this many anchors at most per paragraph (windows whose hash is below a "
        "limit that falls with the key's length: a consistent sample), so the index grows with the "
        "number of paragraphs, not their length. 0 turns anchors off.",
    )
    min_shared_anchors: int = Field(
        2,
        ge=1,
        description="Two paragraphs become candidates through anchors only when they share at least this "
        "many (or all anchors of the one that has fewer): one shared 8-character window is too often "
        "a stock phrase.",
    )
    max_bucket: int = Field(
        64,
        ge=2,
        description="Anchor and head/tail buckets with more paragraphs than this are shared boilerplate "
        "and produce no candidates (LSH band buckets are never skipped).",
    )
    bucket_heads: int = Field(
        3,
        ge=1,
        description="Each paragraph in a bucket becomes a candidate of the bucket's first this-many "
        "paragraphs in canonical order (longest, earliest): a star, not all pairs.",
    )

    # --- verification and typing --------------------------------------------
    near_threshold: float = Field(
        0.6,
        gt=0.0,
        le=1.0,
        description="Jaccard of the shingle sets at or above which two paragraphs are near duplicates "
        "(0.6: best cluster ARI on the labelled sets of benchmarks/dedup_eval.py; OCR noise of 3% "
        "already brings character 3-gram Jaccard down to about 0.7).",
    )
    containment_threshold: float = Field(
        0.8,
        gt=0.0,
        le=1.0,
        description="Share of the shorter paragraph's shingles found in the longer one at or above which "
        "the shorter one is a truncated copy (prefix, suffix or inner part).",
    )
    truncation_min_missing: float = Field(
        0.08,
        ge=0.0,
        le=1.0,
        description="A contained copy is 'truncated' (not a near duplicate) only when its key is shorter "
        "than the longer copy's by at least this share of tokens; OCR drops shorten a near copy by "
        "a few percent only.",
    )
    min_fragment_tokens: int = Field(
        20,
        ge=1,
        description="A shorter paragraph is flagged as a truncated copy only when its key has at least "
        "this many tokens: shorter ones (headlines, kickers, formulae) often quote a phrase of a body "
        "paragraph without being a copy of it (the seed's kicker, 16 characters, is one).",
    )
    end_slack: float = Field(
        0.03,
        ge=0.0,
        le=0.5,
        description="A fragment counts as prefix (suffix) when its match starts (ends) within this share "
        "of the longer key (at least one shingle) from its start (end); otherwise it is an inner part.",
    )

    # --- article level ------------------------------------------------------
    article_threshold: float = Field(
        0.8,
        gt=0.0,
        le=1.0,
        description="An article is a reprint of another when at least this share of its key characters "
        "lies in paragraphs that share a duplicate cluster with that other article's paragraphs.",
    )
    min_article_chars: int = Field(
        60,
        ge=1,
        description="Articles with fewer key characters than this are never flagged at article level.",
    )

    @model_validator(mode="after")
    def _bands_fit(self) -> DedupConfig:
        if self.bands * self.rows != self.num_perm:
            raise ValueError(f"bands * rows ({self.bands}*{self.rows}) must equal num_perm ({self.num_perm})")
        return self

    def index_fingerprint(self) -> str:
        """Hash of the settings that shape the index files (equal hash: comparable indexes)."""
        data = {k: getattr(self, k) for k in INDEX_FIELDS} | {"index_format": INDEX_FORMAT}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
