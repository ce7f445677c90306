rule aggregate:
    input:
        records=lambda wildcards: records_for(wildcards.outdir),
        calibration=lambda wildcards: calibrations_for(wildcards.outdir),
        code=["src/parbench/analysis/aggregate.py", "src/parbench/analysis/stats.py"],
    output:
        expand("{{outdir}}/{table}.csv", table=TABLES),
        "{outdir}/timings.parquet",
    log:
        "logs/{outdir}/aggregate.log",
    wildcard_constraints:
        outdir="results|results/reference",
    shell:
        "parbench aggregate --records {input.records} --calibration {input.calibration}"
        " --out-dir {wildcards.outdir} > {log} 2>&1"
