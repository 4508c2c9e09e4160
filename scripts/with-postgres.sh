#!/usr/bin/env bash
# Runs a command against a private, throw-away PostgreSQL server.
#
#   scripts/with-postgres.sh swift test
#
# Creates a temporary cluster (trust authentication, 127.0.0.1 only, socket directory inside the cluster's temporary
# directory) on a free local port, creates the database `bridge_test`, and runs the command with:
#   BRIDGE_TEST_DATABASE_URL  libpq URL of that database
#   BRIDGE_TEST_PG_CTL        a script taking pg_ctl's verbs (stop, start, restart) for that server
# The server is stopped and its directory removed when the command ends, however it ends. Exits non-zero with a
# message when no server could be started, and otherwise with the command's status.
#
# Run as root, the server runs as the `postgres` user (PostgreSQL refuses root); run as anyone else, it runs as that
# user. PG_BIN may name the directory holding initdb and pg_ctl; otherwise the newest /usr/lib/postgresql/*/bin is used.
set -euo pipefail

fail() {
    echo "with-postgres: $*" >&2
    exit 1
}

[[ $# -ge 1 ]] || {
    echo "usage: $0 COMMAND [ARGUMENT...]" >&2
    exit 2
}

bin_dir="${PG_BIN:-}"
if [[ -z "$bin_dir" ]]; then
    bin_dir="$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
    [[ -d "$bin_dir" ]] || bin_dir=""
fi
if [[ -z "$bin_dir" ]] && command -v pg_config >/dev/null; then
    bin_dir="$(pg_config --bindir)"
fi
[[ -n "$bin_dir" && -x "$bin_dir/initdb" && -x "$bin_dir/pg_ctl" ]] \
    || fail "no PostgreSQL server binaries found (install them, e.g. apt-get install postgresql-15, or set PG_BIN)"

if [[ "$(id -u)" == 0 ]]; then
    id postgres >/dev/null 2>&1 || fail "running as root, but there is no 'postgres' user to run the server as"
    as_server_user=(runuser -u postgres --)
else
    as_server_user=()
fi

work_dir="$(mktemp -d "${TMPDIR:-/tmp}/postmark-bridge-pg.XXXXXX")"
data_dir="$work_dir/data"
log_file="$work_dir/postgresql.log"
started=no

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    if [[ "$started" == yes ]]; then
        "${as_server_user[@]}" "$bin_dir/pg_ctl" -D "$data_dir" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$work_dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

chmod 700 "$work_dir"
if [[ "$(id -u)" == 0 ]]; then
    chown postgres: "$work_dir"
fi

if ! "${as_server_user[@]}" "$bin_dir/initdb" -D "$data_dir" -U postgres -A trust -E UTF8 --no-locale \
    >"$work_dir/initdb.log" 2>&1; then
    cat "$work_dir/initdb.log" >&2
    fail "initdb failed"
fi

port_in_use() {
    if command -v ss >/dev/null; then
        [[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
    fi
}

# A port that looks free can be taken before the server binds it, so a failed start is retried on another port.
port=""
for _ in 1 2 3 4 5 6 7 8 9 10; do
    candidate=$((20000 + RANDOM % 40000))
    port_in_use "$candidate" && continue
    cat >"$work_dir/postgresql.auto.conf" <<CONF
port = $candidate
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work_dir'
max_connections = 200
CONF
    "${as_server_user[@]}" cp "$work_dir/postgresql.auto.conf" "$data_dir/postgresql.auto.conf"
    if "${as_server_user[@]}" "$bin_dir/pg_ctl" -D "$data_dir" -l "$log_file" -w -t 30 start >/dev/null 2>&1; then
        started=yes
        port="$candidate"
        break
    fi
done
if [[ "$started" != yes ]]; then
    tail -n 20 "$log_file" >&2 2>/dev/null || true
    fail "could not start PostgreSQL on a free local port"
fi

"${as_server_user[@]}" "$bin_dir/createdb" -h 127.0.0.1 -p "$port" -U postgres bridge_test \
    || fail "could not create the test database"

pg_ctl_script="$work_dir/pg_ctl"
{
    echo '#!/bin/sh'
    printf 'exec %s %q -D %q -l %q -w "$@"\n' "${as_server_user[*]}" "$bin_dir/pg_ctl" "$data_dir" "$log_file"
} >"$pg_ctl_script"
chmod 755 "$pg_ctl_script"

export BRIDGE_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$port/bridge_test"
export BRIDGE_TEST_PG_CTL="$pg_ctl_script"
echo "with-postgres: PostgreSQL $("$bin_dir/pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$port" >&2

set +e
"$@"
status=$?
set -e
exit "$status"
