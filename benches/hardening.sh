#!/usr/bin/env bash
# The figures of the hardening work, reproducible (build first:
# cargo build --release; needs python3, redis-cli, bc):
#
#   benches/hardening.sh attack   supervisor RSS while Redis stand-in clients never read
#   benches/hardening.sh replay   SIGTERM 0.5 s into replaying a 3M-command AOF (5 rounds)
#   benches/hardening.sh store    SIGTERM with those 3M keys loaded
#   benches/hardening.sh fresh    the default config in an empty directory, 20 times
#   benches/hardening.sh flap     a component restarting every ms for 16 s: RSS, report
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SUNDOWN_BIN:-$root/target/release/sundown}
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
port() { echo $((20000 + RANDOM % 10000)); }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# The default pipeline, on free ports, in directory $1.
pipeline() {
  local r; r=$(port)
  sed -e "s/127.0.0.1:6380/127.0.0.1:$r/g" -e "s/127.0.0.1:5433/127.0.0.1:$((r + 1))/g" \
      -e "s/127.0.0.1:8080/127.0.0.1:$((r + 2))/g" "$root/supervisor.toml" > "$1/supervisor.toml"
  echo "$r"
}

wait_line() { for _ in $(seq 1 600); do grep -q "$2" "$1" && return 0; sleep 0.05; done; return 1; }

big_aof() {
  [ -f "$work/big.aof" ] && return
  python3 - "$work/big.aof" <<'EOF'
import sys
with open(sys.argv[1], "wb") as f:
    for chunk in range(30):
        f.write(b"".join(
            b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$22\r\nvalue-%016d\r\n" % (len(b"key:%d" % i), b"key:%d" % i, i)
            for i in range(chunk * 100000, (chunk + 1) * 100000)))
EOF
}

redis_only() { # dir port
  printf '[supervisor]\nreport = "r.json"\nshutdown_timeout = "2s"\n[components.redis]\nkind = "redis"\nlisten = "127.0.0.1:%s"\naof = "redis.aof"\nstop_timeout = "1s"\n' "$2" > "$1/s.toml"
}

case ${1:-} in
attack)
  d=$work/attack; mkdir -p "$d"; r=$(pipeline "$d")
  "$bin" run --config "$d/supervisor.toml" 2>"$d/err" & pid=$!
  wait_line "$d/err" "component(s) ready"
  python3 - "$pid" "$r" <<'EOF'
import socket, sys, time
pid, port = int(sys.argv[1]), int(sys.argv[2])
rss = lambda: next(int(l.split()[1]) // 1024 for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:"))
def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out
def ask(s, req):
    s.sendall(req); data = b""
    while not data.endswith(b"\r\n"): data += s.recv(65536)
    return data
def flood(req):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096); s.setblocking(False)
    try: s.send(req)
    except BlockingIOError: pass
    return s
def peak(secs):
    p, end = 0, time.time() + secs
    while time.time() < end: p = max(p, rss()); time.sleep(0.02)
    return p
c = socket.create_connection(("127.0.0.1", port))
ask(c, resp("SET", "k", b"x" * (5 << 20)))
for _ in range(1024): ask(c, resp("RPUSH", "l", b"y" * 1024))
base = rss()
keep = [flood(resp("GET", "k") * 400)]
p1 = peak(3)
keep += [flood(resp("LRANGE", "l", "0", "-1") * 200) for _ in range(8)]
p2 = peak(3)
print(f"supervisor RSS: {base} MiB before; peak {p1} MiB with one client sending 400 GET of 5 MB "
      f"and never reading; peak {p2} MiB with eight more sending 200 LRANGE of 1 MB; PING: {ask(c, resp('PING')).strip().decode()}")
EOF
  echo "clients closed at the limit: $(grep -c 'passed client_output_limit' "$d/err")"
  kill -TERM "$pid"; wait "$pid"; echo "exit $?";;
replay)
  big_aof; d=$work/replay; mkdir -p "$d"; cp "$work/big.aof" "$d/redis.aof"; p=$(port); redis_only "$d" "$p"
  sum=$(md5sum < "$work/big.aof")
  for round in 1 2 3 4 5; do
    "$bin" run --config "$d/s.toml" 2>"$d/err" & pid=$!
    sleep 0.5; t0=$(date +%s%N); kill -TERM "$pid"; wait "$pid"; rc=$?; took=$(ms_since "$t0")
    same=$([ "$(md5sum < "$d/redis.aof")" = "$sum" ] && echo unchanged || echo CHANGED)
    echo "round $round: exit $rc $took ms after SIGTERM; AOF $same; left in the directory: $(ls "$d" | grep -v -e err -e s.toml -e r.json | tr '\n' ' ')"
    [ -n "${VERBOSE:-}" ] && cat "$d/err"
  done
  "$bin" run --config "$d/s.toml" 2>"$d/err" & pid=$!
  wait_line "$d/err" "component(s) ready"
  echo "the next start: $(redis-cli -p "$p" dbsize) keys"
  kill -TERM "$pid"; wait "$pid";;
store)
  big_aof; d=$work/store; mkdir -p "$d"; cp "$work/big.aof" "$d/redis.aof"; p=$(port); redis_only "$d" "$p"
  "$bin" run --config "$d/s.toml" 2>"$d/err" & pid=$!
  wait_line "$d/err" "component(s) ready"; sleep 1
  rss=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status")
  t0=$(date +%s%N); kill -TERM "$pid"; wait "$pid"; rc=$?; took=$(ms_since "$t0")
  echo "3M keys ($rss MiB): exit $rc $took ms after SIGTERM; $(python3 -c "import json; c=json.load(open('$d/r.json'))['components'][0]; print(c['outcome'], c['stop_ms'], 'ms')")";;
fresh)
  ok=0
  for i in $(seq 1 20); do
    d=$work/fresh$i; mkdir -p "$d"; pipeline "$d" >/dev/null
    "$bin" run --config "$d/supervisor.toml" 2>"$d/err" & pid=$!
    wait_line "$d/err" "component(s) ready"; ready=$?
    kill -TERM "$pid"; wait "$pid"; rc=$?
    if [ $ready = 0 ] && [ $rc = 0 ]; then ok=$((ok + 1)); else echo "run $i: exit $rc"; tail -3 "$d/err"; fi
  done
  echo "an empty directory: $ok of 20 runs started and stopped cleanly";;
flap)
  d=$work/flap; mkdir -p "$d"
  printf '[supervisor]\nreport = "r.json"\n[components.flapping]\nkind = "process"\ncommand = ["sh", "-c", "exit 1"]\nready_after = "0s"\nrestart = "on-failure"\nmax_restarts = 1000000\nrestart_window = "1ms"\nrestart_backoff = "1ms"\nrestart_backoff_max = "1ms"\n' > "$d/s.toml"
  "$bin" run --config "$d/s.toml" 2>"$d/err" & pid=$!
  for t in 2 4 8 16; do
    while [ "$(ps -o etimes= -p "$pid")" -lt $t ]; do sleep 0.1; done
    echo "t=${t}s: RSS $(awk '/VmRSS/ {print $2}' "/proc/$pid/status") kB"
  done
  kill -TERM "$pid"; wait "$pid"
  python3 -c "import json; t=open('$d/r.json').read(); c=json.loads(t)['components'][0]; print(c['restart_count'], 'restarts,', len(c['restarts']), 'listed, report', len(t), 'bytes')";;
*) sed -n '2,10p' "$0"; exit 2;;
esac
