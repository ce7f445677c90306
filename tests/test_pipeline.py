"""The smoke DAG end to end in a temporary copy of the project (its run is the session's `smoke_run`)."""

import json
import re
import subprocess

import matplotlib.image
import pandas as pd
import pytest

from conftest import ROOT, copy_project, snakemake, snakemake_env
from parbench.analysis.verdicts import DRIFT_SUFFIX, SCALED_SUFFIX, VERDICTS
from parbench.machine import read_topology

# Why this module's slow tests are slow (bin/test --quick leaves them out).
SLOW_REASON = ("reads the session's smoke DAG (48 cell rounds with Snakemake: about 4 minutes on 2 idle cores) "
               "or reruns part of it")

def job_counts(dry_run_output: str) -> dict[str, int]:
    table = dry_run_output.split("Job stats:", 1)[1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


CORES = [c for c in (1, 2) if c <= read_topology().physical_cores]


@pytest.mark.slow(reason=SLOW_REASON)
def test_the_run_announces_its_plan(smoke_run):
    _, result = smoke_run
    assert re.search(r"parbench: 24 cells \(3 workloads x 4 backends x cores \[1, 2\]\) x 2 rounds of 2 trials",
                     result.stderr)
    assert re.search(r"Estimated duration \d+ (s|min) \((numerical|stateful|expensive_init) \d+", result.stderr)
    # One progress line per finished cell round, on the console.
    assert re.search(r"parbench: \d+ of 48 cell rounds done, \d+ left", result.stdout)


@pytest.mark.slow(reason=SLOW_REASON)
def test_summary_has_every_cell_and_they_agree(smoke_run):
    project, _ = smoke_run
    summary = pd.read_csv(project / "results" / "summary.csv")
    assert len(summary) == 3 * 4 * len(CORES)  # the smoke configuration times B2 per word only
    assert (summary.status == "ok").all()
    assert summary.digest_agrees.all()
    assert summary.work_complete.all()
    assert (summary.rounds == 2).all()
    timings = pd.read_csv(project / "results" / "timings.csv")
    assert len(timings) == len(summary) * 2 * 2
    assert sorted(timings["round"].unique()) == [0, 1]
    speedups = pd.read_csv(project / "results" / "speedups.csv")
    ray_vs_serial = speedups[(speedups.backend == "ray") & (speedups.baseline == "serial")]
    assert len(ray_vs_serial) == 3 * len(CORES)


@pytest.mark.slow(reason=SLOW_REASON)
def test_every_figure_is_a_valid_image(smoke_run):
    project, _ = smoke_run
    for name in ("numerical", "stateful", "expensive_init", "panel", "speedup"):
        png = project / "results" / "figures" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        height, width = matplotlib.image.imread(png).shape[:2]
        assert height > 100 and width > 100
        assert (project / "results" / "figures" / f"{name}.pdf").read_bytes()[:4] == b"%PDF"


@pytest.mark.slow(reason=SLOW_REASON)
def test_the_cost_model_checks_every_cell_and_projects_the_claims(smoke_run):
    project, _ = smoke_run
    primitives = json.loads((project / "results" / "primitives.json").read_text())
    assert primitives["preset"] == "smoke" and not primitives["skipped"]  # Ray and TensorFlow measured too
    assert any(p["key"] == "expensive_init.ray_actor_predict" for p in primitives["primitives"])
    # the smoke configuration's one primitives round (primitives_rounds: 1), right after round 0's
    # cells and before round 1's
    assert [r["round"] for r in primitives["rounds"]] == [0]
    cells = [json.loads(p.read_text()) for p in (project / "results" / "raw").glob("*/*/*/round*.json")]
    for r in primitives["rounds"]:
        assert max(c["finished_at"] for c in cells if c["round"] == r["round"]) <= r["started_at"]
        assert all(c["started_at"] >= r["finished_at"] for c in cells if c["round"] > r["round"])
    check = pd.read_csv(project / "results" / "model_check.csv")
    assert len(check) == 3 * 4 * len(CORES)
    assert check.predicted_s.notna().all() and (check.predicted_s > 0).all()  # every default backend is modelled
    projections = pd.read_csv(project / "results" / "projections.csv")
    at48 = projections[projections.cores == 48]
    assert sorted(at48.claim) == ["C1a", "C1b", "C2a", "C2b", "C3a", "C3b", "C4a", "C4b", "C4c"]
    assert at48.label.str.contains("projection").all() and at48.dominant.str.contains("at 48 cores").all()
    for name in ("numerical", "stateful", "expensive_init"):
        assert (project / "results" / "figures" / f"model_{name}.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow(reason=SLOW_REASON)
def test_every_claim_has_a_number_and_a_verdict(smoke_run):
    project, _ = smoke_run
    report = (project / "results" / "report.md").read_text()
    rows = [line for line in report.splitlines() if re.match(r"^\| C\d[a-z]? \|", line)]
    claim_ids = [c for c in re.findall(r"id: (C\d[a-z]?)", (ROOT / "paper" / "claims.yaml").read_text())]
    assert sorted(row.split("|")[1].strip() for row in rows) == sorted(claim_ids)
    for row in rows:
        cells = [c.strip() for c in row.split("|")]
        measured, verdict = cells[4], cells[5]
        assert re.search(r"\d+\.\d+x", measured), row
        assert verdict.strip("*") in VERDICTS, row
    # The 48-core claims cannot be tested on a small machine, and the report says why.
    if max(CORES) < 48:
        assert "not testable here" in report and "at most" in report


@pytest.mark.slow(reason=SLOW_REASON)
def test_verdict_files_and_the_report_table_hold_the_same_rows(smoke_run):
    project, _ = smoke_run
    csv = pd.read_csv(project / "results" / "verdicts.csv")
    data = json.loads((project / "results" / "verdicts.json").read_text())
    assert list(csv.id) == [v["id"] for v in data["verdicts"]]
    assert data["run"]["preset"] == "smoke" and data["run"]["rounds"] == 2
    report = (project / "results" / "report.md").read_text()
    table = {cells[1]: cells for cells in ([c.strip() for c in line.split("|")] for line in report.splitlines()
                                           if re.match(rf"^\| C\d[a-z]?({SCALED_SUFFIX}|{DRIFT_SUFFIX})? \|", line))}
    assert sorted(table) == sorted(csv.id)
    for row in csv.itertuples():
        assert table[row.id][5] == f"**{row.verdict}**"
        assert table[row.id][4] == row.measured


@pytest.mark.slow(reason=SLOW_REASON)
def test_the_run_is_compared_with_the_reference(smoke_run):
    project, _ = smoke_run
    compare = (project / "results" / "compare.md").read_text()
    assert "against results/reference" in compare
    # The reference is a paper-size run: a smoke run is a different preset, and compare says so.
    assert "same preset: **no**" in compare and "## Verdicts" in compare


@pytest.mark.slow(reason=SLOW_REASON)
def test_rerun_after_a_plot_change_redoes_only_figures_and_report(smoke_run):
    project, _ = smoke_run
    assert "Nothing to be done" in snakemake(project, "-n", "--configfile", "config/smoke.yaml").stdout
    plotting = project / "src" / "parbench" / "figures.py"
    plotting.write_text(plotting.read_text() + "\n# an edit to the plotting script\n")  # touch alone is not a change
    counts = job_counts(snakemake(project, "-n", "--configfile", "config/smoke.yaml").stdout)
    assert set(counts) == {"figures", "report", "check", "all", "total"}, counts


@pytest.mark.slow(reason=SLOW_REASON)
def test_a_new_core_count_reruns_only_its_cells(smoke_run):
    project, _ = smoke_run
    out = snakemake(project, "-n", "--configfile", "config/smoke.yaml", "--config", "cores=[1]").stdout
    counts = job_counts(out)
    assert "bench" not in counts and "calibrate" not in counts, counts


@pytest.mark.parametrize("override, message", [
    ("backends=[serial,dask_on_mars]", "backends.1: 'dask_on_mars' is not one of"),
    ("trials=0", "trials: 0 is less than the minimum of 1"),
    ("cores=[4096]", "exceed the"),
    ("cores=[-1]", "cores:"),
    ("preset=huge", "preset: 'huge' is not one of"),
    ("primitives_rounds=4", "primitives_rounds is 4, but"),
])
def test_config_errors_stop_before_any_job(tmp_path, override, message):
    project = copy_project(tmp_path)
    result = snakemake(project, "-n", "--config", override, timeout=120)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "config error" in output and message in output
    assert "Job stats" not in output


def test_reference_report_renders_committed_records_without_benchmarks(tmp_path):
    project = copy_project(tmp_path)
    dry = snakemake(project, "-n", "reference_report", timeout=120)
    assert dry.returncode == 0, dry.stderr[-2000:]
    expected = {"aggregate", "verdicts", "figures", "report", "reference_report", "total"}
    if (project / "paper" / "reference" / "primitives.json").exists():
        expected.add("model")  # the model check of the reference records, from their committed primitives
    assert set(job_counts(dry.stdout)) == expected
    real = snakemake(project, "reference_report", timeout=300)
    assert real.returncode == 0, real.stderr[-3000:]
    report = (project / "results" / "reference" / "report.md").read_text()
    assert "preset **paper**" in report and "| C1a |" in report
    assert not (project / "results" / "raw").exists()
    if (project / "paper" / "reference" / "raw" / "stateful_per_document").exists():  # B2 timed both ways
        summary = pd.read_csv(project / "results" / "reference" / "summary.csv")
        b2 = summary[summary.workload.isin(["stateful", "stateful_per_document"])]
        assert (b2.groupby("cores").digest.nunique() == 1).all()  # the same documents either way
        assert "B2 measured both ways in this run" in report
        assert (project / "results" / "reference" / "figures" / "stateful_per_document.png").exists()
    if "model" in expected:
        check = pd.read_csv(project / "results" / "reference" / "model_check.csv")
        summary = pd.read_csv(project / "results" / "reference" / "summary.csv")
        inside = check[check["sample"] == "in-sample"]
        assert len(inside) == len(summary)
        if (project / "paper" / "oversubscribed" / "primitives.json").exists():  # checked apart, never pooled
            outside = check[check["sample"] != "in-sample"]
            assert len(outside) and (outside.cores > outside.cpus).all()
        assert (project / "results" / "reference" / "figures" / "model_numerical.png").exists()
    # The README's numbers about the reference are generated from it and must still match it.
    readme = subprocess.run(["parbench", "readme", "--check", "--tables", "results/reference",
                             "--readme", str(ROOT / "README.md")], cwd=project,
                            capture_output=True, text=True, timeout=120, env=snakemake_env())
    assert readme.returncode == 0, readme.stderr + readme.stdout
    section = (ROOT / "README.md").read_text().split("reference:begin")[1]
    verdicts = pd.read_csv(project / "results" / "reference" / "verdicts.csv")
    assert all(f"| {v.id} | {v.verdict} |" in section for v in verdicts.itertuples())


def test_every_timing_setting_reaches_the_command_it_configures(tmp_path):
    """config/README.md's settings, each seen in the shell command of the job it configures."""
    project = copy_project(tmp_path)
    dry = snakemake(project, "-n", "-p", "--configfile", "config/smoke.yaml", "--config", "calibration_seconds=0.3",
                    "calibration_repeats=4",
                    "run_timeout_s=77", "primitives_repeats=4", "seed=5", "trials=3", "rounds=1", "warmup=2",
                    timeout=120)
    assert dry.returncode == 0, dry.stderr[-2000:]
    prefix = "Shell command: "
    commands = [line.removeprefix(prefix) for line in (dry.stdout + dry.stderr).splitlines()
                if line.removeprefix(prefix).startswith("parbench ")]
    bench = [c for c in commands if c.startswith("parbench run ")]
    assert bench and all("--trials 3" in c and "--timeout 77" in c and "--warmup 2" in c and "--round 0" in c
                         for c in bench)
    assert all("--seconds 0.3 --repeats 4" in c for c in commands if c.startswith("parbench calibrate "))
    assert any("--repeats 4" in c for c in commands if c.startswith("parbench primitives "))
    assert any("--seed 5" in c for c in commands if c.startswith("parbench aggregate "))
