"""One figure per workload: measured cells as points, the cost model's projection as lines.

x: physical cores, 1 to 48 on a log2 axis (the original's 48-core machine); y: seconds per trial,
log scale. Projections are dashed, labelled "(projected)", with their bootstrap band; measured
medians are points with their 95% CI, labelled "(measured)". The title says which is which.
Every number comes from `summary.csv` (measured) and `model_curves.csv` (projected).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless; must precede the pyplot import

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import FixedLocator, NullLocator

from .figures import _style, backend_colour, backend_label, workload_title

DPI = 200
X_TICKS = (1, 2, 4, 8, 16, 24, 32, 48)
PROJECTED = "projected"
MEASURED = "measured"


def model_figure(summary: pd.DataFrame, curves: pd.DataFrame, workload: str):
    """The caller owns the returned figure and must close it."""
    measured = summary[(summary.workload == workload) & (summary.status == "ok")]
    projected = curves[curves.workload == workload]
    with plt.rc_context(_style()):
        fig, ax = plt.subplots(figsize=(5.0, 3.6), layout="constrained")
        backends = list(dict.fromkeys(projected.backend))
        measured = measured[measured.backend.isin(backends)]  # points only where there is a projection
        for backend in backends:
            colour = backend_colour(backend)
            line = projected[projected.backend == backend].sort_values("cores")
            if len(line):
                ax.plot(line.cores, line.projected_s, linestyle="--", linewidth=1.3, color=colour,
                        label=f"{backend_label(backend)} ({PROJECTED})", gid=f"projected:{backend}")
                band = line.dropna(subset=["ci_low_s", "ci_high_s"])
                if len(band):
                    ax.fill_between(band.cores, band.ci_low_s, band.ci_high_s, color=colour, alpha=0.15,
                                    linewidth=0)
            points = measured[measured.backend == backend].sort_values("cores")
            if len(points):
                low = (points.median_s - points.ci_low_s).clip(lower=0).fillna(0)
                high = (points.ci_high_s - points.median_s).clip(lower=0).fillna(0)
                ax.errorbar(points.cores, points.median_s, yerr=[low, high], fmt="o", markersize=4,
                            color=colour, ecolor=colour, capsize=2, label=f"{backend_label(backend)} ({MEASURED})",
                            gid=f"measured:{backend}", zorder=3)
        if len(measured):
            largest = int(measured.cores.max())
            ax.axvline(largest, color="0.4", linestyle=":", linewidth=0.9)
            ax.text(largest * 1.05, 0.98, f"measured up to {largest} cores\nprojected beyond",
                    transform=ax.get_xaxis_transform(), va="top", ha="left", fontsize=7, color="0.3")
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(FixedLocator(X_TICKS))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([str(x) for x in X_TICKS])
        ax.set_xlim(0.9, 52)
        values = [v for v in [*projected.projected_s, *measured.median_s] if v and math.isfinite(v) and v > 0]
        if values:
            ax.set_yscale("log")
        ax.set_xlabel("physical cores (log2)")
        ax.set_ylabel("time per trial (s, log)")
        ax.set_title(f"{workload_title(workload)}: cost-model projection (dashed) vs measured (points)")
        ax.grid(axis="x", visible=False)
        fig.legend(loc="outside lower center", ncol=2, frameon=False, handlelength=2.2)
    return fig


def render_model_figures(summary: pd.DataFrame, curves: pd.DataFrame, out_dir: Path,
                         workloads) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for workload in workloads:
        fig = model_figure(summary, curves, workload)
        path = out_dir / f"model_{workload}.png"
        try:
            fig.savefig(path, dpi=DPI, bbox_inches="tight", pad_inches=0.03)
        finally:
            plt.close(fig)
        written.append(path)
    return written
