rule report:
    input:
        tables=expand("{{outdir}}/{table}.csv", table=AGGREGATE_TABLES),
        verdicts="{outdir}/verdicts.json",
        model_check=lambda wildcards: model_check_for(wildcards.outdir),
        figures=expand("{{outdir}}/figures/{name}.png", name=FIGURE_NAMES),
        records=lambda wildcards: records_for(wildcards.outdir),
        environment=lambda wildcards: environment_for(wildcards.outdir),
        claims="paper/claims.yaml",
        template="paper/report.md.j2",
        code=[
            "src/parbench/report.py",
            "src/parbench/analysis/aggregate.py",
            "src/parbench/records.py",
        ],
    output:
        report("{outdir}/report.md", caption="../report/report.rst", category="Report"),
    log:
        "logs/{outdir}/report.log",
    wildcard_constraints:
        outdir="results|results/reference",
    params:
        model=lambda wildcards, input: (
            f"--model-check {input.model_check}" if input.model_check else ""
        ),
    shell:
        "parbench report --tables {wildcards.outdir} --records {input.records}"
        " --environment {input.environment} --claims {input.claims} --template {input.template}"
        " --figures {wildcards.outdir}/figures --verdicts {input.verdicts} {params.model}"
        " --out {output} > {log} 2>&1"


# Last step: the report is written either way; the run's exit status then says whether any
# cell failed (their records and the report say why).
rule check:
    input:
        report="results/report.md",
        summary="results/summary.csv",
    output:
        "results/all_cells_ok.txt",
    log:
        "logs/check.log",
    shell:
        "parbench check --summary {input.summary} --out {output} 2> {log}"
