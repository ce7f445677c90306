"""Starting, inspecting and stopping Ray the same way for every Ray backend.

Local mode: `ray.init(num_cpus=N, include_dashboard=False, log_to_driver=False,
object_store_memory=...)` inside the pinned process, so the raylet and its workers inherit the
pinning. Cluster mode (`ray_address`): attach only; resource arguments are not allowed there.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

from .machine import shm_status

DEFAULT_OBJECT_STORE_BYTES = 2 * 1024**3  # ample for 72 MB + N results at 128 cores; see README on --shm-size
SHM_FALLBACK_TEXT = "instead of /dev/shm"


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
                num_cpus=self.cores,
                include_dashboard=False,
                log_to_driver=False,
                object_store_memory=store,
            )
        fallback = [m for m in self._capture.messages if SHM_FALLBACK_TEXT in m]
        free = shm["free_bytes"]
        self.info = {
            "mode": "cluster" if self.address else "local",
            "address": self.address,
            "object_store_bytes": store,
            "dev_shm_free_bytes_at_start": free,
            # Ray's own rule: the store goes to disk when /dev/shm has less free space than the store.
            "object_store_in_shm": not fallback and (store is None or free is None or free >= store),
            "shm_fallback_message": fallback[0] if fallback else None,
            "cluster_cpus": ray.cluster_resources().get("CPU"),
            "nodes": len([n for n in ray.nodes() if n.get("Alive")]),
        }

    def diagnostics(self) -> dict[str, Any]:
        info = dict(self.info)
        info["spilled_bytes"] = _spilled_bytes()
        return info

    def stop(self) -> None:
        import ray

        ray.shutdown()
        logging.getLogger("ray").removeHandler(self._capture)


def _spilled_bytes() -> int | None:
    """Bytes the object store spilled to disk, from Ray's memory summary (None if unavailable)."""
    try:
        from ray._private.internal_api import memory_summary

        text = memory_summary(stats_only=True)
    except Exception:  # the summary is a diagnostic; its absence must not fail a cell
        return None
    match = re.search(r"Spilled\s+([\d.]+)\s+MiB", text)
    if match:
        return int(float(match.group(1)) * 1024**2)
    return 0 if "Spilled" not in text else None
