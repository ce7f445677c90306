"""parbench: run | prepare | calibrate | primitives | model | env | list. Thin: parses, checks, delegates.

`run` pins itself and sets every thread variable *before* importing numpy, Ray or TensorFlow,
because their pools are sized at import (and Snakemake sets OMP_NUM_THREADS to the job's threads).
Exit status: 0 ok, 1 the cell failed (its record is written), 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import __version__
from .catalog import (
    BACKENDS,
    CELL_WORKLOADS,
    DOCUMENT_GENERATIONS,
    FREE_THREADED_BACKENDS,
    WORKLOADS,
    base_workload,
    document_generation_of,
    worker_threads,
)
from .machine import THREAD_VARIABLES, CoreCountError, choose_cpus, pin_process, read_topology
from .presets import (
    PRESETS,
    PresetError,
    apply_overrides,
    generation_problem,
    get_preset,
)

DEFAULT_RESOURCES = Path("resources/expensive_init")


class UsageError(Exception):
    """Bad input: printed as one sentence, exit status 2."""


def _int_at_least(minimum: int):
    """An argparse type: an integer >= minimum, with a one-line message otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"{value} must be at least 1" if minimum == 1 else f"{value} must be {minimum} or more")
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _size(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not of the form key=value")
    return key, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parbench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"parbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run one (workload, backend, cores) cell and write its JSON record")
    run.add_argument("--workload", required=True, choices=list(CELL_WORKLOADS),
                     help="a workload, or a variant of one (stateful_per_document = stateful with "
                          "--document-generation per-document)")
    run.add_argument("--backend", required=True, choices=list(BACKENDS))
    run.add_argument("--cores", required=True, type=_positive_int, help="physical cores to pin the run to")
    run.add_argument("--preset", default="paper", help=f"sizes: {', '.join(PRESETS)} (default paper)")
    run.add_argument("--trials", type=_positive_int, default=5, help="timed trials (default 5, as the original)")
    run.add_argument("--warmup", type=_non_negative_int, default=None,
                     help="untimed warm-up passes for this backend (default: the original's choice: "
                          "5 for ray on numerical, 0 elsewhere)")
    run.add_argument("--size", type=_size, action="append", default=[], metavar="KEY=VALUE",
                     help="override one size of the preset (repeatable), e.g. --size image_side=1000")
    run.add_argument("--resources", type=Path, default=DEFAULT_RESOURCES,
                     help=f"prepared model and data for expensive_init (default {DEFAULT_RESOURCES})")
    run.add_argument("--timeout", type=float, default=None, help="fail the cell after this many seconds")
    run.add_argument("--ray-address", default=os.environ.get("RAY_ADDRESS") or None,
                     help="attach the ray backend(s) to an existing cluster, e.g. 10.0.0.1:6379 (default: "
                          "$RAY_ADDRESS; 'local' or '' starts a local Ray pinned to --cores, as without it); "
                          "other backends ignore it")
    run.add_argument("--protocol", choices=("original", "alternative"), default="original",
                     help="original (default): time what the post timed; alternative: the backend's stated "
                          "alternative (B2 ray: actors ready before the timer), where it has one")
    run.add_argument("--document-generation", choices=DOCUMENT_GENERATIONS, default=None,
                     help="stateful: how the driver makes each document's words: per-word (default, the post's "
                          "code: one np.random.bytes call per word) or per-document (one call per document, "
                          "sliced into the same words; the record's workload is then stateful_per_document); "
                          "other workloads ignore it")
    run.add_argument("--comparison-passes", type=_non_negative_int, default=1,
                     help="passes under the other protocol after the trials, for backends that have one "
                          "(recorded apart, never mixed with the trials; default 1)")
    run.add_argument("--round", type=_non_negative_int, default=0,
                     help="which fresh-process measurement of this cell this is (recorded; default 0)")
    run.add_argument("--oversubscribe", action="store_true",
                     help="functional tests only: allow more cores than this machine has (N workers share the "
                          "available CPUs); the record says so and aggregation refuses it")
    run.add_argument("--plan", type=Path, default=None,
                     help="the run's plan file: print a progress line (cells done and left) on stdout at the end")
    run.add_argument("--out", required=True, type=Path, help="record file (JSON), written atomically")

    prep = sub.add_parser("prepare",
                          help="generate the synthetic MNIST set and train/save the model for expensive_init")
    prep.add_argument("--resources", type=Path, default=DEFAULT_RESOURCES)
    prep.add_argument("--seed", type=int, default=2019)

    cal = sub.add_parser("calibrate", help="measure what N pinned cores deliver on pure-Python work (the ceiling)")
    cal.add_argument("--cores", required=True, type=_positive_int)
    cal.add_argument("--repeats", type=_int_at_least(3), default=5,
                     help="interleaved single / parallel repeats (the pipeline's calibration_repeats)")
    cal.add_argument("--seconds", type=float, default=0.5, help="work per process per repeat")
    cal.add_argument("--point", type=_non_negative_int, default=0,
                     help="which check of the run this is: 0 before the first round, r after round r (recorded)")
    cal.add_argument("--out", required=True, type=Path)

    prim = sub.add_parser("primitives", help="time every cost term of the backends' timed regions on its own "
                                             "(the cost model's inputs)")
    prim.add_argument("--preset", default="paper", help=f"sizes: {', '.join(PRESETS)} (default paper)")
    prim.add_argument("--repeats", type=_int_at_least(3), default=5,
                      help="samples per primitive in this round (default 5, as the pipeline's primitives_repeats)")
    prim.add_argument("--chains", type=_positive_int, default=3,
                      help="stateful: chains of docs_per_core documents, i.e. samples per state size (default 3)")
    prim.add_argument("--threads", type=_positive_int, nargs="+", default=None,
                      help="TensorFlow thread counts for predict (default: 1 .. physical cores)")
    prim.add_argument("--resources", type=Path, default=DEFAULT_RESOURCES,
                      help=f"prepared model and data for expensive_init (default {DEFAULT_RESOURCES})")
    prim.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS),
                      help="workloads whose primitives to measure (default all)")
    prim.add_argument("--no-ray", action="store_true", help="skip the Ray primitives (the model then skips ray)")
    prim.add_argument("--no-tensorflow", action="store_true",
                      help="skip the TensorFlow primitives (the model then skips expensive_init)")
    prim.add_argument("--round", type=_non_negative_int, default=0,
                      help="which of the run's rounds this is (recorded; the pipeline measures one per round)")
    prim.add_argument("--merge", type=Path, nargs="+", metavar="ROUND_RECORD",
                      help="measure nothing: pool the samples of these rounds' records into --out")
    prim.add_argument("--out", required=True, type=Path, help="record file (JSON), written atomically")

    mod = sub.add_parser("model", help="primitives + calibration -> predicted seconds of every measured cell "
                                       "(model_check.csv), projections of the claims (projections.csv), figures")
    mod.add_argument("--primitives", type=Path, required=True, help="JSON written by `parbench primitives`")
    mod.add_argument("--tables", type=Path, required=True,
                     help="folder written by `parbench aggregate` (summary.csv, calibration.csv)")
    mod.add_argument("--claims", type=Path, default=Path("paper/claims.yaml"))
    mod.add_argument("--resamples", type=_positive_int, default=1000,
                     help="bootstrap draws of the primitives for the projections' intervals (default 1000)")
    mod.add_argument("--out-dir", type=Path, required=True, help="where model_check.csv and projections.csv go")
    mod.add_argument("--figures", type=Path, default=None, help="folder for model_<workload>.png (default: none)")
    mod.add_argument("--projection-check-from", type=_positive_int, default=None, metavar="CORES",
                     help="also write projection_check.csv: the claims projected from the calibration and cells up "
                          "to CORES only, against this run's measured ratios above it (e.g. 2 on paper/device16)")
    mod.add_argument("--oversubscribed", type=Path, default=None,
                     help="a folder of oversubscribed cells with their own primitives and calibration "
                          "(e.g. paper/oversubscribed): checked out-of-sample, apart from the run's cells")

    env = sub.add_parser("env", help="describe the machine and software (no hostname)")
    env.add_argument("--out", type=Path, default=None, help="JSON file (default: standard output)")

    sub.add_parser("list", help="list workloads, backends and presets")

    agg = sub.add_parser("aggregate", help="records -> timings.csv, summary.csv, speedups.csv, calibration.csv")
    agg.add_argument("--records", type=Path, nargs="+", required=True, help="cell records (JSON)")
    agg.add_argument("--calibration", type=Path, nargs="*", default=[], help="calibration records (JSON)")
    agg.add_argument("--allow-mixed", action="store_true",
                     help="aggregate records from different configurations or machines anyway")
    agg.add_argument("--seed", type=int, default=None,
                     help="seed of the bootstrap (the pipeline passes config seed; default: stats.DEFAULT_SEED)")
    agg.add_argument("--out-dir", type=Path, required=True)

    ver = sub.add_parser("verdicts", help="tables from `aggregate` + claims -> verdicts.csv and verdicts.json")
    ver.add_argument("--tables", type=Path, required=True, help="folder written by `parbench aggregate`")
    ver.add_argument("--claims", type=Path, default=Path("paper/claims.yaml"))
    ver.add_argument("--projections", type=Path, default=None,
                     help="projections.csv from `parbench model`: claims not testable here get their projection")
    ver.add_argument("--out-dir", type=Path, required=True)

    cmp_ = sub.add_parser("compare", help="one run's ratios and verdicts against another's (e.g. the reference)")
    cmp_.add_argument("run", type=Path, help="folder of an aggregated run with verdicts (e.g. results)")
    cmp_.add_argument("reference", type=Path, help="the folder to compare with (e.g. results/reference)")
    cmp_.add_argument("--out", type=Path, default=None, help="markdown file (default: standard output)")

    fig = sub.add_parser("figures", help="tables from `aggregate` -> paper-style figures (PNG and PDF)")
    fig.add_argument("--tables", type=Path, required=True, help="folder written by `parbench aggregate`")
    fig.add_argument("--out-dir", type=Path, required=True)

    rep = sub.add_parser("report", help="tables + claims -> the markdown report with a verdict per claim")
    rep.add_argument("--tables", type=Path, required=True, help="folder written by `parbench aggregate`")
    rep.add_argument("--records", type=Path, nargs="+", required=True, help="cell records (environment, protocol)")
    rep.add_argument("--environment", type=Path, required=True, help="JSON written by `parbench env`")
    rep.add_argument("--claims", type=Path, default=Path("paper/claims.yaml"))
    rep.add_argument("--template", type=Path, default=Path("paper/report.md.j2"))
    rep.add_argument("--figures", type=Path, required=True, help="folder written by `parbench figures`")
    rep.add_argument("--verdicts", type=Path, required=True, help="verdicts.json written by `parbench verdicts`")
    rep.add_argument("--model-check", type=Path, default=None,
                     help="model_check.csv from `parbench model`: the cost model against every cell")
    rep.add_argument("--out", type=Path, required=True)

    rdm = sub.add_parser("readme", help="rewrite the README's reference section from the reference run's tables")
    rdm.add_argument("--tables", type=Path, default=Path("results/reference"),
                     help="folder of the aggregated reference run (snakemake --cores all reference_report)")
    rdm.add_argument("--readme", type=Path, default=Path("README.md"))
    rdm.add_argument("--appendix", type=Path, default=Path("paper/artifact-appendix.md"),
                     help="the artifact appendix, rendered from paper/artifact-appendix.md.j2 and paper/measured/")
    rdm.add_argument("--check", action="store_true", help="only check that the section is current (exit 1 if not)")

    chk = sub.add_parser("check", help="exit 1, naming them, when any cell of the run failed")
    chk.add_argument("--summary", type=Path, required=True, help="summary.csv written by `parbench aggregate`")
    chk.add_argument("--out", type=Path, required=True, help="status file, written only when every cell succeeded")
    return parser


def _document_generation(workload: str, generation: str | None, sizes) -> str:
    """The cell's document generation: the option's, or the one its workload's name says (a variant),
    checked against the word size of a stateful cell."""
    named = document_generation_of(workload)
    if generation is not None and workload != base_workload(workload) and generation != named:
        raise PresetError(f"--workload {workload} makes its documents {named}, not {generation}; drop "
                          f"--document-generation or run --workload {base_workload(workload)}")
    generation = generation or named
    if base_workload(workload) != "stateful":
        return generation
    problem = generation_problem(generation, sizes.word_bytes)
    if problem:
        raise PresetError(problem)
    return generation


def _set_thread_variables(threads: int) -> None:
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)


def _set_quiet_runtime_variables() -> None:
    # Explicit, recorded choices; a user's own values win.
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # Ray >= 2.59 turns token auth on for local clusters
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _check_writable(path: Path) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the output folder {folder}: {exc.strerror}; choose a writable --out") from None
    if not os.access(folder, os.W_OK):
        raise UsageError(f"the output folder {folder} is not writable; fix its permissions or choose another --out "
                         f"(in Docker, run with --user \"$(id -u):$(id -g)\", see README)")


# Set in the environment of a `parbench run` re-executed under the free-threaded interpreter, so that
# an interpreter there that has the GIL after all is refused instead of re-executed again.
REEXECUTED_ENV = "PARBENCH_FREE_THREADING_REEXEC"


def _reexec_free_threaded(argv: list[str]) -> None:
    """`parbench run --backend free_threading` under an interpreter with the GIL: run the same command
    under the free-threaded interpreter that $PARBENCH_FREE_THREADING_PYTHON names (the image sets it),
    so that a plain `docker run artifact parbench run ...` works for every backend. Returns only when
    there is nothing to re-execute under; _check_interpreter then says what to do."""
    from . import gil
    from .plan import FREE_THREADING_ENV

    python = os.environ.get(FREE_THREADING_ENV)
    if gil.free_threaded_build() or not python or not Path(python).is_file() or os.environ.get(REEXECUTED_ENV):
        return
    os.environ[REEXECUTED_ENV] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(python, [python, "-m", "parbench.cli", *argv])


def _check_interpreter(backend: str) -> None:
    """The free_threading backend runs on a free-threaded build only; watch the GIL from here on."""
    if backend not in FREE_THREADED_BACKENDS:
        return
    from . import gil
    from .plan import FREE_THREADING_ENV

    if not gil.free_threaded_build():
        configured = os.environ.get(FREE_THREADING_ENV)
        if os.environ.get(REEXECUTED_ENV):
            where = f"${FREE_THREADING_ENV} names {configured}, which is not a free-threaded build: point it at one"
        elif configured:
            where = f"${FREE_THREADING_ENV} names {configured}, which does not exist: point it at one"
        else:
            where = (f"set ${FREE_THREADING_ENV} to a free-threaded interpreter's python (bin/build-free-threading "
                     f"builds .cache/free-threading/venv/bin/python; the image sets it), and parbench run uses it")
        raise UsageError(
            f"the {backend} backend runs only on a free-threaded CPython build (Py_GIL_DISABLED); this is "
            f"{sys.version.split()[0]} with the GIL ({sys.executable}). {where}")
    gil.start_watch()  # before numpy and scipy load, so that a module re-enabling the GIL is named


def cmd_run(args: argparse.Namespace) -> int:
    from .machine import describe_machine, foreign_load, quota_cores
    from .ray_session import attaches_to_cluster

    _check_interpreter(args.backend)

    if args.ray_address in ("", "local") or not attaches_to_cluster(args.backend):
        args.ray_address = None
    if args.ray_address is None:
        # A local Ray: ray.init() would otherwise follow $RAY_ADDRESS to a cluster.
        os.environ.pop("RAY_ADDRESS", None)
    try:
        preset = get_preset(args.preset)
        sizes = apply_overrides(preset.sizes(args.workload), dict(args.size))
        generation = _document_generation(args.workload, args.document_generation, sizes)
        cpus = None if args.ray_address else choose_cpus(args.cores, quota_cores=quota_cores(),
                                                         oversubscribe=args.oversubscribe)
    except (PresetError, CoreCountError) as exc:
        raise UsageError(str(exc)) from None
    _check_writable(args.out)

    machine = describe_machine()  # before pinning, which would hide the other cores
    if cpus is None:  # cluster mode: cores may exceed this machine; the driver stays unpinned
        cpus = sorted(os.sched_getaffinity(0))
    else:
        pin_process(cpus)
    oversubscribed = args.oversubscribe and len(cpus) < args.cores
    load_before = foreign_load(cpus)  # nothing of this cell runs yet: whatever is busy is someone else
    _set_thread_variables(worker_threads(args.workload, args.backend, args.cores))
    _set_quiet_runtime_variables()

    from .harness import Interrupted, ProtocolError, RunOptions, run_cell, seed_for  # numpy, scipy load here
    from .records import NOT_APPLICABLE, write_atomic
    from .workloads.base import Cell

    # A variant runs its base workload with the same seed (the same documents, the same digests); its
    # record is named by what it ran (Cell.name), so a run's config hash needs no generation in it.
    base = base_workload(args.workload)
    cell = Cell(base, args.backend, args.cores, tuple(cpus), sizes,
                seed_for(base, args.cores), args.resources.resolve(), args.ray_address, generation)
    options = RunOptions(
        preset=args.preset, trials=args.trials, warmup=args.warmup, timeout_s=args.timeout, round=args.round,
        config_fields={"preset": args.preset, "sizes": dict(args.size), "trials": args.trials,
                       "warmup": args.warmup, "protocol": args.protocol},
        foreign_load_before=load_before, oversubscribed=oversubscribed, protocol=args.protocol,
        comparison_passes=args.comparison_passes)
    try:
        record = run_cell(cell, options, machine)
    except ProtocolError as exc:
        raise UsageError(str(exc)) from None
    except (Interrupted, KeyboardInterrupt):
        print(f"parbench: interrupted; no record written to {args.out}", file=sys.stderr)
        return 130
    write_atomic(args.out, record.to_json())
    code = 0
    if record.status == NOT_APPLICABLE:
        print(f"parbench: not applicable, record written to {args.out}: {record.error}", file=sys.stderr)
    elif record.status != "ok":
        print(f"parbench: cell failed, record written to {args.out}: {record.error}", file=sys.stderr)
        code = 1
    if args.plan is not None:
        from .plan import progress_line

        line = progress_line(args.plan)
        if line:
            print(f"{line} (just finished: {args.workload}/{args.backend}/{args.cores} cores, round {args.round}, "
                  f"{record.status})", flush=True)
    # The record is on disk and every child process is gone. Skip the interpreter's exit
    # handlers: after a failure, multiprocessing's pool finalizer can deadlock on a lock held by
    # a killed worker.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def cmd_prepare(args: argparse.Namespace) -> int:
    _set_quiet_runtime_variables()
    from .workloads.expensive_init import prepare

    manifest = prepare(args.resources, args.seed)
    print(json.dumps(manifest, indent=2))
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from .machine import calibrate, describe_machine, machine_hash, quota_cores

    try:
        cpus = choose_cpus(args.cores, quota_cores=quota_cores())
    except CoreCountError as exc:
        raise UsageError(str(exc)) from None
    _check_writable(args.out)
    from .records import write_atomic

    machine = describe_machine()
    pin_process(cpus)
    result = calibrate(cpus, seconds_per_round=args.seconds, repeats=args.repeats)
    result.update(point=args.point, machine=machine, machine_hash=machine_hash(machine))
    write_atomic(args.out, json.dumps(result, indent=2))
    print(f"{args.cores} cores deliver {result['ceiling']:.2f}x one core on pure-Python work "
          f"(efficiency {result['efficiency']:.0%})", file=sys.stderr)
    return 0


def _merge_primitives(args: argparse.Namespace) -> int:
    from .primitives import PrimitivesError, merge_records, write_record

    _check_writable(args.out)
    records = []
    for path in args.merge:
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            raise UsageError(f"{path}: cannot read this primitives round ({exc}); measure it again with "
                             f"`parbench primitives --round N --out {path}`") from None
    try:
        record = merge_records(records, [str(p) for p in args.merge])
    except PrimitivesError as exc:
        raise UsageError(str(exc)) from None
    write_record(record, args.out)
    print(f"parbench primitives: {len(records)} rounds, {len(record['primitives'])} primitives pooled -> {args.out}",
          file=sys.stderr)
    return 0


def cmd_primitives(args: argparse.Namespace) -> int:
    if args.merge:
        return _merge_primitives(args)
    try:
        get_preset(args.preset)
    except PresetError as exc:
        raise UsageError(str(exc)) from None
    _check_writable(args.out)
    if not args.no_tensorflow and "expensive_init" in args.workloads:
        missing = [f for f in ("model.keras", "mnist_synthetic.npz") if not (args.resources / f).exists()]
        if missing:
            raise UsageError(f"{', '.join(missing)} missing in {args.resources}; run `parbench prepare --resources "
                             f"{args.resources}` first, or pass --no-tensorflow")
    # As in `run`: one thread per process unless a primitive asks for more (predict with t threads).
    _set_thread_variables(1)
    _set_quiet_runtime_variables()
    from .primitives import measure_primitives, write_record

    record = measure_primitives(args.preset, repeats=args.repeats, chains=args.chains, threads=args.threads,
                                resources=args.resources, include_ray=not args.no_ray,
                                include_tensorflow=not args.no_tensorflow, workloads=args.workloads,
                                round_=args.round)
    write_record(record, args.out)
    print(f"parbench primitives: {len(record['primitives'])} primitives in {record['seconds']:.0f} s "
          f"({', '.join(f'{k} {v:.0f} s' for k, v in record['group_seconds'].items())}) -> {args.out}",
          file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # Ray's and the pools' exit handlers have nothing left to do


def cmd_model(args: argparse.Namespace) -> int:
    from .analysis.model import ModelInputError, write_model_outputs, write_projection_check
    from .analysis.verdicts import ClaimsError
    from .primitives import PrimitivesError

    _check_writable(args.out_dir / "model_check.csv")
    try:
        paths = write_model_outputs(args.primitives, args.tables, args.claims, args.out_dir, args.figures,
                                    resamples=args.resamples, oversubscribed=args.oversubscribed)
        if args.projection_check_from is not None:
            paths.append(write_projection_check(args.primitives, args.tables, args.claims, args.out_dir,
                                                args.projection_check_from))
    except (PrimitivesError, ModelInputError, ClaimsError) as exc:
        raise UsageError(str(exc)) from None
    print("\n".join(str(p) for p in paths))
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    _set_quiet_runtime_variables()
    from .machine import describe_machine, describe_software, machine_hash, threadpools
    from .records import write_atomic

    machine = describe_machine()
    software = describe_software()
    import numpy  # noqa: F401 - so that threadpoolctl sees numpy's BLAS

    software["threadpools"] = threadpools()
    topology = read_topology()
    data = {"machine": machine, "machine_hash": machine_hash(machine), "software": software,
            "physical_core_groups": [list(g) for g in topology.cores]}
    text = json.dumps(data, indent=2)
    if args.out:
        _check_writable(args.out)
        write_atomic(args.out, text)
    else:
        print(text)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    print("workloads:")
    for name, text in CELL_WORKLOADS.items():
        print(f"  {name:24s} {text}")
    print("backends:")
    for name, text in BACKENDS.items():
        print(f"  {name:24s} {text}")
    print("presets:")
    for name, preset in PRESETS.items():
        print(f"  {name:24s} {preset.description}")
    return 0


def cmd_aggregate(args: argparse.Namespace) -> int:
    from .analysis.aggregate import MixedRecordsError, write_tables
    from .records import RecordError

    _check_writable(args.out_dir / "summary.csv")
    try:
        paths = write_tables(args.records, args.calibration, args.out_dir, allow_mixed=args.allow_mixed,
                             **({"seed": args.seed} if args.seed is not None else {}))
    except (RecordError, MixedRecordsError) as exc:
        raise UsageError(str(exc)) from None
    print("\n".join(str(p) for p in paths))
    return 0


def cmd_verdicts(args: argparse.Namespace) -> int:
    from .analysis.verdicts import ClaimsError, judge, write_verdicts

    _check_writable(args.out_dir / "verdicts.csv")
    try:
        verdicts, header = judge(args.tables, args.claims, args.projections)
    except (OSError, ClaimsError) as exc:
        raise UsageError(str(exc)) from None
    print("\n".join(str(p) for p in write_verdicts(verdicts, header, args.out_dir)))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .analysis.compare import Run, render

    try:
        text = render(Run.read(args.run, str(args.run)), Run.read(args.reference, str(args.reference)))
    except (OSError, ValueError, KeyError) as exc:
        raise UsageError(str(exc)) from None
    if args.out is None:
        print(text)
    else:
        from .records import write_atomic

        _check_writable(args.out)
        write_atomic(args.out, text)
        print(args.out)
    return 0


def cmd_figures(args: argparse.Namespace) -> int:
    import pandas as pd

    from .figures import render_all

    tables = {name: pd.read_csv(args.tables / f"{name}.csv")
              for name in ("timings", "summary", "speedups", "calibration")}
    _check_writable(args.out_dir / "x.png")
    paths = render_all(tables["timings"], tables["summary"], tables["speedups"], tables["calibration"], args.out_dir)
    print("\n".join(str(p) for p in paths))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .analysis.verdicts import ClaimsError
    from .records import RecordError
    from .report import render_report

    _check_writable(args.out)
    try:
        render_report(args.tables, args.records, args.environment, args.claims, args.template,
                      args.figures, args.out, args.verdicts, args.model_check)
    except (RecordError, ClaimsError) as exc:
        raise UsageError(str(exc)) from None
    print(args.out)
    return 0


def cmd_readme(args: argparse.Namespace) -> int:
    from . import appendix
    from .readme import ReadmeError, update

    try:
        current = update(args.readme, args.tables, check=args.check)
        appendix_current = appendix.update(args.appendix, args.tables, check=args.check)
    except ReadmeError as exc:
        print(f"parbench readme: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        raise UsageError(f"{exc}; render the reference first: snakemake --cores all reference_report") from None
    print(f"{args.readme}: reference section {'current' if current else 'rewritten'}")
    print(f"{args.appendix}: {'current' if appendix_current else 'rewritten'}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    import pandas as pd

    from .records import NOT_APPLICABLE

    summary = pd.read_csv(args.summary)
    failed = summary[~summary.status.isin(["ok", NOT_APPLICABLE])]
    if len(failed):
        print(f"parbench check: {len(failed)} of {len(summary)} cells failed; the report shows why. "
              f"Delete a cell's record (results/raw/<workload>/<backend>/<cores>.json) to time it again.",
              file=sys.stderr)
        for r in failed.itertuples():
            print(f"  {r.workload}/{r.backend}/{r.cores} cores: {r.error}", file=sys.stderr)
        return 1
    from .records import write_atomic

    not_applicable = int((summary.status == NOT_APPLICABLE).sum())
    write_atomic(args.out, f"all {len(summary) - not_applicable} cells succeeded"
                 + (f" ({not_applicable} more not applicable, the report says why)" if not_applicable else "") + "\n")
    return 0


COMMANDS = {"run": cmd_run, "prepare": cmd_prepare, "calibrate": cmd_calibrate, "primitives": cmd_primitives,
            "model": cmd_model, "env": cmd_env, "list": cmd_list, "aggregate": cmd_aggregate,
            "verdicts": cmd_verdicts, "compare": cmd_compare, "figures": cmd_figures, "report": cmd_report,
            "readme": cmd_readme, "check": cmd_check}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    if args.command == "run" and args.backend in FREE_THREADED_BACKENDS:
        _reexec_free_threaded(argv)
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"parbench {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
