#!/bin/sh
# Entrypoint of the postmark-bridge image.
# - BRIDGE_ENV_FILE (optional) names a KEY=value file to load first: docker-compose.yml's setup
#   service writes the Odoo connection (ODOO_URL, ODOO_DB, ODOO_USER, ODOO_API_KEY) there.
#   Variables already set on the container win over the file. Lines are parsed, never executed.
# - Bridge subcommands and options run the bridge (`docker run IMAGE status --json`); `serve`, the
#   default, brings the inbox schema up to date itself, waiting for PostgreSQL if need be.
#   Anything else is executed as a command (`docker run -it IMAGE sh`).
set -eu

say() {
    printf 'postmark-bridge entrypoint: %s\n' "$*" >&2
}

load_env_file() {
    while IFS= read -r line || [ -n "$line" ]; do
        case $line in
            '' | '#'*) continue ;;
        esac
        name=${line%%=*}
        value=${line#*=}
        case $name in
            '' | [0-9]* | *[!A-Za-z0-9_]*)
                say "ignoring a line of $1 that is not NAME=value"
                continue
                ;;
        esac
        # $name is a checked identifier, so this only reads the variable of that name.
        eval "current=\${$name:-}"
        if [ -z "$current" ]; then
            export "$name=$value"
        fi
    done <"$1"
}

if [ -n "${BRIDGE_ENV_FILE:-}" ]; then
    if [ ! -r "$BRIDGE_ENV_FILE" ]; then
        say "cannot read BRIDGE_ENV_FILE $BRIDGE_ENV_FILE (has the setup service run?)"
        exit 78
    fi
    load_env_file "$BRIDGE_ENV_FILE"
fi

case ${1:-serve} in
    serve | migrate | status | replay | check | -*)
        exec postmark-bridge "$@"
        ;;
    *)
        exec "$@"
        ;;
esac
