# One job per round of each (workload, backend, cores) cell. Every job claims all cores and the
# single bench_slot, so timing jobs never overlap; rounds run round by round, each round in a
# seeded shuffle (cell_priority). Exit status 1 means "the cell failed and its record says why":
# the job still succeeds so the other cells run and the report shows the failure.
# With ray_address set, the ray cells attach to that Ray cluster (params.ray_address). The
# free-threaded backends' cells run under the free-threaded interpreter (params.runner), pinned alike.
rule bench:
    input:
        bench_inputs,
    output:
        RECORD,
    log:
        "logs/bench/{workload}/{backend}/{cores}/round{round}.log",
    wildcard_constraints:
        cores=r"\d+",
        round=r"\d+",
    priority: cell_priority
    threads: lambda wildcards: workflow.cores
    resources:
        bench_slot=1,
    params:
        preset=config["preset"],
        trials=config["trials"],
        warmup=warmup_option(),
        timeout=config["run_timeout_s"],
        ray_address=ray_address_option,
        plan=PLAN_FILE,
        runner=cell_runner,
    shell:
        "{params.runner} run --workload {wildcards.workload} --backend {wildcards.backend}"
        " --cores {wildcards.cores} --round {wildcards.round} --preset {params.preset}"
        " --trials {params.trials} {params.warmup} {params.ray_address}"
        " --timeout {params.timeout}"
        " --plan {params.plan} --out {output} 2> {log} || test $? -eq 1"


# config oversubscribed_check: the cost model's out-of-sample cells, N workers on this machine's
# CPUs (`--oversubscribe`), one round each, after the real cells (lowest priority), never
# aggregated: only the model stage reads them. Same slot as every timing job.
rule bench_oversubscribed:
    input:
        bench_inputs,
    output:
        OVERSUBSCRIBED_RECORD,
    log:
        "logs/bench_oversubscribed/{workload}/{backend}/{cores}.log",
    wildcard_constraints:
        cores=r"\d+",
    threads: lambda wildcards: workflow.cores
    resources:
        bench_slot=1,
    params:
        preset=config["preset"],
        trials=config["trials"],
        warmup=warmup_option(),
        timeout=config["run_timeout_s"],
    shell:
        "parbench run --workload {wildcards.workload} --backend {wildcards.backend}"
        " --cores {wildcards.cores} --round 0 --preset {params.preset} --trials {params.trials}"
        " {params.warmup} --timeout {params.timeout} --oversubscribe --out {output} 2> {log}"
        " || test $? -eq 1"
