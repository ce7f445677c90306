"""Names and policies the CLI needs *before* numpy, Ray or TensorFlow may be imported."""

from __future__ import annotations

WORKLOADS = {
    "numerical": "B1: convolve a 3000x3000 image with one 4x4 filter per core",
    "stateful": "B2: streaming prefix counts over 10 documents per core, state held per worker",
    "expensive_init": "B3: Keras MLP inference, 10 rounds x one test-set predict per core",
}
BACKENDS = {
    "serial": "one process (expensive_init: TensorFlow with N threads, as the original)",
    "multiprocessing": "the original's multiprocessing.Pool code, its costs and its 4-slot bug included",
    "ray": "the original's Ray code: ray.put, actors (num_cpus=1)",
    "multiprocessing_tuned": "standard library written by an expert: shared memory (an anonymous mmap inherited at fork), per-worker state, initializer",
    "joblib": "joblib Parallel (loky) kept open: automatic memmapping, one task per state group, per-worker model cache",
    "concurrent_futures": "ProcessPoolExecutor (fork): shared memory (anonymous mmap) via initializer, map over state groups, initializer",
    "dask": "Dask distributed LocalCluster: scatter(broadcast=True), actors, model loaded by client.run",
    "mpire": "mpire WorkerPool: shared_objects, worker_state with ordered tasks, worker_init",
    "threads": "ThreadPoolExecutor in the driver: negative control under the GIL (B1, B2); TensorFlow releases it (B3)",
}
# Beyond the original: the libraries people would pick instead (not in the post).
ALTERNATIVES = ("joblib", "concurrent_futures", "dask", "mpire", "threads")


def worker_threads(workload: str, backend: str, cores: int) -> int:
    """BLAS/OpenMP/TensorFlow threads per process.

    One everywhere (N processes on N cores), except serial expensive_init: the original's serial
    TensorFlow used its own threads on all cores, which is kept and recorded.
    """
    if workload == "expensive_init" and backend == "serial":
        return cores
    return 1
