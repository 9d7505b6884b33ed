"""Throughput and memory of the dedup stage on real paragraphs, beside the naive way and a peer.

Paragraphs come from the shared corpora (``$PRESSWASH_SHARED``, default
``../shared`` next to the repository): every paragraph of ``tw-president-news``
(Traditional Chinese), every text line of ``cn-laws`` (Simplified Chinese) and
paragraph-sized chunks of the ``chronam-1916-01`` OCR pages (English), a
document at a time from the corpus with the fewest bytes so far, until the
requested size is reached (the corpora are laid out again, with
fresh ids, if they are smaller). They are written as input shards; then

- map: ``dedup_map`` on every shard in ``--workers`` fresh processes, each
  writing its index file (CPU seconds of ``dedup_map`` itself are counted);
- signatures: the numpy part alone (shingles, MinHash, band hashes) on the
  first shards, in this process, from precomputed keys;
- reduce: ``dedup_reduce`` over all index files in a fresh process (CPU, wall,
  peak RSS), and over 25% and 50% of them to show how memory grows;
- naive: per-paragraph datasketch ``MinHash.update`` per shingle + ``MinHashLSH``
  insert and query (same keys and shingles, no verification) on a content sample
  of ``--naive-mb``, scaled per MB;
- peer: datatrove's MinHash dedup (``benchmarks.peer``) and presswash on the same
  ``--peer-mb`` sample per language, when datatrove is installed.

Rates are MB of UTF-8 paragraph text per CPU second (= per core).

    python -m benchmarks.bench_dedup --mb 100
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing as mp
import os
import random
import re
import resource
import shutil
import sys
import tempfile
import time
import zipfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

MB = 1_000_000
PARAGRAPHS_PER_ARTICLE = 8


def shared_dir() -> Path:
    env = os.environ.get("PRESSWASH_SHARED")
    return Path(env) if env else REPO.parent / "shared"


# --------------------------------------------------------------------------- input


def _tw(corpora: Path) -> list[list[str]]:
    docs = []
    with gzip.open(corpora / "tw-president-news.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            content = json.loads(line).get("content") or ""
            paras = [p.strip() for p in re.split(r"\n\s*\n", content) if p.strip()]
            if paras:
                docs.append(paras)
    return docs


def _laws(corpora: Path) -> list[list[str]]:
    docs = []
    with zipfile.ZipFile(corpora / "cn-laws.zip") as zf:
        for name in sorted(zf.namelist()):
            if name.endswith(".md"):
                text = zf.read(name).decode("utf-8", "replace")
                paras = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
                if paras:
                    docs.append(paras)
    return docs


def _chronam(corpora: Path) -> list[list[str]]:
    rng = random.Random(3)
    docs = []
    with zipfile.ZipFile(corpora / "chronam-1916-01.zip") as zf:
        for name in sorted(zf.namelist()):
            if not name.endswith(".txt"):
                continue
            text = zf.read(name).decode("utf-8", "replace").replace("\u00ad", "")
            words = re.sub(r"-\n(?=[a-z])", "", text).split()
            paras, i = [], 0
            while i < len(words):
                k = rng.randint(40, 120)
                paras.append(" ".join(words[i : i + k]))
                i += k
            if paras:
                docs.append(paras)
    return docs


def build_input(target_mb: float, shard_mb: float, out: Path) -> tuple[list[Path], dict]:
    corpora = shared_dir() / "corpora"
    if not corpora.exists():
        raise SystemExit(f"shared corpora not found under {corpora}; set PRESSWASH_SHARED")
    sources = {"tw": _tw(corpora), "laws": _laws(corpora), "chronam": _chronam(corpora)}
    rows: dict[str, list] = {
        k: [] for k in ("id", "article_id", "source_path", "position", "article_position", "text")
    }
    total, shard_bytes, shard_no = 0, 0, 0
    paths: list[Path] = []
    per_corpus: Counter = Counter()
    cursors = {name: 0 for name in sources}
    generation = {name: 0 for name in sources}

    def flush() -> None:
        nonlocal shard_bytes, shard_no, rows
        if not rows["id"]:
            return
        path = out / f"input-{shard_no:04d}.parquet"
        pq.write_table(pa.table(rows), path)
        paths.append(path)
        shard_no += 1
        shard_bytes = 0
        rows = {k: [] for k in rows}

    names = list(sources)
    while total < target_mb * MB:
        # the corpus with the fewest bytes so far, so the three are balanced by size
        name = min(names, key=lambda k: (per_corpus[k], k))
        docs = sources[name]
        doc_no = cursors[name]
        if doc_no >= len(docs):
            cursors[name] = doc_no = 0
            generation[name] += 1
        cursors[name] += 1
        source = f"{name}/g{generation[name]}/{doc_no:06d}"
        for p_no, text in enumerate(docs[doc_no]):
            art = p_no // PARAGRAPHS_PER_ARTICLE
            rows["id"].append(f"{source}#{p_no}")
            rows["article_id"].append(f"{source}@{art}")
            rows["source_path"].append(source)
            rows["position"].append(p_no % PARAGRAPHS_PER_ARTICLE)
            rows["article_position"].append(art)
            rows["text"].append(text)
            size = len(text.encode())
            total += size
            shard_bytes += size
            per_corpus[name] += size
        if shard_bytes >= shard_mb * MB:
            flush()
    flush()
    return paths, {"bytes": total, "per_corpus_bytes": dict(per_corpus), "repeated": dict(generation)}


# --------------------------------------------------------------------------- phases (child processes)


def _peak_rss_mb() -> float:
    """Peak RSS of this process since it started its program.

    ``ru_maxrss`` survives ``exec``: a spawned worker would report at least the
    RSS of the parent it was forked from (the input lists, hundreds of MB), so
    the kernel's per-address-space high-water mark is read where there is one.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _map_one(args: tuple[str, str, dict]) -> dict:
    from cleaning.dedup import DedupConfig, dedup_map

    src, dst, cfg_dict = args
    cfg = DedupConfig(**cfg_dict)
    table = pq.read_table(src)
    nbytes = sum(len(t.encode()) for t in table.column("text").to_pylist())
    c0 = time.process_time()
    index = dedup_map(table, cfg)
    cpu = time.process_time() - c0
    pq.write_table(index, dst)
    return {"cpu": cpu, "bytes": nbytes, "rows": table.num_rows, "rss_mb": _peak_rss_mb()}


def _reduce(args: tuple[list[str], dict]) -> dict:
    from cleaning.dedup import DedupConfig, dedup_reduce

    paths, cfg_dict = args
    cfg = DedupConfig(**cfg_dict)
    c0, w0 = time.process_time(), time.perf_counter()
    decisions = dedup_reduce(paths, cfg)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    status = Counter(decisions.column("status").to_pylist())
    relation = Counter(r for r in decisions.column("relation").to_pylist() if r)
    return {
        "cpu": cpu,
        "wall": wall,
        "rows": decisions.num_rows,
        "status": dict(status),
        "relation": dict(relation),
        "rss_mb": _peak_rss_mb(),
    }


def _in_fresh_process(fn, arg):
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, (arg,))


# --------------------------------------------------------------------------- measurements


def signatures_only(paths: list[Path], limit_mb: float, cfg) -> dict:
    """The numpy signature path alone: shingles, MinHash, band hashes (keys precomputed)."""
    from cleaning.dedup.key import keys_and_units
    from cleaning.dedup.minhash import band_hashes, encode, minhash_signatures, shingle_hashes

    cpu = key_cpu = 0.0
    nbytes = 0
    for path in paths:
        texts = pq.read_table(path, columns=["text"]).column("text").to_pylist()
        nbytes += sum(len(t.encode()) for t in texts)
        c0 = time.process_time()
        keys, units = keys_and_units(texts, cfg)
        key_cpu += time.process_time() - c0
        u = np.asarray(units, dtype=np.int8)
        c0 = time.process_time()
        step = 20_000
        for lo in range(0, len(keys), step):
            enc = encode(keys[lo : lo + step], u[lo : lo + step])
            h, counts = shingle_hashes(enc, u[lo : lo + step], cfg)
            ok = counts > 0
            band_hashes(minhash_signatures(h, counts[ok], cfg), cfg)
        cpu += time.process_time() - c0
        if nbytes >= limit_mb * MB:
            break
    return {"bytes": nbytes, "cpu": cpu, "key_cpu": key_cpu}


def naive(paths: list[Path], limit_mb: float, cfg, seed: int = 0) -> dict:
    """Per-paragraph datasketch MinHash.update + MinHashLSH insert/query on a content sample."""
    from datasketch import MinHash, MinHashLSH

    from cleaning.dedup.key import UNIT_WORD, key_and_unit

    texts: list[str] = []
    for path in paths:
        texts.extend(pq.read_table(path, columns=["text"]).column("text").to_pylist())
    rng = random.Random(seed)
    rng.shuffle(texts)
    sample, nbytes = [], 0
    for t in texts:
        if nbytes >= limit_mb * MB:
            break
        sample.append(t)
        nbytes += len(t.encode())
    c0 = time.process_time()
    lsh = MinHashLSH(threshold=cfg.near_threshold, num_perm=cfg.num_perm)
    sketches = []
    for i, text in enumerate(sample):
        key, unit = key_and_unit(text, cfg)
        if unit == UNIT_WORD:
            toks, n = key.split(), cfg.word_ngram
            grams = [" ".join(toks[j : j + n]) for j in range(max(1, len(toks) - n + 1))]
        else:
            n = cfg.char_ngram
            grams = [key[j : j + n] for j in range(max(1, len(key) - n + 1))]
        m = MinHash(num_perm=cfg.num_perm, seed=cfg.seed)
        for g in grams:
            m.update(g.encode("utf-8"))
        lsh.insert(str(i), m)
        sketches.append(m)
    candidates = sum(len(lsh.query(m)) - 1 for m in sketches)
    cpu = time.process_time() - c0
    return {"bytes": nbytes, "paragraphs": len(sample), "cpu": cpu, "candidate_links": candidates}


def peer(paths: list[Path], limit_mb: float, cfg, work: Path) -> dict:
    """datatrove's MinHash dedup and presswash map+reduce on the same sample, per language."""
    try:
        from benchmarks import peer as peer_mod
    except ImportError as exc:
        return {"skipped": f"benchmarks.peer not importable: {exc}"}
    why = peer_mod.available()
    if why is not None:
        return {"skipped": f"datatrove not importable ({why})"}
    from cleaning.dedup import dedup_map, dedup_reduce

    table = pa.concat_tables(pq.read_table(p) for p in paths)
    sources = table.column("source_path").to_pylist()
    out = {}
    for lang, prefixes in (("cmn", ("tw/", "laws/")), ("eng", ("chronam/",))):
        idx = [i for i, s in enumerate(sources) if s.startswith(prefixes)]
        random.Random(1).shuffle(idx)
        take, nbytes = [], 0
        texts = table.column("text")
        for i in idx:
            if nbytes >= limit_mb * MB:
                break
            take.append(i)
            nbytes += len(texts[i].as_py().encode())
        sub = table.take(pa.array(sorted(take), pa.int64()))
        c0 = time.process_time()
        half = sub.num_rows // 2
        ipaths = []
        for k, part in enumerate((sub.slice(0, half), sub.slice(half))):
            ip = work / f"peer-{lang}-{k}.parquet"
            pq.write_table(dedup_map(part, cfg), ip)
            ipaths.append(ip)
        decisions = dedup_reduce(ipaths, cfg)
        ours = time.process_time() - c0
        flagged = sum(1 for s in decisions.column("status").to_pylist() if s != "kept")
        theirs = peer_mod.run_datatrove(sub.column("text").to_pylist(), lang)
        out[lang] = {
            "bytes": nbytes,
            "paragraphs": sub.num_rows,
            "presswash_cpu": ours,
            "presswash_flagged": flagged,
            "datatrove_cpu": theirs.cpu_total,
            "datatrove_steps": theirs.cpu,
            "datatrove_removed": theirs.removed,
        }
    return out


# --------------------------------------------------------------------------- main


def _rate(nbytes: float, cpu: float) -> float:
    return nbytes / MB / cpu if cpu > 0 else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=100.0, help="MB of paragraph text (UTF-8)")
    ap.add_argument("--shard-mb", type=float, default=8.0, help="MB per map shard")
    ap.add_argument("--workers", type=int, default=1, help="map processes")
    ap.add_argument("--signature-mb", type=float, default=20.0, help="MB for the signature-only pass")
    ap.add_argument("--naive-mb", type=float, default=2.0, help="MB for the naive baseline sample")
    ap.add_argument("--peer-mb", type=float, default=5.0, help="MB per language for datatrove (0: skip)")
    ap.add_argument("--work", type=Path, help="work directory (default: a temporary one, removed)")
    ap.add_argument("--json", type=Path, help="write the results as JSON here")
    args = ap.parse_args(argv)

    from cleaning.dedup import DedupConfig, expected_error_rates

    cfg = DedupConfig()
    cfg_dict = cfg.model_dump()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-dedup-"))
    work.mkdir(parents=True, exist_ok=True)
    res: dict = {"config": cfg_dict, "lsh": expected_error_rates(cfg), "cpu_count": os.cpu_count()}
    try:
        t0 = time.perf_counter()
        inputs, info = build_input(args.mb, args.shard_mb, work)
        res["input"] = info | {"shards": len(inputs), "build_seconds": time.perf_counter() - t0}
        print(f"input: {info['bytes'] / MB:.1f} MB in {len(inputs)} shards {info['per_corpus_bytes']}")

        index_paths = [work / f"index-{i:04d}.parquet" for i in range(len(inputs))]
        jobs = [(str(s), str(d), cfg_dict) for s, d in zip(inputs, index_paths, strict=True)]
        w0 = time.perf_counter()
        with mp.get_context("spawn").Pool(args.workers) as pool:
            maps = pool.map(_map_one, jobs, chunksize=1)
        map_wall = time.perf_counter() - w0
        map_cpu = sum(m["cpu"] for m in maps)
        nbytes = sum(m["bytes"] for m in maps)
        res["map"] = {
            "cpu": map_cpu,
            "wall": map_wall,
            "workers": args.workers,
            "rss_mb_max": max(m["rss_mb"] for m in maps),
            "index_mb": sum(p.stat().st_size for p in index_paths) / MB,
            "mb_per_cpu_s": _rate(nbytes, map_cpu),
        }
        m = res["map"]
        print(
            f"map: {m['mb_per_cpu_s']:.1f} MB/s per core, wall {map_wall:.1f}s, RSS {m['rss_mb_max']:.0f} MB"
        )

        sig = signatures_only(inputs, args.signature_mb, cfg)
        res["signatures"] = sig | {"mb_per_cpu_s": _rate(sig["bytes"], sig["cpu"])}
        sig_rate, key_rate = _rate(sig["bytes"], sig["cpu"]), _rate(sig["bytes"], sig["key_cpu"])
        print(f"signatures (numpy part): {sig_rate:.1f} MB/s per core; keys {key_rate:.1f} MB/s per core")

        red = {}
        for share in (0.25, 0.5, 1.0):
            part = [str(p) for p in index_paths[: max(1, round(len(index_paths) * share))]]
            red[str(share)] = _in_fresh_process(_reduce, (part, cfg_dict))
            r = red[str(share)]
            print(
                f"reduce {share:.0%}: {r['rows']} paragraphs, cpu {r['cpu']:.1f}s, RSS {r['rss_mb']:.0f} MB"
            )
        full = red["1.0"]
        res["reduce"] = red
        stage_cpu = map_cpu + full["cpu"]
        res["stage"] = {"cpu": stage_cpu, "mb_per_cpu_s": _rate(nbytes, stage_cpu)}
        print(f"stage (map + reduce): {res['stage']['mb_per_cpu_s']:.1f} MB/s per core")
        print(f"  decisions: {full['status']} {full['relation']}")

        nv = naive(inputs, args.naive_mb, cfg)
        res["naive"] = nv | {"mb_per_cpu_s": _rate(nv["bytes"], nv["cpu"])}
        ratio = _rate(nbytes, stage_cpu) / _rate(nv["bytes"], nv["cpu"])
        res["stage_vs_naive"] = ratio
        naive_rate = res["naive"]["mb_per_cpu_s"]
        print(f"naive datasketch: {naive_rate:.2f} MB/s/core on {nv['bytes'] / MB:.1f} MB; ours {ratio:.0f}x")

        if args.peer_mb > 0:
            res["peer"] = peer(inputs, args.peer_mb, cfg, work)
            for lang, p in res["peer"].items():
                if isinstance(p, dict):
                    ours, theirs = (
                        _rate(p["bytes"], p["presswash_cpu"]),
                        _rate(p["bytes"], p["datatrove_cpu"]),
                    )
                    print(
                        f"peer {lang}: {p['bytes'] / MB:.1f} MB: presswash {ours:.2f} MB/s per core "
                        f"({p['presswash_flagged']} flagged), datatrove {theirs:.2f} MB/s per core "
                        f"({p['datatrove_removed']} removed): {ours / theirs:.0f}x"
                    )
                else:
                    print(f"peer: {p}")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
