rule calibrate:
    output:
        "results/calibration/{cores}.json",
    log:
        "logs/calibration/{cores}.log",
    wildcard_constraints:
        cores=r"\d+",
    priority: CALIBRATION_PRIORITY
    threads: lambda wildcards: workflow.cores
    resources:
        bench_slot=1,
    shell:
        "parbench calibrate --cores {wildcards.cores} --out {output} 2> {log}"
