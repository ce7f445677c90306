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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from . import __version__
from .catalog import worker_threads
from .machine import describe_machine, describe_software, machine_hash, shm_status, threadpools
from .records import NOT_APPLICABLE, Memory, Protocol, Record, Trial, config_hash
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
        if shm["total_bytes"] is None or shm["free_bytes"] is None:
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
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RunOptions:
    """How one cell round is run: everything that is not the cell itself."""

    preset: str
    trials: int
    warmup: int | None  # None = the original's per-backend choice
    timeout_s: float | None = None
    round: int = 0
    config_fields: dict | None = None
    foreign_load_before: dict[str, float] | None = None  # measured by the CLI before anything loaded
    oversubscribed: bool = False
    protocol: str = "original"  # or "alternative": the backend's alternative_protocol for the trials
    comparison_passes: int = 1  # passes under the other protocol after the trials, where there is one


class ProtocolError(ValueError):
    """An alternative protocol was asked of a backend that has none."""

def protocol_for(cell: Cell, backend_cls, warmup: int | None, variant: str = "original") -> Protocol:
    """The record's account of what is timed, from the backend's own declarations."""
    if variant == "alternative" and backend_cls.alternative_protocol is None:
        raise ProtocolError(f"the {cell.workload}/{cell.backend} backend has no alternative protocol; "
                            f"use --protocol original")
    protocol = Protocol(
        timed_region=backend_cls.timed_region,
        setup_region=backend_cls.setup_region,
        warmups=backend_cls.original_warmups if warmup is None else warmup,
        warmup_policy="original" if warmup is None else "override",
        start_method=backend_cls.start_method,
        worker_threads=worker_threads(cell.workload, cell.backend, cell.cores),
        pinning=backend_cls.pinning,
        notes=list(backend_cls.notes),
        before_trial=backend_cls.before_trial_region,
        variant=variant,
    )
    if variant == "alternative":
        protocol.notes.append(f"protocol override (alternative): {backend_cls.alternative_protocol}")
    if cell.ray_address:  # the CLI passes an address to Ray backends only
        from .ray_session import describe_cluster_protocol

        describe_cluster_protocol(protocol, cell.ray_address)
    return protocol


def new_record(cell: Cell, workload, protocol: Protocol, options: RunOptions, machine: dict) -> Record:
    """A record in state "failed" with no timings; the measurement fills it in."""
    return Record(
        workload=cell.name, backend=cell.backend, cores=cell.cores, preset=options.preset,
        sizes=dict(vars(cell.sizes)), status="failed", error=None, protocol=protocol,
        setup_seconds=None, teardown_seconds=None, warmup_seconds=[], before_trial_seconds=[], trials=[],
        work_expected=workload.work_expected(cell), memory=None, pinned_cpus=list(cell.cpus),
        process_tree={}, backend_facts=None, machine=machine, software=describe_software(),
        config_hash=config_hash(**(options.config_fields or {}), parbench=__version__),
        machine_hash=machine_hash(machine), started_at=_now(), finished_at="", round=options.round,
        foreign_load_before=options.foreign_load_before, oversubscribed=options.oversubscribed,
    )


def process_startup_seconds() -> float:
    """Seconds from this process's start (an exec, as the free-threaded re-exec, keeps it) to now.

    The kernel's start time (/proc/self/stat, clock ticks since boot) is read against the same clock,
    CLOCK_BOOTTIME: psutil's create_time() adds the boot time in whole seconds and the wall clock,
    which put a 1.2 s process's start-up at 1.6 s here. Elsewhere psutil's figure is the fallback.
    """
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22, starttime
        return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME) - started)
    except (OSError, IndexError, ValueError, AttributeError):
        return max(0.0, time.time() - psutil.Process().create_time())


def _timed(step: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = step()
    return result, time.perf_counter() - start


def _compare_protocols(backend, workload, record: Record, passes: int, log, label: str) -> None:
    """A few passes under the backend's other protocol, after the trials, for the report's comparison."""
    other = record.protocol.variant != "alternative"
    backend.use_alternative(other)
    comparison: dict[str, Any] = {"protocol": backend.alternative_protocol if other else "the original protocol",
                  "variant": "alternative" if other else "original", "seconds": [], "before_trial_seconds": []}
    for _ in range(passes):
        _, before = _timed(backend.before_trial)
        result, seconds = _timed(backend.trial)
        work_done, digest = workload.summarize(result)
        if digest != record.trials[-1].digest:
            raise RuntimeError(f"the {comparison['variant']} protocol computed another result ({digest})")
        comparison["before_trial_seconds"].append(before)
        comparison["seconds"].append(seconds)
    backend.use_alternative(not other)
    record.comparison = comparison
    log(f"[{label}] {passes} pass(es) under the {comparison['variant']} protocol: "
        + ", ".join(f"{s:.3f}" for s in comparison["seconds"]))


def _measure(backend, workload, record: Record, trials: int, rearm_signals, log: Callable[[str], None],
             label: str, comparison_passes: int = 0) -> None:
    """setup -> warm-ups -> trials -> diagnostics -> teardown, each timed on its own."""
    _, record.setup_seconds = _timed(backend.setup)
    rearm_signals()
    log(f"[{label}] setup {record.setup_seconds:.3f} s ({record.protocol.setup_region})")
    for _ in range(record.protocol.warmups):
        _, before = _timed(backend.before_trial)
        record.before_trial_seconds.append(before)
        _, seconds = _timed(backend.trial)
        record.warmup_seconds.append(seconds)
    if record.warmup_seconds:
        log(f"[{label}] {len(record.warmup_seconds)} warm-up passes: "
            + ", ".join(f"{s:.3f}" for s in record.warmup_seconds))
    for index in range(trials):
        _, before = _timed(backend.before_trial)
        record.before_trial_seconds.append(before)
        result, seconds = _timed(backend.trial)  # the timed region: exactly the backend's trial()
        work_done, digest = workload.summarize(result)
        del result
        record.trials.append(Trial(index, seconds, work_done, digest))
        log(f"[{label}] trial {index + 1}/{trials}: {seconds:.3f} s, "
            f"{work_done}/{record.work_expected} {workload.WORK_UNIT}, digest {digest}")
    record.process_tree = process_tree()
    if backend.alternative_protocol is not None and comparison_passes:
        _compare_protocols(backend, workload, record, comparison_passes, log, label)
    record.backend_facts = backend.diagnostics()
    cell_facts = getattr(workload, "cell_facts", None)
    if cell_facts is not None:
        record.workload_facts = cell_facts(backend.cell)
    record.software["threadpools"] = threadpools()


def run_cell(cell: Cell, options: RunOptions, machine: dict | None = None,
             log: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True)) -> Record:
    """Run one round of one (workload, backend, cores) cell; return its record (status ok or failed)."""
    harness_start = time.perf_counter()
    startup_seconds = process_startup_seconds()
    workload = get_workload(cell.workload)
    backend_cls = get_backend(workload, cell.backend)
    machine = machine or describe_machine()  # the CLI describes it before pinning narrows the view
    protocol = protocol_for(cell, backend_cls, options.warmup, options.protocol)
    record = new_record(cell, workload, protocol, options, machine)
    record.startup_seconds = startup_seconds
    label = f"{cell.name}/{cell.backend}/{cell.cores} cores, round {options.round}"
    reason = backend_cls.unavailable()
    if reason:
        record.status, record.error, record.finished_at = NOT_APPLICABLE, reason, _now()
        record.harness_seconds = time.perf_counter() - harness_start
        log(f"[{label}] not applicable: {reason}")
        return record
    sampler = MemorySampler()
    backend = None
    torn_down = True  # teardown is attempted after a failure once setup has begun
    try:
        with time_limit(options.timeout_s) as rearm_signals:
            backend = backend_cls(cell, workload.make_inputs(cell))
            backend.use_alternative(options.protocol == "alternative")
            sampler.start()
            torn_down = False
            _measure(backend, workload, record, options.trials, rearm_signals, log, label, options.comparison_passes)
            torn_down = True
            _, record.teardown_seconds = _timed(backend.teardown)
            log(f"[{label}] teardown {record.teardown_seconds:.3f} s")
        record.status = "ok"
    except (Interrupted, KeyboardInterrupt):
        _quiet_teardown(None if torn_down else backend)
        kill_descendants()
        raise
    except BaseException as exc:  # noqa: BLE001 - every other failure becomes a failed record
        record.error = f"{type(exc).__name__}: {exc}".strip()
        log(f"[{label}] FAILED: {record.error}")
        log("".join(traceback.format_exception(exc)).rstrip())
        _quiet_teardown(None if torn_down else backend)
    finally:
        record.memory = sampler.stop() if sampler.samples else None
        kill_descendants()
        record.finished_at = _now()
        record.harness_seconds = time.perf_counter() - harness_start
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
