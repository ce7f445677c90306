"""The cost model's inputs: every cost term of the backends' timed regions, measured on its own.

`parbench primitives` times, pinned and repeated, each operation that a trial of the original
backends and of multiprocessing_tuned is made of, at the preset's sizes and with the workloads' own
functions (convolve, document_stream, count_prefixes, load_model_and_data, ModelActor, ...):

* numerical: one convolution; pickling the (image, filter, stride) task as Pool does and unpickling
  it; pickling and unpickling one result; ray.put of the image; a Ray task that receives the image
  and returns one result; the copy of the image into shared memory;
* stateful: generating one document; counting one document into a state that already holds k
  documents (k = 0 .. docs_per_core - 1); pickling and unpickling the state after k documents and
  one document; the pickled sizes;
* expensive_init: loading the model and the data; the first predict on a freshly loaded model
  (Keras traces its predict function then); one predict with t TensorFlow threads; one predict in a
  Ray actor; pickling and unpickling one prediction;
* transport: Connection.send_bytes/recv_bytes through an os.pipe at every payload size above (both
  ends on one core, and on two cores when there are two); a Pool and a ProcessPoolExecutor round
  trip and per-task overhead; a Ray task and an actor call round trip, the driver's cost of
  submitting one, the worker's cost of draining one, and an actor's start-up.

Pinning: every single-process cost runs on the first CPU of the stage; a pipe's reader runs on the
same CPU ("same core": both ends' CPU time, serialised) or on the second ("cross core": the wall
time of a transfer between two cores); predict with t threads runs on the first t CPUs. Ray is
started as in a 1-core cell: the driver, the raylet and the workers on the first CPU.

Driver-side and worker-side costs of a transfer are separated by a blocked receiver: the receiver
first sleeps (no CPU), the driver submits K items (the driver's cost per item), then the receiver
drains them (the receiver's cost per item, from timestamps taken inside the receiver).

Everything is imported lazily: the stage runs without Ray (`include_ray=False`) or TensorFlow
(`include_tensorflow=False`); the model then says which backends it cannot predict. The driver of
the stage never imports TensorFlow (its children would inherit a runtime that must not be forked).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pickle
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
KIND = "parbench-primitives"
WHERE = ("driver", "worker", "driver+worker", "fixed")
DEFAULT_REPEATS = 5  # per round; the pipeline's primitives_repeats has the same default
DEFAULT_CHAINS = 3  # stateful: independent chains of docs_per_core documents (samples per k)
SUBMIT_BATCH = 50  # items submitted to a blocked receiver per sample
# The stage's groups that only a run of that workload measures (the others always run).
WORKLOAD_GROUPS = {"numerical": "numerical", "stateful": "stateful", "expensive_init": "expensive_init (TensorFlow)"}
SEED = 2019


class PrimitivesError(ValueError):
    """A primitives record is missing, unreadable or lacks a primitive the caller needs."""


def key_of(name: str, param: dict[str, int] | None = None) -> str:
    """`name` or `name[k=3]`: the one string that names a primitive (and its parameter)."""
    if not param:
        return name
    return name + "[" + ",".join(f"{k}={v}" for k, v in sorted(param.items())) + "]"


@dataclass
class Primitive:
    name: str
    where: str  # driver | worker | driver+worker (both ends on one core) | fixed (once per trial)
    what: str
    samples: list[float]
    param: dict[str, int] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return key_of(self.name, self.param)


class Recorder:
    """Collects primitives and facts (payload sizes) while the stage runs."""

    def __init__(self, repeats: int, log: Callable[[str], None]):
        self.repeats = repeats
        self.log = log
        self.primitives: dict[str, Primitive] = {}
        self.facts: dict[str, Any] = {}

    def add(self, name: str, samples: Iterable[float], where: str, what: str, **param: int) -> list[float]:
        assert where in WHERE, where
        values = [float(s) for s in samples]
        key = key_of(name, param)
        prim = self.primitives.setdefault(key, Primitive(name, where, what, [], dict(param)))
        prim.samples.extend(values)
        ordered = sorted(prim.samples)
        self.log(f"  {key:48s} {ordered[len(ordered) // 2] * 1e3:10.3f} ms  ({where}, n={len(ordered)})")
        return values

    def time(self, name: str, fn: Callable[[], Any], where: str, what: str, repeats: int | None = None,
             warmups: int = 1, **param: int) -> list[float]:
        """`repeats` timed calls of fn after `warmups` untimed ones."""
        for _ in range(warmups):
            fn()
        samples = []
        for _ in range(repeats or self.repeats):
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
        return self.add(name, samples, where, what, **param)


# ------------------------------------------------------------------------------ transport


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
    from .workloads.base import mp_context

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

    from .workloads.base import mp_context, pool_map, start_pool

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


# ------------------------------------------------------------------------------ numerical


def measure_numerical(rec: Recorder, sizes, cpus: list[int]) -> list[int]:
    """Returns the payload sizes (bytes) whose pipe transfer the model needs."""
    from multiprocessing.reduction import ForkingPickler

    import numpy as np

    from .workloads.base import pool_map, start_pool
    from .workloads.numerical import _shared_image_setup, convolve

    rng = np.random.default_rng(SEED)
    image = rng.standard_normal((sizes.image_side, sizes.image_side))
    filt = rng.normal(size=(sizes.filter_side, sizes.filter_side))
    stride = sizes.stride

    rec.time("numerical.convolve", lambda: convolve(image, filt, stride), "worker",
             "convolve(image, filter, stride): the unit of work (one task)")
    task = (image, filt, stride)
    task_bytes = bytes(ForkingPickler.dumps(task))
    rec.time("numerical.dumps_task", lambda: ForkingPickler.dumps(task), "driver",
             "ForkingPickler.dumps((image, filter, stride)): Pool's task handler pickling one task")
    rec.time("numerical.loads_task", lambda: pickle.loads(task_bytes), "worker",
             "pickle.loads of that task in the worker")
    result = convolve(image, filt, stride)
    result_bytes = bytes(ForkingPickler.dumps(result))
    rec.time("numerical.dumps_result", lambda: ForkingPickler.dumps(result), "worker",
             "pickling one convolution result in the worker")
    rec.time("numerical.loads_result", lambda: pickle.loads(result_bytes), "driver",
             "unpickling one result in the driver's result handler")
    rec.facts["numerical.task_bytes"] = len(task_bytes)
    rec.facts["numerical.result_bytes"] = len(result_bytes)
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
    return [len(task_bytes), len(result_bytes)]


# ------------------------------------------------------------------------------- stateful


def measure_stateful(rec: Recorder, sizes, cpus: list[int], chains: int) -> list[int]:
    from collections import defaultdict
    from dataclasses import replace
    from multiprocessing.reduction import ForkingPickler

    from .presets import PER_DOCUMENT
    from .workloads.base import Cell
    from .workloads.stateful import count_prefixes, document_stream

    cell = Cell("stateful", "primitives", 1, (cpus[0],), sizes, SEED, Path("."))
    docs = document_stream(cell, SEED)
    generate = []
    for _ in range(max(rec.repeats, sizes.docs_per_core)):
        start = time.perf_counter()
        next(docs)
        generate.append(time.perf_counter() - start)
    rec.add("stateful.generate_document", generate, "driver",
            "next(document_stream): the driver generating one document")
    # The same documents made with one RNG call each (--document-generation per-document).
    blocks = document_stream(replace(cell, document_generation=PER_DOCUMENT), SEED)
    rec.time("stateful.generate_document_block", lambda: next(blocks), "driver",
             "next(document_stream) with per-document generation: one RNG call per document, sliced",
             repeats=max(rec.repeats, sizes.docs_per_core))

    threshold = sizes.popular_threshold
    document = next(docs)
    doc_bytes = bytes(ForkingPickler.dumps(document))
    rec.time("stateful.dumps_document", lambda: ForkingPickler.dumps(document), "driver",
             "pickling one document (an executor's feeder thread, Ray's serializer)")
    rec.time("stateful.loads_document", lambda: pickle.loads(doc_bytes), "worker",
             "unpickling one document in the worker")
    rec.facts["stateful.document_bytes"] = len(doc_bytes)

    # One chain = one state holder fed docs_per_core documents, as every holder of every backend is.
    # The state after k documents is what the original multiprocessing code pickles into round k's
    # task and what comes back (k + 1) from it.
    state_bytes: dict[int, int] = {}
    counts_samples: dict[int, list[float]] = {k: [] for k in range(sizes.docs_per_core)}
    dumps_samples: dict[int, list[float]] = {k: [] for k in range(1, sizes.docs_per_core + 1)}
    loads_samples: dict[int, list[float]] = {k: [] for k in range(1, sizes.docs_per_core + 1)}
    popular: set[str] = set()
    for _ in range(chains):
        counts: defaultdict[bytes, int] = defaultdict(int)
        popular = set()
        for k in range(sizes.docs_per_core):
            doc = next(docs)
            start = time.perf_counter()
            count_prefixes(counts, popular, doc, threshold)
            counts_samples[k].append(time.perf_counter() - start)
            state = (counts, popular)
            start = time.perf_counter()
            payload = ForkingPickler.dumps(state)
            dumps_samples[k + 1].append(time.perf_counter() - start)
            start = time.perf_counter()
            copy = pickle.loads(payload)
            loads_samples[k + 1].append(time.perf_counter() - start)
            state_bytes[k + 1] = len(payload)
            del copy, payload
    for k, samples in counts_samples.items():
        rec.add("stateful.count_document", samples, "worker",
                "count_prefixes of one document into a state that already holds k documents", k=k)
    for k, samples in dumps_samples.items():
        rec.add("stateful.dumps_state", samples, "driver+worker",
                "ForkingPickler.dumps((counts, popular)) of a state holding k documents", k=k)
        rec.add("stateful.loads_state", loads_samples[k], "driver+worker",
                "pickle.loads of a state holding k documents", k=k)
    empty = bytes(ForkingPickler.dumps((defaultdict(int), set())))
    state_bytes[0] = len(empty)
    rec.facts["stateful.state_bytes"] = {str(k): v for k, v in sorted(state_bytes.items())}
    rec.facts["stateful.popular_after_docs_per_core"] = len(popular)
    popular_bytes = bytes(ForkingPickler.dumps(popular))
    rec.time("stateful.dumps_popular", lambda: ForkingPickler.dumps(popular), "worker",
             "pickling one holder's popular set after docs_per_core documents (get_popular's reply)")
    rec.time("stateful.loads_popular", lambda: pickle.loads(popular_bytes), "driver",
             "unpickling that popular set in the driver")
    rec.facts["stateful.popular_bytes"] = len(popular_bytes)
    # Pipe sizes: round k's task (state k + one document) and its result (state k + 1).
    return ([state_bytes[k] + len(doc_bytes) for k in range(sizes.docs_per_core)]
            + [state_bytes[k] for k in range(1, sizes.docs_per_core + 1)] + [len(doc_bytes), len(popular_bytes)])


# ------------------------------------------------------------------------- expensive_init


def _tensorflow_child(queue, cpus, threads, resources, test_images, batch, repeats, first_predicts) -> None:
    """Runs in a forked child: pin, size TensorFlow's pools, then time what the workers do."""
    try:
        from .machine import THREAD_VARIABLES

        os.sched_setaffinity(0, cpus)
        for name in THREAD_VARIABLES:
            os.environ[name] = str(threads)
        from multiprocessing.reduction import ForkingPickler

        from .workloads.expensive_init import configure_tensorflow, load_model_and_data

        start = time.perf_counter()
        configure_tensorflow(threads)
        out: dict[str, Any] = {"import_s": time.perf_counter() - start, "load": [], "first_predict": [], "predict": []}
        model, x_test = load_model_and_data(resources, test_images)
        model.predict(x_test, batch_size=batch, verbose=0)  # untimed: the first load of the process
        if first_predicts:
            for _ in range(repeats):
                start = time.perf_counter()
                model, x_test = load_model_and_data(resources, test_images)
                out["load"].append(time.perf_counter() - start)
                start = time.perf_counter()
                prediction = model.predict(x_test, batch_size=batch, verbose=0)
                out["first_predict"].append(time.perf_counter() - start)
        for _ in range(repeats):
            start = time.perf_counter()
            prediction = model.predict(x_test, batch_size=batch, verbose=0)
            out["predict"].append(time.perf_counter() - start)
        if first_predicts:
            payload = bytes(ForkingPickler.dumps(prediction))
            out["prediction_bytes"] = len(payload)
            out["prediction_shape"] = list(prediction.shape)
            out["prediction_dtype"] = prediction.dtype.str
            out["dumps_prediction"] = []
            out["loads_prediction"] = []
            for _ in range(repeats):
                start = time.perf_counter()
                ForkingPickler.dumps(prediction)
                out["dumps_prediction"].append(time.perf_counter() - start)
                start = time.perf_counter()
                pickle.loads(payload)
                out["loads_prediction"].append(time.perf_counter() - start)
        queue.put(("ok", out))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent as one line
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def _run_tensorflow_child(cpus, threads, resources, sizes, repeats, first_predicts, timeout=900.0) -> dict:
    from .workloads.base import mp_context

    if "tensorflow" in sys.modules:
        raise RuntimeError("TensorFlow was imported in the primitives driver; its children cannot be forked safely")
    ctx = mp_context()
    queue = ctx.Queue()
    child = ctx.Process(target=_tensorflow_child, args=(queue, cpus, threads, resources, sizes.test_images,
                                                         sizes.predict_batch, repeats, first_predicts))
    child.start()
    try:
        status, out = queue.get(timeout=timeout)
    finally:
        child.join(30)
        if child.is_alive():
            child.kill()
    if status != "ok":
        raise RuntimeError(f"the TensorFlow measurement with {threads} thread(s) failed: {out}")
    return out


def measure_expensive_init(rec: Recorder, sizes, cpus: list[int], resources: Path, threads: list[int]) -> list[int]:
    from .workloads.expensive_init import check_prepared

    check_prepared(resources)
    one = _run_tensorflow_child([cpus[0]], 1, resources, sizes, rec.repeats, first_predicts=True)
    rec.add("expensive_init.load_model_and_data", one["load"], "worker",
            "load_model_and_data in a process that has loaded it before (each multiprocessing task does)")
    rec.add("expensive_init.first_predict", one["first_predict"], "worker",
            "the first predict on a freshly loaded model, 1 thread (Keras traces its predict function)")
    rec.add("expensive_init.predict", one["predict"], "worker",
            "model.predict on the test set with t TensorFlow threads on t CPUs, model already used", threads=1)
    rec.add("expensive_init.dumps_prediction", one["dumps_prediction"], "worker", "pickling one prediction")
    rec.add("expensive_init.loads_prediction", one["loads_prediction"], "driver", "unpickling one prediction")
    rec.facts["expensive_init.prediction_bytes"] = one["prediction_bytes"]
    rec.facts["expensive_init.prediction_shape"] = one["prediction_shape"]
    rec.facts["expensive_init.prediction_dtype"] = one["prediction_dtype"]
    rec.facts["expensive_init.tensorflow_import_s"] = one["import_s"]
    for t in sorted(set(threads) - {1}):
        if t > len(cpus):
            continue
        more = _run_tensorflow_child(cpus[:t], t, resources, sizes, rec.repeats, first_predicts=False)
        rec.add("expensive_init.predict", more["predict"], "driver",
                "model.predict on the test set with t TensorFlow threads on t CPUs (serial's driver)", threads=t)
    return [one["prediction_bytes"]]


# ------------------------------------------------------------------------------------ ray


def _ray_classes():
    """Ray remote classes and functions, made when Ray is imported (never at module import)."""
    import numpy as np
    import ray

    from .workloads.expensive_init import ModelActor

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

    hold = 2.0
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

    from .ray_session import RaySession

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
            from .workloads.base import Cell
            from .workloads.stateful import document_stream

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


# ---------------------------------------------------------------------------------- stage


def measure_primitives(preset: str = "paper", cpus: list[int] | None = None, repeats: int = DEFAULT_REPEATS,
                       chains: int = DEFAULT_CHAINS, threads: list[int] | None = None,
                       resources: Path | None = Path("resources/expensive_init"),
                       include_ray: bool = True, include_tensorflow: bool = True,
                       workloads: Iterable[str] = ("numerical", "stateful", "expensive_init"),
                       log: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True),
                       round_: int = 0) -> dict:
    """Measure every primitive of `preset` and return the record (see `write_record`).

    The caller pins nothing: this pins itself to cpus[0] for single-process costs and restores
    `cpus` at the end. `cpus` defaults to one logical CPU per physical core.
    """
    from .machine import (
        choose_cpus,
        describe_machine,
        describe_software,
        machine_hash,
        read_topology,
    )
    from .presets import get_preset

    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    machine = describe_machine()
    cpus = list(cpus or choose_cpus(read_topology().physical_cores))
    threads = sorted({t for t in (threads or range(1, len(cpus) + 1)) if 1 <= t <= len(cpus)} | {1})
    sizes = get_preset(preset)
    workloads = list(workloads)
    if resources is not None:
        resources = Path(resources).resolve()
    rec = Recorder(repeats, log)
    group_seconds: dict[str, float] = {}
    skipped: dict[str, str] = {}

    def group(name, fn, *args):
        """One group of primitives; a failure is recorded (as a failing cell is) and the stage goes on:
        the model then names the primitives it misses."""
        log(f"[primitives] {name}")
        t0 = time.perf_counter()
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - recorded in the record's `skipped`, with the reason
            skipped[name] = f"failed: {type(exc).__name__}: {exc}"
            log(f"[primitives] {name} FAILED: {type(exc).__name__}: {exc}")
            return []
        finally:
            group_seconds[name] = round(time.perf_counter() - t0, 3)

    os.sched_setaffinity(0, [cpus[0]])
    payloads: list[int] = []
    try:
        group("transport (Pool, executor)", measure_pool_overheads, rec, cpus)
        if "numerical" in workloads:
            payloads += group(WORKLOAD_GROUPS["numerical"], measure_numerical, rec, sizes.numerical, cpus)
        if "stateful" in workloads:
            payloads += group(WORKLOAD_GROUPS["stateful"], measure_stateful, rec, sizes.stateful, cpus, chains)
        if "expensive_init" in workloads and include_tensorflow:
            payloads += group(WORKLOAD_GROUPS["expensive_init"], measure_expensive_init, rec,
                              sizes.expensive_init, cpus, resources, threads)
        elif "expensive_init" in workloads:
            skipped["tensorflow"] = "not measured (include_tensorflow=False)"
        group("transport (pipes)", measure_pipes, rec, cpus, payloads)
        if include_ray:
            # Ray's B1 and B3 primitives need the result and prediction shapes measured above.
            group("ray", measure_ray, rec,
                  sizes.numerical if "numerical.result_shape" in rec.facts else None,
                  sizes.stateful if "stateful" in workloads else None,
                  sizes.expensive_init if "expensive_init.prediction_shape" in rec.facts else None,
                  cpus, resources, rec.facts)
        else:
            skipped["ray"] = "not measured (include_ray=False)"
    finally:
        os.sched_setaffinity(0, cpus)
    return {
        "kind": KIND,
        "schema_version": SCHEMA_VERSION,
        "preset": preset,
        "sizes": {w: dict(vars(sizes.sizes(w))) for w in ("numerical", "stateful", "expensive_init")},
        "workloads": workloads,
        "cpus": cpus,
        "threads": threads,
        "repeats": repeats,
        "chains": chains,
        "round": round_,
        "pinning": ("single-process costs on cpus[0]; pipe readers on cpus[0] (same_core) or cpus[1] "
                    "(cross_core); predict with t threads on cpus[:t]; Ray as a 1-core cell on cpus[0]"),
        "skipped": skipped,
        "machine": machine,
        "machine_hash": machine_hash(machine),
        "software": describe_software(),
        "started_at": started_at,
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - started, 3),
        "group_seconds": group_seconds,
        "facts": rec.facts,
        "primitives": [summarise(p) for p in rec.primitives.values()],
    }


def summarise(prim: Primitive) -> dict:
    from .stats import median_estimate

    est = median_estimate(prim.samples)
    return {"key": prim.key, "name": prim.name, "param": prim.param, "where": prim.where, "what": prim.what,
            "n": len(prim.samples), "mean_s": sum(prim.samples) / len(prim.samples), "median_s": est.value,
            "ci_low_s": est.ci_low, "ci_high_s": est.ci_high,
            "ci_method": est.method, "samples": prim.samples}


# Must agree between the rounds of one run before their samples may be pooled.
MERGE_KEYS = ("kind", "schema_version", "preset", "sizes", "cpus", "threads", "machine_hash")


def merge_records(records: list[dict], sources: list[str]) -> dict:
    """The rounds of one run's primitives stage as one record: every sample of every round pooled
    (the rounds are spread over the run like the cells' rounds, so that the model's inputs see the
    machine in the states the cells saw), with each round's start, end and skipped groups kept."""
    if not records:
        raise PrimitivesError("no primitives rounds to merge")
    first, rounds = records[0], []
    for record, source in zip(records, sources):
        if record.get("kind") != KIND:
            raise PrimitivesError(f"{source}: not a primitives record; write one with `parbench primitives`")
        for key in MERGE_KEYS:
            if record.get(key) != first.get(key):
                raise PrimitivesError(f"{source}: its {key} differs from {sources[0]}'s, so their samples cannot "
                                      f"be pooled; measure every round again (delete results/primitives/)")
    pooled: dict[str, Primitive] = {}
    for record, source in zip(records, sources):
        try:
            rounds.append({"round": record.get("round", 0), "source": source, "started_at": record["started_at"],
                           "finished_at": record["finished_at"], "seconds": record["seconds"],
                           "group_seconds": dict(record.get("group_seconds", {})),
                           "repeats": record["repeats"], "skipped": record.get("skipped", {})})
            for p in record["primitives"]:
                prim = pooled.setdefault(p["key"], Primitive(p["name"], p["where"], p["what"], [], dict(p["param"])))
                prim.samples.extend(float(x) for x in p["samples"])
        except (KeyError, TypeError, ValueError) as exc:
            raise PrimitivesError(f"{source}: malformed primitives record ({exc!r}); measure that round again "
                                  f"with `parbench primitives`") from None
    group_seconds: dict[str, float] = {}
    for r in rounds:  # like `seconds`: summed over the rounds
        for name, seconds in r["group_seconds"].items():
            group_seconds[name] = round(group_seconds.get(name, 0.0) + float(seconds), 3)
    facts: dict[str, Any] = {}
    for record in records:  # a fact a round could not measure (a failed group) comes from another
        facts = {**record.get("facts", {}), **facts}
    return {**{k: v for k, v in first.items() if k not in ("primitives", "facts", "round")},
            "repeats": sum(r["repeats"] for r in rounds),
            "skipped": {k: v for r in rounds for k, v in r["skipped"].items()},
            "started_at": min(r["started_at"] for r in rounds),
            "finished_at": max(r["finished_at"] for r in rounds),
            "seconds": round(sum(r["seconds"] for r in rounds), 3),
            "group_seconds": group_seconds,
            "rounds": rounds,
            "facts": facts,
            "primitives": [summarise(p) for p in pooled.values()]}


def write_record(record: dict, path: Path) -> None:
    from .records import write_atomic

    write_atomic(path, json.dumps(record, indent=1, allow_nan=True))


# --------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class PrimitiveSet:
    """A primitives record as the model reads it: samples per key, facts, sizes, machine."""

    samples: dict[str, tuple[float, ...]]
    where: dict[str, str]
    facts: dict[str, Any]
    sizes: dict[str, dict[str, int]]
    preset: str
    machine: dict[str, Any]
    source: str = ""

    @classmethod
    def from_record(cls, record: dict, source: str = "") -> PrimitiveSet:
        if record.get("kind") != KIND:
            raise PrimitivesError(f"{source or 'record'}: not a primitives record (kind {record.get('kind')!r}); "
                                  f"write one with `parbench primitives --out ...`")
        try:
            samples = {p["key"]: tuple(float(s) for s in p["samples"]) for p in record["primitives"]}
            where = {p["key"]: p["where"] for p in record["primitives"]}
            return cls(samples, where, dict(record.get("facts", {})), dict(record["sizes"]), record["preset"],
                       dict(record.get("machine", {})), source)
        except (KeyError, TypeError, ValueError) as exc:
            raise PrimitivesError(f"{source or 'record'}: malformed primitives record ({exc!r}); "
                                  f"measure them again with `parbench primitives`") from None

    @classmethod
    def load(cls, path: str | os.PathLike) -> PrimitiveSet:
        try:
            record = json.loads(Path(path).read_text())
        except OSError as exc:
            raise PrimitivesError(f"{path}: cannot read the primitives ({exc.strerror}); run "
                                  f"`parbench primitives --out {path}` (the pipeline's `primitives` rule)") from None
        except ValueError as exc:
            raise PrimitivesError(f"{path}: not JSON ({exc}); delete it and measure again") from None
        return cls.from_record(record, str(path))

    def means(self) -> dict[str, float]:
        """What the model reads: each primitive's mean. A trial's time is a sum of many such calls,
        and a sum's typical value is count x mean; on a machine whose speed flips between modes (this
        VM: one predict takes 0.70 s or 1.35 s, in spells of seconds) the median picks one mode."""
        import numpy as np

        return {k: float(np.mean(v)) for k, v in self.samples.items() if v}

    def bootstrap_means(self, rng, resamples: int) -> list[dict[str, float]]:
        """`resamples` bootstrap draws: in each, every primitive's samples are resampled with
        replacement (independently of the others) and their mean taken."""
        import numpy as np

        draws: list[dict[str, float]] = [{} for _ in range(resamples)]
        for key, values in self.samples.items():
            if not values:
                continue
            arr = np.asarray(values)
            means = arr[rng.integers(0, len(arr), (resamples, len(arr)))].mean(axis=1)
            for draw, value in zip(draws, means):
                draw[key] = float(value)
        return draws
