"""compare: one run against another, agreeing and disagreeing ratios and verdicts."""

import json

import pandas as pd

from conftest import parbench
from parbench.analysis.compare import Run, compare_ratios, compare_verdicts, render

SPEEDUP_COLUMNS = ["workload", "cores", "backend", "baseline", "speedup", "ci_low", "ci_high", "ci_method"]
GROWTH_COLUMNS = ["workload", "backend", "cores", "growth", "ci_low", "ci_high", "ci_method"]


def write_run(folder, speedups, verdicts, header=None):
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(speedups, columns=SPEEDUP_COLUMNS).to_csv(folder / "speedups.csv", index=False)
    pd.DataFrame([["numerical", "ray", 2, 1.05, 0.95, 1.10, "h"]], columns=GROWTH_COLUMNS).to_csv(
        folder / "growth.csv", index=False)
    run = {"preset": "paper", "machine_hash": "m1", "cpu_model": "cpu", "core_counts": [1, 2], "rounds": 3,
           "trials_per_round": [2], "quiet": True, **(header or {})}
    (folder / "verdicts.json").write_text(json.dumps({"run": run, "verdicts": verdicts}))
    return folder


def verdict(claim_id, text):
    return {"id": claim_id, "verdict": text}


def test_overlapping_intervals_agree_and_disjoint_ones_do_not():
    run = pd.DataFrame([["numerical", 2, "ray", "serial", 1.6, 1.5, 1.7, "h"],
                        ["stateful", 2, "ray", "multiprocessing", 5.4, 4.7, 6.1, "h"]], columns=SPEEDUP_COLUMNS)
    ref = pd.DataFrame([["numerical", 2, "ray", "serial", 1.65, 1.55, 1.75, "h"],
                        ["stateful", 2, "ray", "multiprocessing", 8.9, 8.4, 9.6, "h"]], columns=SPEEDUP_COLUMNS)
    both = compare_ratios(run, ref)
    numerical, stateful = both.iloc[0], both.iloc[1]
    assert numerical.agree and numerical.run_contains_ref and numerical.ref_contains_run
    assert not stateful.agree and not stateful.run_contains_ref


def test_a_missing_interval_is_not_counted_as_agreement():
    run = pd.DataFrame([["numerical", 2, "ray", "serial", 1.6, float("nan"), float("nan"), "none"]],
                       columns=SPEEDUP_COLUMNS)
    ref = pd.DataFrame([["numerical", 2, "ray", "serial", 1.6, 1.5, 1.7, "h"]], columns=SPEEDUP_COLUMNS)
    assert compare_ratios(run, ref).iloc[0].agree is None


def test_verdicts_same_or_different():
    rows = compare_verdicts([verdict("C5", "reproduced"), verdict("C2c", "not reproduced")],
                            [verdict("C5", "reproduced"), verdict("C2c", "reproduced")])
    assert [r["same"] for r in rows] == [True, False]


def test_the_rendered_comparison_names_disagreements_and_other_machines(tmp_path):
    run = write_run(tmp_path / "run", [["stateful", 2, "ray", "multiprocessing", 5.4, 4.7, 6.1, "h"]],
                    [verdict("C5", "not reproduced")], {"machine_hash": "other"})
    ref = write_run(tmp_path / "ref", [["stateful", 2, "ray", "multiprocessing", 8.9, 8.4, 9.6, "h"]],
                    [verdict("C5", "reproduced")])
    text = render(Run.read(run, "this run"), Run.read(ref, "the reference"))
    assert "Same machine kind: **no**" in text and "how the claims travel" in text
    assert "**Ratios:** 0 of 1 agree" in text and "**verdicts:** 0 of 1 the same" in text
    assert "| C5 | not reproduced | reproduced | **no** |" in text


def test_the_cli_compares_two_folders_and_explains_a_wrong_one(tmp_path):
    rows = [["numerical", 2, "ray", "serial", 1.6, 1.5, 1.7, "h"]]
    run = write_run(tmp_path / "run", rows, [verdict("C5", "reproduced")])
    ref = write_run(tmp_path / "ref", rows, [verdict("C5", "reproduced")])
    out = tmp_path / "compare.md"
    result = parbench("compare", run, ref, "--out", out)
    assert result.returncode == 0, result.stderr
    assert "**Ratios:** 1 of 1 agree" in out.read_text() and "Same machine kind: **yes**" in out.read_text()
    bad = parbench("compare", run, tmp_path / "nowhere")
    assert bad.returncode == 2 and "not an aggregated run folder" in bad.stderr
