#!/usr/bin/env bash
# Build a local Debian bookworm base image (Debian's python3 3.11.2 + venv + CA bundle) with
# debootstrap and `docker import`, for machines that cannot pull python:3.11-slim-bookworm.
#
# The host's extra CA certificates (e.g. a TLS-intercepting proxy's) are added to the image's
# trust store, and PIP_CERT / SSL_CERT_FILE / REQUESTS_CA_BUNDLE are set as image ENV, so that
# `pip install` inside `docker build` trusts the proxy without any change to the Dockerfile.
#
# Usage: ci/make-base-image.sh [--force]
#   env BASE_TAG      image name (default parbench-base:bookworm)
#       DEBIAN_MIRROR mirror for debootstrap (default: debootstrap's own default, deb.debian.org)
#       EXTRA_CA_DIR  folder of extra *.crt to trust (default /usr/local/share/ca-certificates)
#       UPGRADE       1 (default): add bookworm-updates and bookworm-security and apply their
#                     updates, as the official images do when rebuilt; 0: the release as debootstrapped
# Skips all work if BASE_TAG already exists (unless --force). Needs root and debootstrap.
set -euo pipefail

BASE_TAG=${BASE_TAG:-parbench-base:bookworm}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-}
EXTRA_CA_DIR=${EXTRA_CA_DIR:-/usr/local/share/ca-certificates}
UPGRADE=${UPGRADE:-1}
SUITE=bookworm
force=0
[[ ${1:-} == --force ]] && force=1

if [[ $force -eq 0 ]] && docker image inspect "$BASE_TAG" >/dev/null 2>&1; then
    echo "make-base-image: $BASE_TAG already exists; skipping (use --force to rebuild)"
    exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "make-base-image: must run as root (debootstrap, chroot)" >&2
    exit 2
fi
command -v debootstrap >/dev/null || { echo "make-base-image: debootstrap is not installed" >&2; exit 2; }

start=$(date +%s)
rootfs=$(mktemp -d /var/tmp/parbench-rootfs.XXXXXX)
cleanup() {
    # never leave mounts behind before removing the tree
    for m in proc sys dev/pts dev; do
        mountpoint -q "$rootfs/$m" 2>/dev/null && umount -l "$rootfs/$m" || true
    done
    rm -rf --one-file-system "$rootfs"
}
trap cleanup EXIT

echo "make-base-image: debootstrap $SUITE into $rootfs"
# shellcheck disable=SC2086  # an empty DEBIAN_MIRROR must vanish
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$SUITE" "$rootfs" $DEBIAN_MIRROR

if [[ $UPGRADE == 1 ]]; then
    mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
    security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
    printf 'deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n' \
        "$mirror" "$SUITE" "$mirror" "$SUITE" "$security" "$SUITE" > "$rootfs/etc/apt/sources.list"
    mount -t proc proc "$rootfs/proc"
    echo "make-base-image: applying $SUITE-updates and $SUITE-security"
    chroot "$rootfs" apt-get update -q
    DEBIAN_FRONTEND=noninteractive chroot "$rootfs" apt-get -y -q \
        -o Dpkg::Options::=--force-confold upgrade
    umount "$rootfs/proc"
fi

shopt -s nullglob
extra=("$EXTRA_CA_DIR"/*.crt)
if ((${#extra[@]})); then
    echo "make-base-image: adding ${#extra[@]} extra CA certificate(s) from $EXTRA_CA_DIR"
    install -m 0644 "${extra[@]}" "$rootfs/usr/local/share/ca-certificates/"
fi
chroot "$rootfs" update-ca-certificates

# Slim the tree: package lists, apt caches, docs, man pages and locales are not needed at run time.
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
       "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
       "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* "$rootfs"/tmp/* "$rootfs"/var/tmp/*
find "$rootfs"/usr/share/locale -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} +

bundle=/etc/ssl/certs/ca-certificates.crt
echo "make-base-image: importing as $BASE_TAG"
tar --numeric-owner --xattrs -C "$rootfs" -c . | docker import \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV LANG=C.UTF-8" \
    --change "ENV PIP_CERT=$bundle" \
    --change "ENV SSL_CERT_FILE=$bundle" \
    --change "ENV REQUESTS_CA_BUNDLE=$bundle" \
    --change 'CMD ["/bin/bash"]' \
    --message "debootstrap --variant=minbase $SUITE + python3 python3-venv ca-certificates (+ host CAs)" \
    - "$BASE_TAG"

docker run --rm "$BASE_TAG" python3 -c 'import sys, ssl, venv; print("python", sys.version.split()[0], "|", ssl.OPENSSL_VERSION)'
echo "make-base-image: $BASE_TAG ready; base image time: $(( $(date +%s) - start )) s"
