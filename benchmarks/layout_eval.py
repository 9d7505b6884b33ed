"""Evaluation of the layout (stage 5) and segment (stage 6) stages against ground truth.

Sets (built in code, deterministic for a seed; nothing is written to the repo):

* ``seed-shapes``: the seed page in every shape of ``make_pages.SHAPES`` plus hard
  wraps at 12..60 display cells, scored against the golden expectation;
* ``tw-wrapped``: pages of 2-6 articles of ``tw-president-news`` (Traditional),
  hard-wrapped at 10-30 characters (20-60 cells) with ``　　`` indents, no blank
  lines, a running page header every 60 lines (also mid-paragraph), synthetic
  trailing bylines and ``本報訊（記者 …）`` leads on some articles;
* ``tw-vertical``: the same at 5-10 characters (10-20 cells), as vertical layouts;
* ``laws-wrapped``: ``cn-laws`` documents (Simplified; title, meta line and up to
  12 paragraphs each), wrapped at 10-30 characters;
* ``chronam``: real English OCR front pages; no ground truth: dehyphenation
  decisions are counted and compared with wordfreq, and a sample is printed for
  hand checking.

Scores per set: line-break decisions (every decision the layout stage makes
between two non-blank lines; *join* = same paragraph) as precision / recall /
F1 of the ``break`` and ``join`` classes, article-boundary F1 (first line of
each article or caption), headline and byline accuracy over the true articles,
and the share of body paragraphs rebuilt exactly. Throughput: layout + segment
MB/s per core (CPU time) over the decoded text of each set.

Usage::

    python -m benchmarks.layout_eval [--pages 200] [--seed 0] [--sets tw-wrapped,...] [--sample 40]
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import re
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.make_pages import (
    SHAPES,
    Layout,
    RenderedPage,
    TruthItem,
    assemble_page,
    render,
    seed_shape,
    seed_units,
)
from cleaning.lang import fold_traditional
from cleaning.layout import LayoutConfig, build_blocks, is_para_final
from cleaning.model import Item
from cleaning.pipeline import split_lines
from cleaning.segment import SegmentConfig, segment_blocks

REPO = Path(__file__).resolve().parent.parent
JOIN_RULES_PREFIX = ("layout.join", "layout.dehyphenate")


def canon(text: str | None) -> str:
    if not text:
        return ""
    return re.sub(r"\s+", "", fold_traditional(unicodedata.normalize("NFKC", text)))


# ---------------------------------------------------------------- scoring


@dataclass
class Score:
    pages: int = 0
    chars: int = 0
    seconds: float = 0.0
    breaks: Counter = field(default_factory=Counter)  # tp/fp/fn for the "break" class, plus "join" class
    art_tp: int = 0
    art_fp: int = 0
    art_fn: int = 0
    headline_ok: int = 0
    headline_n: int = 0
    byline_ok: int = 0
    byline_n: int = 0
    para_ok: int = 0
    para_n: int = 0
    errors: list[str] = field(default_factory=list)

    @staticmethod
    def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
        p = tp / (tp + fp) if tp + fp else 1.0
        r = tp / (tp + fn) if tp + fn else 1.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f

    def row(self, name: str) -> str:
        b = self.breaks
        bp, br, bf = self.prf(b["break_tp"], b["break_fp"], b["break_fn"])
        _, _, abf = self.prf(b["adj_break_tp"], b["adj_break_fp"], b["adj_break_fn"])
        jp, jr, jf = self.prf(b["join_tp"], b["join_fp"], b["join_fn"])
        ap, ar, af = self.prf(self.art_tp, self.art_fp, self.art_fn)
        decisions = b["join_tp"] + b["break_tp"] + b["join_fp"] + b["break_fp"]
        acc = (b["join_tp"] + b["break_tp"]) / decisions if decisions else 1.0
        mbs = self.chars / 1e6 / self.seconds if self.seconds else 0.0  # UTF-8 MB of page text
        return (
            f"| {name} | {self.pages} | {decisions} | {bp:.4f} / {br:.4f} / **{bf:.4f}** | "
            f"{abf:.4f} ({b['src_broken_join']}) | "
            f"{jp:.4f} / {jr:.4f} / {jf:.4f} | {acc:.4f} | {ap:.4f} / {ar:.4f} / **{af:.4f}** | "
            f"{self._ratio(self.headline_ok, self.headline_n)} | "
            f"{self._ratio(self.byline_ok, self.byline_n)} | "
            f"{self._ratio(self.para_ok, self.para_n)} | {mbs:.2f} |"
        )

    @staticmethod
    def _ratio(ok: int, n: int) -> str:
        return f"{ok / n:.4f} ({n})" if n else "–"


HEADER = (
    "| set | pages | decisions | break P / R / **F1** | break F1 w/o source breaks (n) | join P / R / F1 | "
    "accuracy | article boundary P / R / **F1** | headline acc | byline acc | paragraphs exact | MB/s |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def _outcome(pred_join: bool, true_join: bool) -> list[str]:
    if pred_join and true_join:
        return ["join_tp"]
    if pred_join:
        return ["join_fp", "break_fn"]
    if true_join:
        return ["join_fn", "break_fp"]
    return ["break_tp"]


def run_stages(lines: list[str]) -> tuple[list[Item], list, float]:
    # CPU time: wall time on a shared machine measures the neighbours too
    t0 = time.process_time()
    blocks, lev = build_blocks(lines, LayoutConfig())
    items, _ = segment_blocks(blocks, SegmentConfig())
    return items, lev, time.process_time() - t0


def score_page(page: RenderedPage, score: Score, lines: list[str] | None = None) -> None:
    """Run layout + segment on the page and add its counts to ``score``."""
    lines = lines if lines is not None else page.lines
    items, events, secs = run_stages(lines)
    score.pages += 1
    score.seconds += secs
    score.chars += sum(len(ln.encode("utf-8")) + 1 for ln in lines)
    para = page.line_para()
    for e in events:
        if e.line is None or e.line_end is None:
            continue
        a, b = para[e.line - 1], para[e.line_end - 1]
        if a is None or b is None:
            continue
        pred_join = e.rule.startswith(JOIN_RULES_PREFIX)
        true_join = a == b
        # The sources themselves break some paragraphs mid-sentence ("應正" / "式請假" in
        # tw-president-news): joining those is a repair, not an error. Counted apart.
        left = page.line_unit[e.line - 1]
        src_broken = (
            pred_join and not true_join and left is not None and not is_para_final(page.units[left].text)
        )
        if src_broken:
            score.breaks["src_broken_join"] += 1
        else:
            for key in _outcome(pred_join, true_join):
                score.breaks["adj_" + key] += 1
        if pred_join and true_join:
            score.breaks["join_tp"] += 1
        elif pred_join:
            score.breaks["join_fp"] += 1
            score.breaks["break_fn"] += 1
            if len(score.errors) < 400:
                score.errors.append(
                    f"false join {e.rule} L{e.line}: {lines[e.line - 1]!r} | {lines[e.line_end - 1]!r}"
                )
        elif true_join:
            score.breaks["join_fn"] += 1
            score.breaks["break_fp"] += 1
            if len(score.errors) < 400:
                score.errors.append(
                    f"false break {e.rule} L{e.line}: {lines[e.line - 1]!r} | {lines[e.line_end - 1]!r}"
                )
        else:
            score.breaks["break_tp"] += 1
    # Article boundaries: the first line of every true item (article or caption).
    art = page.line_article()
    truth_start: dict[int, int] = {}
    for i, aid in enumerate(art):
        if aid is not None and aid not in truth_start:
            truth_start[aid] = i + 1
    pred = {it.line_start: it for it in items if it.kind != "furniture"}
    true_starts = set(truth_start.values())
    score.art_tp += len(true_starts & set(pred))
    score.art_fp += len(set(pred) - true_starts)
    score.art_fn += len(true_starts - set(pred))
    if len(score.errors) < 400:
        for s in sorted(set(pred) - true_starts)[:3]:
            score.errors.append(f"false article start L{s}: {lines[s - 1]!r}")
        for s in sorted(true_starts - set(pred))[:3]:
            score.errors.append(f"missed article start L{s}: {lines[s - 1]!r}")
    for aid, start in truth_start.items():
        t: TruthItem = page.truth[aid]
        it = pred.get(start)
        score.headline_n += 1
        score.para_n += len(t.paragraphs)
        if t.byline:
            score.byline_n += 1
        if it is None:
            continue
        if [canon(h) for h in it.headline] == [canon(h) for h in t.headline] and canon(it.title) == canon(
            t.title
        ):
            score.headline_ok += 1
        elif len(score.errors) < 400:
            score.errors.append(f"headline {it.headline} title {it.title!r} != {t.headline} {t.title!r}")
        if t.byline:
            got = sorted((b.role, canon(b.name)) for b in it.byline)
            if got == sorted((r, canon(n)) for r, n in t.byline):
                score.byline_ok += 1
            elif len(score.errors) < 400:
                score.errors.append(f"byline {got} != {t.byline}")
        got_paras = [canon(p.text) for p in it.paragraphs]
        score.para_ok += sum(1 for p in t.paragraphs if canon(p) in got_paras)


# ---------------------------------------------------------------- sets


def _golden():
    spec = importlib.util.spec_from_file_location("seed_golden", REPO / "tests" / "test_seed_golden.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def seed_pages() -> Iterator[tuple[str, RenderedPage, list[str]]]:
    g = _golden()
    seed_text = g.SEED.read_text(encoding="utf-8")
    lines = seed_text.split("\n")
    units, where = seed_units(lines, g.SEED_ROLES)
    # Ground truth: golden paragraphs (broken joins share a paragraph id), items by golden order.
    truth: list[TruthItem] = []
    starts: list[int] = []
    for e in g.expected_items(lines):
        truth.append(
            TruthItem(
                kind=e["kind"],
                headline=e["headline"],
                title=e["title"],
                kicker=e["kicker"],
                paragraphs=e["paragraph_texts"],
                byline=e["byline"],
                byline_text=e["byline_text"],
            )
        )
        heads = [n for n, ln in enumerate(lines, 1) if e["headline"] and ln.strip() == e["headline"][0]]
        starts.append(heads[0] if heads else e["paragraphs"][0][0])
        for para in e["paragraphs"]:
            for n in para:
                units[where[n]].para = para[0]
    for n, ui in where.items():
        units[ui].article = max(i for i, s0 in enumerate(starts) if s0 <= n)
    for shape, opts in SHAPES.items():
        if opts.get("width"):
            page = render(
                units, truth, Layout(width=opts["width"], blank_lines=opts.get("blank_lines", False))
            )
            yield shape, page, page.lines
        else:
            data, _ = seed_shape(seed_text, g.SEED_ROLES, shape)
            dec = split_lines(data.decode(opts.get("encoding", "utf-8")))
            page = RenderedPage(
                lines=dec,
                line_unit=[where.get(n) for n in range(1, len(dec) + 1)],
                units=units,
                truth=truth,
                width=None,
            )
            yield shape, page, dec
    for w in (12, 16, 20, 22, 26, 28, 32, 36, 40, 48, 60):
        page = render(units, truth, Layout(width=w))
        yield f"wrap{w}", page, page.lines


def _corpus():
    from benchmarks import corpus

    root = corpus.corpora_dir()
    if root is None:
        print(
            f"real corpora not found under {corpus.shared_dir()}; skipping the corpus sets", file=sys.stderr
        )
    return corpus, root


def corpus_pages(name: str, n_pages: int, seed: int, widths: tuple[int, int]) -> Iterator[RenderedPage]:
    corpus, root = _corpus()
    if root is None:
        return
    rng = random.Random(f"{name}:{seed}")
    source = corpus.iter_tw_articles(root) if name.startswith("tw") else corpus.iter_law_articles(root)
    # Spread the sample over the corpus: skip a random number of articles between pages.
    made = 0
    batch: list = []
    want = rng.randint(2, 6)
    for art in source:
        if rng.random() < 0.8:
            continue
        if not art.title or not art.paragraphs:
            continue
        batch.append(art)
        if len(batch) < want:
            continue
        width_chars = rng.randint(*widths)
        yield assemble_page(
            batch,
            rng,
            width=width_chars * 2,
            indent=True,
            blank_lines=False,
            furniture=True,
            page_lines=60,
            bylines=0.5,
            leads=0.3,
            max_paragraphs=12,
        )
        made += 1
        batch, want = [], rng.randint(2, 6)
        if made >= n_pages:
            return


def chronam_report(n_pages: int, seed: int, sample: int) -> str:
    corpus, root = _corpus()
    if root is None:
        return ""
    from cleaning import english

    rng = random.Random(seed)
    decisions: Counter = Counter()
    disagree = 0
    examples: list[str] = []
    chars = 0
    secs = 0.0
    pages = 0
    joins = Counter()
    for _name, raw in corpus.iter_chronam_pages(root):
        if rng.random() > n_pages / 2325 * 1.2:
            continue
        text = raw.decode("utf-8", errors="replace")
        lines = split_lines(text)
        _items, events, s = run_stages(lines)
        secs += s
        chars += len(text.encode("utf-8"))
        pages += 1
        for e in events:
            joins[e.rule] += 1
            if e.rule in ("layout.dehyphenate", "layout.join_hyphenated_compound"):
                decisions[e.rule] += 1
                a = lines[e.line - 1].rstrip()
                b = lines[e.line_end - 1].lstrip()
                d = english.decide_hyphen(a, b)
                if d is not None and (d.remove_hyphen != (e.rule == "layout.dehyphenate")):
                    disagree += 1
                examples.append(
                    f"{e.rule.split('.')[1]:<26} {a[-18:]!r:>22} | {b[:18]!r:<22} → {e.detail[:70]}"
                )
        if pages >= n_pages:
            break
    rng.shuffle(examples)
    out = [
        f"chronam: {pages} pages, {chars / 1e6:.2f} MB, layout+segment {chars / 1e6 / secs:.2f} MB/s",
        "rules fired: " + ", ".join(f"{k}={v}" for k, v in joins.most_common()),
        f"hyphen decisions: {dict(decisions)}; disagreeing with a fresh wordfreq decision: {disagree}",
        f"random sample of {min(sample, len(examples))} hyphen decisions for hand checking:",
        *examples[:sample],
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=200, help="pages per corpus set")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sets", default="seed-shapes,tw-wrapped,tw-vertical,laws-wrapped,chronam")
    ap.add_argument("--sample", type=int, default=40, help="chronam hyphen decisions to print")
    ap.add_argument("--errors", type=int, default=0, help="print this many errors per set")
    args = ap.parse_args(argv)
    from cleaning.english import zipf
    from cleaning.layout import _jieba_freq

    _jieba_freq(LayoutConfig().min_seam_word_freq)  # load the dictionaries before timing anything
    zipf("the")
    sets = args.sets.split(",")
    print(HEADER)
    reports = []
    if "seed-shapes" in sets:
        total = Score()
        for _shape, page, lines in seed_pages():
            score_page(page, total, lines)
        print(total.row("seed-shapes"))
        reports.append(("seed-shapes", total))
    for name, widths in (("tw-wrapped", (10, 30)), ("tw-vertical", (5, 10)), ("laws-wrapped", (10, 30))):
        if name not in sets:
            continue
        score = Score()
        for page in corpus_pages(name, args.pages, args.seed, widths):
            score_page(page, score)
        if score.pages:
            print(score.row(name))
            reports.append((name, score))
    for name, score in reports:
        if args.errors and score.errors:
            print(f"\n{name}: first errors")
            for e in score.errors[: args.errors]:
                print("  ", e)
    if "chronam" in sets:
        print()
        print(chronam_report(min(args.pages, 200), args.seed, args.sample))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
