"""``presswash explain FILE``: every change and decision on one file, line by line, by rule.

Runs the same code path as a shard task (reader, per-document stages, rows),
then dedup within the file through ``dedup_map``/``dedup_reduce`` on a
temporary directory. No Prefect.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from cleaning.config import CleaningConfig
from cleaning.model import Reject

_MAX_SHOWN = 160
# Decisions made at (nearly) every paragraph; shown only with --all.
ROUTINE_RULES = frozenset({"layout.break_blank_line", "segment.body"})


def _clip(s: str | None, n: int = _MAX_SHOWN) -> str:
    if s is None:
        return ""
    s = s.replace("\n", "⏎")
    return s if len(s) <= n else s[: n - 1] + "…"


def diff_snippet(before: str, after: str, context: int = 8, max_changes: int = 4) -> str:
    """The changed parts of a line with a little context; a repeated change is shown once, counted.

    ``…上下文[','→'，']上下文… ×12`` reads: this replacement, first seen here, made 12 times.
    """
    from difflib import SequenceMatcher

    ops = [
        op for op in SequenceMatcher(None, before, after, autojunk=False).get_opcodes() if op[0] != "equal"
    ]
    if not ops:
        return "(no visible change)"
    first: dict[tuple[str, str], str] = {}
    count: dict[tuple[str, str], int] = {}
    for _tag, i1, i2, j1, j2 in ops:
        pair = (before[i1:i2], after[j1:j2])
        count[pair] = count.get(pair, 0) + 1
        if pair not in first:
            left = before[max(0, i1 - context) : i1]
            right = before[i2 : i2 + context]
            first[pair] = f"…{left}[{pair[0]!r}→{pair[1]!r}]{right}…".replace("\\n", "⏎")
    shown = [first[p] + (f" ×{count[p]}" if count[p] > 1 else "") for p in list(first)[:max_changes]]
    more = f"  (+{len(first) - max_changes} other changes)" if len(first) > max_changes else ""
    return "  ".join(shown) + more


def _item_dict(item: Any, pos: int, art: dict | None, paras: list[dict]) -> dict[str, Any]:
    return {
        "position": pos,
        "id": art["id"] if art else None,
        "kind": item.kind,
        "lines": [item.line_start, item.line_end],
        "kicker": item.kicker,
        "title": item.title,
        "subtitle": item.subtitle,
        "headline": list(item.headline),
        "lead": item.lead,
        "byline": [{"role": b.role, "name": b.name} for b in item.byline],
        "byline_text": item.byline_text,
        "paragraphs": [
            {
                "id": p["id"],
                "lines": [p["source_line_start"], p["source_line_end"]],
                "joins": p["joins"],
                "text": p["text"],
            }
            for p in paras
        ],
    }


def run_block(
    path: str | Path, inputs: list[str], cfg: CleaningConfig, shard_bytes: int
) -> list[tuple[Any, list[Any]]]:
    """``path`` as a run over ``inputs`` reads it, with the block of those inputs it falls in:
    ``(file, block)`` pairs, several when ``path`` is a large archive cut into parts that fall
    in several blocks (``file`` is then each part).

    The block is what a run that processes all of ``inputs`` (a first run, or ``--force``) finds
    repeated furniture over: ``shard_bytes`` of consecutive files in source-path order
    (:func:`flows.steps.plan`). Raises ValueError when ``path`` is not among the inputs.
    """
    from cleaning.reader import list_inputs
    from cleaning.state import sha256_files
    from flows.steps import _cut, _input_files, _merge_parts, _split_archives, part_bytes

    files, _ = list_inputs(inputs, cfg.read)
    by_source = {f.source_path: f for f in files}  # a file given twice counts once, as in a run
    target = Path(path).resolve()
    found = [f for f in by_source.values() if Path(f.path).resolve() == target]
    if not found:
        raise ValueError(f"{path} is not among the inputs {', '.join(inputs)}")
    listed = [
        {"path": str(by_source[sp].path), "source_path": sp, "size": by_source[sp].size}
        for sp in sorted(by_source)
    ]
    listed = _split_archives(listed, cfg.read, part_bytes(shard_bytes))
    # a file read in parts is hashed once here, as the plan does, not once for each part read
    hashes: dict[str, str | None] = {}
    for f in listed:
        if "part" in f:
            if f["source_path"] not in hashes:
                got = next(sha256_files([f["path"]]))
                hashes[f["source_path"]] = got if isinstance(got, str) else None  # else its reading says
            f["sha256"] = hashes[f["source_path"]]
    pairs = []
    for block in _cut(listed, shard_bytes):
        block = _merge_parts(block)
        mine = [f for f in block if f["source_path"] == found[0].source_path]
        if mine:
            pairs.append((_input_files(mine)[0], _input_files(block)))
    return pairs


def explain_file(
    path: str | Path,
    cfg: CleaningConfig,
    inputs: list[str] | None = None,
    shard_bytes: int | None = None,
    furniture_max_pages: int | None = None,
) -> dict[str, Any]:
    """Everything ``explain`` shows, as plain data (``--json`` prints it as is).

    With ``inputs`` (the inputs of a run ``path`` belongs to), repeated page furniture is found
    over ``path``'s block of them and the ids are the run's (:func:`run_block`); without, over
    ``path``'s own pages. ``shard_bytes`` and ``furniture_max_pages``: the run's, by default
    :class:`flows.params.FlowParams`'s.
    """
    import pyarrow as pa

    from cleaning.dedup import dedup_map, dedup_reduce
    from cleaning.parquet_io import write_table
    from cleaning.pipeline import document_rows, explain_lines, process_document
    from cleaning.reader import list_inputs, read_file
    from flows.steps import _furniture, predecode

    report: dict[str, Any] = {"file": str(path), "documents": [], "rejects": [], "dedup": []}
    block_furniture: list[frozenset[str]] = []  # of each file read, with inputs
    if inputs:
        from flows.params import FlowParams

        defaults = FlowParams.model_fields
        if shard_bytes is None:
            shard_bytes = defaults["shard_bytes"].default
        if furniture_max_pages is None:
            furniture_max_pages = defaults["furniture_max_pages"].default
        pairs = run_block(path, inputs, cfg, shard_bytes)
        files, rejects = [f for f, _ in pairs], []
        blocks = []
        for part, block in pairs:
            pre = _furniture(block, cfg, furniture_max_pages)
            block_furniture.append(pre.furniture)
            blocks.append(
                {
                    "files": len(block),
                    "first": block[0].source_path,
                    "last": block[-1].source_path,
                    "sampled_pages": len(pre.decoded),
                    # the part of FILE read with this block's furniture (members or bytes)
                    **({"part": list(part.part)} if part.part is not None else {}),
                }
            )
        report["furniture_block"] = blocks[0]
        if len(blocks) > 1:  # an archive the run cuts into parts in several blocks
            report["furniture_blocks"] = blocks
    else:
        files, rejects = list_inputs([str(path)], cfg.read)
    report["rejects"] = [_reject(r) for r in rejects]
    all_paras: list[dict] = []
    para_text: dict[str, str] = {}
    for k, f in enumerate(files):
        docs = [d for d in read_file(f, cfg.read)]
        decoded: list[Any] = [None if isinstance(d, Reject) else predecode(d, cfg) for d in docs]
        pages = [dec.lines for dec in decoded if dec is not None]
        furniture: frozenset[str] = frozenset()
        if block_furniture:
            furniture = block_furniture[k]
        elif len(pages) >= 2:
            from cleaning.segment import repeated_furniture

            furniture = frozenset(repeated_furniture(pages, cfg.segment))
        for doc, dec in zip(docs, decoded, strict=True):
            if isinstance(doc, Reject):
                report["rejects"].append(_reject(doc))
                continue
            result = process_document(doc, cfg, furniture, dec)
            if isinstance(result, Reject):
                report["rejects"].append(_reject(result))
                continue
            arts, paras = document_rows(result, cfg)
            by_article: dict[str, list[dict]] = {}
            art_pos = {a["id"]: a["position"] for a in arts}
            for p in paras:
                by_article.setdefault(p["article_id"], []).append(p)
                all_paras.append({**p, "article_position": art_pos[p["article_id"]]})
                para_text[p["id"]] = p["text"]
            info = result.decode_info
            report["documents"].append(
                {
                    "source_path": doc.source_path,
                    "sha256": doc.source_sha256,
                    "decode": {
                        "encoding": info.encoding,
                        "method": info.method,
                        "confidence": info.confidence,
                        "other_encoding_lines": info.other_encoding_lines,
                        "replacement_chars": info.replacement_chars,
                    },
                    "furniture": sorted(furniture),
                    "events": explain_lines(result),
                    "items": [
                        _item_dict(
                            item,
                            pos,
                            arts[pos] if pos < len(arts) else None,
                            by_article.get(arts[pos]["id"], []) if pos < len(arts) else [],
                        )
                        for pos, item in enumerate(result.items)
                    ],
                }
            )
    if all_paras:
        table = pa.table(
            {
                "id": [p["id"] for p in all_paras],
                "article_id": [p["article_id"] for p in all_paras],
                "source_path": [p["source_path"] for p in all_paras],
                "position": pa.array([p["position"] for p in all_paras], pa.int32()),
                "article_position": pa.array([p["article_position"] for p in all_paras], pa.int32()),
                "text": [p["text"] for p in all_paras],
            }
        )
        with tempfile.TemporaryDirectory(prefix="presswash-explain-") as tmp:
            index = Path(tmp) / "index.parquet"
            write_table(dedup_map(table, cfg.dedup), index)
            decisions = dedup_reduce([str(index)], cfg.dedup).to_pylist()
        for d in decisions:
            if d.get("status") in (None, "kept"):
                continue
            report["dedup"].append(
                {
                    **{
                        k: d.get(k)
                        for k in ("id", "status", "relation", "duplicate_of", "similarity", "containment")
                    },
                    "rule": d.get("rule") or d.get("reason"),
                    "text": para_text.get(d["id"]),
                    "repeats": para_text.get(d.get("duplicate_of") or ""),
                }
            )
    return report


def _reject(r: Reject) -> dict[str, Any]:
    return {"source_path": r.source_path, "reason": r.reason, "detail": r.detail}


def _part_text(part: list[int]) -> str:
    """A part of a file (:class:`cleaning.reader.InputFile`), for a person."""
    if len(part) == 3:  # a JSONL file's byte range, and the lines before it
        return f"bytes {part[0]} to {part[1]} (from line {part[2] + 1})"
    if len(part) == 4:  # a gzipped JSONL file's: bytes of what it inflates to
        return f"inflated bytes {part[0]} to {part[1]} (from line {part[2] + 1})"
    return f"archive entries {part[0]} to {part[1] - 1}"


def render(report: dict[str, Any], show_all: bool = False) -> str:
    """The report for a person: one line per change or decision, in source order."""
    out: list[str] = []
    w = out.append
    blocks = report.get("furniture_blocks") or [b for b in [report.get("furniture_block")] if b]
    for block in blocks:
        part = block.get("part")
        w(
            f"furniture found over the run's block of {block['files']} files ({block['first']} … "
            f"{block['last']}), {block['sampled_pages']} pages sampled"
            + (f"; for {report['file']}'s {_part_text(part)}" if part else "")
        )
    if blocks:
        w("")
    for doc in report["documents"]:
        w(f"== {doc['source_path']}  (sha256 {doc['sha256'][:12]}…)")
        d = doc["decode"]
        w(
            f"decode   {d['encoding']} by {d['method']}, confidence {d['confidence']:.2f}"
            + (
                f", {d['other_encoding_lines']} lines in another encoding"
                if d["other_encoding_lines"]
                else ""
            )
            + (f", {d['replacement_chars']} replacement chars" if d["replacement_chars"] else "")
        )
        if doc["furniture"]:
            w(f"furniture lines repeated across pages: {', '.join(_clip(x, 40) for x in doc['furniture'])}")
        w("")
        w("-- changes and decisions (line: rule — detail)")
        hidden = 0
        for e in doc["events"]:
            if not show_all and e["rule"] in ROUTINE_RULES:
                hidden += 1
                continue
            where = (
                "file"
                if e["line"] is None
                else (
                    f"L{e['line']}"
                    + (f"-{e['line_end']}" if e["line_end"] and e["line_end"] != e["line"] else "")
                )
            )
            w(f"{where:>10}  {e['rule']} — {e['detail']}")
            if e["before"] is not None and e["after"] is not None:
                w(f"{'':>12}  {diff_snippet(e['before'], e['after'])}")
            elif e["before"] is not None or e["after"] is not None:
                w(f"{'':>12}  {_clip(e['before'])!s}  →  {_clip(e['after'])!s}")
        if hidden:
            w(f"{'':>12}  ({hidden} routine decisions not shown: {', '.join(sorted(ROUTINE_RULES))}; --all)")
        w("")
        w("-- items")
        for it in doc["items"]:
            w(f"#{it['position']} {it['kind']}  L{it['lines'][0]}-{it['lines'][1]}  id {it['id']}")
            for label in ("kicker", "title", "subtitle", "lead", "byline_text"):
                if it[label]:
                    w(f"    {label:<9} {_clip(it[label])}")
            if it["headline"] and len(it["headline"]) > 1:
                w(f"    headline  {' | '.join(it['headline'])}")
            for b in it["byline"]:
                w(f"    byline    {b['name']} ({b['role']})")
            for p in it["paragraphs"]:
                joins = f"  joins: {', '.join(p['joins'])}" if p["joins"] else ""
                w(f"    ¶ {p['id']} L{p['lines'][0]}-{p['lines'][1]}{joins}")
                w(f"        {_clip(p['text'], 80)}")
        w("")
    if report["dedup"]:
        w("-- duplicates within this file")
        for d in report["dedup"]:
            sim = f", similarity {d['similarity']:.2f}" if d.get("similarity") is not None else ""
            rule = f" [{d['rule']}]" if d.get("rule") else ""
            w(f"  {d['id']} {d['status']} ({d['relation']}{sim}) of {d['duplicate_of']}{rule}")
            w(f"      {_clip(d['text'], 80)}")
            w(f"    repeats {_clip(d['repeats'], 80)}")
        w("")
    if report["rejects"]:
        w("-- rejects")
        for r in report["rejects"]:
            w(f"  {r['source_path']}: {r['reason']} — {r['detail']}")
    return "\n".join(out) + "\n"
