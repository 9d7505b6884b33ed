"""Every Parquet schema presswash writes, in one place.

Public tables (under the output directory, documented column by column in the
README): ``articles``, ``paragraphs``, ``rejects``. Internal tables (under
``<out>/.presswash/``, not part of the contract): the pre-dedup shard units and
the dedup signature index.

Any change to a public schema bumps :data:`SCHEMA_VERSION`, which every file
carries in its key-value metadata (``presswash.schema_version``).
"""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = "1"
METADATA_VERSION_KEY = b"presswash.schema_version"
METADATA_TABLE_KEY = b"presswash.table"

BYLINE_TYPE = pa.struct([("role", pa.string()), ("name", pa.string())])

# Status values of a paragraph or article. ``kept`` rows form the clean corpus;
# the others stay in the table, flagged, with ``duplicate_of`` set.
STATUS_KEPT = "kept"
STATUS_DUPLICATE = "duplicate"
STATUS_TRUNCATED = "truncated"
STATUSES = (STATUS_KEPT, STATUS_DUPLICATE, STATUS_TRUNCATED)

# Relation of a flagged unit to the copy it repeats.
RELATIONS = ("exact", "near", "prefix", "suffix", "inner")


def _schema(name: str, fields: list[pa.Field]) -> pa.Schema:
    return pa.schema(
        fields,
        metadata={METADATA_VERSION_KEY: SCHEMA_VERSION.encode(), METADATA_TABLE_KEY: name.encode()},
    )


# The dedup outcome of a paragraph and of an article: columns of the public tables that the
# reduce's decision files carry and finalize copies over (flows.steps._apply_decisions).
PARAGRAPH_DEDUP_FIELDS = [
    pa.field("status", pa.string(), nullable=False),
    pa.field("relation", pa.string()),
    pa.field("duplicate_of", pa.string()),
    pa.field("cluster_id", pa.string()),
    pa.field("similarity", pa.float32()),
    pa.field("containment", pa.float32()),
]
ARTICLE_DEDUP_FIELDS = [
    pa.field("status", pa.string(), nullable=False),
    pa.field("relation", pa.string()),
    pa.field("duplicate_of", pa.string()),
    pa.field("similarity", pa.float32()),
]

ARTICLES = _schema(
    "articles",
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("source_path", pa.string(), nullable=False),
        pa.field("source_sha256", pa.string(), nullable=False),
        pa.field("position", pa.int32(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("headline", pa.list_(pa.string())),
        pa.field("title", pa.string()),
        pa.field("kicker", pa.string()),
        pa.field("subtitle", pa.string()),
        pa.field("lead", pa.string()),
        pa.field("byline", pa.list_(BYLINE_TYPE)),
        pa.field("byline_text", pa.string()),
        pa.field("text", pa.string(), nullable=False),
        pa.field("paragraph_count", pa.int32(), nullable=False),
        pa.field("paragraphs_kept", pa.int32(), nullable=False),
        pa.field("char_count", pa.int32(), nullable=False),
        pa.field("lang", pa.string()),
        pa.field("text_simplified", pa.string()),
        *ARTICLE_DEDUP_FIELDS,
        pa.field("source_line_start", pa.int32(), nullable=False),
        pa.field("source_line_end", pa.int32(), nullable=False),
        pa.field("encoding", pa.string(), nullable=False),
        pa.field("decode_method", pa.string(), nullable=False),
        pa.field("decode_confidence", pa.float32(), nullable=False),
        pa.field("other_encoding_lines", pa.int32(), nullable=False),
        pa.field("replacement_chars", pa.int32(), nullable=False),
        pa.field("damage_count", pa.int32(), nullable=False),
        pa.field("rules", pa.list_(pa.string())),
        pa.field("metadata", pa.string()),
    ],
)

PARAGRAPHS = _schema(
    "paragraphs",
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("source_path", pa.string(), nullable=False),
        pa.field("position", pa.int32(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("char_count", pa.int32(), nullable=False),
        *PARAGRAPH_DEDUP_FIELDS,
        pa.field("source_line_start", pa.int32(), nullable=False),
        pa.field("source_line_end", pa.int32(), nullable=False),
        pa.field("joins", pa.list_(pa.string())),
        pa.field("rules", pa.list_(pa.string())),
        pa.field("damage_count", pa.int32(), nullable=False),
    ],
)

REJECTS = _schema(
    "rejects",
    [
        pa.field("source_path", pa.string(), nullable=False),
        pa.field("source_sha256", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string(), nullable=False),
        pa.field("size_bytes", pa.int64()),
    ],
)

PUBLIC_TABLES: dict[str, pa.Schema] = {
    "articles": ARTICLES,
    "paragraphs": PARAGRAPHS,
    "rejects": REJECTS,
}


def empty_table(schema: pa.Schema) -> pa.Table:
    return schema.empty_table()


def table_from_rows(rows: list[dict], schema: pa.Schema) -> pa.Table:
    """Build a table in exactly ``schema`` (column order, types, metadata)."""
    if not rows:
        return schema.empty_table()
    return pa.Table.from_pylist(rows, schema=schema)


def _metadata_text(schema: pa.Schema, key: bytes) -> str | None:
    value = (schema.metadata or {}).get(key)
    return value.decode() if value is not None else None


def schema_version_of(schema: pa.Schema) -> str | None:
    return _metadata_text(schema, METADATA_VERSION_KEY)


def table_name(schema: pa.Schema) -> str | None:
    """The ``presswash.table`` name a schema of this module carries (None for others)."""
    return _metadata_text(schema, METADATA_TABLE_KEY)


# --- how tables are stored (applied by ``cleaning.parquet_io``) ---
# Columns stored without compression and without dictionary encoding, per table: they hold hash
# values, which are random, so zstd and a dictionary page gain nothing on them (the dedup index
# file grows by 2 %) and cost about half of the index write's CPU.
RAW_COLUMNS: dict[str, tuple[str, ...]] = {
    "dedup_index": ("key_hash", "bands", "anchors", "head", "tail", "sketch"),
}

# Columns whose values are (nearly) all distinct, in any table: ids, free text, dedup keys. A
# dictionary page hashes every value only to be abandoned at its size limit, and min/max
# statistics of such values let no reader skip a row group; both are left out, which makes the
# shard's paragraph writes about a fifth cheaper. Statistics are also left out of list columns
# (``rules``, ``joins``, ``headline``, ``byline``): their per-element min/max cost a third of
# those columns' write and answer no filter. The categorical and numeric columns keep both.
DISTINCT_COLUMNS = frozenset(
    {
        "id",
        "text",
        "text_simplified",
        "title",
        "kicker",
        "subtitle",
        "lead",
        "byline_text",
        "metadata",
        "source_sha256",
        "detail",
        "key",
    }
)

# Internal tables are written by one step of a run and read back by the next (and by reruns);
# they live under ``<out>/.presswash/``, not in the corpus. LZ4 writes them about 1.5x faster
# than zstd and reads them faster, at about 1.3x the size; the public tables keep the output's
# codec (``OutputConfig.compression``, zstd by default).
INTERNAL_COMPRESSION = "lz4"
INTERNAL_TABLES = frozenset(
    {"unit_articles", "unit_paragraphs", "unit_rejects", "dedup_index", "decisions", "article_decisions"}
)


# --- internal: dedup index ---
# One row per paragraph, written by ``cleaning.dedup.dedup_map`` to
# ``<out>/.presswash/index/<unit>.parquet`` and read back by ``dedup_reduce``
# (this run's files and earlier runs'). Not a public table. The file metadata
# also carries ``presswash.dedup_index`` (fingerprint of the index settings).
DEDUP_INDEX_KEY = b"presswash.dedup_index"
DEDUP_INDEX = _schema(
    "dedup_index",
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("source_path", pa.string(), nullable=False),
        pa.field("article_position", pa.int32(), nullable=False),
        pa.field("position", pa.int32(), nullable=False),
        # 0: character shingles (CJK), 1: word shingles
        pa.field("unit", pa.int8(), nullable=False),
        # the dedup key (verification recomputes shingles from it, for candidates only)
        pa.field("key", pa.string(), nullable=False),
        pa.field("key_chars", pa.int32(), nullable=False),
        pa.field("key_tokens", pa.int32(), nullable=False),
        pa.field("key_hash", pa.uint64(), nullable=False),
        # LSH band hashes (empty for keys too short for MinHash)
        pa.field("bands", pa.list_(pa.uint64()), nullable=False),
        # content-defined anchor windows (bottom-k sample), and first / last window (0: none)
        pa.field("anchors", pa.list_(pa.uint64()), nullable=False),
        pa.field("head", pa.uint64(), nullable=False),
        pa.field("tail", pa.uint64(), nullable=False),
        # low byte of the first 64 MinHash values (b-bit sketch) to screen candidates; null if none
        pa.field("sketch", pa.binary()),
    ],
)

# --- internal: the flow's pre-dedup unit tables (``<out>/.presswash/units/<unit>/``) ---
# The public schemas plus the columns the flow needs to replace or finalize a
# unit's rows: the input file (catalog key) a row came from, and the article's
# position in its source (a dedup sort key).
INPUT_COL = "_input"
ARTICLE_POS_COL = "_article_position"


def _with_internal(schema: pa.Schema, extra: list[pa.Field]) -> pa.Schema:
    """``schema`` with the unit's internal columns, named ``unit_<table>`` (an internal table)."""
    name = f"unit_{table_name(schema)}"
    return pa.schema([*schema, *extra], metadata={**schema.metadata, METADATA_TABLE_KEY: name.encode()})


# A unit's articles leave out ``text``: it is the article's paragraphs joined with line feeds, and
# the paragraphs are in the unit beside them. Finalize joins the kept ones (after dedup) into the
# public column, so the unit holds the shard's text once, not twice.
UNIT_ARTICLES = _with_internal(
    ARTICLES.remove(ARTICLES.get_field_index("text")), [pa.field(INPUT_COL, pa.string(), nullable=False)]
)
UNIT_PARAGRAPHS = _with_internal(
    PARAGRAPHS,
    [
        pa.field(INPUT_COL, pa.string(), nullable=False),
        pa.field(ARTICLE_POS_COL, pa.int32(), nullable=False),
    ],
)
UNIT_REJECTS = _with_internal(REJECTS, [pa.field(INPUT_COL, pa.string(), nullable=False)])
UNIT_SCHEMAS: dict[str, pa.Schema] = {
    "articles": UNIT_ARTICLES,
    "paragraphs": UNIT_PARAGRAPHS,
    "rejects": UNIT_REJECTS,
}


# Decisions of the dedup reduce, one row per paragraph (written per unit by the flow,
# applied to the paragraphs table by the finalize step).
DECISION_SCHEMA = _schema(
    "decisions",
    [
        pa.field("id", pa.string(), nullable=False),
        *PARAGRAPH_DEDUP_FIELDS,
        # the named rule that made the decision, and why (for ``presswash explain``)
        pa.field("rule", pa.string()),
        pa.field("reason", pa.string()),
        # carried over from the index, for article_decisions and the flow
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("source_path", pa.string(), nullable=False),
        pa.field("key_chars", pa.int32(), nullable=False),
    ],
)

# Article-level decisions (reprints), one row per article.
ARTICLE_DECISION_SCHEMA = _schema(
    "article_decisions",
    [
        pa.field("id", pa.string(), nullable=False),
        *ARTICLE_DEDUP_FIELDS,
        pa.field("rule", pa.string()),
        pa.field("reason", pa.string()),
    ],
)
