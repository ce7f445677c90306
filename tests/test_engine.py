"""Real cells at 1 and 2 cores on the smoke preset (the smoke DAG's records): every backend computes the
same thing, does the expected work, and stays on its pinned CPUs. Faults become failed records."""

import json
from pathlib import Path

import numpy as np
import psutil
import pytest

from conftest import parbench
from parbench.machine import read_topology
from parbench.presets import get_preset
from parbench.workloads import stateful
from parbench.workloads.base import Cell

# Why this module's slow tests are slow (bin/test --quick leaves them out).
SLOW_REASON = ("reads the session's smoke DAG (48 cell rounds with Snakemake: about 4 minutes on 2 idle cores)")

WORKLOADS = ("numerical", "stateful", "expensive_init")
BACKENDS = ("serial", "multiprocessing", "ray", "multiprocessing_tuned")
CORES = [c for c in (1, 2) if c <= read_topology().physical_cores]


@pytest.fixture(scope="module")
def records(smoke_run):
    """Every (workload, backend, cores) smoke cell: round 0 of the session's smoke DAG, whose bench
    jobs are `parbench run` with trials 2 (config/smoke.yaml). Running the 24 cells again here would
    only repeat them (about 2.5 minutes)."""
    project, _ = smoke_run
    return {(w, b, c): json.loads((project / "results" / "raw" / w / b / str(c) / "round0.json").read_text())
            for w in WORKLOADS for b in BACKENDS for c in CORES}


@pytest.mark.slow(reason=SLOW_REASON)
@pytest.mark.parametrize("workload", WORKLOADS)
@pytest.mark.parametrize("cores", CORES)
def test_all_backends_agree_and_do_the_expected_work(records, workload, cores):
    digests = {}
    for backend in BACKENDS:
        rec = records[(workload, backend, cores)]
        assert rec["status"] == "ok", rec["error"]
        assert len(rec["trials"]) == 2
        for trial in rec["trials"]:
            assert trial["work_done"] == rec["work_expected"]
            assert trial["seconds"] > 0
        digests[backend] = {t["digest"] for t in rec["trials"]}
    assert all(len(d) == 1 for d in digests.values()), digests
    assert len(set.union(*digests.values())) == 1, digests


@pytest.mark.slow(reason=SLOW_REASON)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cores", CORES)
def test_pinning_limits_every_process_of_the_tree(records, backend, cores):
    for workload in WORKLOADS:
        rec = records[(workload, backend, cores)]
        assert len(rec["pinned_cpus"]) == cores
        tree = rec["process_tree"]
        assert tree["cpus_union"] and set(tree["cpus_union"]) <= set(rec["pinned_cpus"])
        if backend != "serial":
            assert tree["processes"] > 1  # the workers were there and were read back


@pytest.mark.slow(reason=SLOW_REASON)
def test_records_carry_protocol_memory_and_environment(records):
    rec = records[("numerical", "ray", CORES[-1])]
    assert rec["protocol"]["warmups"] == 5 and rec["protocol"]["warmup_policy"] == "original"
    assert len(rec["warmup_seconds"]) == 5
    assert records[("numerical", "multiprocessing", 1)]["protocol"]["warmups"] == 0
    assert rec["backend_facts"]["object_store_in_shm"] is True and rec["backend_facts"]["mode"] == "local"
    assert rec["software"]["ray_auth_mode"] == "disabled"
    assert rec["memory"]["peak_tree_rss_bytes"] > 0
    # A round's own start-up and the harness's time around its timed steps (the report's overhead table).
    assert rec["startup_seconds"] > 0 and rec["harness_seconds"] > rec["setup_seconds"] + sum(rec["warmup_seconds"])
    assert rec["software"]["thread_variables"]["OMP_NUM_THREADS"] == "1"
    serial_b3 = records[("expensive_init", "serial", CORES[-1])]
    assert serial_b3["protocol"]["worker_threads"] == CORES[-1]  # the original's multi-threaded serial


def test_four_slot_quirk_counts_only_four_documents_per_round_above_four_cores():
    sizes = get_preset("smoke").stateful
    for cores, expected in ((2, 2 * sizes.docs_per_core), (4, 4 * sizes.docs_per_core), (8, 4 * sizes.docs_per_core)):
        cell = Cell("stateful", "multiprocessing", cores, tuple(range(cores)), sizes, 7, Path("."))
        popular, processed = stateful.pool_map_rounds(lambda f, it: list(map(f, it)), cell, seed=7)
        assert processed == expected
        assert stateful.work_expected(cell) == cores * sizes.docs_per_core
    # At 4 cores or fewer the faithful loop and the Ray routing see the same documents per slot.
    cell = Cell("stateful", "serial", 3, (0, 1, 2), sizes, 7, Path("."))
    serial = stateful.Serial(cell, {"seed": 7})
    serial.before_trial()
    loop = stateful.pool_map_rounds(lambda f, it: list(map(f, it)), cell, seed=7)
    assert stateful.summarize(serial.trial()) == stateful.summarize(loop)


def test_worker_that_raises_gives_a_failed_record(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.keras").write_bytes(b"this is not a keras file")
    np.savez(broken / "mnist_synthetic.npz", x_test=np.zeros((4, 28, 28), np.uint8))
    out = tmp_path / "r.json"
    result = parbench("run", "--workload", "expensive_init", "--backend", "multiprocessing", "--cores", 1,
                      "--preset", "smoke", "--trials", 1, "--resources", broken, "--out", out)
    assert result.returncode == 1
    rec = json.loads(out.read_text())
    assert rec["status"] == "failed" and rec["error"] and not rec["trials"]
    assert "cell failed" in result.stderr


def test_timeout_gives_a_failed_record_and_leaves_no_process(tmp_path):
    out = tmp_path / "r.json"
    result = parbench("run", "--workload", "stateful", "--backend", "multiprocessing", "--cores", 1,
                      "--preset", "paper", "--trials", 50, "--timeout", 3, "--out", out)
    assert result.returncode == 1
    rec = json.loads(out.read_text())
    assert rec["status"] == "failed" and "time limit of 3 s" in rec["error"]
    leftovers = [p for p in psutil.process_iter(["cmdline"]) if str(out) in " ".join(p.info["cmdline"] or [])]
    assert not leftovers


def test_missing_prepared_model_is_explained(tmp_path):
    out = tmp_path / "r.json"
    result = parbench("run", "--workload", "expensive_init", "--backend", "serial", "--cores", 1,
                      "--preset", "smoke", "--resources", tmp_path / "nothing", "--out", out)
    assert result.returncode == 1
    assert "parbench prepare" in json.loads(out.read_text())["error"]
