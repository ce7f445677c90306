"""Was the machine quiet? The evidence per core count, from the calibration points and the cells.

Two kinds of evidence, both measured when nothing of the run is running:
- the ceiling (what N pinned processes deliver against one), at every calibration point: before the
  first round and after each round. Below QUIET_CEILING x N, or moving by more than
  CEILING_SPREAD x N between points, the N-core cells shared their CPUs with something else;
- the foreign load: the busy fraction of each of the run's CPUs while parbench slept (at each
  calibration point, and before every cell round). Above FOREIGN_LOAD_MAX on any CPU, something
  else was running there. This is the only evidence at 1 core, where the ceiling is 1 by definition.
A verdict that rests on a core count with such evidence becomes "inconclusive: the machine was busy".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

QUIET_CEILING = 0.85  # fraction of N the calibrated ceiling must reach at every point
CEILING_SPREAD = 0.15  # largest allowed (max - min) of the ceilings at one N, as a fraction of N
FOREIGN_LOAD_MAX = 0.25  # busy fraction of one CPU, while parbench slept, above which it was not ours


@dataclass
class QuietCheck:
    """Reasons, per core count and per cell, why the machine was not quiet (empty when it was)."""

    busy_cores: dict[int, list[str]] = field(default_factory=dict)
    checked_cores: list[int] = field(default_factory=list)

    @property
    def quiet(self) -> bool:
        return not self.busy_cores

    def reason(self, cores) -> str | None:
        """One sentence for the core counts a verdict rests on, or None if all were quiet."""
        parts = [f"at {_cores(c)}: {'; '.join(self.busy_cores[c])}" for c in sorted(set(cores)) if c in self.busy_cores]
        return "; ".join(parts) if parts else None

    def summary(self) -> str:
        if not self.checked_cores:
            return "not checked (no calibration points in this run)"
        if self.quiet:
            return (f"quiet: at every calibration point the ceiling stayed within {QUIET_CEILING:.0%} of N and "
                    f"no CPU of the run was more than {FOREIGN_LOAD_MAX:.0%} busy with other work")
        return "busy " + "; ".join(f"at {_cores(c)} ({'; '.join(r)})" for c, r in sorted(self.busy_cores.items()))


def _cores(n: int) -> str:
    return f"{n} core{'s' if n != 1 else ''}"


def _finite(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def check(calibration_points: pd.DataFrame, summary: pd.DataFrame | None = None) -> QuietCheck:
    result = QuietCheck()

    def flag(cores: int, why: str) -> None:
        result.busy_cores.setdefault(int(cores), []).append(why)

    for cores, points in calibration_points.groupby("cores"):
        cores = int(cores)
        result.checked_cores.append(cores)
        if cores > 1:
            low = points.ceiling.min()
            if low < QUIET_CEILING * cores:
                flag(cores, f"the ceiling fell to {low:.2f}x (quiet: at least {QUIET_CEILING * cores:.2f}x)")
            spread = points.ceiling.max() - low
            if len(points) > 1 and spread > CEILING_SPREAD * cores:
                flag(cores, f"the ceiling moved between {low:.2f}x and {points.ceiling.max():.2f}x over the run")
        load = points.foreign_load_max.max()
        if _finite(load) and load > FOREIGN_LOAD_MAX:
            flag(cores, f"a CPU of the run was {load:.0%} busy with other work at a calibration point")
    if summary is not None and "foreign_load_max" in summary:
        busy = summary[summary.foreign_load_max > FOREIGN_LOAD_MAX]
        for cores, cells in busy.groupby("cores"):
            names = ", ".join(f"{r.workload}/{r.backend}" for r in cells.itertuples())
            flag(int(cores), f"a CPU was up to {cells.foreign_load_max.max():.0%} busy with other work just before "
                             f"{len(cells)} cell round(s) started ({names})")
    result.checked_cores.sort()
    return result
