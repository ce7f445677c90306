#!/usr/bin/env bash
# Installs what the cluster tests start (tests/test_slurm_cluster.py, tests/test_ray_cluster.py):
# Debian's slurm-wlm and munge (a one-machine SLURM cluster) and iproute2 (network namespaces for
# the two-host Ray cluster). Root only; Debian or Ubuntu. Nothing is started, enabled or configured
# here: the packages' own services stay off (ci/local-slurm.sh runs private daemons). Where it
# cannot install, it says so in one line and exits 0: the tests then skip with the reason.
set -euo pipefail

missing=()
command -v slurmctld >/dev/null || missing+=(slurm-wlm)
command -v munged >/dev/null || missing+=(munge)
command -v ip >/dev/null || missing+=(iproute2)
[ ${#missing[@]} -eq 0 ] && { echo "install-cluster-tools: slurm-wlm, munge and iproute2 are installed"; exit 0; }
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "install-cluster-tools: cannot install ${missing[*]} (needs root and apt-get); the cluster tests will be skipped"
    exit 0
fi
# policy-rc.d: keep Debian's maintainer scripts from starting munge and slurm services at install.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; own_policy=1; fi
trap '[ "$own_policy" -eq 0 ] || rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" > /tmp/install-cluster-tools.log 2>&1 \
    || { tail -n 20 /tmp/install-cluster-tools.log; echo "install-cluster-tools: apt-get could not install ${missing[*]}; the cluster tests will be skipped"; exit 0; }
echo "install-cluster-tools: installed ${missing[*]}"
