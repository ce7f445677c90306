"""Fidelity check: the project's original-backend cells against the post's code as published.

For each (benchmark, backend, cores) pair, the post's code (benchmarks/original_code.py) and the
project's cell (`parbench run`) run as fresh processes on the same pinned CPUs, interleaved
A B A B ... over --rounds rounds. Each process runs --trials trials; the figure compared is the
median of its trial seconds. Printed: each round's two medians and their ratio (project / post),
then the median ratio per pair. A ratio near 1 says the cell times what the post's code times.

    .venv/bin/python benchmarks/compare_original.py --pairs stateful:ray --cores 1 2 --rounds 3

The post has no serial script (see the reference), so serial cells have no counterpart here.
Not a test: its output is quoted in records' notes and the README, with the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAIRS = ("stateful:ray", "stateful:multiprocessing", "numerical:ray", "numerical:multiprocessing")


def project_cell(benchmark: str, backend: str, cores: int, trials: int, extra: list[str]) -> list[float]:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "record.json"
        command = [str(Path(sys.executable).with_name("parbench")), "run", "--workload", benchmark,
                   "--backend", backend, "--cores", str(cores), "--trials", str(trials),
                   "--comparison-passes", "0", "--out", str(out), *extra]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        record = json.loads(out.read_text())
    if record["status"] != "ok":
        raise RuntimeError(f"the project's {benchmark}/{backend} cell failed: {record['error']}")
    return [t["seconds"] for t in record["trials"]]


def post_code(benchmark: str, backend: str, cores: int, cpus: list[int], trials: int) -> list[float]:
    command = [sys.executable, str(HERE / "original_code.py"), "--benchmark", benchmark, "--backend", backend,
               "--cores", str(cores), "--cpus", ",".join(map(str, cpus)), "--trials", str(trials)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])["seconds"]


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def compare(pair: str, cores: int, rounds: int, trials: int, extra: list[str]) -> float:
    from parbench.machine import choose_cpus  # the CPUs `parbench run --cores N` pins to

    benchmark, backend = pair.split(":")
    cpus = choose_cpus(cores)
    ratios = []
    for r in range(rounds):
        # Alternate which side goes first, so a drift in the machine's speed does not favour one.
        order = ("post", "project") if r % 2 == 0 else ("project", "post")
        medians = {}
        for side in order:
            seconds = (post_code(benchmark, backend, cores, cpus, trials) if side == "post"
                       else project_cell(benchmark, backend, cores, trials, extra))
            medians[side] = statistics.median(seconds)
        ratios.append(medians["project"] / medians["post"])
        print(f"{pair} cores={cores} round {r}: project {medians['project']:.3f} s, post {medians['post']:.3f} s, "
              f"ratio {ratios[-1]:.3f} (load {load_average()})", flush=True)
    ratio = statistics.median(ratios)
    print(f"== {pair} cores={cores}: median ratio project/post {ratio:.3f} over {rounds} rounds "
          f"(min {min(ratios):.3f}, max {max(ratios):.3f})", flush=True)
    return ratio


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", nargs="+", default=list(PAIRS), choices=PAIRS)
    parser.add_argument("--cores", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--project-arg", action="append", default=[],
                        help="extra argument for `parbench run` (repeatable), e.g. --project-arg=--preset=paper")
    args = parser.parse_args(argv)
    print(f"machine: {os.cpu_count()} CPUs, load at start {load_average()}", flush=True)
    for pair in args.pairs:
        for cores in args.cores:
            compare(pair, cores, args.rounds, args.trials, args.project_arg)


if __name__ == "__main__":
    main()
