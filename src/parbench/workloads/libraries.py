"""Starting and stopping the alternative libraries' workers the same way in every workload.

Each start helper returns only once every worker is up and has imported the workloads, so that
worker start-up belongs to setup and never to the first trial; each stop helper leaves no worker
process behind. Libraries are imported here only when their backend runs.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor

from .base import Backend, _initialize_and_report, mp_context

WORKER_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")


def _pid_after(delay: float, prepare=None, args: tuple = ()) -> int:
    """A warm-up task: unpickling it imports parbench.workloads (numpy, scipy) in the worker."""
    if prepare is not None:
        prepare(*args)
    time.sleep(delay)  # long enough that an idle worker takes the next task, not a busy one
    return os.getpid()


def _worker_thread_variables() -> dict[str, str | None]:
    return {name: os.environ.get(name) for name in WORKER_THREAD_VARIABLES}


# ---------------------------------------------------------------------- concurrent.futures


def start_executor(cores: int, initializer=None, initargs: tuple = (), timeout: float = 600.0) -> ProcessPoolExecutor:
    """ProcessPoolExecutor(N, fork) that returns only once every worker has run its initializer."""
    ctx = mp_context()
    ready = ctx.Queue()
    executor = ProcessPoolExecutor(cores, mp_context=ctx, initializer=_initialize_and_report,
                                   initargs=(ready, initializer, initargs))
    probe = executor.submit(os.getpid)  # with fork, the first submit starts all N workers at once
    for _ in range(cores):
        error = ready.get(timeout=timeout)
        if error is not None:
            executor.shutdown(wait=True, cancel_futures=True)
            raise RuntimeError(f"an executor worker failed to start: {error}")
    probe.result(timeout=timeout)
    return executor


def stop_executor(executor: ProcessPoolExecutor) -> None:
    executor.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------------------------- joblib


def start_joblib(cores: int, prepare=None, args: tuple = (), attempts: int = 20):
    """One `Parallel(n_jobs=N)` entered for the whole cell, as joblib's docs advise for repeated
    calls, and warmed until every loky worker has run `prepare` (joblib cannot address a worker)."""
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=cores, backend="loky", return_as="list", max_nbytes="1M", mmap_mode="r")
    parallel.__enter__()
    seen: set[int] = set()
    for _ in range(attempts):
        seen.update(parallel(delayed(_pid_after)(0.05, prepare, args) for _ in range(cores)))
        # n_jobs=1 runs in the driver: one pid is then all there is
        if len(seen) >= cores or seen == {os.getpid()}:
            return parallel
    stop_joblib(parallel)
    raise RuntimeError(f"only {len(seen)} of {cores} joblib workers took a warm-up task")


def stop_joblib(parallel) -> None:
    # Leaving the context keeps loky's reusable workers alive for later calls, and the CLI exits
    # without atexit handlers; stop the workers and delete the memmap folders here.
    executor = getattr(parallel._backend, "_workers", None)
    parallel.__exit__(None, None, None)
    if executor is not None:
        executor.terminate(kill_workers=False)


def joblib_facts(parallel, cores: int) -> dict:
    """Where joblib put its memmaps (None when it ran in the driver) and the workers' thread caps."""
    from joblib import delayed

    if cores == 1:
        return {"library": "joblib", "memmap_folder": None, "note": "n_jobs=1 runs in the driver"}
    try:  # private: the folder joblib resolved for this Parallel's context
        folder = parallel._backend._workers._temp_folder_manager.resolve_temp_folder_name()
    except Exception:  # noqa: BLE001 - a fact for the record, never a failure
        folder = None
    return {
        "library": "joblib",
        "memmap_folder": os.path.dirname(folder) if folder else None,
        "memmap_in_dev_shm": folder.startswith("/dev/shm/") if folder else None,
        "memmap_folder_created": os.path.isdir(folder) if folder else None,
        "joblib_temp_folder_env": os.environ.get("JOBLIB_TEMP_FOLDER"),
        "worker_thread_variables": parallel([delayed(_worker_thread_variables)()])[0],
    }


# ------------------------------------------------------------------------------------ dask


def start_dask(cores: int):
    """LocalCluster of N single-threaded worker processes and its Client; every worker up and
    with the workloads imported."""
    from distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.ERROR)
    cluster = LocalCluster(n_workers=cores, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR)
    try:
        client = Client(cluster)
        client.wait_for_workers(cores)
        client.run(_pid_after, 0.0)  # imports the workloads in every worker
    except BaseException:
        cluster.close()
        raise
    return cluster, client


def stop_dask(cluster, client) -> None:
    client.close()
    cluster.close()


def dask_workers(client) -> list[str]:
    """Worker addresses in the order of their names (LocalCluster names them 0..N-1)."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    return [address for address, _ in sorted(workers.items(), key=lambda item: int(item[1]["name"]))]


# ----------------------------------------------------------------------------------- mpire


def start_mpire(cores: int, warm_func, warm_args, worker_init=None, **pool_kwargs):
    """mpire WorkerPool (fork, keep_alive, task k dealt to worker k % N) started by one warm-up map
    with one task per worker, so that every worker has run `worker_init` before the timer.
    Later maps must pass the same `worker_init` (mpire restarts nothing then)."""
    from mpire import WorkerPool

    pool = WorkerPool(n_jobs=cores, start_method="fork", keep_alive=True, order_tasks=True, **pool_kwargs)
    try:
        pool.map(warm_func, warm_args, worker_init=worker_init, chunk_size=1)
    except BaseException:
        pool.terminate()
        raise
    return pool


class JoblibBackend(Backend):
    """What every workload's joblib backend shares: one `Parallel` (set up by the subclass as
    `self.parallel`) kept for the whole cell, its facts recorded, its workers stopped."""

    def diagnostics(self):
        return joblib_facts(self.parallel, self.cell.cores)

    def teardown(self):
        stop_joblib(self.parallel)
