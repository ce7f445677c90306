"""Tests of parbench.figures on small synthetic tables (fast: no benchmark is run)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors
import matplotlib.image as mimage
import matplotlib.pyplot as plt
import pandas as pd
import pytest

from parbench import figures

NAN = math.nan
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BACKENDS = ("serial", "multiprocessing", "ray", "multiprocessing_tuned")
WORKLOADS = ("numerical", "stateful", "expensive_init")
CORES = (1, 2)
# Serial median seconds per workload; the parallel backends get faster with cores.
BASE = {"numerical": 4.0, "stateful": 6.0, "expensive_init": 9.0}
FACTOR = {"serial": 1.0, "multiprocessing": 0.8, "ray": 0.4, "multiprocessing_tuned": 0.5}
FAILED_CELL = ("stateful", "multiprocessing", 2)
NAN_CI_CELL = ("numerical", "ray", 2)


def _median(w: str, b: str, c: int) -> float:
    return BASE[w] if b == "serial" else BASE[w] * FACTOR[b] / c


def make_tables(workloads=WORKLOADS, backends=BACKENDS, cores=CORES):
    timings, summary, speedups = [], [], []
    for w in workloads:
        for b in backends:
            for c in cores:
                m = _median(w, b, c)
                failed = (w, b, c) == FAILED_CELL
                nan_ci = (w, b, c) == NAN_CI_CELL
                if not failed:
                    for t, f in enumerate((0.95, 1.0, 1.07)):
                        timings.append(dict(workload=w, backend=b, cores=c, trial=t,
                                            seconds=m * f, work_done=10, work_expected=10,
                                            digest="abc"))
                summary.append(dict(
                    workload=w, backend=b, cores=c,
                    status="failed" if failed else "ok",
                    error="worker died" if failed else "",
                    n=0 if failed else 3,
                    median_s=NAN if failed else m,
                    q1_s=NAN if failed else m * 0.97,
                    q3_s=NAN if failed else m * 1.04,
                    iqr_s=NAN if failed else m * 0.07,
                    ci_low_s=NAN if failed or nan_ci else m * 0.95,
                    ci_high_s=NAN if failed or nan_ci else m * 1.07,
                    cv=NAN if failed else 0.05,
                    setup_s=0.1, teardown_s=0.05, peak_rss_bytes=1e8, peak_shm_bytes=0,
                    work_done=0 if failed else 10, work_expected=10,
                    work_complete=not failed, digest="" if failed else "abc",
                    digest_agrees=not failed, object_store_in_shm=NAN, spilled_bytes=0,
                    worker_threads=1,
                ))
                if b != "serial":
                    s = NAN if failed else BASE[w] / m
                    speedups.append(dict(
                        workload=w, cores=c, backend=b, baseline="serial", speedup=s,
                        ci_low=NAN if failed or nan_ci else s * 0.9,
                        ci_high=NAN if failed or nan_ci else s * 1.1,
                        ci_method="bootstrap",
                    ))
                    speedups.append(dict(  # another baseline: must not be drawn as "over serial"
                        workload=w, cores=c, backend=b, baseline="multiprocessing", speedup=99.0,
                        ci_low=NAN, ci_high=NAN, ci_method="none",
                    ))
    calibration = pd.DataFrame(dict(cores=[1, 2], ceiling=[1.0, 1.85], efficiency=[1.0, 0.925]))
    return (pd.DataFrame(timings), pd.DataFrame(summary), pd.DataFrame(speedups), calibration)


def expected_files(out: Path, workloads) -> set[Path]:
    stems = [*workloads, "panel", "speedup"]
    return {out / f"{s}.{ext}" for s in stems for ext in ("png", "pdf")}


def assert_valid_outputs(paths) -> None:
    for p in paths:
        data = p.read_bytes()
        if p.suffix == ".png":
            assert data[:8] == PNG_SIGNATURE, p
            img = mimage.imread(p)
            assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100, (p, img.shape)
        else:
            assert p.suffix == ".pdf"
            assert data.startswith(b"%PDF"), p


@pytest.fixture(scope="module")
def tables():
    return make_tables()


def test_render_all_writes_every_figure(tables, tmp_path):
    out = tmp_path / "figs"  # does not exist yet: render_all must create it
    plt.close("all")
    paths = figures.render_all(*tables, out_dir=out, title_suffix=" (test)")
    assert set(paths) == expected_files(out, WORKLOADS)
    assert len(paths) == len(set(paths))
    assert_valid_outputs(paths)
    assert plt.get_fignums() == [], "render_all must close every figure it opens"


def test_two_workloads_and_empty_calibration(tmp_path):
    timings, summary, speedups, _ = make_tables(workloads=("numerical", "stateful"))
    empty_cal = pd.DataFrame(columns=["cores", "ceiling", "efficiency"])
    paths = figures.render_all(timings, summary, speedups, empty_cal, tmp_path)
    assert set(paths) == expected_files(tmp_path, ("numerical", "stateful"))
    assert not (tmp_path / "expensive_init.png").exists()
    assert_valid_outputs(paths)
    assert plt.get_fignums() == []


def test_backend_colour_is_fixed_and_distinct():
    colours = [figures.backend_colour(b) for b in figures.BACKEND_ORDER]
    assert colours == [figures.backend_colour(b) for b in figures.BACKEND_ORDER]
    assert len(set(colours)) == len(figures.BACKEND_ORDER) == 10
    assert figures.backend_colour("ray") != figures.backend_colour("multiprocessing")
    assert figures.backend_colour("some_new_backend") == figures.backend_colour("some_new_backend")
    assert list(figures.BACKEND_ORDER) == [
        "serial", "multiprocessing", "ray", "multiprocessing_tuned",
        "joblib", "concurrent_futures", "dask", "mpire", "threads", "free_threading",
    ]


def test_labels_and_titles():
    assert figures.backend_label("serial") == "serial Python"
    assert figures.backend_label("multiprocessing") == "multiprocessing (original)"
    assert figures.backend_label("ray") == "Ray"
    assert figures.backend_label("multiprocessing_tuned") == "multiprocessing (tuned)"
    assert figures.backend_label("dask") == "Dask (alternative)"
    assert figures.backend_label("free_threading") == "threads (free-threaded CPython)"
    assert figures.backend_hatch("dask") and figures.backend_hatch("ray") is None
    assert figures.backend_hatch("free_threading") not in (None, figures.backend_hatch("dask"))
    assert figures.workload_title("numerical") == "Numerical data (B1)"
    assert figures.workload_title("stateful") == "Stateful computation (B2)"
    assert figures.workload_title("expensive_init") == "Expensive initialization (B3)"


def _same(c1, c2) -> bool:
    return mcolors.to_hex(c1) == mcolors.to_hex(c2)


def test_same_colour_in_bar_and_speedup_figures(tables):
    timings, summary, speedups, calibration = tables
    bar_fig = figures.workload_figure(summary, "numerical", timings)
    sp_fig = figures.speedup_figure(speedups, calibration)
    try:
        for b in ("multiprocessing", "ray", "multiprocessing_tuned"):
            want = figures.backend_colour(b)
            bars = [p for p in bar_fig.axes[0].patches if p.get_gid() == f"bars:{b}"]
            assert bars and all(_same(p.get_facecolor(), want) for p in bars)
            lines = [ln for ax in sp_fig.axes for ln in ax.lines if ln.get_gid() == f"speedup:{b}"]
            assert len(lines) == 3 and all(_same(ln.get_color(), want) for ln in lines)
    finally:
        plt.close(bar_fig)
        plt.close(sp_fig)


def test_bar_heights_are_the_summary_medians(tables):
    _, summary, _, _ = tables
    fig = figures.workload_figure(summary, "expensive_init")
    try:
        ax = fig.axes[0]
        ray = sorted((p for p in ax.patches if p.get_gid() == "bars:ray"), key=lambda p: p.get_x())
        assert [p.get_height() for p in ray] == pytest.approx(
            [_median("expensive_init", "ray", c) for c in CORES])
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2"]
        assert ax.get_xlabel() == "physical cores"
        assert ax.get_ylabel() == "time per trial (s)"
        assert ax.get_title() == "Expensive initialization (B3)"
    finally:
        plt.close(fig)


def test_failed_cell_is_marked_not_drawn(tables):
    _, summary, _, _ = tables
    fig = figures.workload_figure(summary, "stateful", title_suffix=" - test")
    try:
        ax = fig.axes[0]
        assert ax.get_title() == "Stateful computation (B2) - test"
        mp_bars = [p for p in ax.patches if p.get_gid() == "bars:multiprocessing"]
        assert len(mp_bars) == 1  # the 2-core cell failed
        marks = [ln for ln in ax.lines if ln.get_gid() == "failed:multiprocessing"]
        assert len(marks) == 1 and marks[0].get_marker() == "x"
        labels = [t.get_text() for t in fig.legends[0].get_texts()]
        assert figures.FAILED_LABEL in labels
    finally:
        plt.close(fig)


def test_a_not_applicable_cell_is_named_neither_failed_nor_missing(tables):
    _, summary, _, _ = tables
    na = summary[(summary.workload == "expensive_init") & (summary.backend == "ray")].copy()
    na["backend"], na["status"], na["median_s"] = "free_threading", "not_applicable", NAN
    fig = figures.workload_figure(pd.concat([summary, na]), "expensive_init")
    try:
        ax = fig.axes[0]
        marks = [ln for ln in ax.lines if ln.get_gid() == "not_applicable:free_threading"]
        assert len(marks) == 1 and len(marks[0].get_xdata()) == 2  # one mark per core count
        words = [t.get_text() for t in ax.texts if t.get_gid() == "status-label:not_applicable:free_threading"]
        assert len(words) == 2 and all("applicable" in w for w in words)
        assert not [p for p in ax.patches if p.get_gid() == "bars:free_threading"]
        assert not [ln for ln in ax.lines if ln.get_gid() == "failed:free_threading"]
        labels = [t.get_text() for t in fig.legends[0].get_texts()]
        assert "threads (free-threaded CPython)" in labels and figures.FAILED_LABEL not in labels
    finally:
        plt.close(fig)


def test_absent_backend_not_in_legend(tables):
    timings, summary, speedups, calibration = tables
    summary = summary[summary["backend"] != "multiprocessing_tuned"]
    speedups = speedups[speedups["backend"] != "multiprocessing_tuned"]
    figs = [figures.workload_figure(summary, "numerical"), figures.panel_figure(summary),
            figures.speedup_figure(speedups, calibration)]
    try:
        for fig in figs:
            labels = [t.get_text() for t in fig.legends[0].get_texts()]
            assert "multiprocessing (tuned)" not in labels
            assert "Ray" in labels and "multiprocessing (original)" in labels
        sp_labels = [t.get_text() for t in figs[2].legends[0].get_texts()]
        assert "serial Python" not in sp_labels
        assert figures.IDEAL_LABEL in sp_labels and figures.CEILING_LABEL in sp_labels
        empty = figures.speedup_figure(speedups, calibration.iloc[0:0])
        figs.append(empty)
        assert figures.CEILING_LABEL not in [t.get_text() for t in empty.legends[0].get_texts()]
    finally:
        for fig in figs:
            plt.close(fig)


def test_speedup_uses_serial_baseline_only(tables):
    _, summary, speedups, calibration = tables
    fig = figures.speedup_figure(speedups, calibration, summary=summary)
    try:
        assert len(fig.axes) == 3
        assert fig.axes[0].get_ylabel() == "speedup over serial Python (x)"
        for ax in fig.axes:
            for ln in ax.lines:
                if (ln.get_gid() or "").startswith("speedup:"):
                    assert max(ln.get_ydata()) < 99.0  # the other baseline's rows are not drawn
        stateful = fig.axes[1]  # panels follow WORKLOAD_ORDER
        assert stateful.get_title() == "Stateful computation (B2)"
        gids = [ln.get_gid() or "" for ln in stateful.lines]
        assert [g for g in gids if g.startswith("failed:")] == ["failed:multiprocessing"]
    finally:
        plt.close(fig)


def test_missing_column_is_reported(tables, tmp_path):
    timings, summary, speedups, calibration = tables
    with pytest.raises(ValueError, match="median_s"):
        figures.render_all(timings, summary.drop(columns=["median_s"]), speedups, calibration,
                           tmp_path)


# ------------------------------------------------------------------ log2 axis and status marks

DOUBLING = (1, 2, 4, 8, 16, 32, 64, 128)


def test_speedup_cores_are_on_a_log2_axis_whose_labels_do_not_overlap():
    _, _, speedups, _ = make_tables(workloads=("numerical",), cores=DOUBLING)
    calibration = pd.DataFrame({"cores": list(DOUBLING), "ceiling": [0.9 * c for c in DOUBLING]})
    fig = figures.speedup_figure(speedups, calibration)
    try:
        ax = fig.axes[0]
        assert ax.get_xscale() == "log" and ax.xaxis.get_transform().base == 2
        assert list(ax.get_xticks()) == list(DOUBLING)
        assert [t.get_text() for t in ax.get_xticklabels()] == [str(c) for c in DOUBLING]
        assert len(ax.xaxis.get_minorticklocs()) == 0
        fig.canvas.draw()
        boxes = [t.get_window_extent() for t in ax.get_xticklabels()]
        gaps = [right.x0 - left.x1 for left, right in zip(boxes, boxes[1:])]
        assert min(gaps) > 0, gaps  # on a linear axis 1, 2 and 4 overlap
        # equal steps for equal ratios: 1->2 as wide as 64->128 on screen
        xs = [ax.transData.transform((c, 1))[0] for c in DOUBLING]
        assert xs[1] - xs[0] == pytest.approx(xs[-1] - xs[-2], rel=1e-6)
        ideal = next(ln for ln in ax.lines if ln.get_gid() == "ideal")
        assert list(ideal.get_xdata()) == pytest.approx(list(ideal.get_ydata()))
        assert ideal.get_xdata()[0] == 1 and ideal.get_xdata()[-1] == 128 and len(ideal.get_xdata()) > 8
    finally:
        plt.close(fig)


def _with_statuses(summary: pd.DataFrame, changes: dict) -> pd.DataFrame:
    """The summary with some cells set to a non-ok status and, as in real tables, no timing."""
    summary = summary.copy()
    for (w, b, c), status in changes.items():
        at = (summary.workload == w) & (summary.backend == b) & (summary.cores == c)
        summary.loc[at, "status"] = status
        summary.loc[at, ["median_s", "ci_low_s", "ci_high_s", "q1_s", "q3_s"]] = NAN
    return summary


def _texts(ax, prefix):
    return sorted(t.get_text() for t in ax.texts if (t.get_gid() or "").startswith(prefix))


def test_any_status_but_ok_is_marked_and_labelled_not_drawn():
    _, summary, speedups, calibration = make_tables(workloads=("numerical",))
    summary = _with_statuses(summary, {("numerical", "ray", 2): "not_applicable",
                                       ("numerical", "multiprocessing", 1): "failed"})
    # the speedups table has no row for a cell that did not succeed
    speedups = speedups[~(((speedups.backend == "ray") & (speedups.cores == 2))
                          | ((speedups.backend == "multiprocessing") & (speedups.cores == 1)))]
    bar = figures.workload_figure(summary, "numerical")
    sp = figures.speedup_figure(speedups, calibration, summary=summary)
    try:
        ax = bar.axes[0]
        assert len([p for p in ax.patches if p.get_gid() == "bars:ray"]) == 1
        assert len([p for p in ax.patches if p.get_gid() == "bars:multiprocessing"]) == 1
        na = [ln for ln in ax.lines if ln.get_gid() == "not_applicable:ray"]
        assert len(na) == 1 and na[0].get_marker() == "D"
        assert [ln.get_marker() for ln in ax.lines if ln.get_gid() == "failed:multiprocessing"] == ["x"]
        assert _texts(ax, "status-label:") == ["failed", "not applicable"]
        labels = [t.get_text() for t in bar.legends[0].get_texts()]
        assert figures.FAILED_LABEL in labels and "not applicable cell (no timing)" in labels

        sax = sp.axes[0]
        assert [ln.get_gid() for ln in sax.lines if ln.get_gid() in ("failed:multiprocessing",
                                                                      "not_applicable:ray")] \
            == ["failed:multiprocessing", "not_applicable:ray"]
        assert _texts(sax, "status-label:") == ["failed", "not applicable"]
        ray_line = next(ln for ln in sax.lines if ln.get_gid() == "speedup:ray")
        assert list(ray_line.get_xdata()) == [1]  # the 2-core point is a mark, not a point of the line
        sp_labels = [t.get_text() for t in sp.legends[0].get_texts()]
        assert figures.FAILED_LABEL in sp_labels and "not applicable cell (no timing)" in sp_labels
    finally:
        plt.close(bar)
        plt.close(sp)


def test_a_missing_speedup_says_why_when_it_can():
    _, summary, speedups, calibration = make_tables(workloads=("numerical",))
    failed_serial = _with_statuses(summary, {("numerical", "serial", 2): "failed"})
    no_ratio = speedups.copy()
    no_ratio.loc[(no_ratio.cores == 2) & (no_ratio.baseline == "serial"), "speedup"] = NAN
    with_summary = figures.speedup_figure(no_ratio, calibration, summary=failed_serial)
    without = figures.speedup_figure(no_ratio, calibration)
    try:
        gids = {ln.get_gid() for ln in with_summary.axes[0].lines}
        assert {"serial_failed:ray", "serial_failed:multiprocessing"} <= gids
        assert "serial failed (no baseline)" in [t.get_text() for t in with_summary.legends[0].get_texts()]
        assert "no_speedup:ray" in {ln.get_gid() for ln in without.axes[0].lines}
        assert "no speedup in the table" in [t.get_text() for t in without.legends[0].get_texts()]
    finally:
        plt.close(with_summary)
        plt.close(without)


def test_status_words():
    assert figures.status_text("not_applicable") == "not applicable"
    assert figures.status_marker("failed") == "x" and figures.status_marker("skipped") == "D"
    assert figures.status_label("failed") == figures.FAILED_LABEL
    assert figures.status_label("skipped") == "skipped cell (no timing)"
    row = pd.Series({"status": "ok", "median_s": NAN})
    assert figures.cell_status(row) == figures.NO_TIMING  # "ok" without a number is still no bar
    assert figures.cell_status(pd.Series({"status": NAN, "median_s": 1.0})) == "ok"
