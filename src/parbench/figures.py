"""Paper-style figures drawn from the result tables (results/*.csv).

Every number drawn here comes from a precomputed table: bar heights are ``summary.median_s``,
error bars are ``summary.ci_low_s``/``ci_high_s`` (or ``q1_s``/``q3_s`` when the CI is missing),
speedups and their intervals come from ``speedups`` and the machine ceiling from ``calibration``.
This module only chooses which column to draw; it computes no statistic.

Figures written by :func:`render_all` (each as PNG at 200 dpi and as PDF):

* ``{workload}.png/.pdf``: the original post's style, time per trial against physical cores,
  one bar per backend grouped by core count (evenly spaced groups, one per core count);
  a cell whose status is not "ok" gets no bar but a mark at the bottom of its slot, labelled with
  its status (an ``x`` for "failed", a diamond for any other status such as "not_applicable");
* ``panel.png/.pdf``: the workload figures side by side with one shared legend;
* ``speedup.png/.pdf``: speedup over serial Python against cores on a log2 axis, with the ideal
  ``y = N`` line and the calibrated machine ceiling; cells without a speedup are marked as above.

Each backend has one fixed colour (seaborn's colour-blind-safe palette) in every figure.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless; must precede the pyplot import

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

from .catalog import (
    ALTERNATIVES,
    BACKEND_INFO,
    BACKEND_LABELS,
    BACKEND_ORDER,
    CELL_WORKLOAD_ORDER,
    FREE_THREADED_BACKENDS,
    WORKLOAD_ORDER,
    WORKLOAD_TITLES,
)

__all__ = [
    "BACKEND_ORDER",
    "BACKEND_LABELS",
    "WORKLOAD_ORDER",
    "WORKLOAD_TITLES",
    "backend_colour",
    "backend_label",
    "workload_title",
    "workload_figure",
    "panel_figure",
    "speedup_figure",
    "render_all",
]

# Names, order, labels and palette entries come from the one catalog.
_CB = [mcolors.to_hex(c) for c in sns.color_palette("colorblind", 10)]
_BACKEND_COLOURS: dict[str, str] = {b.name: _CB[b.palette_index] for b in BACKEND_INFO}
_FALLBACK = [mcolors.to_hex(c) for c in sns.color_palette("dark", 10)]

X_LABEL = "physical cores"
TIME_LABEL = "time per trial (s)"
SPEEDUP_LABEL = "speedup over serial Python (x)"
IDEAL_LABEL = "ideal (N)"
CEILING_LABEL = "machine ceiling (calibrated)"
FAILED_LABEL = "failed cell (no timing)"
NO_TIMING = "no_timing"  # status "ok" but no median: drawn as a mark, never as a bar
NO_SPEEDUP = "no_speedup"  # both cells fine but no ratio in the speedups table

DPI = 200
SINGLE_WIDTH_IN = 3.5
SINGLE_HEIGHT_IN = 2.9
PANEL_WIDTH_IN = 10.0
PANEL_HEIGHT_IN = 3.2
_FONT_PT = 8
_TITLE_PT = 9

_SUMMARY_COLS = ("workload", "backend", "cores", "status", "median_s",
                 "q1_s", "q3_s", "ci_low_s", "ci_high_s")
_SPEEDUP_COLS = ("workload", "cores", "backend", "baseline", "speedup", "ci_low", "ci_high")
_CALIBRATION_COLS = ("cores", "ceiling")
_TIMING_COLS = ("workload", "backend", "cores", "seconds")


# --------------------------------------------------------------------------- names and colours


def backend_colour(name: str) -> str:
    """The fixed hex colour of a backend, identical in every figure.

    Known backends get a distinct entry of seaborn's colour-blind-safe palette; an unknown name
    gets a stable colour from the "dark" palette (chosen by a hash of its name, not by order).
    """
    if name in _BACKEND_COLOURS:
        return _BACKEND_COLOURS[name]
    return _FALLBACK[zlib.crc32(name.encode()) % len(_FALLBACK)]


# The libraries a reader would pick instead of the original's three: drawn hatched, labelled
# "(alternative)", so a figure keeps the post's comparison apart from the wider one; threads on a
# free-threaded CPython are dotted (their label names the interpreter).
def backend_hatch(name: str) -> str | None:
    if name in ALTERNATIVES:
        return "////"
    return "...." if name in FREE_THREADED_BACKENDS else None


def backend_label(name: str) -> str:
    """Display label of a backend (e.g. ``"ray"`` -> ``"Ray"``)."""
    label = BACKEND_LABELS.get(name, name)
    return f"{label} (alternative)" if name in ALTERNATIVES else label


def workload_title(name: str) -> str:
    """Human title of a workload (e.g. ``"numerical"`` -> ``"Numerical data (B1)"``)."""
    return WORKLOAD_TITLES.get(name, name)


def _ordered(names: Iterable[str], order: Sequence[str]) -> list[str]:
    """Distinct names, known ones in ``order`` first, then the rest alphabetically."""
    present = {str(n) for n in names if isinstance(n, str) and n}
    known = [n for n in order if n in present]
    return known + sorted(present - set(order))


def _require(df: pd.DataFrame, cols: Sequence[str], table: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{table} table lacks column(s) {missing}; has {list(df.columns)}")


def _finite(x: object) -> bool:
    try:
        return x is not None and math.isfinite(float(x))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _style() -> dict:
    """rc settings: seaborn's paper style, every font at least 8 pt."""
    rc: dict = {}
    rc.update(sns.axes_style("whitegrid"))
    rc.update(sns.plotting_context("paper"))
    rc.update({
        "font.size": _FONT_PT,
        "axes.labelsize": _FONT_PT,
        "axes.titlesize": _TITLE_PT,
        "xtick.labelsize": _FONT_PT,
        "ytick.labelsize": _FONT_PT,
        "legend.fontsize": _FONT_PT,
        "legend.title_fontsize": _FONT_PT,
        "figure.titlesize": _TITLE_PT + 1,
        "axes.grid.axis": "y",
        "pdf.fonttype": 42,  # embed TrueType so the PDF text stays editable/searchable
        "ps.fonttype": 42,
    })
    return rc


# --------------------------------------------------------------------------- bar charts


def _cell_rows(summary: pd.DataFrame, workload: str) -> pd.DataFrame:
    sub = summary[summary["workload"] == workload].copy()
    sub["cores"] = sub["cores"].astype(int)
    # One row per cell is the contract; if a duplicate sneaks in, draw the first.
    return sub.drop_duplicates(subset=["backend", "cores"], keep="first")


def cell_status(row: pd.Series) -> str:
    """"ok" for a cell drawn as a bar; otherwise its status ("failed", "not_applicable", ...)."""
    status = row.get("status", "ok")
    status = "ok" if status is None or (isinstance(status, float) and math.isnan(status)) else str(status)
    if status != "ok":
        return status
    return "ok" if _finite(row["median_s"]) else NO_TIMING


def _is_failed(row: pd.Series) -> bool:
    return cell_status(row) != "ok"


def status_text(status: str) -> str:
    """How a status reads in a figure: "not_applicable" -> "not applicable"."""
    return status.replace("_", " ")


def status_label(status: str) -> str:
    """The legend entry of a status mark."""
    if status == "failed":
        return FAILED_LABEL
    if status.startswith("serial_"):  # the cell is fine, its baseline is not
        return f"{status_text(status)} (no baseline)"
    if status == NO_SPEEDUP:
        return "no speedup in the table"
    return f"{status_text(status)} cell (no timing)"


def status_marker(status: str) -> str:
    return "x" if status == "failed" else "D"


def _status_order(statuses: Iterable[str]) -> list[str]:
    present = set(statuses)
    return [s for s in ("failed",) if s in present] + sorted(present - {"failed"})


def _mark_status(ax: Axes, xs: Sequence[float], status: str, backend: str) -> None:
    """A mark at the bottom of each slot in ``xs`` (x in data units, y in axes fraction, so it sits
    there at any scale) and the status written upwards above it."""
    ax.plot(
        xs, [0.04] * len(xs), linestyle="none", marker=status_marker(status), markersize=6,
        markeredgewidth=1.6, color=backend_colour(backend), fillstyle="none",
        transform=ax.get_xaxis_transform(), clip_on=False, zorder=4, gid=f"{status}:{backend}",
    )
    for x in xs:
        ax.text(x, 0.09, status_text(status), rotation=90, ha="center", va="bottom", color="0.2",
                fontsize=_FONT_PT, transform=ax.get_xaxis_transform(), zorder=4,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 0.6},
                gid=f"status-label:{status}:{backend}")


def _status_handle(status: str) -> Line2D:
    return Line2D([], [], linestyle="none", marker=status_marker(status), markersize=6, markeredgewidth=1.6,
                  color="0.25", fillstyle="none", label=status_label(status))


def _interval(row: pd.Series) -> tuple[float, float] | None:
    """The precomputed interval to draw: the 95% CI of the median, else the IQR, else none."""
    for lo_col, hi_col in (("ci_low_s", "ci_high_s"), ("q1_s", "q3_s")):
        lo, hi = row.get(lo_col), row.get(hi_col)
        if _finite(lo) and _finite(hi):
            return float(lo), float(hi)
    return None


def _draw_workload_bars(
    ax: Axes,
    summary: pd.DataFrame,
    workload: str,
    timings: pd.DataFrame | None = None,
) -> tuple[list[str], set[str]]:
    """Grouped bars of one workload on ``ax``; returns (backends drawn or marked, statuses marked)."""
    cells = _cell_rows(summary, workload)
    backends = _ordered(cells["backend"], BACKEND_ORDER)
    cores = sorted(cells["cores"].unique().tolist())
    slot = {c: i for i, c in enumerate(cores)}
    group_width = 0.8
    width = group_width / max(len(backends), 1)
    statuses: set[str] = set()

    for k, backend in enumerate(backends):
        colour = backend_colour(backend)
        offset = -group_width / 2 + width * (k + 0.5)
        rows = cells[cells["backend"] == backend].sort_values("cores")
        xs, heights, err_lo, err_hi = [], [], [], []
        marked: dict[str, list[float]] = {}
        for _, row in rows.iterrows():
            x = slot[int(row["cores"])] + offset
            status = cell_status(row)
            if status != "ok":
                marked.setdefault(status, []).append(x)
                continue
            median = float(row["median_s"])
            xs.append(x)
            heights.append(median)
            interval = _interval(row)
            if interval is None:
                err_lo.append(0.0)
                err_hi.append(0.0)
            else:  # distances from the bar top; clipped at 0 so matplotlib accepts them
                err_lo.append(max(median - interval[0], 0.0))
                err_hi.append(max(interval[1] - median, 0.0))
        if xs:
            ax.bar(
                xs, heights, width=width * 0.92, color=colour, edgecolor="0.15", linewidth=0.4,
                hatch=backend_hatch(backend), label=backend_label(backend), gid=f"bars:{backend}", zorder=2,
            )
            ax.errorbar(
                xs, heights, yerr=[err_lo, err_hi], fmt="none", ecolor="0.1",
                elinewidth=0.8, capsize=1.5, capthick=0.8, zorder=3,
            )
        if timings is not None and xs:
            _draw_trials(ax, timings, workload, backend, rows, slot, offset, width)
        for status, marked_xs in marked.items():
            statuses.add(status)
            _mark_status(ax, marked_xs, status, backend)

    ax.set_xticks(range(len(cores)))
    ax.set_xticklabels([str(c) for c in cores])
    ax.set_xlim(-0.5, len(cores) - 0.5)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(X_LABEL)
    ax.set_ylabel(TIME_LABEL)
    ax.set_title(workload_title(workload))
    ax.grid(axis="x", visible=False)
    return backends, statuses


def _draw_trials(
    ax: Axes,
    timings: pd.DataFrame,
    workload: str,
    backend: str,
    rows: pd.DataFrame,
    slot: dict[int, int],
    offset: float,
    width: float,
) -> None:
    """Overlay each timed trial of the successful cells as a small dot inside its bar."""
    ok_cores = {int(r["cores"]) for _, r in rows.iterrows() if not _is_failed(r)}
    mine = timings[(timings["workload"] == workload) & (timings["backend"] == backend)]
    for c, trials in mine.groupby(mine["cores"].astype(int)):
        if c not in ok_cores or c not in slot:
            continue
        secs = [float(s) for s in trials["seconds"] if _finite(s)]
        if not secs:
            continue
        n = len(secs)
        # spread the dots evenly across the middle half of the bar so they do not overlap
        spread = [0.0] if n == 1 else [(i / (n - 1) - 0.5) * width * 0.5 for i in range(n)]
        ax.scatter(
            [slot[c] + offset + d for d in spread], secs, s=3, color="0.1", alpha=0.55,
            linewidths=0, zorder=3.5,
        )


def _legend_handles(backends: Sequence[str], statuses: Iterable[str] = ()) -> list[Artist]:
    """One handle per backend present (in BACKEND_ORDER), then one per status that was marked."""
    handles: list[Artist] = []
    for b in backends:
        handles.append(
            Patch(
                facecolor=backend_colour(b), edgecolor="0.15", linewidth=0.4,
                hatch=backend_hatch(b), label=backend_label(b),
            )
        )
    handles += [_status_handle(status) for status in _status_order(statuses)]
    return handles


def _prepare_timings(timings: pd.DataFrame | None) -> pd.DataFrame | None:
    if timings is None or timings.empty:
        return None
    _require(timings, _TIMING_COLS, "timings")
    return timings


def workload_figure(
    summary: pd.DataFrame,
    workload: str,
    timings: pd.DataFrame | None = None,
    title_suffix: str = "",
) -> Figure:
    """Bar chart of one workload (time per trial vs physical cores), at paper column width.

    The caller owns the returned figure and must close it (``plt.close(fig)``).
    """
    _require(summary, _SUMMARY_COLS, "summary")
    timings = _prepare_timings(timings)
    with plt.rc_context(_style()):
        fig, ax = plt.subplots(figsize=(SINGLE_WIDTH_IN, SINGLE_HEIGHT_IN), layout="constrained")
        backends, statuses = _draw_workload_bars(ax, summary, workload, timings)
        ax.set_title(workload_title(workload) + title_suffix)
        handles = _legend_handles(backends, statuses)
        if handles:
            fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False,
                       handlelength=1.2, columnspacing=1.0)
    return fig


def panel_figure(
    summary: pd.DataFrame,
    timings: pd.DataFrame | None = None,
    title_suffix: str = "",
    workloads: Sequence[str] | None = None,
) -> Figure:
    """The workload bar charts side by side (1 x n, n = 3 for the full study), one shared legend.

    The caller owns the returned figure and must close it.
    """
    _require(summary, _SUMMARY_COLS, "summary")
    timings = _prepare_timings(timings)
    if workloads is None:
        workloads = _ordered(summary["workload"], CELL_WORKLOAD_ORDER)
    n = max(len(workloads), 1)
    width = PANEL_WIDTH_IN if n >= 3 else PANEL_WIDTH_IN * n / 3 + 0.3
    with plt.rc_context(_style()):
        fig, axes = plt.subplots(1, n, figsize=(width, PANEL_HEIGHT_IN), layout="constrained",
                                 squeeze=False)
        drawn: set[str] = set()
        statuses: set[str] = set()
        for i, (ax, w) in enumerate(zip(axes[0], workloads)):
            backends, marked = _draw_workload_bars(ax, summary, w, timings)
            drawn.update(backends)
            statuses |= marked
            if i:
                ax.set_ylabel("")
        handles = _legend_handles(_ordered(drawn, BACKEND_ORDER), statuses)
        if handles:
            fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 5),
                       frameon=False, handlelength=1.2, columnspacing=1.2)
        if title_suffix.strip():
            fig.suptitle(title_suffix.strip())
    return fig


# --------------------------------------------------------------------------- speedup


def _speedup_status(cells: pd.DataFrame | None, backend: str, cores: int) -> str:
    """Why a backend has no speedup at a core count: its own status, else serial's, else none known."""
    if cells is not None:
        own = cells[(cells["backend"] == backend) & (cells["cores"] == cores)]
        if len(own) and cell_status(own.iloc[0]) != "ok":
            return cell_status(own.iloc[0])
        serial = cells[(cells["backend"] == "serial") & (cells["cores"] == cores)]
        if len(serial) and cell_status(serial.iloc[0]) != "ok":
            return f"serial_{cell_status(serial.iloc[0])}"
    return NO_SPEEDUP


def _speedup_line(ax: Axes, b: pd.DataFrame, backend: str) -> None:
    """One backend's speedup points with their interval bars."""
    colour = backend_colour(backend)
    xs = b["cores"].tolist()
    ys = b["speedup"].astype(float).tolist()
    ax.plot(xs, ys, marker="o", markersize=3.5, linewidth=1.3, color=colour,
            label=backend_label(backend), gid=f"speedup:{backend}", zorder=3)
    bars = [(x, y, max(y - float(cl), 0.0), max(float(ch) - y, 0.0))
            for x, y, cl, ch in zip(xs, ys, b["ci_low"], b["ci_high"]) if _finite(cl) and _finite(ch)]
    if bars:
        ex, ey, lo, hi = (list(v) for v in zip(*bars))
        ax.errorbar(ex, ey, yerr=[lo, hi], fmt="none", ecolor=colour, elinewidth=0.9,
                    capsize=2, capthick=0.9, zorder=3)


def _reference_lines(ax: Axes, calibration: pd.DataFrame, cores: list[int]) -> None:
    """The ideal y = N and the calibrated machine ceiling, over the benchmark's core counts."""
    if cores:
        # y = N is a curve on a log x axis with a linear y axis: draw it densely, not as a segment.
        ideal = np.geomspace(cores[0], cores[-1], 65) if len(cores) > 1 else np.array(cores, dtype=float)
        ax.plot(ideal, ideal, linestyle="--", color="0.35", linewidth=1.0, label=IDEAL_LABEL, zorder=2,
                gid="ideal")
    cal = calibration.copy()
    if cal.empty:
        return
    cal["cores"] = cal["cores"].astype(int)
    cal = cal[[_finite(v) for v in cal["ceiling"]]].sort_values("cores")
    if cores:  # keep the axis to the benchmark's range of core counts
        cal = cal[(cal["cores"] >= cores[0]) & (cal["cores"] <= cores[-1])]
    if not cal.empty:
        ax.plot(cal["cores"].tolist(), cal["ceiling"].astype(float).tolist(), linestyle=":",
                color="0.1", linewidth=1.4, label=CEILING_LABEL, zorder=2)


def _log2_cores_axis(ax: Axes, cores: list[int]) -> None:
    if cores:
        # Core counts double (1, 2, 4, ... 128): on a linear axis 1, 2 and 4 would share one spot.
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(FixedLocator(cores))
        ax.xaxis.set_major_formatter(FixedFormatter([str(c) for c in cores]))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlim(cores[0] / 2**0.4, cores[-1] * 2**0.4)
    else:
        ax.text(0.5, 0.5, "no speedup data", ha="center", va="center", transform=ax.transAxes)


def _draw_speedup(
    ax: Axes,
    speedups: pd.DataFrame,
    calibration: pd.DataFrame,
    workload: str,
    summary: pd.DataFrame | None = None,
) -> set[str]:
    """Speedup-over-serial lines of one workload on ``ax`` (cores on a log2 axis); returns the
    statuses of the cells marked for having no speedup."""
    rows = speedups[
        (speedups["workload"] == workload)
        & (speedups["baseline"] == "serial")
        & (speedups["backend"] != "serial")
    ].copy()
    rows["cores"] = rows["cores"].astype(int)
    rows = rows.drop_duplicates(subset=["backend", "cores"], keep="first")
    # A cell that did not succeed has no row in the speedups table at all; the summary has it.
    cells = _cell_rows(summary, workload) if summary is not None else None
    if cells is not None:
        ok = np.array([cell_status(r) == "ok" for _, r in cells.iterrows()], dtype=bool)
        not_ok = cells[(cells["backend"] != "serial").to_numpy() & ~ok]
    else:
        not_ok = pd.DataFrame(columns=["backend", "cores"])
    cores = sorted(set(rows["cores"].tolist()) | set(cells["cores"].tolist() if cells is not None else []))
    statuses: set[str] = set()

    for backend in _ordered([*rows["backend"], *not_ok["backend"]], BACKEND_ORDER):
        b = rows[(rows["backend"] == backend)].sort_values("cores")
        has_value = [_finite(v) for v in b["speedup"]]
        without = {int(c) for c, ok in zip(b["cores"], has_value) if not ok}
        without |= {int(c) for c in not_ok.loc[not_ok["backend"] == backend, "cores"]}
        without -= {int(c) for c, ok in zip(b["cores"], has_value) if ok}
        marked: dict[str, list[int]] = {}
        for c in sorted(without):
            marked.setdefault(_speedup_status(cells, backend, c), []).append(c)
        for status, xs in marked.items():
            statuses.add(status)
            _mark_status(ax, xs, status, backend)
        if any(has_value):
            _speedup_line(ax, b[has_value], backend)

    _reference_lines(ax, calibration, cores)
    _log2_cores_axis(ax, cores)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(X_LABEL + " (log2 scale)")
    ax.set_ylabel(SPEEDUP_LABEL)
    ax.set_title(workload_title(workload))
    ax.grid(axis="x", visible=False)
    return statuses


def speedup_figure(
    speedups: pd.DataFrame,
    calibration: pd.DataFrame,
    title_suffix: str = "",
    workloads: Sequence[str] | None = None,
    summary: pd.DataFrame | None = None,
) -> Figure:
    """Speedup over serial Python vs cores (log2 axis), one panel per workload, one shared legend.

    With ``summary``, cells that did not succeed (which have no row in ``speedups``) are marked
    with their status. The caller owns the returned figure and must close it.
    """
    _require(speedups, _SPEEDUP_COLS, "speedups")
    if not calibration.empty:
        _require(calibration, _CALIBRATION_COLS, "calibration")
    if workloads is None:
        workloads = _ordered(speedups["workload"], CELL_WORKLOAD_ORDER)
    n = max(len(workloads), 1)
    width = PANEL_WIDTH_IN if n >= 3 else PANEL_WIDTH_IN * n / 3 + 0.3
    with plt.rc_context(_style()):
        fig, axes = plt.subplots(1, n, figsize=(width, PANEL_HEIGHT_IN), layout="constrained",
                                 squeeze=False)
        statuses: set[str] = set()
        for i, (ax, w) in enumerate(zip(axes[0], workloads)):
            statuses |= _draw_speedup(ax, speedups, calibration, w, summary)
            if i:
                ax.set_ylabel("")
        # Shared legend: backends in BACKEND_ORDER, then the reference lines.
        by_label: dict[str, Artist] = {}
        for ax in axes[0]:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                by_label.setdefault(lab, h)
        order = [backend_label(b) for b in BACKEND_ORDER] + [IDEAL_LABEL, CEILING_LABEL]
        labels = [lab for lab in order if lab in by_label]
        labels += sorted(set(by_label) - set(labels))
        for status in _status_order(statuses):
            by_label[status_label(status)] = _status_handle(status)
            labels.append(status_label(status))
        if labels:
            fig.legend([by_label[lab] for lab in labels], labels, loc="outside lower center",
                       ncol=min(len(labels), 5), frameon=False, handlelength=2.2,
                       columnspacing=1.2)
        if title_suffix.strip():
            fig.suptitle(title_suffix.strip())
    return fig


# --------------------------------------------------------------------------- writing


def _save(fig: Figure, out_dir: Path, stem: str) -> list[Path]:
    paths = []
    try:
        for ext in ("png", "pdf"):
            path = out_dir / f"{stem}.{ext}"
            fig.savefig(path, dpi=DPI, bbox_inches="tight", pad_inches=0.03)
            paths.append(path)
    finally:
        plt.close(fig)
    return paths


def render_all(
    timings: pd.DataFrame,
    summary: pd.DataFrame,
    speedups: pd.DataFrame,
    calibration: pd.DataFrame,
    out_dir: Path,
    title_suffix: str = "",
) -> list[Path]:
    """Write every figure (PNG at 200 dpi and PDF) into ``out_dir``; return the written paths.

    ``{workload}`` for each workload in ``summary``, then ``panel`` (when ``summary`` has any
    workload) and ``speedup`` (when ``speedups`` has any workload). Every figure is closed after
    saving.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _require(summary, _SUMMARY_COLS, "summary")
    _require(speedups, _SPEEDUP_COLS, "speedups")
    if calibration is None:
        calibration = pd.DataFrame(columns=list(_CALIBRATION_COLS))
    timings = _prepare_timings(timings)

    written: list[Path] = []
    workloads = _ordered(summary["workload"], CELL_WORKLOAD_ORDER)
    for w in workloads:
        written += _save(workload_figure(summary, w, timings, title_suffix), out_dir, w)
    if workloads:
        written += _save(panel_figure(summary, timings, title_suffix, workloads), out_dir, "panel")

    # Same panel order as the bar figures, plus any workload only the speedups table has.
    over_serial = speedups.loc[speedups["baseline"] == "serial", "workload"]
    sp_workloads = _ordered(over_serial, CELL_WORKLOAD_ORDER)
    sp_workloads = [w for w in workloads if w in sp_workloads] + [
        w for w in sp_workloads if w not in workloads
    ]
    if sp_workloads:
        written += _save(
            speedup_figure(speedups, calibration, title_suffix, sp_workloads, summary), out_dir, "speedup"
        )
    return written
