"""Peak resident memory: of this process, of a time window, and of child processes.

``ru_maxrss`` only ever grows, so it cannot tell which stage of a run needed the
memory. :class:`RssSampler` polls the resident set size from a background thread
and reports the peak seen inside each window, which is what the per-stage
columns of the benchmark table show. Sampling every few milliseconds can miss a
very short spike; the whole-process ``ru_maxrss`` is reported alongside.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psutil

MB = 1024 * 1024
CHILDREN_REFRESH = 2.0  # seconds between listings of the child processes


def _maxrss_bytes(who: int) -> int:
    peak = resource.getrusage(who).ru_maxrss
    # Linux reports KiB, macOS bytes
    return peak if sys.platform == "darwin" else peak * 1024


def process_peak_rss() -> int:
    """Peak RSS of this process so far, in bytes."""
    return _maxrss_bytes(resource.RUSAGE_SELF)


def children_peak_rss() -> int:
    """Largest peak RSS of any waited-for child process, in bytes."""
    return _maxrss_bytes(resource.RUSAGE_CHILDREN)


def current_rss() -> int:
    return psutil.Process(os.getpid()).memory_info().rss


class RssSampler:
    """Samples the RSS of this process (and optionally its children) in a daemon thread."""

    def __init__(self, interval: float = 0.01, include_children: bool = False) -> None:
        self.interval = interval
        self.include_children = include_children
        self._proc = psutil.Process(os.getpid())
        self._window_peak = 0
        self._children: list[psutil.Process] = []
        self._children_at = -1e9
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _sample(self) -> int:
        rss = self._proc.memory_info().rss
        if self.include_children:
            now = time.monotonic()
            if now - self._children_at > CHILDREN_REFRESH:
                # listing children scans all of /proc: far too costly to do on every sample
                self._children = self._proc.children(recursive=True)
                self._children_at = now
            for child in self._children:
                try:
                    rss += child.memory_info().rss
                except psutil.Error:
                    pass  # the child ended between listing and reading
        return rss

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = self._sample()
            with self._lock:
                if rss > self._window_peak:
                    self._window_peak = rss
            time.sleep(self.interval)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def reset(self) -> None:
        with self._lock:
            self._window_peak = self._sample()

    def peak(self) -> int:
        with self._lock:
            return max(self._window_peak, self._sample())

    @contextmanager
    def window(self) -> Iterator[dict[str, int]]:
        """``with sampler.window() as w: ...``; afterwards ``w["peak"]`` is the peak RSS in bytes."""
        self.reset()
        out: dict[str, int] = {}
        try:
            yield out
        finally:
            out["peak"] = self.peak()
