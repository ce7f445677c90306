"""Transport primitives: pipes at every payload size, Pool and executor round trips."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

from .core import (
    SUBMIT_BATCH,
    Recorder,
)


def _pipe_reader(data_reader, ack_writer, cpu: int) -> None:
    os.sched_setaffinity(0, [cpu])
    while True:
        payload = data_reader.recv_bytes()
        if not payload:
            return
        ack_writer.send_bytes(b"k")


def pipe_sizes(payloads: Iterable[int], small: int = 1 << 20, step: float = 1.5) -> list[int]:
    """The payload sizes to time: every one below `small`, above it a subset at least `step` apart
    (and the largest). The model interpolates linearly between them; a pipe's cost is linear in bytes."""
    ordered = sorted(set(payloads))
    kept = [b for b in ordered if b < small]
    for b in (b for b in ordered if b >= small):
        if not kept or kept[-1] < small or b >= step * kept[-1] or b == ordered[-1]:
            kept.append(b)
    return kept


def measure_pipes(rec: Recorder, cpus: list[int], sizes: Iterable[int]) -> None:
    """Connection.send_bytes -> recv_bytes (+ a 1-byte ack) through os.pipe, as Pool's queues do."""
    from ..workloads.base import mp_context

    ctx = mp_context()
    modes = [("same_core", cpus[0])] + ([("cross_core", cpus[1])] if len(cpus) > 1 else [])
    for mode, reader_cpu in modes:
        data_reader, data_writer = ctx.Pipe(duplex=False)
        ack_reader, ack_writer = ctx.Pipe(duplex=False)
        child = ctx.Process(target=_pipe_reader, args=(data_reader, ack_writer, reader_cpu), daemon=True)
        child.start()
        try:
            for nbytes in pipe_sizes(sizes):
                payload = os.urandom(nbytes)  # incompressible, every page real

                def send(payload=payload, writer=data_writer, acks=ack_reader):
                    writer.send_bytes(payload)
                    acks.recv_bytes()

                where = "driver+worker" if mode == "same_core" else "driver"
                what = (f"send_bytes of {nbytes} bytes through an os.pipe to a reader on "
                        + ("the same CPU (both ends' CPU time)" if mode == "same_core" else "another CPU (wall time)"))
                rec.time(f"transport.pipe_{mode}", send, where, what, bytes=nbytes)
        finally:
            data_writer.send_bytes(b"")
            child.join(10)
            if child.is_alive():
                child.kill()


def _echo(x):
    return x


def _first_shape(args) -> tuple[int, ...]:
    return args[0].shape


def _hold(seconds: float) -> float:
    time.sleep(seconds)
    return time.perf_counter()


def measure_pool_overheads(rec: Recorder, cpus: list[int], batch: int = SUBMIT_BATCH) -> None:
    """Pool(1) and ProcessPoolExecutor(1) with driver and worker on one CPU: tiny payloads."""
    from concurrent.futures import ProcessPoolExecutor

    from ..workloads.base import mp_context, pool_map, start_pool

    pool = start_pool(1)
    try:
        rec.time("transport.pool_round_trip", lambda: pool_map(pool, _echo, [0]), "driver+worker",
                 "pool_map of one tiny task: the fixed cost of one Pool.map call", repeats=3 * rec.repeats, warmups=3)
        per_task = []
        for _ in range(rec.repeats):
            start = time.perf_counter()
            pool_map(pool, _echo, [0])
            one = time.perf_counter() - start
            start = time.perf_counter()
            pool.map_async(_echo, range(batch), chunksize=1).get()
            per_task.append(max(time.perf_counter() - start - one, 0.0) / (batch - 1))
        rec.add("transport.pool_per_task", per_task, "driver+worker",
                f"each further tiny task of one Pool.map (chunksize 1, {batch} tasks): task handler, pipe, "
                "worker, result handler")
    finally:
        pool.terminate()
        pool.join()

    executor = ProcessPoolExecutor(max_workers=1, mp_context=mp_context())
    try:
        rec.time("transport.executor_round_trip", lambda: executor.submit(_echo, 0).result(), "driver+worker",
                 "ProcessPoolExecutor(1).submit(tiny).result()", repeats=3 * rec.repeats, warmups=3)
        per_task = []
        for _ in range(rec.repeats):
            start = time.perf_counter()
            executor.submit(_echo, 0).result()
            one = time.perf_counter() - start
            start = time.perf_counter()
            for future in [executor.submit(_echo, 0) for _ in range(batch)]:
                future.result()
            per_task.append(max(time.perf_counter() - start - one, 0.0) / (batch - 1))
        rec.add("transport.executor_per_task", per_task, "driver+worker",
                f"each further tiny task submitted to a ProcessPoolExecutor(1) ({batch} in flight)")
    finally:
        executor.shutdown(wait=True)
