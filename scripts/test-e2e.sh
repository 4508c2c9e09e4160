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
# E2E_KEEP_LOGS=1 keeps the logs (they are kept and named anyway when a check fails). The whole run takes
# about four minutes.
# The last line is "N passed, N failed"; the exit status is non-zero when a check failed.
set -uo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/e2e/lib.sh"
find_odoo18 "${1:-${ODOO18_HOME:-/work/odoo18}}"
e2e_init test-e2e
e2e_find_bridge
e2e_start_postgres -c fsync=off
echo "Odoo 18: $odoo_root, PostgreSQL on 127.0.0.1:$pg_port, bridge: $bridge_bin"
e2e_setup_odoo e2e
e2e_odoo_command 0

E2E_WORK=$work E2E_ODOO_ENV=$odoo_env E2E_BRIDGE_BIN=$bridge_bin E2E_BRIDGE_PORT=$(e2e_free_port) \
    E2E_INBOX_URL=$inbox_url "$python" "$e2e_repo/scripts/e2e/e2e.py" -- "${odoo_command[@]}"
status=$?
[[ $status == 0 ]] || keep_logs=1
exit "$status"
