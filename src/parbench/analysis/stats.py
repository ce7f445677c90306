"""Medians, ratios of medians and their bootstrap confidence intervals.

Speedup = median(T_baseline) / median(T_backend): a ratio of medians, never an average of
per-trial ratios. CIs are 95% BCa intervals from `scipy.stats.bootstrap`, the groups resampled
independently (the trials of two backends are not paired). With fewer than 3 values per group, or
when every value of a group is identical, no interval is computed: it would be an artefact.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 9999
MIN_N = 3
DEFAULT_SEED = 20190116


@dataclass(frozen=True)
class Estimate:
    value: float
    ci_low: float
    ci_high: float
    method: str  # "BCa", "percentile" (BCa degenerate) or why there is no interval


def _median(x, axis=-1):
    return np.median(x, axis=axis)


def _interval(samples: tuple[np.ndarray, ...], statistic, seed: int) -> tuple[float, float, str]:
    if min(len(s) for s in samples) < MIN_N:
        return np.nan, np.nan, f"none (fewer than {MIN_N} trials)"
    if all(np.ptp(s) == 0 for s in samples):
        return np.nan, np.nan, "none (identical values)"
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = stats.bootstrap(
                samples, statistic, vectorized=True, paired=False, confidence_level=CONFIDENCE,
                n_resamples=RESAMPLES, method=method, rng=np.random.default_rng(seed),
            )
        low, high = result.confidence_interval
        if np.isfinite(low) and np.isfinite(high):
            return float(low), float(high), method
    return np.nan, np.nan, "none (degenerate bootstrap)"


def median_estimate(values, seed: int = DEFAULT_SEED) -> Estimate:
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return Estimate(np.nan, np.nan, np.nan, "none (no trials)")
    low, high, method = _interval((x,), _median, seed)
    return Estimate(float(np.median(x)), low, high, method)


def speedup_estimate(baseline, backend, seed: int = DEFAULT_SEED) -> Estimate:
    """How many times faster `backend` is than `baseline`."""
    b, x = np.asarray(baseline, dtype=float), np.asarray(backend, dtype=float)
    if b.size == 0 or x.size == 0:
        return Estimate(np.nan, np.nan, np.nan, "none (no trials)")

    def ratio(base, new, axis=-1):
        return np.median(base, axis=axis) / np.median(new, axis=axis)

    low, high, method = _interval((b, x), ratio, seed)
    return Estimate(float(np.median(b) / np.median(x)), low, high, method)


def faster_of_two_estimate(first, second, backend, seed: int = DEFAULT_SEED) -> Estimate:
    """Speedup of `backend` over the faster (lower median) of two baselines, as the post's headline."""
    a, b, x = (np.asarray(v, dtype=float) for v in (first, second, backend))
    if min(a.size, b.size, x.size) == 0:
        return Estimate(np.nan, np.nan, np.nan, "none (no trials)")

    def ratio(base1, base2, new, axis=-1):
        return np.minimum(np.median(base1, axis=axis), np.median(base2, axis=axis)) / np.median(new, axis=axis)

    low, high, method = _interval((a, b, x), ratio, seed)
    return Estimate(float(min(np.median(a), np.median(b)) / np.median(x)), low, high, method)


def coefficient_of_variation(values) -> float:
    x = np.asarray(values, dtype=float)
    if x.size < 2 or np.mean(x) == 0:
        return np.nan
    return float(np.std(x, ddof=1) / np.mean(x))
