#!/usr/bin/env bash
# A time-boxed sweep for a machine without Snakemake or TensorFlow (the 16-core machine that
# paper/device16/ was measured on): the environment, one calibration point per core count, one
# primitives round, then every (workload, backend, cores) cell, each in a fresh `parbench run`
# process, in the pipeline's record layout, so that `parbench aggregate` / `model` read it here.
#
# The primitives run right after calibration; cells run largest core count first within each round (the counts that only this machine has
# matter most), and the sweep stops starting cells at the deadline so that what it finished is
# kept and written out; a cell that fails leaves its record with the error and the sweep goes on.
#
# Usage: ci/device-sweep.sh OUT_DIR DEADLINE_S "CORES" "WORKLOADS" "BACKENDS" ROUNDS TRIALS [RUN_ARGS...]
#   e.g. ci/device-sweep.sh out 480 "16 8 4 2 1" "numerical stateful" "serial ray" 1 2
# PRESET (default paper) sizes both the cells and the primitives; PRIMITIVES_WORKLOADS (default
# WORKLOADS) names the workloads whose primitives are timed.
# Needs: python with parbench importable (PARBENCH_PYTHON, default python3).
set -uo pipefail
out=$1 deadline_s=$2 cores=$3 workloads=$4 backends=$5 rounds=$6 trials=$7
shift 7
py=${PARBENCH_PYTHON:-python3}
preset=${PRESET:-paper}
t0=$(date +%s)
left() { echo $(( deadline_s - ($(date +%s) - t0) )); }
mkdir -p "$out"
log="$out/sweep.log"
say() { echo "[$(( $(date +%s) - t0 )) s] $*" | tee -a "$log"; }

# SKIP_SETUP=1: cells only (a second sweep into the same OUT_DIR).
if [[ -z ${SKIP_SETUP:-} ]]; then
    "$py" -m parbench.cli env --out "$out/environment.json" || say "env failed"
    for n in $cores; do
        "$py" -m parbench.cli calibrate --cores "$n" --repeats 3 --out "$out/calibration/$n/point0.json" \
            >>"$log" 2>&1 || say "calibrate $n failed"
    done
    say "calibrated: $cores"

    # The primitives (the cost model's inputs) before the cells: without them no cell can be predicted.
    say "primitives"
    timeout "${PRIMITIVES_LIMIT_S:-150}" "$py" -m parbench.cli primitives --no-tensorflow --workloads ${PRIMITIVES_WORKLOADS:-$workloads} \
        --preset "$preset" --repeats 3 --out "$out/primitives.json" >>"$log" 2>&1 || say "primitives failed or stopped"
fi

# TRIALS_<workload> (e.g. TRIALS_stateful=1) overrides TRIALS for one workload.
trials_of() { local var="TRIALS_$1"; echo "${!var:-$trials}"; }

# One cell: skipped when less time is left than its own limit allows to finish.
cell() {
    local workload=$1 backend=$2 n=$3 round=$4 rest
    shift 4
    rest=$(left)
    if (( rest < 20 )); then say "skip $workload/$backend/$n/round$round (deadline)"; return; fi
    local record="$out/raw/$workload/$backend/$n/round$round.json" start
    start=$(date +%s)
    "$py" -m parbench.cli run --workload "$workload" --backend "$backend" --cores "$n" --round "$round" \
        --trials "$(trials_of "$workload")" --preset "$preset" --timeout "$(( rest - 10 ))" "$@" --out "$record" >>"$log" 2>&1
    say "cell $workload/$backend/$n/round$round exit $? in $(( $(date +%s) - start )) s"
}

for (( r = 0; r < rounds; r++ )); do
    for n in $cores; do
        for w in $workloads; do
            for b in $backends; do
                cell "$w" "$b" "$n" "$r" "$@"
            done
        done
    done
done

say "done"
