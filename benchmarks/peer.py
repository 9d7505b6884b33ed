"""The peer: datatrove's MinHash dedup pipeline on a list of paragraphs.

The four datatrove steps (signatures, buckets, clusters, filter) are called one after
the other in this process with datatrove's default ``MinhashConfig`` (word 5-grams,
14 buckets x 8 hashes, 64-bit) and datatrove's word tokenizer for the language
(spaCy with jieba for Chinese). Calling the steps directly skips the executor's
logging and stats files, which only favours the peer. datatrove is a benchmark
extra: :func:`available` says whether it can be imported.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def _xxh64_str(text: str) -> int:
    import xxhash

    return xxhash.xxh64_intdigest(text.encode("utf-8"))


def available() -> str | None:
    """``None`` when the peer can run, else the reason it cannot."""
    try:
        import datatrove.pipeline.dedup.minhash  # noqa: F401
        import spacy  # noqa: F401
    except Exception as exc:  # any import failure means: skip the peer
        return f"{type(exc).__name__}: {exc}"
    return None


@dataclass(slots=True)
class PeerResult:
    paragraphs: int
    removed: int
    cpu: dict[str, float]
    wall: float

    @property
    def cpu_total(self) -> float:
        return sum(self.cpu.values())


def run_datatrove(texts: list[str], language: str) -> PeerResult:
    """Dedup ``texts`` with datatrove's MinHash pipeline; ``language`` is "cmn" or "eng"."""
    os.environ.setdefault("TQDM_DISABLE", "1")  # progress bars would interleave with the table
    from datatrove.data import Document
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.utils.logging import logger

    logger.remove()  # datatrove logs every step to stderr
    logging.getLogger("jieba").setLevel(logging.WARNING)
    config = MinhashConfig()
    cpu: dict[str, float] = {}
    clock = time.process_time
    wall0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="peer-minhash-") as tmp:
        root = Path(tmp)
        sig_step = MinhashDedupSignature(output_folder=str(root / "sigs"), config=config, language=language)
        # datatrove hashes str shingles with xxhash; xxhash 4 no longer accepts str, so hand it
        # the UTF-8 bytes that xxhash 3 hashed implicitly (same hash values, same speed).
        sig_step._hash_func = _xxh64_str
        # Tokenizer start-up (spaCy pipeline, jieba dictionary) is not throughput: warm it first.
        sig_step.word_tokenizer.word_tokenize("warm up 预热")

        def docs():
            for i, t in enumerate(texts):
                yield Document(text=t, id=str(i))

        t = clock()
        sig_step.run(docs(), rank=0, world_size=1)
        cpu["signatures"] = clock() - t

        t = clock()
        for b in range(config.num_buckets):
            MinhashDedupBuckets(
                input_folder=str(root / "sigs"), output_folder=str(root / "buckets"), config=config
            ).run(rank=b, world_size=config.num_buckets)
        cpu["buckets"] = clock() - t

        t = clock()
        MinhashDedupCluster(
            input_folder=str(root / "buckets"), output_folder=str(root / "remove"), config=config
        ).run(world_size=1)
        cpu["cluster"] = clock() - t

        t = clock()
        kept = sum(1 for _ in MinhashDedupFilter(input_folder=str(root / "remove")).run(docs(), rank=0))
        cpu["filter"] = clock() - t
    return PeerResult(
        paragraphs=len(texts), removed=len(texts) - kept, cpu=cpu, wall=time.perf_counter() - wall0
    )
