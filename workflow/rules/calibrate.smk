# The machine ceiling at N cores, and the load other programs put on the run's CPUs: measured
# before the first round (point 0) and after every round (point r), so a machine that got busy
# during the run is noticed (analysis/quiet.py). Priorities alone put each point after its round.
rule calibrate:
    output:
        "results/calibration/{cores}/point{point}.json",
    log:
        "logs/calibration/{cores}/point{point}.log",
    wildcard_constraints:
        cores=r"\d+",
        point=r"\d+",
    priority: calibration_priority
    threads: lambda wildcards: workflow.cores
    resources:
        bench_slot=1,
    params:
        seconds=config["calibration_seconds"],
        repeats=config["calibration_repeats"],
    shell:
        "parbench calibrate --cores {wildcards.cores} --point {wildcards.point}"
        " --seconds {params.seconds} --repeats {params.repeats} --out {output} 2> {log}"
