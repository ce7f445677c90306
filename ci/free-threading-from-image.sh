#!/usr/bin/env bash
# Gives the host the free-threaded CPython that the artifact image's stage built, so that CI compiles
# it once per run instead of twice (.ci/run: the image first, then this, then the tests). Copies the
# image's /opt/free-threading/python into .cache/free-threading/python; bin/build-free-threading,
# run afterwards, keeps it when its build stamp matches and it runs on this host (ssl, zlib, ctypes
# load), builds the host's own venv beside it (parbench's src/ of this checkout on its path), and
# compiles the interpreter from source as before when the copy is not usable here.
#
# Usage: ci/free-threading-from-image.sh     env IMAGE (default artifact, as ci/docker-build.sh tags it)
# Exits 0 without copying, saying why, when there is no docker or no such image.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-artifact}
target=.cache/free-threading/python

log() { printf 'free-threading-from-image: %s\n' "$*" >&2; }

if ! command -v docker >/dev/null || ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
    log "no image $IMAGE here; bin/build-free-threading will compile the interpreter"
    exit 0
fi
container=$(docker create "$IMAGE")
trap 'docker rm "$container" >/dev/null' EXIT
mkdir -p "$(dirname "$target")"
rm -rf "$target.new"
docker cp -q "$container:/opt/free-threading/python" "$target.new" \
    || { log "$IMAGE has no /opt/free-threading/python; bin/build-free-threading will compile it"; exit 0; }
rm -rf "$target"
mv "$target.new" "$target"
log "copied $IMAGE:/opt/free-threading/python to $target ($(du -sh "$target" | cut -f1))"
