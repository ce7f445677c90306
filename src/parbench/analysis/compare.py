"""One run against another (usually the committed reference): ratios and verdicts side by side.

Two ratios agree when their 95% intervals overlap; each is also checked for containing the other's
median, the stricter test of whether one run predicts the other. Absolute seconds are compared only
as ratios, so runs on machines of different speeds can still be compared, but a different machine
kind or preset is named at the top: then the comparison says how the claims travel, not whether the
artifact reproduces itself.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..catalog import BACKEND_ORDER, WORKLOAD_ORDER

KEY = ["workload", "cores", "backend", "baseline"]


@dataclass(frozen=True)
class Run:
    name: str
    header: dict
    speedups: pd.DataFrame
    growth: pd.DataFrame
    verdicts: list[dict]

    @classmethod
    def read(cls, folder: Path, name: str) -> Run:
        try:
            verdicts = json.loads((folder / "verdicts.json").read_text())
            return cls(name, verdicts["run"], pd.read_csv(folder / "speedups.csv"),
                       pd.read_csv(folder / "growth.csv"), verdicts["verdicts"])
        except FileNotFoundError as exc:
            raise FileNotFoundError(
                f"{folder} lacks {Path(exc.filename).name}: it is not an aggregated run folder (run the "
                f"pipeline, or `snakemake --cores all reference_report` for the reference)") from None


def _finite(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def _contains(low, high, value) -> bool | None:
    if not (_finite(low) and _finite(high) and _finite(value)):
        return None
    return low <= value <= high


def _overlap(a_low, a_high, b_low, b_high) -> bool | None:
    if not all(_finite(x) for x in (a_low, a_high, b_low, b_high)):
        return None
    return a_low <= b_high and b_low <= a_high


def compare_ratios(run: pd.DataFrame, reference: pd.DataFrame, value: str = "speedup") -> pd.DataFrame:
    """Rows present in both: both values and intervals, overlap, and each containing the other."""
    key = [k for k in KEY if k in run.columns]
    both = run.merge(reference, on=key, suffixes=("_run", "_ref"))
    both["overlap"] = [_overlap(*v) for v in zip(both.ci_low_run, both.ci_high_run, both.ci_low_ref,
                                                   both.ci_high_ref)]
    both["run_contains_ref"] = [_contains(lo, hi, v) for lo, hi, v in
                                zip(both.ci_low_run, both.ci_high_run, both[f"{value}_ref"])]
    both["ref_contains_run"] = [_contains(lo, hi, v) for lo, hi, v in
                                zip(both.ci_low_ref, both.ci_high_ref, both[f"{value}_run"])]
    both["agree"] = both.overlap
    order = {w: i for i, w in enumerate(WORKLOAD_ORDER)}
    border = {b: i for i, b in enumerate(BACKEND_ORDER)}
    both = both.assign(_w=both.workload.map(order), _b=both.backend.map(border))
    return both.sort_values(["_w", "cores", "_b"] + (["baseline"] if "baseline" in both else [])).drop(
        columns=["_w", "_b"]).reset_index(drop=True)


def compare_verdicts(run: list[dict], reference: list[dict]) -> list[dict]:
    ref = {v["id"]: v for v in reference}
    return [{"id": v["id"], "run": v["verdict"], "reference": ref[v["id"]]["verdict"] if v["id"] in ref else "absent",
             "same": v["id"] in ref and ref[v["id"]]["verdict"] == v["verdict"]} for v in run]


def _fmt(value, low, high) -> str:
    if not _finite(value):
        return "n/a"
    ci = f" [{low:.2f}, {high:.2f}]" if _finite(low) and _finite(high) else " (no CI)"
    return f"{value:.2f}x{ci}"


def _yes(flag) -> str:
    return "n/a" if flag is None else ("yes" if flag else "**no**")


def render(run: Run, reference: Run) -> str:
    same_machine = run.header.get("machine_hash") == reference.header.get("machine_hash")
    same_preset = run.header.get("preset") == reference.header.get("preset")
    ratios = compare_ratios(run.speedups, reference.speedups)
    growth = compare_ratios(run.growth, reference.growth, value="growth")
    verdicts = compare_verdicts(run.verdicts, reference.verdicts)
    lines = [
        f"# {run.name} against {reference.name}",
        "",
        f"- {run.name}: {run.header.get('cpu_model')}, preset {run.header.get('preset')}, cores "
        f"{run.header.get('core_counts')}, {run.header.get('rounds')} rounds x {run.header.get('trials_per_round')} "
        f"trials; machine {'quiet' if run.header.get('quiet') else 'busy'}.",
        f"- {reference.name}: {reference.header.get('cpu_model')}, preset {reference.header.get('preset')}, cores "
        f"{reference.header.get('core_counts')}, {reference.header.get('rounds')} rounds x "
        f"{reference.header.get('trials_per_round')} trials; machine "
        f"{'quiet' if reference.header.get('quiet') else 'busy'}.",
        f"- Same machine kind: **{'yes' if same_machine else 'no'}**; same preset: "
        f"**{'yes' if same_preset else 'no'}**."
        + ("" if same_machine and same_preset else
           " The runs differ in what they measured: agreement below says how the claims travel, not whether "
           "the artifact reproduces itself."),
        "",
        "Two ratios *agree* when their 95% intervals overlap; the stricter columns say whether each "
        "interval contains the other run's value.",
        "",
        f"**Ratios:** {int((ratios.agree == True).sum())} of {len(ratios)} agree"  # noqa: E712 - None is n/a
        f"; **weak scaling (time(N)/time(1)):** {int((growth.agree == True).sum())} of {len(growth)} agree"  # noqa: E712 - None is n/a
        f"; **verdicts:** {sum(v['same'] for v in verdicts)} of {len(verdicts)} the same.",
        "",
        "## Verdicts",
        "",
        f"| claim | {run.name} | {reference.name} | same |",
        "|---|---|---|---|",
        *[f"| {v['id']} | {v['run']} | {v['reference']} | {'yes' if v['same'] else '**no**'} |" for v in verdicts],
        "",
        "## Speedups (ratio of medians)",
        "",
        f"| workload | cores | backend | over | {run.name} | {reference.name} | agree | {run.name} CI holds "
        f"{reference.name} | {reference.name} CI holds {run.name} |",
        "|---|---|---|---|---|---|---|---|---|",
        *[f"| {r.workload} | {r.cores} | {r.backend} | {r.baseline} "
          f"| {_fmt(r.speedup_run, r.ci_low_run, r.ci_high_run)} "
          f"| {_fmt(r.speedup_ref, r.ci_low_ref, r.ci_high_ref)} | {_yes(r.agree)} | {_yes(r.run_contains_ref)} "
          f"| {_yes(r.ref_contains_run)} |" for r in ratios.itertuples()],
        "",
        "## Weak scaling: time(N) / time(1)",
        "",
        f"| workload | backend | cores | {run.name} | {reference.name} | agree |",
        "|---|---|---|---|---|---|",
        *[f"| {r.workload} | {r.backend} | {r.cores} | {_fmt(r.growth_run, r.ci_low_run, r.ci_high_run)} | "
          f"{_fmt(r.growth_ref, r.ci_low_ref, r.ci_high_ref)} | {_yes(r.agree)} |" for r in growth.itertuples()],
        "",
    ]
    return "\n".join(lines)
