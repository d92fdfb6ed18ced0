#!/usr/bin/env bash
# The real-services stack (redis-server, PostgreSQL, and the pipeline's HTTP
# front end + workers) under sundown and under supervisord, same programs,
# same ports, measured the same way from outside:
#
#   startup  launch -> the front end's /readyz answers 200 (polled every 5 ms)
#   stop     SIGTERM to the supervisor -> the supervisor has exited
#
# Both supervisors run the front end + workers as one program (a sundown
# running just those two in-process kinds), so the only difference is the
# supervisor. supervisord has no readiness: `priority` orders the start but
# does not wait, so the app may start before PostgreSQL accepts connections
# and rely on autorestart; the script counts those restarts.
#
#   sudo benches/real-services.sh [RUNS]     (default 5; needs root, redis-server,
#                                            redis-cli, postgresql, supervisor, curl)
set -euo pipefail
runs=${1:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SUNDOWN_BIN:-$root/target/release/sundown}
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
for t in redis-server redis-cli pg_isready supervisord curl; do
    command -v "$t" >/dev/null || { echo "needs $t" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "needs root (PostgreSQL runs as postgres)" >&2; exit 1; }
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

work=$(mktemp -d /tmp/sundown-realbench.XXXXXX)
chmod 755 "$work"
trap 'pkill -f "$work" 2>/dev/null; sleep 0.5; rm -rf "$work"' EXIT
R=16390 P=15440 H=18090

now_ms() { date +%s%3N; }

# A fresh, initialized cluster per run, so both start from the same state.
fresh_data() {
    rm -rf "$work/data"
    mkdir -p "$work/data/redis" "$work/data/pg"
    chown postgres: "$work/data/pg" && chmod 700 "$work/data/pg"
    runuser -u postgres -- "$pgbin/initdb" -D "$work/data/pg" -U sundown --auth=trust -E UTF8 --no-sync >/dev/null
}

cat > "$work/app.toml" <<TOML
[components.workers]
kind = "worker_pool"
size = 4
redis = "redis://127.0.0.1:$R/"
postgres = "postgres://sundown@127.0.0.1:$P/postgres"

[components.http]
kind = "http"
listen = "127.0.0.1:$H"
redis = "redis://127.0.0.1:$R/"
drain_delay = "200ms"
TOML

redis_cmd="redis-server --port $R --bind 127.0.0.1 --dir $work/data/redis --save '3600 1' --appendonly no"
pg_cmd="$pgbin/postgres -D $work/data/pg -p $P -k $work/data/pg -c listen_addresses=127.0.0.1"

cat > "$work/sundown.toml" <<TOML
[components.redis]
command = "$redis_cmd"
ready = { log = "Ready to accept connections" }
stop_command = ["redis-cli", "-p", "$R", "shutdown"]

[components.postgres]
command = "$pg_cmd"
user = "postgres"
ready = { exec = ["pg_isready", "-q", "-h", "127.0.0.1", "-p", "$P", "-U", "sundown", "-d", "postgres"], interval = "20ms" }
stop_signal = "SIGINT"

[components.app]
command = ["$bin", "run", "--config", "$work/app.toml"]
depends_on = ["redis", "postgres"]
ready = { http = "http://127.0.0.1:$H/readyz", interval = "20ms" }
TOML

# supervisord: priorities give the order (lower starts first, stops last);
# stopwaitsecs bounds each stop; the app retries until PostgreSQL is up.
cat > "$work/supervisord.conf" <<CONF
[supervisord]
nodaemon=true
logfile=$work/supervisord.log
pidfile=$work/supervisord.pid
[program:redis]
command=$redis_cmd
priority=10
stopsignal=TERM
stopwaitsecs=10
startsecs=0
[program:postgres]
command=$pg_cmd
user=postgres
priority=10
stopsignal=INT
stopwaitsecs=15
startsecs=0
[program:app]
command=$bin run --config $work/app.toml
priority=20
stopwaitsecs=10
startsecs=0
autorestart=true
startretries=100
CONF

wait_ready() {
    local until=$(( $(now_ms) + 60000 ))
    until curl -fs -o /dev/null "http://127.0.0.1:$H/readyz"; do
        [ "$(now_ms)" -lt "$until" ] || { echo "never ready" >&2; return 1; }
        sleep 0.005
    done
}

one() { # NAME -> "startup_ms stop_ms app_starts"
    local name=$1 t0 t1 t2 t3 pid starts
    fresh_data
    t0=$(now_ms)
    if [ "$name" = sundown ]; then
        "$bin" run --config "$work/sundown.toml" 2>"$work/$name.log" &
    else
        supervisord -c "$work/supervisord.conf" >/dev/null 2>&1 &
    fi
    pid=$!
    wait_ready
    t1=$(now_ms)
    redis-cli -p $R set canary 1 >/dev/null
    sleep 0.3
    t2=$(now_ms)
    kill -TERM "$pid"
    wait "$pid" || true
    t3=$(now_ms)
    if [ "$name" = sundown ]; then
        starts=$(grep -c "app: starting" "$work/$name.log" || true)
    else
        starts=$(grep -c "spawned: 'app'" "$work/supervisord.log" || true)
        rm -f "$work/supervisord.log"
    fi
    saved=$([ -s "$work/data/redis/dump.rdb" ] && echo yes || echo no)
    echo "$((t1 - t0)) $((t3 - t2)) $starts $saved"
}

printf '%-12s %5s %12s %12s %11s %11s\n' supervisor run startup_ms sigterm_ms app_starts redis_saved
for name in ${ONLY:-sundown supervisord}; do
    for i in $(seq 1 "$runs"); do
        read -r s t n saved < <(one "$name")
        printf '%-12s %5d %12d %12d %11d %11s\n' "$name" "$i" "$s" "$t" "$n" "$saved"
    done
done
