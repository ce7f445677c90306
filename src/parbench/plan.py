"""The run plan: which cells run, on how many cores, in which order, and for about how long.

Called by `workflow/rules/common.smk` (the Snakefile only turns this into jobs) and by
`parbench run` for its progress line. Only the standard library is imported at module level.

- Core counts: `auto` is 1, 2, 4, 8, ... up to the physical cores a pinned cell may use, capped
  by a cgroup CPU quota (`docker run --cpus=4`); an explicit count above either is refused with a
  sentence that names the fix. Only Ray-cluster cells may exceed this machine.
- Order: every cell is measured in R rounds, each a fresh process. Round r of every cell runs
  before round r + 1 of any, and the cells of each round run in a seeded shuffle, so slow drift of
  the machine's speed spreads over every backend. The calibration points (the quiet-machine check)
  run before the first round and after each round, placed there by priority alone.
- Duration: weak scaling. Each (workload, backend)'s trial time at N cores is extrapolated
  linearly from the reference records at 1 and 2 cores (serial and multiprocessing work grows with
  N; an ideal parallel backend stays flat), then scaled by the preset's work per core.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .catalog import CELL_WORKLOAD_ORDER, PER_WORD, base_workload, cell_workload, times_variant

AUTO_CORES = (1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128)
PROCESS_OVERHEAD_S = 3.0  # interpreter start and imports per process, when no record says better
CALIBRATION_FIXED_SECONDS = 2.0  # one calibration point's process, pool start and 1 s idle-load window


def calibration_point_seconds(config: dict | None = None) -> float:
    """One calibration point of `config`: its fixed cost and calibration_repeats x (single +
    parallel) of calibration_seconds each (7 s at the defaults, 0.5 s x 5; the smoke configuration's
    0.2 s x 3: 3.2 s, 2.5-3.5 s measured)."""
    config = config or {}
    return CALIBRATION_FIXED_SECONDS + config.get("calibration_repeats", 5) * 2 * config.get("calibration_seconds", 0.5)


CALIBRATION_SECONDS = calibration_point_seconds()


class PlanError(ValueError):
    """The configuration asks for cells this machine cannot run; the message names the fix."""


@dataclass(frozen=True, order=True)
class CellKey:
    workload: str
    backend: str
    cores: int

    def __str__(self) -> str:
        return f"{self.workload}/{self.backend}/{self.cores}"


@dataclass(frozen=True, order=True)
class Job:
    """One round of one cell: one `parbench run` process, one record."""

    cell: CellKey
    round: int


@dataclass(frozen=True)
class Machine:
    """What bounds the core counts: physical cores a pinned cell may use and the CPU quota."""

    physical_cores: int
    quota_cores: int | None = None  # floor of the cgroup CPU quota, None when there is none
    source: str = "this machine"  # "this machine" or "node_cores" (SLURM nodes)

    @property
    def usable_cores(self) -> int:
        return min(self.physical_cores, self.quota_cores or self.physical_cores)


def resolve_cores(value: str | Sequence[int], machine: Machine, cluster_backends: Sequence[str] = (),
                  ray_address: str | None = None) -> list[int]:
    """The core counts of the run. `auto`: AUTO_CORES up to the usable cores, plus that maximum."""
    usable = machine.usable_cores
    if value == "auto":
        return sorted({c for c in AUTO_CORES if c <= usable} | {usable})
    cores = sorted(set(int(c) for c in value))
    if machine.quota_cores is not None:
        over_quota = [c for c in cores if c > machine.quota_cores]
        if over_quota and not cluster_backends:
            raise PlanError(
                f"config error: cores {over_quota} exceed the CPU quota of this container or cgroup "
                f"({machine.quota_cores} CPUs, e.g. from `docker run --cpus`): N pinned processes would "
                f"share fewer than N CPUs. Use cores: auto or values up to {machine.quota_cores}, or "
                f"give the container more CPUs (`docker run --cpus=N`, or better `--cpuset-cpus=0-{{N-1}}` "
                f"without --cpus)")
    too_many = [c for c in cores if c > machine.physical_cores]
    if too_many and not cluster_backends:
        hint = (" (ray_address is set, but none of the configured backends runs on a Ray cluster)"
                if ray_address else "; or set ray_address to time the ray backend on a Ray cluster")
        where = "node_cores" if machine.source == "node_cores" else "the physical cores this machine lets the run use"
        raise PlanError(f"config error: cores {too_many} exceed {where} ({machine.physical_cores}); use "
                        f"cores: auto or values up to {machine.physical_cores}{hint}")
    return cores


def cell_workloads(workloads: Iterable[str], document_generations: Iterable[str]) -> list[str]:
    """The workloads a run times: each configured one, and B2 once per document generation (the
    per-document one as its variant, catalog.py), in catalog order."""
    generations = list(document_generations)
    wanted = set()
    for workload in workloads:
        if workload == "stateful":
            wanted |= {cell_workload(workload, g) for g in generations}
        else:
            wanted.add(workload)
    return [w for w in CELL_WORKLOAD_ORDER if w in wanted]


def primitives_rounds(config: dict) -> int:
    """How many primitives rounds a run measures: one right after each of its first k cell rounds
    (config primitives_rounds; null: after every round, so the model's inputs see the machine in
    every state the cells saw)."""
    rounds, wanted = int(config["rounds"]), config.get("primitives_rounds")
    if wanted is None:
        return rounds
    if not 1 <= int(wanted) <= rounds:
        raise PlanError(f"config error: primitives_rounds is {wanted}, but a run measures its primitives after its "
                        f"cell rounds: set it between 1 and rounds ({rounds}), or null for one after every round")
    return int(wanted)


def document_generations(config: dict) -> list[str]:
    """The config's document_generation: one name or a list (the default run times B2 both ways)."""
    value = config.get("document_generation", [PER_WORD])
    return [value] if isinstance(value, str) else list(value)


def plan_cells(workloads: Iterable[str], backends: Iterable[str], cores: Iterable[int], machine: Machine,
               cluster_backends: Sequence[str] = ()) -> list[CellKey]:
    """Every (workload, backend, cores) cell; above this machine's cores only cluster backends run; a
    variant workload only for the backends that time it."""
    usable = machine.usable_cores
    return [CellKey(w, b, c) for w in workloads for b in backends for c in cores
            if (c <= usable or b in cluster_backends) and times_variant(w, b)]


# The cost model's out-of-sample check (config `oversubscribed_check`): N workers on fewer CPUs, for
# the workloads and backends whose N-growing terms the model must get right (issue 20).
OVERSUBSCRIBED_WORKERS = (4, 8, 16)
OVERSUBSCRIBED_WORKLOADS = ("numerical", "stateful")
OVERSUBSCRIBED_BACKENDS = ("serial", "multiprocessing", "ray", "multiprocessing_tuned")


def plan_oversubscribed(workloads: Iterable[str], backends: Iterable[str], machine: Machine) -> list[CellKey]:
    """The oversubscribed cells of the check: each N that exceeds this machine's usable cores (on a
    larger machine those N are real cells, not out-of-sample ones)."""
    backends = list(backends)
    return [CellKey(w, b, n) for w in workloads if w in OVERSUBSCRIBED_WORKLOADS for b in OVERSUBSCRIBED_BACKENDS
            if b in backends for n in OVERSUBSCRIBED_WORKERS if n > machine.usable_cores]


def job_order(cells: Sequence[CellKey], rounds: int, seed: int) -> list[Job]:
    """Round by round, each round in its own seeded shuffle of the cells."""
    order: list[Job] = []
    for r in range(rounds):
        shuffled = list(cells)
        random.Random(seed * 1_000 + r).shuffle(shuffled)
        order.extend(Job(cell, r) for cell in shuffled)
    return order


def job_priorities(order: Sequence[Job]) -> dict[Job, int]:
    """Snakemake starts the ready job of highest priority first: earlier in the order = higher.

    Even numbers, so that a calibration point fits between two rounds (calibration_priorities)."""
    return {job: 2 * (len(order) - rank) for rank, job in enumerate(order)}


def calibration_priorities(order: Sequence[Job], rounds: int) -> dict[int, int]:
    """Point 0 before every cell; point r right after the last cell of round r - 1.

    Every timing job holds the one bench_slot and none depends on another, so all are ready from
    the start and run strictly by priority: the points fall between the rounds without making a
    point depend on the round's records (which would rerun it whenever the cell list changes).
    """
    priority = job_priorities(order)
    points = {0: 2 * len(order) + 1}
    for r in range(1, rounds + 1):
        last = [priority[j] for j in order if j.round == r - 1]
        points[r] = min(last) - 1 if last else 0
    return points


# ------------------------------------------------------------------ the free-threaded interpreter

FREE_THREADING_ENV = "PARBENCH_FREE_THREADING_PYTHON"  # set by the Dockerfile: the container's interpreter
FREE_THREADING_CACHE = Path(".cache/free-threading")  # where the workflow builds one on the host


def free_threading_stamp(cache: Path = FREE_THREADING_CACHE) -> Path:
    """Written last by bin/build-free-threading: the venv (and its interpreter) is complete."""
    return cache / "venv" / ".parbench-venv"


@dataclass(frozen=True)
class FreeThreadingPlan:
    """Which interpreter runs the free-threaded backends' cells, and whether the workflow builds it first."""

    python: str | None  # None: the backends are left out of this run (message says why)
    build: bool = False  # True: rule free_threading_interpreter builds it into FREE_THREADING_CACHE first
    message: str | None = None


def plan_free_threading(configured: str | None, environ: dict, missing_packages, cache: Path = FREE_THREADING_CACHE
                        ) -> FreeThreadingPlan:
    """The config key `free_threading_python` if set; else the container's ($PARBENCH_FREE_THREADING_PYTHON);
    else the project's cache, built by the workflow when the build prerequisites are here (`missing_packages()`
    names the missing Debian packages, called only when needed), else none: the backends are skipped."""
    if configured:
        if not Path(configured).is_file():
            raise PlanError(f"config error: free_threading_python: {configured} does not exist; give the path of "
                            f"a free-threaded interpreter's venv python with parbench importable "
                            f"(bin/build-free-threading --prefix DIR makes DIR/venv/bin/python), or null for the "
                            f"default")
        return FreeThreadingPlan(configured)
    container = environ.get(FREE_THREADING_ENV)
    if container and Path(container).is_file():
        return FreeThreadingPlan(container)
    python = str(cache / "venv" / "bin" / "python")
    built = free_threading_stamp(cache).is_file()
    missing = "" if built else missing_packages()
    if missing:
        return FreeThreadingPlan(None, message=(
            f"parbench: the free-threaded backends are skipped in this run: there is no free-threaded interpreter at "
            f"{python} and it cannot be built here, since these packages are missing: {missing} (Debian/Ubuntu: "
            f"sudo apt-get install {missing}). Install them and the workflow builds it once (about 4 minutes on 2 "
            f"idle cores), or set free_threading_python, or run in the container, which has one."))
    return FreeThreadingPlan(python, build=True, message=(
        None if built else
        f"parbench: the free-threaded interpreter is built once into {cache} before its cells run (rule "
        f"free_threading_interpreter, about 4 minutes on 2 idle cores; log: logs/free_threading_interpreter.log)"))


# ------------------------------------------------------------------------------- durations


def work_per_core(workload: str, sizes: dict) -> float:
    workload = base_workload(workload)
    if workload == "numerical":
        return sizes["image_side"] ** 2
    if workload == "stateful":
        return sizes["docs_per_core"] * sizes["words_per_doc"]
    return sizes["rounds"] * sizes["test_images"]


@dataclass
class ReferenceCell:
    """What the reference records say about one (workload, backend): trial seconds per core count."""

    sizes: dict
    trial_s: dict[int, float] = field(default_factory=dict)  # cores -> median trial seconds
    overhead_s: dict[int, float] = field(default_factory=dict)  # cores -> setup + teardown + start-up
    warmups: int = 0

    def trial_at(self, cores: int) -> float:
        """Linear in N from the two smallest core counts (weak scaling), never below the 1-core time."""
        known = sorted(self.trial_s)
        if len(known) == 1:
            return self.trial_s[known[0]]
        (n1, t1), (n2, t2) = [(n, self.trial_s[n]) for n in known[:2]]
        slope = max(0.0, (t2 - t1) / (n2 - n1))
        if cores <= known[-1]:  # interpolate inside the measured range
            below = max((n for n in known if n <= cores), default=known[0])
            above = min((n for n in known if n >= cores), default=known[-1])
            if above == below:
                return self.trial_s[below]
            frac = (cores - below) / (above - below)
            return self.trial_s[below] + frac * (self.trial_s[above] - self.trial_s[below])
        return self.trial_s[known[-1]] + slope * (cores - known[-1])

    def overhead_at(self, cores: int) -> float:
        nearest = min(self.overhead_s, key=lambda n: abs(n - cores))
        return self.overhead_s[nearest]


def load_reference(records: Iterable[Path]) -> dict[tuple[str, str], ReferenceCell]:
    """Reference records -> per (workload, backend) median trial and overhead seconds per core count."""
    trials: dict[tuple[str, str, int], list[float]] = {}
    overheads: dict[tuple[str, str, int], list[float]] = {}
    found: dict[tuple[str, str], ReferenceCell] = {}
    for path in records:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError):
            continue
        if data.get("status") != "ok" or not data.get("trials"):
            continue
        key = (data["workload"], data["backend"])
        cell = found.setdefault(key, ReferenceCell(sizes=data["sizes"], warmups=len(data["warmup_seconds"])))
        cores = int(data["cores"])
        trials.setdefault((*key, cores), []).extend(t["seconds"] for t in data["trials"])
        overheads.setdefault((*key, cores), []).append(
            PROCESS_OVERHEAD_S + (data.get("setup_seconds") or 0) + (data.get("teardown_seconds") or 0)
            + sum(data.get("before_trial_seconds") or []))
        cell.trial_s[cores] = statistics.median(trials[(*key, cores)])
        cell.overhead_s[cores] = statistics.median(overheads[(*key, cores)])
    return found


@dataclass(frozen=True)
class Estimate:
    total_s: float
    per_workload_s: dict[str, float]
    per_job_s: dict[Job, float]
    unknown: tuple[str, ...]  # (workload, backend) pairs without reference records


def reference_primitives_round_s(path: Path, preset: str, workloads: Iterable[str] | None = None) -> float:
    """Seconds of one primitives round in the reference run, if it used `preset` (else 0: unknown):
    its groups' seconds, without those of workloads the planned run leaves out."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return 0.0
    if record.get("preset") != preset:
        return 0.0
    rounds = max(1, len(record.get("rounds", [])))  # a merged record sums its rounds' seconds
    groups = record.get("group_seconds")
    if workloads is None or not groups:
        return float(record.get("seconds", 0.0)) / rounds
    from .primitives import WORKLOAD_GROUPS

    left_out = {g for w, g in WORKLOAD_GROUPS.items() if w not in set(workloads)}
    return sum(float(s) for g, s in groups.items() if g not in left_out) / rounds


def estimate(order: Sequence[Job], preset_sizes: dict[str, dict], trials: int, warmups: dict[str, int] | None,
             reference: dict[tuple[str, str], ReferenceCell], calibration_points: int = 0,
             primitives_s: float = 0.0, calibration_point_s: float = CALIBRATION_SECONDS) -> Estimate:
    """Seconds for the jobs in `order`; `preset_sizes` maps workload -> the planned preset's sizes.

    `warmups` maps backend -> warm-ups when overridden for every backend (None = the reference's);
    `primitives_s` is the primitives rounds still to measure.
    """
    per_job: dict[Job, float] = {}
    per_workload: dict[str, float] = {}
    unknown: set[str] = set()
    for job in order:
        cell = job.cell
        # A variant the reference did not time is estimated as its base (an upper bound for B2 per document).
        ref = (reference.get((cell.workload, cell.backend))
               or reference.get((base_workload(cell.workload), cell.backend)))
        if ref is None:
            unknown.add(f"{cell.workload}/{cell.backend}")
            continue
        sizes = preset_sizes[base_workload(cell.workload)]
        scale = work_per_core(cell.workload, sizes) / work_per_core(cell.workload, ref.sizes)
        passes = trials + (ref.warmups if warmups is None else warmups.get(cell.backend, 0))
        seconds = ref.overhead_at(cell.cores) + passes * ref.trial_at(cell.cores) * scale
        per_job[job] = seconds
        per_workload[cell.workload] = per_workload.get(cell.workload, 0.0) + seconds
    total = sum(per_job.values()) + calibration_points * calibration_point_s + primitives_s
    return Estimate(total, per_workload, per_job, tuple(sorted(unknown)))


def describe_duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def default_run_durations(config: dict, sizes: dict[str, dict], reference_records: Iterable[Path],
                          machines: Sequence[tuple[int, str | Sequence[int]]],
                          primitives_round_s: float = 0.0) -> list[dict]:
    """The run `config` describes, planned for each (physical cores, `cores:` value) in `machines`:
    its core counts, cell rounds and estimated seconds (the README's table)."""
    reference = load_reference(reference_records)
    warmups = None if config["warmup"] == "original" else {b: config["warmup"] for b in config["backends"]}
    rows = []
    for physical, cores_value in machines:
        machine = Machine(physical, None, "node_cores")
        cores = resolve_cores(cores_value, machine)
        workloads = cell_workloads(config["workloads"], document_generations(config))
        order = job_order(plan_cells(workloads, config["backends"], cores, machine), config["rounds"], config["seed"])
        est = estimate(order, sizes, config["trials"], warmups, reference, len(cores) * (config["rounds"] + 1),
                       primitives_rounds(config) * primitives_round_s, calibration_point_seconds(config))
        rows.append({"machine_cores": physical, "cores_value": cores_value, "cores": cores, "cell_rounds": len(order),
                     "seconds": est.total_s, "per_workload_s": est.per_workload_s, "unknown": est.unknown})
    return rows


# ------------------------------------------------------------------------------- progress


def write_plan(path: Path, order: Sequence[Job], est: Estimate, record_path: str,
               started_at: float | None = None) -> None:
    """The plan file `parbench run` reads to print its progress line (written when the run starts).

    It also keeps the start-up estimate and when the run started (epoch seconds; now by default),
    so that the run's end can say how far off the estimate was (estimate_error_line)."""
    jobs = [{"cell": str(job.cell), "round": job.round,
             "record": record_path.format(workload=job.cell.workload, backend=job.cell.backend,
                                          cores=job.cell.cores, round=job.round),
             "estimate_s": est.per_job_s.get(job)} for job in order]
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.time() if started_at is None else started_at
    path.write_text(json.dumps({"started_at": started, "estimate_s": est.total_s, "jobs": jobs}, indent=1))


def progress_line(plan_path: Path, root: Path = Path(".")) -> str | None:
    """'cells done/left, time left' from the plan file and the records on disk; None without a plan."""
    try:
        jobs = json.loads(plan_path.read_text())["jobs"]
    except (OSError, ValueError, KeyError):
        return None
    done = [j for j in jobs if (root / j["record"]).exists()]
    left = [j for j in jobs if not (root / j["record"]).exists()]
    left_s = sum(j["estimate_s"] or 0.0 for j in left)
    return (f"parbench: {len(done)} of {len(jobs)} cell rounds done, {len(left)} left"
            + (f", about {describe_duration(left_s)} left" if left else ""))


def _this_runs_records(plan_path: Path, root: Path) -> tuple[float, float, list[dict]] | None:
    """(started_at, estimate_s, records written since then) of the plan file's run, or None."""
    try:
        written = json.loads(plan_path.read_text())
        started, estimated, jobs = float(written["started_at"]), float(written["estimate_s"]), written["jobs"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    records = []
    for job in jobs:
        path = root / job["record"]
        try:
            if path.stat().st_mtime < started:
                continue  # timed by an earlier run
            records.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return started, estimated, records


def _this_run(plan_path: Path, root: Path, finished_at: float | None) -> tuple[float, float, list[dict]] | None:
    """(estimate_s, measured wall seconds, records) of a run that timed cells, or None."""
    run = _this_runs_records(plan_path, root)
    if run is None or not run[2]:
        return None
    started, estimated, records = run
    measured = (time.time() if finished_at is None else finished_at) - started
    return (estimated, measured, records) if measured > 0 else None


def estimate_error_line(plan_path: Path, finished_at: float | None = None, root: Path = Path(".")) -> str | None:
    """'run took X; the start-up estimate was Y (error +Z%)' at the run's end, from the plan file
    written at its start; None without a plan file, one that predates the start time, or a run that
    timed no cell (e.g. `reference_report`: the estimate is for cells).

    The error is (estimate - measured) / measured, the issue's "within 20% of the measured wall
    time": positive when the estimate was too long. The measured time runs from the plan file's
    writing (Snakemake's onstart, after the DAG is built) to `finished_at` (now by default)."""
    run = _this_run(plan_path, root, finished_at)
    if run is None:
        return None
    estimated, measured, _ = run
    error = (estimated - measured) / measured
    return (f"parbench: run took {describe_duration(measured)}; the start-up estimate was "
            f"{describe_duration(estimated)} (error {error:+.0%}, estimate minus measured over measured)")


def trial_share_line(plan_path: Path, root: Path = Path("."), finished_at: float | None = None) -> str | None:
    """'N% of the run's wall time inside timed trials' at the run's end: the trial seconds of the
    plan's records written during this run over the time since the plan file was written; None
    without a plan file, or when no record was written in the run (a run that only aggregated)."""
    run = _this_run(plan_path, root, finished_at)
    if run is None:
        return None
    _, measured, records = run
    trial_s = sum(t["seconds"] for r in records for t in r.get("trials") or [])
    return (f"parbench: {trial_s / measured:.0%} of the run's wall time was inside timed trials ({trial_s:.0f} s "
            f"of {measured:.0f} s, {len(records)} cell rounds; the report's \"Where a cell round's time goes\" has "
            f"the rest)")
