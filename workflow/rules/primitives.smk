# The cost model's inputs: every cost term of the backends' timed regions, timed on its own at the
# run's preset (src/parbench/primitives/). One timing job per round (all cores, the single
# bench_slot, like a cell), right after that round's cells: the machine's speed drifts (this VM's
# predict takes 0.70 s or 1.35 s in spells), and primitives measured in one spell would not see the
# states the cells saw. Round 0 runs after round 0, so an interrupted run has its first cells early.
# config primitives_rounds: only after the first k rounds (the smoke configuration: 1).
rule primitives:
    input:
        primitives_inputs(),
    output:
        "results/primitives/round{round}.json",
    log:
        "logs/primitives/round{round}.log",
    wildcard_constraints:
        round=r"\d+",
    priority: primitives_priority
    threads: lambda wildcards: workflow.cores
    resources:
        bench_slot=1,
    params:
        preset=config["preset"],
        repeats=config["primitives_repeats"],
        threads=" ".join(str(c) for c in CALIBRATION_CORES),
        workloads=" ".join(WORKLOADS),
    shell:
        "parbench primitives --preset {params.preset} --workloads {params.workloads}"
        " --repeats {params.repeats} --threads {params.threads} --round {wildcards.round}"
        " --out {output} 2> {log}"


# Every round's samples pooled into the one record the model reads (each round's times kept).
rule primitives_merged:
    input:
        expand("results/primitives/round{round}.json", round=range(PRIMITIVES_ROUNDS)),
    output:
        "results/primitives.json",
    log:
        "logs/primitives/merge.log",
    localrule: True
    shell:
        "parbench primitives --merge {input} --out {output} 2> {log}"


# Predicted against measured seconds of every cell (model_check.csv, model_errors.csv), the
# claims projected to the original's core counts (projections.csv) and one figure per workload.
# Never reads a cell to make a prediction: the cells are only compared against.
rule model:
    input:
        primitives=lambda wildcards: primitives_for(wildcards.outdir),
        tables=expand("{{outdir}}/{table}.csv", table=AGGREGATE_TABLES),
        claims="paper/claims.yaml",
        code=[
            *sorted(
                str(p) for p in Path("src/parbench/analysis/model").glob("*.py")
            ),  # one module per workload
            "src/parbench/analysis/drift.py",
            "src/parbench/model_figures.py",
        ],
        oversubscribed=lambda wildcards: oversubscribed_for(wildcards.outdir),
    output:
        expand("{{outdir}}/{table}.csv", table=MODEL_TABLES),
        [
            report(
                f"{{outdir}}/figures/model_{workload}.png",
                caption="../report/model.rst",
                category="Cost model (projection)",
            )
            for workload in MODEL_WORKLOADS
        ],
    log:
        "logs/{outdir}/model.log",
    wildcard_constraints:
        outdir="results|results/reference",
    params:
        oversubscribed=lambda wildcards: (
            f"--oversubscribed {oversubscribed_dir(wildcards.outdir)}"
            if oversubscribed_dir(wildcards.outdir)
            else ""
        ),
    shell:
        "parbench model --primitives {input.primitives} --tables {wildcards.outdir}"
        " --claims {input.claims} --out-dir {wildcards.outdir}"
        " --figures {wildcards.outdir}/figures {params.oversubscribed} > {log} 2>&1"
