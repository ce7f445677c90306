"""Starting, inspecting and stopping Ray the same way for every Ray backend.

Local mode: `ray.init(num_cpus=N, include_dashboard=False, log_to_driver=False,
object_store_memory=...)` inside the pinned process, so the raylet and its workers inherit the
pinning. Cluster mode (`ray_address`): attach only; resource arguments are not allowed there.
The record then names every alive node (id prefix, address, CPUs) and, from a probe run after the
timed trials, the nodes on which N concurrent one-CPU tasks (the cell's shape) actually ran.

Authentication: the CLI sets RAY_AUTH_MODE=disabled unless the user set it. A cluster started with
`ray start` must use the same RAY_AUTH_MODE on every node and on the driver (Ray 2.60 reads it from
the environment only); with RAY_AUTH_MODE=token every process also needs the token (RAY_AUTH_TOKEN,
RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token, in that order).
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

from .machine import shm_status

DEFAULT_OBJECT_STORE_BYTES = 2 * 1024**3  # ample for 72 MB + N results at 128 cores; see README on --shm-size
SHM_FALLBACK_TEXT = "instead of /dev/shm"
NODE_ID_PREFIX = 12  # hex digits of a node id kept in the record (enough to tell nodes apart)
PROBE_HOLD_S = 2.0  # each probe task keeps its CPU this long, so N of them must run side by side
FREE_CPUS_WAIT_S = 10.0  # the probe's longest wait for the trials' leases to be returned


def attaches_to_cluster(backend: str) -> bool:
    """Backends built on RaySession: with a ray_address they attach to that cluster.

    A new Ray-based backend is named `ray` or `ray_<something>` (or is added here).
    """
    return backend == "ray" or backend.startswith("ray_")


def describe_cluster_protocol(protocol, address: str) -> None:
    """What changes in a record's protocol when a Ray cell attaches to a cluster."""
    protocol.setup_region = f"ray.init(address={address!r}): attach to a running cluster"
    protocol.pinning = ("none: Ray cluster mode; the driver is unpinned and each node's raylet and workers run "
                        "as that node's `ray start` left them")
    protocol.notes.append("cluster mode: Ray places the cell's N one-CPU tasks/actors on the cluster's nodes "
                          "(nodes in backend_facts.node_list; where N probe tasks ran in backend_facts.node_probe)")


class ClusterTooSmall(RuntimeError):
    """The Ray cluster has fewer CPUs than the cell's core count."""


def object_store_bytes() -> int:
    raw = os.environ.get("PARBENCH_RAY_OBJECT_STORE_BYTES")
    return int(raw) if raw else DEFAULT_OBJECT_STORE_BYTES


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


class RaySession:
    def __init__(self, cores: int, address: str | None) -> None:
        self.cores = cores
        self.address = address
        self._capture = _Capture()
        self.info: dict[str, Any] = {}

    def start(self) -> None:
        import ray

        logging.getLogger("ray").addHandler(self._capture)
        shm = shm_status()
        if self.address:
            ray.init(address=self.address, log_to_driver=False)
            store = None
        else:
            store = object_store_bytes()
            ray.init(
                # "local": always a new Ray, even if $RAY_ADDRESS is set or a `ray start` on this
                # machine left /tmp/ray/ray_current_cluster behind (ray.init would attach to it).
                address="local",
                num_cpus=self.cores,
                include_dashboard=False,
                log_to_driver=False,
                object_store_memory=store,
            )
        fallback = [m for m in self._capture.messages if SHM_FALLBACK_TEXT in m]
        free = shm["free_bytes"]
        if self.address:
            # The stores live on the cluster's nodes; this driver cannot see their /dev/shm.
            in_shm = False if fallback else None
        else:
            # Ray's own rule: the store goes to disk when /dev/shm has less free space than the store.
            in_shm = not fallback and (free is None or store is None or free >= store)
        alive = alive_nodes()
        self.info = {
            "mode": "cluster" if self.address else "local",
            "address": self.address,
            "object_store_bytes": store,
            "dev_shm_free_bytes_at_start": free,
            "object_store_in_shm": in_shm,
            "shm_fallback_message": fallback[0] if fallback else None,
            "cluster_cpus": ray.cluster_resources().get("CPU"),
            "nodes": len(alive),
        }
        if self.address:
            self.info["node_list"] = alive
            self.info["driver_node_id"] = ray.get_runtime_context().get_node_id()[:NODE_ID_PREFIX]
            cpus = self.info["cluster_cpus"] or 0
            if cpus < self.cores:
                # N one-CPU tasks would queue on fewer CPUs: not the N-core cell the record claims.
                raise ClusterTooSmall(
                    f"the Ray cluster at {self.address} has {cpus:g} CPUs on {len(alive)} node(s), "
                    f"fewer than --cores {self.cores}; add nodes or lower the core count"
                )

    def probe_nodes(self, n_tasks: int, hold_s: float = PROBE_HOLD_S) -> dict[str, Any]:
        """Where N concurrent one-CPU tasks run: the cell's shape (N tasks of num_cpus=1).

        Each task keeps its CPU for `hold_s`, so the tasks cannot all queue on one node's few
        CPUs; Ray places them as it placed the benchmark's tasks. Never inside a timed region.
        It first waits (at most `FREE_CPUS_WAIT_S`) until the cluster counts N CPUs free: right
        after the trials a node's CPU can still be held by the trials' last worker lease, and Ray
        would then queue a probe task behind another instead of placing it on that node.
        """
        import ray

        wait_start = time.perf_counter()
        while (ray.available_resources().get("CPU", 0) < n_tasks
               and time.perf_counter() - wait_start < FREE_CPUS_WAIT_S):
            time.sleep(0.1)
        waited = time.perf_counter() - wait_start

        @ray.remote(num_cpus=1)
        def where(hold: float) -> tuple[str, str]:
            import time

            import ray

            time.sleep(hold)
            return ray.get_runtime_context().get_node_id(), ray.util.get_node_ip_address()

        start = time.perf_counter()
        placements = ray.get([where.remote(hold_s) for _ in range(n_tasks)])
        per_node: dict[str, int] = {}
        per_address: dict[str, int] = {}
        for node_id, address in placements:
            key = node_id[:NODE_ID_PREFIX]
            per_node[key] = per_node.get(key, 0) + 1
            per_address[address] = per_address.get(address, 0) + 1
        return {
            "tasks": n_tasks,
            "hold_s": hold_s,
            "seconds": round(time.perf_counter() - start, 3),
            "waited_for_free_cpus_s": round(waited, 3),
            "distinct_nodes": len(per_node),
            "tasks_per_node": dict(sorted(per_node.items())),
            # The address each task's node has (Ray's node IP): two hosts show two addresses.
            "tasks_per_address": dict(sorted(per_address.items())),
        }

    def diagnostics(self) -> dict[str, Any]:
        info = dict(self.info)
        info["spilled_bytes"] = _spilled_bytes()
        if self.address:
            try:
                info["node_probe"] = self.probe_nodes(self.cores)
            except Exception as exc:  # noqa: BLE001 - a diagnostic; its failure must not fail the timed cell
                info["node_probe"] = {"error": f"{type(exc).__name__}: {exc}"}
        return info

    def stop(self) -> None:
        import ray

        if not self.address:
            _stop_autoscaler_monitor()
        ray.shutdown()
        logging.getLogger("ray").removeHandler(self._capture)


def _stop_autoscaler_monitor() -> None:
    """SIGKILL the local Ray's autoscaler monitor before `ray.shutdown`.

    `ray.shutdown` stops the GCS before the monitor, whose SIGTERM handler then writes to the dead
    GCS until Ray's one-second grace ends in a SIGKILL: a second of every local Ray round's
    teardown (Ray 2.60). A local Ray has nothing to autoscale, so nothing is lost; where Ray's
    internals differ, `ray.shutdown` alone stops everything as before.
    """
    import ray._private.worker

    kill = getattr(getattr(ray._private.worker, "_global_node", None), "kill_monitor", None)
    if kill is not None:
        kill(check_alive=False)


def alive_nodes() -> list[dict[str, Any]]:
    """Every alive node: id prefix, the address its raylet listens on, and its CPUs (no hostname)."""
    import ray

    nodes = []
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        nodes.append({
            "node_id": node["NodeID"][:NODE_ID_PREFIX],
            "address": node.get("NodeManagerAddress"),
            "cpus": node.get("Resources", {}).get("CPU"),
        })
    return sorted(nodes, key=lambda n: (str(n["address"]), n["node_id"]))


def _spilled_bytes() -> int | None:
    """Bytes the object store spilled to disk, from Ray's memory summary (None if unavailable)."""
    try:
        from ray._private.internal_api import memory_summary

        text = memory_summary(stats_only=True)
    except Exception:  # noqa: BLE001 - the summary is a diagnostic; its absence must not fail a cell
        return None
    match = re.search(r"Spilled\s+([\d.]+)\s+MiB", text)
    if match:
        return int(float(match.group(1)) * 1024**2)
    return 0 if "Spilled" not in text else None
