"""Ray's primitives for every workload: task and actor round trips, submits and drains, actor start-up."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .core import (
    SEED,
    SUBMIT_BATCH,
    Recorder,
)
from .transport import _hold


def _ray_classes():
    """Ray remote classes and functions, made when Ray is imported (never at module import)."""
    import numpy as np
    import ray

    from ..workloads.expensive_init import ModelActor

    @ray.remote(num_cpus=1)
    class Sink:
        """A receiver that can be blocked (hold) and report when it drained its queue (stamp)."""

        def __init__(self):
            self.taken = 0

        def hold(self, seconds: float) -> float:
            return _hold(seconds)

        def take(self, item) -> None:
            self.taken += 1

        def stamp(self) -> float:
            return time.perf_counter()

        def ping(self) -> int:
            return os.getpid()

        def array(self, shape, dtype):
            return np.ones(shape, dtype=dtype)

    @ray.remote(num_cpus=1)
    class TimedModelActor(ModelActor):
        """The workload's ModelActor (pins itself, loads model and data once), timed from inside."""

        def timed_predict(self) -> float:
            start = time.perf_counter()
            self.evaluate_next_batch()
            return time.perf_counter() - start

    @ray.remote(num_cpus=1)
    def noop(item=None) -> int:
        return 0

    @ray.remote(num_cpus=1)
    def hold(seconds: float) -> float:
        return _hold(seconds)

    @ray.remote(num_cpus=1)
    def image_to_result(image, shape):
        return np.ones(shape)

    return Sink, TimedModelActor, noop, hold, image_to_result


def _wait_for_free_cpu(timeout: float = 60.0) -> None:
    import ray

    deadline = time.monotonic() + timeout
    while ray.available_resources().get("CPU", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.02)


def _blocked_submits(rec: Recorder, submit: Callable[[], Any], block: Callable[[float], Any],
                     drained: Callable[[Any, list], float], batch: int) -> tuple[list[float], list[float]]:
    """Per-item driver cost (submitting while the receiver sleeps) and receiver cost (draining).

    A first, untimed round with a long sleep measures how long the submissions take; the timed
    rounds then sleep three times that (the receiver must still be asleep when the last item is in).
    """
    import ray

    # Long enough for the untimed round: a batch took at most 22 ms here (a smoke run's primitives:
    # 200 empty calls at 0.07-0.11 ms, 25 documents at 0.15 ms); the 2.0 s it was cost 9 s
    # of every smoke run (3 calls x 2 rounds). Were the receiver to wake first, the round still
    # measures the submissions, and the timed rounds' hold is three times those.
    hold = 0.5
    driver, receiver = [], []
    for index in range(rec.repeats + 1):
        blocker = block(hold)
        time.sleep(0.05)  # the receiver is asleep before the first submission
        start = time.perf_counter()
        refs = [submit() for _ in range(batch)]
        submitted = time.perf_counter()
        released = ray.get(blocker)
        drain = drained(released, refs)
        if index == 0:
            hold = max(0.2, 3 * (submitted - start) + 0.1)
            continue
        if released < submitted:
            rec.log("  (warning: the receiver woke before the submissions ended; sample kept)")
        driver.append((submitted - start) / batch)
        receiver.append(max(drain, 0.0) / batch)
    return driver, receiver


def measure_ray(rec: Recorder, numerical, stateful, expensive_init, cpus: list[int],
                resources: Path | None, facts: dict) -> None:
    """Ray as in a 1-core cell: driver, raylet and workers on the first CPU, num_cpus=1.

    One CPU means one running task or one live actor at a time: tasks first, then actors, each
    killed before the next is made.
    """
    import numpy as np
    import ray

    from ..ray_session import RaySession

    os.sched_setaffinity(0, [cpus[0]])
    session = RaySession(1, None)
    start = time.perf_counter()
    session.start()
    rec.add("ray.start", [time.perf_counter() - start], "fixed", "ray.init(num_cpus=1) (setup, outside the timer)")
    try:
        Sink, TimedModelActor, noop, hold, image_to_result = _ray_classes()
        ray.get(noop.remote())
        rec.time("ray.task_round_trip", lambda: ray.get(noop.remote()), "driver+worker",
                 "ray.get(f.remote()) of an empty task", repeats=3 * rec.repeats, warmups=3)
        driver, worker = _blocked_submits(
            rec, lambda: noop.remote(), lambda seconds: hold.remote(seconds),
            lambda released, refs: (ray.get(refs), time.perf_counter())[1] - released, 4 * SUBMIT_BATCH)
        rec.add("ray.task_submit", driver, "driver", "f.remote() of an empty task while the CPU is busy (driver)")
        rec.add("ray.task_drain", worker, "worker", "executing one queued empty task (worker and raylet)")

        if numerical is not None:
            rng = np.random.default_rng(SEED)
            image = rng.standard_normal((numerical.image_side, numerical.image_side))
            shape = tuple(facts["numerical.result_shape"])
            rec.time("numerical.ray_put_image", lambda: ray.put(image), "driver",
                     "ray.put(image) into the object store (once per B1 pass)")
            image_ref = ray.put(image)
            rec.time("numerical.ray_task_image_result",
                     lambda: ray.get(image_to_result.remote(image_ref, shape)), "driver+worker",
                     "a Ray task that receives the image by reference and returns one result-sized array")
            del image_ref
        actor_starts = []
        for _ in range(max(3, rec.repeats // 2)):
            start = time.perf_counter()
            actor = Sink.remote()
            ray.get(actor.ping.remote())
            actor_starts.append(time.perf_counter() - start)
            ray.kill(actor)
            _wait_for_free_cpu()  # else the next actor's start would include this one's exit
        rec.add("ray.actor_start", actor_starts, "fixed",
                "an actor created and answering its first call (B2 makes them before the timer)")
        sink = Sink.remote()
        ray.get(sink.ping.remote())
        rec.time("ray.actor_call_round_trip", lambda: ray.get(sink.ping.remote()), "driver+worker",
                 "ray.get(actor.method.remote()) without arguments", repeats=3 * rec.repeats, warmups=3)
        driver, worker = _blocked_submits(
            rec, lambda: sink.take.remote(None), lambda seconds: sink.hold.remote(seconds),
            lambda released, refs: ray.get(sink.stamp.remote()) - released, 4 * SUBMIT_BATCH)
        rec.add("ray.actor_submit", driver, "driver", "actor.method.remote(None) while the actor is busy (driver)")
        rec.add("ray.actor_drain", worker, "worker", "the actor executing one queued call")

        if stateful is not None:
            from ..workloads.base import Cell
            from ..workloads.stateful import document_stream

            cell = Cell("stateful", "primitives", 1, (cpus[0],), stateful, SEED, Path("."))
            docs = document_stream(cell, SEED)
            batch = [next(docs) for _ in range(SUBMIT_BATCH // 2)]
            it = iter(())

            def submit_document():
                nonlocal it
                try:
                    return sink.take.remote(next(it))
                except StopIteration:
                    it = iter(batch)
                    return sink.take.remote(next(it))

            driver, worker = _blocked_submits(
                rec, submit_document, lambda seconds: sink.hold.remote(seconds),
                lambda released, refs: ray.get(sink.stamp.remote()) - released, len(batch))
            rec.add("stateful.ray_submit_document", driver, "driver",
                    "actor.add_document.remote(document): serialising one document into the call (driver)")
            rec.add("stateful.ray_receive_document", worker, "worker",
                    "the actor receiving one queued document (deserialisation, call), without counting")
        if expensive_init is not None and resources is not None:
            shape = tuple(facts["expensive_init.prediction_shape"])
            dtype = facts["expensive_init.prediction_dtype"]
            rec.time("expensive_init.ray_actor_call_result", lambda: ray.get(sink.array.remote(shape, dtype)),
                     "driver+worker", "an actor call that returns one prediction-sized array")
        ray.kill(sink)  # its CPU is the only one: the model actor needs it
        if expensive_init is not None and resources is not None:
            model_actor = TimedModelActor.remote(0, (cpus[0],), Path(resources), expensive_init.test_images,
                                                 expensive_init.predict_batch)
            ray.get(model_actor.timed_predict.remote())  # untimed: traces Keras' predict function
            rec.add("expensive_init.ray_actor_predict",
                    [ray.get(model_actor.timed_predict.remote()) for _ in range(rec.repeats)], "worker",
                    "evaluate_next_batch inside the workload's ModelActor (1 thread), timed in the actor")
            ray.kill(model_actor)
    finally:
        session.stop()
        os.sched_setaffinity(0, cpus)
