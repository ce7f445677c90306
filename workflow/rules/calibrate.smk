rule calibrate:
    output:
        "results/calibration/{cores}.json",
    log:
        "logs/calibration/{cores}.log",
    wildcard_constraints:
        cores=r"\d+",
    threads: lambda wildcards: workflow.cores
    resources:
        bench_slot=1,
    priority: CALIBRATION_PRIORITY
    shell:
        "parbench calibrate --cores {wildcards.cores} --out {output} 2> {log}"
