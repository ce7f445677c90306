#!/usr/bin/env bash
# Pack the artifact for a permanent archive (Zenodo, Software Heritage), so that it still runs when
# the base image and the package indexes it was built from are gone:
#   parbench-<version>-source.tar.gz     the committed tree at HEAD (git archive)
#   parbench-<version>-image.tar.zst     the image (docker save | zstd -3, or .tar.gz where zstd is missing;
#                                        zstd -10 took 4.2x as long for a file 11% smaller, on a save of two
#                                        images on the busy 2-core VM)
#   parbench-<version>-reference-records.tar.gz   the committed records (paper/reference, paper/rerun)
#   .zenodo.json, CITATION.cff, LICENSE  the deposit's metadata, as committed
#   archive.json                         what was packed: version, commit, image id, each file's
#                                        size, each step's seconds (the appendix quotes it)
#   SHA256SUMS                           checksums of all of the above (sha256sum -c SHA256SUMS)
# Name and version come from .zenodo.json, which is checked against Zenodo's required fields first.
#
# Usage: ci/archive.sh [OUT_DIR]        (default dist/archive; emptied first)
#   env IMAGE       image to save (default artifact; build it with ci/docker-build.sh)
#       NO_IMAGE=1  source and records only (no Docker needed)
#       PYTHON      interpreter with parbench importable (default .venv/bin/python)
# Only committed files are packed: uncommitted changes are left out, and the script says so.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT_DIR=${1:-dist/archive}
IMAGE=${IMAGE:-artifact}
NO_IMAGE=${NO_IMAGE:-0}
PYTHON=$(realpath "${PYTHON:-.venv/bin/python}")
RECORDS=(paper/reference paper/rerun)

log() { printf 'archive: %s\n' "$*"; }
fail() { log "$*" >&2; exit 2; }

git rev-parse --verify -q HEAD >/dev/null || fail "not a git checkout with a commit: git archive packs committed files"
mapfile -t meta < <(PYTHONPATH=src "$PYTHON" -m parbench.archive_metadata .zenodo.json version) \
    || fail "fix .zenodo.json (message above) before packing"
version=${meta[0]}
[[ -n $version ]] || fail ".zenodo.json has no 'version': it names the archive's files"
name=parbench-$version
commit=$(git rev-parse HEAD)
[[ -z $(git status --porcelain --untracked-files=no) ]] || log "uncommitted changes are not packed (HEAD is $commit)"
if [[ $NO_IMAGE != 1 ]]; then
    command -v docker >/dev/null && docker image inspect "$IMAGE" >/dev/null 2>&1 \
        || fail "image $IMAGE not found: build it with ci/docker-build.sh, or pack without it (NO_IMAGE=1)"
fi

rm -rf "$OUT_DIR"
mkdir -p "$OUT_DIR"
steps=()
timed() {  # timed NAME COMMAND...: runs it, remembers its seconds for archive.json
    local name=$1 start
    shift
    start=$(date +%s%N)
    "$@"
    steps+=("$name=$(( ($(date +%s%N) - start) / 1000000 ))")
}

log "source: git archive $commit"
timed source git archive --format=tar.gz --prefix="$name/" -o "$OUT_DIR/$name-source.tar.gz" HEAD
log "records: ${RECORDS[*]}"
timed records git archive --format=tar.gz --prefix="$name/" -o "$OUT_DIR/$name-reference-records.tar.gz" \
    HEAD -- "${RECORDS[@]}"
cp .zenodo.json CITATION.cff LICENSE "$OUT_DIR/"

image_id="" image_bytes=0 image_label=""
if [[ $NO_IMAGE != 1 ]]; then
    image_id=$(docker image inspect --format '{{.Id}}' "$IMAGE")
    image_bytes=$(docker image inspect --format '{{.Size}}' "$IMAGE")
    # The image's own label (ci/docker-build.sh: the commit it was built from), beside the source's commit.
    image_label=$(docker image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$IMAGE" \
                  | sed -n 's/^PARBENCH_IMAGE=//p')
    # Saved under both of its names, so `docker load` restores the tag the Snakefile's containerized: names.
    # Each with its tag: `docker save artifact` would save every tag of the repository (older images too).
    image_ref=$IMAGE
    [[ ${IMAGE##*/} == *:* ]] || image_ref=$IMAGE:latest
    tags=("$image_ref" "parbench-artifact:$version")
    docker image inspect "${tags[1]}" >/dev/null 2>&1 || tags=("$IMAGE")
    if command -v zstd >/dev/null; then
        image_file=$name-image.tar.zst compress=(zstd -q -T0 -3)
    else
        image_file=$name-image.tar.gz compress=(gzip -6)
    fi
    log "image: docker save ${tags[*]} | ${compress[*]} > $image_file"
    save_image() { docker save "${tags[@]}" | "${compress[@]}" > "$OUT_DIR/$image_file"; }
    timed image save_image
fi

# archive.json: what was packed, for the record and for the appendix.
step_json=$(printf '%s\n' "${steps[@]}")
(cd "$OUT_DIR" && STEPS=$step_json "$PYTHON" - "$name" "$version" "$commit" "$IMAGE" "$image_id" "$image_bytes" \
    "$image_label" <<'PY'
import json, os, sys
from pathlib import Path
name, version, commit, image, image_id, image_bytes, image_label = sys.argv[1:]
steps = dict(line.split("=", 1) for line in os.environ["STEPS"].splitlines())
files = {p.name: p.stat().st_size for p in sorted(Path(".").iterdir()) if p.is_file()}
record = {"name": name, "version": version, "commit": commit,
          "image": {"tag": image, "id": image_id, "bytes": int(image_bytes), "label": image_label} if image_id else None,
          "files": files, "total_bytes": sum(files.values()),
          "seconds": {k: round(int(ms) / 1000, 1) for k, ms in steps.items()}}
Path("archive.json").write_text(json.dumps(record, indent=2) + "\n")
PY
)
(cd "$OUT_DIR" && find . -maxdepth 1 -type f ! -name SHA256SUMS -printf '%f\n' | LC_ALL=C sort \
    | xargs sha256sum > SHA256SUMS)
log "wrote $OUT_DIR:"
(cd "$OUT_DIR" && ls -l --time-style=+ . | tail -n +2 && sha256sum -c --quiet SHA256SUMS && log "SHA256SUMS verified")
