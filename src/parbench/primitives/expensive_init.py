"""B3 expensive_init's primitives (workloads/expensive_init.py), TensorFlow in a child process."""

from __future__ import annotations

import os
import pickle
import sys
import time
from pathlib import Path
from typing import Any

from .core import (
    Recorder,
)


def _tensorflow_child(queue, cpus, threads, resources, test_images, batch, repeats, first_predicts) -> None:
    """Runs in a forked child: pin, size TensorFlow's pools, then time what the workers do."""
    try:
        from ..machine import THREAD_VARIABLES

        os.sched_setaffinity(0, cpus)
        for name in THREAD_VARIABLES:
            os.environ[name] = str(threads)
        from multiprocessing.reduction import ForkingPickler

        from ..workloads.expensive_init import configure_tensorflow, load_model_and_data

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
    from ..workloads.base import mp_context

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
    from ..workloads.expensive_init import check_prepared

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
