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


# How B2's driver makes each document (config key document_generation, `parbench run
# --document-generation`). Both give the same words, hence the same digests: numpy's bytes(n) draws
# ceil(n / 4) 32-bit integers, so with 4 | word_bytes one call for the whole document is the
# concatenation of the per-word calls (benchmarks/document_generation.py checks it).
PER_WORD = "per-word"  # the post's code: one np.random.bytes(20) call per word
PER_DOCUMENT = "per-document"  # one call per document, sliced into the same words
DOCUMENT_GENERATIONS = (PER_WORD, PER_DOCUMENT)


@dataclass(frozen=True)
class WorkloadInfo:
    name: str
    number: str  # the post's benchmark number, "B1".."B3"
    title: str
    description: str
    # A variant times its base workload (same module, sizes, seeds and so the same digests) with one
    # thing done another way, as a cell of its own: its own name in records, tables and figures.
    base: str | None = None
    document_generation: str = PER_WORD
    backends: tuple[str, ...] | None = None  # the backends that time a variant (None: all)


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
    WorkloadInfo("stateful_per_document", "B2", "Stateful computation, one RNG call per document",
                 "B2 with each document's words drawn by one RNG call, sliced (the same words): the driver's "
                 "per-word cost of today's numpy taken out",
                 base="stateful", document_generation=PER_DOCUMENT,
                 backends=("serial", "multiprocessing", "ray", "multiprocessing_tuned")),
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

# The post's three workloads (what its claims and the primitives range over) ...
WORKLOAD_ORDER: tuple[str, ...] = tuple(w.name for w in WORKLOAD_INFO if w.base is None)
# ... and every workload a cell can time, variants included (tables and figures).
CELL_WORKLOAD_ORDER: tuple[str, ...] = tuple(w.name for w in WORKLOAD_INFO)
BACKEND_ORDER: tuple[str, ...] = tuple(b.name for b in BACKEND_INFO)
WORKLOADS: dict[str, str] = {w.name: f"{w.number}: {w.description}" for w in WORKLOAD_INFO if w.base is None}
CELL_WORKLOADS: dict[str, str] = {w.name: f"{w.number}: {w.description}" for w in WORKLOAD_INFO}
BACKENDS: dict[str, str] = {b.name: b.description for b in BACKEND_INFO}
WORKLOAD_TITLES: dict[str, str] = {w.name: f"{w.title} ({w.number})" for w in WORKLOAD_INFO}
BACKEND_LABELS: dict[str, str] = {b.name: b.label for b in BACKEND_INFO}
ORIGINAL_BACKENDS: tuple[str, ...] = tuple(b.name for b in BACKEND_INFO if b.group == ORIGINAL)
ALTERNATIVES: tuple[str, ...] = tuple(b.name for b in BACKEND_INFO if b.group == ALTERNATIVE)
FREE_THREADED_BACKENDS: tuple[str, ...] = tuple(b.name for b in BACKEND_INFO if b.group == FREE_THREADED)
PALETTE_INDEX: dict[str, int] = {b.name: b.palette_index for b in BACKEND_INFO}


def _workload_info(name: str) -> WorkloadInfo | None:
    return next((w for w in WORKLOAD_INFO if w.name == name), None)


def base_workload(name: str) -> str:
    """The workload whose module a cell of `name` runs: itself, or a variant's base."""
    info = _workload_info(name)
    return info.base or name if info else name


def document_generation_of(name: str) -> str:
    """How a cell of `name` makes B2's documents (per-word but for the per-document variant)."""
    info = _workload_info(name)
    return info.document_generation if info else PER_WORD


def cell_workload(workload: str, generation: str) -> str:
    """The name of the cell that times `workload` with documents made by `generation`."""
    base = base_workload(workload)
    for w in WORKLOAD_INFO:
        if (w.base or w.name) == base and w.document_generation == generation:
            return w.name
    return base


def times_variant(workload: str, backend: str) -> bool:
    """Whether `backend` has a cell of `workload` (a variant is timed for some backends only)."""
    info = _workload_info(workload)
    return info is None or info.backends is None or backend in info.backends


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
