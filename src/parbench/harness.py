"""The one timing protocol every backend of every workload goes through.

setup (timed on its own) -> W untimed warm-ups -> T timed trials (perf_counter around
`backend.trial()` only; digests are computed after the clock stops) -> diagnostics ->
teardown (timed on its own). Memory of the whole process tree is sampled throughout.
The caller (cli.py) has already pinned the process and set the thread variables.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import sys
import threading
import time
import traceback
import zlib
from typing import Callable

import psutil

from . import __version__
from .catalog import worker_threads
from .machine import describe_machine, describe_software, machine_hash, shm_status, threadpools
from .records import Memory, Protocol, Record, Trial, config_hash
from .workloads import get_backend, get_workload
from .workloads.base import Cell

BASE_SEED = 2019


class CellTimeout(Exception):
    """The per-run time limit from the configuration was exceeded."""


class Interrupted(BaseException):
    """SIGTERM (docker stop, snakemake cancelling a job): clean up and write nothing."""


def _default_signals_in_child() -> None:
    # Forked pool workers would inherit the handlers below and answer Pool.terminate()'s SIGTERM
    # by raising inside their exit path (hanging the pool); they must simply die.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)


os.register_at_fork(after_in_child=_default_signals_in_child)


def seed_for(workload: str, cores: int) -> int:
    """Same inputs for every backend of a (workload, cores) cell; sizes come from the preset."""
    return BASE_SEED * 1_000_003 + zlib.crc32(f"{workload}:{cores}".encode())


class MemorySampler:
    """Samples the summed RSS of this process and all descendants, and /dev/shm growth."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak_rss = 0
        self.peak_shm = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)
        self._shm_base = self._shm_used()

    @staticmethod
    def _shm_used() -> int:
        shm = shm_status()
        if shm["total_bytes"] is None:
            return 0
        return shm["total_bytes"] - shm["free_bytes"]

    def sample(self) -> None:
        root = psutil.Process()
        total = 0
        for proc in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        self.peak_rss = max(self.peak_rss, total)
        self.peak_shm = max(self.peak_shm, self._shm_used() - self._shm_base)
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> None:
        self.sample()
        self._thread.start()

    def stop(self) -> Memory:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.sample()
        return Memory(self.peak_rss, max(self.peak_shm, 0), self.interval, self.samples)


def process_tree() -> dict:
    """Every descendant of the driver and the CPUs it may run on, read back from the kernel."""
    root = psutil.Process()
    cpus: set[int] = set()
    count = 0
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            cpus.update(proc.cpu_affinity())
            count += 1
    return {"processes": count, "cpus_union": sorted(cpus)}


def kill_descendants() -> None:
    """Nothing a failed or interrupted cell started may outlive it."""
    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(children, timeout=10)


@contextlib.contextmanager
def time_limit(seconds: float | None):
    """Raise CellTimeout in the main thread after `seconds`; SIGTERM becomes Interrupted."""

    def on_alarm(signum, frame):
        raise CellTimeout(f"the cell exceeded its time limit of {seconds:g} s (config key run_timeout_s)")

    def on_term(signum, frame):
        raise Interrupted()

    def arm():
        # Also called after setup: ray.init installs a SIGTERM handler of its own.
        signal.signal(signal.SIGTERM, on_term)

    old_term = signal.getsignal(signal.SIGTERM)
    arm()
    old_alarm = signal.signal(signal.SIGALRM, on_alarm) if seconds else None
    if seconds:
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield arm
    finally:
        if seconds:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_alarm)
        signal.signal(signal.SIGTERM, old_term)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def run_cell(
    cell: Cell,
    preset: str,
    trials: int,
    warmup: int | None,
    timeout_s: float | None = None,
    config_fields: dict | None = None,
    machine: dict | None = None,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True),
) -> Record:
    """Run one (workload, backend, cores) cell and return its record (status ok or failed)."""
    workload = get_workload(cell.workload)
    backend_cls = get_backend(workload, cell.backend)
    warmups = backend_cls.original_warmups if warmup is None else warmup
    protocol = Protocol(
        timed_region=backend_cls.timed_region,
        setup_region=backend_cls.setup_region,
        warmups=warmups,
        warmup_policy="original" if warmup is None else "override",
        start_method=backend_cls.start_method,
        worker_threads=worker_threads(cell.workload, cell.backend, cell.cores),
        pinning=backend_cls.pinning,
        notes=list(backend_cls.notes),
    )
    if cell.ray_address:  # the CLI passes an address to Ray backends only
        protocol.setup_region = f"ray.init(address={cell.ray_address!r}): attach to a running cluster"
        protocol.pinning = ("none: Ray cluster mode; the driver is unpinned and each node's raylet and "
                            "workers run as that node's `ray start` left them")
        protocol.notes.append("cluster mode: Ray places the cell's N one-CPU tasks/actors on the cluster's "
                              "nodes (nodes in ray.node_list; where N probe tasks ran in ray.node_probe)")
    machine = machine or describe_machine()  # the CLI describes it before pinning narrows the view
    software = describe_software()
    record = Record(
        workload=cell.workload, backend=cell.backend, cores=cell.cores, preset=preset,
        sizes=dict(vars(cell.sizes)), status="failed", error=None, protocol=protocol,
        setup_seconds=None, teardown_seconds=None, warmup_seconds=[], trials=[],
        work_expected=workload.work_expected(cell), memory=None, pinned_cpus=list(cell.cpus),
        process_tree={}, backend_facts=None, machine=machine, software=software,
        config_hash=config_hash(**(config_fields or {}), parbench=__version__),
        machine_hash=machine_hash(machine), started_at=_now(), finished_at="",
    )
    label = f"{cell.workload}/{cell.backend}/{cell.cores} cores"
    sampler = MemorySampler()
    backend = None
    set_up = False
    try:
        with time_limit(timeout_s) as rearm_signals:
            backend = backend_cls(cell, workload.make_inputs(cell))
            sampler.start()
            start = time.perf_counter()
            set_up = True  # teardown is attempted even when setup fails half-way
            backend.setup()
            rearm_signals()
            record.setup_seconds = time.perf_counter() - start
            log(f"[{label}] setup {record.setup_seconds:.3f} s ({backend_cls.setup_region})")
            for _ in range(warmups):
                backend.before_trial()
                start = time.perf_counter()
                backend.trial()
                record.warmup_seconds.append(time.perf_counter() - start)
            if warmups:
                log(f"[{label}] {warmups} warm-up passes: " + ", ".join(f"{s:.3f}" for s in record.warmup_seconds))
            for index in range(trials):
                backend.before_trial()
                start = time.perf_counter()
                result = backend.trial()
                seconds = time.perf_counter() - start
                work_done, digest = workload.summarize(result)
                del result
                record.trials.append(Trial(index, seconds, work_done, digest))
                log(f"[{label}] trial {index + 1}/{trials}: {seconds:.3f} s, "
                    f"{work_done}/{record.work_expected} {workload.WORK_UNIT}, digest {digest}")
            record.process_tree = process_tree()
            record.backend_facts = backend.diagnostics()
            record.software["threadpools"] = threadpools()
            set_up = False
            start = time.perf_counter()
            backend.teardown()
            record.teardown_seconds = time.perf_counter() - start
            log(f"[{label}] teardown {record.teardown_seconds:.3f} s")
        record.status = "ok"
    except Interrupted:
        _quiet_teardown(backend if set_up else None)
        kill_descendants()
        raise
    except BaseException as exc:  # noqa: BLE001 - every failure becomes a failed record
        if isinstance(exc, KeyboardInterrupt):
            _quiet_teardown(backend if set_up else None)
            kill_descendants()
            raise
        record.error = f"{type(exc).__name__}: {exc}".strip()
        log(f"[{label}] FAILED: {record.error}")
        log("".join(traceback.format_exception(exc)).rstrip())
        _quiet_teardown(backend if set_up else None)
    finally:
        record.memory = sampler.stop() if sampler.samples else None
        kill_descendants()
        record.finished_at = _now()
    return record


def _quiet_teardown(backend, limit_s: float = 20.0) -> None:
    """Best-effort teardown after a failure, bounded in time.

    After a worker died, Pool.terminate() can block forever on a queue lock the dead worker held;
    the processes are killed right after this anyway (kill_descendants).
    """
    if backend is None:
        return

    def attempt():
        with contextlib.suppress(BaseException):
            backend.teardown()

    worker = threading.Thread(target=attempt, name="teardown-after-failure", daemon=True)
    worker.start()
    worker.join(limit_s)
