"""What this machine is and what N of its cores deliver.

Only the standard library and psutil are imported at module level: the CLI calls `choose_cpus`
and pins the process *before* numpy, Ray or TensorFlow are imported, so that their thread pools
are sized for the pinned set.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TypedDict

import psutil

SYS_CPU = Path("/sys/devices/system/cpu")

# Thread-pool variables that numpy's BLAS, OpenMP, TensorFlow and Snakemake read or set.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "GOTO_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)

PACKAGES = (
    "parbench", "ray", "numpy", "scipy", "tensorflow-cpu", "keras", "psutil", "pyarrow",
    "pandas", "seaborn", "matplotlib", "snakemake", "threadpoolctl", "jinja2",
    "joblib", "dask", "distributed", "mpire",
)


class CoreCountError(ValueError):
    """More cores were asked for than this process may use."""


@dataclass(frozen=True)
class Topology:
    """Logical CPUs this process may run on, grouped by physical core."""

    allowed: tuple[int, ...]
    # One tuple of logical CPU ids per physical core, in ascending order of the first id.
    cores: tuple[tuple[int, ...], ...]
    source: str  # "sysfs" or "logical" (no topology files: every logical CPU counted as a core)

    @property
    def physical_cores(self) -> int:
        return len(self.cores)


def read_topology(allowed: Iterable[int] | None = None, sys_cpu: Path = SYS_CPU) -> Topology:
    """Group the allowed logical CPUs by (package, core id) from sysfs.

    `allowed` defaults to this process's affinity (a container's cpuset included); `sys_cpu` is a
    parameter so that tests can describe a 2-socket, SMT or cpuset-limited machine.
    """
    allowed = tuple(sorted(os.sched_getaffinity(0) if allowed is None else allowed))
    groups: dict[tuple[int, int], list[int]] = {}
    try:
        for cpu in allowed:
            topo = sys_cpu / f"cpu{cpu}" / "topology"
            package = int((topo / "physical_package_id").read_text())
            core = int((topo / "core_id").read_text())
            groups.setdefault((package, core), []).append(cpu)
    except (OSError, ValueError):
        return Topology(allowed, tuple((c,) for c in allowed), "logical")
    cores = tuple(sorted((tuple(sorted(v)) for v in groups.values()), key=lambda g: g[0]))
    return Topology(allowed, cores, "sysfs")


def choose_cpus(cores: int, topology: Topology | None = None, quota_cores: int | None = None,
                oversubscribe: bool = False) -> list[int]:
    """N logical CPU ids, one per physical core (no SMT siblings), from the allowed set.

    Physical cores are taken in order of their first logical CPU, so on a 2-socket machine the first
    socket fills before the second. With `oversubscribe` (functional tests only), N may exceed the
    cores: the CPUs are then the available ones, and the caller runs N workers on them.
    """
    topology = topology or read_topology()
    if cores < 1:
        raise CoreCountError(f"--cores must be at least 1, got {cores}")
    if oversubscribe:
        return [group[0] for group in topology.cores[:min(cores, topology.physical_cores)]]
    if quota_cores is not None and cores > quota_cores:
        raise CoreCountError(
            f"--cores {cores} exceeds the CPU quota of this container or cgroup ({quota_cores} CPUs, e.g. "
            f"`docker run --cpus={quota_cores}`): {cores} pinned processes would share {quota_cores} CPUs' "
            f"worth of time. Lower --cores to at most {quota_cores}, or give the container more CPUs "
            f"(prefer `--cpuset-cpus`, which pins, to `--cpus`, which only throttles)."
        )
    if cores > topology.physical_cores:
        raise CoreCountError(
            f"--cores {cores} asks for more physical cores than this process may use: "
            f"{topology.physical_cores} (logical CPUs {list(topology.allowed)}). "
            f"Lower --cores to at most {topology.physical_cores}, or run on a bigger machine "
            f"(a Ray cluster is configured with ray_address)."
        )
    return [group[0] for group in topology.cores[:cores]]


def pin_process(cpus: list[int]) -> None:
    """Pin this process; every child (pool workers, raylet, Ray workers) inherits the mask."""
    os.sched_setaffinity(0, cpus)


class ShmStatus(TypedDict):
    path: str
    total_bytes: int | None
    free_bytes: int | None


def shm_status(path: str = "/dev/shm") -> ShmStatus:
    try:
        st = os.statvfs(path)
    except OSError:
        return {"path": path, "total_bytes": None, "free_bytes": None}
    return {"path": path, "total_bytes": st.f_blocks * st.f_frsize, "free_bytes": st.f_bavail * st.f_frsize}


CGROUP_ROOT = Path("/sys/fs/cgroup")


def cpu_quota(cgroup_root: Path = CGROUP_ROOT) -> float | None:
    """CPUs' worth of time the cgroup may use (`docker run --cpus`), or None without a quota.

    cgroup v2: `cpu.max` holds "<quota> <period>" or "max <period>"; v1: cpu.cfs_quota_us (-1 = none)
    and cpu.cfs_period_us under cpu/ or cpu,cpuacct/.
    """
    try:
        quota, period = (cgroup_root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    for folder in ("cpu", "cpu,cpuacct"):
        try:
            quota_us = int((cgroup_root / folder / "cpu.cfs_quota_us").read_text())
            period_us = int((cgroup_root / folder / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            continue
        return None if quota_us <= 0 else quota_us / period_us
    return None


def quota_cores(cgroup_root: Path = CGROUP_ROOT) -> int | None:
    """Whole CPUs of the quota (at least 1): the most cores a pinned cell can really use."""
    quota = cpu_quota(cgroup_root)
    return None if quota is None else max(1, int(quota + 1e-9))


def foreign_load(cpus: Iterable[int], seconds: float = 0.5) -> dict[str, float]:
    """Busy fraction of each of `cpus` while this process sleeps: load that is not the run's own.

    Counts everything but idle and iowait, so time a hypervisor steals counts as busy too. Taken
    when nothing of the run is running (before a cell's setup, at each calibration point).
    """
    before = psutil.cpu_times(percpu=True)
    time.sleep(seconds)
    after = psutil.cpu_times(percpu=True)
    load = {}
    for cpu in cpus:
        if cpu >= len(before) or cpu >= len(after):
            continue
        delta = {f: getattr(after[cpu], f) - getattr(before[cpu], f) for f in after[cpu]._fields}
        total = sum(v for f, v in delta.items() if f not in ("guest", "guest_nice"))  # guest is inside user
        idle = delta.get("idle", 0.0) + delta.get("iowait", 0.0)
        load[str(cpu)] = round(1.0 - idle / total, 3) if total > 0 else 0.0
    return load
@dataclass(frozen=True)
class Mount:
    """One line of /proc/self/mountinfo: where a file system is mounted and what it is."""

    mount_point: str
    fstype: str
    source: str


def _unescape_mount_field(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash in paths as \040, \011, \012 and \134
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text: str) -> list[Mount]:
    """The mounts of a /proc/<pid>/mountinfo text, in its order (later mounts hide earlier ones)."""
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        after = line.split(" - ", 1)[1].split()
        mounts.append(Mount(_unescape_mount_field(fields[4]), after[0] if after else "",
                            after[1] if len(after) > 1 else ""))
    return mounts


def read_mounts(mountinfo: str | Path = "/proc/self/mountinfo") -> list[Mount]:
    try:
        return parse_mountinfo(Path(mountinfo).read_text())
    except OSError:
        return []


def mount_of(path: str | Path, mounts: list[Mount]) -> Mount | None:
    """The mount that holds `path` (the last-mounted of those with the longest matching prefix)."""
    target = os.path.normpath(os.path.abspath(path))
    best: Mount | None = None
    for mount in mounts:
        point = mount.mount_point
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best.mount_point)):
            best = mount
    return best


def is_mount_point(path: str | Path, mounts: list[Mount]) -> bool:
    """Whether `path` itself is mounted (a volume or bind mount), not just a folder of its parent's."""
    target = os.path.normpath(os.path.realpath(path))
    return any(m.mount_point == target for m in mounts)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def describe_machine() -> dict:
    """The facts that make two runs comparable. No hostname: records get committed."""
    topology = read_topology()
    vm = psutil.virtual_memory()
    return {
        "cpu_model": _cpu_model(),
        "architecture": platform.machine(),
        "kernel": platform.release(),
        "logical_cpus_host": psutil.cpu_count(logical=True),
        "physical_cores_allowed": topology.physical_cores,
        "logical_cpus_allowed": list(topology.allowed),
        "topology_source": topology.source,
        "memory_total_bytes": vm.total,
        "dev_shm": shm_status(),
        "cgroup_cpu_max": _read("/sys/fs/cgroup/cpu.max"),
        "cpu_quota": cpu_quota(),
        "cpufreq_governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "in_container": Path("/.dockerenv").exists(),
    }


def machine_hash(machine: dict) -> str:
    """Hash of the facts that must match for records to be compared (not free memory)."""
    stable = {k: machine[k] for k in ("cpu_model", "architecture", "logical_cpus_host",
                                       "physical_cores_allowed", "memory_total_bytes")}
    return hashlib.sha256(json.dumps(stable, sort_keys=True).encode()).hexdigest()[:16]


def describe_software() -> dict:
    from .gil import interpreter_facts

    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "interpreter": interpreter_facts(),  # build (Py_GIL_DISABLED), configure flags, GIL state
        "packages": _versions(),
        "thread_variables": {k: os.environ.get(k) for k in THREAD_VARIABLES},
        "ray_auth_mode": os.environ.get("RAY_AUTH_MODE"),
        "artifact_image": os.environ.get("PARBENCH_IMAGE"),
    }


def threadpools() -> list[dict]:
    """threadpoolctl's view of the BLAS/OpenMP pools loaded in this process."""
    from threadpoolctl import threadpool_info

    return [
        {k: info.get(k) for k in ("user_api", "internal_api", "num_threads", "version")}
        for info in threadpool_info()
    ]


# ---------------------------------------------------------------- calibration (machine ceiling)


def _spin(iterations: int) -> float:
    """Pure-Python CPU work that touches no shared memory: the best case for N processes."""
    start = time.perf_counter()
    acc = 0
    for i in range(iterations):
        acc = (acc + i * i) % 1_000_003
    return time.perf_counter() - start


def _spin_pinned(args: tuple[int, int]) -> float:
    cpu, iterations = args
    os.sched_setaffinity(0, [cpu])
    return _spin(iterations)


def calibrate(cpus: list[int], seconds_per_round: float = 0.5, repeats: int = 5) -> dict:
    """Ceiling = N x (time of one process alone) / (wall time of N processes at once).

    N pinned processes each do the same pure-Python work; on an idle machine with N real cores
    the ceiling is N. Ratios are taken per repeat from interleaved single/parallel rounds and the
    median is reported, so slow drift of the host affects both sides alike.
    """
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    idle_load = foreign_load(cpus, seconds=1.0)  # before any work of ours: what else runs on these CPUs
    iterations = 200_000
    while _spin(iterations) < seconds_per_round / 4:  # size the work to ~seconds_per_round
        iterations *= 2
    iterations = int(iterations * seconds_per_round / max(_spin(iterations), 1e-6))

    single: list[float] = []
    parallel: list[float] = []
    with ctx.Pool(len(cpus)) as pool:
        pool.map(_spin_pinned, [(c, 1000) for c in cpus])  # start and pin every worker
        for _ in range(repeats):
            t0 = time.perf_counter()
            pool.map(_spin_pinned, [(cpus[0], iterations)], chunksize=1)
            single.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            pool.map(_spin_pinned, [(c, iterations) for c in cpus], chunksize=1)
            parallel.append(time.perf_counter() - t0)
    ratios = [len(cpus) * s / p for s, p in zip(single, parallel)]
    median = statistics.median(ratios)
    return {
        "cores": len(cpus),
        "foreign_load": idle_load,
        "cpus": cpus,
        "iterations": iterations,
        "single_seconds": single,
        "parallel_seconds": parallel,
        "ceiling_per_repeat": ratios,
        "ceiling": median,
        "efficiency": median / len(cpus),
    }
