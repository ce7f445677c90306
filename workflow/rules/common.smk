# Helpers shared by the rules: config validation, the cell list, ordering and the run plan.
import random
import shlex
import sys
from pathlib import Path
from types import SimpleNamespace

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from parbench.machine import read_topology, shm_status
from parbench.plan import estimate_seconds
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

AUTO_CORES = [1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128]
# The machine the cells run on: this one, or (node_cores, e.g. on SLURM) each compute node.
PHYSICAL_CORES = config["node_cores"] or read_topology().physical_cores


# "local" is Ray's own name for "start a local Ray", the same as null.
RAY_ADDRESS = None if config["ray_address"] in (None, "local") else config["ray_address"]
BACKENDS = config["backends"]
# Backends that attach to the Ray cluster when ray_address is set; only they may use more cores
# than PHYSICAL_CORES (the others run pinned where snakemake runs them).
CLUSTER_BACKENDS = [b for b in BACKENDS if RAY_ADDRESS and attaches_to_cluster(b)]


def resolve_cores(value):
    if value == "auto":
        cores = [c for c in AUTO_CORES if c <= PHYSICAL_CORES]
        return sorted(set(cores) | {PHYSICAL_CORES})
    too_many = [c for c in value if c > PHYSICAL_CORES]
    if too_many and not CLUSTER_BACKENDS:
        cluster_hint = (
            " (ray_address is set, but none of the configured backends runs on a Ray cluster)"
            if RAY_ADDRESS
            else "; or set ray_address to time the ray backend on a Ray cluster"
        )
        where = (
            "node_cores"
            if config["node_cores"]
            else "the physical cores this machine lets the run use"
        )
        raise WorkflowError(
            f"config error: cores {too_many} exceed {where} ({PHYSICAL_CORES}); use cores: auto "
            f"or values up to {PHYSICAL_CORES}{cluster_hint}"
        )
    return sorted(value)


CORES = resolve_cores(config["cores"])
# Core counts a pinned cell can use: every non-cluster cell and every calibration uses these.
LOCAL_CORES = [c for c in CORES if c <= PHYSICAL_CORES]
WORKLOADS = config["workloads"]
TABLES = ["timings", "summary", "speedups", "calibration"]
MODEL_TABLES = ["model_check", "model_errors", "projections", "model_curves"]
# The model figures cover every workload the run measured (the reference run: all three).
MODEL_WORKLOADS = WORKLOADS
REFERENCE_PRIMITIVES = Path("paper/reference/primitives.json")
FIGURE_NAMES = WORKLOADS + ["panel", "speedup"]
CELLS = [
    (w, b, c)
    for w in WORKLOADS
    for b in BACKENDS
    for c in CORES
    if c <= PHYSICAL_CORES or b in CLUSTER_BACKENDS
]
if CORES != LOCAL_CORES:
    print(
        f"parbench: cores {[c for c in CORES if c > PHYSICAL_CORES]} exceed the {PHYSICAL_CORES} "
        f"physical cores a pinned cell can use: only the {', '.join(CLUSTER_BACKENDS)} backend(s) run "
        f"there, on the Ray cluster at {RAY_ADDRESS}; the other backends' cells at those core "
        f"counts are left out (they cannot be timed here).",
        file=sys.stderr,
    )

# A seeded shuffle of the cells, so that slow drift of the machine's speed favours no backend.
# Snakemake starts the ready job of highest priority first; calibration goes before every cell.
_order = list(CELLS)
random.Random(config["seed"]).shuffle(_order)
CELL_PRIORITY = {cell: len(_order) - rank for rank, cell in enumerate(_order)}
CALIBRATION_PRIORITY = len(_order) + 100


def cell_priority(wildcards):
    return CELL_PRIORITY.get((wildcards.workload, wildcards.backend, int(wildcards.cores)), 0)


def record_path(workload, backend, cores):
    return f"results/raw/{workload}/{backend}/{cores}.json"


def warmup_option():
    return "" if config["warmup"] == "original" else f"--warmup {config['warmup']}"


def ray_address_option(wildcards):
    """`--ray-address ADDR` for the cells that attach to the Ray cluster; empty for all others."""
    if wildcards.backend in CLUSTER_BACKENDS:
        return f"--ray-address {shlex.quote(RAY_ADDRESS)}"
    return ""


def bench_inputs(wildcards):
    if wildcards.workload == "expensive_init":
        return [
            "resources/expensive_init/model.keras",
            "resources/expensive_init/mnist_synthetic.npz",
        ]
    return []


def records_for(outdir):
    if outdir == "results/reference":
        return sorted(str(p) for p in Path("paper/reference/raw").glob("*/*/*.json"))
    return [record_path(*cell) for cell in CELLS]


def calibrations_for(outdir):
    if outdir == "results/reference":
        return sorted(str(p) for p in Path("paper/reference/calibration").glob("*.json"))
    return [f"results/calibration/{c}.json" for c in LOCAL_CORES]


def model_outputs(outdir):
    return [f"{outdir}/model_check.csv", f"{outdir}/projections.csv"] + [
        f"{outdir}/figures/model_{workload}.png" for workload in MODEL_WORKLOADS
    ]


def reference_model_outputs():
    """The reference records' model check and projections, once their primitives are committed."""
    return model_outputs("results/reference") if REFERENCE_PRIMITIVES.exists() else []


def primitives_inputs():
    """The prepared model and data, when expensive_init is measured."""
    return (
        bench_inputs(SimpleNamespace(workload="expensive_init"))
        if "expensive_init" in WORKLOADS
        else []
    )


def primitives_for(outdir):
    if outdir == "results/reference":
        return str(REFERENCE_PRIMITIVES)
    return "results/primitives.json"


def environment_for(outdir):
    if outdir == "results/reference":
        return "paper/reference/environment.json"
    return "results/environment.json"


def shm_warning():
    """Docker's default /dev/shm (64 MB) is too small for Ray's store and for B1's 72 MB image."""
    free = shm_status()["free_bytes"]
    need = object_store_bytes()
    if free is None or free >= need:
        return None
    return (
        f"parbench: WARNING: /dev/shm has {free / 2**20:.0f} MiB free, less than Ray's object store "
        f"({need / 2**20:.0f} MiB): Ray will put its store on disk and B1's shared-memory backend may "
        f"fail; every affected cell is flagged in the report. In Docker, pass --shm-size=3g."
    )


def print_plan():
    missing = [cell for cell in CELLS if not Path(record_path(*cell)).exists()]
    estimate = estimate_seconds(
        missing, config["preset"], config["trials"], Path("paper/reference/raw")
    )
    when = (
        f"about {estimate / 60:.0f} min on a machine like the reference one (estimated from "
        f"paper/reference records)"
        if estimate
        else "no estimate (no reference records)"
    )
    print(
        f"parbench: {len(CELLS)} cells ({len(WORKLOADS)} workloads x {len(BACKENDS)} backends x "
        f"cores {CORES}), preset {config['preset']}, {config['trials']} trials each; "
        f"{len(missing)} still to time, {when}. Per-cell progress: logs/bench/<workload>/<backend>/<cores>.log",
        file=sys.stderr,
    )
    if CLUSTER_BACKENDS:
        print(
            f"parbench: the {', '.join(CLUSTER_BACKENDS)} cells attach to the Ray cluster at "
            f"{RAY_ADDRESS} (RAY_AUTH_MODE must match the cluster's; see README); every other "
            f"cell runs on this machine, pinned.",
            file=sys.stderr,
        )
    warning = shm_warning()
    if warning:
        print(warning, file=sys.stderr)
