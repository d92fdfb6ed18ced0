#!/bin/sh
# Runs PostgreSQL on DATA at PORT, creating the cluster on the first start.
# Debian keeps the server programs out of PATH (/usr/lib/postgresql/N/bin),
# so look there when `postgres` is not on PATH. `exec` matters: sundown's
# stop signal (SIGINT, PostgreSQL's fast shutdown) must reach postgres
# itself, not this shell.
set -eu
port=$2
# Absolute: postgres changes into its data directory, and the socket
# directory (-k) must still resolve from there.
case $1 in /*) data=$1 ;; *) data=$(pwd)/$1 ;; esac
if command -v postgres >/dev/null 2>&1; then
    bin=$(dirname "$(command -v postgres)")
else
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
fi
[ -x "$bin/postgres" ] || { echo "postgres.sh: no PostgreSQL server found (apt-get install postgresql)" >&2; exit 127; }
if [ ! -s "$data/PG_VERSION" ]; then
    echo "postgres.sh: first start: initdb into $data"
    "$bin/initdb" -D "$data" -U sundown --auth=trust -E UTF8 --no-sync
fi
exec "$bin/postgres" -D "$data" -p "$port" -k "$data" -c listen_addresses=127.0.0.1
