#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL cluster on loopback, made for it and removed after it, also when the
# command fails or is interrupted (a trap). The command finds the server in SIGNOFF_TEST_POSTGRES
# (postgres://postgres@127.0.0.1:PORT/postgres); the PostgreSQL tests make and drop databases of their own there.
#   bash scripts/with-postgres.sh swift test --skip-build
#   bash scripts/with-postgres.sh          # no command: prints the address, keeps the cluster until Ctrl-C
# initdb refuses to run as root: as root the cluster runs as the `postgres` user, in a folder it owns.
set -euo pipefail
# The servers' programs, the cluster's owner, a free port; descriptors inherited beyond 0-2 closed before any starts.
. "$(dirname "$(readlink -f "$0")")/lib/postgres.sh"
close_inherited_fds
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
    echo "with-postgres: PostgreSQL's server is not installed; run scripts/setup.sh (apt package postgresql)" >&2
    exit 1
fi

dir=$(mktemp -d /tmp/signoff-pg.XXXXXX)
chmod 755 "$dir"
[ "$(id -u)" -eq 0 ] && chown postgres "$dir"
port=$(free_port)

stop() {
    as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM

as_owner "$PGBIN/initdb" -D "$dir/data" --auth=trust --username=postgres --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
# Durable as in production (fsync, synchronous_commit on); enough connections for the tests' pools (the suites
# parameterised over both backends run hundreds of cases at once, each with a database and a pool of its own).
cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 1000
synchronous_commit = on
fsync = on
CONF
as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null 2>&1 \
    || { cat "$dir/server.log" >&2; exit 1; }
# A watchdog stops the cluster if this script dies without running its trap (kill -9).
script=$$
( trap '' INT TERM; while kill -0 "$script" 2>/dev/null; do sleep 1; done; stop ) >/dev/null 2>&1 &
echo "with-postgres: PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (removed after the command)" >&2

export SIGNOFF_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres"
if [ $# -eq 0 ]; then
    # No command: keep the cluster for use from other shells until this script is stopped (Ctrl-C, or SIGTERM).
    echo "with-postgres: SIGNOFF_TEST_POSTGRES=$SIGNOFF_TEST_POSTGRES — use it from another shell; stop this one (Ctrl-C) to remove the cluster" >&2
    sleep infinity &
    waiter=$!
    trap 'kill "$waiter" 2>/dev/null; exit 130' INT TERM
    wait "$waiter" || true
    exit 0
fi
status=0
"$@" || status=$?
exit $status
