#!/usr/bin/env bash
# What measuring CPU and memory per component costs the supervisor: with N
# `process` components (`sleep 1000` under a shell that waits for it, two
# processes each), the supervisor's own CPU time (utime + stime of its
# process, all threads, from /proc/PID/stat) over D seconds,
#   idle:    nobody asks;
#   clients: a `top`-like client GETs /status once a second (every answer
#            measures every component) and Prometheus scrapes /metrics every
#            15 s (which measures them too);
#   sim:     the same clients, N in-process `sim` components (nothing to
#            measure: what answering costs without the measuring).
# Each way descendants can be tracked: cgroup (when this machine lets
# sundown make cgroups) and scan (/proc).
#
#   benches/usage.sh [N] [D]     (default 200 components, 30 s; needs curl;
#                                 build first: cargo build --release)
#
# The issue's budget: 1 % of a core at N = 200, i.e. (clients - idle) below
# 0.01 s of CPU per second.
set -euo pipefail
n=${1:-200}
secs=${2:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SUNDOWN_BIN:-$root/target/release/sundown}
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
command -v curl >/dev/null || { echo "needs curl" >&2; exit 1; }
work=$(mktemp -d /tmp/sundown-usagebench.XXXXXX)
pid=
client=
cleanup() {
    [ -n "$client" ] && kill "$client" 2>/dev/null || true
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
port=$(( 20000 + RANDOM % 20000 ))
hz=$(getconf CLK_TCK)

config() { # kind
    {
        echo '[supervisor]'
        echo 'shutdown_timeout = "60s"'
        echo '[supervisor.metrics]'
        echo "listen = \"127.0.0.1:$port\""
        for i in $(seq 1 "$n"); do
            echo "[components.c$i]"
            if [ "$1" = process ]; then
                echo 'command = ["/bin/sh", "-c", "sleep 1000 & wait"]'
                echo 'ready_after = "0s"'
            else
                echo 'kind = "sim"'
            fi
        done
    } > "$work/supervisor.toml"
}

start() { # SUNDOWN_DESCENDANTS value
    env -u XDG_RUNTIME_DIR SUNDOWN_DESCENDANTS="$1" RUST_LOG=info \
        "$bin" run --config "$work/supervisor.toml" 2>"$work/log" &
    pid=$!
    until grep -q "component(s) ready" "$work/log"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" || true
            pid=
            return 1
        fi
        sleep 0.05
    done
    # Let the start settle (its tasks, the first reaps).
    sleep 2
}

stop() {
    kill -TERM "$pid"
    wait "$pid" || true
    pid=
}

# utime + stime of the supervisor, in ticks (fields 14 and 15; the command
# in field 2 has no spaces here).
ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }

clients() {
    (
        i=0
        while :; do
            curl -s --unix-socket "$work/.sundown.supervisor.sock" http://x/status >/dev/null || true
            if [ $((i % 15)) -eq 0 ]; then
                curl -s "http://127.0.0.1:$port/metrics" >/dev/null || true
            fi
            i=$((i + 1))
            sleep 1
        done
    ) &
    client=$!
}

# Prints the supervisor's CPU over $secs as a share of one core.
measure() { # label
    local t0 t1
    t0=$(ticks)
    sleep "$secs"
    t1=$(ticks)
    awk -v l="$1" -v d=$((t1 - t0)) -v hz="$hz" -v s="$secs" \
        'BEGIN { printf "  %-8s %6.3f s of CPU in %d s = %.3f %% of a core\n", l, d / hz, s, 100 * d / hz / s }'
}

echo "== $n components, ${secs} s each; load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
for mode in cgroup scan; do
    config process
    if ! start "$mode"; then
        echo "-- $mode: not available here: $(grep -m1 -o 'SUNDOWN_DESCENDANTS=.*' "$work/log" || tail -1 "$work/log")"
        continue
    fi
    scope=$(curl -s --unix-socket "$work/.sundown.supervisor.sock" http://x/status | grep -o '"scope":"[a-z]*"' | sort | uniq -c | tr -s ' ')
    echo "-- process components tracked by $mode (usage:$scope)"
    measure idle
    clients
    measure clients
    kill "$client"; wait "$client" 2>/dev/null || true; client=
    stop
done
config sim
start auto || { cat "$work/log" >&2; exit 1; }
echo "-- sim components (nothing to measure)"
measure idle
clients
measure clients
kill "$client"; wait "$client" 2>/dev/null || true; client=
stop
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
