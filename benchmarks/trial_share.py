"""How much of a run's wall time its timed trials can take, from the run's records.

    python benchmarks/trial_share.py RECORDS_DIR WALL_SECONDS [PRIMITIVES_JSON]

Prints the trials' share of WALL_SECONDS (the run's measured wall time, as its last line printed
it) and the share's ceiling under the protocol: the trials over the trials plus what every round
must spend besides them (start-up, setup, warm-ups and the B2 comparison passes, teardown), i.e.
with the primitives, the calibration points, the analysis and the harness's bookkeeping all at zero.

With PRIMITIVES_JSON (a run's merged results/primitives.json, or paper/reference/primitives.json)
it also projects the share for other run shapes (rounds x trials per round, primitives rounds):
every cell round costs what this run's rounds cost besides their trials, every trial what this
run's trials of that cell took on average, every primitives round this run's mean, and the rest of
the wall time (calibration, analysis, Snakemake) stays as it was. A projection, not a measurement.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from parbench.records import read_record
from parbench.report import _round_parts

# (rounds, trials per round, primitives rounds): the default, the default with the original's trial
# count, the original's shape (one process of 5 trials) and two in between.
SHAPES = ((3, 2, 3), (3, 2, 1), (2, 3, 2), (3, 5, 3), (1, 5, 1))


@dataclass(frozen=True)
class RunCosts:
    """A run's costs as the projection uses them (seconds)."""

    round_overhead: float  # one round of every cell, everything but the trials, summed over cells
    trial: float  # one trial of every cell, summed over cells
    primitives_round: float
    rest: float  # the wall time not in the cells' processes nor in the primitives rounds


def run_costs(parts_by_cell: dict, primitives_seconds: list[float], wall_s: float) -> RunCosts:
    overhead = trial = cells_wall = 0.0
    for parts in parts_by_cell.values():
        rounds = len(parts)
        trials = sum(p["trials"] for p in parts)
        overhead += sum(p["wall"] - p["trials"] for p in parts) / rounds
        trial += trials / (rounds * parts[0]["n_trials"])
        cells_wall += sum(p["wall"] for p in parts)
    primitives_round = sum(primitives_seconds) / len(primitives_seconds) if primitives_seconds else 0.0
    return RunCosts(overhead, trial, primitives_round, wall_s - cells_wall - sum(primitives_seconds))


def projected_share(costs: RunCosts, rounds: int, trials: int, primitives_rounds: int) -> tuple[float, float]:
    """(the trials' projected share of the run, the run's projected wall seconds)."""
    timed = rounds * trials * costs.trial
    wall = rounds * costs.round_overhead + timed + primitives_rounds * costs.primitives_round + costs.rest
    return timed / wall, wall


def main(records_dir: Path, wall_s: float, primitives_json: Path | None) -> None:
    records = [r for r in map(read_record, sorted(records_dir.glob("*/*/*/round*.json")))
               if r.status == "ok" and r.startup_seconds is not None and r.harness_seconds is not None]
    parts = [_round_parts(r) for r in records]
    total = {k: sum(p[k] for p in parts) for k in parts[0]}
    protocol = total["startup"] + total["setup"] + total["warmups"] + total["teardown"]
    print(f"{len(parts)} cell rounds: trials {total['trials']:.0f} s, start-up {total['startup']:.0f} s, "
          f"setup {total['setup']:.0f} s, warm-ups and comparison passes {total['warmups']:.0f} s, "
          f"teardown {total['teardown']:.0f} s, the harness's rest {total['other']:.0f} s; "
          f"the cells' processes {total['wall']:.0f} s")
    print(f"share of the run's {wall_s:.0f} s in trials: {total['trials'] / wall_s:.1%}")
    print(f"share inside the cells' processes: {total['trials'] / total['wall']:.1%}")
    print(f"ceiling with everything but the rounds' own steps at zero: "
          f"{total['trials'] / (total['trials'] + protocol):.1%}")
    if primitives_json is None:
        return
    by_cell: dict[tuple, list[dict]] = defaultdict(list)
    for record, part in zip(records, parts, strict=True):
        by_cell[(record.workload, record.backend, record.cores)].append(part | {"n_trials": len(record.trials)})
    merged = json.loads(primitives_json.read_text())
    costs = run_costs(by_cell, [r["seconds"] for r in merged.get("rounds", [merged])], wall_s)
    print(f"\nprojection from these records ({len(by_cell)} cells): one round of every cell costs "
          f"{costs.round_overhead:.0f} s besides its trials, one trial of every cell {costs.trial:.0f} s, "
          f"a primitives round {costs.primitives_round:.0f} s, the rest {costs.rest:.0f} s")
    print("| rounds x trials | primitives rounds | projected wall (s) | projected share in trials |")
    print("|---|---|---|---|")
    for rounds, trials, primitives_rounds in SHAPES:
        share, wall = projected_share(costs, rounds, trials, primitives_rounds)
        print(f"| {rounds} x {trials} | {primitives_rounds} | {wall:.0f} | {share:.1%} |")


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    main(Path(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3]) if len(sys.argv) == 4 else None)
