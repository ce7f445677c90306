"""The claims projected to the original core counts, with their brackets (primitives' re-draws, the
model's measured error, the assumptions beyond the measured range), and the stage that writes the tables."""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ...primitives import PrimitiveSet
from .check import (
    IN_SAMPLE,
    OUT_OF_SAMPLE,
    check_cells,
    error_summary,
    out_of_sample_errors,
    oversubscribed_check,
    predict,
)
from .core import (
    CI_LEVEL,
    ORIGINAL_CORES,
    PROJECTION_CORES,
    WORK,
    WORKLOAD_LABELS,
    MissingPrimitive,
    ModelInputError,
    ModelInputs,
    Prediction,
    bootstrap_inputs,
)


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
        from ..quiet import FOREIGN_LOAD_MAX

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
        self._ratios: dict[tuple, dict[str, list[tuple[float, str, str]]]] = {}

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


def _draw_ratios(claim: dict, cores: int, scenarios: _Scenarios,
                 settings: dict[str, float]) -> dict[str, list[tuple[float, str, str]]]:
    """Per workload, on every draw under `settings`: the claim's ratio and its two sides' backends.

    Kept per scenario set: the percentile interval, the interval with the model's error and the
    bracket's first combination (no assumption moved) all need the very same draws, and the model
    evaluations are most of the model stage's time (a smoke run's model stage: 37 s, measured)."""
    key = (claim["id"], cores, tuple(sorted(settings.items())))
    if key not in scenarios._ratios:
        _, draws = scenarios.get(settings)
        per_workload = {}
        for w in _claim_workloads(claim):
            values = []
            for d in draws:
                ratio, (base, mine) = _ratio_parts(claim, w, cores, d)
                values.append((ratio, base.backend, mine.backend))
            per_workload[w] = values
        scenarios._ratios[key] = per_workload
    return scenarios._ratios[key]


def _draw_statistics(claim: dict, cores: int, scenarios: _Scenarios) -> np.ndarray:
    """The claim's statistic (_claim_statistic's lowest workload ratio) on every draw, no error."""
    per_workload = list(_draw_ratios(claim, cores, scenarios, {}).values())
    return np.array([min(ratios[i][0] for ratios in per_workload) for i in range(len(scenarios.draws))], float)


def _claim_samples(claim: dict, cores: int, scenarios: _Scenarios, settings: dict[str, float],
                   with_error: bool) -> np.ndarray:
    """The claim's statistic on every draw, each side times an error drawn from the model's own."""
    per_workload = []
    for w, draws in _draw_ratios(claim, cores, scenarios, settings).items():
        values = []
        for i, (ratio, base_backend, mine_backend) in enumerate(draws):
            if with_error:  # measured = predicted / (1 + error), so the ratio's error is mine's over base's
                ratio *= math.exp(scenarios.errors(w, mine_backend)[i] - scenarios.errors(w, base_backend)[i])
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
        low, high = _interval(_claim_samples(claim, cores, scenarios, settings, with_error=True))
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
        ci = _interval(_draw_statistics(claim, cores, scenarios))
        interval = _interval(_claim_samples(claim, cores, scenarios, {}, with_error=True))
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
    from ...records import write_atomic
    from ..verdicts import load_claims

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
    from ..drift import write_drift_outputs  # what changed since 2019 (drift.csv, projections_2019.csv)

    written += write_drift_outputs(claims, primitives, calibration, out_dir, ORIGINAL_CORES, resamples, check)
    if figures_dir is not None:
        from ...model_figures import render_model_figures

        written += render_model_figures(summary, curves, Path(figures_dir), workloads)
    return written


def write_projection_check(primitives_path: Path, tables: Path, claims_path: Path, out_dir: Path,
                           built_from: int, resamples: int = 300) -> Path:
    """projection_check.csv: the claims projected from `built_from` cores against the run's larger ones."""
    from ...records import write_atomic
    from ..verdicts import load_claims

    frame = projection_check(load_claims(claims_path), PrimitiveSet.load(primitives_path),
                             _read_table(tables, "summary"), _read_table(tables, "calibration"),
                             _read_table(tables, "speedups"), built_from, resamples)
    path = Path(out_dir) / "projection_check.csv"
    write_atomic(path, frame.to_csv(index=False))
    return path
