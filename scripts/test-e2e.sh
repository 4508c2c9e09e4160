#!/usr/bin/env bash
# End-to-end tests of postmark-bridge against a real Odoo 18 with wk_postmark_notification.
#
#   scripts/test-e2e.sh [ODOO18_HOME]
#
# Starts, all on 127.0.0.1 and all private to this run: a throw-away PostgreSQL cluster (one database for
# Odoo, one for the bridge's inbox), an Odoo 18 server on free ports with this repository's odoo_addon, prepared
# by scripts/odoo-setup.sh (which is tested on the way: it installs the addon and makes the bridge user and its
# API key), and the release build of the bridge. Then scripts/e2e/e2e.py drives them over HTTP only (webhooks to
# the bridge, JSON-RPC as admin to read Odoo) and checks:
#   1. every record type becomes a postmark.notification with the right state, sender and message link, and a
#      bounce marks the recipient's mail.notification bounced;
#   2. a duplicate webhook makes no second record;
#   3. mail server settings come from Odoo, and a wrong token is answered 401 and counted on the mail server;
#   4. events posted while Odoo is stopped all arrive, exactly once, when it is back;
#   5. after a SIGKILL of the bridge during a burst, every event answered 200 is in Odoo exactly once.
#
# Where Odoo 18 is: ODOO18_HOME (argument or environment; default /work/odoo18) holds `odoo-bin` (or
# `src/odoo-bin`); ODOO18_PYTHON is the Python with Odoo's requirements (default: its venv/bin/python, else
# python3). Without an odoo-bin there the script prints "SKIPPED: no Odoo 18 at ..." and exits 0.
# The bridge: BRIDGE_BIN names a built postmark-bridge; otherwise it is built with
# `swift build -c release --scratch-path ${E2E_SCRATCH_PATH:-.build}`.
# E2E_KEEP_LOGS=1 keeps the logs (they are kept and named anyway when a check fails).
# The last line is "N passed, N failed"; the exit status is non-zero when a check failed.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
odoo_home=${1:-${ODOO18_HOME:-/work/odoo18}}

odoo_bin=
for candidate in "$odoo_home/odoo-bin" "$odoo_home/src/odoo-bin"; do
    if [[ -f $candidate ]]; then
        odoo_bin=$(readlink -f "$candidate")
        break
    fi
done
if [[ -z $odoo_bin ]]; then
    echo "SKIPPED: no Odoo 18 at $odoo_home (pass its path or set ODOO18_HOME)"
    exit 0
fi
odoo_root=$(dirname "$odoo_bin")
python=${ODOO18_PYTHON:-}
if [[ -z $python ]]; then
    python=python3
    [[ -x $odoo_home/venv/bin/python ]] && python=$odoo_home/venv/bin/python
fi
if ! "$python" -c 'import sys; sys.path.insert(0, sys.argv[1]); import odoo.release as r; assert r.version_info[0] == 18' \
    "$odoo_root" 2>/dev/null; then
    echo "FAILED: $odoo_root is not an Odoo 18 that $python can import"
    echo "0 passed, 1 failed"
    exit 1
fi

work=$(mktemp -d /tmp/test-e2e.XXXXXX)
chmod 0755 "$work"
mkdir -p "$work/pids" "$work/logs"
pg_bin=
pg_started=
socket_dir=$work/pg
pg_log=$socket_dir/postgresql.log
keep_logs=${E2E_KEEP_LOGS:-}

# Stops what this run started, by the process ids it recorded, then removes the temp dir.
cleanup() {
    local pid_file pid
    for pid_file in "$work"/pids/*.pid; do
        [[ -f $pid_file ]] || continue
        pid=$(cat "$pid_file")
        [[ $pid =~ ^[0-9]+$ ]] && kill -TERM "$pid" 2>/dev/null
    done
    for pid_file in "$work"/pids/*.pid; do
        [[ -f $pid_file ]] || continue
        pid=$(cat "$pid_file")
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
    done
    if [[ -n $pg_started ]]; then
        as_postgres "$pg_bin/pg_ctl" -D "$work/pgdata" -m immediate -w stop >/dev/null 2>&1
    fi
    if [[ -n $keep_logs ]]; then
        cp "$pg_log" "$work/logs/" 2>/dev/null
        rm -rf "$work/pgdata" "$work/data" "$socket_dir"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

abort() {
    echo "FAIL: $*"
    echo "logs kept in $work/logs"
    keep_logs=1
    echo "0 passed, 1 failed"
    exit 1
}

as_postgres() {
    if [[ $(id -u) == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The bridge.
bridge_bin=${BRIDGE_BIN:-}
if [[ -z $bridge_bin ]]; then
    scratch=${E2E_SCRATCH_PATH:-$repo/.build}
    echo "building the bridge (swift build -c release --scratch-path $scratch)"
    (cd "$repo" && swift build -c release --scratch-path "$scratch" >"$work/logs/build.log" 2>&1) \
        || { tail -20 "$work/logs/build.log"; abort "the bridge does not build"; }
    bridge_bin=$scratch/release/postmark-bridge
fi
[[ -x $bridge_bin ]] || abort "no bridge executable at $bridge_bin"

# PostgreSQL: one throw-away cluster, as the postgres user when run as root.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -z $pg_bin ]] && command -v pg_config >/dev/null && pg_bin=$(pg_config --bindir)
[[ -n $pg_bin && -x $pg_bin/initdb ]] || abort "no PostgreSQL server binaries (initdb) found"
mkdir -p "$work/pgdata" "$socket_dir"
[[ $(id -u) == 0 ]] && chown postgres "$work/pgdata" "$socket_dir"
as_postgres "$pg_bin/initdb" -D "$work/pgdata" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
    >"$work/logs/initdb.log" 2>&1 || abort "initdb failed (see $work/logs/initdb.log)"
pg_port=
for _ in 1 2 3 4 5; do
    candidate=$(free_port)
    if as_postgres "$pg_bin/pg_ctl" -D "$work/pgdata" -l "$pg_log" -w -t 30 start \
        -o "-p $candidate -k $socket_dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
        >/dev/null 2>&1; then
        pg_port=$candidate
        break
    fi
done
[[ -n $pg_port ]] || { cp "$pg_log" "$work/logs/" 2>/dev/null; abort "could not start PostgreSQL (see $work/logs/postgresql.log)"; }
pg_started=1
"$pg_bin/psql" -h "$socket_dir" -p "$pg_port" -U postgres -qc "CREATE ROLE odoo LOGIN CREATEDB" postgres \
    || abort "could not create the odoo role"
"$pg_bin/createdb" -h "$socket_dir" -p "$pg_port" -U postgres bridge_inbox || abort "could not create the inbox database"

# Odoo: the database is made by odoo-setup.sh, which is part of what is tested here.
database=e2e
http_port=$(free_port)
addons_path=$odoo_root/odoo/addons
[[ -d $odoo_root/addons ]] && addons_path=$odoo_root/addons,$addons_path
addons_path=$addons_path,$repo/odoo_addon
db_options=(--db_host="$socket_dir" --db_port="$pg_port" --db_user=odoo --data-dir="$work/data")
echo "Odoo 18: $odoo_root, PostgreSQL on 127.0.0.1:$pg_port, bridge: $bridge_bin"

started=$SECONDS
"$repo/scripts/odoo-setup.sh" --odoo-bin "$odoo_bin" --python "$python" --addons-path "$addons_path" \
    -d "$database" --url "http://127.0.0.1:$http_port" --env-file "$work/odoo.env" \
    -- "${db_options[@]}" --logfile="$work/logs/odoo-setup.log" >"$work/logs/odoo-setup.out" 2>&1 \
    || { tail -20 "$work/logs/odoo-setup.out"; abort "scripts/odoo-setup.sh failed (see $work/logs)"; }
echo "odoo-setup.sh prepared database $database in $((SECONDS - started)) s"

odoo_command=("$python" "$odoo_bin" server --addons-path="$addons_path" "${db_options[@]}" -d "$database"
    --db-filter="^$database\$" --no-database-list --without-demo=all --workers=0 --max-cron-threads=0
    --http-interface=127.0.0.1 --http-port="$http_port" --gevent-port="$(free_port)"
    --logfile="$work/logs/odoo.log")

E2E_WORK=$work E2E_ODOO_ENV=$work/odoo.env E2E_BRIDGE_BIN=$bridge_bin E2E_BRIDGE_PORT=$(free_port) \
    E2E_INBOX_URL="postgresql://postgres@127.0.0.1:$pg_port/bridge_inbox" \
    "$python" "$repo/scripts/e2e/e2e.py" -- "${odoo_command[@]}"
status=$?
[[ $status == 0 ]] || keep_logs=1
exit "$status"
