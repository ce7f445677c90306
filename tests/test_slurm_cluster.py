"""The smoke DAG on a real SLURM cluster, through `snakemake --workflow-profile profiles/slurm`.

ci/local-slurm.sh starts munged, slurmctld and one slurmd on this machine (node "localhost" with
this machine's real CPUs and memory); every job of the DAG is submitted with sbatch, runs in its
own SLURM job (bench, calibrate, environment and prepare on the whole node, --exclusive) and the
records, tables, figures and report are written as on a real cluster. The cluster is stopped
afterwards and the fixture checks that its daemons are gone.

Slow: one sbatch job after the other on one node, each starting Snakemake twice (the job and its
srun step); about 6 minutes on an idle 2-core machine, twice that on a busy one.
Needs root and Debian's slurm-wlm and munge (ci/install-cluster-tools.sh, run by .ci/run). Where
they are missing the tests are skipped with the reason (pytest -rs shows it); a cluster that does
not start although it could fails them.
"""

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import psutil
import pytest

from conftest import ROOT, RUN_LIMIT_S, copy_project, snakemake_env

# Why this module's slow tests are slow (bin/test --quick leaves them out).
SLOW_REASON = ("runs a slice of the smoke DAG on a local SLURM cluster: 32 sbatch jobs one after the other, each "
               "starting Snakemake twice (6 minutes idle, 16-22 busy)")

LOCAL_SLURM = ROOT / "ci" / "local-slurm.sh"
FORBIDDEN = 2  # the script's exit status where this machine forbids a local cluster
PARTITION = "parbench"
# Status checks every few seconds instead of the plugin's 40 s, so the DAG does not wait on them.
# Without slurmdbd, sacct cannot answer; squeue can, as MinJobAge keeps finished jobs an hour.
SLURM_OPTIONS = ("--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "5",
                 "--slurm-keep-successful-logs", "--slurm-no-account")
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)")


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "(no message)"


def daemon_pids(state: Path) -> list[int]:
    pids = []
    for pid_file in (state / "slurmd.pid", state / "slurmctld.pid", state / "munge" / "munged.pid"):
        try:
            pids.append(int(pid_file.read_text()))
        except (OSError, ValueError):
            continue
    return pids


@pytest.fixture(scope="module")
def slurm_cluster():
    # Not under pytest's 0700 base folder: munged wants its socket's folders open to all.
    state = Path(tempfile.mkdtemp(prefix="parbench-slurm-"))
    started = None
    try:
        started = subprocess.run([str(LOCAL_SLURM), "start", str(state)], capture_output=True, text=True,
                                 timeout=180)
        reason = last_line(started.stderr)
        if started.returncode == FORBIDDEN:
            pytest.skip(f"SLURM cluster not started, this machine forbids it: {reason}")
        logs = "".join(f"\n--- {p.name}\n{p.read_text()[-1500:]}" for p in sorted(state.glob("*.log")))
        assert started.returncode == 0, f"the SLURM cluster did not start: {reason}{logs}"
        yield state
    finally:
        pids = daemon_pids(state)
        stopped = subprocess.run([str(LOCAL_SLURM), "stop", str(state)], capture_output=True, text=True,
                                 timeout=180)
        if started is not None and started.returncode == 0:
            # Stopped afterwards: munged, slurmctld and slurmd gone, the configuration removed.
            assert stopped.returncode == 0, stopped.stderr
            assert [pid for pid in pids if psutil.pid_exists(pid)] == []
            assert not Path("/etc/slurm/slurm.conf").exists()
        shutil.rmtree(state, ignore_errors=True)


def node_cores() -> int:
    """Physical cores of the SLURM node (sockets x cores per socket), as SLURM advertises them."""
    out = subprocess.run(["sinfo", "--noheader", "--partition", PARTITION, "--format=%X %Y"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    sockets, cores = map(int, out.split())
    return sockets * cores


def snakemake(project: Path, *args: str, timeout: int) -> subprocess.CompletedProcess:
    env = snakemake_env()
    env["SLURM_PARTITION"] = PARTITION
    return subprocess.run(["snakemake", "--workflow-profile", "profiles/slurm", "--configfile",
                           "config/smoke.yaml", *args], cwd=project, capture_output=True, text=True,
                          timeout=timeout, env=env)


def job_counts(dry_run_output: str) -> dict[str, int]:
    table = dry_run_output.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster, tmp_path_factory):
    project = copy_project(tmp_path_factory.mktemp("slurm-run"))
    cores = node_cores()
    # A slice of the smoke configuration: enough to send every kind of job through sbatch (cells,
    # calibration points, aggregation, report) without paying Snakemake's start-up per job 50 times.
    config = ("--config", f"node_cores={cores}", "rounds=1", "workloads=[numerical]", "backends=[serial,ray]")
    plan = snakemake(project, "-n", *config, timeout=300)
    assert plan.returncode == 0, plan.stderr[-3000:]
    counts = job_counts(plan.stdout + plan.stderr)
    result = snakemake(project, *config, *SLURM_OPTIONS, timeout=RUN_LIMIT_S)  # about 4 times the idle 2-core time
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    return project, result.stdout + result.stderr, counts, cores


@pytest.mark.slow(reason=SLOW_REASON)
def test_every_job_was_submitted_with_sbatch_and_completed(slurm_run):
    project, output, counts, _ = slurm_run
    submitted = SUBMITTED.findall(output)
    per_rule: dict[str, int] = {}
    for _, _, log in submitted:
        rule = Path(log).relative_to(project / ".snakemake" / "slurm_logs").parts[0].removeprefix("rule_")
        per_rule[rule] = per_rule.get(rule, 0) + 1
    # Every job of the plan but the local rules (the target `all`; `primitives_merged`, which only pools
    # the primitives rounds' files), each in a SLURM job of its own.
    local = ("all", "primitives_merged", "total")
    assert per_rule == {rule: n for rule, n in counts.items() if rule not in local}
    assert "primitives" in per_rule  # the timing job of each primitives round went through sbatch
    slurm_ids = [slurm_id for _, slurm_id, _ in submitted]
    assert len(set(slurm_ids)) == len(slurm_ids)
    states = subprocess.run(["squeue", "--noheader", "--states=all", "--format=%i|%T",
                             "--jobs", ",".join(slurm_ids)], capture_output=True, text=True, timeout=60)
    assert states.returncode == 0, states.stderr
    assert dict(line.split("|") for line in states.stdout.split()) == dict.fromkeys(slurm_ids, "COMPLETED")
    # SLURM wrote each job's output: the rule ran inside that job, in its srun step.
    for _, slurm_id, log in submitted:
        text = Path(log).read_text()
        assert Path(log).stem == slurm_id and "Finished jobid: 0" in text, log


@pytest.mark.slow(reason=SLOW_REASON)
def test_every_cell_ran_on_the_whole_node(slurm_run):
    project, _, counts, cores = slurm_run
    records = sorted((project / "results" / "raw").rglob("*.json"))
    assert len(records) == counts["bench"]
    for path in records:
        record = json.loads(path.read_text())
        assert record["status"] == "ok", (path, record["error"])
        # The job's step was sized to the node (SLURM_CPUS_ON_NODE), not to the 1 CPU of the
        # submission, so the cell saw every core of the node and pinned itself to its N of them.
        assert record["machine"]["physical_cores_allowed"] == cores, path
        assert len(record["pinned_cpus"]) == record["cores"], path


@pytest.mark.slow(reason=SLOW_REASON)
def test_the_report_was_produced(slurm_run):
    project, _, _, _ = slurm_run
    results = project / "results"
    assert "Claim by claim" in (results / "report.md").read_text()
    assert (results / "all_cells_ok.txt").exists()
    assert (results / "figures" / "speedup.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
