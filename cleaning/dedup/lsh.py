"""The LSH S-curve: expected false-positive / false-negative rates for the manifest."""

from __future__ import annotations

import numpy as np

from cleaning.dedup.config import DedupConfig


def candidate_probability(jaccard: float | np.ndarray, bands: int, rows: int) -> float | np.ndarray:
    """Probability that two sets with this Jaccard share at least one band: 1-(1-s^r)^b."""
    return 1.0 - (1.0 - np.power(jaccard, rows)) ** bands


def _integrate(lo: float, hi: float, bands: int, rows: int, miss: bool) -> float:
    xs = np.linspace(lo, hi, 2001)
    p = candidate_probability(xs, bands, rows)
    ys = 1.0 - p if miss else p
    return float(np.trapezoid(ys, xs)) if hasattr(np, "trapezoid") else float(np.trapz(ys, xs))


def expected_error_rates(cfg: DedupConfig) -> dict[str, float]:
    """datasketch-style weights of the LSH S-curve at the near-duplicate threshold.

    ``false_positive``: area under the candidate probability below
    ``near_threshold`` (candidates that verification must reject, cost only);
    ``false_negative``: area of missed probability above it (near duplicates LSH
    does not propose; anchors and exact keys may still find them);
    ``midpoint``: the Jaccard where the candidate probability is 1/2.
    """
    t = cfg.near_threshold
    mid = (1.0 - 0.5 ** (1.0 / cfg.bands)) ** (1.0 / cfg.rows)
    return {
        "threshold": t,
        "bands": float(cfg.bands),
        "rows": float(cfg.rows),
        "false_positive": _integrate(0.0, t, cfg.bands, cfg.rows, miss=False),
        "false_negative": _integrate(t, 1.0, cfg.bands, cfg.rows, miss=True),
        "midpoint": float(mid),
        "candidate_probability_at_threshold": float(candidate_probability(t, cfg.bands, cfg.rows)),
    }
