#!/usr/bin/env python3
"""Checks, over Odoo's JSON-RPC API, that the bridge's Odoo credentials work and are least-privileged.

Reads ODOO_URL, ODOO_DB, ODOO_USER and ODOO_API_KEY from --env-file or the environment, then:
the key authenticates as that user; the user can read ir.mail_server (what the bridge needs); it is
in the addon's bridge group; it is neither Settings admin nor Access Rights manager; an admin-only
model (ir.config_parameter) stays closed to it. Prints one line per check, never the key.
Standard library only, so any Python 3 runs it (outside Odoo's virtualenv too).
"""

import argparse
import json
import os
import sys
import urllib.error
import urllib.request

BRIDGE_GROUP = "wk_postmark_notification.group_postmark_bridge"


class RPCError(Exception):
    """A JSON-RPC error answer: `name` is Odoo's exception class, such as odoo.exceptions.AccessError."""

    def __init__(self, name, message):
        super().__init__(f"{name}: {message}")
        self.name = name


def read_env_file(path):
    """KEY=value lines of an environment file; comments and blank lines skipped."""
    values = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                name, value = line.split("=", 1)
                values[name.removeprefix("export ").strip()] = value.strip().strip("'\"")
    return values


def call(url, service, method, *args):
    """One /jsonrpc call; returns `result` (None when Odoo leaves it out) or raises RPCError."""
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {"service": service, "method": method, "args": list(args)},
        }
    ).encode()
    request = urllib.request.Request(
        url.rstrip("/") + "/jsonrpc", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.load(response)
    if "error" in answer:
        data = answer["error"].get("data") or {}
        raise RPCError(
            data.get("name", "error"), data.get("message") or answer["error"].get("message", "")
        )
    return answer.get("result")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--env-file", help="read the ODOO_* settings from this file instead of the environment"
    )
    parser.add_argument("--group", default=BRIDGE_GROUP, help="XML id of the bridge group")
    parser.add_argument(
        "--expect-one-user",
        action="store_true",
        help="also check that exactly one user (archived ones included) has this login",
    )
    options = parser.parse_args()

    settings = read_env_file(options.env_file) if options.env_file else os.environ
    missing = [
        n for n in ("ODOO_URL", "ODOO_DB", "ODOO_USER", "ODOO_API_KEY") if not settings.get(n)
    ]
    if missing:
        print(f"FAIL: missing {', '.join(missing)}")
        return 2
    url, db, login, key = (
        settings[n] for n in ("ODOO_URL", "ODOO_DB", "ODOO_USER", "ODOO_API_KEY")
    )
    failures = 0

    def check(label, passed, detail=""):
        nonlocal failures
        failures += 0 if passed else 1
        print(f"{'ok' if passed else 'FAIL'}: {label}{' (' + detail + ')' if detail else ''}")

    def execute(model, method, *args, **kwargs):
        return call(url, "object", "execute_kw", db, uid, key, model, method, list(args), kwargs)

    try:
        version = call(url, "common", "version")
        check("Odoo answers at " + url, True, "server " + str(version.get("server_version")))
        uid = call(url, "common", "authenticate", db, login, key, {})
    except (OSError, urllib.error.URLError, RPCError) as error:
        check("Odoo answers at " + url, False, str(error))
        return 1
    check(f"the API key authenticates as {login}", isinstance(uid, int) and uid > 0, f"uid {uid}")
    if not uid:
        return 1

    try:
        servers = execute("ir.mail_server", "search_read", [], fields=["id", "name"], limit=50)
        check(
            "the user can read ir.mail_server",
            isinstance(servers, list),
            f"{len(servers)} server(s)",
        )
    except RPCError as error:
        check("the user can read ir.mail_server", False, str(error))

    for group, wanted in (
        (options.group, True),
        ("base.group_user", True),
        ("base.group_system", False),
        ("base.group_erp_manager", False),
    ):
        try:
            member = execute("res.users", "has_group", [uid], group)
            check(f"{'in' if wanted else 'not in'} group {group}", member is wanted)
        except RPCError as error:
            check(f"{'in' if wanted else 'not in'} group {group}", False, str(error))

    try:
        execute("ir.config_parameter", "search_read", [], fields=["key"], limit=1)
        check("admin-only ir.config_parameter is closed to the user", False, "it could read it")
    except RPCError as error:
        check(
            "admin-only ir.config_parameter is closed to the user",
            error.name.endswith("AccessError"),
            error.name,
        )

    if options.expect_one_user:
        try:
            count = execute(
                "res.users", "search_count", [("login", "=", login)], context={"active_test": False}
            )
            check(f"exactly one user has login {login}", count == 1, f"{count} found")
        except RPCError as error:
            check(f"exactly one user has login {login}", False, str(error))

    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
