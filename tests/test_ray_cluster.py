"""Ray on a cluster: the pipeline's ray_address key (dry runs, seconds) and a real Ray cluster of
two hosts with one ray cell attached to it (slow, about a minute).

The two hosts are network namespaces with addresses of their own on a bridge
(ci/ray-two-hosts.sh): a Ray head in one, a Ray worker in the other, one CPU each; the driver
(`parbench run --ray-address HEAD:PORT`) runs on the head host, as on a real cluster. The cell must
see both nodes at their two addresses and its probe tasks must run on both. Afterwards every
process in the two namespaces is stopped and the namespaces are removed; the fixture checks it.

Needs root (network namespaces). Where this machine forbids them the cluster tests are skipped with
the reason (pytest -rs shows it); any other failure to start the cluster fails them.
Do not run this beside a timing run: two raylets and their workers take CPU time from it.
"""

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from conftest import BIN, ROOT, copy_project, snakemake_env
from parbench.machine import read_topology

# Why this module's slow tests are slow (bin/test --quick leaves them out).
SLOW_REASON = ("starts a two-host Ray cluster in network namespaces and runs a cell on it (about a minute)")

PHYSICAL_CORES = read_topology().physical_cores
TWO_HOSTS = ROOT / "ci" / "ray-two-hosts.sh"
FORBIDDEN = 2  # the script's exit status where this machine forbids network namespaces


def ray_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("RAY_ADDRESS", None)
    # The same auth mode on every node and on the driver (Ray 2.60 would otherwise turn token auth
    # on for the head whenever ~/.ray/auth_token exists, and the driver could not connect).
    env["RAY_AUTH_MODE"] = "disabled"
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return copy_project(tmp_path_factory.mktemp("cluster-project"))


def dry_run(project, *config):
    return subprocess.run(["snakemake", "-n", "-p", "--configfile", "config/smoke.yaml", "--config", *config],
                          cwd=project, capture_output=True, text=True, timeout=300, env=snakemake_env())


def test_with_ray_address_only_ray_cells_go_beyond_this_machine(project):
    big = PHYSICAL_CORES + 62
    result = dry_run(project, "ray_address=10.1.2.3:6379", f"cores=[1,{big}]",
                     "workloads=[numerical]", "backends=[serial,ray]")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert f"results/raw/numerical/ray/{big}/round0.json" in out
    assert f"results/raw/numerical/serial/{big}/round0.json" not in out
    assert f"results/calibration/{big}/" not in out
    assert "--backend ray --cores 1" in out and "--ray-address 10.1.2.3:6379" in out
    ray_lines = [line for line in out.splitlines() if "parbench run" in line and "--backend ray " in line]
    other_lines = [line for line in out.splitlines() if "parbench run" in line and "--backend ray " not in line]
    assert ray_lines and all("--ray-address 10.1.2.3:6379" in line for line in ray_lines)
    assert other_lines and not any("--ray-address" in line for line in other_lines)
    assert "left out" in out


def test_without_a_ray_backend_too_many_cores_is_still_an_error(project):
    result = dry_run(project, "ray_address=10.1.2.3:6379", f"cores=[{PHYSICAL_CORES + 1}]",
                     "backends=[serial]")
    assert result.returncode != 0
    assert "none of the configured backends runs on a Ray cluster" in result.stdout + result.stderr


def test_without_ray_address_nothing_changes(project):
    result = dry_run(project, "workloads=[numerical]", "backends=[ray]")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "--ray-address" not in result.stdout + result.stderr


@dataclass(frozen=True)
class TwoHostCluster:
    state: Path  # ci/ray-two-hosts.sh's folder for this cluster
    address: str  # the head's HOST:PORT, what the driver attaches to
    hosts: tuple[str, str]  # the head's and the worker's address

    def run_on_head(self, *args) -> subprocess.CompletedProcess:
        """Run a command on the head host, as a driver on a real cluster's head node runs."""
        return subprocess.run([str(TWO_HOSTS), "exec", str(self.state), *map(str, args)],
                              capture_output=True, text=True, timeout=300, env=ray_env())


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "(no message)"


def leftovers(tag: str, temp_dir: str) -> list[str]:
    """Namespaces of the cluster still present, and processes still naming its Ray temp dir."""
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    found = [line.split()[0] for line in names.splitlines() if line.startswith(f"pb{tag}-")]
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if any(temp_dir in arg for arg in proc.info["cmdline"] or []):
            found.append(f"pid {proc.info['pid']}: {' '.join(proc.info['cmdline'])[:200]}")
    return found


@pytest.fixture(scope="module")
def two_host_cluster(tmp_path_factory):
    state = tmp_path_factory.mktemp("two-hosts")
    try:
        started = subprocess.run([str(TWO_HOSTS), "start", str(state)], capture_output=True, text=True,
                                 timeout=300, env=ray_env())
        reason = last_line(started.stderr)
        if started.returncode == FORBIDDEN:
            pytest.skip(f"two-host Ray cluster not started, this machine forbids it: {reason}")
        assert started.returncode == 0, (
            f"the two-host Ray cluster did not start: {reason}\n{started.stderr[-3000:]}"
            f"\nhead: {(state / 'head.log').read_text()[-2000:] if (state / 'head.log').exists() else ''}"
        )
        head, worker = (state / "hosts").read_text().split()
        yield TwoHostCluster(state, (state / "address").read_text().strip(), (head, worker))
    finally:
        tag = (state / "tag").read_text().strip() if (state / "tag").exists() else None
        temp_dir = (state / "temp_dir").read_text().strip() if (state / "temp_dir").exists() else None
        stopped = subprocess.run([str(TWO_HOSTS), "stop", str(state)], capture_output=True, text=True,
                                 timeout=120)
        if tag and temp_dir:
            # Torn down: no namespace, no Ray process of this cluster left (an error of the tests).
            assert stopped.returncode == 0, stopped.stderr
            assert leftovers(tag, temp_dir) == []


@pytest.mark.slow(reason=SLOW_REASON)
def test_a_ray_cell_spreads_over_two_hosts(two_host_cluster, tmp_path):
    out = tmp_path / "numerical-ray-2.json"
    result = two_host_cluster.run_on_head(
        BIN / "parbench", "run", "--workload", "numerical", "--backend", "ray", "--cores", 2,
        "--preset", "smoke", "--trials", 2, "--ray-address", two_host_cluster.address,
        "--timeout", 240, "--out", out)
    assert result.returncode == 0, result.stderr[-3000:]
    rec = json.loads(out.read_text())
    assert rec["status"] == "ok", rec["error"]
    ray = rec["backend_facts"]
    assert ray["mode"] == "cluster" and ray["address"] == two_host_cluster.address
    assert ray["nodes"] == 2 and ray["cluster_cpus"] == 2
    nodes = ray["node_list"]
    assert sorted(n["address"] for n in nodes) == sorted(two_host_cluster.hosts)
    assert all(n["cpus"] == 1 for n in nodes)
    head_node = next(n["node_id"] for n in nodes if n["address"] == two_host_cluster.hosts[0])
    assert ray["driver_node_id"] == head_node  # the driver attached on the head host
    # Two concurrent one-CPU tasks ran one on each host: both addresses, both node ids.
    probe = ray["node_probe"]
    assert probe["waited_for_free_cpus_s"] < 10, probe  # the trials' leases were returned before it
    assert probe["tasks"] == 2 and probe["distinct_nodes"] == 2, probe
    assert probe["tasks_per_address"] == {host: 1 for host in two_host_cluster.hosts}, probe
    assert set(probe["tasks_per_node"]) == {n["node_id"] for n in nodes}
    assert rec["software"]["ray_auth_mode"] == "disabled"


@pytest.mark.slow(reason=SLOW_REASON)
def test_a_cell_asking_for_more_cores_than_the_cluster_fails_clearly(two_host_cluster, tmp_path):
    out = tmp_path / "numerical-ray-3.json"
    result = two_host_cluster.run_on_head(
        BIN / "parbench", "run", "--workload", "numerical", "--backend", "ray", "--cores", 3,
        "--preset", "smoke", "--trials", 1, "--ray-address", two_host_cluster.address,
        "--timeout", 240, "--out", out)
    assert result.returncode == 1, result.stderr[-3000:]
    rec = json.loads(out.read_text())
    assert rec["status"] == "failed"
    assert "has 2 CPUs on 2 node(s), fewer than --cores 3" in rec["error"]
