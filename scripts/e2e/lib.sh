# shellcheck shell=bash
# Shared by scripts/test-e2e.sh and benchmarks/forward.sh: a private PostgreSQL, an Odoo 18 with
# wk_postmark_notification prepared by scripts/odoo-setup.sh, and the release build of the bridge, all on
# 127.0.0.1, all removed on exit. Source it, then call in order:
#   find_odoo18 HOME        (scripts/lib/odoo18.sh) sets odoo_bin, odoo_root, python; SKIPPED without an Odoo 18
#   e2e_init NAME           makes $work (logs in $work/logs, pid files in $work/pids) and installs the exit trap
#   e2e_find_bridge         sets bridge_bin (BRIDGE_BIN, else builds with --scratch-path ${E2E_SCRATCH_PATH:-.build})
#   e2e_start_postgres      sets pg_bin, pg_port, socket_dir; creates the role odoo and the database bridge_inbox
#   e2e_setup_odoo DB       runs odoo-setup.sh for database DB; sets http_port, odoo_env (the four ODOO_* settings)
#   e2e_odoo_command N      sets odoo_command: the Odoo server of DB with N workers (0: threaded)
# Processes whose pid is written to $work/pids/NAME.pid are stopped by the exit trap (TERM, then KILL).
# e2e_abort MESSAGE prints a failure and a closing "0 passed, 1 failed", and exits 1.

e2e_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=
pg_started=
keep_logs=${E2E_KEEP_LOGS:-}

# shellcheck source=scripts/lib/odoo18.sh
source "$e2e_repo/scripts/lib/odoo18.sh"

e2e_init() {
    work=$(mktemp -d "/tmp/$1.XXXXXX")
    chmod 0755 "$work"
    mkdir -p "$work/pids" "$work/logs"
    socket_dir=$work/pg
    trap e2e_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# Stops what this run started, by the process ids it recorded, then removes the temp dir (logs stay when asked
# for, or after a failure).
e2e_cleanup() {
    local pid_file pid
    for pid_file in "$work"/pids/*.pid; do
        [[ -f $pid_file ]] || continue
        pid=$(cat "$pid_file")
        [[ $pid =~ ^[0-9]+$ ]] && kill -TERM "$pid" 2>/dev/null
    done
    for pid_file in "$work"/pids/*.pid; do
        [[ -f $pid_file ]] || continue
        pid=$(cat "$pid_file")
        [[ $pid =~ ^[0-9]+$ ]] || continue
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
    done
    if [[ -n $pg_started ]]; then
        e2e_as_postgres "$pg_bin/pg_ctl" -D "$work/pgdata" -m immediate -w stop >/dev/null 2>&1
    fi
    if [[ -n $keep_logs ]]; then
        cp "$socket_dir/postgresql.log" "$work/logs/" 2>/dev/null
        rm -rf "$work/pgdata" "$work/data" "$socket_dir"
    else
        rm -rf "$work"
    fi
}

e2e_abort() {
    echo "FAIL: $*"
    echo "logs kept in $work/logs"
    keep_logs=1
    echo "0 passed, 1 failed"
    exit 1
}

e2e_as_postgres() {
    if [[ $(id -u) == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

e2e_free_port() {
    "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

e2e_find_bridge() {
    bridge_bin=${BRIDGE_BIN:-}
    if [[ -z $bridge_bin ]]; then
        local scratch=${E2E_SCRATCH_PATH:-$e2e_repo/.build}
        echo "building the bridge (swift build -c release --scratch-path $scratch)"
        (cd "$e2e_repo" && swift build -c release --scratch-path "$scratch" >"$work/logs/build.log" 2>&1) \
            || { tail -20 "$work/logs/build.log"; e2e_abort "the bridge does not build"; }
        bridge_bin=$scratch/release/postmark-bridge
    fi
    [[ -x $bridge_bin ]] || e2e_abort "no bridge executable at $bridge_bin"
}

# One throw-away cluster for Odoo and the bridge's inbox, as the postgres user when run as root. Extra server
# settings may be given as arguments (-c name=value).
e2e_start_postgres() {
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [[ -z $pg_bin ]] && command -v pg_config >/dev/null && pg_bin=$(pg_config --bindir)
    [[ -n $pg_bin && -x $pg_bin/initdb ]] || e2e_abort "no PostgreSQL server binaries (initdb) found"
    mkdir -p "$work/pgdata" "$socket_dir"
    [[ $(id -u) == 0 ]] && chown postgres "$work/pgdata" "$socket_dir"
    e2e_as_postgres "$pg_bin/initdb" -D "$work/pgdata" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
        >"$work/logs/initdb.log" 2>&1 || e2e_abort "initdb failed (see $work/logs/initdb.log)"
    local candidate
    pg_port=
    for _ in 1 2 3 4 5; do
        candidate=$(e2e_free_port)
        if e2e_as_postgres "$pg_bin/pg_ctl" -D "$work/pgdata" -l "$socket_dir/postgresql.log" -w -t 30 start \
            -o "-p $candidate -k $socket_dir -c listen_addresses=127.0.0.1 -c max_connections=200 $*" \
            >/dev/null 2>&1; then
            pg_port=$candidate
            break
        fi
    done
    [[ -n $pg_port ]] || { keep_logs=1; e2e_abort "could not start PostgreSQL (see $work/logs/postgresql.log)"; }
    pg_started=1
    "$pg_bin/psql" -h "$socket_dir" -p "$pg_port" -U postgres -qc "CREATE ROLE odoo LOGIN CREATEDB" postgres \
        || e2e_abort "could not create the odoo role"
    "$pg_bin/createdb" -h "$socket_dir" -p "$pg_port" -U postgres bridge_inbox \
        || e2e_abort "could not create the inbox database"
    inbox_url="postgresql://postgres@127.0.0.1:$pg_port/bridge_inbox"
}

# The database is made by odoo-setup.sh, which is tested on the way.
e2e_setup_odoo() {
    database=$1
    http_port=$(e2e_free_port)
    addons_path=$odoo_root/odoo/addons
    [[ -d $odoo_root/addons ]] && addons_path=$odoo_root/addons,$addons_path
    addons_path=$addons_path,$e2e_repo/odoo_addon
    db_options=(--db_host="$socket_dir" --db_port="$pg_port" --db_user=odoo --data-dir="$work/data")
    local started=$SECONDS
    "$e2e_repo/scripts/odoo-setup.sh" --odoo-bin "$odoo_bin" --python "$python" --addons-path "$addons_path" \
        -d "$database" --url "http://127.0.0.1:$http_port" --env-file "$work/odoo.env" \
        -- "${db_options[@]}" --logfile="$work/logs/odoo-setup.log" >"$work/logs/odoo-setup.out" 2>&1 \
        || { tail -20 "$work/logs/odoo-setup.out"; e2e_abort "scripts/odoo-setup.sh failed (see $work/logs)"; }
    odoo_env=$work/odoo.env
    echo "odoo-setup.sh prepared database $database in $((SECONDS - started)) s"
}

e2e_odoo_command() {
    odoo_command=("$python" "$odoo_bin" server --addons-path="$addons_path" "${db_options[@]}" -d "$database"
        --db-filter="^$database\$" --no-database-list --without-demo=all --workers="$1" --max-cron-threads=0
        --http-interface=127.0.0.1 --http-port="$http_port" --gevent-port="$(e2e_free_port)"
        --logfile="$work/logs/odoo.log")
}
