# Validation and input functions. The plan itself (core counts, cells, order, durations) is
# src/parbench/plan.py, tested on its own; this file only turns it into Snakemake terms.
import os
import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from parbench import plan
from parbench.catalog import FREE_THREADED_BACKENDS
from parbench.machine import quota_cores, read_topology, shm_status
from parbench.presets import get_preset
from parbench.ray_session import attaches_to_cluster, object_store_bytes

SCHEMA = "../schemas/config.schema.yaml"


def config_problems(cfg):
    """Every schema violation as 'key: problem', so the message names the key to fix."""
    import jsonschema
    import yaml

    schema = yaml.safe_load(Path(workflow.source_path(SCHEMA)).read_text())
    problems = []
    for error in jsonschema.Draft202012Validator(schema).iter_errors(cfg):
        key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        allowed = ""
        if error.validator == "enum":
            allowed = f" (allowed: {', '.join(map(str, error.validator_value))})"
        elif error.validator == "oneOf" and key == "cores":
            allowed = " (allowed: auto, or a list of integers >= 1)"
        problems.append(f"{key}: {error.message}{allowed}")
    return problems


# `--config oversubscribed_check=true` arrives as a string.
if str(config.get("oversubscribed_check")).lower() in ("true", "false"):
    config["oversubscribed_check"] = str(config["oversubscribed_check"]).lower() == "true"
# `--config cores=[1,2]` arrives as a list of strings.
if isinstance(config.get("cores"), list):
    config["cores"] = [int(c) if isinstance(c, str) and c.isdigit() else c for c in config["cores"]]
_problems = config_problems(config)
if _problems:
    raise WorkflowError(
        "config error: "
        + "; ".join(_problems)
        + ". Fix it in config/config.yaml (or the --configfile / --config you passed); "
        + "config/README.md lists the allowed values."
    )
validate(config, SCHEMA)  # fills in the schema's defaults

# "local" is Ray's own name for "start a local Ray", the same as null.
RAY_ADDRESS = None if config["ray_address"] in (None, "local") else config["ray_address"]
WORKLOADS = config["workloads"]
# ... and what the cells time: B2 once per document_generation (stateful_per_document, catalog.py)
CELL_WORKLOADS = plan.cell_workloads(WORKLOADS, plan.document_generations(config))
BACKENDS = config["backends"]
ROUNDS = config["rounds"]
try:
    PRIMITIVES_ROUNDS = plan.primitives_rounds(config)
except plan.PlanError as exc:
    raise WorkflowError(str(exc)) from None


def missing_build_packages():
    """Debian packages bin/build-free-threading lacks here ("" when it can build)."""
    check = subprocess.run(
        [str(Path(workflow.basedir) / "bin" / "build-free-threading"), "--check"],
        capture_output=True,
        text=True,
    )
    return check.stdout.strip()


# The free-threaded backends run on their own interpreter: the configured one, the container's, or
# one built into the project's cache; without any, they are left out with a message (print_plan).
FREE_THREADING = None
if set(BACKENDS) & set(FREE_THREADED_BACKENDS):
    try:
        FREE_THREADING = plan.plan_free_threading(
            config["free_threading_python"], os.environ, missing_build_packages
        )
    except plan.PlanError as exc:
        raise WorkflowError(str(exc)) from None
    if FREE_THREADING.python is None:
        BACKENDS = [b for b in BACKENDS if b not in FREE_THREADED_BACKENDS]
# Backends that attach to the Ray cluster when ray_address is set; only they may use more cores
# than this machine (the others run pinned where snakemake runs them).
CLUSTER_BACKENDS = [b for b in BACKENDS if RAY_ADDRESS and attaches_to_cluster(b)]
if config["node_cores"]:  # the cells run on other machines (SLURM nodes): their cores bound the run
    MACHINE = plan.Machine(config["node_cores"], None, "node_cores")
else:
    MACHINE = plan.Machine(read_topology().physical_cores, quota_cores())
try:
    CORES = plan.resolve_cores(config["cores"], MACHINE, CLUSTER_BACKENDS, RAY_ADDRESS)
except plan.PlanError as exc:
    raise WorkflowError(str(exc)) from None
# Core counts a pinned calibration can use on this machine (the quiet-machine check).
CALIBRATION_CORES = [c for c in CORES if c <= MACHINE.usable_cores]
CELLS = plan.plan_cells(CELL_WORKLOADS, BACKENDS, CORES, MACHINE, CLUSTER_BACKENDS)
ORDER = plan.job_order(CELLS, ROUNDS, config["seed"])
PRIORITY = plan.job_priorities(ORDER)
CALIBRATION_PRIORITY = plan.calibration_priorities(ORDER, ROUNDS)
RECORD = "results/raw/{workload}/{backend}/{cores}/round{round}.json"
PLAN_FILE = "results/plan.json"
AGGREGATE_TABLES = ["timings", "summary", "speedups", "growth", "calibration", "calibration_points"]
MODEL_TABLES = [
    "model_check",
    "model_errors",
    "projections",
    "model_curves",
    "drift",
    "projections_2019",
]
# The model figures cover every workload the run measured (the reference run: all three).
MODEL_WORKLOADS = WORKLOADS
REFERENCE_PRIMITIVES = Path("paper/reference/primitives.json")
FIGURE_NAMES = CELL_WORKLOADS + ["panel", "speedup"]
REFERENCE = Path("paper/reference")


def record_path(job):
    c = job.cell
    return RECORD.format(workload=c.workload, backend=c.backend, cores=c.cores, round=job.round)


def cell_priority(wildcards):
    key = plan.CellKey(wildcards.workload, wildcards.backend, int(wildcards.cores))
    return PRIORITY.get(plan.Job(key, int(wildcards.round)), 0)


def warmup_option():
    return "" if config["warmup"] == "original" else f"--warmup {config['warmup']}"


def ray_address_option(wildcards):
    """`--ray-address ADDR` for the cells that attach to the Ray cluster; empty for all others."""
    if wildcards.backend in CLUSTER_BACKENDS:
        return f"--ray-address {shlex.quote(RAY_ADDRESS)}"
    return ""


def bench_inputs(wildcards):
    inputs = []
    if wildcards.workload == "expensive_init":
        inputs += [
            "resources/expensive_init/model.keras",
            "resources/expensive_init/mnist_synthetic.npz",
        ]
    if wildcards.backend in FREE_THREADED_BACKENDS and FREE_THREADING.build:
        inputs.append(str(plan.free_threading_stamp()))
    return inputs


def cell_runner(wildcards):
    """`parbench` of the main interpreter, or the free-threaded interpreter's for its backends."""
    if wildcards.backend in FREE_THREADED_BACKENDS:
        return f"{shlex.quote(FREE_THREADING.python)} -m parbench.cli"
    return "parbench"


def calibration_priority(wildcards):
    """Point 0 runs before the first round, point k right after round k - 1 (plan.py)."""
    return CALIBRATION_PRIORITY.get(int(wildcards.point), 0)


def primitives_priority(wildcards):
    """Primitives round r runs right after round r's cells, beside calibration point r + 1."""
    return CALIBRATION_PRIORITY.get(int(wildcards.round) + 1, 0)


def records_for(outdir):
    if outdir == "results/reference":
        return sorted(str(p) for p in (REFERENCE / "raw").glob("*/*/*/round*.json"))
    return [record_path(job) for job in ORDER]


def calibrations_for(outdir):
    if outdir == "results/reference":
        return sorted(str(p) for p in (REFERENCE / "calibration").glob("*/point*.json"))
    return [
        f"results/calibration/{c}/point{k}.json"
        for c in CALIBRATION_CORES
        for k in range(ROUNDS + 1)
    ]


def model_outputs(outdir):
    return [f"{outdir}/model_check.csv", f"{outdir}/projections.csv"] + [
        f"{outdir}/figures/model_{workload}.png" for workload in MODEL_WORKLOADS
    ]


def reference_model_outputs():
    """The reference records' model check and projections, once their primitives are committed."""
    return model_outputs("results/reference") if REFERENCE_PRIMITIVES.exists() else []


def projections_for(outdir):
    """The model's projections.csv, where this run has a model (the reference: once its
    primitives are committed), so that claims not testable here carry their projection."""
    if outdir == "results/reference" and not REFERENCE_PRIMITIVES.exists():
        return []
    return [f"{outdir}/projections.csv"]


def model_check_for(outdir):
    """model_check.csv where this run has a model (see projections_for)."""
    return [f"{outdir}/model_check.csv"] if projections_for(outdir) else []


def primitives_inputs():
    """The prepared model and data, when expensive_init is measured."""
    return (
        bench_inputs(SimpleNamespace(workload="expensive_init", backend="serial"))
        if "expensive_init" in WORKLOADS
        else []
    )


OVERSUBSCRIBED = Path("paper/oversubscribed")
# config oversubscribed_check: this run's own oversubscribed cells, one round each
OVERSUBSCRIBED_RECORD = "results/oversubscribed/raw/{workload}/{backend}/{cores}/round0.json"
OVERSUBSCRIBED_CELLS = (
    plan.plan_oversubscribed(WORKLOADS, BACKENDS, MACHINE) if config["oversubscribed_check"] else []
)


def oversubscribed_dir(outdir):
    """Where the model finds the oversubscribed cells it checks out of sample: the committed run
    for the reference, this run's own with oversubscribed_check; None without any."""
    if outdir == "results/reference":
        return OVERSUBSCRIBED if (OVERSUBSCRIBED / "primitives.json").exists() else None
    return Path("results/oversubscribed") if OVERSUBSCRIBED_CELLS else None


def oversubscribed_for(outdir):
    """The files of those cells, as the model rule's inputs."""
    folder = oversubscribed_dir(outdir)
    if folder is None:
        return []
    if outdir == "results/reference":
        return [str(folder / "primitives.json")] + [
            str(p) for p in sorted(folder.glob("raw/*/*/*/round*.json"))
        ]
    return [
        OVERSUBSCRIBED_RECORD.format(workload=c.workload, backend=c.backend, cores=c.cores)
        for c in OVERSUBSCRIBED_CELLS
    ]


def primitives_for(outdir):
    if outdir == "results/reference":
        return str(REFERENCE_PRIMITIVES)
    return "results/primitives.json"


def environment_for(outdir):
    if outdir == "results/reference":
        return str(REFERENCE / "environment.json")
    return "results/environment.json"


def shm_warning():
    """Docker's default /dev/shm (64 MB) is too small for Ray's store and the libraries' B1 arrays."""
    free = shm_status()["free_bytes"]
    need = object_store_bytes()
    if free is None or free >= need:
        return None
    return (
        f"parbench: WARNING: /dev/shm has {free / 2**20:.0f} MiB free, less than Ray's object store "
        f"({need / 2**20:.0f} MiB): Ray will put its store on disk, and joblib and mpire their B1 "
        f"arrays; the run completes and the report names every affected cell. In Docker, pass "
        f"--shm-size=3g."
    )


def run_estimate():
    missing = [job for job in ORDER if not Path(record_path(job)).exists()]
    sizes = {w: vars(get_preset(config["preset"]).sizes(w)) for w in WORKLOADS}
    warmups = None if config["warmup"] == "original" else {b: config["warmup"] for b in BACKENDS}
    reference = plan.load_reference((REFERENCE / "raw").glob("*/*/*/round*.json"))
    points = len(CALIBRATION_CORES) * (ROUNDS + 1)
    primitives_left = sum(
        not Path(f"results/primitives/round{r}.json").exists() for r in range(PRIMITIVES_ROUNDS)
    )
    primitives_s = primitives_left * plan.reference_primitives_round_s(
        REFERENCE_PRIMITIVES, config["preset"], WORKLOADS
    )
    return missing, plan.estimate(
        missing,
        sizes,
        config["trials"],
        warmups,
        reference,
        points,
        primitives_s,
        plan.calibration_point_seconds(config),
    )


def print_plan():
    missing, est = run_estimate()
    per_workload = ", ".join(
        f"{w} {plan.describe_duration(s)}" for w, s in est.per_workload_s.items()
    )
    print(
        f"parbench: {len(CELLS)} cells ({len(CELL_WORKLOADS)} workloads x {len(BACKENDS)} backends x "
        f"cores {CORES}) x {ROUNDS} rounds of {config['trials']} trials, preset {config['preset']}: "
        f"{len(ORDER)} cell rounds, {len(missing)} still to time. Estimated duration "
        f"{plan.describe_duration(est.total_s)} ({per_workload}; weak scaling extrapolated from the "
        f"reference records at 1 and 2 cores, on a machine like the reference one)"
        + (f"; no reference for {', '.join(est.unknown)}" if est.unknown else "")
        + ". Per-cell logs: logs/bench/<workload>/<backend>/<cores>/round<r>.log",
        file=sys.stderr,
    )
    if CORES != [c for c in CORES if c <= MACHINE.usable_cores]:
        print(
            f"parbench: cores above the {MACHINE.usable_cores} this machine can pin run only for "
            f"{', '.join(CLUSTER_BACKENDS)}, on the Ray cluster at {RAY_ADDRESS}; the other "
            f"backends' cells there are left out (they cannot be timed here).",
            file=sys.stderr,
        )
    if CLUSTER_BACKENDS:
        print(
            f"parbench: the {', '.join(CLUSTER_BACKENDS)} cells attach to the Ray cluster at "
            f"{RAY_ADDRESS} (RAY_AUTH_MODE must match the cluster's; see README); every other "
            f"cell runs on this machine, pinned.",
            file=sys.stderr,
        )
    if FREE_THREADING and FREE_THREADING.message:
        print(FREE_THREADING.message, file=sys.stderr)
    warning = shm_warning()
    if warning:
        print(warning, file=sys.stderr)


def quiet_scheduler():
    """Switch off Snakemake's job rate limiter (command-line default 100/1s) once the scheduler exists.

    It re-arms a 1-second timer on every scheduling pass while cells wait for the bench_slot, one
    more chain per job event: after a hundred cells Snakemake itself used 40-50% of a CPU (measured,
    Snakemake 9.27.1, which the lock pins), noise on the very CPUs being timed. A longer timespan is
    no cure: Snakemake waits for its timer threads before it exits.
    """
    scheduler = getattr(workflow, "scheduler", None)
    if scheduler is not None and hasattr(scheduler, "job_rate_limiter"):
        scheduler.job_rate_limiter = None


def write_plan_file():
    _, est = run_estimate()
    plan.write_plan(Path(PLAN_FILE), ORDER, est, RECORD)


def print_estimate_error():
    """At a successful run's end: its wall time beside the start-up estimate (the plan file), and
    the share of it inside timed trials."""
    for line in (plan.estimate_error_line(Path(PLAN_FILE)), plan.trial_share_line(Path(PLAN_FILE))):
        if line:
            print(line, file=sys.stderr)


if workflow.is_main_process:
    print_plan()
