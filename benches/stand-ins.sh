#!/usr/bin/env bash
# Measures the built-in stand-ins on this machine, in one run:
#   1. redis-benchmark against the Redis stand-in (no AOF, AOF everysec,
#      AOF always) and against a real redis-server, same flags;
#   2. wrk against POST /jobs of the whole pipeline (sundown pinned to 2
#      cores, wrk on others): accepted jobs per second, end to end;
#   3. SIGTERM -> exit of the pipeline while wrk is still posting.
# Needs: redis-server, redis-benchmark, wrk, taskset. Usage: benches/stand-ins.sh [seconds]
# (On a machine with fewer than 4 cores wrk shares the cores with sundown.)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
cargo build --release -q
bin=$PWD/target/release/sundown
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; return 1; }
bench() { redis-benchmark -p "$1" -t set,get,lpush,rpop -P 16 -q -n 400000 2>/dev/null | tr '\r' '\n' | grep -E 'requests per second' ; }

echo "== redis-benchmark -t set,get,lpush,rpop -P 16 -n 400000 (requests/s)"
p=$(port)
redis-server --port "$p" --save '' --appendonly no --daemonize no >/dev/null &
rs=$!
wait_port "$p"
echo "-- real redis-server $(redis-server --version | grep -o 'v=[0-9.]*')"
bench "$p" | tee "$tmp/real.txt"
kill "$rs"; wait "$rs" 2>/dev/null || true

for mode in none everysec always; do
    p=$(port)
    aof=""
    [ "$mode" != none ] && aof="aof = \"$tmp/r-$mode.aof\"
appendfsync = \"$mode\""
    cat > "$tmp/redis.toml" <<TOML
[components.redis]
kind = "redis"
listen = "127.0.0.1:$p"
$aof
TOML
    RUST_LOG=warn "$bin" run --config "$tmp/redis.toml" 2>"$tmp/redis-$mode.log" &
    sd=$!
    wait_port "$p"
    echo "-- stand-in, AOF: $mode"
    bench "$p" | tee "$tmp/standin-$mode.txt"
    kill -TERM "$sd"; wait "$sd" || true
done
echo "-- stand-in (no AOF) / real, per command:"
paste <(awk '{sub(":", "", $1); print $1, $2}' "$tmp/standin-none.txt") <(awk '{print $2}' "$tmp/real.txt") \
    | awk '{printf "   %-6s %10.0f / %10.0f = %.2fx\n", $1, $2, $3, $2/$3}'

echo
for fsync in always everysec; do
echo "== the pipeline (Redis appendfsync = $fsync): wrk POST /jobs for ${secs}s, sundown on cores 0-1, wrk on the others"
ph=$(port); pr=$(port); pp=$(port)
cat > "$tmp/pipeline.toml" <<TOML
[supervisor]
shutdown_timeout = "25s"
[components.redis]
kind = "redis"
listen = "127.0.0.1:$pr"
aof = "$tmp/p-$fsync.aof"
appendfsync = "$fsync"
[components.postgres]
kind = "postgres"
listen = "127.0.0.1:$pp"
data = "$tmp/p-$fsync.sqlite"
[components.workers]
kind = "worker_pool"
depends_on = ["redis", "postgres"]
size = 8
job_time = "0ms"
redis = "127.0.0.1:$pr"
postgres = "postgres://sundown@127.0.0.1:$pp/sundown"
[components.http]
kind = "http"
depends_on = ["redis", "workers"]
listen = "127.0.0.1:$ph"
redis = "127.0.0.1:$pr"
TOML
cores=$(nproc)
wrk_cpus="2-$((cores - 1))"
[ "$cores" -lt 4 ] && wrk_cpus="0-$((cores - 1))"
RUST_LOG=warn taskset -c 0,1 "$bin" run --config "$tmp/pipeline.toml" --report "$tmp/r1.json" 2>"$tmp/p1.log" &
sd=$!
wait_port "$ph"
taskset -c "$wrk_cpus" wrk -t2 -c64 -d"${secs}s" -s benches/post-job.lua "http://127.0.0.1:$ph/jobs" | tee "$tmp/wrk.txt"
kill -TERM "$sd"; wait "$sd" || true
done

echo
echo "== SIGTERM -> exit while wrk is posting (same pipeline, restarted)"
RUST_LOG=warn taskset -c 0,1 "$bin" run --config "$tmp/pipeline.toml" --report "$tmp/r2.json" 2>"$tmp/p2.log" &
sd=$!
wait_port "$ph"
taskset -c "$wrk_cpus" wrk -t2 -c64 -d20s -s benches/post-job.lua "http://127.0.0.1:$ph/jobs" >/dev/null 2>&1 &
sleep 3
t0=$(date +%s%N)
kill -TERM "$sd"
wait "$sd" || true
t1=$(date +%s%N)
echo "SIGTERM -> exit: $(( (t1 - t0) / 1000000 )) ms under load"
"$bin" report "$tmp/r2.json" 2>/dev/null || true
