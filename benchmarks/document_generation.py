"""What B2's driver pays to make one document, four ways, and whether they make the same words.

    .venv/bin/python benchmarks/document_generation.py [--cpu 0] [--repeats 7]

The post calls `np.random.bytes(20)` 10,000 times per document: numpy's legacy RandomState (MT19937).
The project can draw the same 20-byte words from a seeded RandomState or from a Generator (PCG64),
one call per word (`per-word`, the post's code) or one call per document sliced into words
(`per-document`). Printed: the median seconds per document of each, interleaved round by round
(the machine is shared), and whether per-word and per-document give identical words for each
generator. Not a test; its output is quoted in the README.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

WORDS, WORD_BYTES, SEED = 10_000, 20, 2019


def per_word(rng) -> list[bytes]:
    return [rng.bytes(WORD_BYTES) for _ in range(WORDS)]


def per_document(rng) -> list[bytes]:
    block = rng.bytes(WORD_BYTES * WORDS)
    return [block[i:i + WORD_BYTES] for i in range(0, len(block), WORD_BYTES)]


GENERATORS = {"RandomState": np.random.RandomState, "Generator": np.random.default_rng}
MODES = {"per-word": per_word, "per-document": per_document}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    os.sched_setaffinity(0, [args.cpu])
    print(f"numpy {np.__version__}; load {os.getloadavg()[0]:.2f}; one document = {WORDS} words of {WORD_BYTES} B")
    for gen_name, make in GENERATORS.items():
        same = all(per_word(make(SEED + d)) == per_document(make(SEED + d)) for d in range(3))
        print(f"{gen_name}: per-word and per-document words identical for 3 seeds: {same}")
    same = per_word(np.random.RandomState(SEED)) == per_word(np.random.default_rng(SEED))
    print(f"RandomState and Generator words identical: {same}")
    samples: dict[str, list[float]] = {f"{g} {m}": [] for g in GENERATORS for m in MODES}
    for _ in range(args.repeats):  # interleaved: every variant once per round
        for gen_name, make in GENERATORS.items():
            for mode, fn in MODES.items():
                rng = make(SEED)
                start = time.perf_counter()
                fn(rng)
                samples[f"{gen_name} {mode}"].append(time.perf_counter() - start)
    for name, values in samples.items():
        med = statistics.median(values)
        print(f"{name:28s} median {med * 1e3:9.3f} ms per document ({med / WORDS * 1e6:7.3f} us per word); "
              f"min {min(values) * 1e3:.3f} max {max(values) * 1e3:.3f} ms over {len(values)}")
    legacy = statistics.median(samples["RandomState per-word"])
    modern = statistics.median(samples["Generator per-word"])
    print(f"np.random.bytes(20) per word (the post's call): {legacy / WORDS * 1e6:.2f} us; "
          f"RandomState per-word / Generator per-word = {legacy / modern:.3f} (medians), "
          f"{min(samples['RandomState per-word']) / min(samples['Generator per-word']):.3f} (minima, the "
          f"least disturbed runs on a shared machine)")


if __name__ == "__main__":
    main()
