#!/usr/bin/env bash
# Run the smoke pipeline inside the artifact image, with the results written to the host, and check
# that the expected outputs exist. Prints the smoke run's wall time. Runs with Docker's defaults
# (64 MB /dev/shm, no --init), as a reviewer who types the command literally would: first the
# paper-size B1 cell of multiprocessing_tuned (its 72 MB image must not need /dev/shm), then the
# smoke DAG, whose report must name the cells that /dev/shm was too small for.
#
# Usage: ci/docker-smoke.sh [extra snakemake arguments...]
#   env IMAGE     image to run (default artifact; build it with ci/docker-build.sh)
#       OUT_DIR   host folder mounted at /artifact/results (default results-docker)
#       LOG_DIR   host folder mounted at /artifact/logs, the per-job logs (default logs-docker)
#       CONFIG    config file inside the image (default config/smoke.yaml)
#       KEEP=1    keep OUT_DIR's old contents (default: start from an empty folder, since the
#                 container's .snakemake metadata does not survive between runs)
#       SHM_SIZE  /dev/shm size, e.g. 3g (default: Docker's own, 64 MB; then the report must flag it)
#       ROUNDS    rounds per cell (default 1)
#       BACKENDS  the backends to run (default: the original three, multiprocessing_tuned and
#                 free_threading, whose records must show the GIL off, B3 not applicable)
#       RUN_NETWORK  docker run --network for every container (e.g. none: ci/archive-offline.sh)
set -euo pipefail

# Files the smoke pipeline must produce, relative to OUT_DIR. Edit as the pipeline grows.
EXPECTED_OUTPUTS=(
    report.md
    report.html
    all_cells_ok.txt
    summary.csv
    figures/numerical.png
    figures/stateful.png
    figures/expensive_init.png
    figures/panel.png
    figures/speedup.png
    primitives.json
    model_check.csv
    projections.csv
    verdicts.csv
    compare.md
)

cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-artifact}
OUT_DIR=${OUT_DIR:-results-docker}
LOG_DIR=${LOG_DIR:-logs-docker}
CONFIG=${CONFIG:-config/smoke.yaml}
SHM_SIZE=${SHM_SIZE:-}
ROUNDS=${ROUNDS:-1}
BACKENDS=${BACKENDS:-[serial,multiprocessing,ray,multiprocessing_tuned,free_threading]}

log() { printf 'docker-smoke: %s\n' "$*"; }

docker image inspect "$IMAGE" >/dev/null 2>&1 || { log "image $IMAGE not found; run ci/docker-build.sh first"; exit 2; }

if [[ ${KEEP:-0} != 1 ]]; then rm -rf "$OUT_DIR" "$LOG_DIR"; fi
mkdir -p "$OUT_DIR" "$LOG_DIR"
out_abs=$(cd "$OUT_DIR" && pwd)
log_abs=$(cd "$LOG_DIR" && pwd)

# Runs as the calling user's uid:gid so the results on the host belong to that user; the image
# works for any uid (HOME, caches, /artifact and resources/ are writable for all). No --init: the
# image's entrypoint reaps the processes that Ray and multiprocessing leave to PID 1.
run=(docker run --rm --user "$(id -u):$(id -g)" ${SHM_SIZE:+--shm-size="$SHM_SIZE"} ${RUN_NETWORK:+--network="$RUN_NETWORK"}
     -v "$out_abs:/artifact/results" -v "$log_abs:/artifact/logs" "$IMAGE")

log "pre-flight: imports in $IMAGE"
"${run[@]}" python -c 'import ray, tensorflow, snakemake, parbench' 2>/dev/null \
    || { log "pre-flight failed: cannot import ray, tensorflow, snakemake, parbench in $IMAGE"; exit 1; }
"${run[@]}" sh -c '"$PARBENCH_FREE_THREADING_PYTHON" -c "import sys, parbench.harness; assert not sys._is_gil_enabled()"' \
    || { log "pre-flight failed: no free-threaded interpreter with the GIL off in $IMAGE"; exit 1; }

# The cell that Docker's 64 MB /dev/shm used to fail: B1's 72 MB image in multiprocessing_tuned.
cores=$("${run[@]}" python -c 'from parbench.machine import read_topology; print(min(2, read_topology().physical_cores))')
cell=(parbench run --workload numerical --backend multiprocessing_tuned --cores "$cores" --preset paper
      --out /artifact/logs/b1-multiprocessing_tuned-paper.json)
log "${run[*]} ${cell[*]}"
start=$(date +%s)
"${run[@]}" "${cell[@]}" > "$LOG_DIR/b1-multiprocessing_tuned-paper.log" 2>&1 \
    || { log "FAILED: the paper-size B1 multiprocessing_tuned cell (log: $LOG_DIR/b1-multiprocessing_tuned-paper.log)"; exit 1; }
log "ok      paper-size B1 multiprocessing_tuned at $cores cores, shm ${SHM_SIZE:-Docker default}: $(( $(date +%s) - start )) s"

log "${run[*]} snakemake --cores all --configfile $CONFIG --config backends=$BACKENDS rounds=$ROUNDS $*"
start=$(date +%s)
rc=0
"${run[@]}" snakemake --cores all --configfile "$CONFIG" --config "backends=$BACKENDS" "rounds=$ROUNDS" "$@" || rc=$?
wall=$(( $(date +%s) - start ))
log "smoke wall time: ${wall} s (exit status $rc)"
[[ $rc -eq 0 ]] || { log "FAILED: snakemake exited with $rc (job logs in $LOG_DIR)"; exit "$rc"; }

missing=0
for f in "${EXPECTED_OUTPUTS[@]}"; do
    if [[ -s "$OUT_DIR/$f" ]]; then
        log "ok      $OUT_DIR/$f"
    else
        log "MISSING $OUT_DIR/$f"
        missing=$((missing + 1))
    fi
done
if ((missing)); then log "FAILED: $missing expected output(s) missing"; exit 1; fi

# Every claim of paper/claims.yaml must appear in the report's table with one of the verdicts.
claims=$(grep -cE '^  - id: ' paper/claims.yaml)
verdicts=$(grep -cE '^\| C[0-9]+[a-z]? \|.*\*\*(reproduced|not reproduced|not testable here|inconclusive: the machine was busy)\*\* \|' "$OUT_DIR/report.md" || true)
if [[ $verdicts -ne $claims ]]; then
    log "FAILED: the report has a verdict for $verdicts of the $claims claims in paper/claims.yaml"
    exit 1
fi
log "ok      a verdict for each of the $claims claims"
for f in verdicts.csv verdicts.json compare.md; do
    [[ -s "$OUT_DIR/$f" ]] || { log "FAILED: $OUT_DIR/$f missing"; exit 1; }
done
log "ok      verdicts.csv, verdicts.json and compare.md"

# With Docker's 64 MB /dev/shm Ray's object store is on disk: the report's header must say which
# cells that touched and name the flag that avoids it. (Judged by the /dev/shm the run saw, in case
# the daemon's default-shm-size is larger.)
shm_mib=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["machine"]["dev_shm"]["total_bytes"] // 2**20)' \
          "$OUT_DIR/environment.json")
if (( shm_mib < 2048 )); then
    if grep -q '^> \*\*/dev/shm was too small for ' "$OUT_DIR/report.md" \
        && grep -q '^> (/dev/shm: .*/ray/' "$OUT_DIR/report.md" \
        && grep -q -- '--shm-size=3g' "$OUT_DIR/report.md"; then
        log "ok      the report flags the small /dev/shm ($shm_mib MiB) and names --shm-size"
    else
        log "FAILED: with a $shm_mib MiB /dev/shm the report does not flag the affected cells"
        exit 1
    fi
fi

# free_threading: serial's digests with the GIL off after the trials on B1 and B2, B3 not applicable.
if [[ $BACKENDS == *free_threading* ]]; then
    python3 - "$OUT_DIR/summary.csv" <<'EOF' || { log "FAILED: the free_threading cells"; exit 1; }
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["backend"] == "free_threading"]
problems = []
for r in rows:
    cell = f"{r['workload']}/free_threading/{r['cores']}"
    if r["workload"] == "expensive_init":
        ok = r["status"] == "not_applicable"
    else:
        ok = (r["status"] == "ok" and r["digest_agrees"] == "True" and r["gil_off"] == "True"
              and "free-threaded" in r["python"])
    print(f"docker-smoke: {'ok     ' if ok else 'BAD    '} {cell}: {r['status']}, python {r['python']}, "
          f"GIL off {r['gil_off'] or '-'}, digest agrees {r['digest_agrees'] or '-'}, median {r['median_s'] or '-'} s")
    if not ok:
        problems.append(cell)
sys.exit(1 if problems or not rows else 0)
EOF
fi
log "passed"
