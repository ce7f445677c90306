"""Faults injected for real: nothing finished is lost and the message is the one a user needs."""

import json
import os
import shutil
import signal
import subprocess
import time

import psutil
import pytest

from conftest import BIN, copy_project, parbench, snakemake_env

# Why this module's slow tests are slow (bin/test --quick leaves them out).
SLOW_REASON = ("interrupts and resumes a Snakemake run of real cells")

def start(*args):
    return subprocess.Popen([str(BIN / "parbench"), *map(str, args)], stderr=subprocess.PIPE, text=True)


def wait_for_line(proc, needle, timeout=120):
    """Read the cell's progress log until `needle` appears."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if needle in line:
            return seen
    raise AssertionError(f"{needle!r} never appeared:\n{''.join(seen[-20:])}")


def test_killing_a_pool_worker_mid_trial_gives_a_failed_record(tmp_path):
    out = tmp_path / "r.json"
    proc = start("run", "--workload", "numerical", "--backend", "multiprocessing", "--cores", 1,
                 "--preset", "paper", "--trials", 200, "--out", out)
    wait_for_line(proc, "trial 2/200")
    victim = psutil.Process(proc.pid).children()[0]
    victim.kill()
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 1
    rec = json.loads(out.read_text())
    assert rec["status"] == "failed" and "pool worker died" in rec["error"]
    assert len(rec["trials"]) >= 2  # the trials finished before the fault are kept


def test_sigterm_leaves_no_process_and_no_record(tmp_path):
    out = tmp_path / "r.json"
    proc = start("run", "--workload", "numerical", "--backend", "ray", "--cores", 1, "--preset", "smoke",
                 "--trials", 100000, "--out", out)
    wait_for_line(proc, "trial 1/")
    tree = psutil.Process(proc.pid).children(recursive=True)
    assert tree  # raylet, GCS and workers
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "no record written" in rest
    assert not out.exists() and not list(tmp_path.glob(".r.json.*"))
    gone, alive = psutil.wait_procs(tree, timeout=30)
    assert not alive, [p.info for p in alive]


def test_corrupted_record_is_named_by_aggregate(tmp_path):
    good = tmp_path / "good.json"
    assert parbench("run", "--workload", "numerical", "--backend", "serial", "--cores", 1, "--preset", "smoke",
                    "--trials", 3, "--out", good).returncode == 0
    bad = tmp_path / "bad.json"
    bad.write_text(good.read_text()[: len(good.read_text()) // 2])
    result = parbench("aggregate", "--records", good, bad, "--out-dir", tmp_path / "tables")
    assert result.returncode == 2
    assert "bad.json: not valid JSON" in result.stderr and "rerun" in result.stderr
    assert "Traceback" not in result.stderr


def _unshare_works() -> bool:
    if not shutil.which("unshare") or os.geteuid() != 0:
        return False
    return subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _unshare_works(), reason="needs root and mount namespaces (unshare)")
def test_tiny_dev_shm_runs_every_b1_backend_and_flags_what_left_it(tmp_path):
    """A 1 MiB tmpfs on /dev/shm in a private mount namespace, like Docker's small default: the
    8 MB image fits nowhere in it, and every cell still completes with serial's digest."""
    from parbench.analysis.aggregate import dev_shm_fallback

    def run_with_tiny_shm(backend):
        out = tmp_path / f"{backend}.json"
        command = (f"mount -t tmpfs -o size=1m tmpfs /dev/shm && exec {BIN / 'parbench'} run "
                   f"--workload numerical --backend {backend} --cores 1 --preset smoke "
                   f"--size image_side=1000 --trials 3 --warmup 0 --out {out}")
        result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", command],
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"{backend}: {result.stderr[-2000:]}"
        rec = json.loads(out.read_text())
        assert rec["status"] == "ok", rec["error"]
        return rec, {t["digest"] for t in rec["trials"]}

    _, serial_digest = run_with_tiny_shm("serial")
    for backend in ("multiprocessing_tuned", "concurrent_futures"):
        rec, digest = run_with_tiny_shm(backend)
        assert digest == serial_digest, backend
        shared = rec["backend_facts"]["shared_memory"]
        assert shared["mapping"].startswith("/dev/zero") and shared["limited_by_dev_shm"] is False
        assert dev_shm_fallback(rec["backend_facts"]) == ""
        assert any("anonymous shared mapping" in n for n in rec["protocol"]["notes"])

    rec, digest = run_with_tiny_shm("mpire")  # multiprocessing's heap arena moves to the temp folder
    assert digest == serial_digest
    assert rec["backend_facts"]["shared_memory"]["in_dev_shm"] is False
    assert "not in /dev/shm" in dev_shm_fallback(rec["backend_facts"])

    rec, _ = run_with_tiny_shm("ray")
    assert rec["backend_facts"]["object_store_in_shm"] is False
    assert "on disk" in dev_shm_fallback(rec["backend_facts"])


@pytest.mark.slow(reason=SLOW_REASON)
def test_interrupted_pipeline_resumes_without_losing_finished_cells(tmp_path):
    project = copy_project(tmp_path)
    config = project / "config" / "tiny.yaml"
    config.write_text("preset: smoke\nworkloads: [numerical]\nbackends: [serial, multiprocessing, ray]\n"
                      "cores: [1]\nrounds: 1\ntrials: 3\nwarmup: 30\n")
    env = snakemake_env()
    # Up to the aggregate tables: resuming is about the cells; the jobs after them (primitives,
    # model, figures, report) would only add minutes.
    # (The target goes first: --configfile takes every name after it.)
    command = ["snakemake", "results/summary.csv", "--configfile", str(config)]
    proc = subprocess.Popen(command, cwd=project, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    raw = project / "results" / "raw" / "numerical"
    logs = project / "logs" / "bench" / "numerical"
    # A record on disk is finished for Snakemake only once its job is marked done. Timing jobs run
    # one at a time, so when more timing jobs have started than there are records, every record
    # seen belongs to a job Snakemake had already finished.
    deadline = time.monotonic() + 300
    finished: dict = {}
    while time.monotonic() < deadline:
        records = {p: p.read_bytes() for p in raw.glob("*/1/round*.json")}
        if records and len(list(logs.glob("*/1/round*.log"))) > len(records):
            finished = records
            break
        time.sleep(0.2)
    assert finished, "no cell finished before the interruption"
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal reaches the whole process group
    proc.wait(timeout=120)
    time.sleep(2)
    strays = [p for p in psutil.process_iter(["cmdline"])
              if str(project) in " ".join(p.info["cmdline"] or []) and "parbench" in " ".join(p.info["cmdline"] or [])]
    assert not strays
    for path in raw.glob("*/1/round*.json"):
        json.loads(path.read_text())  # whatever is there is a complete record
    resumed = subprocess.run(command, cwd=project, env=env,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    for path, content in finished.items():
        assert path.read_bytes() == content  # not measured again
    assert len(list(raw.glob("*/1/round*.json"))) == 3
