"""B2 stateful's primitives (workloads/stateful.py)."""

from __future__ import annotations

import pickle
import time
from pathlib import Path

from .core import (
    SEED,
    Recorder,
)


def measure_stateful(rec: Recorder, sizes, cpus: list[int], chains: int) -> list[int]:
    from collections import defaultdict
    from dataclasses import replace
    from multiprocessing.reduction import ForkingPickler

    from ..catalog import PER_DOCUMENT
    from ..workloads.base import Cell
    from ..workloads.stateful import count_prefixes, document_stream

    cell = Cell("stateful", "primitives", 1, (cpus[0],), sizes, SEED, Path("."))
    docs = document_stream(cell, SEED)
    generate = []
    for _ in range(max(rec.repeats, sizes.docs_per_core)):
        start = time.perf_counter()
        next(docs)
        generate.append(time.perf_counter() - start)
    rec.add("stateful.generate_document", generate, "driver",
            "next(document_stream): the driver generating one document")
    # The same documents made with one RNG call each (--document-generation per-document).
    blocks = document_stream(replace(cell, document_generation=PER_DOCUMENT), SEED)
    rec.time("stateful.generate_document_block", lambda: next(blocks), "driver",
             "next(document_stream) with per-document generation: one RNG call per document, sliced",
             repeats=max(rec.repeats, sizes.docs_per_core))

    threshold = sizes.popular_threshold
    document = next(docs)
    doc_bytes = rec.time_pickling(
        document, ("stateful.dumps_document", "driver",
                   "pickling one document (an executor's feeder thread, Ray's serializer)"),
        ("stateful.loads_document", "worker", "unpickling one document in the worker"))
    rec.facts["stateful.document_bytes"] = doc_bytes

    # One chain = one state holder fed docs_per_core documents, as every holder of every backend is.
    # The state after k documents is what the original multiprocessing code pickles into round k's
    # task and what comes back (k + 1) from it.
    state_bytes: dict[int, int] = {}
    counts_samples: dict[int, list[float]] = {k: [] for k in range(sizes.docs_per_core)}
    dumps_samples: dict[int, list[float]] = {k: [] for k in range(1, sizes.docs_per_core + 1)}
    loads_samples: dict[int, list[float]] = {k: [] for k in range(1, sizes.docs_per_core + 1)}
    popular: set[str] = set()
    for _ in range(chains):
        counts: defaultdict[bytes, int] = defaultdict(int)
        popular = set()
        for k in range(sizes.docs_per_core):
            doc = next(docs)
            start = time.perf_counter()
            count_prefixes(counts, popular, doc, threshold)
            counts_samples[k].append(time.perf_counter() - start)
            state = (counts, popular)
            start = time.perf_counter()
            payload = ForkingPickler.dumps(state)
            dumps_samples[k + 1].append(time.perf_counter() - start)
            start = time.perf_counter()
            copy = pickle.loads(payload)
            loads_samples[k + 1].append(time.perf_counter() - start)
            state_bytes[k + 1] = len(payload)
            del copy, payload
    for k, samples in counts_samples.items():
        rec.add("stateful.count_document", samples, "worker",
                "count_prefixes of one document into a state that already holds k documents", k=k)
    for k, samples in dumps_samples.items():
        rec.add("stateful.dumps_state", samples, "driver+worker",
                "ForkingPickler.dumps((counts, popular)) of a state holding k documents", k=k)
        rec.add("stateful.loads_state", loads_samples[k], "driver+worker",
                "pickle.loads of a state holding k documents", k=k)
    empty = bytes(ForkingPickler.dumps((defaultdict(int), set())))
    state_bytes[0] = len(empty)
    rec.facts["stateful.state_bytes"] = {str(k): v for k, v in sorted(state_bytes.items())}
    rec.facts["stateful.popular_after_docs_per_core"] = len(popular)
    popular_bytes = rec.time_pickling(
        popular, ("stateful.dumps_popular", "worker",
                  "pickling one holder's popular set after docs_per_core documents (get_popular's reply)"),
        ("stateful.loads_popular", "driver", "unpickling that popular set in the driver"))
    rec.facts["stateful.popular_bytes"] = popular_bytes
    # Pipe sizes: round k's task (state k + one document) and its result (state k + 1).
    return ([state_bytes[k] + doc_bytes for k in range(sizes.docs_per_core)]
            + [state_bytes[k] for k in range(1, sizes.docs_per_core + 1)] + [doc_bytes, popular_bytes])
