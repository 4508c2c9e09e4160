#!/usr/bin/env bash
# Runs the wk_postmark_notification addon's tests against a real Odoo 18, then
# checks that the addon upgrades and uninstalls cleanly.
#
#   scripts/test-addon.sh [ODOO18_HOME]
#
# Where Odoo 18 is:
#   ODOO18_HOME     (first argument, or the environment) a directory holding an
#                   Odoo 18 source tree: `odoo-bin` plus the `odoo/` package, in
#                   the packaged layout (community modules in odoo/addons) or the
#                   upstream layout (modules in addons/). Default: /work/odoo18.
#                   `$ODOO18_HOME/src/odoo-bin` is accepted as well.
#   ODOO18_PYTHON   a python with Odoo's requirements installed.
#                   Default: $ODOO18_HOME/venv/bin/python, else python3.
# When no odoo-bin is found there, the script prints "SKIPPED: no Odoo 18 at …"
# and exits 0, so CI can call it on machines without Odoo.
#
# How PostgreSQL is reached:
#   ODOO18_DB_HOST, ODOO18_DB_PORT, ODOO18_DB_USER, ODOO18_DB_PASSWORD
#                   an existing server (the user needs CREATEDB). When
#                   ODOO18_DB_HOST is unset, the script starts a throw-away
#                   cluster of its own (initdb as the `postgres` system user when
#                   run as root) on a free port with its socket in a temp dir,
#                   and removes it on exit.
#
# Other knobs: ODOO18_KEEP_DB=1 keeps the test database; ODOO18_LOG_DIR keeps
# the logs there (default: a temp dir, printed on failure).
#
# What counts as a failure: any ERROR/CRITICAL line, any WARNING line that names
# wk_postmark_notification, a failed or erroring test, no test run at all, and a
# skipped test while a Chromium is installed (browser tours must really run).
# The last line is "N passed, N failed".
set -uo pipefail

ADDON=wk_postmark_notification
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ADDONS_DIR=$REPO_ROOT/odoo_addon
ODOO18_HOME=${1:-${ODOO18_HOME:-/work/odoo18}}

# shellcheck source=scripts/lib/odoo18.sh
. "$REPO_ROOT/scripts/lib/odoo18.sh"
find_odoo18 "$ODOO18_HOME"
ODOO_BIN=$odoo_bin
ODOO_ROOT=$odoo_root
PYTHON=$python

addons_path=$ODOO_ROOT/odoo/addons
[ -d "$ODOO_ROOT/addons" ] && addons_path=$ODOO_ROOT/addons,$addons_path
addons_path=$addons_path,$ADDONS_DIR

WORK=$(mktemp -d /tmp/test-addon.XXXXXX)
chmod 755 "$WORK"
LOG_DIR=${ODOO18_LOG_DIR:-$WORK/logs}
mkdir -p "$LOG_DIR"
PG_STARTED=
DB=wkpm_test_$$

cleanup() {
    if [ -z "${ODOO18_KEEP_DB:-}" ] && [ -n "${DB_READY:-}" ]; then
        dropdb_cmd "$DB" >/dev/null 2>&1
    fi
    if [ -n "$PG_STARTED" ]; then
        as_pg "$PG_BIN/pg_ctl -D $WORK/pgdata -m fast -w stop" >/dev/null 2>&1
    fi
    if [ -z "${ODOO18_LOG_DIR:-}" ] && [ "${KEEP_LOGS:-}" != 1 ]; then
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

as_pg() {
    if [ "$(id -u)" = 0 ]; then
        su postgres -s /bin/bash -c "$1"
    else
        bash -c "$1"
    fi
}

find_pg_bin() {
    if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir
        return
    fi
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

if [ -n "${ODOO18_DB_HOST:-}" ]; then
    DB_HOST=$ODOO18_DB_HOST
    DB_PORT=${ODOO18_DB_PORT:-5432}
    DB_USER=${ODOO18_DB_USER:-odoo}
    DB_PASSWORD=${ODOO18_DB_PASSWORD:-}
else
    PG_BIN=$(find_pg_bin)
    if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
        echo "FAILED: no ODOO18_DB_HOST given and no PostgreSQL server binaries to start one"
        exit 1
    fi
    DB_HOST=$WORK/socket
    DB_PORT=$(free_port)
    DB_USER=odoo
    DB_PASSWORD=
    mkdir -p "$WORK/pgdata" "$DB_HOST"
    [ "$(id -u)" = 0 ] && chown postgres "$WORK/pgdata" "$DB_HOST"
    as_pg "$PG_BIN/initdb -D $WORK/pgdata -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" >"$LOG_DIR/initdb.log" 2>&1 \
        || { echo "FAILED: initdb (see $LOG_DIR/initdb.log)"; KEEP_LOGS=1; exit 1; }
    as_pg "$PG_BIN/pg_ctl -D $WORK/pgdata -l $WORK/pgdata/server.log -w start \
        -o '-p $DB_PORT -k $DB_HOST -c listen_addresses=127.0.0.1 -c fsync=off'" >/dev/null \
        || { echo "FAILED: could not start PostgreSQL"; KEEP_LOGS=1; exit 1; }
    PG_STARTED=1
    # Odoo refuses to connect as the postgres superuser.
    "$PG_BIN/psql" -h "$DB_HOST" -p "$DB_PORT" -U postgres -qc "CREATE ROLE odoo LOGIN CREATEDB" postgres \
        || { echo "FAILED: could not create the odoo role"; exit 1; }
fi

export PGPASSWORD=$DB_PASSWORD
dropdb_cmd() {
    "$PYTHON" - "$1" <<EOF
import sys, psycopg2
conn = psycopg2.connect(host="$DB_HOST", port="$DB_PORT", user="$DB_USER", password="$DB_PASSWORD" or None, dbname="postgres")
conn.autocommit = True
conn.cursor().execute('DROP DATABASE IF EXISTS "%s"' % sys.argv[1])
EOF
}

odoo() {
    local log=$1
    shift
    local command=()
    if [ "${1:-}" = shell ]; then
        command=(shell)
        shift
    fi
    "$PYTHON" "$ODOO_BIN" "${command[@]}" --addons-path="$addons_path" --db_host="$DB_HOST" --db_port="$DB_PORT" \
        --db_user="$DB_USER" --db_password="$DB_PASSWORD" --without-demo=all --data-dir="$WORK/data" \
        --http-interface=127.0.0.1 --http-port="$(free_port)" --gevent-port="$(free_port)" \
        --max-cron-threads=0 --logfile="$log" -d "$DB" "$@"
}

FAILED=0
fail() {
    echo "FAIL: $*"
    FAILED=1
    KEEP_LOGS=1
}

check_log() {
    local log=$1 step=$2
    local bad
    bad=$(grep -E '^[0-9-]+ [0-9:,]+ [0-9]+ (ERROR|CRITICAL) ' "$log")
    [ -n "$bad" ] && fail "$step: error lines in the log:" && echo "$bad" | head -20
    bad=$(grep -E '^[0-9-]+ [0-9:,]+ [0-9]+ WARNING ' "$log" | grep -i "$ADDON")
    [ -n "$bad" ] && fail "$step: warnings from $ADDON:" && echo "$bad" | head -20
    grep -q 'Traceback (most recent call last)' "$log" && ! grep -qE ' (ERROR|CRITICAL) ' "$log" \
        && fail "$step: a traceback in the log"
    return 0
}

echo "Odoo 18: $ODOO_ROOT ($PYTHON), PostgreSQL: $DB_HOST:$DB_PORT as $DB_USER, database $DB"

# 1. A fresh database with mail, installed without tests (the tree's own test
#    modules may import modules this tree does not ship).
dropdb_cmd "$DB" >/dev/null 2>&1
odoo "$LOG_DIR/1-mail.log" -i mail --stop-after-init >/dev/null 2>&1
DB_READY=1
check_log "$LOG_DIR/1-mail.log" "install mail"
if ! grep -q "Modules loaded" "$LOG_DIR/1-mail.log"; then
    fail "install mail did not finish (see $LOG_DIR/1-mail.log)"
    echo "0 passed, 1 failed"
    exit 1
fi

# 2. Install the addon with its tests (at_install and post_install, browser tour included).
odoo "$LOG_DIR/2-install-tests.log" -i "$ADDON" --test-enable --test-tags "/$ADDON" \
    --log-level=test --stop-after-init >/dev/null 2>&1
check_log "$LOG_DIR/2-install-tests.log" "install + tests"
summary=$(grep -E 'failed, [0-9]+ error\(s\) of [0-9]+ tests when loading database' "$LOG_DIR/2-install-tests.log" | tail -1)
run=0
failed=0
if [[ $summary =~ ([0-9]+)\ failed,\ ([0-9]+)\ error\(s\)\ of\ ([0-9]+)\ tests ]]; then
    failed=$((BASH_REMATCH[1] + BASH_REMATCH[2]))
    run=${BASH_REMATCH[3]}
fi
[ "$run" -gt 0 ] || fail "no test ran"
[ "$failed" -eq 0 ] || fail "$failed test(s) failed or errored"
skipped=$(grep -cE ' INFO [^ ]+ [^ ]+: skipped ' "$LOG_DIR/2-install-tests.log")
if [ "$skipped" -gt 0 ]; then
    grep -E ' INFO [^ ]+ [^ ]+: skipped ' "$LOG_DIR/2-install-tests.log" | head -5
    if command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
        || command -v google-chrome >/dev/null; then
        fail "$skipped test(s) skipped although Chromium is installed"
        failed=$((failed + skipped))
    else
        echo "WARNING: $skipped browser test(s) skipped: no Chromium on this machine"
    fi
fi
grep -E "odoo.tests.stats: $ADDON:" "$LOG_DIR/2-install-tests.log" | sed 's/.*odoo.tests.stats: /stats: /'

# 3. Upgrade.
odoo "$LOG_DIR/3-upgrade.log" -u "$ADDON" --stop-after-init >/dev/null 2>&1
check_log "$LOG_DIR/3-upgrade.log" "upgrade"
grep -q "Modules loaded" "$LOG_DIR/3-upgrade.log" || fail "upgrade did not finish"

# 4. Uninstall, the way the Apps menu does it.
odoo "$LOG_DIR/4-uninstall.log" shell --no-http >"$LOG_DIR/4-uninstall.out" 2>&1 <<EOF
env["ir.config_parameter"].set_param("$ADDON.bridge_url", "https://bridge.example.com")
env.cr.commit()
module = env["ir.module.module"].search([("name", "=", "$ADDON")])
module.button_immediate_uninstall()
env.cr.commit()
print("STATE", env["ir.module.module"].search([("name", "=", "$ADDON")]).state)
print("TABLE", env.cr.execute("SELECT to_regclass('postmark_notification')") or env.cr.fetchone()[0])
print("PARAMS", env["ir.config_parameter"].search_count([("key", "=like", "$ADDON.%")]))
EOF
check_log "$LOG_DIR/4-uninstall.log" "uninstall"
grep -q "^STATE uninstalled" "$LOG_DIR/4-uninstall.out" || fail "uninstall: module not uninstalled"
grep -q "^TABLE None" "$LOG_DIR/4-uninstall.out" || fail "uninstall: postmark_notification table left behind"
grep -q "^PARAMS 0" "$LOG_DIR/4-uninstall.out" || fail "uninstall: system parameters left behind"

if [ "$FAILED" != 0 ]; then
    echo "logs: $LOG_DIR"
fi
passed=$((run - failed))
[ "$passed" -lt 0 ] && passed=0
[ "$FAILED" != 0 ] && [ "$failed" -eq 0 ] && failed=1
echo "$passed passed, $failed failed"
exit "$FAILED"
