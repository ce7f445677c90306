rule figures:
    input:
        tables=expand("{{outdir}}/{table}.csv", table=AGGREGATE_TABLES),
        code="src/parbench/figures.py",  # editing the plots reruns only figures and report
    output:
        [
            report(
                f"{{outdir}}/figures/{name}.png",
                caption=f"../report/{name}.rst",
                category="Figures",
            )
            for name in FIGURE_NAMES
        ],
        expand("{{outdir}}/figures/{name}.pdf", name=FIGURE_NAMES),
    log:
        "logs/{outdir}/figures.log",
    wildcard_constraints:
        outdir="results|results/reference",
    shell:
        "parbench figures --tables {wildcards.outdir} --out-dir {wildcards.outdir}/figures > {log} 2>&1"
