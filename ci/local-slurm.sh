#!/usr/bin/env bash
# A real one-machine SLURM cluster for tests/test_slurm_cluster.py: a private munged, slurmctld and
# one slurmd (node "localhost", partition "parbench") that advertises this machine's real CPUs and
# memory (`slurmd -C`). State, logs, sockets and the munge key live under DIR.
#
# Usage (as root; Debian's slurm-wlm and munge, see ci/install-cluster-tools.sh):
#   ci/local-slurm.sh start DIR    # returns once the node is idle
#   ci/local-slurm.sh stop DIR     # cancels every job, stops the three daemons, removes the config
#
# The configuration is written to /etc/slurm/slurm.conf, SLURM's default path: the SLURM executor's
# job step (snakemake-executor-plugin-slurm-jobstep 0.6.1) drops every SLURM_* variable except the
# job's id before it calls srun, SLURM_CONF included, so srun inside a job finds only that path. A
# slurm.conf not written by this script is never touched. On failure the last line on stderr is one
# sentence saying what did not start (the daemons' logs are in DIR); the exit status is 2 where this
# machine forbids a cluster (no root, SLURM not installed, another slurm.conf), 1 where a daemon
# failed that should have started.
set -Eeuo pipefail
trap 'echo "local-slurm: a step failed unexpectedly (line $LINENO: $BASH_COMMAND)." >&2' ERR

MARK="# written by parbench ci/local-slurm.sh"
CONF=/etc/slurm/slurm.conf
PARTITION=parbench
START_TIMEOUT_S=60

die() { echo "local-slurm: $*" >&2; exit 1; }
forbidden() { echo "local-slurm: $*" >&2; exit 2; }

free_ports() {  # two TCP ports free right now (slurmctld, slurmd)
    python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
EOF
}

stop_pidfile() {  # TERM the daemon $2 whose pid is in file $1, KILL it after 10 s
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 0
    # A pid file left behind may name a pid reused by another program: leave that one alone.
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
}

start() {
    local dir=$1
    [ "$(id -u)" -eq 0 ] || forbidden "a local SLURM cluster needs root (munged, slurmd); run as root."
    for tool in munged slurmctld slurmd sbatch sinfo; do
        command -v "$tool" >/dev/null \
            || forbidden "$tool is not installed; install Debian's slurm-wlm and munge (ci/install-cluster-tools.sh)."
    done
    if [ -e "$CONF" ] && ! grep -qxF "$MARK" "$CONF"; then
        forbidden "$CONF exists and was not written by this script (a real SLURM installation?); not touching it."
    fi
    if [ -e "$CONF" ]; then  # ours: is the cluster it describes still running (another test run)?
        local other
        other=$(sed -n 's/^SlurmctldPidFile=//p' "$CONF")
        if [ -n "$other" ] && kill -0 "$(cat "$other" 2>/dev/null || echo 0)" 2>/dev/null; then
            forbidden "another local SLURM cluster is running (state in $(dirname "$other")); stop it first."
        fi
    fi
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    # munged checks permissions: its socket's folder must be searchable by all, its key private.
    chmod 755 "$dir"
    mkdir -p -m 700 "$dir/munge"
    mkdir -p "$dir/state" "$dir/spool"
    [ -e "$dir/munge/munge.key" ] || { head -c 1024 /dev/urandom > "$dir/munge/munge.key"; chmod 400 "$dir/munge/munge.key"; }
    munged --socket="$dir/munge.socket" --key-file="$dir/munge/munge.key" \
        --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
        --seed-file="$dir/munge/munged.seed" \
        || die "munged did not start (see $dir/munge/munged.log)."

    local node ports ctld_port slurmd_port
    # This machine's real CPUs, sockets, cores, threads and memory, as slurmd itself sees them.
    node=$(slurmd -C | head -n1 | sed 's/^NodeName=[^ ]* *//')
    [[ $node == CPUs=* ]] || die "slurmd -C did not describe this machine (got: $node)."
    read -r ctld_port slurmd_port < <(free_ports)
    mkdir -p "$(dirname "$CONF")"
    cat > "$CONF" <<EOF
$MARK
# A one-machine cluster for the tests; state and logs in $dir.
ClusterName=parbench
SlurmctldHost=localhost
SlurmUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
# No cgroups needed: processes are tracked by parentage; srun binds each step to its CPUs.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# No slurmdbd here, so sacct cannot answer: finished jobs stay visible to squeue for an hour.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=3600
MpiDefault=none
NodeName=localhost NodeAddr=127.0.0.1 $node State=UNKNOWN
PartitionName=$PARTITION Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
    slurmctld || die "slurmctld did not start (see $dir/slurmctld.log)."
    slurmd -N localhost || die "slurmd did not start (see $dir/slurmd.log)."
    local state=""
    for _ in $(seq $((START_TIMEOUT_S * 2))); do
        state=$(sinfo --noheader --partition "$PARTITION" --format=%T 2>/dev/null || true)
        [ "$state" = idle ] && { echo "local-slurm: node localhost is idle ($node; partition $PARTITION, state in $dir)"; return 0; }
        sleep 0.5
    done
    die "the SLURM node did not become idle within $START_TIMEOUT_S s (state: ${state:-none}; see $dir/slurmctld.log and $dir/slurmd.log)."
}

describes() {  # does $CONF describe the cluster whose state is in DIR $1?
    [ -e "$CONF" ] && grep -qxF "$MARK" "$CONF" && grep -qxF "StateSaveLocation=$1/state" "$CONF"
}

stop() {
    local dir=$1
    [ -d "$dir" ] || return 0
    dir=$(cd "$dir" && pwd)
    if describes "$dir"; then
        # Cancel what is left so that no job step outlives the cluster, then wait for the steps.
        scancel --partition "$PARTITION" 2>/dev/null || true
        for _ in $(seq 60); do
            [ -z "$(squeue --noheader --states=RUNNING,COMPLETING,PENDING 2>/dev/null)" ] && break
            sleep 0.5
        done
    fi
    stop_pidfile "$dir/slurmd.pid" slurmd
    stop_pidfile "$dir/slurmctld.pid" slurmctld
    stop_pidfile "$dir/munge/munged.pid" munged
    if describes "$dir"; then rm -f "$CONF"; fi
}

case "${1:-}" in
    start) [ $# -eq 2 ] || die "usage: $0 start DIR"; start "$2" ;;
    stop) [ $# -eq 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
    *) die "usage: $0 start DIR | stop DIR" ;;
esac
