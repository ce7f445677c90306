# A verdict per claim, machine-readable: verdicts.csv and verdicts.json (the report's claim table
# is rendered from the same rows), after the quiet-machine check (analysis/quiet.py).
rule verdicts:
    input:
        tables=expand("{{outdir}}/{table}.csv", table=AGGREGATE_TABLES),
        run="{outdir}/run.json",
        claims="paper/claims.yaml",
        projections=lambda wildcards: projections_for(wildcards.outdir),
        code=[
            "src/parbench/analysis/verdicts.py",
            "src/parbench/analysis/quiet.py",
        ],
    output:
        "{outdir}/verdicts.csv",
        "{outdir}/verdicts.json",
    log:
        "logs/{outdir}/verdicts.log",
    wildcard_constraints:
        outdir="results|results/reference",
    params:
        projections=lambda wildcards, input: (
            f"--projections {input.projections}" if input.projections else ""
        ),
    shell:
        "parbench verdicts --tables {wildcards.outdir} --claims {input.claims}"
        " {params.projections} --out-dir {wildcards.outdir} > {log} 2>&1"


# This run against the committed reference (paper/reference/): every ratio and verdict side by
# side, with whether they agree. Reviewers use it to check their run against ours.
rule compare:
    input:
        run=["results/verdicts.json", "results/speedups.csv", "results/growth.csv"],
        reference=[
            "results/reference/verdicts.json",
            "results/reference/speedups.csv",
            "results/reference/growth.csv",
        ],
        code="src/parbench/analysis/compare.py",
    output:
        report("results/compare.md", caption="../report/compare.rst", category="Report"),
    log:
        "logs/compare.log",
    shell:
        "parbench compare results results/reference --out {output} > {log} 2>&1"
