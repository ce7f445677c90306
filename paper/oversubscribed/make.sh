#!/usr/bin/env bash
# How paper/oversubscribed/ was made: the cost model's out-of-sample check (issue 20).
# N = 4, 8, 16 workers on this machine's CPUs (`parbench run --oversubscribe`), B1 and B2, the
# original three backends and multiprocessing_tuned; one round of 2 trials per cell; the primitives
# and the calibration measured in the same session, before the cells (and the calibration after).
# Run from the repository root: paper/oversubscribed/make.sh [OUT]
set -euo pipefail
out=${1:-paper/oversubscribed}
pb=${PARBENCH:-.venv/bin/parbench}
for c in 1 2; do "$pb" calibrate --cores "$c" --point 0 --out "$out/calibration/$c/point0.json"; done
"$pb" primitives --preset paper --workloads numerical stateful --no-tensorflow --out "$out/primitives.json"
for n in 4 8 16; do
  for w in numerical stateful; do
    for b in serial multiprocessing ray multiprocessing_tuned; do
      "$pb" run --workload "$w" --backend "$b" --cores "$n" --preset paper --trials 2 --oversubscribe \
        --timeout 900 --out "$out/raw/$w/$b/$n/round0.json"
    done
  done
done
for c in 1 2; do "$pb" calibrate --cores "$c" --point 1 --out "$out/calibration/$c/point1.json"; done
"$pb" env --out "$out/environment.json"
