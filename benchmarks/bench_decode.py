"""Throughput of decode + repair + normalize on clean Chinese text, against plain ftfy.fix_text.

Both are measured in the same run on the same documents: Traditional Chinese
news (tw-president-news ``content``) and Simplified Chinese law texts
(cn-laws), from ``$PRESSWASH_SHARED/corpora`` (default ``../shared`` next to
the repository). Clean text should take the fast path: no ftfy call, no
mojibake search, regex/translate normalization only.

    python benchmarks/bench_decode.py [--docs 500] [--repeat 3]

Prints MB/s (of UTF-8 input bytes) per stage and overall, and the ratio to
``ftfy.fix_text`` (default configuration). A GBK-encoded copy of the law texts
shows what the scored (non-UTF-8) decode path costs.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import ftfy  # noqa: E402

from cleaning.decode import DecodeConfig, decode_bytes  # noqa: E402
from cleaning.normalize import NormalizeConfig, normalize_lines  # noqa: E402
from cleaning.pipeline import split_lines  # noqa: E402
from cleaning.repair import RepairConfig, repair_lines  # noqa: E402


def corpora_dir() -> Path:
    return Path(os.environ.get("PRESSWASH_SHARED", REPO.parent / "shared")) / "corpora"


def load(n_docs: int) -> dict[str, list[str]]:
    root = corpora_dir()
    tw_path, cn_path = root / "tw-president-news.jsonl.gz", root / "cn-laws.zip"
    if not tw_path.exists() or not cn_path.exists():
        sys.exit(f"corpora not found under {root}; set PRESSWASH_SHARED")
    with gzip.open(tw_path, "rt", encoding="utf-8") as fh:
        tw = [json.loads(line)["content"] for line in itertools.islice(fh, n_docs)]
    with zipfile.ZipFile(cn_path) as zf:
        names = sorted(n for n in zf.namelist() if n.endswith(".md"))[:n_docs]
        cn = [zf.read(n).decode("utf-8") for n in names]
    return {"tw-president-news": tw, "cn-laws": cn}


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=500, help="documents per corpus")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (best is reported)")
    args = ap.parse_args()
    dcfg, rcfg, ncfg = DecodeConfig(), RepairConfig(), NormalizeConfig()

    rows = []
    for name, docs in load(args.docs).items():
        variants = {"utf-8": [d.encode("utf-8") for d in docs]}
        if name == "cn-laws":
            variants["gbk"] = [d.encode("gb18030") for d in docs]
        for enc, blobs in variants.items():
            mb = sum(len(b) for b in blobs) / 1e6
            decoded = [split_lines(decode_bytes(b, dcfg).text) for b in blobs]
            repaired = [repair_lines(lines, rcfg)[0] for lines in decoded]

            t_decode = best_of(args.repeat, lambda blobs=blobs: [decode_bytes(b, dcfg) for b in blobs])
            t_repair = best_of(args.repeat, lambda d=decoded: [repair_lines(x, rcfg) for x in d])
            t_norm = best_of(args.repeat, lambda r=repaired: [normalize_lines(x, ncfg) for x in r])

            def whole(blobs: list[bytes] = blobs) -> None:
                for b in blobs:
                    lines = split_lines(decode_bytes(b, dcfg).text)
                    normalize_lines(repair_lines(lines, rcfg)[0], ncfg)

            t_all = best_of(args.repeat, whole)
            t_ftfy = best_of(args.repeat, lambda docs=docs: [ftfy.fix_text(d) for d in docs])
            rows.append((name, enc, mb, mb / t_decode, mb / t_repair, mb / t_norm, mb / t_all, mb / t_ftfy))

    print(f"throughput in MB/s of input bytes (best of {args.repeat} runs)")
    print(
        f"{'corpus':<18} {'input':<6} {'MB':>7} {'decode':>9} {'repair':>9} {'normalize':>10} "
        f"{'all 3':>9} {'ftfy.fix_text':>14} {'all3/ftfy':>10}"
    )
    for name, enc, mb, dec, rep, norm, allm, ft in rows:
        print(
            f"{name:<18} {enc:<6} {mb:7.1f} {dec:9.1f} {rep:9.1f} {norm:10.1f} "
            f"{allm:9.1f} {ft:14.2f} {allm / ft:9.1f}x"
        )


if __name__ == "__main__":
    main()
