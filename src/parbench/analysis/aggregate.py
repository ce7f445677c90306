"""Records -> tidy tables and the run's header.

- timings: one row per trial (with its round);
- summary: one row per cell, pooled over its rounds (median, hierarchical CI, between-round spread);
- speedups: every backend over every baseline per (workload, cores), ratios of medians with CIs;
- growth: time(N) / time(1) per (workload, backend), the weak-scaling number, with its CI;
- calibration_points / calibration: the machine ceiling at each check, and per core count;
- run.json: preset, machine, core counts, rounds and trials.
Aggregation refuses to mix records from different configurations or machines unless asked
(a ratio between two cells measured under different conditions means nothing), and always
refuses oversubscribed records (functional tests, not timings).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ..catalog import base_workload
from ..records import NOT_APPLICABLE, Record, RecordError, read_record
from ..stats import (
    DEFAULT_SEED,
    CellSample,
    coefficient_of_variation,
    faster_of_two,
    interval,
    ratio,
    sample_cell,
)

BASELINES = ("serial", "multiprocessing", "faster_of_two", "multiprocessing_tuned")


class MixedRecordsError(ValueError):
    """Records of one aggregation come from different configurations or machines."""


def load_records(paths: Iterable[str | Path], allow_mixed: bool = False) -> list[Record]:
    records: list[tuple[Path, Record]] = []
    problems: list[str] = []
    for path in paths:
        try:
            records.append((Path(path), read_record(path)))
        except RecordError as exc:
            problems.append(str(exc))
    if problems:
        raise RecordError("unreadable records:\n  " + "\n  ".join(problems))
    oversubscribed = [str(path) for path, rec in records if rec.oversubscribed]
    if oversubscribed:
        raise MixedRecordsError(
            f"{len(oversubscribed)} record(s) were run oversubscribed (N workers on fewer CPUs; a functional "
            f"test, not a timing): {', '.join(oversubscribed[:4])}{' …' if len(oversubscribed) > 4 else ''}; "
            f"they cannot be aggregated into timings or verdicts")
    if not allow_mixed:
        for key, what in (("config_hash", "configurations"), ("machine_hash", "machines")):
            groups: dict[str, list[str]] = {}
            for path, rec in records:
                groups.setdefault(getattr(rec, key), []).append(str(path))
            if len(groups) > 1:
                detail = "; ".join(f"{h}: {', '.join(sorted(p)[:4])}{' …' if len(p) > 4 else ''}"
                                   for h, p in sorted(groups.items(), key=lambda kv: -len(kv[1])))
                raise MixedRecordsError(
                    f"records come from {len(groups)} different {what} ({key} {detail}); "
                    f"delete the stale records and rerun, or aggregate with --allow-mixed (parbench aggregate)"
                )
    return [rec for _, rec in records]


def group_rounds(records: list[Record]) -> dict[tuple[str, str, int], list[Record]]:
    """The rounds of each (workload, backend, cores) cell, in round order."""
    cells: dict[tuple[str, str, int], list[Record]] = {}
    for r in records:
        cells.setdefault((r.workload, r.backend, r.cores), []).append(r)
    return {k: sorted(v, key=lambda r: r.round) for k, v in sorted(cells.items())}


def timings_frame(records: list[Record]) -> pd.DataFrame:
    rows = [
        {"workload": r.workload, "backend": r.backend, "cores": r.cores, "round": r.round, "trial": t.index,
         "seconds": t.seconds, "work_done": t.work_done, "work_expected": r.work_expected,
         "digest": t.digest, "preset": r.preset, "status": r.status}
        for r in records for t in r.trials
    ]
    columns = ["workload", "backend", "cores", "round", "trial", "seconds", "work_done", "work_expected", "digest",
               "preset", "status"]
    return pd.DataFrame(rows, columns=columns)


def _cell_digest(rounds: list[Record]) -> str | None:
    digests = {t.digest for r in rounds for t in r.trials}
    if not digests:
        return None
    return digests.pop() if len(digests) == 1 else "inconsistent"


def dev_shm_fallback(facts: dict | None) -> str:
    """What of a cell had to live outside /dev/shm because /dev/shm lacked room ("" if nothing).

    Each library has its own rule: Ray puts its object store on disk, joblib memmaps into the
    temp folder unless /dev/shm has 2 GB free, multiprocessing's heap arena (RawArray) goes to the
    temp folder when /dev/shm cannot hold it. The cell still runs; its timing may include disk I/O.
    """
    facts = facts or {}
    if facts.get("object_store_in_shm") is False:
        return "Ray's object store was on disk"
    if (facts.get("memmap_in_dev_shm") is False and facts.get("memmap_folder_created")
            and not facts.get("joblib_temp_folder_env")):
        return (f"joblib memmapped its arrays into {facts.get('memmap_folder')} (it uses /dev/shm only "
                f"with more than 2 GB free there)")
    shared = facts.get("shared_memory") or {}
    if shared.get("in_dev_shm") is False and str(shared.get("kind", "")).startswith("file mapping"):
        return (f"its shared array was a file in {shared.get('folder')} ({shared.get('filesystem')}), "
                f"not in /dev/shm")
    return ""


def _cell_status(rounds: list[Record]) -> tuple[str, str]:
    """ok only if every round is ok; otherwise the first other status and its error, round named."""
    for r in rounds:
        if r.status != "ok":
            prefix = f"round {r.round} of {len(rounds)}: " if len(rounds) > 1 else ""
            return r.status, prefix + (r.error or "")
    return "ok", ""


def _python(record: Record) -> str:
    """The interpreter a record ran on, e.g. "3.11.7" or "3.13.15 free-threaded"."""
    facts = record.software.get("interpreter") or {}
    version = facts.get("version") or record.software.get("python", "")
    return f"{version} free-threaded" if facts.get("free_threaded_build") else version


def _gil_off(rounds: list[Record]) -> bool | float:
    """True when every round read the GIL off after its trials (free-threaded backends); NaN elsewhere."""
    readings = [(r.backend_facts or {}).get("gil_enabled_after_trials") for r in rounds]
    if not readings or any(v is None for v in readings):
        return np.nan
    return not any(readings)


def _max_load(loads: Iterable[dict[str, float] | None]) -> float:
    values = [v for load in loads if load for v in load.values()]
    return max(values) if values else np.nan


def _median_or_nan(values) -> float:
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else np.nan


def cell_samples(records: list[Record], seed: int = DEFAULT_SEED) -> dict[tuple[str, str, int], CellSample]:
    """Each successful cell's pooled median and hierarchical bootstrap replicates (see stats.py)."""
    out = {}
    for key, rounds in group_rounds(records).items():
        if _cell_status(rounds)[0] != "ok":
            continue
        per_round = [[t.seconds for t in r.trials] for r in rounds]
        out[key] = sample_cell(per_round, seed, "/".join(map(str, key)))
    return out


def summary_frame(records: list[Record], samples: dict[tuple[str, str, int], CellSample] | None = None,
                  seed: int = DEFAULT_SEED) -> pd.DataFrame:
    samples = samples if samples is not None else cell_samples(records, seed)
    rows = []
    for (workload, backend, cores), rounds in group_rounds(records).items():
        seconds = np.array([t.seconds for r in rounds for t in r.trials], dtype=float)
        status, error = _cell_status(rounds)
        sample = samples.get((workload, backend, cores)) or sample_cell([list(seconds)] if seconds.size else [], seed)
        est = interval(sample)
        round_medians = [float(np.median([t.seconds for t in r.trials])) for r in rounds if r.trials]
        work = [t.work_done for r in rounds for t in r.trials]
        facts = [r.backend_facts or {} for r in rounds]
        ray = facts if backend.startswith("ray") else []
        first = rounds[0]
        rows.append({
            "workload": workload, "backend": backend, "cores": cores, "status": status, "error": error,
            "rounds": len(rounds), "n": len(seconds), "median_s": est.value,
            "q1_s": float(np.percentile(seconds, 25)) if len(seconds) else np.nan,
            "q3_s": float(np.percentile(seconds, 75)) if len(seconds) else np.nan,
            "ci_low_s": est.ci_low, "ci_high_s": est.ci_high, "ci_method": est.method,
            "cv": coefficient_of_variation(seconds),
            "round_medians_s": " ".join(f"{m:.4g}" for m in round_medians),
            "between_round_cv": coefficient_of_variation(round_medians),
            "setup_s": _median_or_nan(r.setup_seconds for r in rounds),
            "teardown_s": _median_or_nan(r.teardown_seconds for r in rounds),
            "before_trial_s": _median_or_nan(s for r in rounds for s in r.before_trial_seconds),
            "warmups": len(first.warmup_seconds),
            "peak_rss_bytes": max((r.memory.peak_tree_rss_bytes for r in rounds if r.memory), default=np.nan),
            "peak_shm_bytes": max((r.memory.peak_shm_used_bytes for r in rounds if r.memory), default=np.nan),
            "foreign_load_max": _max_load(r.foreign_load_before for r in rounds),
            "work_done": min(work) if work else np.nan,
            "work_expected": first.work_expected,
            "work_complete": bool(work) and min(work) == first.work_expected,
            "digest": _cell_digest(rounds),
            "object_store_in_shm": (all(bool(f.get("object_store_in_shm")) for f in ray)
                                    if ray and all(f.get("object_store_in_shm") is not None for f in ray)
                                    else np.nan),
            "spilled_bytes": max((f.get("spilled_bytes") or 0 for f in ray), default=np.nan) if ray else np.nan,
            "ray_mode": ray[0].get("mode", "") if ray else "",
            "shm_fallback": "; ".join(sorted({dev_shm_fallback(f) for f in facts} - {""})),
            "worker_threads": first.protocol.worker_threads if first.protocol else np.nan,
            "pinned_cpus": " ".join(map(str, first.pinned_cpus)),
            "python": _python(first),
            "gil_off": _gil_off(rounds),
        })
    summary = pd.DataFrame(rows)
    summary["iqr_s"] = summary["q3_s"] - summary["q1_s"]
    # The reference digest of a (workload, cores) cell is serial's; a backend that did the same
    # work must produce the same one.
    reference = summary[summary.backend == "serial"].set_index(["workload", "cores"])["digest"]
    summary["digest_agrees"] = [
        (d is not None and d == reference.get((w, c)))
        if (w, c) in reference.index and status != NOT_APPLICABLE else np.nan
        for w, c, d, status in zip(summary.workload, summary.cores, summary.digest, summary.status)
    ]
    return summary.sort_values(["workload", "cores", "backend"]).reset_index(drop=True)


def speedups_frame(samples: dict[tuple[str, str, int], CellSample]) -> pd.DataFrame:
    """Every backend over every baseline at every (workload, cores) where both cells succeeded."""
    rows = []
    by_cell: dict[tuple[str, int], dict[str, CellSample]] = {}
    for (workload, backend, cores), sample in samples.items():
        by_cell.setdefault((workload, cores), {})[backend] = sample
    for (workload, cores), cell in sorted(by_cell.items()):
        for backend, sample in sorted(cell.items()):
            for baseline in BASELINES:
                if baseline == backend:
                    continue
                if baseline == "faster_of_two":
                    if not {"serial", "multiprocessing"} <= cell.keys() or backend in ("serial", "multiprocessing"):
                        continue
                    est = faster_of_two(cell["serial"], cell["multiprocessing"], sample)
                elif baseline in cell:
                    est = ratio(cell[baseline], sample)
                else:
                    continue
                rows.append({"workload": workload, "cores": int(cores), "backend": backend,
                             "baseline": baseline, "speedup": est.value, "ci_low": est.ci_low,
                             "ci_high": est.ci_high, "ci_method": est.method})
    columns = ["workload", "cores", "backend", "baseline", "speedup", "ci_low", "ci_high", "ci_method"]
    return pd.DataFrame(rows, columns=columns)


def growth_frame(samples: dict[tuple[str, str, int], CellSample]) -> pd.DataFrame:
    """time(N) / time(1) of every backend and workload: the weak-scaling claim's number, with its CI."""
    rows = []
    for (workload, backend, cores), sample in sorted(samples.items()):
        one = samples.get((workload, backend, 1))
        if cores == 1 or one is None:
            continue
        est = ratio(sample, one)  # "how many times slower at N than at 1"
        rows.append({"workload": workload, "backend": backend, "cores": int(cores), "growth": est.value,
                     "ci_low": est.ci_low, "ci_high": est.ci_high, "ci_method": est.method})
    return pd.DataFrame(rows, columns=["workload", "backend", "cores", "growth", "ci_low", "ci_high", "ci_method"])


def calibration_points_frame(paths: Iterable[str | Path]) -> pd.DataFrame:
    """One row per calibration point: the ceiling and the foreign load on the run's CPUs at that time."""
    rows = []
    for path in paths:
        try:
            data = json.loads(Path(path).read_text())
            load = data.get("foreign_load") or {}
            rows.append({"cores": int(data["cores"]), "point": int(data.get("point", 0)),
                         "ceiling": float(data["ceiling"]), "efficiency": float(data["efficiency"]),
                         "foreign_load_max": max(load.values()) if load else np.nan,
                         "machine_hash": data.get("machine_hash", "")})
        except (OSError, ValueError, KeyError) as exc:
            raise RecordError(f"{path}: unreadable calibration ({exc}); delete it and rerun") from None
    columns = ["cores", "point", "ceiling", "efficiency", "foreign_load_max", "machine_hash"]
    return pd.DataFrame(rows, columns=columns).sort_values(["cores", "point"]).reset_index(drop=True)


def calibration_frame(points: pd.DataFrame) -> pd.DataFrame:
    """One row per core count: the median ceiling over the run's points, and its range."""
    columns = ["cores", "ceiling", "efficiency", "ceiling_min", "ceiling_max", "points", "foreign_load_max"]
    if points.empty:
        return pd.DataFrame(columns=columns)
    grouped = points.groupby("cores")
    out = pd.DataFrame({
        "ceiling": grouped.ceiling.median(), "ceiling_min": grouped.ceiling.min(),
        "ceiling_max": grouped.ceiling.max(), "points": grouped.ceiling.size(),
        "foreign_load_max": grouped.foreign_load_max.max(),
    }).reset_index()
    out["efficiency"] = out.ceiling / out.cores
    return out[columns]


TABLES = ("timings", "summary", "speedups", "growth", "calibration", "calibration_points")


def run_header(records: list[Record]) -> dict:
    """What a run was, in one small JSON (run.json): what compare and the verdicts need to know."""
    rounds = group_rounds(records)
    first = records[0] if records else None
    return {
        "preset": first.preset if first else None,
        "sizes": {r.workload: r.sizes for r in records},
        "machine_hash": first.machine_hash if first else None,
        "config_hash": first.config_hash if first else None,
        "cpu_model": first.machine.get("cpu_model") if first else None,
        "physical_cores_allowed": first.machine.get("physical_cores_allowed") if first else None,
        "core_counts": sorted({r.cores for r in records}),
        "workloads": sorted({r.workload for r in records}),
        "backends": sorted({r.backend for r in records}),
        "rounds": max((len(v) for v in rounds.values()), default=0),
        "trials_per_round": sorted({len(r.trials) for r in records if r.status == "ok"}),
        "cells": len(rounds),
        "first_started": min((r.started_at for r in records), default=None),
        "last_finished": max((r.finished_at for r in records), default=None),
        "trial_seconds": round(sum(t.seconds for r in records for t in r.trials), 1),
        # How the cells of B2 itself made their documents (none named: records from before the setting);
        # a variant's cells (stateful_per_document) say so in their name.
        "document_generations": sorted({(r.workload_facts or {}).get("document_generation") for r in records
                                        if r.workload == base_workload(r.workload)} - {None}),
    }


def write_tables(record_paths, calibration_paths, out_dir: Path, allow_mixed: bool = False,
                 seed: int = DEFAULT_SEED) -> list[Path]:
    """The aggregation stage: CSV for people and tools, Parquet for the trial-level table."""
    records = load_records(record_paths, allow_mixed=allow_mixed)
    samples = cell_samples(records, seed)
    points = calibration_points_frame(calibration_paths)
    tables = {
        "timings": timings_frame(records),
        "summary": summary_frame(records, samples, seed),
        "speedups": speedups_frame(samples),
        "growth": growth_frame(samples),
        "calibration": calibration_frame(points),
        "calibration_points": points,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in TABLES:
        path = out_dir / f"{name}.csv"
        tables[name].to_csv(path, index=False)
        written.append(path)
    tables["timings"].to_parquet(out_dir / "timings.parquet", index=False)
    written.append(out_dir / "timings.parquet")
    (out_dir / "run.json").write_text(json.dumps(run_header(records), indent=2))
    written.append(out_dir / "run.json")
    return written
