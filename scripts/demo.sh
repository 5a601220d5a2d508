#!/usr/bin/env bash
# The Signoff demo on a fresh SQLite file: keys, a new ledger, its signed checkpoint, full verification,
# and tampering caught. Run from the project root (`make demo`).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

swift build --product signoff >/dev/null
bin="$(swift build --show-bin-path)/signoff"
signoff() { "$bin" "$@"; }

demo=demo
rm -rf "$demo"
mkdir -p "$demo"
cd "$demo"
# Demo passphrases only: real users type theirs at a no-echo prompt or keep them in a 0600 file.
export SIGNOFF_PASSPHRASE="demo passphrase"
export SIGNOFF_LEDGER_PASSPHRASE="demo ledger passphrase"
export SIGNOFF_DB="$PWD/signoff.sqlite"

step "Keys for the people of the churn-model project (sealed with Argon2id + XChaCha20-Poly1305, mode 0600)"
for person in riley compliance-officer release-manager-1 deployer; do
    signoff key generate --name "$person" --out "$person.key" | head -1
done
ls -l ./*.key | awk '{print "  " $1 "  " $NF}'
signoff key show riley.key.pub

step "A new ledger: its key signs checkpoints; auditors get only the .pub"
signoff init --origin signoff.demo/ledger

step "The newest signed checkpoint (C2SP tlog-checkpoint as a signed note)"
signoff checkpoint

step "Full verification: every entry, the hash chain, every subtree hash, every checkpoint"
signoff audit verify

step "An attacker with file access rewrites who did it (plain SQL, behind Signoff's back)"
cp signoff.sqlite tampered.sqlite
cp signoff.sqlite.ledger-key.pub tampered.sqlite.ledger-key.pub
python3 -c "import sqlite3; c = sqlite3.connect('tampered.sqlite'); c.execute(\"UPDATE ledger_entry SET actor = 'mallory' WHERE sequence = 0\"); c.commit()"
set +e
signoff audit verify --db tampered.sqlite
status=$?
set -e
echo "exit code $status (3 = verification failed)"

step "Result"
if [ "$status" -eq 3 ]; then
    echo "The untouched ledger verifies; the tampered copy is refused and the bad entry is named."
else
    echo "UNEXPECTED: tampering was not detected" >&2
    exit 1
fi
