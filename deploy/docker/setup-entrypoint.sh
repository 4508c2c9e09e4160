#!/bin/bash
# One-shot `setup` service of docker-compose.yml, run in the odoo:18 image before Odoo starts.
# Every run is idempotent, so it simply runs again on each `docker-compose up`:
#   1. makes sure the bridge's inbox database and its own PostgreSQL role exist (password kept in
#      sync with BRIDGE_DB_PASSWORD);
#   2. runs scripts/odoo-setup.sh as Odoo's system user: creates the Odoo database, installs or
#      upgrades wk_postmark_notification, creates the bridge's Odoo user and its API key;
#   3. hands ODOO_URL/ODOO_DB/ODOO_USER/ODOO_API_KEY to the bridge as $HANDOVER_DIR/odoo.env,
#      mode 0600, owned by the bridge image's uid.
# It starts as root only for step 3 (the bridge runs under another uid than Odoo); Odoo itself
# runs as the image's odoo user (ODOO_SYSTEM_USER), so the filestore keeps the right owner.
# Arguments are passed on to odoo-setup.sh: `docker-compose run --rm setup --rotate` makes a new key.
set -euo pipefail

: "${ODOO_DB:?}" "${ODOO_URL:?}" "${BRIDGE_DB_NAME:?}" "${BRIDGE_DB_USER:?}" "${BRIDGE_DB_PASSWORD:?}"
: "${BRIDGE_UID:=10001}" "${HANDOVER_DIR:=/run/postmark-bridge}" "${SETUP_SCRIPTS:=/opt/postmark-bridge/scripts}"
# The system user Odoo runs as in the image (it owns the filestore).
: "${ODOO_SYSTEM_USER:=odoo}"

say() {
    printf 'setup: %s\n' "$*" >&2
}

say "inbox database $BRIDGE_DB_NAME for role $BRIDGE_DB_USER"
psql --no-psqlrc --quiet -v ON_ERROR_STOP=1 --dbname=postgres \
    -v role="$BRIDGE_DB_USER" -v password="$BRIDGE_DB_PASSWORD" -v dbname="$BRIDGE_DB_NAME" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password';
SELECT format('CREATE DATABASE %I OWNER %I', :'dbname', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'dbname') \gexec
REVOKE ALL ON DATABASE :"dbname" FROM PUBLIC;
SQL

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chown "$ODOO_SYSTEM_USER" "$work"
chmod 0700 "$work"
if [[ -f $HANDOVER_DIR/odoo.env ]]; then
    install -m 0600 -o "$ODOO_SYSTEM_USER" "$HANDOVER_DIR/odoo.env" "$work/odoo.env"
fi

odoo_home=$(getent passwd "$ODOO_SYSTEM_USER" | cut -d: -f6)
HOME=${odoo_home:-/} setpriv --reuid="$ODOO_SYSTEM_USER" --regid="$(id -g "$ODOO_SYSTEM_USER")" --init-groups -- \
    bash "$SETUP_SCRIPTS/odoo-setup.sh" --config="${ODOO_RC:-/etc/odoo/odoo.conf}" --database="$ODOO_DB" \
    --url="$ODOO_URL" --env-file="$work/odoo.env" "$@"

install -d -m 0700 -o "$BRIDGE_UID" -g "$BRIDGE_UID" "$HANDOVER_DIR"
install -m 0600 -o "$BRIDGE_UID" -g "$BRIDGE_UID" "$work/odoo.env" "$HANDOVER_DIR/.odoo.env.new"
mv -f "$HANDOVER_DIR/.odoo.env.new" "$HANDOVER_DIR/odoo.env"
say "Odoo connection handed over to the bridge in $HANDOVER_DIR/odoo.env"
