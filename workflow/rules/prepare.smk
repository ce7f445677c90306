rule prepare:
    output:
        model="resources/expensive_init/model.keras",
        data="resources/expensive_init/mnist_synthetic.npz",
    log:
        "logs/prepare.log",
    threads: lambda wildcards: workflow.cores
    shell:
        "parbench prepare --resources resources/expensive_init > {log} 2>&1"
