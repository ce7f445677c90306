"""Tables + records + claims -> results/report.md, through the jinja2 template in paper/.

Every number the report prints is computed here from the aggregated tables or the records; the
only typed numbers are the original's, read from paper/claims.yaml.
"""

from __future__ import annotations

import json
import math
import os
import statistics
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd

from .analysis.aggregate import load_records
from .analysis.drift import measured_both_ways
from .analysis.quiet import FOREIGN_LOAD_MAX, QUIET_CEILING
from .analysis.verdicts import DRIFT_SUFFIX, SCALED_SUFFIX, VERDICTS, load_claims, read_verdicts
from .catalog import (
    ALTERNATIVES,
    BACKEND_LABELS,
    BACKEND_ORDER,
    CELL_WORKLOAD_ORDER,
    ORIGINAL_BACKENDS,
    WORKLOAD_ORDER,
    WORKLOAD_TITLES,
    base_workload,
)
from .records import NOT_APPLICABLE, write_atomic

NOISY_CV = 0.10  # coefficient of variation above which a cell is flagged as noisy


def fmt(x, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.{digits}f}"


def fmt_ci(low, high, digits: int = 2) -> str:
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (low, high)):
        return "n/a"
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def mib(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x / 2**20:.0f}"


def _is_false(value) -> bool:
    """True only for a real False (CSV columns mix bools with NaN for 'not applicable')."""
    return isinstance(value, (bool, np.bool_)) and not bool(value)


SHM_SIZE_FLAG = "--shm-size=3g"  # Ray's 2 GiB store and B1's 72 MB image, with room to spare (README)


def _shm_fallback(row) -> str:
    """The summary's shm_fallback text ("" when absent: read_csv turns empty cells into NaN)."""
    value = getattr(row, "shm_fallback", "")
    return value if isinstance(value, str) else ""


def shm_affected_cells(summary: pd.DataFrame) -> list[str]:
    """Cells whose shared data went outside /dev/shm for lack of room there (Ray's store included)."""
    return [f"{r.workload}/{r.backend}/{r.cores}" for r in summary.itertuples()
            if r.status == "ok" and (_is_false(r.object_store_in_shm) or _shm_fallback(r))]


def _cell_warnings(r) -> list[str]:
    """What a reader must know about one successful cell (summary row) before trusting its number."""
    out = []
    cell = f"{r.workload}/{r.backend}/{r.cores} cores"
    if not r.work_complete:
        out.append(f"**work done differs** {cell}: {fmt(r.work_done, 0)} of {r.work_expected} units per trial"
                   + (" (the original's 4 state slots: only 4 documents per round are processed above 4 cores)"
                      if base_workload(r.workload) == "stateful" and r.backend == "multiprocessing" else ""))
    if _is_false(r.digest_agrees):
        out.append(f"**digest differs from serial** {cell}: {r.digest}")
    if _is_false(r.object_store_in_shm):
        out.append(f"**Ray object store not in /dev/shm** {cell}: Ray fell back to disk; "
                   f"run the container with a larger --shm-size ({SHM_SIZE_FLAG})")
    elif _shm_fallback(r):
        out.append(f"**shared memory not in /dev/shm** {cell}: {_shm_fallback(r)}; run the container "
                   f"with a larger --shm-size ({SHM_SIZE_FLAG})")
    if isinstance(r.spilled_bytes, (int, float)) and not math.isnan(r.spilled_bytes) and r.spilled_bytes > 0:
        out.append(f"**Ray spilled objects** {cell}: {mib(r.spilled_bytes)} MiB spilled to disk")
    if isinstance(r.cv, float) and not math.isnan(r.cv) and r.cv > NOISY_CV:
        out.append(f"**noisy cell** {cell}: coefficient of variation {r.cv:.0%} over {r.n} trials")
    load = getattr(r, "foreign_load_max", math.nan)
    if isinstance(load, float) and not math.isnan(load) and load > FOREIGN_LOAD_MAX:
        out.append(f"**busy CPU before the cell** {cell}: a CPU of the cell was {load:.0%} busy with other "
                   f"work just before a round started")
    return out


def _warnings(summary: pd.DataFrame, calibration: pd.DataFrame) -> list[str]:
    out = []
    for r in summary.itertuples():
        if r.status == NOT_APPLICABLE:  # not a warning: the free-threading section and the cell table say why
            continue
        if r.status != "ok":
            out.append(f"**failed cell** {r.workload}/{r.backend}/{r.cores} cores: {r.error}")
            continue
        out += _cell_warnings(r)
    for r in calibration.itertuples():
        if r.cores > 1 and r.ceiling < QUIET_CEILING * r.cores:
            out.append(f"**machine ceiling far below N** at {r.cores} cores: {fmt(r.ceiling)}x "
                       f"({r.efficiency:.0%} of ideal); no backend can exceed it")
    return out


def _seconds_table(summary: pd.DataFrame, claims: dict, cores: int) -> list[dict]:
    rows = []
    original = claims.get("original_seconds", {})
    ok = summary[summary.status == "ok"].set_index(["workload", "backend", "cores"])
    for workload in CELL_WORKLOAD_ORDER:
        for backend in ORIGINAL_BACKENDS:
            key = (workload, backend, cores)
            have = key in ok.index
            if workload != base_workload(workload) and not have:
                continue  # a variant the run did not time
            rows.append({
                "workload": workload, "backend": backend,
                # a variant times the same work as the post's code: the post's seconds stand beside it
                "original": original.get(base_workload(workload), {}).get(backend),
                "median": fmt(ok.loc[key, "median_s"], 3) if have else "n/a",
                "ci": fmt_ci(ok.loc[key, "ci_low_s"], ok.loc[key, "ci_high_s"], 3) if have else "n/a",
            })
    return rows


def _headline(speedups: pd.DataFrame, cores: int) -> list[dict]:
    out = []
    for baseline, words in (("serial", "serial Python"), ("multiprocessing", "multiprocessing"),
                            ("faster_of_two", "the faster of the two")):
        rows = speedups[(speedups.backend == "ray") & (speedups.baseline == baseline) & (speedups.cores == cores)
                        & speedups.workload.isin(WORKLOAD_ORDER)]  # the post's three, as its headline
        if rows.empty:
            out.append({"baseline": words, "range": "not measured", "per_workload": ""})
            continue
        per = "; ".join(f"{r.workload} {fmt(r.speedup)}x" for r in rows.itertuples())
        out.append({"baseline": words, "range": f"{fmt(rows.speedup.min())}-{fmt(rows.speedup.max())}x",
                    "per_workload": per})
    return out


def _fastest(summary: pd.DataFrame) -> list[dict]:
    """Per workload and core count: the fastest of the original three, and of every backend run."""
    out = []
    ok = summary[summary.status == "ok"]
    for workload in CELL_WORKLOAD_ORDER:
        for cores in sorted(ok[ok.workload == workload].cores.unique()):
            cell = ok[(ok.workload == workload) & (ok.cores == cores)].set_index("backend")
            original = cell[cell.index.isin(ORIGINAL_BACKENDS)]
            alternatives = cell[cell.index.isin(ALTERNATIVES)]
            best = cell.median_s.idxmin()
            out.append({
                "workload": workload, "cores": int(cores),
                "original": (f"{original.median_s.idxmin()} ({fmt(original.median_s.min(), 3)} s)"
                             if len(original) else "n/a"),
                "alternative": f"{alternatives.median_s.idxmin()} ({fmt(alternatives.median_s.min(), 3)} s)"
                               if len(alternatives) else "not run",
                "overall": f"{best} ({fmt(cell.median_s.min(), 3)} s)",
            })
    return out


def _protocols(records) -> list[dict]:
    seen, out = set(), []
    for r in sorted(records, key=lambda r: (CELL_WORKLOAD_ORDER.index(r.workload)
                                            if r.workload in CELL_WORKLOAD_ORDER else 9,
                                            r.backend)):
        if (r.workload, r.backend) in seen or r.protocol is None:
            continue
        seen.add((r.workload, r.backend))
        p = r.protocol
        out.append({"workload": r.workload, "backend": r.backend, "setup": p.setup_region, "timed": p.timed_region,
                    "warmups": f"{p.warmups} ({p.warmup_policy})",
                    "threads": "N" if p.worker_threads == r.cores and r.cores > 1 else str(p.worker_threads),
                    "start_method": p.start_method or "-", "pinning": p.pinning, "notes": " ".join(p.notes),
                    "before_trial": p.before_trial})
    return out


def _round_parts(r) -> dict[str, float]:
    """One ok round's wall time in parts (seconds): start-up, the harness's timed steps and the rest."""
    comparison = r.comparison or {}
    warmups = (sum(r.warmup_seconds) + sum(r.before_trial_seconds) + sum(comparison.get("seconds", []))
               + sum(comparison.get("before_trial_seconds", [])))
    trials = sum(t.seconds for t in r.trials)
    steps = (r.setup_seconds or 0.0) + warmups + trials + (r.teardown_seconds or 0.0)
    return {"startup": r.startup_seconds, "setup": r.setup_seconds or 0.0, "warmups": warmups, "trials": trials,
            "teardown": r.teardown_seconds or 0.0, "other": r.harness_seconds - steps,
            "wall": r.startup_seconds + r.harness_seconds}


def _round_overhead(records) -> list[dict]:
    """Per backend: where a cell round's wall time goes, means over its ok rounds that carry start-up
    and harness seconds (records written before those fields existed are counted apart)."""
    rows = []
    for backend in sorted({r.backend for r in records}, key=lambda b: (BACKEND_ORDER + (b,)).index(b)):
        ok = [r for r in records if r.backend == backend and r.status == "ok"]
        timed = [_round_parts(r) for r in ok if r.startup_seconds is not None and r.harness_seconds is not None]
        row = {"backend": backend, "rounds": len(timed), "older": len(ok) - len(timed)}
        if timed:
            means = {k: float(np.mean([t[k] for t in timed])) for k in timed[0]}
            row |= {k: fmt(v) for k, v in means.items()}
            row["share"] = f"{sum(t['trials'] for t in timed) / sum(t['wall'] for t in timed):.0%}"
        rows.append(row)
    return rows


def _protocol_comparison(records) -> list[dict]:
    """Per cell with comparison passes: the trials' median against the other protocol's, pooled over rounds."""
    cells: dict[tuple[str, str, int], dict] = {}
    for r in records:
        if r.status != "ok" or not r.comparison or not r.comparison.get("seconds"):
            continue
        cell = cells.setdefault((r.workload, r.backend, r.cores), {"main": [], "other": [], "before": [],
                                                                   "protocol": r.comparison["protocol"],
                                                                   "variant": r.protocol.variant})
        cell["main"].extend(t.seconds for t in r.trials)
        cell["other"].extend(r.comparison["seconds"])
        cell["before"].extend(r.before_trial_seconds)
    out = []
    for (workload, backend, cores), c in sorted(cells.items()):
        main, other = float(np.median(c["main"])), float(np.median(c["other"]))
        out.append({"workload": workload, "backend": backend, "cores": cores, "variant": c["variant"],
                    "protocol": c["protocol"], "main": fmt(main, 3), "other": fmt(other, 3),
                    "n_main": len(c["main"]), "n_other": len(c["other"]), "ratio": fmt(main / other),
                    "before": fmt(float(np.median(c["before"])), 3) if c["before"] else "n/a"})
    return out


FT_COMPARED = ("serial", "threads", "free_threading", "ray", "multiprocessing_tuned")


def _free_threading(summary: pd.DataFrame, speedups: pd.DataFrame, records) -> dict:
    """The free-threaded CPython section: free_threading beside threads (GIL), Ray, tuned
    multiprocessing and serial per workload and core count, and its single-thread cost."""
    ft = summary[summary.backend == "free_threading"]
    if ft.empty:
        return {"ran": False}
    cells = summary.set_index(["workload", "backend", "cores"])
    over = speedups[(speedups.backend == "free_threading") & (speedups.baseline == "serial")]
    over = over.set_index(["workload", "cores"])

    def seconds(workload, backend, cores) -> str:
        key = (workload, backend, cores)
        if key not in cells.index:
            return "not run"
        row = cells.loc[key]
        return "not applicable" if row.status == NOT_APPLICABLE else (
            fmt(row.median_s, 3) if row.status == "ok" else "failed")

    rows, costs = [], []
    for r in ft.sort_values(["workload", "cores"], key=lambda c: c.map(
            lambda v: CELL_WORKLOAD_ORDER.index(v) if v in CELL_WORKLOAD_ORDER else v)).itertuples():
        s = over.loc[(r.workload, r.cores)] if (r.workload, r.cores) in over.index else None
        rows.append({"workload": r.workload, "cores": int(r.cores),
                     "seconds": [seconds(r.workload, b, r.cores) for b in FT_COMPARED],
                     "speedup": f"{fmt(s.speedup)}x {fmt_ci(s.ci_low, s.ci_high)}".replace(" n/a", "")
                     if s is not None else "n/a",
                     "gil": "n/a" if r.status != "ok" or pd.isna(r.gil_off) else ("off" if bool(r.gil_off) else "ON")})
        if s is not None and r.cores == 1:  # time ratio = 1 / speedup; the interval inverts with it
            ci = fmt_ci(1 / s.ci_high, 1 / s.ci_low)
            costs.append({"workload": r.workload, "ratio": fmt(1 / s.speedup), "ci": "" if ci == "n/a" else f" {ci}",
                          "percent": f"{100 / s.speedup - 100:+.0f}%"})

    def build(backend: str) -> dict:
        rec = next((x for x in records if x.backend == backend and x.status == "ok"), None)
        facts = (rec.software.get("interpreter") or {}) if rec else {}
        flags = [f.strip("'") for f in (facts.get("config_args") or "").split("' '")]
        return {"version": facts.get("version", "n/a"), "free_threaded": facts.get("free_threaded_build"),
                "configure": " ".join(f for f in flags if f and not f.startswith("--prefix=")) or "n/a"}

    return {"ran": True, "labels": [BACKEND_LABELS[b] for b in FT_COMPARED], "rows": rows, "costs": costs,
            "ft": build("free_threading"), "main": build("serial"),
            "not_applicable": sorted({f"{x.workload}: {x.error}" for x in records
                                      if x.backend == "free_threading" and x.status == NOT_APPLICABLE})}


def _relative(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


def _bracket(v: dict) -> str:
    """'; bracket [a, b] (widest: ...)': the projection with the model's error and its assumptions."""
    if v.get("projected_bracket_low") is None:
        return ""
    widest = v.get("projection_widest_assumption") or ""
    return (f"; with the model's error and assumptions [{fmt(v['projected_bracket_low'])}, "
            f"{fmt(v['projected_bracket_high'])}]" + (f" (widest: {widest})" if widest else ""))


def _claim_rows(verdicts: list[dict]) -> list[dict]:
    """The report's claim table, one row per verdicts.json row (the same rows, formatted)."""
    rows = []
    for v in verdicts:
        projection = ""
        if v.get("projected") is not None:
            ci = fmt_ci(v.get("projected_ci_low"), v.get("projected_ci_high"))
            projection = f"{fmt(v['projected'])}x {ci} at {v['projected_cores']} cores (projected)" + _bracket(v)
        rows.append({**v, "projection": projection, "derived": v["id"].endswith((SCALED_SUFFIX, DRIFT_SUFFIX))})
    return rows


def _model_check(path: Path | None, figures: Path, out: Path) -> dict | None:
    """The cost model against every measured cell (model_check.csv from the `model` stage): the
    error per backend, and every cell it misses by more than the target, with the reason."""
    from .analysis.model import IN_SAMPLE, TARGET_ERROR, error_summary

    if path is None:
        return None
    check = pd.read_csv(path)
    errors = error_summary(check)
    if "sample" in check:  # the oversubscribed cells have their own section, never pooled with these
        outside = check[check["sample"] != IN_SAMPLE]
        check = check[check["sample"] == IN_SAMPLE]
    else:
        outside = check.iloc[0:0]
    misses = check[check.abs_error > TARGET_ERROR].sort_values("abs_error", ascending=False)
    return {
        "target": f"{TARGET_ERROR:.0%}",
        "errors": [{"backend": r.backend, "cells": int(r.cells), "median": f"{r.median_abs_error:.0%}",
                    "worst": f"{r.worst_abs_error:.0%}", "worst_cell": r.worst_cell} for r in errors.itertuples()],
        "misses": [{"cell": f"{r.workload}/{r.backend}/{int(r.cores)}", "measured": fmt(r.measured_s, 3),
                    "predicted": fmt(r.predicted_s, 3), "error": f"{r.error:+.0%}", "note": r.note}
                   for r in misses.itertuples()],
        "not_predicted": [f"{r.workload}/{r.backend}/{int(r.cores)}: {r.note}"
                          for r in check[check.abs_error.isna()].itertuples()],
        "figures": {w: _relative(figures / f"model_{w}.png", out.parent) for w in WORKLOAD_ORDER
                    if (figures / f"model_{w}.png").exists()},
        "out_of_sample": _out_of_sample(outside),
    }


def _out_of_sample(check: pd.DataFrame) -> dict | None:
    """The model against the oversubscribed cells (N workers on fewer CPUs): per backend and N,
    with every miss over OUT_OF_SAMPLE_MISS and what explains it."""
    from .analysis.model import OUT_OF_SAMPLE_MISS, out_of_sample_errors

    if check.empty:
        return None
    errors = out_of_sample_errors(check)

    def pct(x: float) -> str:
        return "n/a" if pd.isna(x) else f"{x:.0%}"

    have = check.dropna(subset=["abs_error"])
    return {
        "threshold": f"{OUT_OF_SAMPLE_MISS:.0%}", "cpus": sorted({int(c) for c in have.cpus}),
        "busy": int((have.foreign_load_max.fillna(0.0) > FOREIGN_LOAD_MAX).sum()), "n": len(have),
        "foreign_load_max": f"{FOREIGN_LOAD_MAX:.0%}",
        "cores": sorted({int(c) for c in have.cores}),
        "cells": [{"cell": f"{r.workload}/{r.backend}/{int(r.cores)}", "measured": fmt(r.measured_s, 3),
                   "predicted": fmt(r.predicted_s, 3), "error": f"{r.error:+.0%}",
                   "vs_serial": "-" if pd.isna(r.ratio_error_vs_serial) else f"{r.ratio_error_vs_serial:+.0%}"}
                  for r in have.sort_values(["workload", "backend", "cores"]).itertuples()],
        "errors": [{"backend": r.backend, "cores": r.cores, "cells": int(r.cells), "median": pct(r.median_abs_error),
                    "worst": pct(r.worst_abs_error), "vs_serial": pct(r.median_abs_ratio_error_vs_serial)}
                   for r in errors.itertuples()],
        "misses": [f"{r.workload}/{r.backend}/{int(r.cores)}: {r.note}"
                   for r in have[have.abs_error > OUT_OF_SAMPLE_MISS].itertuples()],
    }


def _drift(model_check: Path | None, records, speedups: pd.DataFrame | None = None) -> dict | None:
    """What changed since 2019: the model stage's drift.csv (beside model_check.csv), and how this
    run's B2 cells generated their documents (their records' workload_facts)."""
    path = model_check.parent / "drift.csv" if model_check is not None else None
    if path is None or not path.exists():
        return None
    try:
        table = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return None
    rows = [{"workload": r.workload, "term": r.term, "reference": r.reference,
             "post": f"{r.post_relation} {r.post_ratio:.3g}", "basis": r.post_basis,
             "now": f"{r.now_ratio:.3g} ({fmt(r.now_term_s, 4)} s / {fmt(r.now_reference_s, 4)} s)",
             "drift": f"{r.drift_relation} {r.drift:.3g}x ({r.reading})"} for r in table.itertuples()]
    generations: dict[str, list[float]] = {}
    for record in records:
        facts = record.workload_facts or {}
        if facts.get("generation_seconds_per_document") is not None:
            generations.setdefault(facts["document_generation"], []).append(facts["generation_seconds_per_document"])
    cells = [{"generation": g, "cells": len(v), "seconds": fmt(statistics.median(v), 4)}
             for g, v in sorted(generations.items())]
    both = measured_both_ways(speedups) if speedups is not None else pd.DataFrame()
    label = BACKEND_LABELS.get
    both_ways = [{"pair": f"{label(r.backend, r.backend)} over {label(r.baseline, r.baseline)}",
                  "cores": int(r.cores), "per_word": f"{fmt(r.per_word)}x {fmt_ci(r.per_word_low, r.per_word_high)}",
                  "per_document": f"{fmt(r.per_document)}x {fmt_ci(r.per_document_low, r.per_document_high)}"}
                 for r in both.itertuples()]
    return {"rows": rows, "generation_cells": cells, "both_ways": both_ways}


def render_report(tables: Path, record_paths, environment: Path, claims_path: Path, template: Path,
                  figures: Path, out: Path, verdicts_path: Path, model_check: Path | None = None) -> None:
    summary = pd.read_csv(tables / "summary.csv")
    speedups = pd.read_csv(tables / "speedups.csv")
    calibration = pd.read_csv(tables / "calibration.csv")
    points = pd.read_csv(tables / "calibration_points.csv")
    records = load_records(record_paths, allow_mixed=True)  # mixing was checked by `aggregate`
    claims = load_claims(claims_path)
    run, verdict_rows = read_verdicts(verdicts_path)
    env = json.loads(environment.read_text())
    max_cores = int(summary.cores.max())
    ok = summary[summary.status == "ok"]

    cells = [{
        "workload": r.workload, "backend": r.backend, "cores": r.cores, "status": r.status, "n": r.n,
        "rounds": r.rounds, "median": fmt(r.median_s, 3), "ci": fmt_ci(r.ci_low_s, r.ci_high_s, 3),
        "round_medians": r.round_medians_s if isinstance(r.round_medians_s, str) else "n/a",
        "cv": "n/a" if math.isnan(r.cv) else f"{r.cv:.0%}", "setup": fmt(r.setup_s, 2),
        "teardown": fmt(r.teardown_s, 2), "rss": mib(r.peak_rss_bytes),
        "work": f"{fmt(r.work_done, 0)}/{r.work_expected}",
        "digest": "-" if pd.isna(r.digest_agrees) else ("ok" if r.digest_agrees else "DIFFERS"),
    } for r in summary.itertuples()]

    tuned = speedups[(speedups.backend == "ray") & (speedups.baseline == "multiprocessing_tuned")
                     & (speedups.cores == max_cores)]
    abstraction = [{"workload": r.workload, "speedup": fmt(r.speedup), "ci": fmt_ci(r.ci_low, r.ci_high)}
                   for r in tuned.itertuples()]

    order = sorted(records, key=lambda r: r.started_at)
    figure_files = {w: _relative(figures / f"{w}.png", out.parent) for w in CELL_WORKLOAD_ORDER
                    if (figures / f"{w}.png").exists()}
    claim_rows = _claim_rows(verdict_rows)
    context = {
        "claims": claims, "verdicts": claim_rows, "run": run, "max_cores": max_cores,
        "counts": {v: sum(1 for x in claim_rows if x["verdict"] == v and not x["derived"]) for v in VERDICTS},
        "headline": _headline(speedups, max_cores), "model": _model_check(model_check, figures, out),
        "brackets": any(v.get("projected_bracket_low") is not None for v in claim_rows),
        "seconds": _seconds_table(summary, claims, max_cores),
        "original_cores": max((c.get("cores", 0) for c in claims["claims"]), default=48),
        "cells": cells, "warnings": _warnings(summary, calibration), "abstraction": abstraction,
        "shm_cells": shm_affected_cells(summary), "shm_flag": SHM_SIZE_FLAG,
        "protocols": _protocols(records), "fastest": _fastest(summary),
        "protocol_comparison": _protocol_comparison(records),
        "round_overhead": _round_overhead(records),
        "cluster_cells": [f"{r.workload}/{r.backend}/{r.cores} ({(r.backend_facts or {}).get('nodes')} nodes, "
                          f"{(r.backend_facts or {}).get('cluster_cpus')} CPUs)"
                          for r in records if (r.backend_facts or {}).get("mode") == "cluster" and r.round == 0],
        "calibration": [{"cores": int(r.cores), "ceiling": fmt(r.ceiling), "efficiency": f"{r.efficiency:.0%}",
                         "range": f"{fmt(r.ceiling_min)}-{fmt(r.ceiling_max)}", "points": int(r.points),
                         "load": "n/a" if pd.isna(r.foreign_load_max) else f"{r.foreign_load_max:.0%}"}
                        for r in calibration.itertuples()],
        "calibration_points": [{"cores": int(r.cores), "point": int(r.point), "ceiling": fmt(r.ceiling),
                                "load": "n/a" if pd.isna(r.foreign_load_max) else f"{r.foreign_load_max:.0%}"}
                               for r in points.itertuples()],
        "env": env, "preset": run["preset"] or "n/a", "sizes": run["sizes"],
        "core_counts": run["core_counts"], "n_cells": len(summary),
        "n_failed": int((~summary.status.isin(["ok", NOT_APPLICABLE])).sum()), "n_ok": len(ok),
        "n_not_applicable": int((summary.status == NOT_APPLICABLE).sum()),
        "free_threading": _free_threading(summary, speedups, records),
        "run_order": [f"{r.workload}/{r.backend}/{r.cores}#{r.round}" for r in order],
        "figures": figure_files, "titles": WORKLOAD_TITLES,
        "panel": _relative(figures / "panel.png", out.parent),
        "speedup_figure": _relative(figures / "speedup.png", out.parent),
        "software": records[0].software if records else {},
        "quiet_ceiling": QUIET_CEILING, "foreign_load_max": FOREIGN_LOAD_MAX,
        "drift": _drift(model_check, records, speedups),
    }
    loader = jinja2.FileSystemLoader(str(template.parent))
    environment_j2 = jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined,
                                        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    text = environment_j2.get_template(template.name).render(**context)
    write_atomic(out, text)
