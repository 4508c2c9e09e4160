#!/usr/bin/env bash
# Builds and runs postmark-bridge.
#
#   scripts/run.sh [postmark-bridge arguments]        (default: serve)
#
# With BRIDGE_DATABASE_URL (and the other variables of README's configuration table) set, it uses them. Without it,
# on a fresh machine, it installs what it needs (as root), starts a private, throw-away PostgreSQL for the inbox,
# writes an example servers file when neither BRIDGE_SERVERS_FILE nor Odoo is configured, and prints the curl
# command that posts a sample Postmark event to the bridge.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${BRIDGE_DATABASE_URL:-}" ]]; then
    [[ "$(id -u)" -eq 0 ]] && scripts/install-deps.sh
    if [[ -z "${BRIDGE_TEST_DATABASE_URL:-}" ]]; then
        echo "run: BRIDGE_DATABASE_URL is not set; starting a private PostgreSQL (its data goes when the bridge stops)" >&2
        exec scripts/with-postgres.sh "$0" "$@"
    fi
    export BRIDGE_DATABASE_URL="$BRIDGE_TEST_DATABASE_URL"
fi

export BRIDGE_LISTEN="${BRIDGE_LISTEN:-127.0.0.1:8080}"
if [[ -z "${BRIDGE_SERVERS_FILE:-}" && -z "${ODOO_URL:-}" ]]; then
    mkdir -p .local
    export BRIDGE_SERVERS_FILE="$PWD/.local/servers.json"
    if [[ ! -s "$BRIDGE_SERVERS_FILE" ]]; then
        token="$(head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
        printf '[{"id": 1, "name": "Example Postmark server", "tokens": ["%s"]}]\n' "$token" >"$BRIDGE_SERVERS_FILE"
        chmod 600 "$BRIDGE_SERVERS_FILE"
    fi
    token="$(sed -E 's/.*"tokens": \["([^"]+)".*/\1/' "$BRIDGE_SERVERS_FILE")"
    cat >&2 <<HINT
run: no Odoo configured; mail server 1 is defined in $BRIDGE_SERVERS_FILE. Post a sample event with:

  curl -u postmark:$token -H 'Content-Type: application/json' \\
    -d @Tests/PostmarkBridgeTests/Fixtures/delivery.json http://$BRIDGE_LISTEN/postmark/webhook/1

then see it with: BRIDGE_DATABASE_URL='$BRIDGE_DATABASE_URL' $(swift build -c release --show-bin-path)/postmark-bridge status

HINT
fi

swift build -c release --product postmark-bridge >&2
exec "$(swift build -c release --show-bin-path)/postmark-bridge" "$@"
