"""A cost model of one timed trial: the seconds of each (workload, backend) at N cores, from
measured primitives (`parbench primitives`) and the calibrated machine ceiling (`parbench calibrate`).

Nothing here reads a cell's timing. Every prediction function takes only a `ModelInputs` (primitive
means or one bootstrap draw of them, the ceiling per core count, the preset's sizes); the cells
are read afterwards, by `check_cells`, to compare.

How a trial is written down. Each backend's `trial()` is read as a set of operations, each one a
measured primitive, placed where it runs:

* driver  - serial in the driver process (e.g. Pool's task handler pickling each task): grows with N;
* workers - run in parallel on the N worker processes;
* fixed   - once per trial (e.g. `ray.put` of the image).

Where the code lets the driver and the workers overlap, the trial takes the longer of two bounds:

    span = the chain of dependent steps (the driver's serial part, then the last worker's part)
    work = every CPU-second of the trial (driver + workers) / capacity(N)

capacity(N) is what N cores deliver against one: the calibrated ceiling at N; beyond the measured
core counts N x (the efficiency at the largest measured count) -- an assumption, stated in the
prediction. Where the code has a barrier (B2's multiprocessing rounds, B3's rounds) the rounds add.
Each prediction returns the terms of its binding bound (name, seconds, where), which sum to its
seconds, so a reader can name the dominant one.

A claim's projection carries a bracket: the primitives' re-draws, the model's measured error on
the checked cells, and every assumption beyond the measured range at its stated bounds (projection.py,
"uncertainty"). Oversubscribed cells (N workers on fewer CPUs) check the terms that grow with N
out of sample (check.py, "out-of-sample"), never pooled with the real cells.

Modules: core (terms, bounds, capacity, the inputs and their bootstrap); numerical, stateful,
expensive_init (each backend's trial of that workload, beside workloads/<workload>.py and
primitives/<workload>.py); check (which backends are modelled, the model against measured cells,
in and out of sample); projection (the claims' projections with their brackets, and the stage).
"""

from .check import (
    IN_SAMPLE,
    OUT_OF_SAMPLE,
    OUT_OF_SAMPLE_MISS,
    check_cells,
    error_summary,
    out_of_sample_errors,
    oversubscribed_check,
    predict,
)
from .core import (
    ORIGINAL_BACKENDS,
    ORIGINAL_CORES,
    SPAN,
    TARGET_ERROR,
    WORK,
    Capacity,
    Costs,
    ModelInputError,
    ModelInputs,
)
from .projection import (
    CAPACITY_LOW_EFFICIENCY,
    ModelError,
    post_thread_scaling,
    project_claims,
    projection_check,
    projection_curves,
    projection_table,
    write_model_outputs,
    write_projection_check,
)
from .stateful import holder_pipeline, with_generation

__all__ = [
    "CAPACITY_LOW_EFFICIENCY", "IN_SAMPLE", "ORIGINAL_BACKENDS", "ORIGINAL_CORES", "OUT_OF_SAMPLE",
    "OUT_OF_SAMPLE_MISS", "SPAN", "TARGET_ERROR", "WORK", "Capacity", "Costs", "ModelError", "ModelInputError",
    "ModelInputs", "check_cells", "error_summary", "holder_pipeline", "out_of_sample_errors",
    "oversubscribed_check", "post_thread_scaling", "predict", "project_claims", "projection_check",
    "projection_curves", "projection_table", "with_generation", "write_model_outputs", "write_projection_check",
]
