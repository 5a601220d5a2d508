#!/usr/bin/env bash
# After the test suite (pass or fail): no process the tests started may still run. `make test` gives the run a marker,
# SIGNOFFTEST_RUN, that every process it starts inherits (Tests/SignoffTestSupport/ChildProcess.swift passes the
# environment on); any other process carrying it, or running from a test's temporary folder, is a survivor: listed,
# killed, and the run fails.
set -uo pipefail
marker="${SIGNOFFTEST_RUN:-}"
if [ -z "$marker" ]; then
    echo "leftovers: SIGNOFFTEST_RUN is not set (run through make test)" >&2
    exit 1
fi
[ -d /proc/self ] || { echo "leftovers: cannot list processes (no /proc)" >&2; exit 1; }
sleep 1  # what was just sent SIGTERM gets its moment
survivors=""
for dir in /proc/[0-9]*; do
    pid="${dir#/proc/}"
    [ "$pid" = "$$" ] && continue
    [ "$pid" = "$PPID" ] && continue
    command="$(tr '\0' ' ' < "$dir/cmdline" 2>/dev/null)" || continue
    [ -n "$command" ] || continue
    if { tr '\0' '\n' < "$dir/environ"; } 2>/dev/null | grep -qx "SIGNOFFTEST_RUN=$marker" \
        || [[ "$command" =~ /tmp/signoff-(story|test|browser|integration|store)[^\ ]*/ ]]; then
        survivors+="$pid $command"$'\n'
    fi
done
if [ -n "$survivors" ]; then
    echo "leftovers: processes the tests started are still running:" >&2
    printf '%s' "$survivors" >&2
    printf '%s' "$survivors" | awk '{print $1}' | xargs -r kill -9 2>/dev/null
    exit 1
fi
echo "leftovers: none"
