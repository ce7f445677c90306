"""A cost model of one timed trial: the seconds of each (workload, backend) at N cores, from
measured primitives (`parbench primitives`) and the calibrated machine ceiling (`parbench calibrate`).

Nothing here reads a cell's timing. Every prediction function takes only a `ModelInputs` (primitive
means or one bootstrap draw of them, the ceiling per core count, the preset's sizes); the cells
are read afterwards, by `check_cells`, to compare.

How a trial is written down. Each backend's `trial()` is read as a set of operations, each one a
measured primitive, placed where it runs:

* driver  - serial in the driver process (e.g. Pool's task handler pickling each task): grows with N;
* workers - run in parallel on the N worker processes;
* fixed   - once per trial (e.g. `ray.put` of the image).

Where the code lets the driver and the workers overlap, the trial takes the longer of two bounds:

    span = the chain of dependent steps (the driver's serial part, then the last worker's part)
    work = every CPU-second of the trial (driver + workers) / capacity(N)

capacity(N) is what N cores deliver against one: the calibrated ceiling at N; beyond the measured
core counts N x (the efficiency at the largest measured count) -- an assumption, stated in the
prediction. Where the code has a barrier (B2's multiprocessing rounds, B3's rounds) the rounds add.
Each prediction returns the terms of its binding bound (name, seconds, where), which sum to its
seconds, so a reader can name the dominant one.

A claim's projection carries a bracket: the primitives' re-draws, the model's measured error on
the checked cells, and every assumption beyond the measured range at its stated bounds (section
"uncertainty"). Oversubscribed cells (N workers on fewer CPUs) check the terms that grow with N
out of sample (section "out-of-sample"), never pooled with the real cells.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..presets import PER_DOCUMENT, PER_WORD
from ..primitives import PrimitiveSet, key_of

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
        self._pipes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for mode in ("same_core", "cross_core"):
            prefix = f"transport.pipe_{mode}[bytes="
            points = sorted((int(k[len(prefix):-1]), v) for k, v in seconds.items() if k.startswith(prefix))
            if points:
                self._pipes[mode] = (np.array([p[0] for p in points], float), np.array([p[1] for p in points], float))

    def __call__(self, name: str, **param: int) -> float:
        key = key_of(name, param)
        try:
            return self.seconds[key]
        except KeyError:
            raise MissingPrimitive(key) from None

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
    work_terms = [Term(t.name, t.seconds / capacity, t.where, t.count, t.each, capacity, t.text) for t in work]
    work_s = sum(t.seconds for t in work_terms)
    bound, terms = (SPAN, span) if span_s >= work_s else (WORK, work_terms)
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
    for part in [*rounds, Prediction(workload, backend, n, 0.0, SPAN, tuple(extra))]:
        for t in part.terms:
            slot = merged.setdefault((t.name, t.where), [0.0, []])
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


# -------------------------------------------------------------- B1 numerical (workloads/numerical.py)


def numerical_serial(n: int, m: ModelInputs) -> Prediction:
    """`Serial.trial`: N convolutions, one after another, in the driver.

    T(N) = N x convolve. One process: capacity does not enter.
    """
    return _single("numerical", "serial", n, [_term("convolve", DRIVER, n, m.costs("numerical.convolve"))])


def _pool_image_task(m: ModelInputs, n: int) -> dict[str, float]:
    c = m.costs
    return {"dumps": c("numerical.dumps_task"), "loads": c("numerical.loads_task"),
            "pipe_wall": _pipe_wall(m, c.fact("numerical.task_bytes"), n),
            "pipe_cpu": _pipe_cpu(m, c.fact("numerical.task_bytes"))}


def _result_return(m: ModelInputs, n: int, prefix: str, nbytes: float) -> tuple[float, float]:
    """(wall, cpu) of sending one result back through the Pool's result pipe."""
    c = m.costs
    base = c(f"{prefix}.dumps_result") + c(f"{prefix}.loads_result")
    return base + _pipe_wall(m, nbytes, n), base + _pipe_cpu(m, nbytes)


def numerical_multiprocessing(n: int, m: ModelInputs) -> Prediction:
    """`Multiprocessing.trial`: pool.map over N (image, filter, stride) tasks.

    Driver (Pool's task handler thread, one task after the other): pickle the task with its 72 MB
    image, write it into the pipe. Worker: unpickle, convolve, send the result back; the driver's
    result handler unpickles it. A worker starts as soon as its task has arrived, so the driver's
    sends overlap the workers' convolutions:

        span = pool round trip + N x (dumps_task + pipe) + loads_task + convolve + result return
        work = pool round trip + (N - 1) x pool per task + N x (dumps_task + pipe + loads_task + convolve
               + result return), pipes at both ends' CPU time
        T(N) = max(span, work / capacity(N))
    """
    c = m.costs
    task = _pool_image_task(m, n)
    conv = c("numerical.convolve")
    ret_wall, ret_cpu = _result_return(m, n, "numerical", c.fact("numerical.result_bytes"))
    rt, per_task = c("transport.pool_round_trip"), c("transport.pool_per_task")
    cap, assumption = m.capacity.at(n)
    span = [
        _term("Pool.map call", FIXED, 1, rt),
        _term("pickling the task with the image", DRIVER, n, task["dumps"]),
        _term("writing the image into the pipe", DRIVER, n, task["pipe_wall"]),
        _term("unpickling the image in the last worker", WORKERS, 1, task["loads"]),
        _term("convolve (last task)", WORKERS, 1, conv),
        _term("returning the last result", WORKERS, 1, ret_wall),
    ]
    work = [
        _term("Pool.map call", FIXED, 1, rt),
        _term("Pool per-task overhead", DRIVER, n - 1, per_task),
        _term("pickling the task with the image", DRIVER, n, task["dumps"]),
        _term("the image through the pipe (both ends)", DRIVER, n, task["pipe_cpu"]),
        _term("unpickling the image in the workers", WORKERS, n, task["loads"]),
        _term("convolve", WORKERS, n, conv),
        _term("returning the results", WORKERS, n, ret_cpu),
    ]
    return _bounded("numerical", "multiprocessing", n, span, work, cap, [assumption])


def numerical_ray(n: int, m: ModelInputs) -> Prediction:
    """`Ray.trial`: ray.put(image) once, N tasks taking the object ref, ray.get of the N results.

    The driver puts the image once and submits the N tasks; each task maps the image from the
    object store and returns its result (the primitive `numerical.ray_task_image_result`: a task that
    receives the image by reference and returns a result-sized array, driver to driver):

        span = put + (N - 1) x task submit + task with image and result + convolve
        work = put + N x (task with image and result + convolve)
        T(N) = max(span, work / capacity(N))
    """
    c = m.costs
    put, submit = c("numerical.ray_put_image"), c("ray.task_submit")
    task, conv = c("numerical.ray_task_image_result"), c("numerical.convolve")
    cap, assumption = m.capacity.at(n)
    span = [
        _term("ray.put of the image", FIXED, 1, put),
        _term("submitting the tasks", DRIVER, n - 1, submit),
        _term("one task: image by reference, result back", WORKERS, 1, task),
        _term("convolve (last task)", WORKERS, 1, conv),
    ]
    work = [
        _term("ray.put of the image", FIXED, 1, put),
        _term("task overhead: image by reference, result back", WORKERS, n, task),
        _term("convolve", WORKERS, n, conv),
    ]
    return _bounded("numerical", "ray", n, span, work, cap, [assumption])


def _tuned_numerical(backend: str, n: int, m: ModelInputs, rt_name: str, per_task_name: str) -> Prediction:
    c = m.costs
    copy, conv = c("numerical.shm_copy_image"), c("numerical.convolve")
    rt, per_task = c(rt_name), c(per_task_name)
    nbytes = c.fact("numerical.result_bytes")
    dumps_res, loads_res = c("numerical.dumps_result"), c("numerical.loads_result")
    cap, assumption = m.capacity.at(n)
    # Every worker finishes at about the same time; the results then queue on the one result pipe.
    span = [
        _term("copying the image into shared memory", FIXED, 1, copy),
        _term("map call", FIXED, 1, rt),
        _term("sending the small tasks", DRIVER, n - 1, per_task),
        _term("convolve (last task)", WORKERS, 1, conv),
        _term("pickling a result", WORKERS, 1, dumps_res),
        _term("receiving the results one by one", DRIVER, n, _pipe_wall(m, nbytes, n) + loads_res),
    ]
    work = [
        _term("copying the image into shared memory", FIXED, 1, copy),
        _term("map call", FIXED, 1, rt),
        _term("per-task overhead", DRIVER, n - 1, per_task),
        _term("convolve", WORKERS, n, conv),
        _term("returning the results", WORKERS, n, dumps_res + _pipe_cpu(m, nbytes) + loads_res),
    ]
    return _bounded("numerical", backend, n, span, work, cap, [assumption])


def numerical_multiprocessing_tuned(n: int, m: ModelInputs) -> Prediction:
    """`MultiprocessingTuned.trial`: one copy of the image into shared memory, pool.map over N filters.

    Only the 4x4 filters go out and the results come back through the one result pipe:

        span = copy + pool round trip + (N - 1) x pool per task + convolve + dumps_result
               + N x (result pipe + loads_result)       (the results queue on the result pipe)
        work = copy + pool round trip + (N - 1) x pool per task + N x (convolve + result return)
        T(N) = max(span, work / capacity(N))
    """
    return _tuned_numerical("multiprocessing_tuned", n, m, "transport.pool_round_trip", "transport.pool_per_task")


def numerical_concurrent_futures(n: int, m: ModelInputs) -> Prediction:
    """`ConcurrentFutures.trial`: multiprocessing_tuned's structure with ProcessPoolExecutor.map
    (the executor's round trip and per-task overhead instead of Pool's)."""
    return _tuned_numerical("concurrent_futures", n, m, "transport.executor_round_trip",
                            "transport.executor_per_task")


def numerical_threads(n: int, m: ModelInputs) -> Prediction:
    """`Threads.trial`: convolve2d holds the GIL, so N threads convolve one at a time: N x convolve."""
    return _single("numerical", "threads", n, [_term("convolve, one thread at a time (GIL)", DRIVER, n,
                                                     m.costs("numerical.convolve"))],
                   ["thread switching costs nothing"])


# --------------------------------------------------------------- B2 stateful (workloads/stateful.py)


def _stateful_sizes(m: ModelInputs) -> tuple[int, int]:
    sizes = m.sizes["stateful"]
    return int(sizes["docs_per_core"]), int(sizes["mp_state_slots"])


# B2's driver makes a document per word (the post's code) or in one RNG call (`--document-generation`):
# each is a primitive of its own, so both variants are predicted.
GENERATION_PRIMITIVES = {PER_WORD: "stateful.generate_document", PER_DOCUMENT: "stateful.generate_document_block"}


def with_generation(inputs: ModelInputs, generation: str) -> ModelInputs:
    """The same inputs, predicting B2 with `generation` (a fresh prediction cache)."""
    return replace(inputs, document_generation=generation, cache={})


def _generate(m: ModelInputs) -> float:
    return m.costs(GENERATION_PRIMITIVES[m.document_generation])


def _counting(m: ModelInputs, docs: int) -> list[float]:
    """count_document[k], k = 0 .. docs - 1: counting into a state that holds k documents."""
    return [m.costs("stateful.count_document", k=k) for k in range(docs)]


def stateful_serial(n: int, m: ModelInputs) -> Prediction:
    """`Serial.trial`: the driver generates D x N documents and counts each into state i % N.

    Each of the N states receives D documents, the k-th into a state already holding k:
        T(N) = N x D x generate_document + N x sum_k count_document[k]        (one process)
    """
    docs, _ = _stateful_sizes(m)
    g = _generate(m)
    per_state = sum(_counting(m, docs))
    return _single("stateful", "serial", n, [
        _term("generating the documents", DRIVER, n * docs, g),
        _lump("counting prefixes", DRIVER, n * per_state, f"{n} states x {_s(per_state)}"),
    ])


def stateful_multiprocessing(n: int, m: ModelInputs) -> Prediction:
    """`pool_map_rounds`: D rounds; each round the driver generates N documents, then pool.map
    sends (counts, popular, document) for s = min(N, mp_state_slots) slots and gets (counts, popular)
    back -- the original's 4 slots, so above 4 cores only 4 documents per round are counted.

    Round r (states hold r documents), per task:
        out  A = dumps(state r) + dumps(document) + pipe(state r + document)      driver, serial
        work W = loads(state r) + loads(document) + count[r] + dumps(state r+1) + pipe(state r+1)
        back R = loads(state r+1)                                               driver, serial
    The task handler sends the s tasks one after another, the result handler unpickles the s
    results one after another, and the workers overlap both:
        span_r = pool round trip + A + W + R + (s - 1) x max(A, pipe(state r+1) + R)
        work_r = pool round trip + (s - 1) x pool per task + s x (A + W + R)   (pipes at CPU cost)
        T(N) = sum_r [N x generate_document + max(span_r, work_r / capacity(N))]   (rounds: barriers)
    """
    c = m.costs
    docs, slots = _stateful_sizes(m)
    s = min(n, slots)
    g = _generate(m)
    doc_bytes = c.fact("stateful.document_bytes")
    state_bytes = {int(k): v for k, v in c.fact("stateful.state_bytes").items()}
    rt, per_task = c("transport.pool_round_trip"), c("transport.pool_per_task")
    cap, assumption = m.capacity.at(n)
    counting = _counting(m, docs)

    def dumps_state(k):
        return c("stateful.dumps_state", k=k) if k > 0 else 0.0  # an empty dict pickles in microseconds

    def loads_state(k):
        return c("stateful.loads_state", k=k) if k > 0 else 0.0

    rounds = []
    for r in range(docs):
        out_pickle = dumps_state(r) + c("stateful.dumps_document")
        in_bytes = state_bytes[r] + doc_bytes
        out_bytes = state_bytes[r + 1]
        a_wall = out_pickle + _pipe_wall(m, in_bytes, n)
        w_wall = loads_state(r) + c("stateful.loads_document") + counting[r] + dumps_state(r + 1) \
            + _pipe_wall(m, out_bytes, n)
        back = loads_state(r + 1)
        queue = max(a_wall, _pipe_wall(m, out_bytes, n) + back)
        span = [
            _term("Pool.map call", FIXED, 1, rt),
            _term("pickling the state and sending it", DRIVER, 1, a_wall),
            _term("unpickling, counting, pickling the state back", WORKERS, 1, w_wall),
            _term("unpickling the returned state", DRIVER, 1, back),
            _term("the other slots' states through the driver", DRIVER, s - 1, queue),
        ]
        work = [
            _term("Pool.map call", FIXED, 1, rt),
            _term("Pool per-task overhead", DRIVER, s - 1, per_task),
            _term("pickling the state and sending it", DRIVER, s, out_pickle + _pipe_cpu(m, in_bytes)),
            _term("unpickling, counting, pickling the state back", WORKERS, s,
                  loads_state(r) + c("stateful.loads_document") + counting[r] + dumps_state(r + 1)
                  + _pipe_cpu(m, out_bytes)),
            _term("unpickling the returned state", DRIVER, s, back),
        ]
        rounds.append(_bounded("stateful", "multiprocessing", n, span, work, cap, []))
    generate = [_term("generating the documents", DRIVER, n * docs, g)]
    notes = [assumption] + ([f"the original's {slots} state slots: {s} of the {n} documents of a round are counted"]
                            if n > slots else [])
    return _rounds("stateful", "multiprocessing", n, rounds, generate, notes)


def holder_pipeline(n: int, docs: int, driver_step: float, holder_step: Callable[[int], float],
                    ready: float = 0.0) -> float:
    """When the last of N state holders is done, if the driver hands document i (i = 0 .. N*docs - 1)
    to holder i % N at time (i + 1) x driver_step, and each holder, up from time `ready`, works
    through its queue in order, its k-th document taking holder_step(k). (Every holder on its own
    core: the span.)"""
    free = [ready] * n
    for i in range(n * docs):
        holder, k = i % n, i // n
        free[holder] = max(free[holder], (i + 1) * driver_step) + holder_step(k)
    return max(free)


def _stateful_actors(backend: str, n: int, m: ModelInputs, send: float, send_cpu: float, receive: float,
                     collect_first: float, collect_each: float, what: str, startup: float = 0.0) -> Prediction:
    """Shared by the actor-style backends (ray, multiprocessing_tuned): state stays in N holders,
    the driver generates each document and sends it to holder i % N; at the end one get_popular per
    holder. `send` is the driver's cost per document besides generating it; `startup` is each
    holder's start-up that falls inside the timer (Ray's fresh actors, not waited for)."""
    c = m.costs
    docs, _ = _stateful_sizes(m)
    g = _generate(m)
    counting = _counting(m, docs)
    cap, assumption = m.capacity.at(n)
    popular = c("stateful.dumps_popular") + c("stateful.loads_popular")
    collect = collect_first + (n - 1) * collect_each + popular + (n - 1) * c("stateful.loads_popular")
    finish = holder_pipeline(n, docs, g + send, lambda k: receive + counting[k], ready=startup)
    driver_span = n * docs * (g + send)
    span = [
        _term("generating the documents", DRIVER, n * docs, g),
        _term(f"sending the documents ({what})", DRIVER, n * docs, send),
        _lump("counting still running after the last document was sent", WORKERS, max(finish - driver_span, 0.0),
              "the holder pipeline's remainder"),
        _lump("get_popular from every holder", DRIVER, collect, f"{n} calls"),
    ]
    work = [
        _term("generating the documents", DRIVER, n * docs, g),
        _term(f"sending the documents ({what})", DRIVER, n * docs, send_cpu),
        _term("receiving the documents", WORKERS, n * docs, receive),
        _lump("counting prefixes", WORKERS, n * sum(counting), f"{n} states x {_s(sum(counting))}"),
        _lump("get_popular from every holder", DRIVER, n * (collect_first + popular), f"{n} calls"),
    ]
    if startup:
        work.append(_term("actor start-up inside the timer", WORKERS, n, startup))
    return _bounded("stateful", backend, n, span, work, cap, [assumption])


def stateful_ray(n: int, m: ModelInputs) -> Prediction:
    """`Ray.trial`: the driver generates D x N documents and calls actor[i % N].add_document.remote;
    the actors count while the driver goes on generating; then ray.get of every get_popular. As in
    the post, `before_trial` creates N fresh actors right before the timer and does not wait for
    them: their start-up runs inside the timed region.

        driver, per document: generate_document + ray_submit_document
        actor: up after actor_start; k-th document: ray_receive_document + count_document[k]
        span = when the last actor is done (holder_pipeline) + get_popular from every actor
        work = every CPU-second above, N actor start-ups included / capacity(N)
        T(N) = max(span, work)
    """
    c = m.costs
    submit = c("stateful.ray_submit_document")
    return _stateful_actors("ray", n, m, submit, submit, c("stateful.ray_receive_document"),
                            c("ray.actor_call_round_trip"), c("ray.actor_submit"), "actor calls",
                            startup=c("ray.actor_start"))


def stateful_multiprocessing_tuned(n: int, m: ModelInputs) -> Prediction:
    """`MultiprocessingTuned.trial`: as Ray's, with one single-worker ProcessPoolExecutor per holder:

        driver, per document: generate_document + executor per task + dumps_document + pipe(document)
        worker, k-th document: loads_document + count_document[k]
        T(N) = max(span, work / capacity(N)) as for ray
    """
    c = m.costs
    doc_bytes = c.fact("stateful.document_bytes")
    base = c("transport.executor_per_task") + c("stateful.dumps_document")
    return _stateful_actors("multiprocessing_tuned", n, m, base + _pipe_wall(m, doc_bytes, n),
                            base + _pipe_cpu(m, doc_bytes), c("stateful.loads_document"),
                            c("transport.executor_round_trip"), c("transport.executor_per_task"),
                            "executor submit, pickling, pipe")


def stateful_concurrent_futures(n: int, m: ModelInputs) -> Prediction:
    """`ConcurrentFutures.trial`: the driver generates all D x N documents first (routed_groups),
    then executor.map sends holder k's D documents as one task, which counts them into a fresh
    state and returns its popular set:

        T(N) = N x D x generate_document + max(span, work / capacity(N))
        span = executor round trip + N x D x (dumps_document + pipe(document))   (the feeder sends)
               + D x loads_document + sum_k count[k] + popular set back
        work = executor round trip + (N - 1) x per task + N x (D x (dumps + pipe + loads) + sum_k count[k]
               + popular set back)
    """
    c = m.costs
    docs, _ = _stateful_sizes(m)
    g = _generate(m)
    doc_bytes = c.fact("stateful.document_bytes")
    counting = sum(_counting(m, docs))
    rt, per_task = c("transport.executor_round_trip"), c("transport.executor_per_task")
    popular = c("stateful.dumps_popular") + c("stateful.loads_popular")
    cap, assumption = m.capacity.at(n)
    send_wall = c("stateful.dumps_document") + _pipe_wall(m, doc_bytes, n)
    send_cpu = c("stateful.dumps_document") + _pipe_cpu(m, doc_bytes)
    span = [
        _term("executor.map call", FIXED, 1, rt),
        _term("pickling and sending the documents", DRIVER, n * docs, send_wall),
        _term("unpickling one group", WORKERS, docs, c("stateful.loads_document")),
        _lump("counting one group", WORKERS, counting, _s(counting)),
        _term("returning a popular set", WORKERS, 1, popular),
    ]
    work = [
        _term("executor.map call", FIXED, 1, rt),
        _term("per-task overhead", DRIVER, n - 1, per_task),
        _term("pickling and sending the documents", DRIVER, n * docs, send_cpu),
        _term("unpickling the documents", WORKERS, n * docs, c("stateful.loads_document")),
        _lump("counting prefixes", WORKERS, n * counting, f"{n} groups x {_s(counting)}"),
        _term("returning the popular sets", WORKERS, n, popular),
    ]
    inner = _bounded("stateful", "concurrent_futures", n, span, work, cap, [assumption])
    return _rounds("stateful", "concurrent_futures", n, [inner], [_term("generating the documents", DRIVER,
                                                                         n * docs, g)], inner.assumptions)


def stateful_threads(n: int, m: ModelInputs) -> Prediction:
    """`Threads.trial`: the counting is pure Python and holds the GIL, and the driver thread
    generating documents needs the GIL too: everything runs one at a time, as serial."""
    serial = stateful_serial(n, m)
    return _single("stateful", "threads", n, list(serial.terms), ["thread switching and the locks cost nothing"])


# --------------------------------------------------------- B3 expensive_init (workloads/expensive_init.py)


def _b3_sizes(m: ModelInputs) -> int:
    return int(m.sizes["expensive_init"]["rounds"])


def predict_with_threads(m: ModelInputs, threads: int) -> tuple[float, str | None]:
    """model.predict with t TensorFlow threads; t not measured: the best of the measured t' <= t
    (no gain beyond them), or, with `m.tf_parallel_fraction`, Amdahl's law from the largest measured."""
    c = m.costs
    if c.has("expensive_init.predict", threads=threads):
        return c("expensive_init.predict", threads=threads), None
    measured = sorted(int(k.split("=")[1].rstrip("]")) for k in c.seconds
                      if k.startswith("expensive_init.predict[threads="))
    below = [t for t in measured if t <= threads]
    if not below:
        raise MissingPrimitive(key_of("expensive_init.predict", {"threads": threads}))
    if m.tf_parallel_fraction is not None:
        top, p = below[-1], m.tf_parallel_fraction
        scale = ((1 - p) + p / threads) / ((1 - p) + p / top)
        return c("expensive_init.predict", threads=top) * scale, (
            f"predict with {threads} TensorFlow threads scaled from the measured {top} threads by Amdahl's law "
            f"with parallel fraction {p:.2f} (the post's own serial B3)")
    best = min(below, key=lambda t: c("expensive_init.predict", threads=t))
    return c("expensive_init.predict", threads=best), (
        f"predict with {threads} TensorFlow threads taken as the best measured ({best} threads)")


def expensive_init_serial(n: int, m: ModelInputs) -> Prediction:
    """`Serial.trial`: rounds x N predicts, one after another, TensorFlow with N threads:
        T(N) = rounds x N x predict[N threads]
    """
    p, assumption = predict_with_threads(m, n)
    rounds = _b3_sizes(m)
    return _single("expensive_init", "serial", n, [_term(f"predict with {n} TensorFlow threads", DRIVER,
                                                         rounds * n, p)], [assumption] if assumption else [])


def _pool_rounds(backend: str, n: int, m: ModelInputs, rt: float, per_task: float, task_terms: list[tuple[str, float]],
                 result: tuple[float, float], extra_assumptions: Iterable[str] = ()) -> Prediction:
    """rounds x one map of N tasks (one per worker), a barrier after each round:
        span_r = map call + (N - 1) x per task + one task + its result
        work_r = map call + (N - 1) x per task + N x (task + result)
    """
    rounds = _b3_sizes(m)
    cap, assumption = m.capacity.at(n)
    ret_wall, ret_cpu = result
    span = [_term("map call", FIXED, 1, rt), _term("sending the tasks", DRIVER, n - 1, per_task)]
    span += [_term(f"{name} (last task)", WORKERS, 1, sec) for name, sec in task_terms]
    span += [_term("returning the prediction", WORKERS, 1, ret_wall)]
    work = [_term("map call", FIXED, 1, rt), _term("per-task overhead", DRIVER, n - 1, per_task)]
    work += [_term(name, WORKERS, n, sec) for name, sec in task_terms]
    work += [_term("returning the predictions", WORKERS, n, ret_cpu)]
    one = _bounded("expensive_init", backend, n, span, work, cap, [assumption, *extra_assumptions])
    return _rounds("expensive_init", backend, n, [one] * rounds, [], one.assumptions)


def _prediction_return(m: ModelInputs, n: int) -> tuple[float, float]:
    c = m.costs
    nbytes = c.fact("expensive_init.prediction_bytes")
    base = c("expensive_init.dumps_prediction") + c("expensive_init.loads_prediction")
    return base + _pipe_wall(m, nbytes, n), base + _pipe_cpu(m, nbytes)


def expensive_init_multiprocessing(n: int, m: ModelInputs) -> Prediction:
    """`Multiprocessing.trial`: rounds x pool.map over N tasks; every task loads model and data and
    predicts once (the first predict of a fresh model, which traces Keras' predict function):
        T(N) = rounds x max(span_r, work_r / capacity(N)), task = load_model_and_data + first_predict
    """
    c = m.costs
    return _pool_rounds("multiprocessing", n, m, c("transport.pool_round_trip"), c("transport.pool_per_task"),
                        [("loading model and data", c("expensive_init.load_model_and_data")),
                         ("first predict of a fresh model", c("expensive_init.first_predict"))],
                        _prediction_return(m, n))


def expensive_init_multiprocessing_tuned(n: int, m: ModelInputs) -> Prediction:
    """`MultiprocessingTuned.trial`: rounds x pool.map over N tasks, each predicting with its
    worker's model (loaded by the initializer, outside the timer):
        T(N) = rounds x max(span_r, work_r / capacity(N)), task = predict[1 thread]
    """
    c = m.costs
    return _pool_rounds("multiprocessing_tuned", n, m, c("transport.pool_round_trip"), c("transport.pool_per_task"),
                        [("predict with 1 thread", c("expensive_init.predict", threads=1))], _prediction_return(m, n))


def expensive_init_concurrent_futures(n: int, m: ModelInputs) -> Prediction:
    """`ConcurrentFutures.trial`: multiprocessing_tuned's structure with ProcessPoolExecutor.map."""
    c = m.costs
    return _pool_rounds("concurrent_futures", n, m, c("transport.executor_round_trip"),
                        c("transport.executor_per_task"),
                        [("predict with 1 thread", c("expensive_init.predict", threads=1))], _prediction_return(m, n))


def expensive_init_ray(n: int, m: ModelInputs) -> Prediction:
    """`Ray.trial`: rounds x ray.get of one evaluate_next_batch call per actor (model loaded in setup):
        span_r = (N - 1) x actor call submit + actor call returning a prediction + predict in an actor
        work_r = N x (actor call returning a prediction + predict in an actor)
        T(N) = rounds x max(span_r, work_r / capacity(N))
    """
    c = m.costs
    rounds = _b3_sizes(m)
    cap, assumption = m.capacity.at(n)
    call, predict, submit = (c("expensive_init.ray_actor_call_result"), c("expensive_init.ray_actor_predict"),
                             c("ray.actor_submit"))
    span = [_term("submitting the actor calls", DRIVER, n - 1, submit),
            _term("actor call returning a prediction", WORKERS, 1, call),
            _term("predict in an actor (last call)", WORKERS, 1, predict)]
    work = [_term("actor calls returning predictions", WORKERS, n, call),
            _term("predict in an actor", WORKERS, n, predict)]
    one = _bounded("expensive_init", "ray", n, span, work, cap, [assumption])
    return _rounds("expensive_init", "ray", n, [one] * rounds, [], one.assumptions)


# --------------------------------------------------------------------------------- registry

MODELS: dict[tuple[str, str], Callable[[int, ModelInputs], Prediction]] = {
    ("numerical", "serial"): numerical_serial,
    ("numerical", "multiprocessing"): numerical_multiprocessing,
    ("numerical", "ray"): numerical_ray,
    ("numerical", "multiprocessing_tuned"): numerical_multiprocessing_tuned,
    ("numerical", "concurrent_futures"): numerical_concurrent_futures,
    ("numerical", "threads"): numerical_threads,
    ("stateful", "serial"): stateful_serial,
    ("stateful", "multiprocessing"): stateful_multiprocessing,
    ("stateful", "ray"): stateful_ray,
    ("stateful", "multiprocessing_tuned"): stateful_multiprocessing_tuned,
    ("stateful", "concurrent_futures"): stateful_concurrent_futures,
    ("stateful", "threads"): stateful_threads,
    ("expensive_init", "serial"): expensive_init_serial,
    ("expensive_init", "multiprocessing"): expensive_init_multiprocessing,
    ("expensive_init", "ray"): expensive_init_ray,
    ("expensive_init", "multiprocessing_tuned"): expensive_init_multiprocessing_tuned,
    ("expensive_init", "concurrent_futures"): expensive_init_concurrent_futures,
}

NOT_MODELLED: dict[str, str] = {
    "joblib": ("not modelled: loky's memmapping (B1), its task batching and the n_jobs=1 rule are not "
               "measured as primitives"),
    "dask": ("not modelled: the scheduler's per-task cost and Dask's item-by-item serialisation of lists "
             "are not measured"),
    "mpire": "not modelled: mpire's task routing and shared-object costs are not measured as primitives",
    "threads": "not modelled for B3: how much of Keras' predict holds the GIL is not measured",
}

# What each model leaves out, shown where a cell misses by more than the target.
KNOWN_OMISSIONS: dict[str, str] = {
    "serial": "one process: only the primitives' own noise",
    "multiprocessing": ("GIL contention between the driver's task-handler, result-handler and main threads; "
                        "page faults of N fresh copies of each payload in parallel"),
    "ray": ("Ray's own processes (raylet, GCS, object-store threads) beyond what the 1-core primitives contain; "
            "scheduling of N tasks or actors at once"),
    "multiprocessing_tuned": "GIL contention between the driver's executor/pool threads",
    "concurrent_futures": "GIL contention between the executor's manager and feeder threads",
    "threads": "thread switching and lock costs",
}


def not_modelled_reason(workload: str, backend: str) -> str | None:
    if (workload, backend) in MODELS:
        return None
    return NOT_MODELLED.get(backend, "not modelled: no model for this backend")


def predict(workload: str, backend: str, cores: int, inputs: ModelInputs) -> Prediction:
    """The predicted seconds of one trial; raises MissingPrimitive or KeyError (not modelled)."""
    key = (workload, backend, int(cores))
    if key in inputs.cache:
        return inputs.cache[key]
    try:
        model = MODELS[(workload, backend)]
    except KeyError:
        raise KeyError(not_modelled_reason(workload, backend)) from None
    inputs.cache[key] = prediction = model(int(cores), inputs)
    return prediction


# ------------------------------------------------------------------------------- validation


def _note_for_miss(row: dict, prediction: Prediction | None) -> str:
    notes = []
    width = (row["measured_ci_high_s"] - row["measured_ci_low_s"]) / 2 / row["measured_s"] \
        if row["measured_s"] and not any(math.isnan(row[k]) for k in ("measured_ci_low_s", "measured_ci_high_s")) \
        else float("nan")
    if not math.isnan(width) and width > TARGET_ERROR:
        notes.append(f"the cell itself is noisy (CI half-width {width:.0%} of its median)")
    side = "over" if row["error"] > 0 else "under"
    notes.append(f"{side}-predicted; not modelled: {KNOWN_OMISSIONS.get(row['backend'], 'see the model docstring')}")
    if prediction is not None and prediction.assumptions:
        notes.append("assumptions: " + "; ".join(prediction.assumptions))
    return " | ".join(notes)


IN_SAMPLE = "in-sample"
OUT_OF_SAMPLE = "out-of-sample: oversubscribed"  # N workers on fewer CPUs; never aggregated with real cells


def _inputs_for(cell: Any, inputs: ModelInputs, limited: dict[int, ModelInputs]) -> ModelInputs:
    """The model's inputs for a cell: capacity capped at the CPUs it had where it had fewer than N."""
    cpus = getattr(cell, "cpus", None)
    if cpus is None or pd.isna(cpus) or int(cpus) >= int(cell.cores):
        return inputs
    if int(cpus) not in limited:
        limited[int(cpus)] = replace(inputs, capacity=replace(inputs.capacity, cpus=int(cpus)), cache={})
    return limited[int(cpus)]


def check_cells(primitives: PrimitiveSet, summary: pd.DataFrame, calibration: pd.DataFrame,
                sample: str = IN_SAMPLE) -> pd.DataFrame:
    """Predicted against measured median for every successful cell; one row per cell. A `cpus`
    column (oversubscribed cells) caps capacity at the CPUs the cell had."""
    inputs = ModelInputs.means(primitives, calibration)
    limited: dict[int, ModelInputs] = {}
    rows = []
    for cell in summary.itertuples():
        row = {"sample": sample, "workload": cell.workload, "backend": cell.backend, "cores": int(cell.cores),
               "original_backend": cell.backend in ORIGINAL_BACKENDS, "status": cell.status,
               "measured_s": float(cell.median_s), "measured_ci_low_s": float(cell.ci_low_s),
               "measured_ci_high_s": float(cell.ci_high_s), "predicted_s": np.nan, "error": np.nan,
               "abs_error": np.nan, "within_target": np.nan, "bound": "", "span_s": np.nan, "work_s": np.nan,
               "dominant_term": "", "note": ""}
        prediction = None
        if cell.status != "ok":
            row["note"] = "failed cell: nothing to compare"
        else:
            try:
                prediction = predict(cell.workload, cell.backend, int(cell.cores), _inputs_for(cell, inputs, limited))
            except MissingPrimitive as exc:
                row["note"] = f"not predicted: primitive {exc.args[0]} not measured"
            except KeyError as exc:
                row["note"] = str(exc.args[0])
        if prediction is not None:
            error = prediction.seconds / row["measured_s"] - 1
            row.update(predicted_s=prediction.seconds, error=error, abs_error=abs(error),
                       within_target=abs(error) <= TARGET_ERROR, bound=prediction.bound,
                       span_s=prediction.bounds.get(SPAN, np.nan), work_s=prediction.bounds.get(WORK, np.nan),
                       dominant_term=prediction.sentence())
            if abs(error) > TARGET_ERROR:
                row["note"] = _note_for_miss(row, prediction)
            elif prediction.assumptions:
                row["note"] = "assumptions: " + "; ".join(prediction.assumptions)
        rows.append(row)
    return pd.DataFrame(rows)


def error_summary(check: pd.DataFrame) -> pd.DataFrame:
    """Median and worst absolute error per backend, and over the original backends together (the
    in-sample cells only: the oversubscribed ones have their own table, out_of_sample_errors)."""
    have = check.dropna(subset=["abs_error"])
    if "sample" in have:
        have = have[have["sample"] == IN_SAMPLE]
    rows = []
    groups = [(b, have[have.backend == b]) for b in sorted(have.backend.unique())]
    groups.append(("original backends (serial, multiprocessing, ray)", have[have.original_backend.astype(bool)]))
    for name, g in groups:
        if g.empty:
            continue
        worst = g.loc[g.abs_error.idxmax()]
        rows.append({"backend": name, "cells": len(g), "median_abs_error": float(g.abs_error.median()),
                     "worst_abs_error": float(worst.abs_error),
                     "worst_cell": f"{worst.workload}/{worst.backend}/{int(worst.cores)}"})
    return pd.DataFrame(rows, columns=["backend", "cells", "median_abs_error", "worst_abs_error", "worst_cell"])


# ------------------------------------------------------------------ out-of-sample: oversubscribed

# What the model leaves out when N workers share fewer CPUs, named where such a cell misses by
# more than OUT_OF_SAMPLE_MISS.
OUT_OF_SAMPLE_MISS = 0.30
OVERSUBSCRIBED_OMISSIONS: dict[str, str] = {
    "serial": "nothing grows with N in serial but the work; a miss is the machine's own speed between the "
              "primitives and the cells",
    "multiprocessing": ("the driver's task-handler and result-handler threads compete with the N workers for the "
                        "CPUs: the model puts the driver's serial sends on a CPU of their own (span), and has no "
                        "term for waiting in the run queue behind the workers"),
    "ray": ("Ray's own processes (raylet, GCS, N worker processes or actors being started) compete with the "
            "work on the CPUs; the model has no run-queue term for them"),
    "multiprocessing_tuned": ("the driver's executor and result threads wait in the run queue behind the N "
                              "workers; the model has no term for that"),
}


def oversubscribed_check(folder: Path, primitives_path: Path | None = None,
                         calibration: pd.DataFrame | None = None) -> pd.DataFrame:
    """The model against oversubscribed cells (N workers on fewer CPUs), from a folder made like
    paper/oversubscribed/ (raw/<workload>/<backend>/<N>/round<r>.json, and from the same session
    calibration/<c>/point<k>.json and primitives.json; where the folder has none of those, the
    given ones: the run's own): predicted with capacity = the ceiling of the CPUs used."""
    from ..records import RecordError, read_record
    from .aggregate import calibration_frame, calibration_points_frame, summary_frame

    folder = Path(folder)
    paths = sorted(folder.glob("raw/*/*/*/round*.json"))
    calibration_paths = sorted(folder.glob("calibration/*/point*.json"))
    if (folder / "primitives.json").exists():
        primitives_path = folder / "primitives.json"
    if calibration_paths:
        calibration = calibration_frame(calibration_points_frame(calibration_paths))
    if not paths or calibration is None or primitives_path is None:
        raise ModelInputError(f"{folder}: needs raw/*/*/*/round*.json, calibration/*/point*.json and "
                              f"primitives.json (paper/oversubscribed/make.sh makes them)")
    try:
        records = [read_record(p) for p in paths]
    except RecordError as exc:
        raise ModelInputError(f"{folder}: {exc}") from None
    summary = summary_frame(records)
    cpus = {(r.workload, r.backend, r.cores): len(r.pinned_cpus) for r in records}
    summary["cpus"] = [cpus[(r.workload, r.backend, r.cores)] for r in summary.itertuples()]
    check = check_cells(PrimitiveSet.load(primitives_path), summary, calibration, OUT_OF_SAMPLE)
    check["cpus"] = summary["cpus"].to_numpy()
    check["foreign_load_max"] = summary["foreign_load_max"].to_numpy()
    check["trials_cv"] = summary["cv"].to_numpy()
    serial_cv = {(r.workload, r.cores): r.trials_cv for r in check.itertuples() if r.backend == "serial"}
    check["serial_trials_cv"] = [serial_cv.get((r.workload, r.cores), math.nan) for r in check.itertuples()]
    check["ratio_error_vs_serial"] = _ratio_errors(check)
    for i, row in check.iterrows():
        if row.abs_error > OUT_OF_SAMPLE_MISS:
            check.at[i, "note"] = _out_of_sample_note(row)
    return check


def _ratio_errors(check: pd.DataFrame) -> list[float]:
    """Each cell's error against serial's at the same workload and N: (1 + error) / (1 + serial's) - 1.
    What the claims read is a ratio to another backend, and the machine's speed between the
    primitives and the cells (a shared machine) cancels in it."""
    serial = {(r.workload, r.cores): r.error for r in check.itertuples() if r.backend == "serial"}
    out = []
    for r in check.itertuples():
        base = serial.get((r.workload, r.cores), math.nan)
        out.append(math.nan if r.backend == "serial" or math.isnan(base) or math.isnan(r.error)
                   else (1 + r.error) / (1 + base) - 1)
    return out


# ... and where such a cell is over-predicted beyond it, measured against serial too.
OVERSUBSCRIBED_OVERCOUNTS: dict[tuple[str, str], str] = {
    ("numerical", "ray"): ("a compute term per backend: the model takes every backend's convolution at the one "
                           "primitive's cost, while Ray's workers convolved faster per unit than serial did (as "
                           "in-sample, where Ray over serial at 2 cores exceeds the calibrated ceiling)"),
}
# Over-predicted against serial where no term is known that would make the cell faster.
SERIAL_REFERENCE = ("the cell was faster against serial than the model says, and no cost the model over-counts "
                    "here is known; serial at the same N, the reference, was measured on the busy machine too, so "
                    "its seconds are the likelier cause")


def _out_of_sample_note(row: pd.Series) -> str:
    """Why an oversubscribed cell misses: the machine's speed where serial at the same N misses
    alike (the error against serial is within the threshold), otherwise what the model lacks."""
    text = (f"{'over' if row.error > 0 else 'under'}-predicted by {abs(row.error):.0%} with {row.cores} workers on "
            f"{row.cpus} CPUs (foreign load up to {row.foreign_load_max:.0%})")
    cv = row.get("trials_cv", math.nan)
    if not pd.isna(cv) and cv > TARGET_ERROR:
        text += f"; the cell itself is noisy (its trials' CV {cv:.0%})"
    if row.backend == "serial":
        return text + "; " + OVERSUBSCRIBED_OMISSIONS["serial"]
    ratio = row.ratio_error_vs_serial
    if not math.isnan(ratio) and abs(ratio) <= OUT_OF_SAMPLE_MISS:
        return (text + f"; against serial at the same N the error is {ratio:+.0%}: serial missed alike, so the "
                       f"machine was slower during the cells than during the primitives (shared), not a missing term")
    # The direction decides: under-predicted against serial, a cost the model lacks; over-predicted,
    # a cost it counts that the cell did not pay (or serial's own seconds).
    lacks = "the model lacks: " + OVERSUBSCRIBED_OMISSIONS.get(row.backend, KNOWN_OMISSIONS.get(row.backend, ""))
    if not math.isnan(ratio) and ratio > 0:
        overcount = OVERSUBSCRIBED_OVERCOUNTS.get((row.workload, row.backend))
        lacks = f"the model lacks: {overcount}" if overcount else SERIAL_REFERENCE
    against = f"; against serial at the same N {ratio:+.0%}" if not math.isnan(ratio) else ""
    serial_cv = row.get("serial_trials_cv", math.nan)
    if against and not pd.isna(serial_cv) and serial_cv > TARGET_ERROR:
        against += f" (serial's own cell is noisy: its trials' CV {serial_cv:.0%})"
    return text + against + "; " + lacks


def out_of_sample_errors(check: pd.DataFrame) -> pd.DataFrame:
    """Median and worst absolute error of the oversubscribed cells: per backend and N, per backend,
    and over the original backends; never pooled with the in-sample cells."""
    columns = ["sample", "backend", "cores", "cells", "median_abs_error", "worst_abs_error", "worst_cell",
               "median_abs_ratio_error_vs_serial"]
    if "sample" not in check:
        return pd.DataFrame(columns=columns)
    have = check[(check["sample"] == OUT_OF_SAMPLE)].dropna(subset=["abs_error"])
    groups = [(b, str(n), g) for (b, n), g in have.groupby(["backend", "cores"])]
    groups += [(b, "all", g) for b, g in have.groupby("backend")]
    groups.append(("original backends (serial, multiprocessing, ray)", "all",
                   have[have.original_backend.astype(bool)]))
    rows = []
    for backend, cores, g in groups:
        if g.empty:
            continue
        worst = g.loc[g.abs_error.idxmax()]
        rows.append({"sample": OUT_OF_SAMPLE, "backend": backend, "cores": cores, "cells": len(g),
                     "median_abs_error": float(g.abs_error.median()), "worst_abs_error": float(worst.abs_error),
                     "worst_cell": f"{worst.workload}/{worst.backend}/{int(worst.cores)}",
                     "median_abs_ratio_error_vs_serial": float(g.ratio_error_vs_serial.abs().median())})
    return pd.DataFrame(rows, columns=columns)


# ------------------------------------------------------------------------------- projection


@dataclass(frozen=True)
class ClaimProjection:
    """A claim's ratio at `cores` as the model projects it (never a measurement)."""

    claim_id: str
    cores: int
    value: float  # the ratio (for a range claim: the lowest workload's, as the verdicts use)
    ci_low: float  # the primitives' re-draws only
    ci_high: float
    value_high: float | None  # range claims: the highest workload's ratio
    per_workload: dict[str, float]
    dominant: str  # one sentence naming the dominant term(s)
    assumptions: tuple[str, ...]
    label: str = "projection"
    interval_low: float = math.nan  # re-draws and the model's measured error, assumptions as stated
    interval_high: float = math.nan
    bracket_low: float = math.nan  # ... and every binding assumption between its stated bounds
    bracket_high: float = math.nan
    bracket_note: str = ""  # the bracket's parts in words, naming the assumption that makes it wide
    widest_assumption: str = ""


def _ratio_parts(claim: dict, workload: str, cores: int, inputs: ModelInputs) -> tuple[float, list[Prediction]]:
    backend, baseline = claim["backend"], claim["baseline"]
    mine = predict(workload, backend, cores, inputs)
    if baseline == "faster_of_two":
        serial = predict(workload, "serial", cores, inputs)
        mp = predict(workload, "multiprocessing", cores, inputs)
        base = min(serial, mp, key=lambda p: p.seconds)
    else:
        base = predict(workload, baseline, cores, inputs)
    return (base.seconds / mine.seconds if mine.seconds > 0 else math.nan), [base, mine]


def _claim_workloads(claim: dict) -> list[str]:
    return [claim["workload"]] if claim.get("workload") else ["numerical", "stateful", "expensive_init"]


def projectable(claim: dict) -> bool:
    return claim.get("kind") in ("speedup", "range")


def _claim_statistic(claim: dict, cores: int, inputs: ModelInputs) -> tuple[float, float, dict[str, float],
                                                                          list[Prediction]]:
    ratios, parts = {}, {}
    for w in _claim_workloads(claim):
        ratios[w], parts[w] = _ratio_parts(claim, w, cores, inputs)
    low_w = min(ratios, key=lambda w: ratios[w])
    return ratios[low_w], max(ratios.values()), ratios, parts[low_w]


# ------------------------------------------------------------------------------ uncertainty
#
# A projection's bracket carries everything known to be uncertain about it:
#   (a) the primitives' sampling noise: the model re-evaluated on bootstrap re-draws of them;
#   (b) the model's own error: each side of a ratio multiplied by an error drawn from the measured
#       cells' predicted / measured (`model_check.csv`; per backend, independently for the two sides,
#       which is the wider choice where their errors are correlated);
#   (c) each assumption that binds it, taken at each of its stated bounds (ASSUMPTIONS).
# The bracket is the union of the 95% intervals of (a) x (b) over every combination of the bounds.

# A stated bound, below what a machine of this project measured: paper/device16's 16 vCPUs deliver
# 8.37x one (efficiency 0.52), with 0.92 at 2 cores, as this machine's reference does.
CAPACITY_LOW_EFFICIENCY = 0.50
MIN_ERROR_CELLS = 3  # a backend with fewer checked cells draws its error from every checked cell


@dataclass(frozen=True)
class Assumption:
    """One thing the model takes beyond what was measured, and the values that bracket it."""

    name: str
    knob: str  # the ModelInputs setting it changes: "efficiency_beyond" or "tf_parallel_fraction"
    central: str  # what the point projection takes, in words
    bounds: tuple[tuple[str, float], ...]  # the other stated values: (in words, value)


def post_thread_scaling(claims: dict) -> tuple[float, str] | None:
    """The Amdahl parallel fraction of Keras' predict that the post's own B3 numbers imply, and how.

    Its serial B3 did rounds x cores predictions (TensorFlow with every core's threads) in
    original_seconds.serial; its Ray B3 did one predict per actor per round in original_seconds.ray,
    i.e. one single-threaded predict took at most ray / rounds. Their ratio is the gain from `cores`
    threads; Amdahl's law 1 / ((1 - p) + p / cores) = gain gives p. None where claims.yaml lacks them.
    """
    seconds = claims.get("original_seconds", {}).get("expensive_init", {})
    rounds = claims.get("original_sizes", {}).get("expensive_init", {}).get("rounds")
    cores = max((c.get("cores") or 0 for c in claims.get("claims", [])), default=0)
    if not (seconds.get("serial") and seconds.get("ray") and rounds and cores > 1):
        return None
    serial_each = seconds["serial"] / (rounds * cores)
    actor_each = seconds["ray"] / rounds
    gain = actor_each / serial_each
    fraction = min(max((1 - 1 / gain) / (1 - 1 / cores), 0.0), 1.0)
    return fraction, (f"the post's own serial B3 ({rounds * cores} predictions in {seconds['serial']:g} s at {cores} "
                      f"cores, {serial_each:.2f} s each, against {actor_each:.2f} s per predict in one Ray actor: "
                      f"{seconds['ray']:g} s for {rounds} rounds), i.e. {gain:.2g}x from {cores} threads, Amdahl "
                      f"parallel fraction {fraction:.2f}")


def assumptions_of(claims: dict) -> list[Assumption]:
    out = [Assumption("capacity beyond the calibrated cores", "efficiency_beyond",
                      "the efficiency calibrated at the largest measured count",
                      (("ideal cores (efficiency 1.00)", 1.0),
                       (f"a stated lower efficiency ({CAPACITY_LOW_EFFICIENCY:.2f})", CAPACITY_LOW_EFFICIENCY)))]
    post = post_thread_scaling(claims)
    if post is not None:
        out.append(Assumption("TensorFlow threads of serial B3's predict", "tf_parallel_fraction",
                              "no gain beyond the largest measured thread count", ((post[1], post[0]),)))
    return out


def with_assumptions(m: ModelInputs, settings: dict[str, float]) -> ModelInputs:
    """The inputs with the given assumption knobs set (absent: the central assumption)."""
    return replace(m, capacity=replace(m.capacity, efficiency_beyond=settings.get("efficiency_beyond")),
                   tf_parallel_fraction=settings.get("tf_parallel_fraction"), cache={})


@dataclass(frozen=True)
class ModelError:
    """The model's measured error: log(predicted / measured) of every checked cell, per backend."""

    by_backend: dict[str, np.ndarray]
    pooled: np.ndarray

    @classmethod
    def from_check(cls, check: pd.DataFrame | None) -> ModelError:
        """In-sample cells: their error. Out-of-sample (oversubscribed) cells: their error against
        serial at the same N: they test the terms that grow with N, and on a shared machine their
        absolute seconds also carry the machine's drift since the primitives, which cancels in the
        ratios a projection is about (serial's own out-of-sample cells are that reference). As for
        the verdicts, a cell measured while something else kept a CPU of the run busy (foreign
        load above FOREIGN_LOAD_MAX) is reported but not used: its error is the neighbour's."""
        from .quiet import FOREIGN_LOAD_MAX

        if check is None or "error" not in check:
            return cls({}, np.zeros(0))
        frames = [check]
        if "sample" in check:
            inside = check[check["sample"] == IN_SAMPLE]
            outside = check[(check["sample"] == OUT_OF_SAMPLE) & (check.backend != "serial")]
            outside = outside[outside.get("foreign_load_max", pd.Series(0.0, index=outside.index)).fillna(0.0)
                              <= FOREIGN_LOAD_MAX]
            frames = [inside, outside.assign(error=outside.get("ratio_error_vs_serial", np.nan))]
        have = pd.concat(frames, ignore_index=True).dropna(subset=["error"])
        logs = np.log1p(have.error.to_numpy(float))
        return cls({b: logs[(have.backend == b).to_numpy()] for b in have.backend.unique()}, logs)

    @property
    def cells(self) -> int:
        return len(self.pooled)

    def draws(self, workload: str, backend: str, count: int, seed: int) -> np.ndarray:
        """`count` errors for one side, the same for every scenario (common random numbers)."""
        own = self.by_backend.get(backend, np.zeros(0))
        pool = own if len(own) >= MIN_ERROR_CELLS else self.pooled
        if not len(pool):
            return np.zeros(count)
        rng = np.random.default_rng([seed, zlib.crc32(f"{workload}/{backend}".encode())])
        return rng.choice(pool, size=count)


class _Scenarios:
    """The point inputs and the bootstrap draws under each combination of assumption settings."""

    def __init__(self, point: ModelInputs, draws: list[ModelInputs], error: ModelError, seed: int):
        self.point, self.draws, self.error, self.seed = point, draws, error, seed
        self._made: dict[tuple, tuple[ModelInputs, list[ModelInputs]]] = {}
        self._errors: dict[tuple[str, str], np.ndarray] = {}

    def get(self, settings: dict[str, float]) -> tuple[ModelInputs, list[ModelInputs]]:
        key = tuple(sorted(settings.items()))
        if not key:
            return self.point, self.draws
        if key not in self._made:
            self._made[key] = (with_assumptions(self.point, settings),
                               [with_assumptions(d, settings) for d in self.draws])
        return self._made[key]

    def errors(self, workload: str, backend: str) -> np.ndarray:
        if (workload, backend) not in self._errors:
            self._errors[(workload, backend)] = self.error.draws(workload, backend, len(self.draws), self.seed)
        return self._errors[(workload, backend)]


def _claim_samples(claim: dict, cores: int, scenarios: _Scenarios, draws: list[ModelInputs],
                   with_error: bool) -> np.ndarray:
    """The claim's statistic on every draw, each side times an error drawn from the model's own."""
    per_workload = []
    for w in _claim_workloads(claim):
        values = []
        for i, d in enumerate(draws):
            ratio, (base, mine) = _ratio_parts(claim, w, cores, d)
            if with_error:  # measured = predicted / (1 + error), so the ratio's error is mine's over base's
                ratio *= math.exp(scenarios.errors(w, mine.backend)[i] - scenarios.errors(w, base.backend)[i])
            values.append(ratio)
        per_workload.append(values)
    return np.min(np.array(per_workload, float), axis=0) if per_workload else np.zeros(0)


def _interval(samples: np.ndarray) -> tuple[float, float]:
    if not len(samples):
        return math.nan, math.nan
    alpha = (1 - CI_LEVEL) / 2
    low, high = np.quantile(samples, [alpha, 1 - alpha])
    return float(low), float(high)


def _binding(claim: dict, cores: int, value: float, scenarios: _Scenarios,
             assumptions: list[Assumption]) -> list[tuple[Assumption, dict[str, float]]]:
    """The assumptions that change this projection, each with the claim's value at each bound."""
    out = []
    for a in assumptions:
        values = {a.central: value}
        for label, setting in a.bounds:
            point, _ = scenarios.get({a.knob: setting})
            values[label] = _claim_statistic(claim, cores, point)[0]
        if any(not math.isclose(v, value, rel_tol=1e-9) for v in values.values()):
            out.append((a, values))
    return out


def _bracket(claim: dict, cores: int, scenarios: _Scenarios,
             binding: list[tuple[Assumption, dict[str, float]]]) -> tuple[float, float]:
    """The union of the re-draw x error intervals over every combination of the binding bounds."""
    lows, highs = [], []
    options = [[None, *(v for _, v in a.bounds)] for a, _ in binding]
    for combo in itertools.product(*options):
        settings = {a.knob: v for (a, _), v in zip(binding, combo) if v is not None}
        _, draws = scenarios.get(settings)
        low, high = _interval(_claim_samples(claim, cores, scenarios, draws, with_error=True))
        lows.append(low)
        highs.append(high)
    return min(lows), max(highs)


def _bracket_note(value: float, ci: tuple[float, float], interval: tuple[float, float],
                  bracket: tuple[float, float], binding: list[tuple[Assumption, dict[str, float]]],
                  error: ModelError) -> tuple[str, str]:
    """The bracket in words, and the name of the assumption that widens it most ("" if none binds)."""
    parts = [f"the primitives' re-draws give [{ci[0]:.3g}, {ci[1]:.3g}]"]
    if error.cells:
        parts.append(f"with the model's measured error on {error.cells} checked cells, "
                     f"[{interval[0]:.3g}, {interval[1]:.3g}]")
    widest = ""
    if binding:
        spread = {a.name: max(v.values()) / min(v.values()) for a, v in binding if min(v.values()) > 0}
        widest = max(spread, key=lambda k: spread[k]) if spread else binding[0][0].name
        for a, values in binding:
            parts.append(f"{a.name}: " + "; ".join(f"{label}: {v:.3g}x" for label, v in values.items()))
    note = (f"Bracket [{bracket[0]:.3g}, {bracket[1]:.3g}] around the projected {value:.3g}x: " + " | ".join(parts)
            + (f". Widest: the assumption on {widest}." if widest else "."))
    return note, widest


def _above_n(claim_value: float, cores: int, parts: list[Prediction], inputs: ModelInputs) -> str:
    """Why a projected speedup over serial above N is possible: serial's unit of work costs more."""
    base, mine = parts
    if base.backend != "serial" or claim_value <= cores:
        return ""
    capacity, _ = inputs.capacity.at(cores)
    top = base.dominant()
    mine_cpu = mine.bounds.get(WORK, mine.seconds) * capacity
    return (f"above {cores}x on {cores} cores, impossible for equal work per unit, because serial's unit costs more: "
            f"serial spends {top.seconds:.3g} s on {top.name} ({top.formula}) where {mine.backend}'s whole work is "
            f"{mine_cpu:.3g} CPU-seconds, most of it {mine.dominant().name} ({mine.dominant().formula}); ")


def project_claims(claims: dict, primitives: PrimitiveSet, calibration: pd.DataFrame, cores: int = 48,
                   resamples: int = 1000, seed: int = 20190116, draws: list[ModelInputs] | None = None,
                   check: pd.DataFrame | None = None, scenarios: _Scenarios | None = None
                   ) -> dict[str, ClaimProjection]:
    """For each speedup or range claim: its ratio projected to `cores`, a percentile interval from
    re-drawing the primitives (each primitive's samples resampled, its mean taken, the model
    evaluated again), the wider interval that adds the model's measured error (`check`: the
    model_check table of measured cells; none: no error term), the bracket that adds every binding
    assumption at its stated bounds, and a sentence naming the dominant term of each side.

    Inputs are the claims (paper/claims.yaml as loaded by verdicts.load_claims), the primitives
    and the calibration table, and the check's errors; no measured cell's seconds. Claims the model
    cannot evaluate (a backend not modelled, a primitive missing) are left out.
    """
    if scenarios is None:
        point = ModelInputs.means(primitives, calibration)
        if draws is None:
            draws = bootstrap_inputs(primitives, calibration, resamples, seed)
        scenarios = _Scenarios(point, draws, ModelError.from_check(check), seed)
    point, draws = scenarios.point, scenarios.draws
    assumptions = assumptions_of(claims)
    out = {}
    for claim in claims["claims"]:
        if not projectable(claim):
            continue
        try:
            value, high, per_workload, parts = _claim_statistic(claim, cores, point)
        except (KeyError, MissingPrimitive):
            continue
        if not math.isfinite(value):
            continue
        ci = _interval(np.array([_claim_statistic(claim, cores, d)[0] for d in draws]))
        interval = _interval(_claim_samples(claim, cores, scenarios, draws, with_error=True))
        binding = _binding(claim, cores, value, scenarios, assumptions)
        bracket = _bracket(claim, cores, scenarios, binding) if draws else (math.nan, math.nan)
        note, widest = _bracket_note(value, ci, interval, bracket, binding, scenarios.error)
        base, mine = parts
        where = (f" ({', '.join(f'{WORKLOAD_LABELS[w]} {r:.2g}x' for w, r in per_workload.items())}; "
                 f"lowest {WORKLOAD_LABELS[base.workload]})" if len(per_workload) > 1 else "")
        sentence = (f"Projected {value:.3g}x{where}, {_above_n(value, cores, parts, point)}"
                    f"{base.sentence()}; {mine.sentence()}.")
        stated = tuple(dict.fromkeys(a for p in parts for a in p.assumptions))
        out[claim["id"]] = ClaimProjection(claim["id"], cores, float(value), ci[0], ci[1],
                                           float(high) if len(per_workload) > 1 else None, per_workload,
                                           sentence, stated, interval_low=interval[0], interval_high=interval[1],
                                           bracket_low=bracket[0], bracket_high=bracket[1], bracket_note=note,
                                           widest_assumption=widest)
    return out


def projection_table(claims: dict, primitives: PrimitiveSet, calibration: pd.DataFrame,
                     cores: Iterable[int] = ORIGINAL_CORES, resamples: int = 1000,
                     seed: int = 20190116, check: pd.DataFrame | None = None) -> pd.DataFrame:
    rows = []
    scenarios = _Scenarios(ModelInputs.means(primitives, calibration),
                           bootstrap_inputs(primitives, calibration, resamples, seed), ModelError.from_check(check),
                           seed)
    for n in cores:
        for cid, p in project_claims(claims, primitives, calibration, n, scenarios=scenarios).items():
            claim = next(c for c in claims["claims"] if c["id"] == cid)
            claimed = claim.get("value") if claim["kind"] == "speedup" else f"{claim['low']}-{claim['high']}"
            rows.append({"claim": cid, "kind": claim["kind"], "backend": claim["backend"],
                         "baseline": claim["baseline"], "workload": claim.get("workload", "all three"),
                         "claimed": claimed, "claimed_cores": claim.get("cores"), "cores": n,
                         "projected": p.value, "ci_low": p.ci_low, "ci_high": p.ci_high,
                         "interval_low": p.interval_low, "interval_high": p.interval_high,
                         "bracket_low": p.bracket_low, "bracket_high": p.bracket_high,
                         "projected_high": p.value_high,
                         "per_workload": "; ".join(f"{w} {r:.3g}" for w, r in p.per_workload.items()),
                         "dominant": p.dominant, "assumptions": " | ".join(p.assumptions),
                         "widest_assumption": p.widest_assumption, "bracket_note": p.bracket_note,
                         "label": "projection (cost model, not a measurement)"})
    return pd.DataFrame(rows)


def projection_check(claims: dict, primitives: PrimitiveSet, summary: pd.DataFrame, calibration: pd.DataFrame,
                     speedups: pd.DataFrame, built_from: int = 2, resamples: int = 300,
                     seed: int = 20190116) -> pd.DataFrame:
    """The projections as a 2-core machine would have made them, against a larger machine's
    measurements: the model gets only the calibration and the cells (for its error) up to
    `built_from` cores, projects each speedup claim to every larger measured core count, and each
    row says whether the measured ratio falls inside the bracket."""
    small_calibration = calibration[calibration.cores <= built_from]
    check = check_cells(primitives, summary[summary.cores <= built_from], small_calibration)
    scenarios = _Scenarios(ModelInputs.means(primitives, small_calibration),
                           bootstrap_inputs(primitives, small_calibration, resamples, seed),
                           ModelError.from_check(check), seed)
    rows = []
    for n in sorted(int(c) for c in calibration.cores.unique() if c > built_from):
        for cid, p in project_claims(claims, primitives, small_calibration, n, scenarios=scenarios).items():
            claim = next(c for c in claims["claims"] if c["id"] == cid)
            if claim["kind"] != "speedup":
                continue
            hit = speedups[(speedups.workload == claim["workload"]) & (speedups.backend == claim["backend"])
                           & (speedups.baseline == claim["baseline"]) & (speedups.cores == n)]
            measured = float(hit.speedup.iloc[0]) if len(hit) else math.nan
            rows.append({"claim": cid, "cores": n, "built_from_cores": built_from, "measured": measured,
                         "projected": p.value, "error": p.value / measured - 1 if measured else math.nan,
                         "bracket_low": p.bracket_low, "bracket_high": p.bracket_high,
                         "inside_bracket": (p.bracket_low <= measured <= p.bracket_high) if len(hit) else None,
                         "widest_assumption": p.widest_assumption,
                         "label": "projection from the smaller core counts against a measurement"})
    return pd.DataFrame(rows)


def projection_curves(primitives: PrimitiveSet, calibration: pd.DataFrame, backends: Iterable[str],
                      workloads: Iterable[str], cores: Iterable[int] = range(1, 49), band_cores=PROJECTION_CORES,
                      resamples: int = 300, seed: int = 20190116) -> pd.DataFrame:
    """Projected seconds per (workload, backend, cores), with a bootstrap band at `band_cores`."""
    point = ModelInputs.means(primitives, calibration)
    draws = bootstrap_inputs(primitives, calibration, resamples, seed)
    rows = []
    alpha = (1 - CI_LEVEL) / 2
    for w in workloads:
        for b in backends:
            for n in cores:
                try:
                    p = predict(w, b, n, point)
                except (KeyError, MissingPrimitive):
                    break
                low = high = np.nan
                if n in band_cores and draws:
                    values = [predict(w, b, n, d).seconds for d in draws]
                    low, high = np.quantile(values, [alpha, 1 - alpha])
                rows.append({"workload": w, "backend": b, "cores": n, "projected_s": p.seconds,
                             "ci_low_s": low, "ci_high_s": high, "bound": p.bound,
                             "dominant": p.dominant().name})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------ stage


def _read_table(tables: Path, name: str) -> pd.DataFrame:
    path = Path(tables) / f"{name}.csv"
    try:
        return pd.read_csv(path)
    except (OSError, pd.errors.EmptyDataError) as exc:
        raise ModelInputError(f"{path}: cannot read it ({exc}); run `parbench aggregate` first") from None


def _check_compatible(primitives: PrimitiveSet, tables: Path) -> None:
    timings = Path(tables) / "timings.csv"
    if timings.exists():
        presets = set(pd.read_csv(timings, usecols=["preset"]).preset.dropna().unique())
        if presets and presets != {primitives.preset}:
            raise ModelInputError(
                f"the primitives were measured at preset {primitives.preset!r} but the cells at "
                f"{', '.join(sorted(presets))}; run `parbench primitives --preset {min(presets)}`")


def write_model_outputs(primitives_path: Path, tables: Path, claims_path: Path, out_dir: Path,
                        figures_dir: Path | None = None, resamples: int = 1000,
                        oversubscribed: Path | None = None) -> list[Path]:
    """The `model` stage: model_check.csv, model_errors.csv, projections.csv, model_curves.csv,
    and (with figures_dir) model_<workload>.png. With `oversubscribed` (a folder of oversubscribed
    cells, see oversubscribed_check), their rows are added to model_check.csv and model_errors.csv,
    marked out-of-sample and never pooled with the in-sample cells; their errors widen the
    projections' intervals with the in-sample ones."""
    from ..records import write_atomic
    from .verdicts import load_claims

    primitives = PrimitiveSet.load(primitives_path)
    _check_compatible(primitives, tables)
    summary = _read_table(tables, "summary")
    calibration = _read_table(tables, "calibration")
    claims = load_claims(claims_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    check = check_cells(primitives, summary, calibration)
    if oversubscribed is not None:
        check = pd.concat([check, oversubscribed_check(oversubscribed, primitives_path, calibration)],
                          ignore_index=True)
    errors = error_summary(check)
    if oversubscribed is not None:
        errors = pd.concat([errors.assign(sample=IN_SAMPLE, cores="all"), out_of_sample_errors(check)],
                           ignore_index=True)
    projections = projection_table(claims, primitives, calibration, ORIGINAL_CORES, resamples, check=check)
    workloads = [w for w in ("numerical", "stateful", "expensive_init") if w in set(summary.workload)]
    backends = [b for b in ("serial", "multiprocessing", "ray", "multiprocessing_tuned") if b in set(summary.backend)]
    curves = projection_curves(primitives, calibration, backends, workloads, resamples=max(resamples // 4, 50))
    written = []
    for name, frame in (("model_check", check), ("model_errors", errors), ("projections", projections),
                        ("model_curves", curves)):
        path = out_dir / f"{name}.csv"
        write_atomic(path, frame.to_csv(index=False))
        written.append(path)
    from .drift import write_drift_outputs  # what changed since 2019 (drift.csv, projections_2019.csv)

    written += write_drift_outputs(claims, primitives, calibration, out_dir, ORIGINAL_CORES, resamples)
    if figures_dir is not None:
        from ..model_figures import render_model_figures

        written += render_model_figures(summary, curves, Path(figures_dir), workloads)
    return written


def write_projection_check(primitives_path: Path, tables: Path, claims_path: Path, out_dir: Path,
                           built_from: int, resamples: int = 300) -> Path:
    """projection_check.csv: the claims projected from `built_from` cores against the run's larger ones."""
    from ..records import write_atomic
    from .verdicts import load_claims

    frame = projection_check(load_claims(claims_path), PrimitiveSet.load(primitives_path),
                             _read_table(tables, "summary"), _read_table(tables, "calibration"),
                             _read_table(tables, "speedups"), built_from, resamples)
    path = Path(out_dir) / "projection_check.csv"
    write_atomic(path, frame.to_csv(index=False))
    return path
