# Re-runs the three benchmarks of "10x Faster Parallel Python Without Python Multiprocessing"
# (Ray, 2019) on every backend x workload x core count, then aggregates, plots and reports.
# `snakemake --cores all` runs everything on config/config.yaml; see README.md.
from snakemake.utils import min_version

min_version("9.17")


configfile: "config/config.yaml"


# The whole workflow runs inside this image (built locally from the Dockerfile, see README);
# it is not pulled from a registry.
containerized: "docker://parbench-artifact:0.1.0"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/environment.smk"
include: "workflow/rules/calibrate.smk"
include: "workflow/rules/primitives.smk"
include: "workflow/rules/prepare.smk"
include: "workflow/rules/free_threading.smk"
include: "workflow/rules/bench.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/verdicts.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


onstart:
    write_plan_file()
    quiet_scheduler()


onsuccess:
    print_estimate_error()


rule all:
    default_target: True
    input:
        "results/report.md",
        "results/verdicts.csv",
        "results/compare.md",
        "results/all_cells_ok.txt",
        model_outputs("results"),


rule reference_report:
    input:
        "results/reference/report.md",
        "results/reference/verdicts.csv",
        reference_model_outputs(),
