#!/usr/bin/env bash
# A two-host Ray cluster on one machine, for tests/test_ray_cluster.py: two network namespaces
# ("hosts") with their own addresses, joined by a bridge that lives in a third namespace (the
# "switch"); a Ray head in the first, a Ray worker in the second. Nothing is added to the
# machine's own network: no address, route or firewall rule (a bridge in the root namespace would
# pass through its iptables FORWARD chain, which Docker sets to DROP). Only these namespaces and
# their loopbacks take part.
#
# Usage (as root; needs iproute2 and `ray` on PATH, e.g. PATH=.venv/bin:$PATH):
#   ci/ray-two-hosts.sh start DIR   # prints the head's address (HOST:PORT) on the last line
#   ci/ray-two-hosts.sh exec DIR COMMAND...   # runs COMMAND on the head host, e.g. the driver:
#       ci/ray-two-hosts.sh exec DIR parbench run --workload numerical --backend ray --cores 2 \
#           --preset smoke --ray-address "$(cat DIR/address)" --out cell.json
#   ci/ray-two-hosts.sh stop DIR    # kills every process in the namespaces, removes them
#
# Each node has 1 CPU and a 200 MiB object store; RAY_AUTH_MODE=disabled on both and on the
# driver. DIR holds the names, the two addresses (address: the head's HOST:PORT, hosts: both IPs),
# Ray's temp dir and the nodes' output. On failure the last line on stderr is one sentence saying
# what did not start; the exit status is 2 where this machine forbids it (no root, no network
# namespaces, bridges or veth pairs), 1 where something failed that should have worked.
set -Eeuo pipefail
trap 'echo "ray-two-hosts: a step failed unexpectedly (line $LINENO: $BASH_COMMAND)." >&2' ERR

SUBNET=10.231.7   # private; exists only inside the namespaces
HEAD_IP=$SUBNET.1
WORKER_IP=$SUBNET.2
GCS_PORT=6379     # the namespaces have ports of their own: no clash with any other Ray
OBJECT_STORE_BYTES=$((200 * 1024 * 1024))
START_TIMEOUT_S=120

die() { echo "ray-two-hosts: $*" >&2; exit 1; }
forbidden() { echo "ray-two-hosts: $*" >&2; exit 2; }

names() {  # the namespace and interface names of the cluster in DIR (kernel limit: 15 characters)
    local tag
    tag=$(cat "$1/tag")
    HEAD_NS=pb$tag-head; WORKER_NS=pb$tag-wrk; SWITCH_NS=pb$tag-sw; BRIDGE=br0
}

reachable() {  # from namespace $1, does $2 answer? (a refused TCP connection is an answer)
    ip netns exec "$1" python3 -c '
import socket, sys
try:
    socket.create_connection((sys.argv[1], 9), timeout=5).close()
except ConnectionRefusedError:
    pass  # the host answered with a reset: it is reachable
except OSError:
    sys.exit(1)
' "$2"
}

ray_env() {
    export RAY_AUTH_MODE=disabled RAY_USAGE_STATS_ENABLED=0
    unset RAY_ADDRESS
}

start() {
    local dir=$1
    [ "$(id -u)" -eq 0 ] || forbidden "network namespaces need root; run as root."
    command -v ip >/dev/null || forbidden "ip (iproute2) is not installed."
    command -v ray >/dev/null || die "ray is not on PATH (PATH=.venv/bin:\$PATH)."
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ -e "$dir/tag" ] && die "$dir already holds a cluster; stop it first."
    head -c 3 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/tag"
    names "$dir"

    ip netns add "$SWITCH_NS" 2>"$dir/netns.err" \
        || forbidden "cannot create a network namespace on this machine ($(tr '\n' ' ' < "$dir/netns.err"))."
    ip netns add "$HEAD_NS"
    ip netns add "$WORKER_NS"
    ip -n "$SWITCH_NS" link add "$BRIDGE" type bridge \
        || forbidden "cannot create a bridge in a network namespace on this machine."
    ip -n "$SWITCH_NS" link set "$BRIDGE" up
    local ns ip port
    for ns in "$HEAD_NS:$HEAD_IP:p1" "$WORKER_NS:$WORKER_IP:p2"; do
        IFS=: read -r ns ip port <<< "$ns"
        # One veth pair per host: eth0 in the host's namespace, its peer a port of the bridge.
        ip -n "$SWITCH_NS" link add "$port" type veth peer name eth0 netns "$ns" \
            || forbidden "cannot create a veth pair between network namespaces on this machine."
        ip -n "$SWITCH_NS" link set "$port" master "$BRIDGE" up
        ip -n "$ns" addr add "$ip/24" dev eth0
        ip -n "$ns" link set eth0 up
        ip -n "$ns" link set lo up
    done
    reachable "$HEAD_NS" "$WORKER_IP" \
        || die "the two namespaces cannot reach each other over the bridge ($HEAD_IP -> $WORKER_IP)."

    ray_env
    # Short: Ray's unix socket paths below it must stay under 108 bytes.
    local temp_dir=/tmp/rh$(cat "$dir/tag")
    echo "$temp_dir" > "$dir/temp_dir"
    local common=(--num-cpus=1 "--object-store-memory=$OBJECT_STORE_BYTES" --disable-usage-stats
                  "--temp-dir=$temp_dir")
    timeout "$START_TIMEOUT_S" ip netns exec "$HEAD_NS" ray start --head --node-ip-address="$HEAD_IP" \
        --port="$GCS_PORT" --include-dashboard=false "${common[@]}" > "$dir/head.log" 2>&1 \
        || die "the Ray head did not start in namespace $HEAD_NS (see $dir/head.log)."
    timeout "$START_TIMEOUT_S" ip netns exec "$WORKER_NS" ray start --node-ip-address="$WORKER_IP" \
        --address="$HEAD_IP:$GCS_PORT" "${common[@]}" > "$dir/worker.log" 2>&1 \
        || die "the Ray worker did not start in namespace $WORKER_NS (see $dir/worker.log)."
    echo "$HEAD_IP:$GCS_PORT" > "$dir/address"
    echo "$HEAD_IP $WORKER_IP" > "$dir/hosts"
    echo "ray-two-hosts: head $HEAD_IP (namespace $HEAD_NS), worker $WORKER_IP (namespace $WORKER_NS)"
    cat "$dir/address"
}

run_on_head() {
    local dir=$1
    shift
    names "$dir"
    ray_env
    exec ip netns exec "$HEAD_NS" "$@"
}

stop() {
    local dir=$1
    [ -e "$dir/tag" ] || return 0
    names "$dir"
    local ns pids
    # Every process in the two hosts' namespaces is this cluster's (raylets, GCS, workers, a
    # driver left over); TERM them, then KILL what is left after 10 s.
    for signal in TERM KILL; do
        pids=$(for ns in "$HEAD_NS" "$WORKER_NS"; do ip netns pids "$ns" 2>/dev/null || true; done)
        [ -z "$pids" ] && break
        # shellcheck disable=SC2086
        kill -s "$signal" $pids 2>/dev/null || true
        for _ in $(seq 20); do
            pids=$(for ns in "$HEAD_NS" "$WORKER_NS"; do ip netns pids "$ns" 2>/dev/null || true; done)
            [ -z "$pids" ] && break
            sleep 0.5
        done
    done
    [ -n "$pids" ] && echo "ray-two-hosts: processes $pids outlived SIGKILL" >&2
    for ns in "$HEAD_NS" "$WORKER_NS" "$SWITCH_NS"; do
        ip netns del "$ns" 2>/dev/null || true  # its interfaces go with it
    done
    rm -rf "$(cat "$dir/temp_dir" 2>/dev/null || echo /nonexistent)"
    rm -f "$dir/tag"
}

case "${1:-}" in
    start) [ $# -eq 2 ] || die "usage: $0 start DIR"; start "$2" ;;
    exec) [ $# -ge 3 ] || die "usage: $0 exec DIR COMMAND..."; run_on_head "${@:2}" ;;
    stop) [ $# -eq 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
    *) die "usage: $0 start DIR | exec DIR COMMAND... | stop DIR" ;;
esac
