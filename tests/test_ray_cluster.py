"""Ray on a cluster: the pipeline's ray_address key (dry runs, seconds) and a real two-node
Ray cluster on this machine with one ray cell attached to it (slow, about 30 s).

Two `ray start` nodes (a head and a worker, one CPU each) share a private temp dir, so nothing
else on the machine attaches to them by accident, and every port is chosen free. The cell must
see both nodes and its probe tasks must run on both. Clean-up never uses `ray stop`, which kills
every Ray process of the user on the machine (including another run's): it stops exactly the
processes whose command line names the private temp dir or the cluster's port, and their children.

Do not run this beside a timing run: two raylets and their workers take CPU time from it.
"""

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from conftest import BIN, copy_project, parbench, snakemake_env
from parbench.machine import read_topology

PHYSICAL_CORES = read_topology().physical_cores

START_TIMEOUT_S = 60
NODE_PORT_OPTIONS = ("--node-manager-port", "--object-manager-port", "--dashboard-agent-listen-port",
                     "--dashboard-agent-grpc-port", "--metrics-export-port", "--runtime-env-agent-port")
OBJECT_STORE_BYTES = 200 * 1024**2  # per node; Ray's default (30% of RAM) twice over is wasteful


def free_ports(count: int) -> list[int]:
    """Distinct ports free right now (all held open together, so no two are the same)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def ray_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("RAY_ADDRESS", None)
    # The same auth mode on every node and on the driver (Ray 2.60 would otherwise turn token auth
    # on for the head whenever ~/.ray/auth_token exists, and the driver could not connect).
    env["RAY_AUTH_MODE"] = "disabled"
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def processes_of(temp_dir: str, gcs_port: int) -> list[psutil.Process]:
    """This user's processes whose command line names temp_dir or the cluster's GCS port (the Ray
    client server names only the latter), with all their descendants."""
    uid = os.getuid()
    mark = re.compile(rf"{re.escape(temp_dir)}|:{gcs_port}\b")
    found: dict[int, psutil.Process] = {}
    for proc in psutil.process_iter(["cmdline", "uids"]):
        try:
            if proc.info["uids"].real != uid or not any(mark.search(a) for a in proc.info["cmdline"] or []):
                continue
            found[proc.pid] = proc
            for child in proc.children(recursive=True):
                found[child.pid] = child
        except psutil.Error:
            continue
    found.pop(os.getpid(), None)
    return list(found.values())


def stop_cluster(temp_dir: str, gcs_port: int) -> None:
    procs = processes_of(temp_dir, gcs_port)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=10)
    for proc in alive + processes_of(temp_dir, gcs_port):
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=10)


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


@pytest.fixture(scope="module")
def two_node_cluster():
    temp_dir = f"/tmp/rc{secrets.token_hex(3)}"  # short: Ray's socket paths must stay < 108 bytes
    gcs_port, client_port, *ports = free_ports(2 + 2 * len(NODE_PORT_OPTIONS))
    address = f"127.0.0.1:{gcs_port}"
    common = ["--num-cpus=1", f"--object-store-memory={OBJECT_STORE_BYTES}", "--disable-usage-stats",
              "--node-ip-address=127.0.0.1", f"--temp-dir={temp_dir}",
              "--min-worker-port=0", "--max-worker-port=0"]  # 0: each worker binds a random port

    def node_ports(offset: int) -> list[str]:
        return [f"{opt}={ports[offset + i]}" for i, opt in enumerate(NODE_PORT_OPTIONS)]

    head = ["ray", "start", "--head", f"--port={gcs_port}", f"--ray-client-server-port={client_port}",
            "--include-dashboard=false", *common, *node_ports(0)]
    worker = ["ray", "start", f"--address={address}", *common, *node_ports(len(NODE_PORT_OPTIONS))]
    try:
        for role, command in (("head", head), ("worker", worker)):
            try:
                # `ray start` returns once the node is registered with the cluster.
                result = subprocess.run(command, env=ray_env(), capture_output=True, text=True,
                                        timeout=START_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pytest.skip(f"`ray start` ({role}) did not finish in {START_TIMEOUT_S} s on this machine")
            if result.returncode != 0:
                pytest.skip(f"`ray start` ({role}) fails on this machine (exit {result.returncode}): "
                            f"{(result.stderr or result.stdout).strip()[-800:]}")
        yield address
    finally:
        stop_cluster(temp_dir, gcs_port)
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.mark.slow
def test_a_ray_cell_runs_on_both_nodes_of_a_cluster(two_node_cluster, tmp_path):
    out = tmp_path / "numerical-ray-2.json"
    started = time.monotonic()
    result = parbench("run", "--workload", "numerical", "--backend", "ray", "--cores", 2,
                      "--preset", "smoke", "--trials", 2, "--ray-address", two_node_cluster,
                      "--timeout", 120, "--out", out, env=ray_env(), timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    rec = json.loads(Path(out).read_text())
    assert rec["status"] == "ok", rec["error"]
    ray = rec["backend_facts"]
    assert ray["mode"] == "cluster" and ray["address"] == two_node_cluster
    assert ray["nodes"] == 2 and ray["cluster_cpus"] == 2
    assert len(ray["node_list"]) == 2 and all(n["cpus"] == 1 for n in ray["node_list"])
    probe = ray["node_probe"]
    assert probe["tasks"] == 2 and probe["distinct_nodes"] == 2, probe
    assert set(probe["tasks_per_node"]) == {n["node_id"] for n in ray["node_list"]}
    assert rec["software"]["ray_auth_mode"] == "disabled"
    assert time.monotonic() - started < 90


@pytest.mark.slow
def test_a_cell_asking_for_more_cores_than_the_cluster_fails_clearly(two_node_cluster, tmp_path):
    out = tmp_path / "numerical-ray-3.json"
    result = parbench("run", "--workload", "numerical", "--backend", "ray", "--cores", 3,
                      "--preset", "smoke", "--trials", 1, "--ray-address", two_node_cluster,
                      "--timeout", 120, "--out", out, env=ray_env(), timeout=180)
    assert result.returncode == 1, result.stderr[-3000:]
    rec = json.loads(Path(out).read_text())
    assert rec["status"] == "failed"
    assert "has 2 CPUs on 2 node(s), fewer than --cores 3" in rec["error"]
