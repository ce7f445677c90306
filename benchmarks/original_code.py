"""The post's benchmark code as published, timed the way its scripts time it (time.time() around one
trial, fresh state before each trial), for side-by-side comparison with the project's cells.

Run by benchmarks/compare_original.py, one process per measurement:

    python benchmarks/original_code.py --benchmark stateful --backend ray --cores 2 --cpus 0,1 --trials 5

prints one JSON line: {"seconds": [...]} (one entry per trial).

What is the post's and what is not:
- the bodies between "timer starts" and "timer stops" are the post's snippets (S2), unchanged but for
  `num_cpus` being the --cores argument instead of psutil's physical count;
- the process is pinned to --cpus before anything starts (the project pins its cells the same way; the
  post ran unpinned on whole machines, which a shared test machine cannot copy);
- Ray is started as the project starts it (local, no dashboard, same object store size), so that the two
  sides differ in the timed code only; the post's `ray.init(num_cpus=num_cpus)` otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict


def _start_ray(num_cpus: int) -> None:
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # Ray >= 2.59 needs this for a local cluster
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
             object_store_memory=2 * 1024**3)


# ------------------------------------------------------------------ B2, stateful: the post's code


def stateful_ray(num_cpus: int, trials: int) -> list[float]:
    import numpy as np
    import ray

    _start_ray(num_cpus)

    @ray.remote
    class StreamingPrefixCount:
        def __init__(self):
            self.prefix_count = defaultdict(int)
            self.popular_prefixes = set()

        def add_document(self, document):
            for word in document:
                for i in range(1, len(word)):
                    prefix = word[:i]
                    self.prefix_count[prefix] += 1
                    if self.prefix_count[prefix] > 3:
                        self.popular_prefixes.add(prefix)

        def get_popular(self):
            return self.popular_prefixes

    seconds = []
    for _ in range(trials):
        # The post's script makes the actors right before its timer; rebinding the list drops the
        # previous trial's actors, which Ray then stops.
        streaming_actors = [StreamingPrefixCount.remote() for _ in range(num_cpus)]
        start = time.time()  # timer starts
        for i in range(num_cpus * 10):
            document = [np.random.bytes(20) for _ in range(10000)]
            streaming_actors[i % num_cpus].add_document.remote(document)
        results = ray.get([actor.get_popular.remote() for actor in streaming_actors])
        popular_prefixes = set()
        for prefixes in results:
            popular_prefixes |= prefixes
        seconds.append(time.time() - start)  # timer stops
    ray.shutdown()
    return seconds


def accumulate_prefixes(args):
    running_prefix_count, running_popular_prefixes, document = args
    for word in document:
        for i in range(1, len(word)):
            prefix = word[:i]
            running_prefix_count[prefix] += 1
            if running_prefix_count[prefix] > 3:
                running_popular_prefixes.add(prefix)
    return running_prefix_count, running_popular_prefixes


def stateful_multiprocessing(num_cpus: int, trials: int) -> list[float]:
    from multiprocessing import Pool

    import numpy as np

    pool = Pool(num_cpus)
    seconds = []
    for _ in range(trials):
        running_prefix_counts = [defaultdict(int) for _ in range(4)]
        running_popular_prefixes = [set() for _ in range(4)]
        start = time.time()  # timer starts
        for i in range(10):  # noqa: B007 - the post's loop, as published
            documents = [[np.random.bytes(20) for _ in range(10000)]
                         for _ in range(num_cpus)]
            results = pool.map(
                accumulate_prefixes,
                zip(running_prefix_counts, running_popular_prefixes, documents))
            running_prefix_counts = [result[0] for result in results]
            running_popular_prefixes = [result[1] for result in results]
        popular_prefixes = set()
        for prefixes in running_popular_prefixes:
            popular_prefixes |= prefixes
        seconds.append(time.time() - start)  # timer stops
    pool.terminate()
    return seconds


# ------------------------------------------------------------------ B1, numerical: the post's code


def numerical_ray(num_cpus: int, trials: int) -> list[float]:
    import numpy as np
    import ray
    import scipy.signal

    _start_ray(num_cpus)

    @ray.remote
    def f(image, random_filter):
        return scipy.signal.convolve2d(image, random_filter)[::5, ::5]

    filters = [np.random.normal(size=(4, 4)) for _ in range(num_cpus)]

    def one_pass():
        image = np.zeros((3000, 3000))
        image_id = ray.put(image)
        ray.get([f.remote(image_id, filters[i]) for i in range(num_cpus)])

    for _ in range(5):  # the script's 5 untimed passes "to warm up the Ray object store"
        one_pass()
    seconds = []
    for _ in range(trials):
        start = time.time()
        one_pass()
        seconds.append(time.time() - start)
    ray.shutdown()
    return seconds


def convolve(args):
    import scipy.signal

    image, random_filter = args
    return scipy.signal.convolve2d(image, random_filter)[::5, ::5]


def numerical_multiprocessing(num_cpus: int, trials: int) -> list[float]:
    from multiprocessing import Pool

    import numpy as np

    pool = Pool(num_cpus)
    filters = [np.random.normal(size=(4, 4)) for _ in range(num_cpus)]
    seconds = []
    for _ in range(trials):
        start = time.time()
        image = np.zeros((3000, 3000))
        pool.map(convolve, zip(num_cpus * [image], filters))
        seconds.append(time.time() - start)
    pool.terminate()
    return seconds


PROGRAMS = {
    ("stateful", "ray"): stateful_ray,
    ("stateful", "multiprocessing"): stateful_multiprocessing,
    ("numerical", "ray"): numerical_ray,
    ("numerical", "multiprocessing"): numerical_multiprocessing,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark", required=True, choices=sorted({b for b, _ in PROGRAMS}))
    parser.add_argument("--backend", required=True, choices=sorted({k for _, k in PROGRAMS}))
    parser.add_argument("--cores", type=int, required=True)
    parser.add_argument("--cpus", required=True, help="comma-separated CPU ids to pin to, e.g. 0,1")
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, [int(c) for c in args.cpus.split(",")])
    program = PROGRAMS[(args.benchmark, args.backend)]
    print(json.dumps({"seconds": program(args.cores, args.trials)}), flush=True)


if __name__ == "__main__":
    main()
