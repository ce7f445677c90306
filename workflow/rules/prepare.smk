rule prepare:
    output:
        model="resources/expensive_init/model.keras",
        data="resources/expensive_init/mnist_synthetic.npz",
    log:
        "logs/prepare.log",
    # First of all: the B3 cells and the primitives wait for it, and without a priority it would run
    # after every other cell, so that B3's rounds would no longer interleave with the others'.
    priority: CALIBRATION_PRIORITY[0] + 1
    threads: lambda wildcards: workflow.cores
    shell:
        "parbench prepare --resources resources/expensive_init > {log} 2>&1"
