"""One real cell per backend, B1 at smoke size on the machine's largest tested core count: the quick
tier's end-to-end check (`bin/test --quick`) that every backend still runs, computes what serial
computes, does the expected work and stays on its pinned CPUs. The full tier checks every workload
and core count (test_engine, test_alternatives, test_free_threading); here each cell is one fresh
process of a few seconds (Ray's the longest: 11 s on the shared 2-core machine)."""

import json

import pytest

from conftest import parbench
from parbench import catalog
from parbench.machine import read_topology
from test_free_threading import FT_PYTHON, ft_parbench, needs_ft

CORES = min(2, read_topology().physical_cores)
PROCESS_BACKENDS = [b for b in catalog.BACKENDS if b not in catalog.FREE_THREADED_BACKENDS]


def run_cell(tmp_path, backend, runner=parbench):
    out = tmp_path / f"{backend}.json"
    result = runner("run", "--workload", "numerical", "--backend", backend, "--cores", CORES, "--preset", "smoke",
                    "--trials", 2, "--out", out)
    assert result.returncode == 0, f"{backend}: {result.stderr[-3000:]}"
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def serial_digest(tmp_path_factory):
    rec = run_cell(tmp_path_factory.mktemp("serial"), "serial")
    digests = {t["digest"] for t in rec["trials"]}
    assert len(digests) == 1 and "inconsistent" not in digests
    return digests.pop()


def check_cell(rec, serial_digest):
    assert rec["status"] == "ok", rec["error"]
    assert len(rec["trials"]) == 2
    for trial in rec["trials"]:
        assert trial["work_done"] == rec["work_expected"]
        assert trial["seconds"] > 0
        assert trial["digest"] == serial_digest
    assert len(rec["pinned_cpus"]) == CORES
    tree = rec["process_tree"]
    assert tree["cpus_union"] and set(tree["cpus_union"]) <= set(rec["pinned_cpus"])
    # The round's own start-up and harness time are recorded (the report's overhead table reads them).
    assert 0 < rec["startup_seconds"] < 600 and rec["harness_seconds"] >= sum(t["seconds"] for t in rec["trials"])


@pytest.mark.parametrize("backend", PROCESS_BACKENDS)
def test_one_cell_per_backend_runs_and_agrees_with_serial(tmp_path, serial_digest, backend):
    check_cell(run_cell(tmp_path, backend), serial_digest)


@needs_ft
@pytest.mark.parametrize("backend", catalog.FREE_THREADED_BACKENDS)
def test_one_free_threaded_cell_runs_with_the_gil_off(tmp_path, serial_digest, backend):
    assert FT_PYTHON is not None
    rec = run_cell(tmp_path, backend, runner=ft_parbench)
    check_cell(rec, serial_digest)
    assert rec["backend_facts"]["gil_enabled_after_trials"] is False
