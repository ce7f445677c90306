rule aggregate:
    input:
        records=lambda wildcards: records_for(wildcards.outdir),
        calibration=lambda wildcards: calibrations_for(wildcards.outdir),
        code=[
            "src/parbench/analysis/aggregate.py",
            "src/parbench/stats.py",
            "src/parbench/records.py",
        ],
    output:
        expand("{{outdir}}/{table}.csv", table=AGGREGATE_TABLES),
        "{outdir}/timings.parquet",
        "{outdir}/run.json",
    log:
        "logs/{outdir}/aggregate.log",
    wildcard_constraints:
        outdir="results|results/reference",
    params:
        seed=config["seed"],
    shell:
        "parbench aggregate --records {input.records} --calibration {input.calibration}"
        " --seed {params.seed} --out-dir {wildcards.outdir} > {log} 2>&1"
