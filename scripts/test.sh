#!/usr/bin/env bash
# Runs every test of the project:
#   1. the Swift package (builds without warnings; unit tests, and the database and HTTP tests against a private
#      PostgreSQL this script starts);
#   2. the addon's static checks (Python compiles, XML well formed, manifest files exist, access CSV);
#   3. the docker-compose and deployment checks that need no Docker engine;
#   4. the addon's tests, the first-run setup script and the bridge end to end (webhooks of every record type,
#      duplicates, Odoo stopped during a burst, the bridge killed during a burst) in a real Odoo 18, when one is
#      found (ODOO18_HOME, see scripts/test-addon.sh); without it they print that they skipped.
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
scripts/with-postgres.sh swift test --skip-build 2>&1 | tee "$log" | grep -E '^(✘|✔ Suite|✔ Test run with|.*error:)'
swift_status=${PIPESTATUS[0]}
set -e
swift_passed="$(sed -nE 's/.*Test run with ([0-9]+) tests? .* passed.*/\1/p' "$log" | tail -n 1)"
[[ "$swift_status" -eq 0 && -n "$swift_passed" ]] || {
    grep -E '^✘|error' "$log" | head -50
    echo "swift: tests failed"
    exit 1
}

total_passed=$swift_passed
total_failed=0
total_skipped=0

# Runs one checking script, shows its output, and adds its closing "N passed, N failed" line to the totals; a
# script that skipped (no Odoo 18) counts as one skipped check.
run_counted() {
    local title="$1"
    shift
    echo "== $title"
    set +e
    "$@" 2>&1 | tee "$log"
    local status=${PIPESTATUS[0]}
    set -e
    local summary
    summary="$(grep -E '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)"
    if [[ "$summary" =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
        total_passed=$((total_passed + BASH_REMATCH[1]))
        total_failed=$((total_failed + BASH_REMATCH[2]))
    elif grep -q '^SKIPPED' "$log"; then
        total_skipped=$((total_skipped + 1))
    fi
    if [[ "$status" -ne 0 ]]; then
        echo "$title: failed"
        total_failed=$((total_failed + 1))
    fi
}

run_counted "addon: static checks" python3 scripts/check-addon.py
run_counted "deployment: compose file and scripts" scripts/check-compose.sh
run_counted "addon: tests in a real Odoo 18" scripts/test-addon.sh "${ODOO18_HOME:-}"
run_counted "first-run setup script in a real Odoo 18" scripts/test-setup.sh "${ODOO18_HOME:-}"
run_counted "the bridge end to end against a real Odoo 18" scripts/test-e2e.sh "${ODOO18_HOME:-}"

echo "all: ${total_passed} passed, ${total_failed} failed, ${total_skipped} skipped"
[[ "$total_failed" -eq 0 ]]
