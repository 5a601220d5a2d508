#!/usr/bin/env bash
# Installs what Signoff needs on a fresh Debian machine, only when missing: libsodium's and SQLite's headers, PostgreSQL
# (the second backend's tests) and, for the web console's real-browser test, Chromium and its WebDriver (apt); the
# Python libraries the interoperability and browser tests use (pip).
set -euo pipefail

missing=()
[ -f /usr/include/sodium.h ] || missing+=(libsodium-dev)
[ -f /usr/include/sqlite3.h ] || missing+=(libsqlite3-dev)
# The web console's real-browser test: headless Chromium and its WebDriver.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
# The PostgreSQL backend's tests: a throwaway cluster (scripts/with-postgres.sh); the package brings psql and pgbench.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! python3 -c "import nacl, securesystemslib, jsonschema, yaml, schemathesis, standardwebhooks, dataikuapi, selenium, axe_selenium_python, oidc_provider_mock, scim2_tester, scim2_client, tlog_scales" 2>/dev/null; then
    echo "setup: installing PyNaCl, securesystemslib, jsonschema, PyYAML, schemathesis, standardwebhooks, dataiku-api-client, selenium, axe-selenium-python (axe-core), oidc-provider-mock, scim2-tester, scim2-client and tlog-scales for the interoperability, browser, single sign-on, directory and witness tests" >&2
    python3 -m pip install -q --disable-pip-version-check pynacl securesystemslib jsonschema pyyaml schemathesis standardwebhooks dataiku-api-client selenium axe-selenium-python oidc-provider-mock scim2-tester scim2-client tlog-scales
fi
