"""Accuracy of the dedup stage on labelled sets built in code from real text.

Base paragraphs are sampled from the shared corpora (``$PRESSWASH_SHARED``,
default ``../shared`` next to the repository): ``tw-president-news``
(Traditional Chinese news), ``cn-laws`` (Simplified Chinese law texts) and
``chronam-1916-01`` (English raw OCR, cut into paragraph-sized chunks). Each
base paragraph gets labelled copies:

- ``exact``: the same text with other punctuation widths and spacing;
- ``near``: OCR-like noise (confusable characters, dropped characters, split
  or joined words) at 1-4% of characters, or a reprint with an edit (a phrase
  replaced, inserted or deleted) plus light noise;
- ``prefix`` / ``suffix`` / ``inner``: a truncation keeping 20-90% of the text
  (the beginning, the end, or a middle part), half of them with light noise.

Unrelated paragraphs of the same corpora are mixed in, everything is shuffled
into several source files, then ``dedup_map`` + ``dedup_reduce`` run on it.
Reported per corpus and relation: precision and recall of the flag (pointing
into the right group) and of the typed relation; the adjusted Rand index of the
clusters; flags between unlabelled paragraphs (natural duplicates of the
corpora, printed for inspection, counted as false positives). Also the seed
page (3 flagged, 0 false flags).

    python -m benchmarks.dedup_eval                 # default settings
    python -m benchmarks.dedup_eval --sweep         # n-gram and threshold sweep
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import sys
import tempfile
import time
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from cleaning.dedup import DedupConfig, dedup_key, dedup_map, dedup_reduce  # noqa: E402

RELATIONS = ("exact", "near", "prefix", "suffix", "inner")
SEED_PAGE = REPO / "data" / "raw" / "000_77a03ed607cd6b14.txt"

# Glyphs OCR engines confuse (both scripts), and Latin-script confusions.
ZH_CONFUSABLE = [
    "己已巳",
    "末未",
    "土士",
    "日曰",
    "人入八",
    "大太犬",
    "天夭",
    "王玉主",
    "田由甲申",
    "木本术",
    "刀力",
    "千干于",
    "侯候",
    "戍戌戊",
    "贝见",
    "貝見",
    "问间",
    "問間",
    "折拆",
    "休体",
    "免兔",
    "今令",
    "准淮",
    "壁璧",
    "辨辩辫",
    "治冶",
    "汩汨",
    "拔拨",
    "候侯",
    "晴睛",
    "崇祟",
    "祖组",
    "厂广",
    "处外",
    "鸟乌",
    "鳥烏",
    "白自",
    "目且",
    "子孑",
    "斤斥",
    "市巿",
    "未朱",
    "午牛",
]
EN_CONFUSABLE = [
    ("rn", "m"),
    ("m", "rn"),
    ("l", "1"),
    ("I", "l"),
    ("O", "0"),
    ("e", "c"),
    ("c", "e"),
    ("h", "b"),
    ("u", "n"),
    ("n", "u"),
    ("d", "cl"),
    ("S", "5"),
    ("B", "8"),
    ("i", "l"),
]
_ZH_MAP = {ch: group for group in ZH_CONFUSABLE for ch in group}


def shared_dir() -> Path:
    env = os.environ.get("PRESSWASH_SHARED")
    return Path(env) if env else REPO.parent / "shared"


# --------------------------------------------------------------------------- real text


def tw_paragraphs(corpora: Path) -> list[str]:
    out = []
    with gzip.open(corpora / "tw-president-news.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            content = json.loads(line).get("content") or ""
            out.extend(p.strip() for p in re.split(r"\n\s*\n", content) if len(p.strip()) >= 80)
    return out


def law_paragraphs(corpora: Path) -> list[str]:
    out = []
    with zipfile.ZipFile(corpora / "cn-laws.zip") as zf:
        for name in zf.namelist():
            if not name.endswith(".md"):
                continue
            for line in zf.read(name).decode("utf-8", "replace").splitlines():
                line = line.strip()
                if len(line) >= 80 and not line.startswith(("#", "<", "|")):
                    out.append(line)
    return out


def chronam_paragraphs(corpora: Path, words_per_para: tuple[int, int] = (50, 120)) -> list[str]:
    rng = random.Random(5)
    out = []
    with zipfile.ZipFile(corpora / "chronam-1916-01.zip") as zf:
        for name in sorted(zf.namelist()):
            if not name.endswith(".txt"):
                continue
            text = zf.read(name).decode("utf-8", "replace").replace("\u00ad", "")
            text = re.sub(r"-\n(?=[a-z])", "", text)
            words = [w for w in text.split() if any(c.isalpha() for c in w)]
            i = 0
            while i + words_per_para[0] < len(words):
                k = rng.randint(*words_per_para)
                out.append(" ".join(words[i : i + k]))
                i += k
    return out


# --------------------------------------------------------------------------- variants


def ocr_noise(text: str, rate: float, rng: random.Random, english: bool) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        r = rng.random()
        if r < rate * 0.35:  # dropped
            i += 1
            continue
        if r < rate:
            if english:
                opts = [(a, b) for a, b in EN_CONFUSABLE if text.startswith(a, i)]
                if opts:
                    a, b = rng.choice(opts)
                    out.append(b)
                    i += len(a)
                    continue
                if ch == " ":  # joined words
                    i += 1
                    continue
                if ch.isalpha():  # split word
                    out.append(ch + " ")
                    i += 1
                    continue
            else:
                group = _ZH_MAP.get(ch)
                if group:
                    out.append(rng.choice([g for g in group if g != ch]))
                    i += 1
                    continue
                if "\u4e00" <= ch <= "\u9fff":
                    out.append(rng.choice("口日曰目田白"))
                    i += 1
                    continue
        out.append(ch)
        i += 1
    return "".join(out)


def widths(text: str) -> str:
    return text.translate(str.maketrans({",": "，", "，": ",", ";": "；", ":": "：", "。": "．"}))


def edit(text: str, rng: random.Random, english: bool) -> str:
    units = text.split(" ") if english else list(text)
    n = len(units)
    k = max(1, int(n * rng.uniform(0.03, 0.08)))
    at = rng.randrange(0, max(1, n - k))
    op = rng.choice(["replace", "insert", "delete"])
    filler = ["the", "said", "today", "official"] if english else list("据报道今日记者称")
    new = [rng.choice(filler) for _ in range(k)]
    if op == "replace":
        units[at : at + k] = new
    elif op == "insert":
        units[at:at] = new
    else:
        del units[at : at + k]
    return (" " if english else "").join(units)


def truncate(text: str, kind: str, frac: float, english: bool) -> str:
    units = text.split(" ") if english else list(text)
    n = len(units)
    k = max(1, round(n * frac))
    if kind == "prefix":
        part = units[:k]
    elif kind == "suffix":
        part = units[n - k :]
    else:  # inner: strictly inside, away from both ends
        lo, hi = int(n * 0.05) + 1, n - k - int(n * 0.05) - 1
        start = (lo + hi) // 2 if hi <= lo else random.Random(n + k).randint(lo, hi)
        part = units[start : start + k]
    return (" " if english else "").join(part)


@dataclass(slots=True)
class Item:
    id: str
    text: str
    group: str | None  # base paragraph id of its labelled group; None for unrelated text
    label: str | None  # relation of this copy to the base; None for bases and unrelated text


def build_set(name: str, paragraphs: list[str], n_base: int, n_unrelated: int, seed: int) -> list[Item]:
    rng = random.Random(seed)
    english = name == "chronam"
    # distinct by key, so the base sample holds no exact repeats of its own
    seen: set[str] = set()
    pool = []
    for p in rng.sample(paragraphs, min(len(paragraphs), 4 * (n_base + n_unrelated))):
        k = dedup_key(p)
        if k not in seen:
            seen.add(k)
            pool.append(p)
    bases, unrelated = pool[:n_base], pool[n_base : n_base + n_unrelated]
    items: list[Item] = []
    kinds = ["exact", "noise", "edit", "prefix", "suffix", "inner"]
    for b_no, base in enumerate(bases):
        gid = f"{name}-b{b_no:05d}"
        items.append(Item(gid, base, gid, None))
        for v_no, kind in enumerate(rng.sample(kinds, 2)):
            vid = f"{gid}-v{v_no}"
            if kind == "exact":
                items.append(Item(vid, widths(base), gid, "exact"))
            elif kind == "noise":
                items.append(Item(vid, ocr_noise(base, rng.uniform(0.01, 0.04), rng, english), gid, "near"))
            elif kind == "edit":
                text = ocr_noise(edit(base, rng, english), 0.01, rng, english)
                items.append(Item(vid, text, gid, "near"))
            else:
                text = truncate(base, kind, rng.uniform(0.2, 0.9), english)
                if rng.random() < 0.5:
                    text = ocr_noise(text, 0.01, rng, english)
                items.append(Item(vid, text, gid, kind))
    for u_no, text in enumerate(unrelated):
        items.append(Item(f"{name}-u{u_no:05d}", text, None, None))
    return items


# --------------------------------------------------------------------------- scoring


def ari(labels_true: list, labels_pred: list) -> float:
    """Adjusted Rand index (Hubert & Arabie)."""

    def comb2(x: np.ndarray) -> float:
        return float((x * (x - 1) / 2).sum())

    t = {v: i for i, v in enumerate(dict.fromkeys(labels_true))}
    p = {v: i for i, v in enumerate(dict.fromkeys(labels_pred))}
    pairs = Counter((t[a], p[b]) for a, b in zip(labels_true, labels_pred, strict=True))
    nij = np.array(list(pairs.values()), dtype=np.float64)
    a = np.bincount([t[x] for x in labels_true]).astype(np.float64)
    b = np.bincount([p[x] for x in labels_pred]).astype(np.float64)
    n = len(labels_true)
    index, sa, sb = comb2(nij), comb2(a), comb2(b)
    expected = sa * sb / (n * (n - 1) / 2)
    maximum = (sa + sb) / 2
    return 1.0 if maximum == expected else (index - expected) / (maximum - expected)


def run_dedup(items: list[Item], cfg: DedupConfig, files: int = 5, seed: int = 0) -> dict[str, dict]:
    rng = random.Random(seed)
    order = list(range(len(items)))
    rng.shuffle(order)
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for f in range(files):
            idx = order[f::files]
            table = pa.table(
                {
                    "id": [items[i].id for i in idx],
                    "article_id": [f"art-{i // 7}" for i in idx],
                    "source_path": [f"src-{f}.txt"] * len(idx),
                    "position": pa.array([i % 7 for i in idx], pa.int32()),
                    "article_position": pa.array([i // 7 for i in idx], pa.int32()),
                    "text": [items[i].text for i in idx],
                }
            )
            path = Path(tmp) / f"{f}.parquet"
            pq.write_table(dedup_map(table, cfg), path)
            paths.append(path)
        return {r["id"]: r for r in dedup_reduce(paths, cfg).to_pylist()}


def score(items: list[Item], got: dict[str, dict]) -> dict:
    by_id = {it.id: it for it in items}
    label_of = {it.id: it.label for it in items}
    group_of = {it.id: it.group for it in items}
    found = Counter()
    typed = Counter()
    total = Counter(it.label for it in items if it.label)
    for it in items:
        if not it.label:
            continue
        r = got[it.id]
        ok = r["status"] != "kept" and group_of.get(r["duplicate_of"]) == it.group
        base = got[it.group]
        # a near/exact copy longer than its base is canonical: then the base points at it
        if not ok and it.label in ("near", "exact") and base["duplicate_of"] == it.id:
            ok = True
            found[it.label] += 1
            typed[it.label] += base["relation"] in ("near", "exact")
            continue
        found[it.label] += ok
        typed[it.label] += ok and r["relation"] == it.label
    pred = Counter()
    pred_ok = Counter()
    natural = []
    for rid, r in got.items():
        if r["status"] == "kept":
            continue
        rel = r["relation"]
        pred[rel] += 1
        it, target = by_id[rid], r["duplicate_of"]
        same = it.group is not None and group_of.get(target) == it.group
        if same:
            expected = label_of[rid] or label_of[target]
            pred_ok[rel] += expected == rel or (rel in ("near", "exact") and expected in ("near", "exact"))
        elif it.label is None and label_of.get(target) is None:
            natural.append((rid, target, rel, r["similarity"]))
    confusion = Counter()
    for it in items:
        if it.label:
            r = got[it.id]
            if r["status"] == "kept" and got[it.group]["duplicate_of"] == it.id:
                r = got[it.group]  # the copy is the canonical one: its base points at it
            confusion[(it.label, r["relation"] if r["status"] != "kept" else "kept")] += 1
    true_cluster = [it.group or it.id for it in items]
    pred_cluster = [got[it.id]["cluster_id"] or it.id for it in items]
    out = {
        "recall": {k: found[k] / total[k] for k in RELATIONS if total[k]},
        "typed_recall": {k: typed[k] / total[k] for k in RELATIONS if total[k]},
        "precision": {k: pred_ok[k] / pred[k] for k in RELATIONS if pred[k]},
        "flags": dict(pred),
        "labelled": dict(total),
        "natural_flags": natural,
        "confusion": {f"{a}->{b}": c for (a, b), c in sorted(confusion.items())},
        "ari": ari(true_cluster, pred_cluster),
    }
    flagged_ok = sum(pred_ok.values())
    out["precision_all"] = flagged_ok / max(1, sum(pred.values()))
    out["recall_all"] = sum(found.values()) / max(1, sum(total.values()))
    return out


def seed_check(cfg: DedupConfig) -> dict:
    paras = [p.strip() for p in re.split(r"\n\s*\n", SEED_PAGE.read_text(encoding="utf-8")) if p.strip()]
    items = [Item(f"seed-{i:03d}", p, None, None) for i, p in enumerate(paras)]
    got = run_dedup(items, cfg, files=1)
    start = next(i for i, p in enumerate(paras) if p.startswith("女镇长直播带货")) + 1
    flagged = sorted(int(k.split("-")[1]) - start for k, r in got.items() if r["status"] != "kept")
    return {"flagged_article_paragraphs": flagged, "expected": [4, 5, 6], "ok": flagged == [4, 5, 6]}


# --------------------------------------------------------------------------- main


def load_sets(n_base: int, n_unrelated: int, seed: int) -> dict[str, list[Item]]:
    corpora = shared_dir() / "corpora"
    if not corpora.exists():
        print(f"shared corpora not found under {corpora}; set PRESSWASH_SHARED", file=sys.stderr)
        raise SystemExit(2)
    sources = {
        "tw-president-news": tw_paragraphs(corpora),
        "cn-laws": law_paragraphs(corpora),
        "chronam": chronam_paragraphs(corpora),
    }
    return {name: build_set(name, paras, n_base, n_unrelated, seed) for name, paras in sources.items()}


def _fmt(d: dict) -> str:
    return " ".join(f"{k}={v:.3f}" for k, v in d.items())


def report(name: str, res: dict, seconds: float) -> None:
    print(
        f"  {name}: ARI={res['ari']:.3f} P={res['precision_all']:.3f} "
        f"R={res['recall_all']:.3f} ({seconds:.1f}s)"
    )
    print(f"    recall       {_fmt(res['recall'])}")
    print(f"    typed recall {_fmt(res['typed_recall'])}")
    print(f"    precision    {_fmt(res['precision'])}")
    print(f"    natural flags (unlabelled pairs): {len(res['natural_flags'])}")
    print(f"    label->predicted {res['confusion']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bases", type=int, default=600, help="base paragraphs per corpus")
    ap.add_argument("--unrelated", type=int, default=1500, help="unrelated paragraphs per corpus")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sweep", action="store_true", help="sweep char n-gram and near threshold")
    ap.add_argument("--show-natural", type=int, default=3, help="print this many natural flags per set")
    ap.add_argument("--json", type=Path, help="write all results as JSON here")
    args = ap.parse_args(argv)

    sets = load_sets(args.bases, args.unrelated, args.seed)
    zh, en = ("tw-president-news", "cn-laws"), ("chronam",)
    configs: list[tuple[str, DedupConfig, tuple[str, ...]]] = [("default", DedupConfig(), (*zh, *en))]
    if args.sweep:
        for n in (2, 3, 4, 5):
            for t in (0.5, 0.6, 0.7):
                configs.append((f"char_ngram={n} near={t}", DedupConfig(char_ngram=n, near_threshold=t), zh))
        for n in (1, 2, 3):
            for t in (0.5, 0.6, 0.7):
                configs.append((f"word_ngram={n} near={t}", DedupConfig(word_ngram=n, near_threshold=t), en))
        for n in (4, 5, 6):
            for t in (0.6, 0.7):
                cfg = DedupConfig(latin_unit="char", latin_char_ngram=n, near_threshold=t)
                configs.append((f"latin_unit=char latin_char_ngram={n} near={t}", cfg, en))
        configs.append(("no anchors (LSH + head/tail only)", DedupConfig(max_anchors=0), (*zh, *en)))
    results: dict[str, dict] = {}
    for label, cfg, names in configs:
        print(f"[{label}] seed page: {seed_check(cfg)}")
        results[label] = {}
        for name in names:
            items = sets[name]
            t0 = time.perf_counter()
            got = run_dedup(items, cfg, seed=args.seed)
            res = score(items, got)
            report(name, res, time.perf_counter() - t0)
            by_id = {it.id: it.text for it in items}
            for rid, target, rel, sim in res["natural_flags"][: args.show_natural]:
                print(f"      {rel} sim={sim:.2f}: {by_id[rid][:50]!r} ~ {by_id[target][:50]!r}")
            res["natural_flags"] = len(res["natural_flags"])
            results[label][name] = res
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
