#!/usr/bin/env bash
# Tests scripts/odoo-setup.sh for real: runs it several times against a fresh database of a real
# Odoo 18 and checks, over JSON-RPC on 127.0.0.1, that the key it hands over works, that its user
# is least-privileged, and that running it again reuses, replaces or rotates the key cleanly.
#
#   scripts/test-setup.sh [ODOO18_HOME]
#
# ODOO18_HOME (argument or environment; default /work/odoo18) holds `odoo-bin` (or src/odoo-bin) of
# an Odoo 18; ODOO18_PYTHON is the Python to run it with (default: its venv/bin/python, else python3).
# Without an odoo-bin there, the script prints "SKIPPED: ..." and exits 0.
# PostgreSQL: ODOO18_DB_HOST, ODOO18_DB_PORT, ODOO18_DB_USER, ODOO18_DB_PASSWORD name an existing
# server (the user needs CREATEDB); without ODOO18_DB_HOST a throw-away cluster is started on a free
# port and removed at the end. The test database is SETUP_TEST_DB (default setup_test), dropped
# before and after; ODOO18_KEEP_DB=1 keeps it. The last line is "N passed, N failed".
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
odoo_home=${1:-${ODOO18_HOME:-/work/odoo18}}
database=${SETUP_TEST_DB:-setup_test}
login=postmark-bridge

# shellcheck source=scripts/lib/odoo18.sh
. "$repo/scripts/lib/odoo18.sh"
find_odoo18 "$odoo_home"
[[ $database =~ ^setup_test[A-Za-z0-9_]*$ ]] || {
    echo "FAILED: SETUP_TEST_DB must start with setup_test (it is dropped)"
    exit 1
}

work=$(mktemp -d /tmp/test-setup.XXXXXX)
chmod 0755 "$work"
server_pid=
pg_started=
pg_bin=
# shellcheck source=scripts/lib/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/checks.sh"
# A failed check keeps the work directory for a look afterwards.
on_failure() { keep_work=1; }

# expect LABEL COMMAND...: a check that passes when COMMAND succeeds.
expect() {
    local label=$1
    shift
    if "$@"; then pass "$label"; else fail "$label"; fi
}

free_port() {
    "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

as_postgres() {
    if [[ $(id -u) == 0 ]]; then su postgres -s /bin/bash -c "$1"; else bash -c "$1"; fi
}

drop_database() {
    "$python" - "$database" <<PY
import sys, psycopg2
conn = psycopg2.connect(host="$db_host", port="$db_port", user="$db_user", password="$db_password" or None,
                        dbname="postgres")
conn.autocommit = True
conn.cursor().execute('DROP DATABASE IF EXISTS "%s"' % sys.argv[1])
PY
}

cleanup() {
    local pid
    for pid in "${bridge_pid:-}" "${compose_odoo_pid:-}" "$server_pid"; do
        [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    [[ ${ODOO18_KEEP_DB:-} == 1 ]] || drop_database >/dev/null 2>&1
    [[ -n $pg_started ]] && as_postgres "$pg_bin/pg_ctl -D $work/pgdata -m fast -w stop" >/dev/null 2>&1
    if [[ -n ${keep_work:-} ]]; then echo "logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

if [[ -n ${ODOO18_DB_HOST:-} ]]; then
    db_host=$ODOO18_DB_HOST
    db_port=${ODOO18_DB_PORT:-5432}
    db_user=${ODOO18_DB_USER:-odoo}
    db_password=${ODOO18_DB_PASSWORD:-}
else
    if command -v pg_config >/dev/null && [[ -x $(pg_config --bindir)/initdb ]]; then
        pg_bin=$(pg_config --bindir)
    else
        pg_bin=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
    fi
    [[ -x $pg_bin/initdb ]] || {
        echo "FAILED: no ODOO18_DB_HOST given and no PostgreSQL server binaries to start one"
        exit 1
    }
    db_host=$work/socket
    db_port=$(free_port)
    db_user=odoo
    db_password=
    mkdir -p "$work/pgdata" "$db_host"
    [[ $(id -u) == 0 ]] && chown postgres "$work/pgdata" "$db_host"
    as_postgres "$pg_bin/initdb -D $work/pgdata -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" \
        >"$work/initdb.log" 2>&1 || {
        keep_work=1
        echo "FAILED: initdb (see $work/initdb.log)"
        exit 1
    }
    as_postgres "$pg_bin/pg_ctl -D $work/pgdata -l $work/pgdata/server.log -w start \
        -o '-p $db_port -k $db_host -c listen_addresses=127.0.0.1 -c fsync=off'" >/dev/null || {
        keep_work=1
        echo "FAILED: could not start PostgreSQL"
        exit 1
    }
    pg_started=1
    "$pg_bin/psql" -h "$db_host" -p "$db_port" -U postgres -qc "CREATE ROLE odoo LOGIN CREATEDB" postgres || exit 1
fi

http_port=$(free_port)
url=http://127.0.0.1:$http_port
addons_path=$odoo_root/odoo/addons
[[ -d $odoo_root/addons ]] && addons_path=$odoo_root/addons,$addons_path
# The configuration deliberately leaves this repository's addon out: the setup script must find
# it by itself, as it does for people who run it against their own Odoo.
cat >"$work/odoo.conf" <<CONF
[options]
db_host = $db_host
db_port = $db_port
db_user = $db_user
db_password = ${db_password:-False}
addons_path = $addons_path
data_dir = $work/data
http_interface = 127.0.0.1
http_port = $http_port
gevent_port = $(free_port)
max_cron_threads = 0
CONF
export ODOO_PYTHON=$python ODOO_BIN=$odoo_bin
unset ODOO_API_KEY ODOO_DB ODOO_URL ODOO_CONF ODOO_ADDONS_PATH BRIDGE_ODOO_LOGIN
setup=("$repo/scripts/odoo-setup.sh" --config="$work/odoo.conf" --database="$database" --url="$url")

key_of() {
    sed -n 's/^ODOO_API_KEY=//p' "$1"
}

# check_key ENV_FILE: odoo_check_key.py's checks (its report is shown when one fails).
check_key() {
    "$python" "$repo/scripts/odoo_check_key.py" --env-file "$1" --expect-one-user >"$work/check.out" 2>&1 && return 0
    sed 's/^/    /' "$work/check.out"
    return 1
}

# absent TEXT FILE...: TEXT occurs in none of the files.
absent() {
    local text=$1
    shift
    ! grep -qF -- "$text" "$@"
}

# refused ENV_FILE: the key in ENV_FILE no longer opens Odoo (login nor a call with a known uid).
refused() {
    "$python" - "$1" "$uid" <<'PY'
import os
import sys
sys.path.insert(0, os.environ["SETUP_TEST_SCRIPTS"])
import odoo_check_key as c
settings = c.read_env_file(sys.argv[1])
url, db, login, key = (settings[n] for n in ("ODOO_URL", "ODOO_DB", "ODOO_USER", "ODOO_API_KEY"))
if c.call(url, "common", "authenticate", db, login, key, {}):
    sys.exit(1)
try:
    c.call(url, "object", "execute_kw", db, int(sys.argv[2]), key, "ir.mail_server", "search_count", [[]])
except c.RPCError as error:
    sys.exit(0 if error.name.endswith("AccessDenied") else 1)
sys.exit(1)
PY
}
export SETUP_TEST_SCRIPTS=$repo/scripts

# shell_query PYTHON_EXPRESSION: evaluates it in `odoo shell` on the test database, prints the result.
shell_query() {
    printf 'print("RESULT=%%s" %% (%s,))\n' "$1" |
        "$python" "$odoo_bin" shell --config="$work/odoo.conf" --addons-path="$addons_path,$repo/odoo_addon" \
            --database="$database" --no-http --log-level=warn 2>>"$work/shell.log" | sed -n 's/^RESULT=//p'
}

echo "Odoo 18: $odoo_root ($python); PostgreSQL $db_host:$db_port as $db_user; database $database"
drop_database >/dev/null 2>&1

# 1. First run: creates the database, installs the addon, makes the user and a key.
started=$SECONDS
"${setup[@]}" --env-file="$work/bridge.env" >"$work/run1.out" 2>"$work/run1.err"
status=$?
expect "first run succeeds ($((SECONDS - started)) s)" test $status -eq 0
[[ $status -eq 0 ]] || sed 's/^/    /' "$work/run1.err"
key1=$(key_of "$work/bridge.env")
expect "it hands over a 40-hex API key" grep -Eq '^[0-9a-f]{40}$' <<<"$key1"
expect "the env file is mode 0600" test "$(stat -c %a "$work/bridge.env")" = 600
expect "the env file has ODOO_URL, ODOO_DB, ODOO_USER, ODOO_API_KEY" \
    test "$(grep -cE '^ODOO_(URL|DB|USER|API_KEY)=' "$work/bridge.env")" = 4
expect "nothing is printed on stdout with --env-file" test ! -s "$work/run1.out"
expect "the key appears in no output" absent "$key1" "$work/run1.out" "$work/run1.err"

# The Odoo server, with the addons path the setup script said it used.
"$python" "$odoo_bin" server --config="$work/odoo.conf" --addons-path="$addons_path,$repo/odoo_addon" \
    --database="$database" --db-filter="^$database\$" --logfile="$work/odoo.log" 2>>"$work/odoo.log" &
server_pid=$!
for _ in $(seq 120); do
    curl -fsS -o /dev/null "$url/web/health" 2>/dev/null && break
    sleep 1
done
expect "Odoo serves $url" curl -fsS -o /dev/null "$url/web/health"

expect "the key works over JSON-RPC, and the user is least-privileged" check_key "$work/bridge.env"
uid=$(shell_query "env['res.users'].search([('login', '=', '$login')]).id")

# 2. Second run: nothing to do, the same key; --verify checks it over JSON-RPC itself.
started=$SECONDS
"${setup[@]}" --env-file="$work/bridge.env" --verify >/dev/null 2>"$work/run2.err"
expect "second run succeeds, --verify included ($((SECONDS - started)) s)" test $? -eq 0
expect "second run reuses the key" test "$(key_of "$work/bridge.env")" = "$key1"
expect "second run leaves the user unchanged" grep -q "unchanged; API key 'reused'" "$work/run2.err"
expect "the key still works, still one user" check_key "$work/bridge.env"

# 3. The handover is lost: a run without --env-file prints a new key, the lost one is revoked.
cp "$work/bridge.env" "$work/lost.env"
"${setup[@]}" >"$work/run3.out" 2>"$work/run3.err"
expect "a run without --env-file succeeds" test $? -eq 0
expect "it prints exactly the four settings" test "$(grep -cE '^ODOO_(URL|DB|USER|API_KEY)=' "$work/run3.out")" = 4
expect "... and nothing else" test "$(wc -l <"$work/run3.out")" = 4
key3=$(key_of "$work/run3.out")
expect "the new key differs" test "$key3" != "$key1"
expect "the new key works" check_key "$work/run3.out"
expect "the lost key is refused by the running server" refused "$work/lost.env"

# 4. --rotate replaces a working key; the running server stops accepting the old one at once.
cp "$work/run3.out" "$work/rotate.env"
cp "$work/run3.out" "$work/before-rotate.env"
"${setup[@]}" --env-file="$work/rotate.env" --rotate >/dev/null 2>"$work/run4.err"
expect "--rotate succeeds" test $? -eq 0
expect "--rotate makes a new key" test "$(key_of "$work/rotate.env")" != "$key3"
expect "the rotated key works" check_key "$work/rotate.env"
expect "the key before rotation is refused by the running server" refused "$work/before-rotate.env"
expect "the user has one API key, not a pile" \
    test "$(shell_query "env['res.users.apikeys'].sudo().search_count([('user_id', '=', $uid)])")" = 1

# 5. Someone made the bridge user an administrator: the next run takes that back.
shell_query "env['res.users'].browse($uid).write({'groups_id': [(4, env.ref('base.group_system').id)]}), env.cr.commit()" \
    >/dev/null
expect "(the user was made admin for the test)" \
    test "$(shell_query "env['res.users'].browse($uid).has_group('base.group_system')")" = True
"${setup[@]}" --env-file="$work/rotate.env" >/dev/null 2>"$work/run5.err"
expect "a run after that succeeds" test $? -eq 0
expect "it resets the user's groups" grep -q "updated; API key 'reused'" "$work/run5.err"
expect "the user is no admin any more, the key still works" check_key "$work/rotate.env"
expect "still exactly one user with login $login (archived included)" \
    test "$(shell_query "env['res.users'].with_context(active_test=False).search_count([('login', '=', '$login')])")" = 1

# 6. The addon on disk is newer than the installed one: the next run upgrades it.
version_query="env['ir.module.module'].search([('name', '=', 'wk_postmark_notification')]).latest_version"
version=$(shell_query "$version_query")
shell_query "env.cr.execute(\"UPDATE ir_module_module SET latest_version = '18.0.0.0.1' WHERE name = 'wk_postmark_notification'\"), env.cr.commit()" \
    >/dev/null
"${setup[@]}" --env-file="$work/rotate.env" >/dev/null 2>"$work/run6.err"
expect "a run with an older addon installed succeeds" test $? -eq 0
expect "it upgrades the addon" grep -q "running the upgrade of wk_postmark_notification" "$work/run6.err"
expect "the installed version is $version again" test "$(shell_query "$version_query")" = "$version"
expect "the key still works after the upgrade" check_key "$work/rotate.env"

# 7. docker-compose's setup service and the bridge image's entrypoint, without Docker: the same
#    scripts, run as root with Odoo's system user played by `nobody` and the bridge's uid by 10001.
#    Needs root (to switch users) and the throw-away cluster (to create the inbox role).
if [[ $(id -u) != 0 || -z $pg_started ]] || ! command -v setpriv >/dev/null || ! id nobody >/dev/null 2>&1; then
    echo "skipped: the docker-compose setup flow (needs root, setpriv, a user nobody and no ODOO18_DB_HOST)"
else
    compose=$work/compose
    mkdir -p "$compose/data" "$compose/bin"
    chown nobody "$compose/data"
    "$pg_bin/psql" -h "$db_host" -p "$db_port" -U postgres -qc "CREATE ROLE compose_admin LOGIN SUPERUSER" postgres
    # The image's odoo.conf: addons and data only; the database comes from PG* variables.
    printf '[options]\naddons_path = %s\ndata_dir = %s\n' "$addons_path,$repo/odoo_addon" "$compose/data" \
        >"$compose/odoo.conf"
    cat >"$compose/bin/postmark-bridge" <<'STUB'
#!/bin/sh
echo "ran $* as $(id -u) for ${ODOO_USER:-?}@${ODOO_DB:-?} key ${#ODOO_API_KEY}"
STUB
    chmod 0755 "$compose/bin/postmark-bridge"
    run_setup_service() {
        env PGHOST="$db_host" PGPORT="$db_port" PGUSER=compose_admin ODOO_RC="$compose/odoo.conf" \
            ODOO_DB="${database}_compose" ODOO_URL=http://odoo:8069 BRIDGE_DB_NAME=postmark_bridge \
            BRIDGE_DB_USER=postmark_bridge BRIDGE_DB_PASSWORD=secret BRIDGE_UID=10001 \
            HANDOVER_DIR="$compose/handover" SETUP_SCRIPTS="$repo/scripts" ODOO_SYSTEM_USER=nobody \
            bash "$repo/deploy/docker/setup-entrypoint.sh" "$@"
    }
    run_setup_service >"$work/compose1.out" 2>&1
    expect "the setup service's first run succeeds" test $? -eq 0
    handover=$compose/handover/odoo.env
    expect "it hands the connection over in a 0600 file of uid 10001" test "$(stat -c '%a %u' "$handover")" = "600 10001"
    expect "... in a 0700 directory of uid 10001" test "$(stat -c '%a %u' "$compose/handover")" = "700 10001"
    expect "... with the URL the bridge reaches Odoo at" grep -qx 'ODOO_URL=http://odoo:8069' "$handover"
    expect "Odoo's filestore belongs to Odoo's user, not root" \
        test "$(stat -c %U "$compose/data/filestore/${database}_compose")" = nobody
    expect "the inbox database exists, owned by the bridge's role" test "$("$pg_bin/psql" -h "$db_host" -p "$db_port" \
        -U postgres -tAc "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'postmark_bridge'" postgres)" \
        = postmark_bridge
    compose_key=$(key_of "$handover")
    run_setup_service >"$work/compose2.out" 2>&1
    expect "the setup service's second run succeeds" test $? -eq 0
    expect "... and keeps the key" test "$(key_of "$handover")" = "$compose_key"
    expect "the key is in no output of the setup service" absent "$compose_key" "$work/compose1.out" "$work/compose2.out"
    entrypoint=(env PATH="$compose/bin:$PATH" BRIDGE_ENV_FILE="$handover" sh "$repo/deploy/docker/bridge-entrypoint.sh")
    setpriv --reuid=10001 --regid=10001 --clear-groups "${entrypoint[@]}" serve >"$work/bridge.out" 2>&1
    expect "the bridge's entrypoint (uid 10001) reads it and serves" test "$(cat "$work/bridge.out")" = \
        "ran serve as 10001 for $login@${database}_compose key 40"
    setpriv --reuid=10002 --regid=10002 --clear-groups "${entrypoint[@]}" serve >/dev/null 2>&1
    expect "another uid cannot read it" test $? -eq 78
    run_setup_service --rotate >"$work/compose3.out" 2>&1
    expect "\`setup --rotate\` succeeds" test $? -eq 0
    expect "... and hands over a new key" test "$(key_of "$handover")" != "$compose_key"

    # 8. The real bridge, started by the image's entrypoint on the handed-over connection, logs in
    #    to Odoo, stores a webhook and forwards it. Needs a built postmark-bridge: BRIDGE_BIN, or
    #    this repository's .build/release or .build/debug.
    bridge_bin=${BRIDGE_BIN:-}
    for candidate in "$repo/.build/release/postmark-bridge" "$repo/.build/debug/postmark-bridge"; do
        [[ -z $bridge_bin && -x $candidate ]] && bridge_bin=$candidate
    done
    if [[ -z $bridge_bin ]]; then
        echo "skipped: the real bridge on the handed-over key (no postmark-bridge built; or set BRIDGE_BIN)"
    else
        compose_db=${database}_compose
        as_odoo_user=(setpriv --reuid=nobody --regid="$(id -g nobody)" --init-groups
            env HOME=/ PGHOST="$db_host" PGPORT="$db_port" PGUSER=compose_admin)
        odoo_port=$(free_port)
        "${as_odoo_user[@]}" "$python" "$odoo_bin" server --config="$compose/odoo.conf" --database="$compose_db" \
            --db-filter="^$compose_db\$" --http-interface=127.0.0.1 --http-port="$odoo_port" \
            --gevent-port="$(free_port)" --max-cron-threads=0 --log-level=warn >>"$work/compose-odoo.log" 2>&1 &
        compose_odoo_pid=$!
        # A Postmark mail server, as an administrator would set it up in Odoo.
        server_and_token=$("${as_odoo_user[@]}" "$python" "$odoo_bin" shell --config="$compose/odoo.conf" \
            --database="$compose_db" --no-http --log-level=warn 2>>"$work/shell.log" <<'PY' | sed -n 's/^SERVER=//p'
server = env["ir.mail_server"].create({"name": "Postmark", "smtp_host": "127.0.0.1", "postmark_enabled": True})
if not server.postmark_webhook_token:
    server.action_postmark_generate_token()
env.cr.commit()
print("SERVER=%s %s" % (server.id, server.postmark_webhook_token))
PY
        )
        read -r mail_server_id webhook_token <<<"$server_and_token"
        install -m 0755 "$bridge_bin" "$compose/bin/postmark-bridge"
        bridge_port=$(free_port)
        bridge=(setpriv --reuid=10001 --regid=10001 --clear-groups env -i PATH="$compose/bin:/usr/bin:/bin"
            BRIDGE_ENV_FILE="$handover" ODOO_URL="http://127.0.0.1:$odoo_port"
            BRIDGE_DATABASE_URL="postgresql://postmark_bridge@/postmark_bridge?host=$db_host&port=$db_port"
            BRIDGE_LISTEN="127.0.0.1:$bridge_port" BRIDGE_PUBLIC_URL="http://127.0.0.1:$bridge_port"
            POSTMARK_API_URL=http://127.0.0.1:9 sh "$repo/deploy/docker/bridge-entrypoint.sh")
        "${bridge[@]}" serve >"$work/bridge-serve.log" 2>&1 &
        bridge_pid=$!
        for _ in $(seq 90); do
            curl -fsS -o /dev/null "http://127.0.0.1:$bridge_port/readyz" 2>/dev/null && break
            sleep 1
        done
        expect "the real bridge is ready: inbox and Odoo reachable with the handed-over key" \
            curl -fsS -o /dev/null "http://127.0.0.1:$bridge_port/readyz"
        # The mail server settings are read from Odoo at start; wait until the webhook is accepted.
        for _ in $(seq 30); do
            answer=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
                -H "X-Webhook-Token: $webhook_token" "http://127.0.0.1:$bridge_port/postmark/webhook/$mail_server_id" \
                -d '{"RecordType":"Delivery","ServerID":1,"MessageStream":"outbound","Tag":"setup-test",
                     "MessageID":"00000000-0000-4000-8000-000000000001","Recipient":"setup-test@example.com",
                     "DeliveredAt":"2026-01-02T03:04:05Z","Details":"Test delivery"}')
            [[ $answer == 200 ]] && break
            sleep 1
        done
        expect "it stores a Delivery webhook (HTTP 200)" test "${answer:-}" = 200
        for _ in $(seq 30); do
            "${bridge[@]}" status --json 2>/dev/null | grep -q '"forwarded":1' && break
            sleep 1
        done
        expect "it forwards the event to Odoo" test "$("${as_odoo_user[@]}" "$python" "$odoo_bin" shell \
            --config="$compose/odoo.conf" --database="$compose_db" --no-http --log-level=warn 2>>"$work/shell.log" \
            <<<'print("COUNT=%d" % env["postmark.notification"].search_count([("recipient", "=", "setup-test@example.com"), ("state", "=", "delivered")]))' |
            sed -n 's/^COUNT=//p')" = 1
    fi
fi

checks_summary
