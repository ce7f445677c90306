# The free-threaded CPython (PEP 703, no GIL) that runs the free_threading cells, built once into
# the project's cache on the host (the container has its own, config free_threading_python names
# another). bin/build-free-threading keeps an interpreter and venv that match their inputs; it claims
# the machine like a timing job, so that no cell is timed while it compiles.
rule free_threading_interpreter:
    input:
        "bin/build-free-threading",
        "requirements-ft.lock",
    output:
        str(plan.free_threading_stamp()),
    log:
        "logs/free_threading_interpreter.log",
    threads: lambda wildcards: workflow.cores
    resources:
        bench_slot=1,
    params:
        prefix=lambda wildcards, output: Path(output[0]).parent.parent,  # <prefix>/venv/.parbench-venv
    shell:
        "JOBS={threads} bin/build-free-threading --prefix {params.prefix} > {log} 2>&1"
