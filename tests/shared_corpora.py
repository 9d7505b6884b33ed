"""Samples of the real corpora for tests, read in place from ``$PRESSWASH_SHARED/corpora``.

The corpora are not part of the repository (``PRESSWASH_SHARED`` defaults to
``../shared`` next to it); every helper here skips the calling test when they
are absent, so the suite still runs anywhere.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import random
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TW_NEWS = "tw-president-news.jsonl.gz"
CN_LAWS = "cn-laws.zip"
CHRONAM = "chronam-1916-01.zip"


def corpora_dir() -> Path:
    return Path(os.environ.get("PRESSWASH_SHARED", REPO.parent / "shared")) / "corpora"


def _require(*names: str) -> list[Path]:
    paths = [corpora_dir() / n for n in names]
    if not all(p.exists() for p in paths):
        pytest.skip("shared corpora not available (set PRESSWASH_SHARED)")
    return paths


def tw_contents(n: int) -> list[str]:
    """The ``content`` of the first ``n`` Taiwan president news records (Traditional Chinese)."""
    (path,) = _require(TW_NEWS)
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(rec)["content"] for rec in itertools.islice(fh, n)]


def _zip_sample(name: str, suffix: str, n: int, seed: int, errors: str = "strict") -> list[str]:
    (path,) = _require(name)
    with zipfile.ZipFile(path) as zf:
        names = sorted(m for m in zf.namelist() if m.endswith(suffix))
        return [zf.read(m).decode("utf-8", errors=errors) for m in random.Random(seed).sample(names, n)]


def cn_law_texts(n: int, seed: int) -> list[str]:
    """``n`` PRC law texts (Simplified Chinese Markdown), sampled with ``seed``."""
    return _zip_sample(CN_LAWS, ".md", n, seed)


def chronam_pages(n: int, seed: int) -> list[str]:
    """``n`` raw English OCR front pages of January 1916, sampled with ``seed``."""
    return _zip_sample(CHRONAM, ".txt", n, seed, errors="replace")


def real_lines(tw: int, cn: int, en: int, seed: int, skip_blank: bool = False) -> list[str]:
    """Lines of ``tw`` news records, ``cn`` law texts and ``en`` OCR pages."""
    _require(TW_NEWS, CN_LAWS, *([CHRONAM] if en else []))
    rng_seed = random.Random(seed)
    texts = tw_contents(tw) + cn_law_texts(cn, rng_seed.randrange(2**31))
    if en:
        texts += chronam_pages(en, rng_seed.randrange(2**31))
    lines = [ln for t in texts for ln in t.split("\n")]
    return [ln for ln in lines if ln.strip()] if skip_blank else lines
