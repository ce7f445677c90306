"""The libraries people would pick instead (joblib, concurrent_futures, dask, mpire, threads), at 1
and 2 cores on the smoke preset: each computes what serial computes, does the expected work, stays
on its pinned CPUs, and leaves no worker process and no memmap folder behind."""

import json
import os
import subprocess
import sys
import tempfile
from contextlib import suppress

import pytest
import yaml

from conftest import ROOT, parbench
from parbench import catalog
from parbench.machine import THREAD_VARIABLES, read_topology
from parbench.workloads import WORKLOADS as WORKLOAD_MODULES

# Why this module's slow tests are slow (bin/test --quick leaves them out).
SLOW_REASON = ("runs 36 real smoke cells, each a fresh process, once for the module (serial and the five "
               "alternatives, B1-B3, at 1 and 2 cores) or starts every alternative's workers in a fresh interpreter")

WORKLOADS = ("numerical", "stateful", "expensive_init")
ALTERNATIVES = catalog.ALTERNATIVES
CORES = [c for c in (1, 2) if c <= read_topology().physical_cores]
# smoke's 300x300 image (720 kB) is under joblib's 1 MiB memmapping threshold; 400x400 (1.28 MB) is over it.
SIZES = {"numerical": ("--size", "image_side=400")}


def memmap_folders() -> set[str]:
    """joblib's memmap folders, wherever its 2 GB rule put them."""
    found = set()
    for root in ("/dev/shm", tempfile.gettempdir()):
        with suppress(OSError):
            found |= {os.path.join(root, n) for n in os.listdir(root) if n.startswith("joblib_memmapping_folder")}
    return found


@pytest.fixture(scope="module")
def records(tmp_path_factory, prepared_resources):
    """serial and every alternative, per workload and core count, run once for the module."""
    out = tmp_path_factory.mktemp("alternatives")
    before = memmap_folders()
    found = {}
    for workload in WORKLOADS:
        for backend in ("serial", *ALTERNATIVES):
            for cores in CORES:
                path = out / f"{workload}-{backend}-{cores}.json"
                result = parbench("run", "--workload", workload, "--backend", backend, "--cores", cores,
                                  "--preset", "smoke", *SIZES.get(workload, ()), "--trials", 2,
                                  "--resources", prepared_resources, "--out", path)
                assert result.returncode == 0, f"{workload}/{backend}/{cores}: {result.stderr[-3000:]}"
                found[(workload, backend, cores)] = json.loads(path.read_text())
    found["memmap_folders_left"] = memmap_folders() - before
    return found


def test_every_alternative_is_listed_everywhere():
    assert set(ALTERNATIVES) <= set(catalog.BACKENDS)
    for module in WORKLOAD_MODULES.values():
        assert list(module.BACKENDS)[:4] == ["serial", "multiprocessing", "ray", "multiprocessing_tuned"]
        assert set(ALTERNATIVES) <= set(module.BACKENDS)
        for name in ALTERNATIVES:
            backend = module.BACKENDS[name]
            assert backend.name == name and backend.timed_region and backend.notes
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    enum = schema["properties"]["backends"]["items"]["enum"]
    assert enum[:4] == ["serial", "multiprocessing", "ray", "multiprocessing_tuned"]
    assert set(ALTERNATIVES) <= set(enum)


@pytest.mark.slow(reason=SLOW_REASON)
@pytest.mark.parametrize("workload", WORKLOADS)
@pytest.mark.parametrize("cores", CORES)
def test_alternatives_compute_what_serial_computes(records, workload, cores):
    serial = {t["digest"] for t in records[(workload, "serial", cores)]["trials"]}
    assert len(serial) == 1 and "inconsistent" not in serial
    for backend in ALTERNATIVES:
        rec = records[(workload, backend, cores)]
        assert rec["status"] == "ok", rec["error"]
        assert len(rec["trials"]) == 2
        for trial in rec["trials"]:
            assert trial["work_done"] == rec["work_expected"], backend
            assert trial["seconds"] > 0
        assert {t["digest"] for t in rec["trials"]} == serial, backend


@pytest.mark.slow(reason=SLOW_REASON)
@pytest.mark.parametrize("backend", ALTERNATIVES)
@pytest.mark.parametrize("cores", CORES)
def test_alternatives_stay_on_the_pinned_cpus(records, backend, cores):
    for workload in WORKLOADS:
        rec = records[(workload, backend, cores)]
        assert len(rec["pinned_cpus"]) == cores
        tree = rec["process_tree"]
        assert tree["cpus_union"] and set(tree["cpus_union"]) <= set(rec["pinned_cpus"]), workload
        if backend == "threads":
            assert tree["processes"] == 1  # threads of the driver only
        elif backend != "joblib" or cores > 1:  # joblib's n_jobs=1 runs in the driver
            assert tree["processes"] > 1, workload  # the workers were there and were read back


@pytest.mark.slow(reason=SLOW_REASON)
def test_joblib_records_its_memmap_folder_and_leaves_none(records):
    for cores in CORES:
        facts = records[("numerical", "joblib", cores)]["backend_facts"]
        if cores == 1:
            assert facts["memmap_folder"] is None
        else:
            assert facts["memmap_folder"] in ("/dev/shm", tempfile.gettempdir())
            assert facts["memmap_in_dev_shm"] == (facts["memmap_folder"] == "/dev/shm")
            assert facts["memmap_folder_created"] is True  # the image was memmapped
            assert facts["worker_thread_variables"]["OMP_NUM_THREADS"] == "1"
    assert not records["memmap_folders_left"]


TEARDOWN_SCRIPT = """
import json, sys, time
from pathlib import Path
import psutil
from parbench.harness import seed_for
from parbench.presets import get_preset
from parbench.workloads import get_workload
from parbench.workloads.base import Cell

workload, backend, cores, resources = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
module = get_workload(workload)
cell = Cell(workload, backend, cores, tuple(range(cores)), get_preset("smoke").sizes(workload),
            seed_for(workload, cores), resources)
instance = module.BACKENDS[backend](cell, module.make_inputs(cell))
instance.setup()
instance.before_trial()
instance.trial()
instance.teardown()
# Resource trackers are one per driver by design and end with it; workers must be gone now.
deadline = time.monotonic() + 10
while True:
    left = [" ".join(p.cmdline()) for p in psutil.Process().children(recursive=True)
            if "resource_tracker" not in " ".join(p.cmdline())]
    if not left or time.monotonic() > deadline:
        break
    time.sleep(0.1)
print(json.dumps(left))
"""


@pytest.mark.slow(reason=SLOW_REASON)
@pytest.mark.parametrize("workload", ["numerical", "stateful"])
@pytest.mark.parametrize("backend", ALTERNATIVES)
def test_teardown_stops_every_worker(workload, backend, prepared_resources):
    env = {**os.environ, **{name: "1" for name in THREAD_VARIABLES}}
    result = subprocess.run([sys.executable, "-c", TEARDOWN_SCRIPT, workload, backend, str(CORES[-1]),
                             str(prepared_resources)], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
