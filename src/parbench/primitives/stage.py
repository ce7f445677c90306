"""The primitives stage: every group of `parbench primitives`, one record."""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from .core import (
    DEFAULT_CHAINS,
    DEFAULT_REPEATS,
    KIND,
    SCHEMA_VERSION,
    WORKLOAD_GROUPS,
    Recorder,
    summarise,
)
from .expensive_init import measure_expensive_init
from .numerical import measure_numerical
from .ray_backend import measure_ray
from .stateful import measure_stateful
from .transport import measure_pipes, measure_pool_overheads


def measure_primitives(preset: str = "paper", cpus: list[int] | None = None, repeats: int = DEFAULT_REPEATS,
                       chains: int = DEFAULT_CHAINS, threads: list[int] | None = None,
                       resources: Path | None = Path("resources/expensive_init"),
                       include_ray: bool = True, include_tensorflow: bool = True,
                       workloads: Iterable[str] = ("numerical", "stateful", "expensive_init"),
                       log: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True),
                       round_: int = 0) -> dict:
    """Measure every primitive of `preset` and return the record (see `write_record`).

    The caller pins nothing: this pins itself to cpus[0] for single-process costs and restores
    `cpus` at the end. `cpus` defaults to one logical CPU per physical core.
    """
    from ..machine import (
        choose_cpus,
        describe_machine,
        describe_software,
        machine_hash,
        read_topology,
    )
    from ..presets import get_preset

    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    machine = describe_machine()
    cpus = list(cpus or choose_cpus(read_topology().physical_cores))
    threads = sorted({t for t in (threads or range(1, len(cpus) + 1)) if 1 <= t <= len(cpus)} | {1})
    sizes = get_preset(preset)
    workloads = list(workloads)
    if resources is not None:
        resources = Path(resources).resolve()
    rec = Recorder(repeats, log)
    group_seconds: dict[str, float] = {}
    skipped: dict[str, str] = {}

    def group(name, fn, *args):
        """One group of primitives; a failure is recorded (as a failing cell is) and the stage goes on:
        the model then names the primitives it misses."""
        log(f"[primitives] {name}")
        t0 = time.perf_counter()
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - recorded in the record's `skipped`, with the reason
            skipped[name] = f"failed: {type(exc).__name__}: {exc}"
            log(f"[primitives] {name} FAILED: {type(exc).__name__}: {exc}")
            return []
        finally:
            group_seconds[name] = round(time.perf_counter() - t0, 3)

    os.sched_setaffinity(0, [cpus[0]])
    payloads: list[int] = []
    try:
        group("transport (Pool, executor)", measure_pool_overheads, rec, cpus)
        if "numerical" in workloads:
            payloads += group(WORKLOAD_GROUPS["numerical"], measure_numerical, rec, sizes.numerical, cpus)
        if "stateful" in workloads:
            payloads += group(WORKLOAD_GROUPS["stateful"], measure_stateful, rec, sizes.stateful, cpus, chains)
        if "expensive_init" in workloads and include_tensorflow:
            payloads += group(WORKLOAD_GROUPS["expensive_init"], measure_expensive_init, rec,
                              sizes.expensive_init, cpus, resources, threads)
        elif "expensive_init" in workloads:
            skipped["tensorflow"] = "not measured (include_tensorflow=False)"
        group("transport (pipes)", measure_pipes, rec, cpus, payloads)
        if include_ray:
            # Ray's B1 and B3 primitives need the result and prediction shapes measured above.
            group("ray", measure_ray, rec,
                  sizes.numerical if "numerical.result_shape" in rec.facts else None,
                  sizes.stateful if "stateful" in workloads else None,
                  sizes.expensive_init if "expensive_init.prediction_shape" in rec.facts else None,
                  cpus, resources, rec.facts)
        else:
            skipped["ray"] = "not measured (include_ray=False)"
    finally:
        os.sched_setaffinity(0, cpus)
    return {
        "kind": KIND,
        "schema_version": SCHEMA_VERSION,
        "preset": preset,
        "sizes": {w: dict(vars(sizes.sizes(w))) for w in ("numerical", "stateful", "expensive_init")},
        "workloads": workloads,
        "cpus": cpus,
        "threads": threads,
        "repeats": repeats,
        "chains": chains,
        "round": round_,
        "pinning": ("single-process costs on cpus[0]; pipe readers on cpus[0] (same_core) or cpus[1] "
                    "(cross_core); predict with t threads on cpus[:t]; Ray as a 1-core cell on cpus[0]"),
        "skipped": skipped,
        "machine": machine,
        "machine_hash": machine_hash(machine),
        "software": describe_software(),
        "started_at": started_at,
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - started, 3),
        "group_seconds": group_seconds,
        "facts": rec.facts,
        "primitives": [summarise(p) for p in rec.primitives.values()],
    }
