"""A busy machine is noticed: a busy loop pinned to one of the run's CPUs makes the verdicts that rest
on that core count inconclusive, and the report's header says the machine was busy (slow, ~2 min)."""

import json
import re
import subprocess
import sys

import pandas as pd
import pytest

from conftest import RUN_LIMIT_S, copy_project, snakemake_env
from parbench.analysis.verdicts import INCONCLUSIVE
from parbench.machine import choose_cpus, read_topology

# Why this module's slow tests are slow (bin/test --quick leaves them out).
SLOW_REASON = ("runs a slice of the smoke DAG with Snakemake beside a busy loop (about 2 minutes)")

pytestmark = pytest.mark.slow(reason=SLOW_REASON)

SLICE = ("--configfile", "config/smoke.yaml", "--config", "rounds=1", "workloads=[stateful]",
         "document_generation=per-word", "backends=[serial,multiprocessing,ray]", "cores=[1,2]")


@pytest.fixture(scope="module")
def busy_run(tmp_path_factory):
    if read_topology().physical_cores < 2:
        pytest.skip("needs 2 physical cores: one for the 1-core cells, one to keep busy")
    busy_cpu = choose_cpus(2)[1]  # used by the 2-core cells only
    project = copy_project(tmp_path_factory.mktemp("busy"))
    spinner = subprocess.Popen([sys.executable, "-c", f"import os; os.sched_setaffinity(0, [{busy_cpu}])\n"
                                                      "while True: pass"])
    try:
        result = subprocess.run(["snakemake", *SLICE], cwd=project, capture_output=True, text=True,
                                timeout=RUN_LIMIT_S, env=snakemake_env())
    finally:
        spinner.kill()
        spinner.wait()
    assert result.returncode == 0, result.stderr[-4000:]
    return project, busy_cpu


def test_the_verdicts_on_the_busy_core_count_are_inconclusive(busy_run):
    project, _ = busy_run
    data = json.loads((project / "results" / "verdicts.json").read_text())
    assert data["run"]["quiet"] is False and "2" in data["run"]["busy_cores"]
    assert "1" not in data["run"]["busy_cores"]  # the 1-core cells ran on the other CPU
    verdicts = {v["id"]: v for v in data["verdicts"]}
    # C5 (time(2) / time(1)) and C2c (multiprocessing vs serial at 1 and 2 cores) rest on 2 cores.
    for claim in ("C5", "C2c"):
        assert verdicts[claim]["verdict"] == INCONCLUSIVE, verdicts[claim]
        assert "busy" in verdicts[claim]["explanation"]
    assert verdicts["C2c"]["value"] is not None  # the numbers are still shown


def test_the_header_the_cells_and_the_checks_say_so(busy_run):
    project, _ = busy_run
    report = (project / "results" / "report.md").read_text()
    assert re.search(r"\*\*The machine was busy .*at 2 cores", report)
    summary = pd.read_csv(project / "results" / "summary.csv")
    at_two = summary[summary.cores == 2]
    assert (at_two.foreign_load_max > 0.5).all()  # a spinning loop keeps its CPU nearly 100% busy
    points = pd.read_csv(project / "results" / "calibration_points.csv")
    assert (points[points.cores == 2].foreign_load_max > 0.5).all()
