"""One document through every per-document stage, and its output rows.

This is the code path shared by the Prefect flow (one task per shard calls
:func:`process_document` for each document of the shard) and by
``presswash explain`` (one file, no Prefect). Dedup is not here: it needs the
whole run's paragraphs and runs as map/reduce in the flow.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import reduce
from operator import attrgetter, itemgetter, or_
from typing import Any

import numpy as np
import pyarrow as pa

from cleaning import decode, jit, layout, normalize, repair, segment
from cleaning.config import CleaningConfig
from cleaning.lang import guess_langs, to_simplified
from cleaning.model import DecodeInfo, Event, EventRecord, Item, Reject, SourceDoc, expand_events
from cleaning.schema import ARTICLES, STATUS_KEPT


def split_lines(text: str) -> list[str]:
    """Split decoded text into source lines (``\\r\\n``, lone ``\\r`` and ``\\n`` all end a line).

    Only these three are line breaks in the decoded source. Other separators (U+2028, U+0085,
    form feed, ...) stay inside a line for the normalize stage to handle, so line numbers agree
    with what ``wc -l`` and editors show.
    """
    # str.split is several times faster than splitting on the regex \r\n|\r|\n (the definition
    # the tests compare with): each CRLF or lone CR made one LF first gives the same lines
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "" and len(lines) > 1:
        lines.pop()  # a final newline does not start another line
    return lines


@dataclass(slots=True)
class DocResult:
    """A processed document. ``events`` are as the stages recorded them: a page's layout
    decisions are one :class:`cleaning.layout.PageEvents` object and its segment decisions one
    :class:`cleaning.segment.SegmentEvents` (spans, no per-decision objects);
    :meth:`expanded_events` gives one event per change or decision."""

    doc: SourceDoc
    decode_info: DecodeInfo
    lines: list[str]
    items: list[Item]
    events: list[Event] = field(default_factory=list)

    def expanded_events(self) -> list[Event]:
        """``events`` with each page's layout and segment decisions as one event per decision."""
        return expand_events(self.events)


@dataclass(slots=True)
class Decoded:
    """A document's text as source lines, with how it was decoded.

    Made by :func:`decode_document`; a caller that needs the lines before the
    other stages (the flow's repeated-furniture pre-pass) hands it on to
    :func:`process_document` so each page is decoded once.
    """

    info: DecodeInfo
    lines: list[str]
    events: list[Event] = field(default_factory=list)


def decode_document(doc: SourceDoc, cfg: CleaningConfig) -> Decoded | Reject:
    """Decode one document into source lines, or a :class:`Reject` when it cannot be decoded sensibly."""
    if isinstance(doc.data, bytes):
        try:
            dec = decode.decode_bytes(doc.data, cfg.decode)
        except decode.DecodeRejected as exc:
            return Reject(
                source_path=doc.source_path,
                reason=exc.reason,
                detail=exc.detail,
                source_sha256=doc.source_sha256,
                size_bytes=len(doc.data),
            )
        return Decoded(info=dec.info, lines=split_lines(dec.text), events=dec.events)
    return Decoded(
        info=DecodeInfo(encoding="utf-8", method="jsonl", confidence=1.0), lines=split_lines(doc.data)
    )


def process_document(
    doc: SourceDoc,
    cfg: CleaningConfig,
    furniture: frozenset[str] = frozenset(),
    decoded: Decoded | None = None,
) -> DocResult | Reject:
    """Decode, repair, normalize, lay out and segment one document.

    ``decoded`` is this document's :func:`decode_document` result when the
    caller already has it. Returns a :class:`Reject` when the document cannot
    be decoded sensibly. Any other exception is a bug and propagates to the
    caller; the flow turns it into an ``internal_error`` reject for that
    document and goes on.
    """
    if decoded is None:
        got = decode_document(doc, cfg)
        if isinstance(got, Reject):
            return got
        decoded = got
    events: list[Event] = [*doc.events, *decoded.events]
    info = decoded.info
    lines = decoded.lines
    # the page joined once for both pre-scans: repair changes a line on few pages
    text = "\n".join(lines)
    repaired, ev = repair.repair_lines(lines, cfg.repair, text)
    events.extend(ev)
    if repaired != lines:
        text = None
    lines, ev = normalize.normalize_lines(repaired, cfg.normalize, text)
    events.extend(ev)
    blocks, ev = layout.build_blocks(lines, cfg.layout, compact=True)
    events.extend(ev)
    items, ev = segment.segment_blocks(blocks, cfg.segment, furniture=furniture, compact=True)
    events.extend(ev)
    return DocResult(doc=doc, decode_info=info, lines=lines, items=items, events=events)


def article_id(source_path: str, position: int) -> str:
    return hashlib.sha256(f"{source_path}\x1f{position}".encode()).hexdigest()[:16]


def paragraph_id(art_id: str, position: int) -> str:
    if 0 <= position < len(_ID_SUFFIXES):
        return art_id + _ID_SUFFIXES[position]
    return f"{art_id}-{position:03d}"


_ID_SUFFIXES = [f"-{i:03d}" for i in range(1000)]  # formatted once, not per paragraph
_JOINS_OF = attrgetter("joins")


# Rule name -> its bit, for every document of the process: a mask then names the same rules on
# every page, so each distinct mask is turned into its sorted names once per process (a run's
# pages share a few hundred masks) instead of once per page. New names are rare; the lock keeps
# two threads (the thread task runner) from giving two names one bit.
_RULE_BITS: dict[str, int] = {}
_RULE_LIST: list[tuple[int, str]] = []  # (1 << bit, name) in bit order
_MASK_NAMES: dict[int, list[str]] = {}
_RULE_BITS_LOCK = threading.Lock()
_MAX_BITS = 62  # the rule bits an int64 mask takes here (bits 0 to 61, clear of the sign bit)


def _shared_bits(names: list[str]) -> list[int] | None:
    """The process-wide bits of ``names``, or None when one is past :data:`_MAX_BITS`."""
    got = list(map(_RULE_BITS.get, names))
    if None in got:
        with _RULE_BITS_LOCK:
            for name in names:
                if name not in _RULE_BITS:
                    _RULE_BITS[name] = len(_RULE_LIST)
                    _RULE_LIST.append((1 << len(_RULE_LIST), name))
        got = list(map(_RULE_BITS.__getitem__, names))
    return got if max(got, default=0) < _MAX_BITS else None


class _RuleIndex:
    """Which rules fired on which source lines, for the per-row ``rules`` column.

    Built once per document as one bit mask per source line (a bit per rule
    name), so a lookup ORs the masks of the span's lines, and each distinct
    mask is turned into its sorted rule names once: a page has a few hundred
    events but only a few distinct masks, and the pages of a run share most of
    theirs (the bits are the process's, :data:`_RULE_BITS`, while they fit an
    int64; a document with more names gets bits of its own). The events' spans
    set their bits in compiled passes (a page's layout and segment records give
    theirs as arrays), and :meth:`rules_of` ORs the spans of all of a
    document's rows in another.
    """

    __slots__ = ("_array", "_file_mask", "_list", "_names", "_rules")

    def __init__(self, events: list[Event], n_lines: int = 0) -> None:
        bits: dict[str, int] = {}  # rule name -> its index here, in order of first sight
        file_rules: list[int] = []
        # every span of the document, the plain events' and each record's, ORed in one pass below
        rule: list[int] = []
        start: list[int] = []
        end: list[int] = []
        record_spans: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for e in events:
            if isinstance(e, EventRecord):  # a page's layout or segment decisions
                names, r, s, t = e.spans()
                codes = np.array([bits.setdefault(name, len(bits)) for name in names], dtype=np.int64)
                record_spans.append((codes[r], s, t))
                continue
            k = bits.setdefault(e.rule, len(bits))
            if e.line is None:
                file_rules.append(k)
                continue
            rule.append(k)
            start.append(e.line)
            end.append(e.line_end or e.line)
        spans = (
            np.array(rule, dtype=np.int64),
            np.array(start, dtype=np.int64),
            np.array(end, dtype=np.int64),
        )
        if record_spans:
            spans = tuple(np.concatenate(part) for part in zip(spans, *record_spans, strict=True))
        # events point at the document's lines; the masks grow should one point further
        size = max(n_lines + 2, int(spans[2].max(initial=0)) + 1)
        shared = _shared_bits(list(bits))
        # each rule's bit: the process's (and its mask names) while they fit, else this document's
        bit_of = shared if shared is not None else list(range(len(bits)))
        if max(bit_of, default=0) < _MAX_BITS:
            masks = np.zeros(size, dtype=np.int64)
            kernel = _or_span_bits if jit.enabled() else _or_span_bits.py_func
            kernel(np.left_shift(1, np.array(bit_of, dtype=np.int64)[spans[0]]), *spans[1:], masks)
            # rules_of's kernel reads the array; rules_in the list, made on its first call
            self._array: np.ndarray | None = masks if jit.enabled() else None
            self._list: list[int] | None = None if jit.enabled() else masks.tolist()
        else:  # more rules than an int64 holds bits for: Python ints, in plain Python
            self._list = [0] * size
            _or_span_bits.py_func(
                np.array([1 << k for k in spans[0].tolist()], dtype=object), *spans[1:], self._list
            )
            self._array = None
        self._file_mask = reduce(or_, [1 << bit_of[k] for k in file_rules], 0)
        if shared is not None:
            self._rules, self._names = _RULE_LIST, _MASK_NAMES
        else:
            self._rules = [(1 << k, rule) for rule, k in bits.items()]
            self._names = {}

    @property
    def _masks(self) -> list[int]:
        if self._list is None:
            self._list = self._array.tolist()
        return self._list

    def _names_of(self, mask: int) -> list[str]:
        names = self._names.get(mask)
        if names is None:
            names = self._names[mask] = sorted(rule for bit, rule in self._rules if mask & bit)
        return names

    def rules_in(self, start: int, end: int) -> list[str]:
        """The sorted names of the rules that fired on lines ``start`` to ``end`` (or on the file)."""
        if start == end and 0 <= start < len(self._masks):
            mask = self._masks[start] | self._file_mask  # a one-line paragraph
        else:
            mask = reduce(or_, self._masks[max(start, 0) : end + 1], self._file_mask)
        return list(self._names_of(mask))  # each row owns its list

    def rules_of(self, starts: list[int], ends: list[int], shared: bool = False) -> list[list[str]]:
        """:meth:`rules_in` of each span, the spans' masks ORed in one compiled pass.

        ``shared``: spans with the same rules get one list, to be read only (the column path
        hands them to Arrow), instead of a copy each.
        """
        if self._array is None or not starts:
            return list(map(self.rules_in, starts, ends))
        out = np.empty(len(starts), dtype=np.int64)
        _or_ranges(self._array, np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64), out)
        masks = np.bitwise_or(out, self._file_mask, out=out).tolist()
        names = self._names
        for mask in set(masks).difference(names):
            self._names_of(mask)
        # every mask's names are made: the rows' lists by C-level loops (a copy each unless shared)
        rows = map(names.__getitem__, masks)
        return list(rows) if shared else list(map(list, rows))


@jit.kernel
def _or_ranges(masks: np.ndarray, starts: np.ndarray, ends: np.ndarray, out: np.ndarray) -> None:
    """``out[k]``: the OR of ``masks`` from ``starts[k]`` to ``ends[k]``, clipped to the array."""
    n = masks.shape[0]
    for k in range(starts.shape[0]):
        acc = 0
        for line in range(max(starts[k], 0), min(ends[k], n - 1) + 1):
            acc |= masks[line]
        out[k] = acc


@jit.kernel
def _or_span_bits(bits: np.ndarray, start: np.ndarray, end: np.ndarray, out: np.ndarray) -> None:
    """``out[line] |= bits[k]`` for every line from ``start[k]`` to ``end[k]``."""
    for k in range(bits.shape[0]):
        for line in range(start[k], end[k] + 1):
            out[line] |= bits[k]


# Columns of the rows that hold the same value on every row before dedup.
_PARAGRAPH_CONSTANTS = {
    "status": STATUS_KEPT,
    "relation": None,
    "duplicate_of": None,
    "cluster_id": None,
    "similarity": None,
    "containment": None,
}


# The article row's columns: the schema's, the order :func:`_article_values` gives them in.
_ARTICLE_FIELDS = tuple(ARTICLES.names)


def _article_values(
    result: DocResult,
    cfg: CleaningConfig,
    pos: int,
    aid: str,
    text: str,
    damages: list[int],
    rules: list[str],
    metadata: str | None,
    lang: str,
) -> tuple[Any, ...]:
    """The values of the article row of ``result.items[pos]``, in :data:`_ARTICLE_FIELDS` order
    (a tuple: the column appends take them without a dict per article)."""
    doc, info, item = result.doc, result.decode_info, result.items[pos]
    n = len(item.paragraphs)
    return (
        aid,
        doc.source_path,
        doc.source_sha256,
        pos,
        item.kind,
        list(item.headline),
        item.title,
        item.kicker,
        item.subtitle,
        item.lead,
        [{"role": b.role, "name": b.name} for b in item.byline],
        item.byline_text,
        text,
        n,
        n,
        len(text),
        lang,
        to_simplified(text) if cfg.output.simplified_column else None,
        STATUS_KEPT,
        None,
        None,
        None,
        item.line_start,
        item.line_end,
        info.encoding,
        info.method,
        float(info.confidence),
        int(info.other_encoding_lines),
        int(info.replacement_chars),
        sum(damages),
        rules,
        metadata,
    )


def _article_texts(items: list[Item]) -> tuple[list[list[str]], list[str]]:
    """Each article's paragraph texts, and its text: those joined by line feeds."""
    bodies = [[p.text for p in item.paragraphs] for item in items]
    return bodies, list(map("\n".join, bodies))


def _article_langs(items: list[Item], texts: list[str]) -> list[str]:
    """Each article's ``lang``: of its text, or of its headline when it has no text (one pass
    for the page's articles)."""
    return guess_langs([text or " ".join(item.headline) for item, text in zip(items, texts, strict=True)])


def document_rows(result: DocResult, cfg: CleaningConfig) -> tuple[list[dict], list[dict]]:
    """Article and paragraph rows (schema ``articles`` / ``paragraphs``), before dedup."""
    doc = result.doc
    index = _RuleIndex(result.events, len(result.lines))
    metadata = json.dumps(doc.metadata, ensure_ascii=False, sort_keys=True) if doc.metadata else None
    articles: list[dict] = []
    paragraphs: list[dict] = []
    bodies, texts = _article_texts(result.items)
    langs = _article_langs(result.items, texts)
    for pos, item in enumerate(result.items):
        aid = article_id(doc.source_path, pos)
        body, text = bodies[pos], texts[pos]
        # the article's text joins its paragraphs: no hint in it, no damage in any of them
        # (a hint straddling a joining newline only costs the exact count)
        damages = [repair.count_damage(t) for t in body] if repair.may_have_damage(text) else [0] * len(body)
        for p_pos, (p, p_damage) in enumerate(zip(item.paragraphs, damages, strict=True)):
            paragraphs.append(
                {
                    "id": paragraph_id(aid, p_pos),
                    "article_id": aid,
                    "source_path": doc.source_path,
                    "position": p_pos,
                    "text": p.text,
                    "char_count": len(p.text),
                    **_PARAGRAPH_CONSTANTS,
                    "source_line_start": p.line_start,
                    "source_line_end": p.line_end,
                    "joins": list(p.joins),
                    "rules": index.rules_in(p.line_start, p.line_end),
                    "damage_count": p_damage,
                }
            )
        rules = index.rules_in(item.line_start, item.line_end)
        values = _article_values(result, cfg, pos, aid, text, damages, rules, metadata, langs[pos])
        articles.append(dict(zip(_ARTICLE_FIELDS, values, strict=True)))
    return articles, paragraphs


def empty_columns(schema: pa.Schema) -> dict[str, list]:
    """One empty list per column of ``schema``, for :func:`add_document_columns`."""
    return {name: [] for name in schema.names}


def paragraph_article_positions(articles: dict[str, list], start: int = 0) -> list[int]:
    """The article ``position`` of each paragraph row of the article rows from ``start`` on.

    In the columns :func:`add_document_columns` fills, each article's ``paragraph_count``
    paragraph rows follow one another in article order, so the positions repeat by those counts.
    """
    positions: list[int] = []
    for pos, count in zip(articles["position"][start:], articles["paragraph_count"][start:], strict=True):
        positions.extend([pos] * count)
    return positions


def add_document_columns(
    result: DocResult, cfg: CleaningConfig, articles: dict[str, list], paragraphs: dict[str, list]
) -> None:
    """Append the rows of :func:`document_rows` to column lists (``empty_columns(ARTICLES)``,
    ``empty_columns(PARAGRAPHS)``; other keys are left alone). An article column the
    ``articles`` dict has no list for is not gathered: the flow's unit files leave out the
    article text, which is the article's paragraphs joined, and join it again when they publish.

    ``pa.Table.from_pydict(columns, schema=…)`` then equals ``pa.Table.from_pylist(rows, schema=…)``
    of the same rows: a paragraph's values are gathered a column at a time per article instead of
    one dict per paragraph, which Arrow would take apart again.

    A document adds all its rows or none: should it raise, every column is cut back to its length
    before the call, so the caller can record the error and go on with the next document.

    The list values of the paragraph rows (``joins``, ``rules``) are read only: rows with the
    same rules share one list, and ``joins`` holds the paragraphs' own lists (no copy per row).
    """
    sizes = [(col, len(col)) for col in (*articles.values(), *paragraphs.values())]
    try:
        _append_columns(result, cfg, articles, paragraphs)
    except BaseException:
        for col, size in sizes:
            del col[size:]
        raise


def _picker(positions: list[int]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """A function giving the items of a tuple at ``positions``, as a tuple (also for one or none)."""
    if len(positions) >= 2:
        return itemgetter(*positions)
    if positions:
        k = positions[0]
        return lambda values: (values[k],)
    return lambda values: ()


# The article columns a caller gathers (its dict's keys) -> their names in article-tuple order and
# a pick of their values from each article's tuple: a caller passes the same keys for every page.
_Pick = Callable[[tuple[Any, ...]], tuple[Any, ...]]
_ARTICLE_PICKS: dict[tuple[str, ...], tuple[list[str], _Pick]] = {}


def _article_pick(articles: dict[str, list]) -> tuple[list[str], _Pick]:
    keys = tuple(articles)
    got = _ARTICLE_PICKS.get(keys)
    if got is None:
        gathered = [k for k, name in enumerate(_ARTICLE_FIELDS) if name in articles]
        got = _ARTICLE_PICKS[keys] = ([_ARTICLE_FIELDS[k] for k in gathered], _picker(gathered))
    return got


def _append_columns(
    result: DocResult, cfg: CleaningConfig, articles: dict[str, list], paragraphs: dict[str, list]
) -> None:
    doc = result.doc
    index = _RuleIndex(result.events, len(result.lines))
    metadata = json.dumps(doc.metadata, ensure_ascii=False, sort_keys=True) if doc.metadata else None
    source_path = doc.source_path
    p_cols = paragraphs
    # the article columns gathered (the flow's unit files leave out the text)
    names, pick = _article_pick(articles)
    a_targets = list(map(articles.__getitem__, names))
    items = result.items
    paras = [p for item in items for p in item.paragraphs]
    total = len(paras)
    starts = [p.line_start for p in paras]
    ends = [p.line_end for p in paras]
    # every row's rules in two compiled passes: the paragraphs', then the articles'
    para_rules = index.rules_of(starts, ends, shared=True)
    article_rules = index.rules_of([item.line_start for item in items], [item.line_end for item in items])
    bodies, texts = _article_texts(items)
    langs = _article_langs(items, texts)
    # the columns whose values change with the article, a paragraph at a time
    ids, article_ids, positions, damage_counts = (
        p_cols["id"],
        p_cols["article_id"],
        p_cols["position"],
        p_cols["damage_count"],
    )
    for pos, (body, text) in enumerate(zip(bodies, texts, strict=True)):
        aid = article_id(source_path, pos)
        n = len(body)
        damages = [repair.count_damage(t) for t in body] if repair.may_have_damage(text) else [0] * n
        ids.extend(
            [aid + suffix for suffix in _ID_SUFFIXES[:n]]
            if n <= len(_ID_SUFFIXES)
            else [paragraph_id(aid, i) for i in range(n)]
        )
        article_ids.extend([aid] * n)
        positions.extend(range(n))
        damage_counts.extend(damages)
        rules = article_rules[pos]
        values = _article_values(result, cfg, pos, aid, text, damages, rules, metadata, langs[pos])
        # the values the gathered columns take, appended by one C-level loop
        deque(map(list.append, a_targets, pick(values)), maxlen=0)
    # the other paragraph columns, each extended once for the whole document
    p_cols["source_path"].extend([source_path] * total)
    p_cols["text"].extend([p.text for p in paras])
    p_cols["char_count"].extend([len(p.text) for p in paras])
    for name, value in _PARAGRAPH_CONSTANTS.items():
        p_cols[name].extend([value] * total)
    p_cols["source_line_start"].extend(starts)
    p_cols["source_line_end"].extend(ends)
    p_cols["joins"].extend(map(_JOINS_OF, paras))  # the paragraphs' own lists (read-only)
    p_cols["rules"].extend(para_rules)


# Pipeline order, so that on one line a repair is listed before the normalization that followed it.
STAGE_ORDER = ("read", "decode", "repair", "normalize", "layout", "segment", "dedup")


def explain_lines(result: DocResult) -> list[dict[str, Any]]:
    """Events in source-line order (then pipeline order), for ``presswash explain``."""
    rank = {stage: i for i, stage in enumerate(STAGE_ORDER)}
    return [
        e.as_dict()
        for e in sorted(
            result.expanded_events(),
            key=lambda e: (e.line if e.line is not None else 0, rank.get(e.stage, len(rank))),
        )
    ]
