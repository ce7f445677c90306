"""Records -> tidy tables: timings (one row per trial), summary (one row per cell), speedups.

Aggregation refuses to mix records from different configurations or machines unless asked:
a ratio between two cells measured under different conditions means nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ..records import Record, RecordError, read_record
from .stats import DEFAULT_SEED, coefficient_of_variation, faster_of_two_estimate, median_estimate, speedup_estimate

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
                    f"delete the stale records and rerun, or aggregate with allow_mixed"
                )
    return [rec for _, rec in records]


def timings_frame(records: list[Record]) -> pd.DataFrame:
    rows = [
        {"workload": r.workload, "backend": r.backend, "cores": r.cores, "trial": t.index,
         "seconds": t.seconds, "work_done": t.work_done, "work_expected": r.work_expected,
         "digest": t.digest, "preset": r.preset, "status": r.status}
        for r in records for t in r.trials
    ]
    columns = ["workload", "backend", "cores", "trial", "seconds", "work_done", "work_expected", "digest",
               "preset", "status"]
    return pd.DataFrame(rows, columns=columns)


def _cell_digest(record: Record) -> str | None:
    digests = {t.digest for t in record.trials}
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


def summary_frame(records: list[Record], seed: int = DEFAULT_SEED) -> pd.DataFrame:
    rows = []
    for r in records:
        seconds = np.array([t.seconds for t in r.trials], dtype=float)
        est = median_estimate(seconds, seed)
        work = [t.work_done for t in r.trials]
        ray = (r.backend_facts or {}) if r.backend.startswith("ray") else {}
        rows.append({
            "workload": r.workload, "backend": r.backend, "cores": r.cores, "status": r.status,
            "error": r.error or "", "n": len(seconds), "median_s": est.value,
            "q1_s": float(np.percentile(seconds, 25)) if len(seconds) else np.nan,
            "q3_s": float(np.percentile(seconds, 75)) if len(seconds) else np.nan,
            "ci_low_s": est.ci_low, "ci_high_s": est.ci_high, "ci_method": est.method,
            "cv": coefficient_of_variation(seconds),
            "setup_s": r.setup_seconds, "teardown_s": r.teardown_seconds,
            "warmups": len(r.warmup_seconds),
            "peak_rss_bytes": r.memory.peak_tree_rss_bytes if r.memory else np.nan,
            "peak_shm_bytes": r.memory.peak_shm_used_bytes if r.memory else np.nan,
            "work_done": min(work) if work else np.nan,
            "work_expected": r.work_expected,
            "work_complete": bool(work) and min(work) == r.work_expected,
            "digest": _cell_digest(r),
            "object_store_in_shm": ray.get("object_store_in_shm", np.nan) if ray else np.nan,
            "spilled_bytes": ray.get("spilled_bytes", np.nan) if ray else np.nan,
            "ray_mode": ray.get("mode", "") if ray else "",
            "shm_fallback": dev_shm_fallback(r.backend_facts),
            "worker_threads": r.protocol.worker_threads if r.protocol else np.nan,
            "pinned_cpus": " ".join(map(str, r.pinned_cpus)),
        })
    summary = pd.DataFrame(rows)
    summary["iqr_s"] = summary["q3_s"] - summary["q1_s"]
    # The reference digest of a (workload, cores) cell is serial's; a backend that did the same
    # work must produce the same one.
    reference = summary[summary.backend == "serial"].set_index(["workload", "cores"])["digest"]
    summary["digest_agrees"] = [
        (d is not None and d == reference.get((w, c)))
        if (w, c) in reference.index else np.nan
        for w, c, d in zip(summary.workload, summary.cores, summary.digest)
    ]
    return summary.sort_values(["workload", "cores", "backend"]).reset_index(drop=True)


def speedups_frame(timings: pd.DataFrame, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Every backend over every baseline at every (workload, cores) where both cells succeeded."""
    rows = []
    timings = timings[timings.status == "ok"]
    for (workload, cores), cell in timings.groupby(["workload", "cores"], sort=True):
        seconds = {b: g["seconds"].to_numpy() for b, g in cell.groupby("backend")}
        for backend, values in sorted(seconds.items()):
            for baseline in BASELINES:
                if baseline == backend:
                    continue
                if baseline == "faster_of_two":
                    if not {"serial", "multiprocessing"} <= seconds.keys() or backend in ("serial", "multiprocessing"):
                        continue
                    est = faster_of_two_estimate(seconds["serial"], seconds["multiprocessing"], values, seed)
                elif baseline in seconds:
                    est = speedup_estimate(seconds[baseline], values, seed)
                else:
                    continue
                rows.append({"workload": workload, "cores": int(cores), "backend": backend,
                             "baseline": baseline, "speedup": est.value, "ci_low": est.ci_low,
                             "ci_high": est.ci_high, "ci_method": est.method})
    columns = ["workload", "cores", "backend", "baseline", "speedup", "ci_low", "ci_high", "ci_method"]
    return pd.DataFrame(rows, columns=columns)


def calibration_frame(paths: Iterable[str | Path]) -> pd.DataFrame:
    rows = []
    for path in paths:
        try:
            data = json.loads(Path(path).read_text())
            rows.append({"cores": int(data["cores"]), "ceiling": float(data["ceiling"]),
                         "efficiency": float(data["efficiency"])})
        except (OSError, ValueError, KeyError) as exc:
            raise RecordError(f"{path}: unreadable calibration ({exc}); delete it and rerun") from None
    return pd.DataFrame(rows, columns=["cores", "ceiling", "efficiency"]).sort_values("cores").reset_index(drop=True)


def write_tables(record_paths, calibration_paths, out_dir: Path, allow_mixed: bool = False) -> list[Path]:
    """The aggregation stage: CSV for people and tools, Parquet for the trial-level table."""
    records = load_records(record_paths, allow_mixed=allow_mixed)
    timings = timings_frame(records)
    tables = {
        "timings": timings,
        "summary": summary_frame(records),
        "speedups": speedups_frame(timings),
        "calibration": calibration_frame(calibration_paths),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in tables.items():
        path = out_dir / f"{name}.csv"
        frame.to_csv(path, index=False)
        written.append(path)
    timings.to_parquet(out_dir / "timings.parquet", index=False)
    written.append(out_dir / "timings.parquet")
    return written
