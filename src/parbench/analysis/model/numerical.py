"""B1 numerical (workloads/numerical.py): the model of one trial per backend."""

from __future__ import annotations

from .core import (
    DRIVER,
    FIXED,
    WORKERS,
    ModelInputs,
    Prediction,
    _bounded,
    _pipe_cpu,
    _pipe_wall,
    _single,
    _term,
)


def numerical_serial(n: int, m: ModelInputs) -> Prediction:
    """`Serial.trial`: N convolutions, one after another, in the driver.

    T(N) = N x convolve. One process: capacity does not enter.
    """
    return _single("numerical", "serial", n, [_term("convolve", DRIVER, n, m.costs("numerical.convolve"))])


def _pool_image_task(m: ModelInputs, n: int) -> dict[str, float]:
    c = m.costs
    return {"dumps": c("numerical.dumps_task"), "loads": c("numerical.loads_task"),
            "pipe_wall": _pipe_wall(m, c.fact("numerical.task_bytes"), n),
            "pipe_cpu": _pipe_cpu(m, c.fact("numerical.task_bytes"))}


def _result_return(m: ModelInputs, n: int, prefix: str, nbytes: float) -> tuple[float, float]:
    """(wall, cpu) of sending one result back through the Pool's result pipe."""
    c = m.costs
    base = c(f"{prefix}.dumps_result") + c(f"{prefix}.loads_result")
    return base + _pipe_wall(m, nbytes, n), base + _pipe_cpu(m, nbytes)


def numerical_multiprocessing(n: int, m: ModelInputs) -> Prediction:
    """`Multiprocessing.trial`: pool.map over N (image, filter, stride) tasks.

    Driver (Pool's task handler thread, one task after the other): pickle the task with its 72 MB
    image, write it into the pipe. Worker: unpickle, convolve, send the result back; the driver's
    result handler unpickles it. A worker starts as soon as its task has arrived, so the driver's
    sends overlap the workers' convolutions:

        span = pool round trip + N x (dumps_task + pipe) + loads_task + convolve + result return
        work = pool round trip + (N - 1) x pool per task + N x (dumps_task + pipe + loads_task + convolve
               + result return), pipes at both ends' CPU time
        T(N) = max(span, work / capacity(N))
    """
    c = m.costs
    task = _pool_image_task(m, n)
    conv = c("numerical.convolve")
    ret_wall, ret_cpu = _result_return(m, n, "numerical", c.fact("numerical.result_bytes"))
    rt, per_task = c("transport.pool_round_trip"), c("transport.pool_per_task")
    cap, assumption = m.capacity.at(n)
    span = [
        _term("Pool.map call", FIXED, 1, rt),
        _term("pickling the task with the image", DRIVER, n, task["dumps"]),
        _term("writing the image into the pipe", DRIVER, n, task["pipe_wall"]),
        _term("unpickling the image in the last worker", WORKERS, 1, task["loads"]),
        _term("convolve (last task)", WORKERS, 1, conv),
        _term("returning the last result", WORKERS, 1, ret_wall),
    ]
    work = [
        _term("Pool.map call", FIXED, 1, rt),
        _term("Pool per-task overhead", DRIVER, n - 1, per_task),
        _term("pickling the task with the image", DRIVER, n, task["dumps"]),
        _term("the image through the pipe (both ends)", DRIVER, n, task["pipe_cpu"]),
        _term("unpickling the image in the workers", WORKERS, n, task["loads"]),
        _term("convolve", WORKERS, n, conv),
        _term("returning the results", WORKERS, n, ret_cpu),
    ]
    return _bounded("numerical", "multiprocessing", n, span, work, cap, [assumption])


def numerical_ray(n: int, m: ModelInputs) -> Prediction:
    """`Ray.trial`: ray.put(image) once, N tasks taking the object ref, ray.get of the N results.

    The driver puts the image once and submits the N tasks; each task maps the image from the
    object store and returns its result (the primitive `numerical.ray_task_image_result`: a task that
    receives the image by reference and returns a result-sized array, driver to driver):

        span = put + (N - 1) x task submit + task with image and result + convolve
        work = put + N x (task with image and result + convolve)
        T(N) = max(span, work / capacity(N))
    """
    c = m.costs
    put, submit = c("numerical.ray_put_image"), c("ray.task_submit")
    task, conv = c("numerical.ray_task_image_result"), c("numerical.convolve")
    cap, assumption = m.capacity.at(n)
    span = [
        _term("ray.put of the image", FIXED, 1, put),
        _term("submitting the tasks", DRIVER, n - 1, submit),
        _term("one task: image by reference, result back", WORKERS, 1, task),
        _term("convolve (last task)", WORKERS, 1, conv),
    ]
    work = [
        _term("ray.put of the image", FIXED, 1, put),
        _term("task overhead: image by reference, result back", WORKERS, n, task),
        _term("convolve", WORKERS, n, conv),
    ]
    return _bounded("numerical", "ray", n, span, work, cap, [assumption])


def _tuned_numerical(backend: str, n: int, m: ModelInputs, rt_name: str, per_task_name: str) -> Prediction:
    c = m.costs
    copy, conv = c("numerical.shm_copy_image"), c("numerical.convolve")
    rt, per_task = c(rt_name), c(per_task_name)
    nbytes = c.fact("numerical.result_bytes")
    dumps_res, loads_res = c("numerical.dumps_result"), c("numerical.loads_result")
    cap, assumption = m.capacity.at(n)
    # Every worker finishes at about the same time; the results then queue on the one result pipe.
    span = [
        _term("copying the image into shared memory", FIXED, 1, copy),
        _term("map call", FIXED, 1, rt),
        _term("sending the small tasks", DRIVER, n - 1, per_task),
        _term("convolve (last task)", WORKERS, 1, conv),
        _term("pickling a result", WORKERS, 1, dumps_res),
        _term("receiving the results one by one", DRIVER, n, _pipe_wall(m, nbytes, n) + loads_res),
    ]
    work = [
        _term("copying the image into shared memory", FIXED, 1, copy),
        _term("map call", FIXED, 1, rt),
        _term("per-task overhead", DRIVER, n - 1, per_task),
        _term("convolve", WORKERS, n, conv),
        _term("returning the results", WORKERS, n, dumps_res + _pipe_cpu(m, nbytes) + loads_res),
    ]
    return _bounded("numerical", backend, n, span, work, cap, [assumption])


def numerical_multiprocessing_tuned(n: int, m: ModelInputs) -> Prediction:
    """`MultiprocessingTuned.trial`: one copy of the image into shared memory, pool.map over N filters.

    Only the 4x4 filters go out and the results come back through the one result pipe:

        span = copy + pool round trip + (N - 1) x pool per task + convolve + dumps_result
               + N x (result pipe + loads_result)       (the results queue on the result pipe)
        work = copy + pool round trip + (N - 1) x pool per task + N x (convolve + result return)
        T(N) = max(span, work / capacity(N))
    """
    return _tuned_numerical("multiprocessing_tuned", n, m, "transport.pool_round_trip", "transport.pool_per_task")


def numerical_concurrent_futures(n: int, m: ModelInputs) -> Prediction:
    """`ConcurrentFutures.trial`: multiprocessing_tuned's structure with ProcessPoolExecutor.map
    (the executor's round trip and per-task overhead instead of Pool's)."""
    return _tuned_numerical("concurrent_futures", n, m, "transport.executor_round_trip",
                            "transport.executor_per_task")


def numerical_threads(n: int, m: ModelInputs) -> Prediction:
    """`Threads.trial`: convolve2d holds the GIL, so N threads convolve one at a time: N x convolve."""
    return _single("numerical", "threads", n, [_term("convolve, one thread at a time (GIL)", DRIVER, n,
                                                     m.costs("numerical.convolve"))],
                   ["thread switching costs nothing"])
