"""B1 numerical's primitives (workloads/numerical.py)."""

from __future__ import annotations

from .core import (
    SEED,
    Recorder,
)
from .transport import _first_shape


def measure_numerical(rec: Recorder, sizes, cpus: list[int]) -> list[int]:
    """Returns the payload sizes (bytes) whose pipe transfer the model needs."""

    import numpy as np

    from ..workloads.base import pool_map, start_pool
    from ..workloads.numerical import _shared_image_setup, convolve

    rng = np.random.default_rng(SEED)
    image = rng.standard_normal((sizes.image_side, sizes.image_side))
    filt = rng.normal(size=(sizes.filter_side, sizes.filter_side))
    stride = sizes.stride

    rec.time("numerical.convolve", lambda: convolve(image, filt, stride), "worker",
             "convolve(image, filter, stride): the unit of work (one task)")
    task = (image, filt, stride)
    task_bytes = rec.time_pickling(
        task, ("numerical.dumps_task", "driver", "ForkingPickler.dumps((image, filter, stride)): Pool's task handler "
                                                 "pickling one task"),
        ("numerical.loads_task", "worker", "pickle.loads of that task in the worker"))
    result = convolve(image, filt, stride)
    result_bytes = rec.time_pickling(
        result, ("numerical.dumps_result", "worker", "pickling one convolution result in the worker"),
        ("numerical.loads_result", "driver", "unpickling one result in the driver's result handler"))
    rec.facts["numerical.task_bytes"] = task_bytes
    rec.facts["numerical.result_bytes"] = result_bytes
    rec.facts["numerical.result_shape"] = list(result.shape)

    shared = _shared_image_setup(image)

    def copy_in() -> None:
        assert shared.array is not None
        np.copyto(shared.array, image)

    try:
        rec.time("numerical.shm_copy_image", copy_in, "driver",
                 "image copied into the anonymous shared mapping multiprocessing_tuned uses")
    finally:
        shared.close()

    pool = start_pool(1)
    try:
        rec.time("numerical.pool_image_round_trip", lambda: pool_map(pool, _first_shape, [task]), "driver+worker",
                 "check: pool_map of one task carrying the image to a worker that returns its shape "
                 "(= dumps_task + pipe + loads_task + pool round trip)")
    finally:
        pool.terminate()
        pool.join()
    return [task_bytes, result_bytes]
