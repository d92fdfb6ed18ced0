#!/usr/bin/env bash
# How fast `sundown status` answers with N `sim` components running, and
# whether clients polling the control socket slow a shutdown down.
#
#   benches/status.sh [N]        (default 1000; needs hyperfine; build first:
#                                 cargo build --release)
#
# Prints hyperfine's statistics for `sundown status --json` (the whole
# client: process start, connect, request, JSON out), then the SIGTERM-to-exit
# time of the same graph alone and with a client polling status in a loop.
set -euo pipefail
n=${1:-1000}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SUNDOWN_BIN:-$root/target/release/sundown}
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "needs hyperfine" >&2; exit 1; }
work=$(mktemp -d /tmp/sundown-statusbench.XXXXXX)
trap 'pkill -f "$work" 2>/dev/null || true; rm -rf "$work"' EXIT
{
    echo '[supervisor]'
    echo 'shutdown_timeout = "60s"'
    for i in $(seq 1 "$n"); do
        echo "[components.c$i]"
        echo 'kind = "sim"'
        echo 'stop_delay = "20ms"'
        # A chain of ten levels, so the shutdown has phases to wait through.
        [ "$i" -gt 100 ] && echo "depends_on = [\"c$((i - 100))\"]"
    done
} > "$work/supervisor.toml"
sock="$work/.sundown.supervisor.sock"

start() {
    env -u XDG_RUNTIME_DIR "$bin" run --config "$work/supervisor.toml" 2>"$work/log" &
    pid=$!
    until grep -q "component(s) ready" "$work/log"; do sleep 0.01; done
}
# Not in $(...): a subshell cannot wait for the supervisor.
stop() {
    local t0 t1
    t0=$(date +%s%N)
    kill -TERM "$pid"
    wait "$pid" || true
    t1=$(date +%s%N)
    took=$(( (t1 - t0) / 1000000 ))
}

start
echo "== sundown status --json, $n components running"
hyperfine -N --warmup 20 --runs 200 --export-json "$work/h.json" \
    "$bin status --json --socket $sock" 2>&1 | grep -E "Time|Range"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("  median: %.2f ms" % (r["median"]*1000))' "$work/h.json"
echo "== changes to the running graph of $n components"
# restart c901 (the top of one chain: nothing depends on it), then of c1
# (the bottom of that chain: c101, …, c901 go down level by level, 20 ms
# each, and come back), then a reload that adds one component.
ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); }
echo "restart c$((n - 99)) (alone): $(ms "$bin" restart "c$((n - 99))" --socket "$sock") ms"
echo "restart c1 (with its chain of dependents): $(ms "$bin" restart c1 --socket "$sock") ms"
printf '[components.extra]\nkind = "sim"\n' >> "$work/supervisor.toml"
echo "reload adding one component (diff and renumber $n): $(ms "$bin" reload --socket "$sock") ms"
grep -q "reload: added: extra" "$work/log" || { echo "the reload did not happen" >&2; exit 1; }
echo "== SIGTERM to exit, $n components in 10 phases of 20 ms"
stop
echo "alone: $took ms"
start
( while :; do "$bin" status --json --socket "$sock" >/dev/null 2>&1 || true; done ) &
poller=$!
sleep 0.5
stop
echo "with a client polling status non-stop: $took ms"
kill "$poller" 2>/dev/null || true
