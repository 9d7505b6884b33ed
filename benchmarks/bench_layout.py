"""Throughput of layout (stage 5) + segment (stage 6), and a differential reference of their decisions.

Page sets (deterministic for ``--seed``; built in code from ``$PRESSWASH_SHARED/corpora``, nothing
written to the repo except under ``benchmarks/out/``, which git ignores):

* ``zh-wrapped``: ``tw-president-news`` (Traditional) and ``cn-laws`` (Simplified) articles laid out
  by ``benchmarks/make_pages.py``, hard-wrapped at 10-30 characters with indents, a running header,
  bylines and leads;
* ``zh-vertical``: the same at 5-10 characters (vertical layouts);
* ``zh-mixed``: ``make_pages.make_page`` pages (what ``benchmarks/corpus.py`` writes: 15 % one
  paragraph per line, blank lines, furniture every 40-80 lines);
* ``seed-like``: one paragraph per line with blank lines between (the seed's shape), plus the seed;
* ``chronam``: raw English OCR front pages;
* ``perturbed``: zh pages with random damage (indents dropped, blank lines added, lines split,
  half-width punctuation, stray Latin), to drive unusual paths for the differential check.

Lines go through ``split_lines`` + repair + normalize first (untimed), as in the pipeline. The
timed part is ``build_blocks`` + ``segment_blocks`` per page, in CPU time (``time.process_time``),
reported as MB/s of UTF-8 page text per core. jieba's dictionary and wordfreq load before timing.

Differential reference: ``--save-ref`` writes every block, item and event (rule, line span, detail,
before/after) of every page to ``benchmarks/out/layout_ref/<set>.jsonl.gz``; ``--check-ref``
compares the current code with it and prints the first differences (exit status 1 if any).

``--layout-only`` times ``build_blocks`` alone (the segment stage is left out of the timing and of
the reference), to follow the layout stage while the segment stage changes. ``--against REV`` times
``build_blocks`` of ``cleaning/layout.py`` as of git revision ``REV`` in the same process, alternating
with the current one on the same pages (before/after ratios that survive a busy machine; each as the
pipeline calls it, a page's events kept as one record where the revision has ``compact``), and checks
that both give the same blocks and events.

``--rows DIR`` times the last per-document step instead, on the page files under ``DIR`` (as
``benchmarks/corpus.py`` writes them): the rows and their Arrow tables, one dict per row
(``document_rows`` + ``pa.Table.from_pylist``) against columns (``add_document_columns`` +
``pa.Table.from_pydict``), alternated in the same process with the flow's collector thresholds,
and checks that both give equal tables.

Usage::

    python -m benchmarks.bench_layout [--pages 150] [--seed 0] [--sets zh-wrapped,...]
        [--layout-only] [--save-ref | --check-ref] [--profile SET] [--against REV]
    python -m benchmarks.bench_layout --rows DIR... [--repeat 5]
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gzip
import inspect
import json
import pstats
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.make_pages import assemble_page, make_page
from cleaning.config import CleaningConfig
from cleaning.layout import build_blocks
from cleaning.normalize import normalize_lines
from cleaning.pipeline import split_lines
from cleaning.repair import repair_lines
from cleaning.segment import segment_blocks

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "out" / "layout_ref"
SETS = ("zh-wrapped", "zh-vertical", "zh-mixed", "seed-like", "chronam", "perturbed")
CFG = CleaningConfig()


def _corpus():
    from benchmarks import corpus

    return corpus, corpus.corpora_dir()


def _articles(corpus, root, rng: random.Random) -> Iterator[list]:
    """Batches of 2-6 articles, alternating the Traditional and the Simplified source."""
    sources = [corpus.iter_tw_articles(root), corpus.iter_law_articles(root)]
    k = 0
    while sources:
        src = sources[k % len(sources)]
        k += 1
        want = rng.randint(2, 6)
        batch = []
        for art in src:
            if rng.random() < 0.7 or not art.title or not art.paragraphs:
                continue
            batch.append(art)
            if len(batch) >= want:
                break
        if len(batch) < want:
            sources.remove(src)
            if not batch:
                continue
        yield batch


def _perturb(lines: list[str], rng: random.Random) -> list[str]:
    out: list[str] = []
    for ln in lines:
        r = rng.random()
        if r < 0.05 and ln.startswith("\u3000\u3000"):
            ln = ln[2:]
        elif r < 0.08:
            out.append("")
        elif r < 0.11 and len(ln) > 6:
            cut = rng.randrange(1, len(ln) - 1)
            out.append(ln[:cut])
            ln = ln[cut:]
        elif r < 0.14:
            ln = ln.replace("，", ",").replace("：", ":").replace("（", "(").replace("）", ")")
        elif r < 0.16:
            ln = ln + rng.choice((" Page 3", " 5G", "-", " (AP) —", " 記者 王明 攝"))
        elif r < 0.17:
            ln = "\u3000" + ln
        out.append(ln)
    return out


def pages(name: str, n: int, seed: int) -> Iterator[str]:
    """Page texts of set ``name``."""
    rng = random.Random(f"{name}:{seed}")
    if name == "seed-like":
        seed_text = (REPO / "data" / "raw" / "000_77a03ed607cd6b14.txt").read_text(encoding="utf-8")
        yield seed_text
        n -= 1
    corpus, root = _corpus()
    if root is None:
        print(f"corpora not found under {corpus.shared_dir()}: skipping {name}", file=sys.stderr)
        return
    if name == "chronam":
        made = 0
        for _fn, raw in corpus.iter_chronam_pages(root):
            if rng.random() < 0.9:
                continue
            yield raw.decode("utf-8", errors="replace")
            made += 1
            if made >= n:
                return
        return
    made = 0
    for batch in _articles(corpus, root, rng):
        if name == "zh-mixed":
            text = make_page(batch, rng)
        elif name == "seed-like":
            text = assemble_page(batch, rng, width=None, blank_lines=True, max_paragraphs=12).text()
        else:
            chars = rng.randint(*((5, 10) if name == "zh-vertical" else (10, 30)))
            page = assemble_page(batch, rng, width=2 * chars, max_paragraphs=12)
            lines = page.lines
            if name == "perturbed":
                lines = _perturb(lines, rng)
            text = "\n".join(lines) + "\n"
        yield text
        made += 1
        if made >= n:
            return


def prepared_lines(text: str) -> list[str]:
    """The lines the layout stage sees in the pipeline (split, repaired, normalized)."""
    lines, _ = repair_lines(split_lines(text), CFG.repair)
    lines, _ = normalize_lines(lines, CFG.normalize)
    return lines


def run(lines: list[str]):
    blocks, lev = build_blocks(lines, CFG.layout)
    items, sev = segment_blocks(blocks, CFG.segment)
    return blocks, items, lev + sev


def run_layout(lines: list[str]):
    blocks, lev = build_blocks(lines, CFG.layout)
    return blocks, [], lev


def record(blocks, items, events) -> dict:
    return {
        "blocks": [dataclasses.asdict(b) for b in blocks],
        "items": [dataclasses.asdict(it) for it in items],
        "events": [e.as_dict() for e in events],
    }


def _first_diff(a, b, path: str = "") -> str:
    if type(a) is not type(b):
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                return _first_diff(a.get(k), b.get(k), f"{path}.{k}")
    if isinstance(a, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            if x != y:
                return _first_diff(x, y, f"{path}[{i}]")
        if len(a) != len(b):
            return f"{path}: length {len(a)} != {len(b)}"
    return f"{path}: {str(a)[:200]!r} != {str(b)[:200]!r}"


def layout_at(rev: str):
    """``cleaning/layout.py`` as of git revision ``rev``, loaded as a module of its own."""
    import subprocess
    import types

    src = subprocess.run(
        ["git", "show", f"{rev}:cleaning/layout.py"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    mod = types.ModuleType(f"layout_at_{rev}")
    sys.modules[mod.__name__] = mod  # dataclasses look their module up
    # a real file: numba caches the module's kernels next to their source
    path = Path(tempfile.mkdtemp(prefix="presswash-layout-")) / f"layout_at_{rev}.py"
    path.write_text(src, encoding="utf-8")
    mod.__file__ = str(path)
    exec(compile(src, str(path), "exec"), mod.__dict__)
    return mod


def _layout_record(out) -> tuple:
    blocks, events = out
    return [dataclasses.astuple(b) for b in blocks], [tuple(e.as_dict().values()) for e in events]


def against(rev: str, names: list[str], n_pages: int, seed: int, repeat: int) -> int:
    """Layout alone, revision ``rev`` against the current code, alternated page set by page set."""
    old_blocks = layout_at(rev).build_blocks
    # each side timed as the pipeline calls it: a page's events kept as one record where the
    # revision can (``compact``), expanded only for the comparison of the output
    old_compact = "compact" in inspect.signature(old_blocks).parameters

    def old(lines: list[str], cfg: object) -> object:
        return old_blocks(lines, cfg, compact=True) if old_compact else old_blocks(lines, cfg)

    def current(lines: list[str], cfg: object) -> object:
        return build_blocks(lines, cfg, compact=True)

    print(f"| set | MB | lines | {rev} MB/s per core (CPU) | current MB/s | ratio | same output |")
    print("|---|---|---|---|---|---|---|")
    failed = 0
    for name in names:
        data = [prepared_lines(t) for t in pages(name, n_pages, seed)]
        if not data:
            continue
        mb = sum(len(ln.encode("utf-8")) + 1 for lines in data for ln in lines) / 1e6
        best = {"old": float("inf"), "new": float("inf")}
        for fn in (old, current):
            fn(data[0], CFG.layout)  # per-process tables are built before timing
        for _ in range(repeat):
            for tag, fn in (("old", old), ("new", current)):
                t0 = time.process_time()
                for lines in data:
                    fn(lines, CFG.layout)
                best[tag] = min(best[tag], time.process_time() - t0)
        same = all(
            _layout_record(old_blocks(lines, CFG.layout)) == _layout_record(build_blocks(lines, CFG.layout))
            for lines in data
        )
        failed += not same
        print(
            f"| {name} | {mb:.2f} | {sum(map(len, data)):,} | {mb / best['old']:.2f} | "
            f"{mb / best['new']:.2f} | {best['old'] / best['new']:.2f}x | {'yes' if same else 'NO'} |",
            flush=True,
        )
    return 1 if failed else 0


def rows_vs_columns(root: Path, repeat: int) -> int:
    """Rows + Arrow tables of every page under ``root``: dicts + ``from_pylist`` against columns."""
    import gc
    import hashlib

    import pyarrow as pa

    from benchmarks.run import flow_gc
    from cleaning.model import Reject, SourceDoc
    from cleaning.pipeline import add_document_columns, document_rows, empty_columns, process_document
    from cleaning.schema import ARTICLES, PARAGRAPHS

    flow_gc()  # the collector thresholds of the flow's shard tasks
    files = sorted(root.rglob("*.txt"))
    docs = [
        SourceDoc(str(f.relative_to(root)), hashlib.sha256(b := f.read_bytes()).hexdigest(), b) for f in files
    ]
    results = [r for d in docs if not isinstance(r := process_document(d, CFG), Reject)]
    mb = sum(len(d.data) for d in docs) / 1e6

    def by_rows():
        arts, paras = [], []
        for r in results:
            a, p = document_rows(r, CFG)
            arts += a
            paras += p
        return pa.Table.from_pylist(arts, schema=ARTICLES), pa.Table.from_pylist(paras, schema=PARAGRAPHS)

    def by_columns():
        arts, paras = empty_columns(ARTICLES), empty_columns(PARAGRAPHS)
        for r in results:
            add_document_columns(r, CFG, arts, paras)
        return pa.Table.from_pydict(arts, schema=ARTICLES), pa.Table.from_pydict(paras, schema=PARAGRAPHS)

    best = {"rows": float("inf"), "columns": float("inf")}
    for _ in range(repeat):
        for tag, fn in (("rows", by_rows), ("columns", by_columns)):
            gc.collect()
            t0 = time.process_time()
            fn()
            best[tag] = min(best[tag], time.process_time() - t0)
    old, new = by_rows(), by_columns()
    same = all(x.equals(y) for x, y in zip(old, new, strict=True))
    print(
        f"| {root.name} | {mb:.1f} | {len(docs)} | {old[1].num_rows:,} | {best['rows']:.3f} | "
        f"{best['columns']:.3f} | {best['rows'] / best['columns']:.2f}x | {'yes' if same else 'NO'} |"
    )
    return 0 if same else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=150, help="pages per set")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--repeat", type=int, default=1, help="time each page this many times (best run)")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--save-ref", action="store_true", help="save the outputs as the differential reference")
    g.add_argument("--check-ref", action="store_true", help="compare the outputs with the saved reference")
    ap.add_argument("--profile", metavar="SET", help="cProfile layout+segment on this set, print the top")
    ap.add_argument("--layout-only", action="store_true", help="time (and compare) build_blocks alone")
    ap.add_argument(
        "--against", metavar="REV", help="time layout as of git revision REV alongside the current"
    )
    ap.add_argument(
        "--rows", metavar="DIR", type=Path, nargs="+", help="time rows + Arrow tables on the pages under DIR"
    )
    args = ap.parse_args(argv)
    if args.rows:
        print(
            "| pages | MB | files | paragraphs | rows + from_pylist s CPU | columns + from_pydict s CPU "
            "| ratio | equal |"
        )
        print("|---|---|---|---|---|---|---|---|")
        return max(rows_vs_columns(root, max(args.repeat, 1)) for root in args.rows)
    stage = run_layout if args.layout_only else run
    what = "layout" if args.layout_only else "layout+segment"

    from cleaning.english import zipf
    from cleaning.layout import LayoutConfig, _jieba_freq

    _jieba_freq(LayoutConfig().min_seam_word_freq)  # dictionaries load before anything is timed
    zipf("the")
    if args.against:
        return against(args.against, args.sets.split(","), args.pages, args.seed, max(args.repeat, 1))
    OUT.mkdir(parents=True, exist_ok=True)
    failed = 0
    print(f"| set | pages | MB | lines | {what} MB/s per core (CPU) | ms/page | differences |")
    print("|---|---|---|---|---|---|---|")
    for name in args.sets.split(","):
        data = [prepared_lines(t) for t in pages(name, args.pages, args.seed)]
        if not data:
            continue
        mb = sum(len(ln.encode("utf-8")) + 1 for lines in data for ln in lines) / 1e6
        n_lines = sum(len(lines) for lines in data)
        best = float("inf")
        outputs = []
        for _ in range(args.repeat):
            outputs = []
            cpu = 0.0
            for lines in data:
                t0 = time.process_time()
                out = stage(lines)
                cpu += time.process_time() - t0
                outputs.append(out)
            best = min(best, cpu)
        if args.profile == name:
            prof = cProfile.Profile()
            prof.enable()
            for lines in data:
                stage(lines)
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        diff = "–"
        ref = OUT / f"{name}-p{args.pages}-s{args.seed}{'-layout' if args.layout_only else ''}.jsonl.gz"
        if args.save_ref:
            with gzip.open(ref, "wt", encoding="utf-8") as fh:
                for lines, out in zip(data, outputs, strict=True):
                    fh.write(json.dumps({"lines": lines, **record(*out)}, ensure_ascii=False) + "\n")
            diff = "saved"
        elif args.check_ref:
            if not ref.exists():
                diff = "no reference"
            else:
                bad = []
                with gzip.open(ref, "rt", encoding="utf-8") as fh:
                    saved = [json.loads(x) for x in fh]
                if len(saved) != len(data):
                    bad.append(f"{len(saved)} pages saved, {len(data)} now")
                for i, (s, lines, out) in enumerate(zip(saved, data, outputs, strict=False)):
                    cur = {"lines": lines, **record(*out)}
                    cur = json.loads(json.dumps(cur, ensure_ascii=False))
                    if cur != s:
                        bad.append(f"page {i}: {_first_diff(s, cur)}")
                diff = f"{len(bad)} pages differ" if bad else "identical"
                failed += len(bad)
                for b in bad[:5]:
                    print("   ", b, file=sys.stderr)
        print(
            f"| {name} | {len(data)} | {mb:.2f} | {n_lines} | {mb / best:.2f} | "
            f"{1000 * best / len(data):.1f} | {diff} |",
            flush=True,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
