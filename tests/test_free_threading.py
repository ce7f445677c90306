"""The free_threading backend: threads on a free-threaded CPython (PEP 703).

Unit tests run anywhere. The cells themselves need the free-threaded interpreter: the one named by
$PARBENCH_FREE_THREADING_PYTHON (the container's) or the project's .cache/free-threading, which
`bin/build-free-threading` builds (.ci/run does); without one they skip, saying so.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from conftest import ROOT, parbench
from parbench import plan
from parbench.analysis.aggregate import summary_frame
from parbench.catalog import FREE_THREADED_BACKENDS
from parbench.harness import RunOptions, run_cell, seed_for
from parbench.machine import read_topology
from parbench.presets import get_preset
from parbench.records import NOT_APPLICABLE, Protocol, Record, Trial
from parbench.report import FT_COMPARED, _free_threading, _warnings
from parbench.workloads import expensive_init
from parbench.workloads.base import Cell

# Why this module's slow tests are slow (bin/test --quick leaves them out).
SLOW_REASON = ("runs real cells on the free-threaded interpreter (B1-B3 at 1 and 2 cores, or one cell beside a "
               "C extension built for it)")

CORES = [c for c in (1, 2) if c <= read_topology().physical_cores]


def free_threaded_python() -> Path | None:
    container = os.environ.get(plan.FREE_THREADING_ENV)
    if container and Path(container).is_file():
        return Path(container)
    if plan.free_threading_stamp(ROOT / plan.FREE_THREADING_CACHE).is_file():
        return ROOT / plan.FREE_THREADING_CACHE / "venv" / "bin" / "python"
    return None


FT_PYTHON = free_threaded_python()
needs_ft = pytest.mark.skipif(
    FT_PYTHON is None,
    reason="no free-threaded interpreter: run bin/build-free-threading (builds .cache/free-threading, a few "
           "minutes) or set PARBENCH_FREE_THREADING_PYTHON",
)


def ft_parbench(*args, env=None, timeout=600):
    return subprocess.run([str(FT_PYTHON), "-m", "parbench.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


# ------------------------------------------------------------------------------- anywhere


def test_the_free_threaded_lock_pins_the_main_locks_versions():
    """Every backend runs the same numpy and scipy: requirements-ft.in pins requirements.lock's versions."""
    main = dict(re.findall(r"^([a-z0-9_.-]+)==(\S+)", (ROOT / "requirements.lock").read_text(), re.M))
    pins = dict(re.findall(r"^([a-z0-9_.-]+)==(\S+)", (ROOT / "requirements-ft.in").read_text(), re.M))
    locked = dict(re.findall(r"^([a-z0-9_.-]+)==(\S+)", (ROOT / "requirements-ft.lock").read_text(), re.M))
    assert set(pins) == {"numpy", "scipy", "psutil", "threadpoolctl"}
    assert all(main[name] == version for name, version in pins.items())
    assert locked == pins  # nothing else: no pandas, Ray or TensorFlow


def test_the_cell_runner_imports_no_analysis_ray_or_tensorflow():
    code = ("import sys, parbench.cli, parbench.harness; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'seaborn', 'matplotlib', 'ray', "
            "'tensorflow', 'keras', 'joblib', 'dask', 'mpire'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_backend_refuses_an_interpreter_with_the_gil(tmp_path):
    result = parbench("run", "--workload", "numerical", "--backend", "free_threading", "--cores", 1,
                      "--preset", "smoke", "--out", tmp_path / "r.json")
    assert result.returncode == 2
    assert "runs only on a free-threaded CPython build" in result.stderr and "bin/build-free-threading" in result.stderr
    assert not (tmp_path / "r.json").exists()


def test_b3_is_not_applicable_without_tensorflow(monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorflow" else real(name, *a))
    cell = Cell("expensive_init", "free_threading", 1, (0,), get_preset("smoke").sizes("expensive_init"),
                seed_for("expensive_init", 1), tmp_path / "no-model-needed")
    record = run_cell(cell, RunOptions(preset="smoke", trials=2, warmup=None), machine={}, log=lambda m: None)
    assert record.status == NOT_APPLICABLE and not record.trials
    assert "no tensorflow-cpu wheel" in record.error
    monkeypatch.undo()
    assert expensive_init.FreeThreading.unavailable() is None  # the main interpreter has TensorFlow


def test_plan_uses_the_configured_the_containers_or_the_cache_else_skips(tmp_path):
    def never():
        raise AssertionError("the prerequisites are checked only when a build is needed")

    with pytest.raises(plan.PlanError, match="free_threading_python: /nowhere/python does not exist"):
        plan.plan_free_threading("/nowhere/python", {}, never, tmp_path)
    python = tmp_path / "python"
    python.write_text("")
    assert plan.plan_free_threading(str(python), {}, never, tmp_path) == plan.FreeThreadingPlan(str(python))
    env = {plan.FREE_THREADING_ENV: str(python)}
    assert plan.plan_free_threading(None, env, never, tmp_path) == plan.FreeThreadingPlan(str(python))

    skipped = plan.plan_free_threading(None, {}, lambda: "libssl-dev libffi-dev", tmp_path)
    assert skipped.python is None
    assert "skipped" in skipped.message and "sudo apt-get install libssl-dev libffi-dev" in skipped.message
    build = plan.plan_free_threading(None, {}, lambda: "", tmp_path)
    assert build.build and build.python == str(tmp_path / "venv" / "bin" / "python") and "built once" in build.message
    plan.free_threading_stamp(tmp_path).parent.mkdir(parents=True)
    plan.free_threading_stamp(tmp_path).write_text("done")
    built = plan.plan_free_threading(None, {}, never, tmp_path)
    assert built.build and built.message is None  # the rule only checks that it is up to date


def test_the_build_script_names_missing_packages(tmp_path):
    """With no compiler on PATH, --check prints the Debian packages to install and exits 3."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("bash", "dirname", "nproc", "cat", "python3", "xz"):
        found = shutil.which(tool)
        if found:
            (bindir / tool).symlink_to(found)
    result = subprocess.run([str(ROOT / "bin" / "build-free-threading"), "--check"], capture_output=True,
                            text=True, env={"PATH": str(bindir)})
    assert result.returncode == 3
    assert result.stdout.split() == ["gcc", "make", "binutils"]
    assert "sudo apt-get install gcc make binutils" in result.stderr


def record(backend, status="ok", digest="abc", gil_after_trials=False, free_threaded=False, error=None, cores=1):
    facts = {"gil_enabled_after_trials": gil_after_trials} if backend in FREE_THREADED_BACKENDS else None
    return Record(
        workload="stateful", backend=backend, cores=cores, preset="smoke", sizes={}, status=status, error=error,
        protocol=Protocol("t", "s", 0, "original", None, 1, "pinned"), setup_seconds=0.0, teardown_seconds=0.0,
        warmup_seconds=[], before_trial_seconds=[],
        trials=[Trial(i, 0.1 * (1 + (backend == "free_threading")), 1, digest) for i in range(3)]
        if status == "ok" else [],
        work_expected=1, memory=None, pinned_cpus=[0], process_tree={}, backend_facts=facts, machine={},
        software={"python": "3.11.7", "interpreter": {
            "version": "3.13.15" if free_threaded else "3.11.7", "free_threaded_build": free_threaded,
            "config_args": "'--prefix=/x' '--disable-gil' '--with-ensurepip=no'" if free_threaded else ""}},
        config_hash="c", machine_hash="m", started_at="2026-01-01T00:00:00+00:00",
        finished_at="2026-01-01T00:00:01+00:00")


def test_a_not_applicable_cell_is_neither_a_failure_nor_a_gap(tmp_path):
    serial = record("serial")
    ft = record("free_threading", free_threaded=True)
    b3 = replace(record("free_threading", status=NOT_APPLICABLE, error="B3 needs TensorFlow", free_threaded=True),
                 workload="expensive_init")
    summary = summary_frame([serial, ft, b3])
    row = summary.set_index(["workload", "backend"]).loc[("expensive_init", "free_threading")]
    assert row.status == NOT_APPLICABLE and row.error == "B3 needs TensorFlow" and pd.isna(row.digest_agrees)
    ok = summary.set_index(["workload", "backend"]).loc[("stateful", "free_threading")]
    assert ok.gil_off is True and ok.python == "3.13.15 free-threaded" and ok.digest_agrees
    assert pd.isna(summary.set_index(["workload", "backend"]).loc[("stateful", "serial")].gil_off)
    assert _warnings(summary, pd.DataFrame(columns=["cores", "ceiling", "efficiency"])) == []

    summary.to_csv(tmp_path / "summary.csv", index=False)
    result = parbench("check", "--summary", tmp_path / "summary.csv", "--out", tmp_path / "ok.txt")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ok.txt").read_text() == "all 2 cells succeeded (1 more not applicable, the report says why)\n"

    speedups = pd.DataFrame([{"workload": "stateful", "cores": 1, "backend": "free_threading", "baseline": "serial",
                              "speedup": 0.5, "ci_low": 0.4, "ci_high": 0.625}])
    section = _free_threading(summary, speedups, [serial, ft, b3])
    assert section["ran"] and section["ft"]["version"] == "3.13.15" and section["ft"]["free_threaded"]
    assert section["ft"]["configure"] == "--disable-gil --with-ensurepip=no" and section["main"]["version"] == "3.11.7"
    row = next(r for r in section["rows"] if r["workload"] == "stateful")
    seconds = dict(zip(FT_COMPARED, row["seconds"]))
    assert seconds == {"serial": "0.100", "threads": "not run", "free_threading": "0.200", "ray": "not run",
                       "multiprocessing_tuned": "not run"}
    assert row["gil"] == "off" and row["speedup"] == "0.50x [0.40, 0.62]"
    assert section["costs"] == [{"workload": "stateful", "ratio": "2.00", "ci": " [1.60, 2.50]", "percent": "+100%"}]
    assert section["not_applicable"] == ["expensive_init: B3 needs TensorFlow"]
    b3 = next(r for r in section["rows"] if r["workload"] == "expensive_init")
    assert dict(zip(FT_COMPARED, b3["seconds"]))["free_threading"] == "not applicable" and b3["gil"] == "n/a"


def test_a_gil_reading_of_on_is_reported():
    serial = record("serial")
    ft = record("free_threading", gil_after_trials=True, free_threaded=True)
    summary = summary_frame([serial, ft])
    assert summary.set_index("backend").loc["free_threading"].gil_off is False
    assert _free_threading(summary, pd.DataFrame(columns=["workload", "cores", "backend", "baseline"]),
                           [serial, ft])["rows"][0]["gil"] == "ON"


# ------------------------------------------------------------------- on the free-threaded interpreter


@pytest.fixture(scope="module")
def ft_records(tmp_path_factory, prepared_resources):
    """serial (main interpreter) and free_threading (free-threaded one), B1-B3 at 1 and 2 cores, smoke."""
    if FT_PYTHON is None:
        pytest.skip("no free-threaded interpreter (see needs_ft)")
    out = tmp_path_factory.mktemp("free_threading")
    found = {}
    for workload in ("numerical", "stateful", "expensive_init"):
        for cores in CORES:
            for backend, run in (("serial", parbench), ("free_threading", ft_parbench)):
                if workload == "expensive_init" and backend == "serial":
                    continue
                path = out / f"{workload}-{backend}-{cores}.json"
                result = run("run", "--workload", workload, "--backend", backend, "--cores", cores, "--preset",
                             "smoke", "--trials", 2, "--resources", prepared_resources, "--out", path)
                assert result.returncode == 0, f"{workload}/{backend}/{cores}: {result.stderr[-3000:]}"
                found[(workload, backend, cores)] = (json.loads(path.read_text()), result.stderr)
    return found


@needs_ft
@pytest.mark.slow(reason=SLOW_REASON)
@pytest.mark.parametrize("workload", ["numerical", "stateful"])
@pytest.mark.parametrize("cores", CORES)
def test_free_threading_computes_what_serial_computes_with_the_gil_off(ft_records, workload, cores):
    serial, _ = ft_records[(workload, "serial", cores)]
    rec, _ = ft_records[(workload, "free_threading", cores)]
    assert rec["status"] == "ok", rec["error"]
    assert {t["digest"] for t in rec["trials"]} == {t["digest"] for t in serial["trials"]}
    assert all(t["work_done"] == rec["work_expected"] for t in rec["trials"])
    interpreter = rec["software"]["interpreter"]
    assert interpreter["free_threaded_build"] is True and interpreter["version"].startswith("3.13")
    assert "--disable-gil" in interpreter["config_args"]
    facts = rec["backend_facts"]
    assert [c["after"] for c in facts["gil_checks"]] == ["imports", "setup", "trials"]
    assert facts["gil_enabled_after_imports"] is False and facts["gil_enabled_after_trials"] is False
    assert rec["process_tree"]["processes"] == 1 and len(rec["pinned_cpus"]) == cores  # threads of the pinned driver
    assert serial["software"]["interpreter"]["free_threaded_build"] is False


@needs_ft
@pytest.mark.slow(reason=SLOW_REASON)
@pytest.mark.parametrize("cores", CORES)
def test_b3_free_threading_is_not_applicable(ft_records, cores):
    rec, stderr = ft_records[("expensive_init", "free_threading", cores)]
    assert rec["status"] == NOT_APPLICABLE and rec["trials"] == []
    assert "no tensorflow-cpu wheel for free-threaded CPython" in rec["error"]
    assert "not applicable" in stderr


GIL_MODULE = r"""
#include <Python.h>
/* Single-phase init and no Py_mod_gil: loading it turns the GIL on in a free-threaded interpreter. */
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "needs_the_gil", NULL, -1, NULL};
PyMODINIT_FUNC PyInit_needs_the_gil(void) { return PyModule_Create(&def); }
"""


@pytest.fixture(scope="module")
def gil_module(tmp_path_factory):
    """A C extension that does not declare that it can run without the GIL, built for the free-threaded build."""
    if FT_PYTHON is None:
        pytest.skip("no free-threaded interpreter (see needs_ft)")
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build the GIL-requiring test extension")
    folder = tmp_path_factory.mktemp("gil_module")
    (folder / "needs_the_gil.c").write_text(GIL_MODULE)
    info = subprocess.run([str(FT_PYTHON), "-c", "import sysconfig as s; print(s.get_paths()['include']); "
                           "print(s.get_config_var('EXT_SUFFIX'))"], capture_output=True, text=True, check=True)
    include, suffix = info.stdout.split()
    subprocess.run(["gcc", "-shared", "-fPIC", f"-I{include}", str(folder / "needs_the_gil.c"), "-o",
                    str(folder / f"needs_the_gil{suffix}")], check=True)
    return folder


INJECTED_CELL = """
import json, sys
from pathlib import Path
from parbench.harness import RunOptions, run_cell, seed_for
from parbench.presets import get_preset
from parbench.workloads import numerical
from parbench.workloads.base import Cell

class ImportsAModuleThatNeedsTheGil(numerical.FreeThreading):
    def trial(self):
        import needs_the_gil  # noqa: F401 - the import itself is the test
        return super().trial()

numerical.BACKENDS["free_threading"] = ImportsAModuleThatNeedsTheGil
cell = Cell("numerical", "free_threading", 1, (0,), get_preset("smoke").sizes("numerical"), seed_for("numerical", 1),
            Path("."))
record = run_cell(cell, RunOptions(preset="smoke", trials=1, warmup=None), machine={}, log=lambda m: None)
print(json.dumps({"status": record.status, "error": record.error, "trials": len(record.trials)}))
"""


@needs_ft
@pytest.mark.slow(reason=SLOW_REASON)
def test_a_module_that_turns_the_gil_on_during_a_cell_fails_it_by_name(gil_module):
    env = {**os.environ, "PYTHONPATH": str(gil_module)}
    out = subprocess.run([str(FT_PYTHON), "-c", INJECTED_CELL], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] == "failed" and result["trials"] == 1
    assert "GilEnabledError: the GIL was on after the timed trials: module 'needs_the_gil' re-enabled it" \
        in result["error"]


@needs_ft
@pytest.mark.slow(reason=SLOW_REASON)
def test_a_module_loaded_before_the_cell_runner_is_found_and_named(gil_module, tmp_path):
    """Loaded at start-up (a sitecustomize), before the watch could see CPython's warning: found by probing."""
    (tmp_path / "sitecustomize.py").write_text("import needs_the_gil\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{gil_module}", "PYTHONWARNINGS": "ignore"}
    out = tmp_path / "r.json"
    result = ft_parbench("run", "--workload", "stateful", "--backend", "free_threading", "--cores", 1, "--preset",
                         "smoke", "--trials", 1, "--out", out, env=env)
    assert result.returncode == 1, result.stderr[-3000:]
    rec = json.loads(out.read_text())
    assert rec["status"] == "failed" and rec["trials"] == []
    assert ("the GIL was on after the cell runner's imports: importing module 'needs_the_gil' alone turns the GIL on"
            in rec["error"])
    assert rec["software"]["interpreter"]["gil_enabled"] is True

