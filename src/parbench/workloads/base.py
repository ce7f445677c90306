"""The contract between the harness and a workload's backends.

A backend is a class with `setup()`, `before_trial()` (untimed), `trial() -> result` (the timed
region, exactly what the original timed) and `teardown()`. It declares in words what its timed
region and setup hold; the harness copies that into every record. The harness owns timing,
warm-ups, pinning, memory sampling and the record; the workload module owns inputs, work counts
and digests.
"""

from __future__ import annotations

import hashlib
import multiprocessing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..catalog import PER_WORD, cell_workload

# The original ran on Linux with Python 3.6/3.7, whose default start method was fork. Python 3.14
# changed the default to forkserver, so it is named explicitly and recorded.
START_METHOD = "fork"


def mp_context() -> multiprocessing.context.ForkContext:
    return multiprocessing.get_context("fork")  # START_METHOD, spelled out for the type checker


def _initialize_and_report(ready, initializer, initargs) -> None:
    try:
        if initializer is not None:
            initializer(*initargs)
    except Exception as exc:
        ready.put(f"{type(exc).__name__}: {exc}")
        raise
    ready.put(None)


def start_pool(cores: int, initializer=None, initargs: tuple = (), timeout: float = 600.0):
    """Pool(N) that returns only once every worker has run its initializer.

    Worker start-up then belongs to setup, never to the first trial. A failing initializer is
    reported here; a bare Pool would restart such workers forever.
    """
    ctx = mp_context()
    ready = ctx.Queue()
    pool = ctx.Pool(cores, initializer=_initialize_and_report, initargs=(ready, initializer, initargs))
    for _ in range(cores):
        error = ready.get(timeout=timeout)
        if error is not None:
            pool.terminate()
            raise RuntimeError(f"a pool worker failed to start: {error}")
    return pool


def pool_map(pool, func, iterable):
    """`pool.map`, except that a worker killed mid-task raises instead of hanging forever.

    Pool.map is map_async(...).get(); waiting in short slices lets us notice a dead worker
    (its task is lost and would never complete). The extra cost is a liveness check every 0.2 s.
    """
    pending = pool.map_async(func, iterable)
    workers = list(pool._pool)  # the processes that hold this map's tasks
    while not pending.ready():
        pending.wait(0.2)
        dead = [w for w in workers if w.exitcode is not None]
        if dead and not pending.ready():
            codes = ", ".join(f"pid {w.pid} exit code {w.exitcode}" for w in dead)
            raise RuntimeError(f"a pool worker died during the trial ({codes}); its task is lost")
    return pending.get()


@dataclass(frozen=True)
class Cell:
    """One (workload, backend, cores) measurement and everything its backends need to run."""

    workload: str
    backend: str
    cores: int
    cpus: tuple[int, ...]  # the logical CPU ids the run is pinned to, one per physical core
    sizes: Any  # the workload's sizes dataclass (presets.py)
    seed: int
    resources: Path  # prepared model and data (expensive_init)
    ray_address: str | None = None
    document_generation: str = PER_WORD  # stateful: how the driver makes a document (workloads/stateful.py)

    @property
    def name(self) -> str:
        """What the record calls the cell's workload: the workload, or its variant (catalog.py)."""
        return cell_workload(self.workload, self.document_generation)


class Backend:
    """Base class: subclasses fill in the class attributes and the four methods."""

    name: ClassVar[str]
    timed_region: ClassVar[str]
    setup_region: ClassVar[str] = "nothing"
    before_trial_region: ClassVar[str] = "nothing"  # what before_trial() does, untimed, before every pass
    original_warmups: ClassVar[int] = 0  # the original's untimed warm-up passes for this backend
    start_method: ClassVar[str | None] = None
    pinning: ClassVar[str] = "process tree pinned to the run's CPUs"
    notes: ClassVar[tuple[str, ...]] = ()
    # A second way to time the same work, measured after the trials for comparison (or instead, with
    # `parbench run --protocol alternative`): its description, or None when the backend has none.
    alternative_protocol: ClassVar[str | None] = None

    def __init__(self, cell: Cell, inputs: Any):
        self.cell = cell
        self.inputs = inputs
        self.alternative = False  # True while the alternative protocol is in use

    def use_alternative(self, alternative: bool) -> None:
        self.alternative = alternative

    def setup(self) -> None:
        pass

    def before_trial(self) -> None:
        pass

    def trial(self) -> Any:
        raise NotImplementedError

    def teardown(self) -> None:
        pass

    def diagnostics(self) -> dict[str, Any] | None:
        """Backend facts for the record (e.g. Ray's object-store placement); called before teardown."""
        return None

    @classmethod
    def unavailable(cls) -> str | None:
        """Why this backend cannot run this workload at all (the cell is then "not applicable"), or None."""
        return None


class FreeThreadedBackend(Backend):
    """Threads of the driver on a free-threaded CPython (no GIL); subclasses add `start()` and `trial()`.

    The GIL must stay off from the cell runner's imports to the last trial: it is read after the
    imports, after setup and after the trials (gil.py), and a module that turned it back on fails
    the cell with a sentence naming it. The readings go into the record's backend facts.
    """

    setup_region: ClassVar[str] = "ThreadPoolExecutor(max_workers=N) created (threads start on first use)"
    pinning: ClassVar[str] = "the driver and its threads pinned to the run's CPUs"

    def setup(self) -> None:
        from ..gil import start_watch

        self.gil = start_watch()  # started by the CLI before numpy loaded; here when called directly
        self.gil.check("imports")
        self.start()
        self.gil.check("setup")

    def start(self) -> None:
        """Backend-specific setup (executors, states)."""

    def diagnostics(self) -> dict[str, Any] | None:
        self.gil.check("trials")
        return self.gil.facts()


class RayBackend(Backend):
    """A backend on Ray: the session (local and pinned, or attached to a cluster) is started in setup
    and stopped in teardown the same way for every workload; subclasses add `start()` and `trial()`."""

    setup_region: ClassVar[str] = "ray.init(num_cpus=N)"
    pinning: ClassVar[str] = "process tree (raylet and workers) pinned to the run's CPUs"

    def setup(self) -> None:
        from ..ray_session import RaySession

        self.session = RaySession(self.cell.cores, self.cell.ray_address)
        self.session.start()
        self.start()

    def start(self) -> None:
        """Backend-specific setup once Ray runs (remote functions, actors)."""

    def diagnostics(self) -> dict[str, Any] | None:
        return self.session.diagnostics()

    def teardown(self) -> None:
        self.session.stop()


class PoolBackend(Backend):
    """A backend on one multiprocessing.Pool (fork), started and stopped the same way everywhere."""

    start_method: ClassVar[str | None] = START_METHOD
    setup_region: ClassVar[str] = "Pool(N) start"

    def pool_initializer(self) -> tuple[Any, tuple]:
        """(initializer, initargs) for every worker; (None, ()) for none."""
        return None, ()

    def setup(self) -> None:
        initializer, initargs = self.pool_initializer()
        self.pool = start_pool(self.cell.cores, initializer, initargs)

    def teardown(self) -> None:
        self.pool.terminate()
        self.pool.join()


def sha256_hex(chunks) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()[:16]
