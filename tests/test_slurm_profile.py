"""The SLURM profile parses, plans and lints without a SLURM cluster (nothing is submitted).

Needs snakemake-executor-plugin-slurm; skipped without it. A dry run never calls sbatch.
tests/test_slurm_cluster.py runs the profile on a real one-machine cluster.
"""

import importlib.util
import re
import subprocess

import pytest
import yaml

from conftest import ROOT, copy_project, snakemake_env

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("snakemake_executor_plugin_slurm") is None,
    reason="snakemake-executor-plugin-slurm is not installed (pip install -r requirements.lock)",
)

PROFILE = ROOT / "profiles" / "slurm" / "config.yaml"


def snakemake(project, *args, env=None):
    return subprocess.run(["snakemake", *args], cwd=project, capture_output=True, text=True,
                          timeout=300, env=env or snakemake_env())


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return copy_project(tmp_path_factory.mktemp("slurm-project"))


def test_every_whole_node_job_gets_an_exclusive_node_and_no_bench_slot():
    profile = yaml.safe_load(PROFILE.read_text())
    assert profile["executor"] == "slurm"
    assert "resources" not in profile and "cores" not in profile  # no bench_slot, no local cores
    for rule in ("bench", "calibrate", "primitives", "environment", "prepare"):
        resources = profile["set-resources"][rule]
        assert resources["slurm_extra"] == "'--exclusive'"
        # Sized to the node inside the job, never a fixed count a smaller node cannot give.
        assert "SLURM_CPUS_ON_NODE" in resources["cpus_per_task"]
        assert resources["mem_mb"] == 0  # no --mem: the site's default, the whole node where unset
    for rule in ("bench", "calibrate", "primitives", "prepare"):
        assert "SLURM_CPUS_ON_NODE" in profile["set-threads"][rule]


def test_dry_run_plans_every_cell_with_slurm_resources(project):
    env = snakemake_env()
    env["SLURM_PARTITION"] = "testpartition"
    env["SLURM_CPUS_ON_NODE"] = "48"  # what a job on an exclusive 48-CPU node would see
    result = snakemake(project, "--workflow-profile", "profiles/slurm", "-n",
                       "--configfile", "config/smoke.yaml", env=env)
    assert result.returncode == 0, result.stderr[-5000:]
    output = result.stdout + result.stderr
    # Only the SLURM profile: profiles/default (cores: all, the bench_slot limit) is not loaded.
    assert "Using workflow specific profile profiles/slurm" in output
    assert "profiles/default" not in output
    assert re.search(r"^bench\s+\d+$", output, re.M), output[-3000:]
    bench = [block for block in output.split("rule ")[1:] if block.startswith("bench:")]
    assert bench
    for block in bench:
        assert "slurm_extra=--exclusive" in block and "cpus_per_task=48" in block, block
        assert "slurm_partition=testpartition" in block and "mem_mb=0" in block, block


def test_lint_passes_with_the_slurm_profile(project):
    result = snakemake(project, "--lint", "--workflow-profile", "profiles/slurm")
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]



def test_the_workflow_switches_off_snakemakes_spinning_rate_limiter():
    """With the command line's 100/1s, every scheduling pass while jobs wait for the bench_slot
    re-arms a 1-second timer and the chains add up: Snakemake used 40-50% of a CPU after ~100 cells."""
    common = (ROOT / "workflow" / "rules" / "common.smk").read_text()
    assert "scheduler.job_rate_limiter = None" in common
    assert "quiet_scheduler()" in (ROOT / "Snakefile").read_text().split("onstart:")[1]
    for name in ("default", "slurm"):
        profile = yaml.safe_load((ROOT / "profiles" / name / "config.yaml").read_text())
        assert "max-jobs-per-timespan" not in profile  # a profile value would be overridden anyway
