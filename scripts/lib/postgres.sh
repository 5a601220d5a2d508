# Shared by the scripts that start PostgreSQL servers (scripts/with-postgres.sh, Tests/postgres/pair.sh): source it,
# then call close_inherited_fds before any server starts.

# PostgreSQL's server programs (the newest installed version).
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)  # empty when none is installed: the caller says so

# Runs a command as the cluster's owner: `postgres` when run as root (initdb refuses root), else as the caller.
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# A free TCP port on loopback.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Closes every descriptor the calling script inherited beyond 0-2, but the one bash reads that script from: a daemon
# that kept one would keep the caller waiting (Foundation's Process learns of a child's exit from a socket the child
# inherits; the caller may hold hundreds open, any number). Call it after sourcing this file, not while.
close_inherited_fds() {
    local script_file fd
    script_file=$(readlink -f "$0")
    for fd in $(ls /proc/$$/fd); do
        # (No redirection on these lines: bash keeps a redirection made beside `exec` for good.)
        if [ "$fd" -gt 2 ] && [ -e "/proc/$$/fd/$fd" ] && [ "$(readlink -f "/proc/$$/fd/$fd")" != "$script_file" ]; then eval "exec $fd>&-"; fi
    done
}
