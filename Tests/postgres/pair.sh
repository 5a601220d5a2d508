#!/usr/bin/env bash
# (Every server is started with its output in a log file, never this script's: a daemon holding the caller's pipe
# would keep the caller waiting for its end.)
# A PostgreSQL primary and a synchronous standby on loopback, for the failover test (Tests/SignoffCLITests/
# PostgresFailoverTests.swift). The recipe of ../shared/notes/postgres-ha.md; as the `postgres` user when run as root.
#   pair.sh start DIR          -> prints "PRIMARY_PORT STANDBY_PORT" once the standby replicates synchronously
#   pair.sh kill-primary DIR   -> kill -9 the primary's postmaster (and what it leaves)
#   pair.sh promote DIR        -> the standby becomes the primary
#   pair.sh stop DIR           -> both stopped, DIR removed (always safe to call)
set -euo pipefail
# The servers' programs, the cluster's owner, a free port (shared with scripts/with-postgres.sh); descriptors inherited
# beyond 0-2 closed before any server starts.
. "$(dirname "$(readlink -f "$0")")/../../scripts/lib/postgres.sh"
close_inherited_fds
command=$1
dir=$2

case "$command" in
start)
    mkdir -p "$dir"
    chmod 755 "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    p1=$(free_port); p2=$(free_port)
    as_owner "$PGBIN/initdb" -D "$dir/primary" --auth=trust --username=postgres --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1
    cat >>"$dir/primary/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $p1
unix_socket_directories = '$dir'
wal_level = replica
max_wal_senders = 5
synchronous_standby_names = 'standby1'
synchronous_commit = on
max_connections = 200
CONF
    echo "host replication postgres 127.0.0.1/32 trust" >>"$dir/primary/pg_hba.conf"
    as_owner "$PGBIN/pg_ctl" -D "$dir/primary" -l "$dir/primary.log" -w -t 60 start >/dev/null 2>&1
    as_owner "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$p1" -U postgres -D "$dir/standby" -R -X stream >/dev/null 2>&1
    cat >>"$dir/standby/postgresql.conf" <<CONF
port = $p2
CONF
    echo "primary_conninfo = 'host=127.0.0.1 port=$p1 user=postgres application_name=standby1'" >>"$dir/standby/postgresql.auto.conf"
    as_owner "$PGBIN/pg_ctl" -D "$dir/standby" -l "$dir/standby.log" -w -t 60 start >/dev/null 2>&1
    for _ in $(seq 1 100); do
        state=$(psql -h 127.0.0.1 -p "$p1" -U postgres -Atc "select sync_state from pg_stat_replication where application_name = 'standby1'" 2>/dev/null || true)
        [ "$state" = "sync" ] && { echo "$p1 $p2"; exit 0; }
        sleep 0.1
    done
    echo "pair.sh: the standby did not become synchronous" >&2
    exit 1
    ;;
kill-primary)
    pid=$(head -1 "$dir/primary/postmaster.pid")
    kill -9 "$pid"
    # The backends it leaves notice and exit; make sure none still answers.
    pkill -9 -f -- "-D $dir/primary" 2>/dev/null || true
    ;;
promote)
    as_owner "$PGBIN/pg_ctl" -D "$dir/standby" -w -t 60 promote >/dev/null 2>&1
    # The standby was copied from the primary with its configuration: it names itself as its synchronous standby, and
    # every commit would wait for one that does not exist. Alone now, it commits on its own (until a new standby joins).
    p2=$(sed -n 's/^port = //p' "$dir/standby/postgresql.conf" | tail -1)
    psql -h 127.0.0.1 -p "$p2" -U postgres -qAtc "ALTER SYSTEM SET synchronous_standby_names = ''" >/dev/null
    psql -h 127.0.0.1 -p "$p2" -U postgres -qAtc "SELECT pg_reload_conf()" >/dev/null
    ;;
stop)
    for cluster in primary standby; do
        [ -f "$dir/$cluster/postmaster.pid" ] && as_owner "$PGBIN/pg_ctl" -D "$dir/$cluster" -m immediate stop >/dev/null 2>&1 || true
    done
    pkill -9 -f -- "-D $dir/" 2>/dev/null || true
    rm -rf "$dir"
    ;;
*)
    echo "pair.sh: start, kill-primary, promote or stop" >&2
    exit 64
    ;;
esac
