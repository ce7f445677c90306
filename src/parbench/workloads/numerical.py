"""Benchmark 1, numerical data: convolve one large image with one small filter per core.

Per pass (one timed trial): N tasks, each `convolve2d(image, filter)[::5, ::5]` on a 3000x3000
float64 image (72 MB). The backends differ only in how the image reaches the workers, which is
the post's point: Ray puts it in shared memory once, `Pool.map` pickles it into every task.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from .base import START_METHOD, Backend, Cell, pool_map, sha256_hex, start_pool

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


class Multiprocessing(Backend):
    name = "multiprocessing"
    start_method = START_METHOD
    setup_region = "Pool(N) start"
    timed_region = "pool.map over N (image, filter) pairs: the image is pickled into every task"
    notes = ("as the original: N copies of the 72 MB image go through pipes per pass",)

    def setup(self):
        self.pool = start_pool(self.cell.cores)

    def trial(self):
        n, stride = self.cell.cores, self.cell.sizes.stride
        return pool_map(self.pool, _convolve_args, zip(n * [self.inputs["image"]], self.inputs["filters"], n * [stride]))

    def teardown(self):
        self.pool.terminate()
        self.pool.join()


# -------------------------------------------------------------------------------------- ray


class Ray(Backend):
    name = "ray"
    setup_region = "ray.init(num_cpus=N)"
    timed_region = "ray.put(image) once, N tasks that take the object ref, ray.get of all results"
    original_warmups = 5  # "to warm up the Ray object store"; the post gave the others none
    pinning = "process tree (raylet and workers) pinned to the run's CPUs"

    def setup(self):
        import ray

        from ..ray_session import RaySession

        self.session = RaySession(self.cell.cores, self.cell.ray_address)
        self.session.start()
        self.remote_convolve = ray.remote(convolve)

    def trial(self):
        import ray

        image_ref = ray.put(self.inputs["image"])
        stride = self.cell.sizes.stride
        return ray.get([self.remote_convolve.remote(image_ref, f, stride) for f in self.inputs["filters"]])

    def diagnostics(self):
        return self.session.diagnostics()

    def teardown(self):
        self.session.stop()


# ------------------------------------------------------------------ multiprocessing_tuned

# Set in each worker by the pool initializer: its view of the driver's shared segment.
_shared_segment = None
_shared_image: np.ndarray | None = None


def _attach_shared_image(name: str, shape: tuple[int, ...], dtype: str) -> None:
    global _shared_image, _shared_segment
    from multiprocessing import resource_tracker, shared_memory

    _shared_segment = shared_memory.SharedMemory(name=name)
    # Before Python 3.13 an attaching process also registers the segment and may unlink it at
    # exit (cpython#82300); only the driver owns it.
    resource_tracker.unregister(_shared_segment._name, "shared_memory")
    _shared_image = np.ndarray(shape, dtype=dtype, buffer=_shared_segment.buf)


def _convolve_shared(args: tuple[np.ndarray, int]) -> np.ndarray:
    filt, stride = args
    return convolve(_shared_image, filt, stride)


class MultiprocessingTuned(Backend):
    name = "multiprocessing_tuned"
    start_method = START_METHOD
    setup_region = "shared_memory segment allocation, Pool(N, initializer=attach) start"
    timed_region = "one copy of the image into shared memory, pool.map over N filters"
    notes = ("the image is written once per pass into a multiprocessing.shared_memory segment "
             "(the analogue of ray.put); only the small filters and the results are pickled",)

    def setup(self):
        from multiprocessing import shared_memory

        from ..machine import shm_status

        image = self.inputs["image"]
        free = shm_status()["free_bytes"]
        if free is not None and free < image.nbytes:
            # Writing past a too-small tmpfs kills the process with SIGBUS; fail with a sentence instead.
            raise RuntimeError(
                f"/dev/shm has {free} bytes free but the image needs {image.nbytes}; "
                f"run the container with a larger --shm-size (see README)"
            )
        self.segment = shared_memory.SharedMemory(create=True, size=image.nbytes)
        self.view = np.ndarray(image.shape, dtype=image.dtype, buffer=self.segment.buf)
        self.pool = start_pool(self.cell.cores, _attach_shared_image,
                               (self.segment.name, image.shape, image.dtype.str))

    def trial(self):
        self.view[:] = self.inputs["image"]
        stride = self.cell.sizes.stride
        return pool_map(self.pool, _convolve_shared, [(f, stride) for f in self.inputs["filters"]])

    def teardown(self):
        self.pool.terminate()
        self.pool.join()
        del self.view
        self.segment.close()
        self.segment.unlink()


BACKENDS = {b.name: b for b in (Serial, Multiprocessing, Ray, MultiprocessingTuned)}
