# Container for the parbench artifact: re-runs the benchmarks of the 2019 Ray post
# "10x Faster Parallel Python Without Python Multiprocessing" with the Snakemake pipeline.
#
#   docker build -t artifact .
#   docker run --rm --init --shm-size=3g --user "$(id -u):$(id -g)" \
#       -v "$PWD/results:/artifact/results" artifact                  # full pipeline (CMD)
#   docker run ... artifact snakemake --cores all --configfile config/smoke.yaml
#   docker run artifact snakemake --cores all      # also works: results stay in the container,
#                                                  # the run says how to copy them out
#
# Base image. The default is the official python:3.11-slim-bookworm pinned by digest. The digest
# is the one Docker Hub served for that tag on 2024-04-25 (Python 3.11.9, Debian 12.5), as shown
# by a docker-library maintainer's `docker run --pull=always python:3.11-slim-bookworm` output in
# https://github.com/docker-library/python/issues/923 . Refresh it with
#   docker buildx imagetools inspect python:3.11-slim-bookworm
# Where no registry is reachable, build a local base with ci/make-base-image.sh (debootstrap,
# Debian's python3 3.11.2) and pass --build-arg BASE_IMAGE=parbench-base:bookworm; that image also
# carries the CA bundle and PIP_CERT needed behind a TLS-intercepting proxy, so this file does not
# change. Any base works that has python3 (>= 3.11) with the venv module on PATH.
ARG BASE_IMAGE=python:3.11-slim-bookworm@sha256:6d2502238109c929569ae99355e28890c438cb11bc88ef02cd189c173b3db07c

# ---- Stage 1: a free-threaded CPython (PEP 703, --disable-gil) for the free_threading backend,
# built from Debian forky's source package python3.13 3.13.15-1 (orig tarball's sha256 pinned in
# bin/build-free-threading, as the .dsc and apt's signed Sources index list it), with a venv from
# the hashed lock requirements-ft.lock (cp313t wheels only). Only /opt/free-threading reaches the
# image; the compiler stays here. Another version where the mirror serves it, e.g.
#   --build-arg PYTHON_FT_VERSION=3.14.x --build-arg PYTHON_FT_SHA256=<its orig tarball's sha256>
FROM ${BASE_IMAGE} AS free-threading
ARG PYTHON_FT_VERSION=3.13.15
ARG PYTHON_FT_SHA256=
ARG DEBIAN_MIRROR=http://deb.debian.org/debian
# Build dependencies only (the runtime libraries are in the base already); Debian's stable release
# fixes their versions.
# hadolint ignore=DL3008
RUN apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
       gcc make libc6-dev libssl-dev zlib1g-dev libffi-dev xz-utils \
    && rm -rf /var/lib/apt/lists/*
COPY bin/build-free-threading /build/bin/build-free-threading
COPY requirements-ft.lock /build/requirements-ft.lock
# PARBENCH_SRC: the venv finds parbench in /artifact/src of the final image.
RUN PARBENCH_SRC=/artifact/src /build/bin/build-free-threading --prefix /opt/free-threading

# ---- Stage 2: the artifact.
FROM ${BASE_IMAGE}

# The runtime user's ids (any uid works at run time, see below).
ARG UID=1000
ARG GID=1000

# HOME and the caches live in /home/artifact, which is made writable for every uid at the end of
# the build, so `docker run --user "$(id -u):$(id -g)"` works for any host user (see README).
# USER/LOGNAME answer getpass.getuser() for a uid that has no /etc/passwd entry.
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:${PATH} \
    HOME=/home/artifact \
    USER=artifact \
    LOGNAME=artifact \
    XDG_CACHE_HOME=/home/artifact/.cache \
    XDG_CONFIG_HOME=/home/artifact/.config \
    KERAS_HOME=/home/artifact/.keras \
    MPLCONFIGDIR=/home/artifact/.config/matplotlib \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_DEFAULT_TIMEOUT=120 \
    RAY_AUTH_MODE=disabled \
    RAY_USAGE_STATS_ENABLED=0

# The runtime user; its HOME is created here, its permissions are opened at the end.
RUN groupadd --gid "${GID}" artifact \
    && useradd --uid "${UID}" --gid "${GID}" --home-dir /home/artifact --create-home \
       --shell /bin/bash artifact

# Dependencies first (cached until the lock changes): a venv, then the hashed lock.
# Bytecode is compiled here once, so imports stay fast although runs write none.
# [issue 22] requirements-runtime.lock is requirements.lock without the development tools (pytest,
# ruff, mypy, snakefmt, hadolint): nothing documented runs them inside the image (bin/runtime-lock).
COPY requirements-runtime.lock /tmp/requirements.lock
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --require-hashes -r /tmp/requirements.lock \
    && rm -f /tmp/requirements.lock

# The free-threaded interpreter and its venv (cached until stage 1 changes); `parbench run` with
# backend free_threading runs under it (the workflow finds it through this variable).
COPY --from=free-threading /opt/free-threading /opt/free-threading
ENV PARBENCH_FREE_THREADING_PYTHON=/opt/free-threading/venv/bin/python

# The package next (cached until pyproject.toml or src/ change), then the expensive_init model and
# data set baked in as the runtime user (no network needed at run time), the matplotlib font
# cache warmed, and HOME, /artifact and resources/ opened to any uid.
WORKDIR /artifact
COPY --chown=${UID}:${GID} pyproject.toml /artifact/
COPY --chown=${UID}:${GID} src /artifact/src
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps --no-build-isolation /artifact \
    && rm -rf /artifact/build /artifact/src/*.egg-info \
    && chown "${UID}:${GID}" /artifact

USER ${UID}:${GID}
RUN parbench prepare --resources /artifact/resources/expensive_init \
    && python -c "import matplotlib.pyplot" \
    && chmod -R a+rwX /home/artifact /artifact/resources

# The rest of the project: Snakefile, workflow/, config/, profiles/, paper/, tests/ (see
# .dockerignore). COPY keeps the files' times, so the baked resources stay newer than the code.
COPY --chown=${UID}:${GID} . /artifact
# The free-threaded interpreter reads parbench from /artifact/src: bytecode compiled once here, and
# proof that the cell runner imports there with the GIL off (pandas, Ray, TensorFlow are not installed).
# [issue 22] results/ now comes with the context (its README.md): writable for any uid, as /artifact.
RUN chmod 0777 /artifact /artifact/results \
    && /opt/free-threading/venv/bin/python -m compileall -q /artifact/src \
    && /opt/free-threading/venv/bin/python -c "import sys, parbench.cli, parbench.harness; assert not sys._is_gil_enabled()"

# Per-build metadata last, so that a new commit or label does not invalidate the cached layers above
# (a changed ARG misses the cache at every RUN after its declaration).
# IMAGE_LABEL: free-text description of this image, recorded in every result as PARBENCH_IMAGE.
# SOURCE_URL: the project's repository; ci/docker-build.sh passes the git remote when there is one.
ARG BASE_IMAGE
ARG IMAGE_LABEL=parbench-artifact:dev
ARG VERSION=0.1.0
ARG SOURCE_URL=unknown
ENV PARBENCH_IMAGE=${IMAGE_LABEL}
LABEL org.opencontainers.image.title="parbench" \
      org.opencontainers.image.description="Re-runs the benchmarks of the 2019 Ray post '10x Faster Parallel Python Without Python Multiprocessing' (Snakemake pipeline; Ray, multiprocessing, TensorFlow CPU)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"

# The entrypoint runs any command as given; for `snakemake` it also says how to get results/ out of
# the container when it is not mounted, and writes Snakemake's HTML report after the run (it needs
# .snakemake/, which stays in the container). See src/parbench/container.py.
ENTRYPOINT ["parbench-entrypoint"]
CMD ["snakemake", "--cores", "all"]
