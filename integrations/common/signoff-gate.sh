#!/usr/bin/env bash
# Find the open Signoff request for a bundle — whoever filed it (a person files, the pipeline carries on) — or revise
# the pipeline's own request after changes were requested on it, or file one; attach a test report if given, and wait
# until Signoff allows deploying exactly that bundle to the environment. Prints the request id on stdout; everything else
# goes to stderr. Exit codes are signoff's: 0 allowed, 2 refused (or the request was rejected, withdrawn, expired),
# 75 --wait ran out, 64 bad input, 1 other errors; 127 when the signoff CLI is missing.
# Needs SIGNOFF_SERVER and SIGNOFF_TOKEN: a service token with request (to file, or find the open request and revise),
# evidence and gate scopes on the project (deploy too, for the deploy steps). Without request it finds the open
# request a person filed by the bundle's digest, with gate alone.
# Without SIGNOFF_TOKEN, the job's own OpenID Connect ID token stands in (an issuer Signoff trusts for pipelines maps
# its claims to a service account and scopes): in GitHub Actions, asked for with ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN
# (the job needs `permissions: id-token: write`) for the audience SIGNOFF_AUDIENCE (default SIGNOFF_SERVER), and asked
# for again for each stretch of the wait (GitHub's ID tokens live minutes); in GitLab CI, SIGNOFF_ID_TOKEN from the
# job's `id_tokens:`.
# Used by the GitHub action, the GitLab template and the Jenkins step (integrations/README.md). Empty values count
# as not given, so callers may pass every option.
set -euo pipefail

usage() {
    cat >&2 <<'USAGE'
usage: signoff-gate.sh --project P --env E --bundle NAME (--digest sha256:HEX | --bundle-file PATH)
                       [--wait 30m] [--description TEXT] [--test-report JUNIT.xml] [--signoff PATH]
                       [--reasons-file FILE] [--touches connections,plugins] [--label NAME=VALUE[,VALUE]]...
                       [--labels "NAME=VALUE[,VALUE] NAME=VALUE…"]
USAGE
    exit 64
}
say() { printf 'signoff-gate: %s\n' "$*" >&2; }
fail() { local code=$1; shift; say "$*"; exit "$code"; }

project="" env="" bundle="" digest="" bundle_file="" wait="30m" description="" test_report=""
signoff="${SIGNOFF_BIN:-signoff}" reasons_file="" touches="" labels=()
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || usage
    case "$1" in
        --project) project=$2 ;;
        --env) env=$2 ;;
        --bundle) bundle=$2 ;;
        --digest) digest=$2 ;;
        --bundle-file) bundle_file=$2 ;;
        --wait) wait=${2:-30m} ;;
        --description) description=$2 ;;
        --test-report) test_report=$2 ;;
        --signoff) signoff=${2:-${SIGNOFF_BIN:-signoff}} ;;
        --reasons-file) reasons_file=$2 ;;
        --touches) touches=$2 ;;
        --label) if [ -n "$2" ]; then labels+=(--label "$2"); fi ;;
        --labels) for one in $2; do labels+=(--label "$one"); done ;;  # label names and values have no spaces
        *) usage ;;
    esac
    shift 2
done

if ! command -v "$signoff" >/dev/null 2>&1; then
    fail 127 "the signoff CLI was not found ('$signoff'): install it on this runner (or agent, or image) first, or give its path"
fi
[ -n "${SIGNOFF_SERVER:-}" ] || fail 64 "SIGNOFF_SERVER is not set (e.g. https://signoff.example.com)"
id_token=""
json_field() { sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p"; }
# A fresh ID token from GitHub's token service, for Signoff's audience; never printed.
github_id_token() {
    local answer
    answer=$(curl -fsS --get -H "Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" \
        --data-urlencode "audience=${SIGNOFF_AUDIENCE:-${SIGNOFF_SERVER%/}}" "$ACTIONS_ID_TOKEN_REQUEST_URL") ||
        fail 1 "GitHub gave no ID token (does the job have 'permissions: id-token: write'?)"
    SIGNOFF_TOKEN=$(printf '%s' "$answer" | json_field value)
    [ -n "$SIGNOFF_TOKEN" ] || fail 1 "GitHub's ID token service answered without a token"
    export SIGNOFF_TOKEN
}
if [ -z "${SIGNOFF_TOKEN:-}" ]; then
    if [ -n "${ACTIONS_ID_TOKEN_REQUEST_URL:-}" ] && [ -n "${ACTIONS_ID_TOKEN_REQUEST_TOKEN:-}" ]; then
        id_token=github
        github_id_token
        say "no SIGNOFF_TOKEN: using this job's GitHub ID token"
    elif [ -n "${SIGNOFF_ID_TOKEN:-}" ]; then
        id_token=gitlab
        export SIGNOFF_TOKEN=$SIGNOFF_ID_TOKEN
        say "no SIGNOFF_TOKEN: using this job's ID token (SIGNOFF_ID_TOKEN)"
    else
        fail 64 "SIGNOFF_TOKEN is not set: give it a service token from 'signoff token create', or run where the CI gives an ID token (GitHub: permissions id-token: write; GitLab: id_tokens SIGNOFF_ID_TOKEN)"
    fi
fi
[ -n "$project" ] && [ -n "$env" ] && [ -n "$bundle" ] || fail 64 "--project, --env and --bundle are required"
if [ -n "$digest" ] && [ -n "$bundle_file" ]; then fail 64 "give --digest or --bundle-file, not both"; fi
if [ -z "$digest" ] && [ -z "$bundle_file" ]; then fail 64 "give --digest sha256:HEX or --bundle-file PATH"; fi
if [ -n "$bundle_file" ] && [ ! -f "$bundle_file" ]; then fail 64 "no bundle file at '$bundle_file'"; fi


# One open request per project, environment and digest: signoff answers with the open one (whoever filed it), or
# revises this account's own request for the bundle when changes were requested on it, or files a new one.
# --source-from-ci records the run, commit, ref and merge request from the CI's own variables (GitHub Actions, GitLab
# CI, Jenkins): the request's page links to them.
args=(request create --project "$project" --env "$env" --bundle "$bundle" --reuse --source-from-ci --json)
if [ -n "$digest" ]; then args+=(--digest "$digest"); else args+=(--file "$bundle_file"); fi
if [ -n "$description" ]; then args+=(--description "$description"); fi
if [ -n "$touches" ]; then args+=(--touches "$touches"); fi
args+=("${labels[@]}")
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
rc=0 found_by_digest=""
filed=$("$signoff" "${args[@]}" 2>"$err") || rc=$?
cat "$err" >&2
if [ "$rc" -ne 0 ] && grep -q 'token\.scope' "$err"; then
    # A token without the request scope (a person files, the pipeline carries on): find the open request by the digest
    # with the gate scope alone.
    if [ -z "$digest" ]; then
        digest="sha256:$( (sha256sum "$bundle_file" 2>/dev/null || shasum -a 256 "$bundle_file") | cut -d' ' -f1)"
    fi
    say "this token may not file requests: looking for the open request of $project on $env for $digest"
    rc=0
    filed=$("$signoff" gate --project "$project" --env "$env" --digest "$digest" --json 2>"$err") || rc=$?
    # The gate's answer names the request and its digest; 2 only says it may not deploy yet.
    if [ "$rc" -eq 0 ] || [ "$rc" -eq 2 ]; then rc=0 found_by_digest=1; else cat "$err" >&2; fi
fi
[ "$rc" -eq 0 ] || fail "$rc" "could not file or find the request for $bundle ($project, $env)"
request=$(printf '%s' "$filed" | json_field request)
digest=$(printf '%s' "$filed" | json_field digest)
[[ "$request" =~ ^[A-Za-z0-9._-]+$ ]] && [[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] ||
    fail 1 "unexpected answer from 'signoff request create': $filed"
if [ -n "$found_by_digest" ] || printf '%s' "$filed" | grep -Eq '"reused"[[:space:]]*:[[:space:]]*true'; then
    say "reusing open request $request for $bundle ($digest)"
elif printf '%s' "$filed" | grep -Eq '"revised"[[:space:]]*:[[:space:]]*true'; then
    say "revised $request to $bundle ($digest): changes were requested on its previous revision"
else
    say "filed $request for $bundle ($digest) to $env"
fi
printf '%s\n' "$request"

if [ -n "$test_report" ]; then
    # Uploaded, so that approvers see the test table on the request's page; a report larger than the server stores
    # (exit 64, nothing recorded) is attached without its document instead.
    rc=0
    "$signoff" evidence add "$request" --kind test-report --junit "$test_report" --upload --source-from-ci >&2 || rc=$?
    if [ "$rc" -eq 64 ]; then
        say "the test report is too large to upload: attaching it without its document"
        rc=0
        "$signoff" evidence add "$request" --kind test-report --junit "$test_report" --source-from-ci >&2 || rc=$?
    fi
    [ "$rc" -eq 0 ] || fail "$rc" "could not attach the test report $test_report to $request"
fi

say "waiting up to $wait for Signoff to allow $request to deploy to $env"
rc=0
if [ "$id_token" = github ]; then
    # GitHub's ID tokens expire within minutes: wait in stretches of at most 4 minutes, each with a fresh token.
    seconds() {
        case "$1" in
            *h) echo $(( ${1%h} * 3600 )) ;; *m) echo $(( ${1%m} * 60 )) ;; *s) echo "${1%s}" ;; *) echo "$1" ;;
        esac
    }
    total=$(seconds "$wait") started=$SECONDS
    [[ "$total" =~ ^[0-9]+$ ]] || fail 64 "--wait $wait is not a duration such as 30s, 10m or 2h"
    while :; do
        left=$(( total - (SECONDS - started) )); [ "$left" -gt 0 ] || left=1
        stretch=$(( left < 240 ? left : 240 ))
        rc=0
        { "$signoff" gate "$request" --env "$env" --digest "$digest" --wait "${stretch}s" 2>&1 1>"$out" | tee "$err" >&2; } || rc=$?
        [ "$rc" -eq 75 ] && [ $(( SECONDS - started )) -lt "$total" ] || break
        github_id_token
    done
else
    { "$signoff" gate "$request" --env "$env" --digest "$digest" --wait "$wait" 2>&1 1>"$out" | tee "$err" >&2; } || rc=$?
fi
cat "$out" >&2
case "$rc" in
    0) say "allowed: $request may deploy $digest to $env"; exit 0 ;;
    2) say "refused: $request may not deploy to $env (see the reasons above)" ;;
    75) say "gave up after $wait: $request is still not allowed to deploy to $env" ;;
    *) say "signoff gate failed (exit $rc)" ;;
esac
if [ -n "$reasons_file" ]; then
    if [ -s "$out" ]; then cat "$out"; else grep -v '^signoff: waiting:' "$err" || echo "signoff gate exited $rc"; fi >"$reasons_file"
fi
exit "$rc"
