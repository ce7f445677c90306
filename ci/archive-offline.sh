#!/usr/bin/env bash
# The archive survives alone: load the image saved by ci/archive.sh into a Docker that no longer
# has it, and run the smoke DAG from it with no network at all (ci/docker-smoke.sh, its checks of
# the report and the verdicts included, every container started with --network none).
#
# Usage: ci/archive-offline.sh [ARCHIVE_DIR]   (default dist/archive, as ci/archive.sh writes it)
#   Removes the image's tags (artifact and parbench-artifact:<version>) first; the base image and
#   the build cache are left alone. Prints the load time and the smoke run's wall time, and writes
#   them to OFFLINE_RECORD (default dist/archive-offline.json; paper/measured/offline.json is one).
set -euo pipefail

cd "$(dirname "$0")/.."
ARCHIVE_DIR=${1:-dist/archive}
OFFLINE_RECORD=${OFFLINE_RECORD:-dist/archive-offline.json}
log() { printf 'archive-offline: %s\n' "$*"; }
fail() { log "FAILED: $*" >&2; exit 1; }

[[ -f $ARCHIVE_DIR/archive.json ]] || fail "no $ARCHIVE_DIR/archive.json: run ci/archive.sh first"
(cd "$ARCHIVE_DIR" && sha256sum -c --quiet SHA256SUMS) || fail "checksums in $ARCHIVE_DIR/SHA256SUMS do not match"
log "checksums ok"

mapfile -t fields < <(python3 - "$ARCHIVE_DIR/archive.json" <<'PY'
import json, sys
record = json.load(open(sys.argv[1]))
image = record["image"] or sys.exit("archive.json: the archive has no image (made with NO_IMAGE=1)")
print(image["tag"]); print(image["id"]); print(record["version"])
print(next(name for name in record["files"] if "-image.tar" in name))
PY
) || fail "cannot read the image from $ARCHIVE_DIR/archive.json"
tag=${fields[0]} image_id=${fields[1]} version=${fields[2]} image_file=$ARCHIVE_DIR/${fields[3]}

for name in "$tag" "parbench-artifact:$version"; do
    docker image rm -f "$name" >/dev/null 2>&1 || true
done
docker image inspect "$tag" >/dev/null 2>&1 && fail "$tag is still there after docker image rm"
log "removed $tag and parbench-artifact:$version"

case $image_file in
    *.zst) decompress=(zstd -dc) ;;
    *.gz) decompress=(gzip -dc) ;;
    *) fail "unknown compression: $image_file" ;;
esac
start=$(date +%s)
loaded_names=$("${decompress[@]}" "$image_file" | docker load | sed -n 's/^Loaded image: //p' | sort | tr '\n' ' ')
load_s=$(( $(date +%s) - start ))
log "load time: $load_s s ($loaded_names)"
expected=$(printf '%s\n' "$([[ ${tag##*/} == *:* ]] && echo "$tag" || echo "$tag:latest")" "parbench-artifact:$version" \
           | sort | tr '\n' ' ')
[[ $loaded_names == "$expected" ]] || fail "the archive loaded '$loaded_names', expected '$expected' (one image)"
loaded=$(docker image inspect --format '{{.Id}}' "$tag") || fail "docker load did not restore $tag"
[[ $loaded == "$image_id" ]] || fail "loaded $tag is $loaded, the archive recorded $image_id"
log "ok      $tag restored with the archived id ${image_id:7:12}"

interfaces=$(docker run --rm --network none "$tag" ls /sys/class/net | tr '\n' ' ')
[[ $interfaces == "lo " ]] || fail "--network none left interfaces other than lo: $interfaces"
log "ok      --network none: the containers see only lo"
# Any uid may write results/ when it is not mounted (the image carries results/README.md).
docker run --rm --network none --user 4321:4321 "$tag" sh -c 'touch /artifact/results/.written && ls /artifact/results/README.md' \
    >/dev/null || fail "uid 4321 cannot write /artifact/results in $tag"
log "ok      any uid can write the image's /artifact/results"

smoke_log=$(mktemp)
IMAGE=$tag RUN_NETWORK=none ci/docker-smoke.sh 2>&1 | tee "$smoke_log"
smoke_s=$(sed -n 's/^docker-smoke: smoke wall time: \([0-9]*\) s.*/\1/p' "$smoke_log")
rm -f "$smoke_log"

# A reviewer's plain command: `parbench run --backend free_threading` re-executes itself under the
# image's free-threaded interpreter ($PARBENCH_FREE_THREADING_PYTHON).
mkdir -p logs-docker
logs_abs=$(cd logs-docker && pwd)
plain=(parbench run --workload numerical --backend free_threading --cores 1 --preset smoke --trials 2
       --out /artifact/logs/plain-free_threading.json)
start=$(date +%s)
docker run --rm --network none --user "$(id -u):$(id -g)" -v "$logs_abs:/artifact/logs" "$tag" \
    "${plain[@]}" > logs-docker/plain-free_threading.log 2>&1 \
    || fail "docker run $tag parbench run --backend free_threading (log: logs-docker/plain-free_threading.log)"
cell_s=$(( $(date +%s) - start ))
python3 - logs-docker/plain-free_threading.json <<'PY' || fail "the plain free_threading cell's record"
import json, sys
rec = json.load(open(sys.argv[1]))
facts, interpreter = rec["backend_facts"], rec["software"]["interpreter"]
ok = (rec["status"] == "ok" and interpreter["free_threaded_build"] is True
      and facts["gil_enabled_after_trials"] is False)
print(f"archive-offline: {'ok     ' if ok else 'BAD    '} plain `parbench run --backend free_threading`: {rec['status']}, "
      f"python {interpreter['version']}, free-threaded {interpreter['free_threaded_build']}, "
      f"GIL on after the trials {facts['gil_enabled_after_trials']}")
sys.exit(0 if ok else 1)
PY

mkdir -p "$(dirname "$OFFLINE_RECORD")"
python3 - "$OFFLINE_RECORD" "$ARCHIVE_DIR/archive.json" "$load_s" "$smoke_s" "$cell_s" "${plain[*]}" <<'PY'
import json, os, platform, sys
from datetime import datetime, timezone
out, archive, load_s, smoke_s, cell_s, plain = sys.argv[1:]
record = {"archive": {k: json.load(open(archive))[k] for k in ("name", "commit")},
          "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
          "machine": {"cpus": os.cpu_count(), "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
                      "kernel": platform.release()},
          "network": "none", "plain_command": plain,
          "seconds": {"load": int(load_s), "smoke": int(smoke_s), "plain_free_threading_cell": int(cell_s)}}
open(out, "w").write(json.dumps(record, indent=2) + "\n")
PY
log "wrote $OFFLINE_RECORD"
log "passed"
