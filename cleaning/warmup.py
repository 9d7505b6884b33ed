"""Load ahead of time what the stages otherwise load on their first document.

The stages load several things lazily, once per process: numba and the compiled
kernels of the furniture pre-pass and dedup (importing numba and starting its
compiler take ~0.6 s even when every kernel comes from the on-disk cache), jieba's
dictionary for seam words (~0.1 s), wordfreq's English list, the per-code-point
tables of layout, the furniture pre-pass and the dedup key (from their on-disk cache). A caller with idle
time to fill can pay for them then: ``presswash run`` does it while its temporary
Prefect server boots, so the first shard task in the same process starts without
them. Nothing here changes what the stages compute; the stages work the same
without it.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from cleaning.config import CleaningConfig

log = logging.getLogger(__name__)

# A wrapped Chinese page with a lead, a byline and a repeated paragraph, and a page of English
# OCR with a hyphenated line end: between them every stage and every dedup kernel runs. The last
# paragraph's lines share a column, so the page counts as hard-wrapped and layout's wrap-rule
# scans (the marks' line pass) run too.
_SAMPLE_PAGES = (
    "市开发区召开工作会议\n\n"
    "　　本报讯 (记者 黄啟峰) 会议要求各部门把各项工作落到实处,切实提高\n"
    "服务水平,进一步完善城市网络建设,推动全市经济社会高质量发展。\n"
    "　　会议要求各部门把各项工作落到实处,切实提高服务水平。\n"
    "　　会议要求各部门把各项工作落到实处,切实提高服务\n"
    "　　全市各单位要进一步完善城市网络建设,推动全市经济社会高质量发展\n"
    "全市各单位要进一步完善城市网络建设,推动全市经济社会高质量发展,\n"
    "切实提高服务水平,把各项工作落到实处,进一步完善城市网络建设,\n"
    "会议要求各部门把各项工作落到实处,推动全市经济社会高质量发展。\n",
    "THE DAILY NEWS. PAGE 3.\n"
    "The council met on Tuesday evening and discussed the con-\n"
    "struction of the new bridge across the river at some length.\n",
)


def warm_up(cfg: CleaningConfig | None = None) -> float:
    """Run the stages and both dedup steps on two small sample pages; returns the seconds spent.

    Never raises: a failure here is logged at debug level and the stages load on first use.
    """
    from cleaning import decode, jit, layout, parquet_io, segment
    from cleaning.dedup import dedup_map, reduce_index
    from cleaning.dedup import reduce as dedup_reduce
    from cleaning.dedup.index import MAP_INPUT_COLUMNS
    from cleaning.english import zipf
    from cleaning.model import Reject, SourceDoc
    from cleaning.pipeline import (
        add_document_columns,
        empty_columns,
        paragraph_article_positions,
        process_document,
    )
    from cleaning.schema import ARTICLES, PARAGRAPHS

    t0 = time.perf_counter()
    cfg = cfg or CleaningConfig()
    try:
        # wordfreq: loaded at the first hyphenated English line otherwise. First here, before
        # numba and pandas load: its import calls inspect.stack(), which maps each frame to its
        # module by a scan of sys.modules, so it costs less (~0.04 s) with fewer modules loaded.
        zipf("bridge")
        layout._jieba_freq(
            cfg.layout.min_seam_word_freq
        )  # seam words: at the first broken paragraph otherwise
        # a legacy-encoded page: the UTF-8 evidence scan and the cp1252 reading's table
        decode.decode_bytes(_SAMPLE_PAGES[0].encode("gb18030"), cfg.decode)
        decode._latin_counts(_SAMPLE_PAGES[1])
        # the furniture pre-pass's key hashes, over code points and (an ASCII shard) bytes
        pages = [page.split("\n") for page in _SAMPLE_PAGES]
        segment.repeated_furniture(pages, cfg.segment)
        segment.repeated_furniture([pages[1], pages[1]], cfg.segment)
        articles, paragraphs = empty_columns(ARTICLES), empty_columns(PARAGRAPHS)
        for k, page in enumerate(_SAMPLE_PAGES):
            doc = SourceDoc(source_path=f"warm-up-{k}.txt", source_sha256=f"{k:064x}", data=page.encode())
            result = process_document(doc, cfg)
            if not isinstance(result, Reject):
                add_document_columns(result, cfg, articles, paragraphs)
        table = pa.Table.from_pydict(paragraphs, schema=PARAGRAPHS).append_column(
            "article_position", pa.array(paragraph_article_positions(articles), pa.int32())
        )
        inputs = table.select(list(MAP_INPUT_COLUMNS))
        with tempfile.TemporaryDirectory(prefix="presswash-warm-up-") as tmp:
            path = Path(tmp) / "index.parquet"
            parquet_io.write_table(dedup_map(inputs, cfg.dedup), path)
            reduce_index([str(path)], cfg.dedup)
        if jit.enabled():
            # the bucket grouping of 2**31 values or more, which no sample reaches
            dedup_reduce._shared_slots(np.zeros(2, dtype=np.uint64), 10)
    except Exception as exc:  # warming up is optional: the stages load on first use instead
        log.debug("warm-up skipped: %s", exc)
    return time.perf_counter() - t0
