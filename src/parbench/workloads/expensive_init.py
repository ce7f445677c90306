"""Benchmark 3, expensive initialization: Keras inference with a model that is costly to load.

A small MLP is trained once (`prepare`, untimed) and saved as a .keras file. Each predict call
classifies the whole 10,000-image test set; a trial is 10 rounds of one predict per core. Ray
actors load the model once; the original's `Pool.map` reloads model and data in every task.
TensorFlow is imported only where the work runs (never in a driver that forks afterwards).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .base import START_METHOD, Backend, Cell, FreeThreadedBackend, PoolBackend, RayBackend, pool_map, sha256_hex
from .libraries import JoblibBackend

NAME = "expensive_init"
WORK_UNIT = "predictions"
DATA_FILE = "mnist_synthetic.npz"
MODEL_FILE = "model.keras"  # Keras 3 refuses extension-less paths (the original's model.save(path))
MANIFEST_FILE = "manifest.json"


# ---------------------------------------------------------------------------- preparation


def synthetic_mnist(seed: int, train: int = 60_000, test: int = 10_000) -> dict[str, np.ndarray]:
    """A deterministic stand-in for MNIST (which cannot be downloaded here): 28x28 uint8 images of
    10 classes, each a noisy, randomly shifted copy of a class prototype, so the model learns."""
    rng = np.random.default_rng(seed)
    prototypes = rng.random((10, 28, 28)) ** 3 * 255.0

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 10, size=n)
        shifts = rng.integers(-2, 3, size=(n, 2))
        images = np.empty((n, 28, 28), dtype=np.uint8)
        for k in range(n):
            base = np.roll(prototypes[labels[k]], tuple(shifts[k]), axis=(0, 1))
            noisy = base * rng.uniform(0.6, 1.0) + rng.normal(0.0, 40.0, (28, 28))
            images[k] = np.clip(noisy, 0, 255).astype(np.uint8)
        return images, labels.astype(np.uint8)

    x_train, y_train = draw(train)
    x_test, y_test = draw(test)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def prepare(resources: Path, seed: int = 2019) -> dict:
    """Generate the data set, train the original's model for one epoch and save both."""
    import keras

    resources.mkdir(parents=True, exist_ok=True)
    data = synthetic_mnist(seed)
    np.savez_compressed(resources / DATA_FILE, x_train=data["x_train"], y_train=data["y_train"],
                        x_test=data["x_test"], y_test=data["y_test"])

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input(shape=(28, 28)),  # Keras 3 form of the original's Flatten(input_shape=(28, 28))
        keras.layers.Flatten(),
        keras.layers.Dense(512, activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(data["x_train"] / 255.0, data["y_train"], epochs=1, verbose=0)
    _, test_accuracy = model.evaluate(data["x_test"] / 255.0, data["y_test"], verbose=0)
    model.save(resources / MODEL_FILE)
    manifest = {
        "seed": seed,
        "train_images": int(len(data["x_train"])),
        "test_images": int(len(data["x_test"])),
        "train_accuracy": float(history.history["accuracy"][-1]),
        "test_accuracy": float(test_accuracy),
        "keras": keras.__version__,
    }
    (resources / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    return manifest


def check_prepared(resources: Path) -> None:
    missing = [f for f in (DATA_FILE, MODEL_FILE) if not (resources / f).exists()]
    if missing:
        raise FileNotFoundError(
            f"expensive_init needs {', '.join(missing)} in {resources}; run "
            f"`parbench prepare --resources {resources}` first (the pipeline does this itself)"
        )


# ------------------------------------------------------------------ the work, shared by all


def configure_tensorflow(threads: int, inter_op_threads: int | None = None) -> None:
    """Thread pools must be sized before TensorFlow's runtime starts; later calls raise."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(inter_op_threads or threads)
    except RuntimeError:
        pass  # already initialized in this process with the values from TF_NUM_*_THREADS


def load_model_and_data(resources: Path, test_images: int):
    import keras

    model = keras.models.load_model(resources / MODEL_FILE)
    with np.load(resources / DATA_FILE) as data:
        x_test = data["x_test"][:test_images] / 255.0
    return model, x_test


def pin_to(cpus: tuple[int, ...], index: int) -> None:
    """The original's `psutil.Process().cpu_affinity([i])`, mapped onto the run's own CPUs."""
    os.sched_setaffinity(0, [cpus[index % len(cpus)]])


def make_inputs(cell: Cell) -> dict:
    check_prepared(cell.resources)
    return {}


def work_expected(cell: Cell) -> int:
    return cell.sizes.rounds * cell.cores


def summarize(result: list[np.ndarray]) -> tuple[int, str]:
    """Digest of the predicted classes; every prediction covers the same images, so all must agree."""
    classes = {np.argmax(r, axis=1).astype(np.int64).tobytes() for r in result}
    if len(classes) != 1:
        return len(result), "inconsistent"
    return len(result), sha256_hex(classes)


# ---------------------------------------------------------------------------------- serial


class Serial(Backend):
    name = "serial"
    setup_region = "TensorFlow import, model and test-data load in the driver"
    timed_region = "10 rounds x N model.predict on the test set, one after another in the driver"
    pinning = ("driver pinned to the run's N CPUs; TensorFlow uses N threads on them (the original's serial was "
               "multi-threaded)")

    def setup(self):
        configure_tensorflow(self.cell.cores)
        self.model, self.x_test = load_model_and_data(self.cell.resources, self.cell.sizes.test_images)

    def trial(self):
        batch = self.cell.sizes.predict_batch
        return [self.model.predict(self.x_test, batch_size=batch, verbose=0)
                for _ in range(self.cell.sizes.rounds * self.cell.cores)]


# ------------------------------------------------------------------------ multiprocessing


def _import_tensorflow() -> None:
    # The original imported TensorFlow at module level, so its forked workers had it loaded
    # before the timer; forking after TF's threads exist can deadlock, so workers import it here.
    configure_tensorflow(1)


def _evaluate_next_batch_reloading(args) -> np.ndarray:
    index, cpus, resources, test_images, batch = args
    pin_to(cpus, index)
    model, x_test = load_model_and_data(resources, test_images)  # in every task, as the original
    return model.predict(x_test, batch_size=batch, verbose=0)


class Multiprocessing(PoolBackend):
    name = "multiprocessing"
    setup_region = "Pool(N) start; TensorFlow imported in each worker"
    timed_region = ("10 rounds of pool.map over N tasks; every task pins itself, loads the model and the test data, "
                    "predicts")
    pinning = "each task pins its worker to CPU i (the original's cpu_affinity([i])), within the run's CPUs"
    notes = ("model and data are loaded 10 N times inside the timer, as in the original; Ray loads them before it",)

    def pool_initializer(self):
        return _import_tensorflow, ()

    def trial(self):
        c, s = self.cell, self.cell.sizes
        tasks = [(i, c.cpus, c.resources, s.test_images, s.predict_batch) for i in range(c.cores)]
        results = []
        for _ in range(s.rounds):
            results.extend(pool_map(self.pool, _evaluate_next_batch_reloading, tasks))
        return results


# -------------------------------------------------------------------------------------- ray


class ModelActor:
    """The post's `Model` actor: pins itself, loads model and data once in the constructor."""

    def __init__(self, index, cpus, resources, test_images, batch):
        pin_to(cpus, index)
        configure_tensorflow(1)
        self.batch = batch
        self.model, self.x_test = load_model_and_data(resources, test_images)

    def ping(self) -> int:
        return os.getpid()

    def evaluate_next_batch(self) -> np.ndarray:
        return self.model.predict(self.x_test, batch_size=self.batch, verbose=0)


class Ray(RayBackend):
    name = "ray"
    setup_region = "ray.init(num_cpus=N); N actors (num_cpus=1) created, each loading model and data; ping on all"
    timed_region = "10 rounds of ray.get([actor.evaluate_next_batch.remote() for each of N actors])"
    pinning = "each actor pins itself to CPU i (the original's cpu_affinity([i])), within the run's CPUs"

    def start(self):
        import ray

        c, s = self.cell, self.cell.sizes
        actor_class = ray.remote(num_cpus=1)(ModelActor)
        self.actors = [actor_class.remote(i, c.cpus, c.resources, s.test_images, s.predict_batch)
                       for i in range(c.cores)]
        ray.get([a.ping.remote() for a in self.actors])  # model loading stays out of the timer

    def trial(self):
        import ray

        results = []
        for _ in range(self.cell.sizes.rounds):
            results.extend(ray.get([a.evaluate_next_batch.remote() for a in self.actors]))
        return results


# ------------------------------------------------------------------ multiprocessing_tuned

_worker_model = None  # set once per worker by the pool initializer
_worker_x_test = None


def _load_once(cpus, resources, test_images) -> None:
    global _worker_model, _worker_x_test
    import multiprocessing

    identity = multiprocessing.current_process()._identity  # 1-based worker number in this pool
    pin_to(cpus, (identity[0] - 1) if identity else 0)
    configure_tensorflow(1)
    _worker_model, _worker_x_test = load_model_and_data(resources, test_images)


def _evaluate_next_batch_loaded(batch: int) -> np.ndarray:
    if _worker_model is None:
        raise RuntimeError("predict called in a worker whose initializer did not load the model")
    return _worker_model.predict(_worker_x_test, batch_size=batch, verbose=0)


class MultiprocessingTuned(PoolBackend):
    name = "multiprocessing_tuned"
    setup_region = "Pool(N, initializer=load model and data, pin) start; waits until every worker has loaded"
    timed_region = "10 rounds of pool.map over N tasks, each predicting with its worker's loaded model"
    pinning = "each worker pins itself to one CPU of the run in its initializer"
    notes = ("the post's own remedy, Pool(initializer=...), which its baseline did not use",)

    def pool_initializer(self):
        c, s = self.cell, self.cell.sizes
        return _load_once, (c.cpus, c.resources, s.test_images)

    def trial(self):
        s = self.cell.sizes
        results = []
        for _ in range(s.rounds):
            results.extend(pool_map(self.pool, _evaluate_next_batch_loaded, [s.predict_batch] * self.cell.cores))
        return results


# ======================================== beyond the original: the libraries people would pick instead

_cached_model_and_data = None  # per process: a joblib or Dask worker (or joblib's n_jobs=1 driver)


def _model_from_worker_cache(resources, test_images):
    """This process's model and test data, loaded on first use and kept for every later task."""
    global _cached_model_and_data
    if _cached_model_and_data is None:
        configure_tensorflow(1)
        _cached_model_and_data = load_model_and_data(resources, test_images)
    return _cached_model_and_data


def _load_into_worker_cache(resources, test_images) -> int:
    _model_from_worker_cache(resources, test_images)
    return os.getpid()  # not the model: a warm-up must send nothing big back


def _predict_with_cached_model(resources, test_images, batch: int) -> np.ndarray:
    model, x_test = _model_from_worker_cache(resources, test_images)
    return model.predict(x_test, batch_size=batch, verbose=0)


CACHE_PINNING = "process tree pinned to the run's CPUs; workers not pinned one per CPU (the library has no such idiom)"


class Joblib(JoblibBackend):
    name = "joblib"
    start_method = "loky"
    setup_region = ("Parallel(n_jobs=N, backend='loky') entered once; warm-up tasks until every worker has "
                    "loaded model and data into its module-level cache")
    timed_region = "10 rounds of parallel(N predict tasks), each using its worker's cached model"
    pinning = CACHE_PINNING
    notes = ("joblib has no initializer: the model sits in a module-level cache of each worker, loaded "
             "lazily by the first task there; setup warms it in every worker",
             "at 1 core joblib runs the tasks in the driver (its n_jobs=1 rule), with the model cached there")

    def setup(self):
        from .libraries import start_joblib

        c, s = self.cell, self.cell.sizes
        self.parallel = start_joblib(c.cores, _load_into_worker_cache, (c.resources, s.test_images))

    def trial(self):
        from joblib import delayed

        c, s = self.cell, self.cell.sizes
        results = []
        for _ in range(s.rounds):
            predict = delayed(_predict_with_cached_model)
            results.extend(self.parallel(predict(c.resources, s.test_images, s.predict_batch)
                                         for _ in range(c.cores)))
        return results


class ConcurrentFutures(Backend):
    name = "concurrent_futures"
    start_method = START_METHOD
    setup_region = ("ProcessPoolExecutor(N, initializer=load model and data, pin) started; waits until every worker "
                    "has loaded")
    timed_region = "10 rounds of executor.map over N tasks, each predicting with its worker's loaded model"
    pinning = "each worker pins itself to one CPU of the run in its initializer"
    notes = ("the documented initializer= of ProcessPoolExecutor; the same worker code as multiprocessing_tuned",)

    def setup(self):
        from .libraries import start_executor

        c, s = self.cell, self.cell.sizes
        self.executor = start_executor(c.cores, _load_once, (c.cpus, c.resources, s.test_images))

    def trial(self):
        s = self.cell.sizes
        results = []
        for _ in range(s.rounds):
            results.extend(self.executor.map(_evaluate_next_batch_loaded, [s.predict_batch] * self.cell.cores))
        return results

    def teardown(self):
        from .libraries import stop_executor

        stop_executor(self.executor)


class Dask(Backend):
    name = "dask"
    start_method = "spawn"
    setup_region = ("LocalCluster(n_workers=N, threads_per_worker=1) and Client started; client.run loads "
                    "model and data into every worker's module-level cache")
    timed_region = ("10 rounds of client.gather(N client.submit(predict, pure=False)), each using its worker's "
                    "cached model")
    pinning = CACHE_PINNING
    notes = ("the model is loaded once per worker by client.run in setup (a WorkerPlugin would do the same); "
             "the scheduler picks the worker of each task",
             "pure=False: N identical submissions would otherwise share one key and run once")

    def setup(self):
        from .libraries import start_dask

        c, s = self.cell, self.cell.sizes
        self.cluster, self.client = start_dask(c.cores)
        self.client.run(_load_into_worker_cache, c.resources, s.test_images)

    def trial(self):
        c, s = self.cell, self.cell.sizes
        results = []
        for _ in range(s.rounds):
            futures = [self.client.submit(_predict_with_cached_model, c.resources, s.test_images, s.predict_batch,
                                          pure=False) for _ in range(c.cores)]
            results.extend(self.client.gather(futures))
        return results

    def teardown(self):
        from .libraries import stop_dask

        stop_dask(self.cluster, self.client)


def _mpire_load_model(shared: tuple, worker_state: dict) -> None:
    resources, test_images = shared
    configure_tensorflow(1)
    worker_state["model"], worker_state["x_test"] = load_model_and_data(resources, test_images)


def _mpire_ready(shared: tuple, worker_state: dict, _: int) -> int:
    return os.getpid()


def _mpire_predict(shared: tuple, worker_state: dict, batch: int) -> np.ndarray:
    return worker_state["model"].predict(worker_state["x_test"], batch_size=batch, verbose=0)


class Mpire(Backend):
    name = "mpire"
    start_method = START_METHOD
    setup_region = ("WorkerPool(N, use_worker_state=True, keep_alive=True, cpu_ids) started; one task per "
                    "worker runs worker_init, which loads model and data into its worker_state")
    timed_region = "10 rounds of pool.map over N tasks, each predicting with its worker's loaded model"
    pinning = "mpire's cpu_ids pins worker i to CPU i of the run"
    notes = ("mpire's documented pattern: worker_init loads the model into worker_state once per worker",)

    def setup(self):
        from .libraries import start_mpire

        c, s = self.cell, self.cell.sizes
        self.pool = start_mpire(c.cores, _mpire_ready, range(c.cores), worker_init=_mpire_load_model,
                                shared_objects=(c.resources, s.test_images), use_worker_state=True,
                                cpu_ids=[[cpu] for cpu in c.cpus])

    def trial(self):
        s = self.cell.sizes
        results = []
        for _ in range(s.rounds):
            # concatenate_numpy_output=False: mpire would otherwise stack the N predictions into one array
            results.extend(self.pool.map(_mpire_predict, [s.predict_batch] * self.cell.cores,
                                         worker_init=_mpire_load_model, chunk_size=1,
                                         concatenate_numpy_output=False))
        return results

    def teardown(self):
        self.pool.terminate()


class Threads(Backend):
    name = "threads"
    setup_region = ("TensorFlow (1 intra-op, N inter-op threads), one model and test data loaded in the driver, "
                    "one untimed predict; ThreadPoolExecutor(max_workers=N) created")
    timed_region = "10 rounds of executor.map: N threads call predict on the one shared model at once"
    pinning = "the driver and its threads pinned to the run's CPUs"
    notes = ("not a negative control here, unlike B1 and B2: TensorFlow releases the GIL while it computes, "
             "so N predicts in N threads can run in parallel",
             "N inter-op threads so that N concurrent predicts are not queued on one TensorFlow thread; "
             "each predict still uses 1 intra-op thread, as every worker of the other backends",
             "one untimed predict in setup traces Keras' predict function before N threads share it")

    def setup(self):
        from concurrent.futures import ThreadPoolExecutor

        c, s = self.cell, self.cell.sizes
        configure_tensorflow(1, inter_op_threads=c.cores)
        self.model, self.x_test = load_model_and_data(c.resources, s.test_images)
        self.model.predict(self.x_test, batch_size=s.predict_batch, verbose=0)
        self.executor = ThreadPoolExecutor(max_workers=c.cores)

    def _predict(self, _: int) -> np.ndarray:
        return self.model.predict(self.x_test, batch_size=self.cell.sizes.predict_batch, verbose=0)

    def trial(self):
        results = []
        for _ in range(self.cell.sizes.rounds):
            results.extend(self.executor.map(self._predict, range(self.cell.cores)))
        return results

    def teardown(self):
        self.executor.shutdown(wait=True)


# ============================ beyond the original: CPython's own answer, threads without the GIL


class FreeThreading(FreeThreadedBackend):
    name = "free_threading"
    setup_region = Threads.setup_region
    timed_region = Threads.timed_region + " (on a free-threaded interpreter)"
    notes = ("not applicable while TensorFlow cannot be imported on the free-threaded interpreter: PyPI has no "
             "tensorflow-cpu wheel for it (cp313t); where it can, the threads code runs and the GIL checks apply",)

    @classmethod
    def unavailable(cls):
        from importlib.util import find_spec

        if find_spec("tensorflow") is None:
            return ("B3 needs TensorFlow, which is not installed on this free-threaded interpreter: PyPI has no "
                    "tensorflow-cpu wheel for free-threaded CPython (cp313t), so the model cannot be loaded")
        return None

    start = Threads.setup
    _predict = Threads._predict
    trial = Threads.trial
    teardown = Threads.teardown


BACKENDS = {b.name: b for b in (Serial, Multiprocessing, Ray, MultiprocessingTuned,
                                Joblib, ConcurrentFutures, Dask, Mpire, Threads, FreeThreading)}
