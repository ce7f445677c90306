"""The one list of workloads and backends: names, order, titles, labels, colours and groups.

Everything that names a workload or a backend (the CLI, the schema check, figures, report,
verdicts, tests) takes it from here. Only the standard library is imported: the CLI reads this
*before* numpy, Ray or TensorFlow may be imported.
"""

from __future__ import annotations

from dataclasses import dataclass

# Groups of backends, in the order the report presents them.
ORIGINAL = "original"  # the post's three
TUNED = "tuned"  # what an expert writes with the standard library alone
ALTERNATIVE = "alternative"  # libraries a reader would pick today
FREE_THREADED = "free-threaded"  # CPython's own answer since 3.13 (PEP 703), which the post could not test
GROUPS = (ORIGINAL, TUNED, ALTERNATIVE, FREE_THREADED)


@dataclass(frozen=True)
class WorkloadInfo:
    name: str
    number: str  # the post's benchmark number, "B1".."B3"
    title: str
    description: str


@dataclass(frozen=True)
class BackendInfo:
    name: str
    label: str  # in figures and tables
    group: str
    palette_index: int  # into seaborn's 10-colour "colorblind" palette, one distinct entry per backend
    description: str


WORKLOAD_INFO: tuple[WorkloadInfo, ...] = (
    WorkloadInfo("numerical", "B1", "Numerical data",
                 "convolve a 3000x3000 image with one 4x4 filter per core"),
    WorkloadInfo("stateful", "B2", "Stateful computation",
                 "streaming prefix counts over 10 documents per core, state held per worker"),
    WorkloadInfo("expensive_init", "B3", "Expensive initialization",
                 "Keras MLP inference, 10 rounds x one test-set predict per core"),
)

# palette: 0 blue, 1 orange, 2 green, 3 vermillion, 4 purple, 5 brown, 6 pink, 7 grey, 8 yellow, 9 sky blue
BACKEND_INFO: tuple[BackendInfo, ...] = (
    BackendInfo("serial", "serial Python", ORIGINAL, 7,
                "one process (expensive_init: TensorFlow with N threads, as the original)"),
    BackendInfo("multiprocessing", "multiprocessing (original)", ORIGINAL, 1,
                "the original's multiprocessing.Pool code, its costs and its 4-slot bug included"),
    BackendInfo("ray", "Ray", ORIGINAL, 0,
                "the original's Ray code: ray.put, actors (B2: Ray's defaults, as the post; B3: num_cpus=1)"),
    BackendInfo("multiprocessing_tuned", "multiprocessing (tuned)", TUNED, 3,
                "standard library written by an expert: shared memory (an anonymous mapping inherited at fork), "
                "per-worker state, initializer"),
    BackendInfo("joblib", "joblib", ALTERNATIVE, 2,
                "joblib Parallel (loky) kept open: automatic memmapping, one task per state group, "
                "per-worker model cache"),
    BackendInfo("concurrent_futures", "concurrent.futures", ALTERNATIVE, 4,
                "ProcessPoolExecutor (fork): shared memory (anonymous mapping) via initializer, map over state "
                "groups, initializer"),
    BackendInfo("dask", "Dask", ALTERNATIVE, 5,
                "Dask distributed LocalCluster: scatter(broadcast=True), actors, model loaded by client.run"),
    BackendInfo("mpire", "MPIRE", ALTERNATIVE, 6,
                "mpire WorkerPool: shared_objects, worker_state with ordered tasks, worker_init"),
    BackendInfo("threads", "threads (GIL)", ALTERNATIVE, 8,
                "ThreadPoolExecutor in the driver: negative control under the GIL (B1, B2); "
                "TensorFlow releases it (B3)"),
    BackendInfo("free_threading", "threads (free-threaded CPython)", FREE_THREADED, 9,
                "ThreadPoolExecutor on a free-threaded CPython build (no GIL): threads share the image (B1), "
                "one state per thread (B2); B3 not applicable (no TensorFlow wheel)"),
)

WORKLOAD_ORDER: tuple[str, ...] = tuple(w.name for w in WORKLOAD_INFO)
BACKEND_ORDER: tuple[str, ...] = tuple(b.name for b in BACKEND_INFO)
WORKLOADS: dict[str, str] = {w.name: f"{w.number}: {w.description}" for w in WORKLOAD_INFO}
BACKENDS: dict[str, str] = {b.name: b.description for b in BACKEND_INFO}
WORKLOAD_TITLES: dict[str, str] = {w.name: f"{w.title} ({w.number})" for w in WORKLOAD_INFO}
BACKEND_LABELS: dict[str, str] = {b.name: b.label for b in BACKEND_INFO}
ORIGINAL_BACKENDS: tuple[str, ...] = tuple(b.name for b in BACKEND_INFO if b.group == ORIGINAL)
ALTERNATIVES: tuple[str, ...] = tuple(b.name for b in BACKEND_INFO if b.group == ALTERNATIVE)
FREE_THREADED_BACKENDS: tuple[str, ...] = tuple(b.name for b in BACKEND_INFO if b.group == FREE_THREADED)
PALETTE_INDEX: dict[str, int] = {b.name: b.palette_index for b in BACKEND_INFO}


def backend_group(name: str) -> str:
    for b in BACKEND_INFO:
        if b.name == name:
            return b.group
    return ALTERNATIVE


def worker_threads(workload: str, backend: str, cores: int) -> int:
    """BLAS/OpenMP/TensorFlow threads per process.

    One everywhere (N processes on N cores), except serial expensive_init: the original's serial
    TensorFlow used its own threads on all cores, which is kept and recorded.
    """
    if workload == "expensive_init" and backend == "serial":
        return cores
    return 1
