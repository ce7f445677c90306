"""Claims (paper/claims.yaml) + measured tables -> one verdict per claim, with the reason.

Verdicts:
- "reproduced" / "not reproduced": the claim was tested at its core count (rules per kind below);
- "not testable here": the claim is at more cores than the run used (48 on a 2-core machine). The
  explanation gives what the run does show, and, where the cost model ran, the claim's ratio
  projected to the claim's core count (always labelled a projection, never a measurement);
- "inconclusive: the machine was busy": the numbers the verdict rests on were measured while
  something else ran on the run's CPUs (analysis/quiet.py); the measured numbers are still shown.

Each "N x faster than serial at 48 cores" claim is also restated as the parallel efficiency it
implies (N / 48) and checked at the run's largest core count: a second, derived verdict, labelled.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..catalog import PER_DOCUMENT, WORKLOAD_ORDER, cell_workload
from .quiet import QuietCheck

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
NOT_TESTABLE = "not testable here"
INCONCLUSIVE = "inconclusive: the machine was busy"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, NOT_TESTABLE, INCONCLUSIVE)
SCALED_SUFFIX = "-scaled"


class ClaimsError(ValueError):
    """paper/claims.yaml is malformed."""


@dataclass
class ClaimVerdict:
    id: str
    text: str
    source: str
    kind: str
    claimed: str  # the claim's number in words, e.g. "9x at 48 cores"
    measured: str  # the measurement in words, e.g. "1.6x [1.4, 1.8] at 2 cores"
    verdict: str
    explanation: str
    value: float | None = None  # the measured number the verdict rests on
    ci_low: float | None = None
    ci_high: float | None = None
    cores: int | None = None
    depends_on_cores: list[int] = field(default_factory=list)  # core counts whose cells the verdict uses
    projected: float | None = None  # the cost model's value at the claim's core count (a projection)
    projected_ci_low: float | None = None
    projected_ci_high: float | None = None
    projected_cores: int | None = None
    projection_note: str = ""  # the dominant term, in one sentence
    # The bracket around the projection: re-draws, the model's measured error and every binding
    # assumption at its stated bounds (analysis/model/projection.py, "uncertainty"); the note names what widens it.
    projected_bracket_low: float | None = None
    projected_bracket_high: float | None = None
    projection_widest_assumption: str = ""

    def row(self) -> dict[str, Any]:
        """A flat row for verdicts.csv / verdicts.json (None for numbers that do not apply)."""
        out = asdict(self)
        out["depends_on_cores"] = " ".join(map(str, self.depends_on_cores))
        for key, value in out.items():
            if isinstance(value, float) and math.isnan(value):
                out[key] = None
        return out


@dataclass(frozen=True)
class Tables:
    """The aggregated tables a verdict may read (aggregate.py writes them)."""

    speedups: pd.DataFrame
    summary: pd.DataFrame
    calibration: pd.DataFrame
    growth: pd.DataFrame

    @classmethod
    def read(cls, folder: Path) -> Tables:
        return cls(*(pd.read_csv(folder / f"{name}.csv") for name in ("speedups", "summary", "calibration", "growth")))


def load_claims(path: str | Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ClaimsError(f"{path}: cannot read the claims ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        raise ClaimsError(f"{path}: expected a mapping with a 'claims' list")
    for claim in data["claims"]:
        if claim.get("kind") not in EVALUATORS:
            raise ClaimsError(f"{path}: claim {claim.get('id')!r} has kind {claim.get('kind')!r}; "
                              f"allowed: {', '.join(EVALUATORS)}")
    return data


def _fmt(x: float | None, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.{digits}f}"


def _with_ci(value: float, low: float, high: float) -> str:
    if math.isnan(low) or math.isnan(high):
        return f"{_fmt(value)}x (no CI)"
    return f"{_fmt(value)}x [{_fmt(low)}, {_fmt(high)}]"


def _upper(row) -> float:
    return row.speedup if math.isnan(row.ci_high) else row.ci_high


def _lower(row) -> float:
    return row.speedup if math.isnan(row.ci_low) else row.ci_low


def _ceiling(calibration: pd.DataFrame, cores: int) -> float | None:
    hit = calibration[calibration.cores == cores]
    return float(hit.ceiling.iloc[0]) if len(hit) else None


def _trend(rows: pd.DataFrame, column: str = "speedup") -> str:
    return ", ".join(f"{int(r.cores)}: {_fmt(getattr(r, column))}x" for r in rows.sort_values("cores").itertuples())


def _bound_note(baseline: str, cores: int, calibration: pd.DataFrame) -> str:
    if baseline not in ("serial", "faster_of_two"):
        return ""
    ceiling = _ceiling(calibration, cores)
    note = f" On {cores} cores a parallel backend can be at most {cores}x faster than serial work"
    if ceiling is not None:
        note += f"; this machine's calibrated ceiling at {cores} cores is {_fmt(ceiling)}x"
    return note + "."


def _involved(backend: str, baseline: str) -> list[str]:
    return [backend] + (["serial", "multiprocessing"] if baseline == "faster_of_two" else [baseline])


def _failed_note(summary: pd.DataFrame, workloads, backends, cores: int) -> str | None:
    """'the ray cell of numerical at 48 cores failed: ...' when a cell the claim needs failed."""
    if "status" not in summary:
        return None
    failed = summary[(summary.cores == cores) & (summary.status != "ok") & summary.workload.isin(workloads)
                     & summary.backend.isin(backends)]
    if failed.empty:
        return None
    return "; ".join(f"the {r.backend} cell of {r.workload} at {cores} cores {r.status}"
                     + (f" ({r.error})" if isinstance(r.error, str) and r.error else "")
                     for r in failed.itertuples())


def _base(claim: dict, kind: str, claimed: str) -> dict[str, Any]:
    return dict(id=claim["id"], text=claim["text"], source=claim.get("source", ""), kind=kind, claimed=claimed)


def _speedup(claim, tables: Tables, tol: float) -> ClaimVerdict:
    speedups = tables.speedups
    rows = speedups[(speedups.workload == claim["workload"]) & (speedups.backend == claim["backend"])
                    & (speedups.baseline == claim["baseline"])]
    base = _base(claim, "speedup", f"{claim['value']}x at {claim['cores']} cores")
    failed = _failed_note(tables.summary, [claim["workload"]], _involved(claim["backend"], claim["baseline"]),
                          claim["cores"])
    if failed:
        return ClaimVerdict(**base, measured="failed", verdict=NOT_TESTABLE, depends_on_cores=[claim["cores"]],
                            explanation=f"{failed}; see its record and the report's warnings.")
    if rows.empty:
        return ClaimVerdict(**base, measured="not measured", verdict=NOT_TESTABLE,
                            explanation=f"no successful {claim['backend']} and {claim['baseline']} cells of "
                                        f"{claim['workload']} in this run")
    at = rows[rows.cores == claim["cores"]]
    row = (at if len(at) else rows[rows.cores == rows.cores.max()]).iloc[0]
    measured = f"{_with_ci(row.speedup, row.ci_low, row.ci_high)} at {int(row.cores)} cores"
    numbers: dict[str, Any] = dict(value=float(row.speedup), ci_low=float(row.ci_low), ci_high=float(row.ci_high),
                   cores=int(row.cores), depends_on_cores=[int(row.cores)])
    if not len(at):
        return ClaimVerdict(**base, measured=measured, verdict=NOT_TESTABLE, **numbers, explanation=(
            f"the claim is at {claim['cores']} cores and this run's largest core count is {int(row.cores)}. "
            f"Measured over cores: {_trend(rows)}."
            + _bound_note(claim["baseline"], int(row.cores), tables.calibration)))
    threshold = claim["value"] * (1 - tol)
    ok = _upper(row) >= threshold
    return ClaimVerdict(**base, measured=measured, verdict=REPRODUCED if ok else NOT_REPRODUCED, **numbers,
                        explanation=(f"the CI {'reaches' if ok else 'stays below'} {_fmt(threshold)}x "
                                     f"(the claimed {claim['value']}x less the {tol:.0%} tolerance)."))


def _range(claim, tables: Tables, tol: float) -> ClaimVerdict:
    speedups = tables.speedups
    rows = speedups[(speedups.backend == claim["backend"]) & (speedups.baseline == claim["baseline"])]
    base = _base(claim, "range", f"{claim['low']}-{claim['high']}x at {claim['cores']} cores")
    failed = _failed_note(tables.summary, WORKLOAD_ORDER, _involved(claim["backend"], claim["baseline"]),
                          claim["cores"])
    if failed:
        return ClaimVerdict(**base, measured="failed", verdict=NOT_TESTABLE, depends_on_cores=[claim["cores"]],
                            explanation=f"{failed}; see its record and the report's warnings.")
    if rows.empty:
        return ClaimVerdict(**base, measured="not measured", verdict=NOT_TESTABLE,
                            explanation=f"no successful {claim['backend']} and {claim['baseline']} cells")
    cores = claim["cores"] if (rows.cores == claim["cores"]).any() else int(rows.cores.max())
    at = rows[rows.cores == cores].set_index("workload")
    present = [w for w in WORKLOAD_ORDER if w in at.index]
    values = [float(at.loc[w, "speedup"]) for w in present]
    per_workload = "; ".join(f"{w} {_with_ci(at.loc[w, 'speedup'], at.loc[w, 'ci_low'], at.loc[w, 'ci_high'])}"
                             for w in present)
    measured = f"{_fmt(min(values))}-{_fmt(max(values))}x at {cores} cores ({per_workload})"
    numbers: dict[str, Any] = dict(value=min(values), ci_low=None, ci_high=None, cores=cores, depends_on_cores=[cores])
    if cores != claim["cores"] or len(present) < len(WORKLOAD_ORDER):
        why = (f"the claim is at {claim['cores']} cores and this run's largest core count is {cores}."
               if cores != claim["cores"] else f"only {', '.join(present)} measured at {cores} cores.")
        return ClaimVerdict(**base, measured=measured, verdict=NOT_TESTABLE, **numbers,
                            explanation=why + _bound_note(claim["baseline"], cores, tables.calibration))
    threshold = claim["low"] * (1 - tol)
    ok = all(_upper(at.loc[w]) >= threshold for w in present)
    return ClaimVerdict(**base, measured=measured, verdict=REPRODUCED if ok else NOT_REPRODUCED, **numbers,
                        explanation=(f"{'every' if ok else 'not every'} workload's CI reaches {_fmt(threshold)}x "
                                     f"(the range's low end {claim['low']}x less the {tol:.0%} tolerance)."))


def _not_faster(claim, tables: Tables, tol: float) -> ClaimVerdict:
    speedups = tables.speedups
    rows = speedups[(speedups.workload == claim["workload"]) & (speedups.backend == claim["backend"])
                    & (speedups.baseline == claim["baseline"])]
    below = claim.get("below_cores")
    if below is not None:
        rows = rows[rows.cores < below]
    scope = f"below {below} cores" if below else "at every core count"
    base = _base(claim, "not_faster", f"{claim['backend']} not faster than {claim['baseline']} {scope}")
    if rows.empty:
        return ClaimVerdict(**base, measured="not measured", verdict=NOT_TESTABLE,
                            explanation=f"no successful {claim['backend']} and {claim['baseline']} cells {scope}")
    measured = f"{claim['backend']} over {claim['baseline']}: " + _trend(rows)
    faster = [int(r.cores) for r in rows.itertuples() if _lower(r) > 1 + tol]
    tested = sorted(int(c) for c in rows.cores.unique())
    worst = rows.loc[rows.speedup.idxmax()]
    numbers: dict[str, Any] = dict(value=float(worst.speedup), ci_low=float(worst.ci_low), ci_high=float(worst.ci_high),
                   cores=int(worst.cores), depends_on_cores=tested)
    if faster:
        return ClaimVerdict(**base, measured=measured, verdict=NOT_REPRODUCED, **numbers, explanation=(
            f"{claim['backend']} is faster than {claim['baseline']} (CI above {1 + tol:.2f}x) at "
            f"{', '.join(map(str, faster))} cores."))
    return ClaimVerdict(**base, measured=measured, verdict=REPRODUCED, **numbers, explanation=(
        f"at no tested core count ({', '.join(map(str, tested))}) is {claim['backend']}'s CI above "
        f"{1 + tol:.2f}x of {claim['baseline']}"
        + (f"; core counts from {max(tested) + 1} to {below - 1} were not run." if below and max(tested) < below - 1
           else ".")))


def _weak_scaling(claim, tables: Tables, tol: float) -> ClaimVerdict:
    growth = tables.growth[tables.growth.backend == claim["backend"]]
    base = _base(claim, "weak_scaling", f"{claim['backend']} time(N) / time(1) about 1 under weak scaling")
    if growth.empty:
        return ClaimVerdict(**base, measured="not measured", verdict=NOT_TESTABLE,
                            explanation=f"needs successful {claim['backend']} cells at 1 core and at more than 1 core")
    n = int(growth.cores.max())
    at = growth[growth.cores == n]
    ceiling = _ceiling(tables.calibration, n) or float(n)
    allowed = n / ceiling * (1 + tol)
    parts, within = [], []
    for workload in WORKLOAD_ORDER:
        hit = at[at.workload == workload]
        if hit.empty:
            continue
        r = hit.iloc[0]
        low = r.growth if math.isnan(r.ci_low) else r.ci_low
        within.append(low <= allowed)
        parts.append(f"{workload} {_with_ci(r.growth, r.ci_low, r.ci_high)}")
    worst = at.loc[at.growth.idxmax()]
    ok = all(within)
    return ClaimVerdict(
        **base, measured=f"time({n}) / time(1): " + "; ".join(parts),
        verdict=REPRODUCED if ok else NOT_REPRODUCED, value=float(worst.growth), ci_low=float(worst.ci_low),
        ci_high=float(worst.ci_high), cores=n, depends_on_cores=[1, n],
        explanation=(f"with N times the work on N cores, an ideal backend keeps its time; this machine's calibrated "
                     f"ceiling at {n} cores ({_fmt(ceiling)}x) allows {_fmt(allowed)}x (N / ceiling, plus the "
                     f"{tol:.0%} tolerance). {'Every' if ok else 'Not every'} workload's CI reaches it."))


EVALUATORS: dict[str, Callable[[dict, Tables, float], ClaimVerdict]] = {
    "speedup": _speedup,
    "range": _range,
    "not_faster": _not_faster,
    "weak_scaling": _weak_scaling,
}


def _scaled(claim: dict, tables: Tables, tol: float) -> ClaimVerdict | None:
    """The parallel efficiency a "value x over serial at C cores" claim implies, tested at this run's N."""
    if claim["kind"] != "speedup" or claim["baseline"] != "serial":
        return None
    efficiency = claim["value"] / claim["cores"]
    speedups = tables.speedups
    rows = speedups[(speedups.workload == claim["workload"]) & (speedups.backend == claim["backend"])
                    & (speedups.baseline == "serial") & (speedups.cores > 1)]
    base = dict(id=claim["id"] + SCALED_SUFFIX, source=f"derived from {claim['id']}", kind="scaled_efficiency",
                text=f"{claim['text']}, restated as parallel efficiency {claim['value']}/{claim['cores']} = "
                     f"{efficiency:.2f} (derived)",
                claimed=f"efficiency {efficiency:.2f}, i.e. {efficiency:.2f} x N over serial at N cores")
    if rows.empty:
        return ClaimVerdict(**base, measured="not measured", verdict=NOT_TESTABLE,
                            explanation="needs successful cells of both backends above 1 core")
    row = rows[rows.cores == rows.cores.max()].iloc[0]
    n = int(row.cores)
    threshold = efficiency * n * (1 - tol)
    ok = _upper(row) >= threshold
    return ClaimVerdict(**base, measured=f"{_with_ci(row.speedup, row.ci_low, row.ci_high)} at {n} cores",
                        verdict=REPRODUCED if ok else NOT_REPRODUCED, value=float(row.speedup),
                        ci_low=float(row.ci_low), ci_high=float(row.ci_high), cores=n, depends_on_cores=[n],
                        explanation=(f"at {n} cores the claimed efficiency means {_fmt(efficiency * n)}x over serial; "
                                     f"the CI {'reaches' if ok else 'stays below'} {_fmt(threshold)}x (less the "
                                     f"{tol:.0%} tolerance). A derived check, not the post's own number."))


# ----------------------------------------------- claims under the 2019 cost of a drifted term (analysis/drift.py)

DRIFT_SUFFIX = "-2019cost"


@dataclass(frozen=True)
class DriftInputs:
    """The model stage's drift.csv and projections_2019.csv."""

    drift: pd.DataFrame
    projections: pd.DataFrame
    # How the run's B2 cells made their documents (run.json); None when its cells mixed both ways.
    cells_generation: str | None = "per-word"

    @classmethod
    def read(cls, folder: Path, run: dict[str, Any] | None = None) -> DriftInputs | None:
        paths = [folder / "drift.csv", folder / "projections_2019.csv"]
        if not all(p.exists() for p in paths):
            return None
        frames = []
        for path in paths:
            try:
                frames.append(pd.read_csv(path))
            except pd.errors.EmptyDataError:  # the model had nothing to write
                frames.append(pd.DataFrame())
        generations = (run or {}).get("document_generations") or ["per-word"]  # older records: per word
        return cls(frames[0], frames[1], generations[0] if len(generations) == 1 else None)

    def cells_term_seconds(self, row) -> float | None:
        """What the term cost in the run's cells: the row's own primitive for per-word cells, the
        alternative's (per-document generation) for per-document cells, None for a mix."""
        if self.cells_generation == "per-word":
            return float(row.now_term_s)
        alternative = self.drift[self.drift.term_primitive == row.alternative_primitive]
        if self.cells_generation == "per-document" and len(alternative):
            return float(alternative.iloc[0].now_term_s)
        return None

    def binding(self, claim_id: str):
        """The drift row of the term that binds this claim, or None."""
        if self.drift.empty or "binds" not in self.drift:
            return None
        hit = self.drift[self.drift.binds.fillna("").str.split().apply(lambda ids: claim_id in ids)]
        return hit.iloc[0] if len(hit) else None


def drift_sentence(row) -> str:
    """The drift of one term, in words and numbers."""
    return (f"{row.term} costs {_fmt(row.now_term_s, 4)} s here, {_fmt(row.now_ratio, 3)} x {row.reference} "
            f"({_fmt(row.now_reference_s, 3)} s); the post's own seconds allow {row.post_relation} "
            f"{_fmt(row.post_ratio, 3)} x ({row.post_basis}), i.e. {_fmt(row.post_ratio * row.now_reference_s, 4)} s "
            f"on this machine: a drift of {row.drift_relation} {_fmt(row.drift, 1)}x")


def _measured_at_2019_cost(claim: dict, tables: Tables, row, cells_term_s: float | None) -> tuple[float, int] | None:
    """The claim's ratio at the run's largest core count with the term's excess over its 2019 cost
    taken out of both sides' medians (each backend's trial holds N x per_core of the term, at
    cells_term_s each: the cost of the way the cells made it)."""
    summary = tables.summary[(tables.summary.workload == claim["workload"]) & (tables.summary.status == "ok")]
    if summary.empty or not math.isfinite(row.per_core) or cells_term_s is None:
        return None
    n = int(summary.cores.max())
    at = summary[summary.cores == n].set_index("backend")
    if claim["backend"] not in at.index or claim["baseline"] not in at.index:
        return None
    excess = n * row.per_core * (cells_term_s - row.post_ratio * row.now_reference_s)
    mine = float(at.loc[claim["backend"], "median_s"]) - excess
    base = float(at.loc[claim["baseline"], "median_s"]) - excess
    return (base / mine if mine > 0 else math.nan), n


def _bracket_words(row) -> str:
    """", bracket [lo, hi] (widest: ...)" for a projections row that has one, else ""."""
    bracket = _bracket_of(row)
    if not bracket:
        return ""
    widest = f"; widest: {bracket['widest']}" if bracket["widest"] else ""
    return f", bracket [{_fmt(bracket['bracket_low'])}, {_fmt(bracket['bracket_high'])}]{widest}"


def _measured_per_document(claim: dict, tables: Tables) -> str | None:
    """The claim's ratio measured in the cells that make each document in one RNG call (the variant
    workload, e.g. stateful_per_document), at their largest core count; None when the run has none."""
    variant = cell_workload(claim["workload"], PER_DOCUMENT)
    if variant == claim["workload"]:
        return None
    rows = tables.speedups[(tables.speedups.workload == variant) & (tables.speedups.backend == claim["backend"])
                           & (tables.speedups.baseline == claim["baseline"])]
    if rows.empty:
        return None
    r = rows.loc[rows.cores.idxmax()]
    return (f"{_with_ci(float(r.speedup), float(r.ci_low), float(r.ci_high))} at {int(r.cores)} cores measured in "
            f"the {variant} cells, which make each document in one RNG call")


def _at_2019_cost(claim: dict, tables: Tables, drift: DriftInputs, tol: float) -> ClaimVerdict | None:
    """A derived row: the claim with the drifted term at the cost the post allows, measured (less the
    excess) at the run's cores and projected at the claim's cores."""
    row = drift.binding(claim["id"])
    if row is None or claim["kind"] != "speedup":
        return None
    base = dict(id=claim["id"] + DRIFT_SUFFIX, source=f"derived from {claim['id']}", kind="speedup_at_2019_cost",
                text=f"{claim['text']}, with {row.term} at its 2019 cost (derived)",
                claimed=f"{claim['value']}x at {claim['cores']} cores")
    measured = _measured_at_2019_cost(claim, tables, row, drift.cells_term_seconds(row))
    numbers: dict[str, Any] = {}
    text = "not measured"
    if measured is not None and math.isfinite(measured[0]):
        numbers = dict(value=measured[0], cores=measured[1], depends_on_cores=[measured[1]])
        text = (f"{_fmt(measured[0])}x at {measured[1]} cores (measured medians less the term's excess; derived, "
                f"no CI)")
    direct = _measured_per_document(claim, tables)
    if direct:
        text = direct if text == "not measured" else f"{text}; {direct}"
    projection = drift.projections
    if "cost" in projection:
        alternative = projection[(projection.cost == "alternative") & (projection.claim == claim["id"])
                                 & (projection.cores == claim["cores"])]
        projection = projection[projection.cost == "post-bound"]
    else:
        alternative = projection.iloc[0:0]
    hit = (projection[(projection.claim == claim["id"]) & (projection.cores == claim["cores"])]
           if not projection.empty else projection)
    if len(hit):
        p = hit.iloc[0]
        numbers.update(projected=float(p.projected), projected_ci_low=float(p.ci_low),
                       projected_ci_high=float(p.ci_high), projected_cores=int(claim["cores"]),
                       projection_note=str(p.label))
        bracket = _bracket_of(p)
        if bracket:
            numbers.update(projected_bracket_low=bracket["bracket_low"], projected_bracket_high=bracket["bracket_high"])
    verdict = NOT_TESTABLE
    if numbers.get("cores") == claim["cores"]:
        verdict = REPRODUCED if numbers["value"] >= claim["value"] * (1 - tol) else NOT_REPRODUCED
    projected = (f" Projected at {claim['cores']} cores with it at that cost: "
                 f"{_with_ci(numbers['projected'], numbers['projected_ci_low'], numbers['projected_ci_high'])}"
                 f"{_bracket_words(hit.iloc[0])} (a projection of the cost model, not a measurement)."
                 if "projected" in numbers else "")
    if len(alternative):
        a = alternative.iloc[0]
        projected += (f" With {a.term} as measured here instead, projected "
                      f"{_with_ci(a.projected, a.ci_low, a.ci_high)}{_bracket_words(a)} (a projection).")
    return ClaimVerdict(**base, measured=text, verdict=verdict, **numbers,
                        explanation=f"{drift_sentence(row)}.{projected} A derived check, not the post's own number.")


def _gate_on_quiet(verdict: ClaimVerdict, quiet: QuietCheck | None) -> ClaimVerdict:
    if quiet is None or verdict.verdict not in (REPRODUCED, NOT_REPRODUCED):
        return verdict
    reason = quiet.reason(verdict.depends_on_cores)
    if reason:
        verdict.explanation = (f"the numbers would say {verdict.verdict}, but the machine was busy {reason}. "
                               f"Rerun on a quiet machine. (Rule: {verdict.explanation})")
        verdict.verdict = INCONCLUSIVE
    return verdict


Projector = Callable[[dict], dict | None]  # claim -> {value, ci_low, ci_high, cores, note} or None


def table_projector(projections: pd.DataFrame) -> Projector:
    """A projector reading projections.csv (written by the `model` stage): the row of the claim at
    the claim's own core count (48 in the original), or nothing where the model has none."""

    def project(claim: dict) -> dict | None:
        cores = claim.get("cores")
        rows = projections[(projections.claim == claim["id"]) & (projections.cores == cores)]
        if cores is None or rows.empty:
            return None
        r = rows.iloc[0]
        return {"value": float(r.projected), "ci_low": float(r.ci_low), "ci_high": float(r.ci_high),
                "cores": int(cores), "note": str(r.dominant), **_bracket_of(r)}

    return project


def _bracket_of(row) -> dict[str, Any]:
    """The bracket columns of a projections.csv row (absent in tables written before them)."""
    if "bracket_low" not in row or pd.isna(row.bracket_low):
        return {}
    widest = row.get("widest_assumption")
    return {"bracket_low": float(row.bracket_low), "bracket_high": float(row.bracket_high),
            "bracket_note": str(row.bracket_note), "widest": widest if isinstance(widest, str) else ""}


def _attach_projection(verdict: ClaimVerdict, projection: dict) -> None:
    verdict.projected = projection["value"]
    verdict.projected_ci_low = projection.get("ci_low")
    verdict.projected_ci_high = projection.get("ci_high")
    verdict.projected_cores = projection.get("cores")
    verdict.projection_note = projection.get("note", "")
    if "bracket_low" in projection:
        verdict.projected_bracket_low = projection["bracket_low"]
        verdict.projected_bracket_high = projection["bracket_high"]
        verdict.projection_widest_assumption = projection["widest"]
        verdict.projection_note = f"{verdict.projection_note} {projection['bracket_note']}".strip()


def evaluate(claims: dict[str, Any], tables: Tables, quiet: QuietCheck | None = None,
             projector: Projector | None = None, drift: DriftInputs | None = None) -> list[ClaimVerdict]:
    """Every claim's verdict, then the derived (scaled, and with a drifted term at its 2019 cost)
    verdicts, in the claims file's order."""
    tol = float(claims.get("tolerance", 0.1))
    out, derived = [], []
    for claim in claims["claims"]:
        verdict = EVALUATORS[claim["kind"]](claim, tables, tol)
        if verdict.verdict == NOT_TESTABLE and projector is not None:
            projection = projector(claim)
            if projection:
                _attach_projection(verdict, projection)
        out.append(_gate_on_quiet(verdict, quiet))
        scaled = _scaled(claim, tables, tol)
        if scaled is not None:
            derived.append(_gate_on_quiet(scaled, quiet))
        derived += _drift_rows(claim, verdict, tables, drift, tol, quiet)
    return out + derived


def _drift_rows(claim: dict, verdict: ClaimVerdict, tables: Tables, drift: DriftInputs | None, tol: float,
                quiet: QuietCheck | None) -> list[ClaimVerdict]:
    """The claim's row at the 2019 cost of the term that binds it; the claim's own explanation then
    names the drift."""
    if drift is None:
        return []
    at_2019 = _at_2019_cost(claim, tables, drift, tol)
    if at_2019 is None:
        return []
    verdict.explanation += (f" What changed since 2019: {drift_sentence(drift.binding(claim['id']))}; with it at "
                            f"that cost the claim reads {at_2019.measured}"
                            + (f", projected {_fmt(at_2019.projected)}x at {at_2019.projected_cores} cores"
                               if at_2019.projected is not None else "") + f" (row {at_2019.id}).")
    return [_gate_on_quiet(at_2019, quiet)]


def write_verdicts(verdicts: list[ClaimVerdict], header: dict[str, Any], out_dir: Path) -> list[Path]:
    """verdicts.csv (one row per claim) and verdicts.json (the run's header plus the same rows)."""
    import json

    from ..records import write_atomic

    rows = [v.row() for v in verdicts]
    csv_path, json_path = out_dir / "verdicts.csv", out_dir / "verdicts.json"
    write_atomic(csv_path, pd.DataFrame(rows).to_csv(index=False))
    write_atomic(json_path, json.dumps({"run": header, "verdicts": rows}, indent=2, default=str))
    return [csv_path, json_path]


def read_verdicts(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    import json

    data = json.loads(Path(path).read_text())
    return data["run"], data["verdicts"]


def judge(tables_dir: Path, claims_path: Path, projections: Path | None = None
          ) -> tuple[list[ClaimVerdict], dict[str, Any]]:
    """Read a run's tables (written by aggregate), check the machine was quiet, judge every claim;
    with the model's projections.csv, the claims not testable here carry their projection."""
    import json

    from . import quiet as quiet_check

    tables = Tables.read(tables_dir)
    points = pd.read_csv(tables_dir / "calibration_points.csv")
    claims = load_claims(claims_path)
    quiet = quiet_check.check(points, tables.summary)
    projector = table_projector(pd.read_csv(projections)) if projections is not None else None
    header = json.loads((tables_dir / "run.json").read_text())
    drift = DriftInputs.read(projections.parent, header) if projections is not None else None
    verdicts = evaluate(claims, tables, quiet, projector, drift)
    header.update(quiet=quiet.quiet, quiet_summary=quiet.summary(),
                  busy_cores={str(c): r for c, r in quiet.busy_cores.items()},
                  tolerance=float(claims.get("tolerance", 0.1)),
                  counts={v: sum(1 for x in verdicts if x.verdict == v) for v in VERDICTS})
    return verdicts, header
