"""Seed acceptance for dedup: the livestream article's repeats, and nothing else flagged.

Built from the seed's lines directly (paragraphs split on blank lines), so it
does not depend on the other stages; it must hold with half-width and with
full-width punctuation, since the key ignores punctuation.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cleaning.dedup import DedupConfig, dedup_map, dedup_reduce

SEED = Path(__file__).resolve().parents[1] / "data" / "raw" / "000_77a03ed607cd6b14.txt"
HALF_TO_FULL = str.maketrans({",": "，", ":": "：", ";": "；", "(": "（", ")": "）", "?": "？", "!": "！"})


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def _decisions(paragraphs: list[str], tmp_path: Path) -> dict[int, dict]:
    n = len(paragraphs)
    table = pa.table(
        {
            "id": [f"seed-{i:03d}" for i in range(n)],
            "article_id": ["seed"] * n,
            "source_path": ["000_77a03ed607cd6b14.txt"] * n,
            "position": list(range(n)),
            "article_position": [0] * n,
            "text": paragraphs,
        }
    )
    cfg = DedupConfig()
    path = tmp_path / "seed.parquet"
    pq.write_table(dedup_map(table, cfg), path)
    rows = dedup_reduce([path], cfg).to_pylist()
    return {int(r["id"].rsplit("-", 1)[1]): r for r in rows}


@pytest.mark.parametrize("width", ["as-is", "fullwidth"])
def test_seed_livestream_repeats_flagged_and_nothing_else(width: str, tmp_path: Path) -> None:
    text = SEED.read_text(encoding="utf-8")
    if width == "fullwidth":
        text = text.translate(HALF_TO_FULL)
    paras = _paragraphs(text)
    start = next(i for i, p in enumerate(paras) if p.startswith("女镇长直播带货")) + 1
    last = paras[start:]
    assert last[0].startswith("“今天我就") and len(last) == 7
    p = {k: start + k for k in range(7)}  # article paragraph -> page paragraph

    got = _decisions(paras, tmp_path)

    p4 = got[p[4]]
    assert p4["status"] == "truncated"
    assert p4["duplicate_of"] in (got[p[3]]["id"], got[p[1]]["id"])
    p5 = got[p[5]]
    assert (p5["status"], p5["relation"], p5["duplicate_of"]) == ("duplicate", "exact", got[p[3]]["id"])
    p6 = got[p[6]]
    assert (p6["status"], p6["relation"], p6["duplicate_of"]) == ("truncated", "prefix", got[p[3]]["id"])
    for k in (0, 1, 2, 3):
        assert got[p[k]]["status"] == "kept"

    flagged = {i for i, r in got.items() if r["status"] != "kept"}
    assert flagged == {p[4], p[5], p[6]}
    for i in flagged:
        assert got[i]["reason"] and got[i]["rule"].startswith("dedup.")
        assert got[i]["cluster_id"] == got[i]["duplicate_of"]
