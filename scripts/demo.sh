#!/usr/bin/env bash
# The Signoff demo: a data-science team's project churn-model ships churn-model-v12.zip to QA and then to
# production, through every stage, with the refusals that matter, and the auditor verifies the trail offline.
# Run from the project root (`make demo`). Uses a fresh SQLite file in demo/.
set -euo pipefail
cd "$(dirname "$0")/.."

swift build --product signoff >/dev/null
bin="$(swift build --show-bin-path)/signoff"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '   %s\n' "$*"; }
signoff() { printf '\033[2m$ signoff %s\033[0m\n' "$*" >&2; "$bin" "$@"; }
# A command that must be refused: show the refusal and check its exit code.
refused() {
    local want=$1; shift
    set +e
    signoff "$@"
    local got=$?
    set -e
    if [ "$got" -ne "$want" ]; then echo "UNEXPECTED: exit $got, expected $want" >&2; exit 1; fi
    say "(exit $got, as expected)"
}

rm -rf demo
mkdir -p demo
cd demo
# Demo passphrases only: real people type theirs at a no-echo prompt or keep them in a 0600 file.
export SIGNOFF_PASSPHRASE="demo passphrase"
export SIGNOFF_LEDGER_PASSPHRASE="demo ledger passphrase"
export SIGNOFF_DB="$PWD/signoff.sqlite"

step "1. Everyone makes a key pair; private keys are sealed (Argon2id + XChaCha20-Poly1305, mode 0600)"
for person in ada riley ci-bot casey morgan sam dana; do
    "$bin" key generate --name "$person" --out "$person.key" >/dev/null
done
say "ada (administrator), riley (data scientist, requester), ci-bot (CI), casey (compliance officer),"
say "morgan and sam (release managers), dana (deployer)"
ls -l ./*.key | awk '{print "   " $1 "  " $NF}'

step "2. A new ledger with ada as its first administrator"
signoff init --origin signoff.demo/ledger --admin ada --admin-key ada.key.pub

step "3. ada sets up people, groups and policy (every change is a ledger entry)"
for person in riley casey morgan sam dana; do signoff user add "$person" --key-file "$person.key.pub" --as ada >/dev/null; done
signoff service-account add ci-bot --key-file ci-bot.key.pub --as ada >/dev/null
for group in data-science ci compliance release-managers churn-deployers platform; do signoff group add "$group" --as ada >/dev/null; done
signoff group add-member data-science riley --as ada >/dev/null
signoff group add-member ci ci-bot --as ada >/dev/null
signoff group add-member compliance casey --as ada >/dev/null
signoff group add-member release-managers morgan --as ada >/dev/null
signoff group add-member release-managers sam --as ada >/dev/null
signoff group add-member churn-deployers dana --as ada >/dev/null
signoff workflow apply ../workflows/standard.yaml --as ada
# The shipped regulated workflow deploys only on weekdays 09:00-17:00 Paris time; so that this demo works
# whenever it runs, its copy here opens the window all week, all day. Everything else is the shipped file.
sed -e 's/days: \[mon, tue, wed, thu, fri\]/days: [mon, tue, wed, thu, fri, sat, sun]/' -e 's/"09:00-17:00"/"00:00-24:00"/' \
    ../workflows/regulated.yaml > regulated.yaml
signoff workflow apply regulated.yaml --as ada
say "the workflows name roles; the project binds each role to its own groups (another team binds its own):"
signoff project create churn-model --regulated --env qa=standard prod=regulated --role requesters=data-science \
    --role ci=ci --role compliance=compliance --role approvers=release-managers --role platform=platform \
    --role deployers=churn-deployers --as ada --key ada.key
signoff project show churn-model --as ada

step "4. riley builds churn-model-v12.zip and asks to deploy it to QA"
head -c 100000 /dev/urandom > churn-model-v12.zip
QA=$(signoff request create --project churn-model --env qa --bundle churn-model-v12.zip --file churn-model-v12.zip --as riley)
say "filed $QA"
cat > junit.xml <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="churn-model" tests="3">
    <testcase classname="features" name="test_schema"/>
    <testcase classname="features" name="test_no_leakage"/>
    <testsuite name="metrics"><testcase classname="metrics" name="test_auc_above_baseline"/></testsuite>
  </testsuite>
</testsuites>
XML
say "CI attaches its JUnit report: the status and the counts come from the report itself"
signoff evidence add "$QA" --kind test-report --junit junit.xml --as ci-bot
signoff approve "$QA" --stage approved --key morgan.key --as morgan
signoff gate "$QA" --env qa --digest "$(sha256sum churn-model-v12.zip | awk '{print "sha256:" $1}')"
signoff deploy "$QA" --outcome succeeded --note "QA rollout" --as dana

step "5. Now production, under the regulated workflow"
DIGEST="sha256:$(sha256sum churn-model-v12.zip | awk '{print $1}')"
PROD=$(signoff request create --project churn-model --env prod --bundle churn-model-v12.zip --digest "$DIGEST" --as riley)
say "filed $PROD"
signoff explain "$PROD"

step "6. Refusals that matter"
say "gate says no before approval:"
refused 2 gate "$PROD" --env prod --digest "$DIGEST"
signoff evidence add "$PROD" --kind test-report --junit junit.xml --as ci-bot
say "an unsigned approval in a regulated project:"
refused 2 approve "$PROD" --stage compliance-reviewed --as casey
signoff approve "$PROD" --stage compliance-reviewed --key casey.key --as casey --comment "DPIA on file"
say "an administrative change without the administrator's key (a stolen session can do no more):"
refused 2 group add-member release-managers riley --as ada
say "riley tries to approve riley's own request (after being made a release manager, signed by ada):"
signoff group add-member release-managers riley --as ada --key ada.key >/dev/null
refused 2 approve "$PROD" --stage approved --key riley.key --as riley
say "morgan signs an approval for a different bundle digest than the one in the request:"
refused 2 approve "$PROD" --stage approved --key morgan.key --as morgan --digest "sha256:$(echo tampered | sha256sum | awk '{print $1}')"

step "7. Two release managers sign; the request advances on its own"
signoff approve "$PROD" --stage approved --key morgan.key --as morgan --comment "metrics reviewed"
signoff approve "$PROD" --stage approved --key sam.key --as sam
signoff status "$PROD"

step "8. Policy that reaches open requests: a freeze added now stops this already-approved request"
signoff freeze add --env prod --until 2099-01-01T00:00:00Z --reason "quarter-end close" --as ada --key ada.key
refused 2 gate "$PROD" --env prod --digest "$DIGEST"
signoff freeze lift FRZ-1 --as ada --key ada.key

step "9. The deployment pipeline asks: may I deploy exactly this bundle to prod now?"
refused 2 gate "$PROD" --env prod --digest "sha256:$(echo other bundle | sha256sum | awk '{print $1}')"
signoff gate "$PROD" --env prod --digest "$DIGEST"
signoff deploy "$PROD" --outcome succeeded --note "prod rollout 2026.11" --as dana

step "10. The auditor receives an export and verifies it offline, with nothing but the ledger's public key"
signoff audit export --project churn-model --out audit-churn-model
ls audit-churn-model | sed 's/^/   /'
cp signoff.sqlite.ledger-key.pub auditor-ledger.pub
signoff audit verify audit-churn-model --ledger-verifier-key auditor-ledger.pub
say "decisions.csv, as a spreadsheet opens it:"
sed 's/^/   /' audit-churn-model/decisions.csv

step "11. Someone edits the export after the fact"
cp -r audit-churn-model tampered-export
sed -i 's/,sam,/,mallory,/' tampered-export/decisions.csv
refused 3 audit verify tampered-export --ledger-verifier-key auditor-ledger.pub

step "Result"
signoff audit verify --db "$SIGNOFF_DB"
say "Every decision is signed, bound to churn-model-v12.zip's digest, in the ledger, and provable offline."
