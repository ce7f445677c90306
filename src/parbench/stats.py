"""Medians, ratios of medians and their confidence intervals, over rounds of trials.

A cell is measured in R rounds (fresh processes), each of T trials. Runs of the same code differ
more between processes than between trials of one process (memory layout, where the OS put
things, a neighbour's load), so an interval over the trials of one process is too narrow to
predict the next run. The intervals here are therefore hierarchical: each bootstrap replicate
resamples the rounds with replacement, then the trials within each drawn round, and takes the
median of the pooled values (Saravanan et al. 2020, "Application of the hierarchical bootstrap to
multi-level data"). `scipy.stats.bootstrap` resamples one level only, so the two-level draw is
done here with numpy; the interval is the percentile interval of the replicates.

Speedup = median(T_baseline) / median(T_backend), each median over all trials of all rounds: a
ratio of medians, never an average of ratios. Each cell's replicates come from its own random
stream (seeded by the run's seed and the cell's name), so two cells are resampled independently,
and a cell contributes the same replicates to every ratio it is part of.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 9999
MIN_N = 3  # fewer values than this in a group: no interval
DEFAULT_SEED = 20190116


@dataclass(frozen=True)
class Estimate:
    value: float
    ci_low: float
    ci_high: float
    method: str  # how the interval was made, or why there is none


@dataclass(frozen=True)
class CellSample:
    """The pooled median of a cell and its hierarchical bootstrap replicates."""

    value: float
    replicates: np.ndarray  # empty when no interval can be made
    method: str
    rounds: int
    trials: int


def as_rounds(values) -> list[np.ndarray]:
    """A flat list of numbers is one round; a list of lists is one list per round."""
    if len(values) and np.ndim(values[0]) == 0:
        return [np.asarray(values, dtype=float)]
    return [np.asarray(r, dtype=float) for r in values if len(r)]


def cell_seed(seed: int, name: str) -> int:
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % 2**32


def hierarchical_medians(rounds: Sequence[np.ndarray], n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """`n_resamples` medians, each of R rounds drawn with replacement and their trials redrawn."""
    sizes = np.array([len(r) for r in rounds])
    width = int(sizes.max())
    table = np.full((len(rounds), width), np.nan)
    for i, r in enumerate(rounds):
        table[i, : len(r)] = r
    picked = rng.integers(0, len(rounds), size=(n_resamples, len(rounds)))  # outer level: rounds
    picked_sizes = sizes[picked]
    inner = np.floor(rng.random((n_resamples, len(rounds), width)) * picked_sizes[..., None]).astype(int)
    values = table[picked[..., None], inner]  # inner level: trials within each drawn round
    # A drawn round contributes as many values as it has trials; pad the rest out.
    values[np.arange(width)[None, None, :] >= picked_sizes[..., None]] = np.nan
    return np.nanmedian(values.reshape(n_resamples, -1), axis=1)


def sample_cell(values, seed: int = DEFAULT_SEED, name: str = "") -> CellSample:
    """Pooled median and hierarchical replicates of one cell's trial seconds (per round)."""
    rounds = as_rounds(values)
    pooled = np.concatenate(rounds) if rounds else np.array([])
    if pooled.size == 0:
        return CellSample(np.nan, np.array([]), "none (no trials)", 0, 0)
    trials = "/".join(sorted({str(len(r)) for r in rounds}))
    shape = f"{len(rounds)} round{'s' if len(rounds) != 1 else ''} x {trials} trials"
    value = float(np.median(pooled))
    if pooled.size < MIN_N:
        return CellSample(value, np.array([]), f"none (fewer than {MIN_N} trials)", len(rounds), pooled.size)
    if np.ptp(pooled) == 0:
        return CellSample(value, np.array([]), "none (identical values)", len(rounds), pooled.size)
    rng = np.random.default_rng(cell_seed(seed, name))
    replicates = hierarchical_medians(rounds, RESAMPLES, rng)
    return CellSample(value, replicates, f"hierarchical bootstrap, percentile ({shape})", len(rounds), pooled.size)


def _percentiles(replicates: np.ndarray) -> tuple[float, float]:
    alpha = (1 - CONFIDENCE) / 2
    low, high = np.quantile(replicates, [alpha, 1 - alpha])
    return float(low), float(high)


def interval(sample: CellSample) -> Estimate:
    if sample.replicates.size == 0:
        return Estimate(sample.value, np.nan, np.nan, sample.method)
    return Estimate(sample.value, *_percentiles(sample.replicates), sample.method)


def ratio(baseline: CellSample, backend: CellSample) -> Estimate:
    """How many times faster `backend` is than `baseline` (ratio of pooled medians)."""
    value = baseline.value / backend.value
    if baseline.replicates.size == 0 or backend.replicates.size == 0:
        why = baseline.method if baseline.replicates.size == 0 else backend.method
        return Estimate(value, np.nan, np.nan, why)
    return Estimate(value, *_percentiles(baseline.replicates / backend.replicates), backend.method)


def faster_of_two(first: CellSample, second: CellSample, backend: CellSample) -> Estimate:
    """Speedup of `backend` over the faster (lower median) of two baselines, as the post's headline."""
    value = min(first.value, second.value) / backend.value
    if min(first.replicates.size, second.replicates.size, backend.replicates.size) == 0:
        return Estimate(value, np.nan, np.nan, "none (a group has no interval)")
    reps = np.minimum(first.replicates, second.replicates) / backend.replicates
    return Estimate(value, *_percentiles(reps), backend.method)


# Convenience forms over raw values (one round when a flat list is given).


def median_estimate(values, seed: int = DEFAULT_SEED) -> Estimate:
    return interval(sample_cell(values, seed, "median"))


def speedup_estimate(baseline, backend, seed: int = DEFAULT_SEED) -> Estimate:
    return ratio(sample_cell(baseline, seed, "baseline"), sample_cell(backend, seed, "backend"))


def faster_of_two_estimate(first, second, backend, seed: int = DEFAULT_SEED) -> Estimate:
    return faster_of_two(sample_cell(first, seed, "first"), sample_cell(second, seed, "second"),
                         sample_cell(backend, seed, "backend"))


def coefficient_of_variation(values) -> float:
    x = np.asarray(values, dtype=float)
    if x.size < 2 or np.mean(x) == 0:
        return np.nan
    return float(np.std(x, ddof=1) / np.mean(x))
