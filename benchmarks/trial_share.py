"""How much of a run's wall time its timed trials can take, from the run's records.

    python benchmarks/trial_share.py RECORDS_DIR WALL_SECONDS

Prints the trials' share of WALL_SECONDS (the run's measured wall time, as its last line printed
it) and the share's ceiling under the protocol: the trials over the trials plus what every round
must spend besides them (start-up, setup, warm-ups and the B2 comparison passes, teardown), i.e.
with the primitives, the calibration points, the analysis and the harness's bookkeeping all at zero.
"""

from __future__ import annotations

import sys
from pathlib import Path

from parbench.records import read_record
from parbench.report import _round_parts


def main(records_dir: Path, wall_s: float) -> None:
    parts = [_round_parts(r) for r in map(read_record, sorted(records_dir.glob("*/*/*/round*.json")))
             if r.status == "ok" and r.startup_seconds is not None and r.harness_seconds is not None]
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


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), float(sys.argv[2]))
