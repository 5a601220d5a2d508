#!/usr/bin/env bash
# After the test suite (pass or fail): no process a test started may still run. Lists and kills any survivor, and
# fails: a test that starts a process or a server must end it (Tests/SignoffTestSupport/ChildProcess.swift).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
pattern="($root/\.build[^ ]*/(signoff|signoffPackageTests)|$root/Tests/python/|signoff-story-|signoff-test-|schemathesis|chromedriver.*signoff)"
sleep 1  # what was just sent SIGTERM gets its moment
survivors="$(ps -eo pid=,pgid=,args= | grep -E "$pattern" | grep -v -E "grep|leftovers\.sh" || true)"
if [ -n "$survivors" ]; then
    echo "leftovers: processes the tests started are still running:" >&2
    echo "$survivors" >&2
    echo "$survivors" | awk '{print $1}' | xargs -r kill -9 2>/dev/null
    exit 1
fi
echo "leftovers: none"
