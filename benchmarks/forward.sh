#!/usr/bin/env bash
# Forwarding throughput of postmark-bridge into a real Odoo 18, and the bridge's memory while it drains a large
# backlog. A benchmark: it prints figures and checks nothing.
#
#   benchmarks/forward.sh [ODOO18_HOME]
#
# Sets up, on 127.0.0.1 and private to this run, what scripts/test-e2e.sh does (PostgreSQL, an Odoo 18 prepared
# by scripts/odoo-setup.sh, the release build of the bridge), then benchmarks/forward.py measures:
#   - one JSON-RPC call per event as the bridge user (`create`, and `bridge_ingest` of one event): the baseline;
#   - a backlog of BENCH_EVENTS (100000) Delivery events, written straight into a fresh inbox, drained by the
#     bridge into Odoo: notifications/s from the bridge's start until `status --json` shows pending == 0, and the
#     ratio to the baseline (targets: at least 10x and at least 1000/s);
#   - a backlog of BENCH_MEMORY_EVENTS (1000000) events drained for at most BENCH_MEMORY_SECONDS (300), the
#     bridge's VmRSS sampled every BENCH_RSS_INTERVAL (5) seconds: min, max, last.
# Other knobs: BENCH_BASELINE_CALLS (2000), BENCH_ODOO_WORKERS (Odoo's --workers, default 2),
# BRIDGE_FORWARD_BATCH (the bridge's batch size), BRIDGE_BIN and E2E_SCRATCH_PATH as for test-e2e.sh,
# E2E_KEEP_LOGS=1 to keep the logs, BENCH_PG_OPTIONS to add PostgreSQL settings (e.g.
# "-c log_min_duration_statement=40" to find slow statements in logs/postgresql.log). Without an Odoo 18 it
# prints "SKIPPED: ..." and exits 0.
# PostgreSQL runs with fsync on, as in production.
set -uo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../scripts/e2e/lib.sh"
find_odoo18 "${1:-${ODOO18_HOME:-/work/odoo18}}"
e2e_init bench-forward
e2e_find_bridge
e2e_start_postgres -c shared_buffers=256MB ${BENCH_PG_OPTIONS:-}
echo "Odoo 18: $odoo_root, PostgreSQL on 127.0.0.1:$pg_port, bridge: $bridge_bin"
e2e_setup_odoo bench
e2e_odoo_command "${BENCH_ODOO_WORKERS:-2}"

BENCH_ODOO_WORKERS=${BENCH_ODOO_WORKERS:-2} BENCH_PSQL=$pg_bin/psql BENCH_PG_HOST=$socket_dir BENCH_PG_PORT=$pg_port \
    E2E_WORK=$work E2E_ODOO_ENV=$odoo_env E2E_BRIDGE_BIN=$bridge_bin E2E_BRIDGE_PORT=$(e2e_free_port) \
    E2E_INBOX_URL=$inbox_url "$python" "$e2e_repo/benchmarks/forward.py" -- "${odoo_command[@]}"
status=$?
[[ $status == 0 ]] || keep_logs=1
exit "$status"
