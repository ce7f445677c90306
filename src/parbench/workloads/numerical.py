"""Benchmark 1, numerical data: convolve one large image with one small filter per core.

Per pass (one timed trial): N tasks, each `convolve2d(image, filter)[::5, ::5]` on a 3000x3000
float64 image (72 MB). The backends differ only in how the image reaches the workers, which is
the post's point: Ray puts it in shared memory once, `Pool.map` pickles it into every task.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from .base import (
    START_METHOD,
    Backend,
    Cell,
    FreeThreadedBackend,
    PoolBackend,
    RayBackend,
    mp_context,
    pool_map,
    sha256_hex,
    start_pool,
)
from .libraries import JoblibBackend
from .shared_buffers import AnonymousSharedArray, describe_buffer, view_of

NAME = "numerical"
WORK_UNIT = "convolutions"


def make_inputs(cell: Cell) -> dict:
    # The original used np.zeros, which makes every output zero and every digest alike. A seeded
    # random image costs the same to convolve and lets the digests prove that the backends agree.
    rng = np.random.default_rng(cell.seed)
    side, fside = cell.sizes.image_side, cell.sizes.filter_side
    return {
        "image": rng.standard_normal((side, side)),
        "filters": [rng.normal(size=(fside, fside)) for _ in range(cell.cores)],
    }


def work_expected(cell: Cell) -> int:
    return cell.cores


def summarize(result: list[np.ndarray]) -> tuple[int, str]:
    return len(result), sha256_hex(np.ascontiguousarray(r).tobytes() for r in result)


def convolve(image: np.ndarray, filt: np.ndarray, stride: int) -> np.ndarray:
    """The unit of work, shared by every backend."""
    return signal.convolve2d(image, filt)[::stride, ::stride]


# ---------------------------------------------------------------------------------- serial


class Serial(Backend):
    name = "serial"
    timed_region = "N convolutions in a loop in the driver"

    def trial(self):
        image, stride = self.inputs["image"], self.cell.sizes.stride
        return [convolve(image, f, stride) for f in self.inputs["filters"]]


# ------------------------------------------------------------------------ multiprocessing


def _convolve_args(args: tuple[np.ndarray, np.ndarray, int]) -> np.ndarray:
    return convolve(*args)


class Multiprocessing(PoolBackend):
    name = "multiprocessing"
    timed_region = "pool.map over N (image, filter) pairs: the image is pickled into every task"
    notes = ("as the original: N copies of the 72 MB image go through pipes per pass",)

    def trial(self):
        n, stride = self.cell.cores, self.cell.sizes.stride
        tasks = zip(n * [self.inputs["image"]], self.inputs["filters"], n * [stride])
        return pool_map(self.pool, _convolve_args, tasks)


# -------------------------------------------------------------------------------------- ray


class Ray(RayBackend):
    name = "ray"
    timed_region = "ray.put(image) once, N tasks that take the object ref, ray.get of all results"
    original_warmups = 5  # "to warm up the Ray object store"; the post gave the others none

    def start(self):
        import ray

        self.remote_convolve = ray.remote(convolve)

    def trial(self):
        import ray

        image_ref = ray.put(self.inputs["image"])
        stride = self.cell.sizes.stride
        return ray.get([self.remote_convolve.remote(image_ref, f, stride) for f in self.inputs["filters"]])


# ------------------------------------------------------------------ multiprocessing_tuned

# Set in each worker by the pool initializer: its view of the driver's shared image.
_shared_image: np.ndarray | None = None


def _attach_inherited_image(buffer, shape: tuple[int, ...], dtype: str) -> None:
    global _shared_image
    # The workers are forked after the mapping exists, so `buffer` is the driver's own MAP_SHARED
    # mapping, inherited: the same pages, not a copy. (Nothing is pickled under fork.)
    _shared_image = view_of(buffer, shape, dtype)


def _shared_image_setup(image: np.ndarray) -> AnonymousSharedArray:
    """The image's shared home, created before the pool forks (driver side).

    An anonymous shared mapping rather than multiprocessing.shared_memory: the latter is a file
    in /dev/shm, and Docker's default 64 MB /dev/shm cannot hold the 72 MB image.
    """
    return AnonymousSharedArray(image.shape, image.dtype)


def _convolve_shared(args: tuple[np.ndarray, int]) -> np.ndarray:
    filt, stride = args
    if _shared_image is None:
        raise RuntimeError("a worker convolved before the pool initializer attached the shared image")
    return convolve(_shared_image, filt, stride)


SHARED_IMAGE_NOTE = ("the image is written once per pass into an anonymous shared mapping (mmap MAP_SHARED, "
                     "created before the workers fork, so they inherit it; the analogue of ray.put); it lives "
                     "in kernel shmem, not in /dev/shm, so /dev/shm's size does not limit it (the record's "
                     "backend facts say what backed it); only the small filters and the results are pickled")


class MultiprocessingTuned(Backend):
    name = "multiprocessing_tuned"
    start_method = START_METHOD
    setup_region = "anonymous shared mapping allocated, Pool(N, initializer=attach) forked"
    timed_region = "one copy of the image into shared memory, pool.map over N filters"
    notes = (SHARED_IMAGE_NOTE,)

    def setup(self):
        image = self.inputs["image"]
        self.shared = _shared_image_setup(image)
        self.pool = start_pool(self.cell.cores, _attach_inherited_image,
                               (self.shared.buffer, image.shape, image.dtype.str))

    def trial(self):
        self.shared.array[:] = self.inputs["image"]
        stride = self.cell.sizes.stride
        return pool_map(self.pool, _convolve_shared, [(f, stride) for f in self.inputs["filters"]])

    def diagnostics(self):
        return {"shared_memory": describe_buffer(self.shared.address)}

    def teardown(self):
        self.pool.terminate()
        self.pool.join()
        self.shared.close()


# ======================================== beyond the original: the libraries people would pick instead


class Joblib(JoblibBackend):
    name = "joblib"
    start_method = "loky"
    setup_region = "Parallel(n_jobs=N, backend='loky') entered once; every worker started and warmed"
    timed_region = ("parallel(delayed(convolve)(image, f) for each of N filters): joblib dumps the image "
                    "once into its memmap folder and the workers map it read-only")
    notes = ("joblib memmaps arrays over max_nbytes='1M' into /dev/shm only if more than 2 GB is free "
             "there, else into the temp folder (JOBLIB_TEMP_FOLDER overrides); the record's backend "
             "facts name the folder it used",
             "a new image object every pass, copied before the timer as the original made a new image "
             "every pass: joblib keys its dumps by array object, so one unchanged array would be dumped "
             "once per Parallel context and never shipped again; each pass's dump stays in the folder "
             "until the context exits",
             "at 1 core joblib runs the tasks in the driver (its n_jobs=1 rule): no worker, no memmap")

    def setup(self):
        from .libraries import start_joblib

        self.parallel = start_joblib(self.cell.cores)

    def before_trial(self):
        self.image = self.inputs["image"].copy()

    def trial(self):
        from joblib import delayed

        image, stride = self.image, self.cell.sizes.stride
        return self.parallel(delayed(convolve)(image, f, stride) for f in self.inputs["filters"])


class ConcurrentFutures(Backend):
    name = "concurrent_futures"
    start_method = START_METHOD
    setup_region = "anonymous shared mapping allocated, ProcessPoolExecutor(N, initializer=attach) forked"
    timed_region = "one copy of the image into shared memory, executor.map over N filters"
    notes = ("ProcessPoolExecutor has no idiom of its own for one large shared input: passing the image "
             "per task pickles it N times (the original's cost), and initializer arguments are sent once "
             "at start while the image is new every pass; so it reuses multiprocessing_tuned's "
             "shared-memory path and differs only in the pool (Executor.map instead of Pool.map)",
             SHARED_IMAGE_NOTE)

    def setup(self):
        from .libraries import start_executor

        image = self.inputs["image"]
        self.shared = _shared_image_setup(image)
        self.executor = start_executor(self.cell.cores, _attach_inherited_image,
                                       (self.shared.buffer, image.shape, image.dtype.str))

    def trial(self):
        self.shared.array[:] = self.inputs["image"]
        stride = self.cell.sizes.stride
        return list(self.executor.map(_convolve_shared, [(f, stride) for f in self.inputs["filters"]]))

    def diagnostics(self):
        return {"shared_memory": describe_buffer(self.shared.address)}

    def teardown(self):
        from .libraries import stop_executor

        stop_executor(self.executor)
        self.shared.close()


class Dask(Backend):
    name = "dask"
    start_method = "spawn"
    setup_region = "LocalCluster(n_workers=N, threads_per_worker=1, processes=True) and Client started"
    timed_region = ("client.scatter(image, broadcast=True) once, N client.submit(convolve, image_future, f), "
                    "client.gather of all results")
    notes = ("scatter with hash=False: a new key every pass, so every pass ships the image as ray.put does "
             "(the default content hash would also cost a pass over 72 MB)",
             "the gather is inside the timer: results reach the driver as in every other backend")

    def setup(self):
        from .libraries import start_dask

        self.cluster, self.client = start_dask(self.cell.cores)

    def trial(self):
        image_future = self.client.scatter(self.inputs["image"], broadcast=True, hash=False)
        stride = self.cell.sizes.stride
        futures = [self.client.submit(convolve, image_future, f, stride) for f in self.inputs["filters"]]
        return self.client.gather(futures)

    def teardown(self):
        from .libraries import stop_dask

        stop_dask(self.cluster, self.client)


def _convolve_mpire_shared(shared_image: np.ndarray, filt: np.ndarray, stride: int) -> np.ndarray:
    return convolve(shared_image, filt, stride)


def _mpire_ready(shared_image: np.ndarray, _: int) -> int:
    return int(shared_image.shape[0])


class Mpire(Backend):
    name = "mpire"
    start_method = START_METHOD
    setup_region = "shared RawArray the size of the image; WorkerPool(N, shared_objects=its view, keep_alive) started"
    timed_region = "one copy of the image into the shared array, pool.map over N filters"
    notes = ("mpire hands shared_objects to the workers once, at fork (copy-on-write); a new image every "
             "pass therefore goes through a shared multiprocessing RawArray (the mutable shared object "
             "mpire's docs point to), written once per pass like ray.put",
             "multiprocessing maps a RawArray from a heap arena file that it puts in /dev/shm when /dev/shm "
             "has room for it, else in the temp folder (on disk in a container); the record's backend facts "
             "say which, and the report flags the second")

    def setup(self):
        from .libraries import start_mpire

        image = self.inputs["image"]
        # RawArray memory is a shared mapping: what the driver writes after the fork, workers see
        self.raw = mp_context().RawArray("b", image.nbytes)
        self.view = np.frombuffer(self.raw, dtype=image.dtype).reshape(image.shape)
        self.pool = start_mpire(self.cell.cores, _mpire_ready, range(self.cell.cores), shared_objects=self.view)

    def diagnostics(self):
        import ctypes

        return {"shared_memory": describe_buffer(ctypes.addressof(self.raw))}

    def trial(self):
        self.view[:] = self.inputs["image"]
        stride = self.cell.sizes.stride
        # concatenate_numpy_output=False: mpire would otherwise stack the N results into one array
        return self.pool.map(_convolve_mpire_shared, [(f, stride) for f in self.inputs["filters"]], chunk_size=1,
                             concatenate_numpy_output=False)

    def teardown(self):
        self.pool.terminate()


class Threads(Backend):
    name = "threads"
    setup_region = "ThreadPoolExecutor(max_workers=N) created (threads start on first use, in microseconds)"
    timed_region = "executor.map(convolve) over N filters in threads of the driver, the image shared by reference"
    pinning = "the driver and its threads pinned to the run's CPUs"
    notes = ("negative control: scipy.signal.convolve2d holds the GIL, so N threads run the N "
             "convolutions one at a time; nothing is copied",)

    def setup(self):
        from concurrent.futures import ThreadPoolExecutor

        self.executor = ThreadPoolExecutor(max_workers=self.cell.cores)

    def trial(self):
        n, stride = self.cell.cores, self.cell.sizes.stride
        return list(self.executor.map(convolve, n * [self.inputs["image"]], self.inputs["filters"], n * [stride]))

    def teardown(self):
        self.executor.shutdown(wait=True)


# ============================ beyond the original: CPython's own answer, threads without the GIL


class FreeThreading(FreeThreadedBackend):
    name = "free_threading"
    timed_region = ("executor.map(convolve) over N filters in threads of the driver on a free-threaded "
                    "interpreter, the image shared by reference")
    notes = ("the threads code on a free-threaded CPython build (PEP 703): N convolutions can run at once; "
             "nothing is copied, the threads read the one image",)

    def start(self):
        from concurrent.futures import ThreadPoolExecutor

        self.executor = ThreadPoolExecutor(max_workers=self.cell.cores)

    # The threads code itself, unchanged: only the interpreter differs.
    trial = Threads.trial
    teardown = Threads.teardown


BACKENDS = {b.name: b for b in (Serial, Multiprocessing, Ray, MultiprocessingTuned,
                                Joblib, ConcurrentFutures, Dask, Mpire, Threads, FreeThreading)}
