"""Odoo side of scripts/odoo-setup.sh; runs inside `odoo shell` (stdin), never on its own.

Two actions, chosen by SETUP_ACTION:

probe      (shell started without a database) reports whether the database exists, whether
           wk_postmark_notification is on the addons path and in which state and version it is
           installed there, so that the caller knows whether to install, upgrade or go on.
configure  (shell started on the database) creates or reuses the bridge's user, in the addon's
           bridge group and nothing more, and makes sure it has a working API key.

Inputs come from environment variables (SETUP_*), results go to the file SETUP_RESULT_FILE as
KEY=value lines, created with mode 0600: standard output is shared with Odoo's own chatter, and
the API key must never reach a log.
"""

import json
import os
import re
import sys

MODULE = "wk_postmark_notification"
DEFAULT_BRIDGE_GROUP = "wk_postmark_notification.group_postmark_bridge"
KEY_PATTERN = re.compile(r"^[0-9a-f]{40}$")


class SetupError(Exception):
    """A problem the operator has to fix; the message never carries a secret."""


def write_result(values):
    """Writes KEY=value lines to SETUP_RESULT_FILE, readable by the owner only."""
    path = os.environ["SETUP_RESULT_FILE"]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as result:
        for name, value in values.items():
            result.write(f"{name}={value}\n")


def note(message):
    """Tells the operator what happened, on standard error."""
    print(f"odoo-setup: {message}", file=sys.stderr)


def probe(odoo):
    """Reports the database and module state without opening an Odoo environment."""
    from odoo.modules.module import adapt_version, get_manifest, get_module_path
    from odoo.tools import config

    database = os.environ["SETUP_DB"]
    path = get_module_path(MODULE, display_warning=False)
    manifest = get_manifest(MODULE) if path else {}
    result = {
        "ADDONS_PATH": config["addons_path"],
        "MODULE_PATH": path or "",
        "MANIFEST_VERSION": adapt_version(manifest["version"]) if manifest.get("version") else "",
        "DB_EXISTS": "0",
        "MODULE_STATE": "",
        "INSTALLED_VERSION": "",
        "NEEDS_UPGRADE": "0",
    }

    with odoo.sql_db.db_connect("postgres").cursor() as cr:
        cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database])
        result["DB_EXISTS"] = "1" if cr.fetchone() else "0"

    if result["DB_EXISTS"] == "1":
        with odoo.sql_db.db_connect(database).cursor() as cr:
            cr.execute("SELECT to_regclass('ir_module_module') IS NOT NULL")
            if cr.fetchone()[0]:
                cr.execute(
                    "SELECT state, latest_version FROM ir_module_module WHERE name = %s", [MODULE]
                )
                row = cr.fetchone()
                if row:
                    result["MODULE_STATE"] = row[0] or ""
                    result["INSTALLED_VERSION"] = row[1] or ""

    if result["MODULE_STATE"] == "installed" and result["MANIFEST_VERSION"]:
        from odoo.tools.parse_version import parse_version

        installed = parse_version(result["INSTALLED_VERSION"] or "0")
        if parse_version(result["MANIFEST_VERSION"]) > installed:
            result["NEEDS_UPGRADE"] = "1"

    odoo.sql_db.close_all()
    write_result(result)


def bridge_group_xmlid(env):
    """The bridge group's XML id, from the contract file the addon ships (the one source of truth)."""
    from odoo.modules.module import get_module_path

    contract = os.path.join(
        get_module_path(MODULE, display_warning=False) or "", "bridge_contract.json"
    )
    try:
        with open(contract, encoding="utf-8") as handle:
            return json.load(handle).get("bridge_group") or DEFAULT_BRIDGE_GROUP
    except (OSError, ValueError):
        return DEFAULT_BRIDGE_GROUP


def ensure_user(env, login):
    """Creates the bridge's user, or brings an existing one back to exactly the bridge's rights.

    Returns the user and what was done: created, updated or unchanged.
    """
    from odoo.fields import Command

    group_xmlid = bridge_group_xmlid(env)
    bridge_group = env.ref(group_xmlid, raise_if_not_found=False)
    if not bridge_group:
        raise SetupError(f"group {group_xmlid} not found: is {MODULE} installed and up to date?")
    wanted = env.ref("base.group_user") | bridge_group

    users = env["res.users"].with_context(active_test=False, no_reset_password=True)
    # Odoo 19 renamed the field; the script keeps working there.
    groups_field = "group_ids" if "group_ids" in users._fields else "groups_id"
    user = users.search([("login", "=", login)])

    if user and (
        user._is_superuser() or user == env.ref("base.user_admin", raise_if_not_found=False)
    ):
        raise SetupError(f"login {login!r} belongs to the administrator; choose another login")

    if not user:
        user = users.create(
            {
                "name": "Postmark Bridge",
                "login": login,
                groups_field: [Command.set(wanted.ids)],
            }
        )
        outcome = "created"
    else:
        outcome = "unchanged"
        if not user.active:
            user.active = True
            outcome = "updated"
        # Implied groups come back by themselves; anything else (Settings, Sales...) is taken away.
        implied = (
            wanted.all_implied_ids
            if "all_implied_ids" in wanted._fields
            else wanted.trans_implied_ids
        )
        expected = (wanted | implied).sorted("id")
        if user[groups_field].sorted("id") != expected:
            user.write({groups_field: [Command.set(wanted.ids)]})
            outcome = "updated"

    if user.has_group("base.group_system") or user.has_group("base.group_erp_manager"):
        raise SetupError(
            f"the group {group_xmlid} implies administration rights; the bridge must not be admin"
        )
    if not user.has_group(group_xmlid) or user.share:
        raise SetupError(f"user {login!r} could not be made an internal user of {group_xmlid}")
    return user, outcome


def ensure_key(env, user, key_name, offered, rotate):
    """Returns a working persistent API key of `user` and what was done: reused, created or rotated.

    A key handed over by the caller is kept when it still authenticates as `user`. Otherwise a new
    key is made and the user's earlier keys of the same name are revoked: nobody can use them any
    more (the handover was lost or is being replaced), and leaving them would only widen exposure.
    """
    keys = env["res.users.apikeys"].sudo()
    offered_ok = bool(offered) and KEY_PATTERN.match(offered) is not None
    if offered_ok and keys._check_credentials(scope="rpc", key=offered) == user.id:
        if not rotate:
            return offered, "reused"

    previous = keys.search([("user_id", "=", user.id), ("name", "=", key_name)])
    key = env["res.users.apikeys"].with_user(user).sudo()._generate(None, key_name, None)
    if previous:
        previous.unlink()
        # res.users.check caches (uid, key) pairs: drop them here and in every running Odoo worker.
        env.registry.clear_cache()
    return key, ("rotated" if previous else "created")


def configure(env):
    """Sets up the user and key and writes ODOO_USER and ODOO_API_KEY to the result file."""
    login = os.environ["SETUP_LOGIN"]
    key_name = os.environ.get("SETUP_KEY_NAME") or "postmark-bridge"
    offered = os.environ.get("SETUP_OFFERED_KEY", "").strip().lower()
    rotate = os.environ.get("SETUP_ROTATE") == "1"

    module = env["ir.module.module"].search([("name", "=", MODULE)])
    if module.state != "installed":
        raise SetupError(
            f"{MODULE} is not installed in {env.cr.dbname} (state: {module.state or 'unknown'})"
        )

    user, user_outcome = ensure_user(env, login)
    key, key_outcome = ensure_key(env, user, key_name, offered, rotate)
    env.cr.commit()
    if key_outcome == "rotated":
        env.registry.signal_changes()

    note(f"user {login!r} (id {user.id}) {user_outcome}; API key {key_outcome!r}")
    write_result(
        {
            "ODOO_USER": login,
            "ODOO_API_KEY": key,
            "USER_ID": user.id,
            "USER_OUTCOME": user_outcome,
            "KEY_OUTCOME": key_outcome,
        }
    )


def main(namespace):
    """Runs SETUP_ACTION with the variables `odoo shell` put in the script's namespace."""
    action = os.environ.get("SETUP_ACTION")
    try:
        if action == "probe":
            probe(namespace["odoo"])
        elif action == "configure":
            if "env" not in namespace:
                raise SetupError("no database given to odoo shell")
            configure(namespace["env"])
        else:
            raise SetupError(f"unknown SETUP_ACTION {action!r}")
    except SetupError as error:
        note(f"error: {error}")
        sys.exit(3)


if __name__ == "__main__":
    main(globals())
