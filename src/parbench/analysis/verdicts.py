"""Claims (paper/claims.yaml) + measured tables -> one verdict per claim, with the reason.

Verdicts: "reproduced", "not reproduced", or "not testable here" (e.g. the claim is at 48 cores
and the run's largest core count is 2). For the last, the explanation says what the run does
show: the measured ratio at the largest core count, the bound N and the calibrated ceiling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
NOT_TESTABLE = "not testable here"
WORKLOAD_ORDER = ("numerical", "stateful", "expensive_init")
KINDS = ("speedup", "range", "not_faster", "weak_scaling")


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


def load_claims(path: str | Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ClaimsError(f"{path}: cannot read the claims ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        raise ClaimsError(f"{path}: expected a mapping with a 'claims' list")
    for claim in data["claims"]:
        if claim.get("kind") not in KINDS:
            raise ClaimsError(f"{path}: claim {claim.get('id')!r} has kind {claim.get('kind')!r}; "
                              f"allowed: {', '.join(KINDS)}")
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


def _trend(rows: pd.DataFrame) -> str:
    return ", ".join(f"{int(r.cores)}: {_fmt(r.speedup)}x" for r in rows.sort_values("cores").itertuples())


def _bound_note(baseline: str, cores: int, calibration: pd.DataFrame) -> str:
    if baseline not in ("serial", "faster_of_two"):
        return ""
    ceiling = _ceiling(calibration, cores)
    note = f" On {cores} cores a parallel backend can be at most {cores}x faster than serial work"
    if ceiling is not None:
        note += f"; this machine's calibrated ceiling at {cores} cores is {_fmt(ceiling)}x"
    return note + "."


def _speedup(claim, speedups, calibration, tol) -> ClaimVerdict:
    rows = speedups[(speedups.workload == claim["workload"]) & (speedups.backend == claim["backend"])
                    & (speedups.baseline == claim["baseline"])]
    base = dict(id=claim["id"], text=claim["text"], source=claim.get("source", ""), kind="speedup",
                claimed=f"{claim['value']}x at {claim['cores']} cores")
    if rows.empty:
        return ClaimVerdict(**base, measured="not measured", verdict=NOT_TESTABLE,
                            explanation=f"no successful {claim['backend']} and {claim['baseline']} cells of "
                                        f"{claim['workload']} in this run")
    at = rows[rows.cores == claim["cores"]]
    row = (at if len(at) else rows[rows.cores == rows.cores.max()]).iloc[0]
    measured = f"{_with_ci(row.speedup, row.ci_low, row.ci_high)} at {int(row.cores)} cores"
    numbers = dict(value=float(row.speedup), ci_low=float(row.ci_low), ci_high=float(row.ci_high), cores=int(row.cores))
    if not len(at):
        return ClaimVerdict(**base, measured=measured, verdict=NOT_TESTABLE, **numbers, explanation=(
            f"the claim is at {claim['cores']} cores and this run's largest core count is {int(row.cores)}. "
            f"Measured over cores: {_trend(rows)}."
            + _bound_note(claim["baseline"], int(row.cores), calibration)))
    threshold = claim["value"] * (1 - tol)
    ok = _upper(row) >= threshold
    return ClaimVerdict(**base, measured=measured, verdict=REPRODUCED if ok else NOT_REPRODUCED, **numbers,
                        explanation=(f"the CI {'reaches' if ok else 'stays below'} {_fmt(threshold)}x "
                                     f"(the claimed {claim['value']}x less the {tol:.0%} tolerance)."))


def _range(claim, speedups, calibration, tol) -> ClaimVerdict:
    rows = speedups[(speedups.backend == claim["backend"]) & (speedups.baseline == claim["baseline"])]
    base = dict(id=claim["id"], text=claim["text"], source=claim.get("source", ""), kind="range",
                claimed=f"{claim['low']}-{claim['high']}x at {claim['cores']} cores")
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
    numbers = dict(value=min(values), ci_low=None, ci_high=None, cores=cores)
    if cores != claim["cores"] or len(present) < len(WORKLOAD_ORDER):
        why = (f"the claim is at {claim['cores']} cores and this run's largest core count is {cores}."
               if cores != claim["cores"] else f"only {', '.join(present)} measured at {cores} cores.")
        return ClaimVerdict(**base, measured=measured, verdict=NOT_TESTABLE, **numbers,
                            explanation=why + _bound_note(claim["baseline"], cores, calibration))
    threshold = claim["low"] * (1 - tol)
    ok = all(_upper(at.loc[w]) >= threshold for w in present)
    return ClaimVerdict(**base, measured=measured, verdict=REPRODUCED if ok else NOT_REPRODUCED, **numbers,
                        explanation=(f"{'every' if ok else 'not every'} workload's CI reaches {_fmt(threshold)}x "
                                     f"(the range's low end {claim['low']}x less the {tol:.0%} tolerance)."))


def _not_faster(claim, speedups, tol) -> ClaimVerdict:
    rows = speedups[(speedups.workload == claim["workload"]) & (speedups.backend == claim["backend"])
                    & (speedups.baseline == claim["baseline"])]
    below = claim.get("below_cores")
    if below is not None:
        rows = rows[rows.cores < below]
    scope = f"below {below} cores" if below else "at every core count"
    base = dict(id=claim["id"], text=claim["text"], source=claim.get("source", ""), kind="not_faster",
                claimed=f"{claim['backend']} not faster than {claim['baseline']} {scope}")
    if rows.empty:
        return ClaimVerdict(**base, measured="not measured", verdict=NOT_TESTABLE,
                            explanation=f"no successful {claim['backend']} and {claim['baseline']} cells {scope}")
    measured = f"{claim['backend']} over {claim['baseline']}: " + _trend(rows)
    faster = [int(r.cores) for r in rows.itertuples() if _lower(r) > 1 + tol]
    tested = ", ".join(str(c) for c in sorted(rows.cores.unique()))
    worst = rows.loc[rows.speedup.idxmax()]
    numbers = dict(value=float(worst.speedup), ci_low=float(worst.ci_low), ci_high=float(worst.ci_high),
                   cores=int(worst.cores))
    if faster:
        return ClaimVerdict(**base, measured=measured, verdict=NOT_REPRODUCED, **numbers, explanation=(
            f"{claim['backend']} is faster than {claim['baseline']} (CI above {1 + tol:.2f}x) at "
            f"{', '.join(map(str, faster))} cores."))
    return ClaimVerdict(**base, measured=measured, verdict=REPRODUCED, **numbers, explanation=(
        f"at no tested core count ({tested}) is {claim['backend']}'s CI above {1 + tol:.2f}x of "
        f"{claim['baseline']}" + (f"; core counts from {max(rows.cores) + 1} to {below - 1} were not run."
                                   if below and max(rows.cores) < below - 1 else ".")))


def _weak_scaling(claim, summary, calibration, tol) -> ClaimVerdict:
    ok_rows = summary[(summary.backend == claim["backend"]) & (summary.status == "ok")]
    base = dict(id=claim["id"], text=claim["text"], source=claim.get("source", ""), kind="weak_scaling",
                claimed=f"{claim['backend']} time(N) / time(1) about 1 under weak scaling")
    parts, verdicts, worst = [], [], None
    for workload in WORKLOAD_ORDER:
        cells = ok_rows[ok_rows.workload == workload].set_index("cores")
        if 1 not in cells.index or cells.index.max() == 1:
            continue
        n = int(cells.index.max())
        growth = float(cells.loc[n, "median_s"] / cells.loc[1, "median_s"])
        ceiling = _ceiling(calibration, n) or float(n)
        allowed = n / ceiling * (1 + tol)
        verdicts.append(growth <= allowed)
        parts.append(f"{workload} {_fmt(growth)}x (allowed {_fmt(allowed)}x)")
        worst = max(worst or (growth, n), (growth, n))
    if not verdicts:
        return ClaimVerdict(**base, measured="not measured", verdict=NOT_TESTABLE,
                            explanation="needs successful ray cells at 1 core and at more than 1 core")
    n = worst[1]
    measured = f"time({n}) / time(1): " + "; ".join(parts)
    ok = all(verdicts)
    return ClaimVerdict(**base, measured=measured, verdict=REPRODUCED if ok else NOT_REPRODUCED,
                        value=worst[0], cores=n, explanation=(
        f"with N times the work on N cores, an ideal backend keeps its time; this machine's calibrated "
        f"ceiling allows N / ceiling, plus the {tol:.0%} tolerance. "
        f"{'Every' if ok else 'Not every'} workload stays within it."))


def evaluate(claims: dict[str, Any], speedups: pd.DataFrame, summary: pd.DataFrame,
             calibration: pd.DataFrame) -> list[ClaimVerdict]:
    tol = float(claims.get("tolerance", 0.1))
    out = []
    for claim in claims["claims"]:
        kind = claim["kind"]
        if kind == "speedup":
            out.append(_speedup(claim, speedups, calibration, tol))
        elif kind == "range":
            out.append(_range(claim, speedups, calibration, tol))
        elif kind == "not_faster":
            out.append(_not_faster(claim, speedups, tol))
        else:
            out.append(_weak_scaling(claim, summary, calibration, tol))
    return out
