"""The model's shared machinery: its inputs (costs, capacity, their bootstrap), the terms and the
bounds (span, work / capacity, rounds) every workload's trial is written in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ...catalog import PER_WORD
from ...primitives import PrimitiveSet, key_of

DRIVER = "driver"
WORKERS = "workers"
FIXED = "fixed"
SPAN = "span"
WORK = "work / capacity"
ORIGINAL_CORES = (1, 2, 4, 8, 24, 48)  # the original post's core counts
PROJECTION_CORES = (1, 2, 4, 8, 16, 24, 32, 48)
TARGET_ERROR = 0.15  # the target: median absolute relative error over the original backends
ORIGINAL_BACKENDS = ("serial", "multiprocessing", "ray")
WORKLOAD_LABELS = {"numerical": "B1", "stateful": "B2", "expensive_init": "B3"}
CI_LEVEL = 0.95


class ModelInputError(ValueError):
    """The model's inputs (primitives, calibration, tables) are missing or do not fit together."""


class MissingPrimitive(KeyError):
    """A primitive the model needs is not in the record (e.g. measured with --no-ray)."""


# ----------------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Capacity:
    """What N cores deliver against one, from the calibration (cores -> ceiling)."""

    ceilings: dict[int, float]
    # Beyond the largest calibrated count: N x this efficiency; None = the calibrated one (the
    # central assumption; the bracket of a projection also takes the stated bounds, see ASSUMPTIONS).
    efficiency_beyond: float | None = None
    # The CPUs the workers actually had (oversubscribed cells: N workers on fewer CPUs); None = N.
    cpus: int | None = None

    @classmethod
    def from_frame(cls, calibration: pd.DataFrame) -> Capacity:
        rows = calibration.dropna(subset=["ceiling"]) if len(calibration) else calibration
        return cls({int(r.cores): float(r.ceiling) for r in rows.itertuples()})

    def at(self, n: int) -> tuple[float, str | None]:
        """(capacity, assumption or None when measured at exactly n cores)."""
        if self.cpus is not None and n > self.cpus:
            capacity, _ = replace(self, cpus=None).at(self.cpus)
            return capacity, (f"oversubscribed: {n} workers share {self.cpus} CPUs, capacity({n}) = the ceiling "
                              f"at {self.cpus} cores ({capacity:.2f})")
        if n in self.ceilings:
            return self.ceilings[n], None
        if not self.ceilings:
            return float(n), f"no calibration: capacity({n}) = {n} assumed (ideal cores)"
        measured = sorted(self.ceilings)
        # An efficiency above 1 is calibration noise; it would project a superlinear machine.
        efficiency = [min(self.ceilings[c] / c, 1.0) for c in measured]
        eff = float(np.interp(n, measured, efficiency))
        largest = measured[-1]
        if n > largest and self.efficiency_beyond is not None:
            eff = self.efficiency_beyond
            return n * eff, (f"capacity({n}) = {n} x {eff:.2f}: a stated bound on the efficiency beyond the "
                             f"{largest} calibrated cores (projection)")
        if n > largest:
            return n * eff, (f"capacity({n}) = {n} x {eff:.2f}: the efficiency calibrated at {largest} cores, "
                             f"the largest measured (projection)")
        return n * eff, f"capacity({n}) = {n} x {eff:.2f}, interpolated between calibrated core counts"


class Costs:
    """Seconds of each primitive (means, or one bootstrap draw), looked up by name and parameter."""

    def __init__(self, seconds: dict[str, float], facts: dict[str, Any]):
        self.seconds = seconds
        self.facts = facts
        # Lookups already made, by the call's own arguments: a model stage asks the same few hundred
        # costs millions of times (profiled: building the key string was a seventh of the stage).
        self._looked_up: dict[tuple, float] = {}
        self._derived: dict[tuple, Any] = {}
        self._pipes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for mode in ("same_core", "cross_core"):
            prefix = f"transport.pipe_{mode}[bytes="
            points = sorted((int(k[len(prefix):-1]), v) for k, v in seconds.items() if k.startswith(prefix))
            if points:
                self._pipes[mode] = (np.array([p[0] for p in points], float), np.array([p[1] for p in points], float))

    def __call__(self, name: str, **param: int) -> float:
        args = (name, *param.items())
        try:
            return self._looked_up[args]
        except KeyError:
            pass
        key = key_of(name, param)
        try:
            self._looked_up[args] = seconds = self.seconds[key]
        except KeyError:
            raise MissingPrimitive(key) from None
        return seconds

    def derived(self, key: tuple, make: Callable[[], Any]) -> Any:
        """A value made from these costs alone (no capacity, no assumption), made once: the same
        costs are evaluated at every core count and under every assumption setting."""
        if key not in self._derived:
            self._derived[key] = make()
        return self._derived[key]

    def has(self, name: str, **param: int) -> bool:
        return key_of(name, param) in self.seconds

    def fact(self, name: str) -> Any:
        try:
            return self.facts[name]
        except KeyError:
            raise MissingPrimitive(name) from None

    def pipe(self, nbytes: float, cross_core: bool) -> float:
        """One os.pipe transfer of nbytes: measured sizes, linear between them and beyond.

        cross_core: the wall time between two cores (a span term); otherwise both ends on one core,
        i.e. both ends' CPU time (a work term). Without a cross-core measurement (a 1-core machine)
        the same-core time stands in for it.
        """
        return self.derived(("pipe", nbytes, cross_core), lambda: self._pipe(nbytes, cross_core))

    def _pipe(self, nbytes: float, cross_core: bool) -> float:
        mode = "cross_core" if cross_core and "cross_core" in self._pipes else "same_core"
        if mode not in self._pipes:
            raise MissingPrimitive("transport.pipe_same_core")
        sizes, secs = self._pipes[mode]
        if len(sizes) == 1:
            return float(secs[0] * nbytes / sizes[0])
        if nbytes > sizes[-1]:  # extrapolate with the slope of the last two sizes
            slope = (secs[-1] - secs[-2]) / (sizes[-1] - sizes[-2])
            return float(secs[-1] + max(slope, 0.0) * (nbytes - sizes[-1]))
        return float(np.interp(nbytes, sizes, secs))


@dataclass(frozen=True)
class ModelInputs:
    """Everything a prediction may read: primitive costs, capacity, the preset's sizes."""

    costs: Costs
    capacity: Capacity
    sizes: dict[str, dict[str, int]]
    # predict with more TensorFlow threads than measured: None = no gain beyond the largest measured
    # count (the central assumption); a number = Amdahl's law with this parallel fraction from there.
    tf_parallel_fraction: float | None = None
    cache: dict = field(default_factory=dict, compare=False, repr=False)  # predictions already made
    document_generation: str = PER_WORD  # B2: which of the driver's two ways to make a document is predicted

    @classmethod
    def means(cls, primitives: PrimitiveSet, calibration: pd.DataFrame) -> ModelInputs:
        return cls(Costs(primitives.means(), primitives.facts), Capacity.from_frame(calibration),
                   primitives.sizes)



def bootstrap_inputs(primitives: PrimitiveSet, calibration: pd.DataFrame, resamples: int,
                     seed: int = 20190116) -> list[ModelInputs]:
    """Model inputs re-drawn from the primitives' samples (the calibration is kept as measured)."""
    capacity = Capacity.from_frame(calibration)
    rng = np.random.default_rng(seed)
    return [ModelInputs(Costs(draw, primitives.facts), capacity, primitives.sizes)
            for draw in primitives.bootstrap_means(rng, resamples)]


# ---------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Term:
    name: str  # what the time is spent on, in words
    seconds: float
    where: str  # DRIVER, WORKERS or FIXED
    count: float = 1.0  # seconds = count x each / divisor, unless `text` says how they came about
    each: float = 0.0
    divisor: float = 1.0  # capacity(N) for a work term
    text: str | None = None

    @property
    def formula(self) -> str:
        """How the seconds come about, e.g. '48 x 0.14 s' or '(2 x 0.3 s) / 1.96'."""
        if self.text is not None:
            return self.text
        base = f"{self.count:g} x {self.each:.3g} s" if self.count != 1 else f"{self.each:.3g} s"
        return base if self.divisor == 1 else f"({base}) / {self.divisor:.3g}"


@dataclass(frozen=True)
class Prediction:
    workload: str
    backend: str
    cores: int
    seconds: float
    bound: str  # SPAN, WORK, or a sum over rounds of either
    terms: tuple[Term, ...]  # they add up to `seconds`
    bounds: dict[str, float] = field(default_factory=dict)  # span and work / capacity, in seconds
    assumptions: tuple[str, ...] = ()

    def dominant(self) -> Term:
        return max(self.terms, key=lambda t: t.seconds)

    def sentence(self) -> str:
        """e.g. 'multiprocessing B1 at 48 cores: 48 x 0.140 s of pickling the task (driver) = 6.7 s of 7.2 s'."""
        top = self.dominant()
        return (f"{self.backend} {WORKLOAD_LABELS.get(self.workload, self.workload)} at {self.cores} cores: "
                f"{top.formula} of {top.name} ({top.where}) = {top.seconds:.3g} s of {self.seconds:.3g} s")


def _s(x: float) -> str:
    return f"{x:.3g} s"


def _term(name: str, where: str, count: float, each: float) -> Term:
    return Term(name, count * each, where, count, each)


def _lump(name: str, where: str, seconds: float, text: str) -> Term:
    """A term that is not count x each (a sum over states, a pipeline's remainder)."""
    return Term(name, seconds, where, text=text)


def _bounded(workload: str, backend: str, n: int, span: list[Term], work: list[Term], capacity: float,
             assumptions: Iterable[str | None]) -> Prediction:
    """T = max(span, work / capacity); the terms of the binding bound are returned."""
    span_s = sum(t.seconds for t in span)
    work_s = sum(t.seconds / capacity for t in work)
    if span_s >= work_s:  # the work terms are only made where they bind (most rounds' span binds)
        bound, terms = SPAN, span
    else:
        bound, terms = WORK, [Term(t.name, t.seconds / capacity, t.where, t.count, t.each, capacity, t.text)
                              for t in work]
    return Prediction(workload, backend, n, max(span_s, work_s), bound, tuple(terms),
                      {SPAN: span_s, WORK: work_s}, tuple(a for a in assumptions if a))


def _single(workload: str, backend: str, n: int, terms: list[Term],
            assumptions: Iterable[str | None] = ()) -> Prediction:
    """One process does everything: the terms add up, capacity does not enter."""
    total = sum(t.seconds for t in terms)
    return Prediction(workload, backend, n, total, SPAN, tuple(terms), {SPAN: total},
                      tuple(a for a in assumptions if a))


def _rounds(workload: str, backend: str, n: int, rounds: list[Prediction], extra: list[Term],
            assumptions: Iterable[str | None]) -> Prediction:
    """Rounds separated by a barrier add up; their terms are merged by name and place."""
    merged: dict[tuple[str, str], list] = {}
    for terms in [*(p.terms for p in rounds), extra]:
        for t in terms:
            slot = merged.get((t.name, t.where))
            if slot is None:
                merged[(t.name, t.where)] = [t.seconds, [t]]
            else:
                slot[0] += t.seconds
                slot[1].append(t)
    terms = []
    for (name, where), (seconds, parts) in merged.items():
        if len(parts) == 1:
            terms.append(parts[0])
        elif all(math.isclose(p.seconds, parts[0].seconds) for p in parts):  # e.g. B3: every round alike
            terms.append(_lump(name, where, seconds, f"{len(parts)} rounds x {parts[0].formula}"))
        else:
            terms.append(_lump(name, where, seconds, f"sum over {len(parts)} rounds"))
    bounds = sorted({p.bound for p in rounds})
    total = sum(p.seconds for p in rounds) + sum(t.seconds for t in extra)
    fixed = sum(t.seconds for t in extra)
    # Each bound summed over the rounds (the trial takes the larger one round by round).
    totals = {b: fixed + sum(p.bounds.get(b, p.seconds) for p in rounds) for b in (SPAN, WORK)
              if any(b in p.bounds for p in rounds)}
    return Prediction(workload, backend, n, total, " / ".join(f"rounds: {b}" for b in bounds), tuple(terms),
                      totals,
                      tuple(dict.fromkeys(a for a in assumptions if a)))


def _pipe_wall(m: ModelInputs, nbytes: float, n: int) -> float:
    """A transfer on the critical path: between two cores when there are two or more."""
    return m.costs.pipe(nbytes, cross_core=n > 1)


def _pipe_cpu(m: ModelInputs, nbytes: float) -> float:
    return m.costs.pipe(nbytes, cross_core=False)


