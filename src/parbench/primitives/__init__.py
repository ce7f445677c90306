"""The cost model's inputs: every cost term of the backends' timed regions, measured on its own.

`parbench primitives` times, pinned and repeated, each operation that a trial of the original
backends and of multiprocessing_tuned is made of, at the preset's sizes and with the workloads' own
functions (convolve, document_stream, count_prefixes, load_model_and_data, ModelActor, ...):

* numerical: one convolution; pickling the (image, filter, stride) task as Pool does and unpickling
  it; pickling and unpickling one result; ray.put of the image; a Ray task that receives the image
  and returns one result; the copy of the image into shared memory;
* stateful: generating one document; counting one document into a state that already holds k
  documents (k = 0 .. docs_per_core - 1); pickling and unpickling the state after k documents and
  one document; the pickled sizes;
* expensive_init: loading the model and the data; the first predict on a freshly loaded model
  (Keras traces its predict function then); one predict with t TensorFlow threads; one predict in a
  Ray actor; pickling and unpickling one prediction;
* transport: Connection.send_bytes/recv_bytes through an os.pipe at every payload size above (both
  ends on one core, and on two cores when there are two); a Pool and a ProcessPoolExecutor round
  trip and per-task overhead; a Ray task and an actor call round trip, the driver's cost of
  submitting one, the worker's cost of draining one, and an actor's start-up.

Pinning: every single-process cost runs on the first CPU of the stage; a pipe's reader runs on the
same CPU ("same core": both ends' CPU time, serialised) or on the second ("cross core": the wall
time of a transfer between two cores); predict with t threads runs on the first t CPUs. Ray is
started as in a 1-core cell: the driver, the raylet and the workers on the first CPU.

Driver-side and worker-side costs of a transfer are separated by a blocked receiver: the receiver
first sleeps (no CPU), the driver submits K items (the driver's cost per item), then the receiver
drains them (the receiver's cost per item, from timestamps taken inside the receiver).

Everything is imported lazily: the stage runs without Ray (`include_ray=False`) or TensorFlow
(`include_tensorflow=False`); the model then says which backends it cannot predict. The driver of
the stage never imports TensorFlow (its children would inherit a runtime that must not be forked).

Modules: core (the record: samples, summary, merging, reading); transport, numerical, stateful,
expensive_init, ray_backend (each group's primitives); stage (`parbench primitives`: every group,
one record).
"""

from .core import (
    KIND,
    WORKLOAD_GROUPS,
    PrimitivesError,
    PrimitiveSet,
    key_of,
    merge_records,
    write_record,
)
from .stage import measure_primitives

__all__ = ["KIND", "WORKLOAD_GROUPS", "PrimitiveSet", "PrimitivesError", "key_of", "measure_primitives",
           "merge_records", "write_record"]
