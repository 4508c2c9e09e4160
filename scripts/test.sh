#!/usr/bin/env bash
# Runs every test of the project:
#   1. the Swift package (builds without warnings; unit tests, and the database and HTTP tests against a private
#      PostgreSQL this script starts);
#   2. the addon's static checks (Python compiles, XML well formed, manifest files exist, access CSV);
#   3. the docker-compose and deployment checks that need no Docker engine;
#   4. the addon's tests and the first-run setup script in a real Odoo 18, when ODOO18_HOME names one (see
#      scripts/test-addon.sh); without it they print that they skipped.
# Run as root on a fresh Debian machine it first installs the packages it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

[[ "$(id -u)" -eq 0 ]] && scripts/install-deps.sh

log="$(mktemp)"
trap 'rm -f "$log"' EXIT

echo "== swift: build (warnings are errors)"
swift build --build-tests -Xswiftc -warnings-as-errors 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' || { echo "build failed"; exit 1; }

echo "== swift: tests against a private PostgreSQL"
set +e
scripts/with-postgres.sh swift test --skip-build 2>&1 | tee "$log" | grep -E '^(✘|✔ Suite|✔ Test run|Test Suite|.*error:)'
swift_status=${PIPESTATUS[0]}
set -e
swift_passed="$(sed -nE 's/.*Test run with ([0-9]+) tests? .* passed.*/\1/p' "$log" | tail -n 1)"
swift_failed="$(grep -c '^✘ Test ' "$log" || true)"
[[ "$swift_status" -eq 0 && -n "$swift_passed" ]] || {
    grep -E '^✘|error' "$log" | head -50
    echo "swift: tests failed"
    exit 1
}

echo "== addon: static checks"
python3 scripts/check-addon.py

echo "== deployment: compose file and scripts"
scripts/check-compose.sh

echo "== addon: tests in a real Odoo 18"
scripts/test-addon.sh "${ODOO18_HOME:-}"

echo "== first-run setup script in a real Odoo 18"
scripts/test-setup.sh "${ODOO18_HOME:-}"

echo "swift: ${swift_passed} passed, ${swift_failed} failed"
