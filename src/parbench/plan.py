"""A rough duration for the cells still to run, computed from committed reference records.

For each planned (workload, backend, cores) cell it takes the reference record of the same
workload and backend at the nearest core count and scales its trial time by the preset's work
per core relative to the reference preset. Weak scaling keeps trial times comparable across core
counts on an ideal machine, so this is a floor-ish estimate, not a promise.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from .presets import get_preset

PROCESS_OVERHEAD_S = 3.0  # interpreter start and imports per cell


def work_per_core(workload: str, sizes: dict) -> float:
    if workload == "numerical":
        return sizes["image_side"] ** 2
    if workload == "stateful":
        return sizes["docs_per_core"] * sizes["words_per_doc"]
    return sizes["rounds"] * sizes["test_images"]


def _load_reference(reference: Path) -> dict[tuple[str, str], list[dict]]:
    found: dict[tuple[str, str], list[dict]] = {}
    for path in sorted(reference.glob("*/*/*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if data.get("status") == "ok" and data.get("trials"):
            found.setdefault((data["workload"], data["backend"]), []).append(data)
    return found


def estimate_seconds(cells, preset: str, trials: int, reference: Path) -> float | None:
    """Seconds for `cells` (workload, backend, cores), or None without reference records."""
    refs = _load_reference(reference)
    if not refs:
        return None
    total = 0.0
    for workload, backend, cores in cells:
        candidates = refs.get((workload, backend))
        if not candidates:
            continue
        ref = min(candidates, key=lambda r: abs(r["cores"] - cores))
        planned = vars(get_preset(preset).sizes(workload))
        scale = work_per_core(workload, planned) / work_per_core(workload, ref["sizes"])
        trial = statistics.median(t["seconds"] for t in ref["trials"]) * scale
        warmups = len(ref["warmup_seconds"])
        total += (PROCESS_OVERHEAD_S + (ref["setup_seconds"] or 0) + (ref["teardown_seconds"] or 0)
                  + (warmups + trials) * trial)
    return total
