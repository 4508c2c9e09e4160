# shellcheck shell=bash
# Shared by the checking scripts: count checks, print one line each, close with "N passed, N failed".
# Source it, call pass/fail per check, and end with `checks_summary` (its status is the script's).

passed=0
failed=0

# Records a check that held.
pass() {
    printf 'ok: %s\n' "$1"
    passed=$((passed + 1))
}

# Records a check that failed, with optional detail indented under it; then calls `on_failure` if the script
# defines one.
fail() {
    printf 'FAIL: %s\n' "$1"
    [[ -n ${2:-} ]] && printf '%s\n' "$2" | sed 's/^/    /'
    failed=$((failed + 1))
    if [[ $(type -t on_failure) == function ]]; then on_failure; fi
}

# Prints the closing line and returns non-zero when a check failed.
checks_summary() {
    printf '%d passed, %d failed\n' "$passed" "$failed"
    [[ $failed -eq 0 ]]
}
