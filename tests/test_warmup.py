"""cleaning.warmup: loading the stages' lazy parts ahead of the first document."""

from __future__ import annotations

import gc

import pytest

from cleaning import jit, pipeline
from cleaning.config import CleaningConfig
from cleaning.layout import _jieba_freq
from cleaning.warmup import warm_up


def test_warm_up_loads_every_kernel_and_the_seam_dictionary() -> None:
    _jieba_freq.cache_clear()
    cfg = CleaningConfig()
    seconds = warm_up(cfg)
    assert seconds >= 0
    # the table the layout stage will ask for, at the configured threshold
    assert _jieba_freq.cache_info().currsize == 1
    misses = _jieba_freq.cache_info().misses
    _jieba_freq(cfg.layout.min_seam_word_freq)
    assert _jieba_freq.cache_info().misses == misses
    if jit.enabled():
        kernels = [
            o
            for o in gc.get_objects()
            if isinstance(o, jit.Kernel) and o.py_func.__module__.startswith("cleaning.")
        ]
        assert kernels
        assert [
            k.__name__ for k in kernels if k._compiled is None and k.__name__ not in _UNUSED_BY_STAGES
        ] == []


# Kernels of library functions the stages do not call when kernels are on: MinHash's separate
# encode and window passes (``minhash.encode_codes``, ``minhash.windows``), which the dedup map's
# and the reduce's fused key kernels replace. Loading them would only cost a fresh process time.
_UNUSED_BY_STAGES = frozenset({"_encode_kernel", "_windows_kernel"})


def test_warm_up_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a stage that fails on the sample")

    monkeypatch.setattr(pipeline, "process_document", broken)
    assert warm_up() >= 0
