"""Drives the end-to-end checks of postmark-bridge against a real Odoo 18 (run by scripts/test-e2e.sh).

Standard library only. Talks to the bridge with Postmark-shaped webhooks and to Odoo with JSON-RPC as the
administrator; starts, stops and kills the Odoo server and the bridge it is given, and records their process ids
in $E2E_WORK/pids so the calling script can stop them whatever happens.

    E2E_WORK=... E2E_ODOO_ENV=... E2E_BRIDGE_BIN=... E2E_BRIDGE_PORT=... E2E_INBOX_URL=... \\
        python e2e.py -- ODOO COMMAND LINE...

Prints PASS/FAIL per check and, as its last line, "N passed, N failed"; exits 1 when a check failed.
"""

import base64
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from odoo_check_key import read_env_file  # noqa: E402  (scripts/ is not a package)

WORK = os.environ["E2E_WORK"]
BRIDGE_BIN = os.environ["E2E_BRIDGE_BIN"]
BRIDGE_PORT = int(os.environ["E2E_BRIDGE_PORT"])
INBOX_URL = os.environ["E2E_INBOX_URL"]
ADMIN = ("admin", "admin")
HOST = "127.0.0.1"


ODOO_ENV = read_env_file(os.environ["E2E_ODOO_ENV"])
ODOO_URL = ODOO_ENV["ODOO_URL"]
ODOO_DB = ODOO_ENV["ODOO_DB"]


def log(message):
    print(time.strftime("%H:%M:%S"), message, flush=True)


def wait_until(predicate, timeout, interval=0.5):
    """Calls predicate until it returns something truthy or timeout seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# ----------------------------------------------------------------------------------------------------------------
# Odoo over JSON-RPC


class OdooRPCError(Exception):
    pass


class OdooRPC:
    """A JSON-RPC client of Odoo's /jsonrpc endpoint."""

    def __init__(self, url, database, login, password):
        self.url = url.rstrip("/") + "/jsonrpc"
        self.database = database
        self.login = login
        self.password = password
        self.uid = None

    def _call(self, service, method, *args, timeout=60):
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "method": "call",
                "id": random.randint(1, 1 << 30),
                "params": {"service": service, "method": method, "args": list(args)},
            }
        ).encode()
        request = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read())
        if "error" in answer:
            error = answer["error"]
            raise OdooRPCError(error.get("data", {}).get("message") or error.get("message"))
        return answer.get("result")

    def authenticate(self):
        self.uid = self._call(
            "common", "authenticate", self.database, self.login, self.password, {}
        )
        if not self.uid:
            raise OdooRPCError(f"login {self.login} refused")
        return self.uid

    def call(self, model, method, *args, **kwargs):
        if self.uid is None:
            self.authenticate()
        return self._call(
            "object",
            "execute_kw",
            self.database,
            self.uid,
            self.password,
            model,
            method,
            list(args),
            kwargs,
        )

    def reachable(self):
        try:
            return bool(self._call("common", "version", timeout=5))
        except (OSError, urllib.error.URLError, OdooRPCError, ValueError):
            return False


# ----------------------------------------------------------------------------------------------------------------
# Processes


def write_pid(name, pid):
    with open(os.path.join(WORK, "pids", name + ".pid"), "w", encoding="ascii") as handle:
        handle.write(str(pid))


def forget_pid(name):
    try:
        os.unlink(os.path.join(WORK, "pids", name + ".pid"))
    except FileNotFoundError:
        pass


def stop_process(process, sig=signal.SIGTERM, timeout=60):
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class OdooServer:
    def __init__(self, command):
        self.command = command
        self.process = None

    def start(self):
        output = open(os.path.join(WORK, "logs", "odoo.out"), "ab")
        self.process = subprocess.Popen(
            self.command,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        write_pid("odoo", self.process.pid)
        probe = OdooRPC(ODOO_URL, ODOO_DB, *ADMIN)
        if not wait_until(lambda: self.process.poll() is None and probe.reachable(), 120, 0.5):
            raise RuntimeError("Odoo did not start (see logs/odoo.log)")

    def stop(self):
        stop_process(self.process)
        forget_pid("odoo")


class Bridge:
    def __init__(self, extra_env=None):
        self.env = dict(os.environ)
        for name in list(self.env):
            if name.startswith(("BRIDGE_", "ODOO_", "POSTMARK_")):
                del self.env[name]
        self.env.update(ODOO_ENV)
        self.env.update(
            {
                "BRIDGE_DATABASE_URL": INBOX_URL,
                "BRIDGE_LISTEN": f"{HOST}:{BRIDGE_PORT}",
                "BRIDGE_PUBLIC_URL": f"http://{HOST}:{BRIDGE_PORT}",
                "BRIDGE_SETTINGS_REFRESH": "2",
                # Nothing here may leave the machine: no account token is set, and the API points nowhere.
                "POSTMARK_API_URL": "http://127.0.0.1:9",
                "LOG_LEVEL": "info",
            }
        )
        self.env.update(extra_env or {})
        self.process = None
        self.starts = 0

    def start(self):
        self.starts += 1
        output = open(os.path.join(WORK, "logs", "bridge.log"), "ab")
        output.write(f"---- start {self.starts}\n".encode())
        output.flush()
        self.process = subprocess.Popen(
            [BRIDGE_BIN, "serve"],
            env=self.env,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        write_pid("bridge", self.process.pid)
        if not wait_until(
            lambda: self.process.poll() is None and http_get("/healthz")[0] == 200, 30, 0.2
        ):
            raise RuntimeError("the bridge did not start (see logs/bridge.log)")

    def kill(self):
        self.process.kill()
        self.process.wait()
        forget_pid("bridge")

    def stop(self):
        stop_process(self.process, timeout=30)
        forget_pid("bridge")

    def status(self):
        result = subprocess.run(
            [BRIDGE_BIN, "status", "--json"],
            env=self.env,
            capture_output=True,
            timeout=30,
            check=False,
        )
        return json.loads(result.stdout) if result.returncode == 0 else None


def http_get(path):
    try:
        connection = http.client.HTTPConnection(HOST, BRIDGE_PORT, timeout=5)
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        connection.close()
        return response.status, body
    except OSError:
        return None, b""


# ----------------------------------------------------------------------------------------------------------------
# Webhooks


class WebhookClient:
    """Posts webhooks over one keep-alive connection, reconnecting after a failure."""

    def __init__(self):
        self.connection = None

    def post(self, server_id, token, payload, headers=None):
        """Returns (status, answer) or (None, error text) when no answer came."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        all_headers = {"Content-Type": "application/json"}
        if token is not None:
            credentials = base64.b64encode(f"postmark:{token}".encode()).decode()
            all_headers["Authorization"] = f"Basic {credentials}"
        all_headers.update(headers or {})
        try:
            if self.connection is None:
                self.connection = http.client.HTTPConnection(HOST, BRIDGE_PORT, timeout=30)
            self.connection.request("POST", f"/postmark/webhook/{server_id}", body, all_headers)
            response = self.connection.getresponse()
            answer = response.read()
            if response.getheader("Connection", "").lower() == "close":
                self.close()
            try:
                answer = json.loads(answer)
            except ValueError:
                pass
            return response.status, answer
        except (OSError, http.client.HTTPException) as error:
            self.close()
            return None, repr(error)

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def postmark_time(moment):
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


class Events:
    """Builds Postmark payloads about one Odoo message and recipient."""

    def __init__(self, message_id, partner_id, email):
        self.metadata = {
            "odoo_db": ODOO_DB,
            "odoo_message_id": str(message_id),
            "odoo_partner_id": str(partner_id),
        }
        self.email = email
        self.clock = datetime(2025, 3, 1, 9, 0, 0, tzinfo=timezone.utc)

    def _next_time(self):
        self.clock += timedelta(seconds=1)
        return postmark_time(self.clock)

    def delivery(self, tag="e2e", message_id=None, metadata=None):
        return {
            "RecordType": "Delivery",
            "ServerID": 23,
            "MessageStream": "outbound",
            "MessageID": message_id or str(uuid.uuid4()),
            "Recipient": self.email,
            "Tag": tag,
            "DeliveredAt": self._next_time(),
            "Details": "smtp;250 2.0.0 OK",
            "Metadata": metadata or self.metadata,
        }

    def bounce(self, bounce_type, record_type="Bounce"):
        return {
            "RecordType": record_type,
            "MessageStream": "outbound",
            "ID": random.randint(1, 1 << 62),
            "Type": bounce_type,
            "TypeCode": 1,
            "Name": bounce_type,
            "Tag": "e2e",
            "MessageID": str(uuid.uuid4()),
            "Metadata": self.metadata,
            "ServerID": 23,
            "Description": f"A {bounce_type} from the end-to-end test.",
            "Details": "smtp;550 5.1.1 no such user",
            "Email": self.email,
            "From": "sender@example.com",
            "BouncedAt": self._next_time(),
            "DumpAvailable": False,
            "Inactive": bounce_type == "HardBounce",
            "CanActivate": True,
            "Subject": "End-to-end test",
        }

    def open(self):
        return {
            "RecordType": "Open",
            "MessageStream": "outbound",
            "FirstOpen": True,
            "Client": {"Name": "Firefox 120", "Company": "Mozilla", "Family": "Firefox"},
            "OS": {"Name": "Linux", "Company": "", "Family": "Linux"},
            "Platform": "Desktop",
            "UserAgent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
            "Geo": {"CountryISOCode": "BE", "Country": "Belgium", "City": "Brussels"},
            "MessageID": str(uuid.uuid4()),
            "Metadata": self.metadata,
            "ReceivedAt": self._next_time(),
            "Tag": "e2e",
            "Recipient": self.email,
        }

    def click(self, with_partner=True):
        metadata = dict(self.metadata)
        if not with_partner:
            del metadata["odoo_partner_id"]
        return {
            "RecordType": "Click",
            "MessageStream": "outbound",
            "ClickLocation": "HTML",
            "Client": {"Name": "Chrome 120", "Company": "Google", "Family": "Chrome"},
            "OS": {"Name": "Windows 11", "Company": "Microsoft", "Family": "Windows"},
            "Platform": "Desktop",
            "UserAgent": "Mozilla/5.0 (Windows NT 10.0) Chrome/120.0",
            "OriginalLink": "https://example.com/offer",
            "Geo": {},
            "MessageID": str(uuid.uuid4()),
            "Metadata": metadata,
            "ReceivedAt": self._next_time(),
            "Tag": "e2e",
            "Recipient": self.email,
        }

    def subscription_change(self, suppress, reason):
        return {
            "RecordType": "SubscriptionChange",
            "MessageID": str(uuid.uuid4()),
            "ServerID": 23,
            "MessageStream": "outbound",
            "ChangedAt": self._next_time(),
            "Recipient": self.email,
            "Origin": "Recipient",
            "SuppressSending": suppress,
            "SuppressionReason": reason,
            "Tag": "e2e",
            "Metadata": self.metadata,
        }

    def unknown_record_type(self):
        return {
            "RecordType": "Reactivation",
            "MessageStream": "outbound",
            "MessageID": str(uuid.uuid4()),
            "Recipient": self.email,
            "ServerID": 23,
            "Metadata": self.metadata,
        }


# ----------------------------------------------------------------------------------------------------------------
# The checks


class Run:
    def __init__(self, odoo_command):
        self.passed = 0
        self.failed = 0
        self.odoo = OdooServer(odoo_command)
        self.bridge = Bridge()
        self.admin = OdooRPC(ODOO_URL, ODOO_DB, *ADMIN)
        self.webhooks = WebhookClient()

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"PASS: {name}" + (f" ({detail})" if detail else ""), flush=True)
        else:
            self.failed += 1
            print(f"FAIL: {name}" + (f": {detail}" if detail else ""), flush=True)
        return ok

    # -- Odoo side fixtures

    def prepare_odoo(self):
        """A Postmark mail server, a sender, two recipients and two messages with email notifications."""
        admin = self.admin
        self.server_id = admin.call(
            "ir.mail_server",
            "create",
            {
                "name": "Postmark (e2e)",
                "smtp_host": "127.0.0.1",
                "smtp_port": 9,
                "postmark_enabled": True,
                "postmark_server_id": "4242",
            },
        )
        self.token = admin.call(
            "ir.mail_server", "read", [self.server_id], ["postmark_webhook_token"]
        )[0]["postmark_webhook_token"]
        # An ordinary internal user who may edit contacts (so may post on one).
        groups = [
            admin.call("ir.model.data", "check_object_reference", "base", xmlid)[1]
            for xmlid in ("group_user", "group_partner_manager")
        ]
        self.sender_uid = admin.call(
            "res.users",
            "create",
            {
                "name": "E2E Sender",
                "login": "e2e-sender",
                "password": "e2e-sender-password",
                "email": "sender@example.com",
                "groups_id": [(6, 0, groups)],
            },
        )
        customer = admin.call(
            "res.partner", "create", {"name": "E2E Customer", "email": "customer@example.com"}
        )
        self.partners = [
            admin.call(
                "res.partner",
                "create",
                {"name": f"E2E Recipient {n}", "email": f"recipient{n}@example.com"},
            )
            for n in (1, 2)
        ]
        sender = OdooRPC(ODOO_URL, ODOO_DB, "e2e-sender", "e2e-sender-password")
        self.messages = []
        for partner in self.partners:
            message = sender.call(
                "res.partner",
                "message_post",
                [customer],
                body="Hello from the end-to-end test",
                subject="End-to-end test",
                partner_ids=[partner],
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
                context={"mail_notify_force_send": False},
            )
            self.messages.append(message)
        self.notifications = []
        for message, partner in zip(self.messages, self.partners):
            found = admin.call(
                "mail.notification",
                "search_read",
                [("mail_message_id", "=", message), ("res_partner_id", "=", partner)],
                fields=["notification_type", "notification_status"],
            )
            if len(found) != 1 or found[0]["notification_type"] != "email":
                raise RuntimeError(
                    f"message {message} has no email notification for partner {partner}: {found}"
                )
            self.notifications.append(found[0]["id"])
        log(
            f"Odoo: mail server {self.server_id}, sender uid {self.sender_uid}, messages {self.messages}"
        )

    def notifications_by_message_id(self, message_ids, fields=("postmark_message_id",)):
        """Odoo's postmark.notification records with these Postmark MessageIDs, read as admin."""
        records = []
        message_ids = list(message_ids)
        for start in range(0, len(message_ids), 1000):
            records += self.admin.call(
                "postmark.notification",
                "search_read",
                [("postmark_message_id", "in", message_ids[start : start + 1000])],
                fields=list(fields),
            )
        return records

    def count_by_tag(self, tag):
        return self.admin.call("postmark.notification", "search_count", [("tag", "=", tag)])

    # -- 1. record types

    def check_record_types(self):
        events = Events(self.messages[0], self.partners[0], "recipient1@example.com")
        cases = [
            ("Delivery", events.delivery(), "delivered", "delivery"),
            ("Bounce HardBounce", events.bounce("HardBounce"), "bounced", "bounce"),
            ("Bounce SoftBounce", events.bounce("SoftBounce"), "soft_bounced", "bounce"),
            ("Bounce Transient", events.bounce("Transient"), "deferred", "bounce"),
            ("Bounce DMARCPolicy", events.bounce("DMARCPolicy"), "rejected", "bounce"),
            ("Bounce AutoResponder", events.bounce("AutoResponder"), "auto_replied", "bounce"),
            ("Bounce SMTPApiError", events.bounce("SMTPApiError"), "smtp_api_error", "bounce"),
            (
                "SpamComplaint",
                events.bounce("SpamComplaint", "SpamComplaint"),
                "spam_complaint",
                "spam_complaint",
            ),
            ("Open", events.open(), "opened", "open"),
            ("Click", events.click(), "clicked", "click"),
            (
                "Click, recipient found by address",
                events.click(with_partner=False),
                "clicked",
                "click",
            ),
            (
                "SubscriptionChange HardBounce",
                events.subscription_change(True, "HardBounce"),
                "bounced",
                "subscription_change",
            ),
            (
                "SubscriptionChange reactivated",
                events.subscription_change(False, None),
                "subscribed",
                "subscription_change",
            ),
            ("unknown RecordType", events.unknown_record_type(), "unknown", "unknown"),
        ]
        # The settings come from Odoo: until the first sync the server is unknown (404).
        first = cases[0][1]
        answer = wait_until(
            lambda: self.webhooks.post(self.server_id, self.token, first)[0] == 200 or None, 30, 0.5
        )
        self.check(
            "3. the bridge accepts the Odoo mail server's webhooks with its verify token", answer
        )
        statuses = {}
        for name, payload, _, _ in cases[1:]:
            statuses[name] = self.webhooks.post(self.server_id, self.token, payload)
        empty_status = self.webhooks.post(self.server_id, self.token, b"{}")
        bad = {name: answer for name, answer in statuses.items() if answer[0] != 200}
        if empty_status[0] != 200:
            bad["{}"] = empty_status
        self.check(
            "1. every record type is answered 200",
            not bad,
            str(bad) if bad else f"{len(cases) + 1} events",
        )

        # The bounce that must reach the recipient's mail.notification, alone on its message.
        lone = Events(self.messages[1], self.partners[1], "recipient2@example.com").bounce(
            "HardBounce"
        )
        self.check(
            "1. a lone HardBounce is answered 200",
            self.webhooks.post(self.server_id, self.token, lone)[0] == 200,
        )

        fields = [
            "postmark_message_id",
            "state",
            "record_type",
            "user_id",
            "mail_message_id",
            "mail_notification_id",
            "mail_server_id",
            "correlation_note",
            "recipient",
        ]
        wanted = {payload["MessageID"] for _, payload, _, _ in cases} | {lone["MessageID"]}
        records = wait_until(
            lambda: (lambda found: found if len(found) >= len(wanted) else None)(
                self.notifications_by_message_id(wanted, fields)
            ),
            60,
        )
        records = records or self.notifications_by_message_id(wanted, fields)
        by_id = {}
        for record in records:
            by_id.setdefault(record["postmark_message_id"], []).append(record)
        for name, payload, state, record_type in cases:
            found = by_id.get(payload["MessageID"], [])
            if len(found) != 1:
                self.check(
                    f"1. {name} becomes one postmark.notification", False, f"{len(found)} records"
                )
                continue
            record = found[0]
            problems = []
            if record["state"] != state:
                problems.append(f"state {record['state']} (want {state})")
            if record["record_type"] != record_type:
                problems.append(f"record_type {record['record_type']} (want {record_type})")
            if (record["user_id"] or [None])[0] != self.sender_uid:
                problems.append(f"user_id {record['user_id']} (want {self.sender_uid})")
            if (record["mail_message_id"] or [None])[0] != self.messages[0]:
                problems.append(
                    f"mail_message_id {record['mail_message_id']} (want {self.messages[0]})"
                )
            if (record["mail_notification_id"] or [None])[0] != self.notifications[0]:
                problems.append(f"mail_notification_id {record['mail_notification_id']}")
            if (record["mail_server_id"] or [None])[0] != self.server_id:
                problems.append(f"mail_server_id {record['mail_server_id']}")
            self.check(
                f"1. {name} → {state}, {record_type}, sender, message and recipient linked",
                not problems,
                "; ".join(problems),
            )

        empty = wait_until(
            lambda: self.admin.call(
                "postmark.notification",
                "search_read",
                [("payload", "=", "{}")],
                fields=["state", "record_type", "mail_message_id", "correlation_note"],
            ),
            30,
        )
        self.check(
            "1. {} → one unknown notification, not linked, with a note",
            len(empty) == 1
            and empty[0]["state"] == "unknown"
            and empty[0]["record_type"] == "unknown"
            and not empty[0]["mail_message_id"]
            and bool(empty[0]["correlation_note"]),
            str(empty),
        )

        # Metadata naming nothing in this database: stored all the same, unlinked, with the reason.
        strays = [
            events.delivery(
                metadata={
                    "odoo_db": ODOO_DB,
                    "odoo_message_id": "99999999999",
                    "odoo_partner_id": "x",
                }
            ),
            events.delivery(
                metadata={"odoo_db": "another_db", "odoo_message_id": str(self.messages[0])}
            ),
        ]
        answers = [self.webhooks.post(self.server_id, self.token, payload)[0] for payload in strays]
        found = wait_until(
            lambda: (lambda r: r if len(r) == len(strays) else None)(
                self.notifications_by_message_id(
                    [payload["MessageID"] for payload in strays],
                    ["mail_message_id", "user_id", "correlation_note"],
                )
            ),
            30,
        )
        self.check(
            "1. metadata naming no message here (unknown id, other database) → stored, unlinked, with a note",
            answers == [200, 200]
            and found
            and all(
                not r["mail_message_id"] and not r["user_id"] and r["correlation_note"]
                for r in found
            ),
            str(found),
        )

        notification = self.admin.call(
            "mail.notification",
            "read",
            [self.notifications[1]],
            ["notification_status", "failure_type", "failure_reason"],
        )[0]
        linked = by_id.get(lone["MessageID"], [{}])[0]
        self.check(
            "1. the HardBounce marks the recipient's mail.notification bounced",
            notification["notification_status"] == "bounce"
            and notification["failure_type"] == "mail_bounce"
            and (linked.get("mail_notification_id") or [None])[0] == self.notifications[1],
            f"{notification['notification_status']}, {notification['failure_type']}",
        )
        self.first_delivery = first

    # -- 2. duplicates

    def check_duplicates(self):
        status, answer = self.webhooks.post(self.server_id, self.token, self.first_delivery)
        self.check(
            "2. the same payload again is answered 200 duplicate",
            status == 200 and answer.get("status") == "duplicate",
            f"{status} {answer}",
        )

        events = Events(self.messages[0], self.partners[0], "recipient1@example.com")
        trace = str(uuid.uuid4())
        traced = events.delivery(tag="e2e-trace")
        retried = dict(
            traced, Details="smtp;250 2.0.0 OK (retried)", DeliveredAt=events._next_time()
        )
        first = self.webhooks.post(
            self.server_id, self.token, traced, {"X-PM-Webhook-Trace-Id": trace}
        )
        second = self.webhooks.post(
            self.server_id, self.token, retried, {"X-PM-Webhook-Trace-Id": trace}
        )
        self.check(
            "2. the same X-PM-Webhook-Trace-Id with another body is answered 200 duplicate",
            first[0] == 200
            and first[1].get("status") == "stored"
            and second[0] == 200
            and second[1].get("status") == "duplicate",
            f"{first} then {second}",
        )
        wait_until(lambda: self.notifications_by_message_id([traced["MessageID"]]), 30)
        time.sleep(3)  # a second record, if one were coming, would be forwarded by now
        counts = [
            len(self.notifications_by_message_id([m["MessageID"]]))
            for m in (self.first_delivery, traced)
        ]
        self.check(
            "2. duplicates make no second record in Odoo",
            counts == [1, 1],
            f"records per event: {counts}",
        )

    # -- 3. settings from Odoo, rejected calls visible there

    def check_settings(self):
        before = self.admin.call(
            "ir.mail_server", "read", [self.server_id], ["postmark_auth_failure_count"]
        )[0]
        status, _ = self.webhooks.post(
            self.server_id, "not-the-token", Events(1, 1, "x@example.com").delivery()
        )
        self.check("3. a wrong token is answered 401", status == 401, f"status {status}")
        server = wait_until(
            lambda: (
                lambda s: (
                    s
                    if s["postmark_auth_failure_count"] > before["postmark_auth_failure_count"]
                    else None
                )
            )(
                self.admin.call(
                    "ir.mail_server",
                    "read",
                    [self.server_id],
                    [
                        "postmark_auth_failure_count",
                        "postmark_last_auth_failure_date",
                        "postmark_last_event_date",
                        "postmark_callback_url",
                    ],
                )[0]
            ),
            20,
        )
        self.check(
            "3. the rejected call shows on the mail server in Odoo within seconds",
            bool(server) and server["postmark_last_auth_failure_date"],
            f"count {server and server['postmark_auth_failure_count']}",
        )
        server = self.admin.call(
            "ir.mail_server",
            "read",
            [self.server_id],
            ["postmark_last_event_date", "postmark_callback_url"],
        )[0]
        expected_url = f"http://{HOST}:{BRIDGE_PORT}/postmark/webhook/{self.server_id}"
        self.check(
            "3. the bridge reports its callback URL and the last event time to Odoo",
            server["postmark_callback_url"] == expected_url
            and bool(server["postmark_last_event_date"]),
            f"{server['postmark_callback_url']}, last event {server['postmark_last_event_date']}",
        )

        # A server created in Odoo while the bridge runs is picked up without a restart.
        second = self.admin.call(
            "ir.mail_server",
            "create",
            {
                "name": "Postmark (e2e, second)",
                "smtp_host": "127.0.0.1",
                "smtp_port": 9,
                "postmark_enabled": True,
            },
        )
        token = self.admin.call("ir.mail_server", "read", [second], ["postmark_webhook_token"])[0][
            "postmark_webhook_token"
        ]
        payload = Events(self.messages[0], self.partners[0], "recipient1@example.com").delivery(
            tag="e2e-second"
        )
        answered = wait_until(lambda: self.webhooks.post(second, token, payload)[0] == 200, 20, 0.5)
        self.check(
            "3. a mail server added in Odoo is accepted within seconds, no restart", answered
        )
        found = wait_until(
            lambda: self.notifications_by_message_id([payload["MessageID"]], ["mail_server_id"]), 30
        )
        self.check(
            "3. its event is stored on that mail server",
            bool(found) and (found[0]["mail_server_id"] or [None])[0] == second,
            str(found),
        )

    # -- bursts

    def burst(self, tag, count, threads, stop=None, progress=None):
        """Posts count Delivery events from several threads until stop is set.

        Returns (payloads answered 200, payloads sent without an answer, other answers); progress, a list, gets one
        item per 200."""
        events = Events(self.messages[0], self.partners[0], "recipient1@example.com")
        payloads = [events.delivery(tag=tag) for _ in range(count)]
        answered, unanswered, other = [], [], []
        lock = threading.Lock()
        chunks = [payloads[n::threads] for n in range(threads)]

        def work(chunk):
            client = WebhookClient()
            for payload in chunk:
                if stop is not None and stop.is_set():
                    break
                status, answer = client.post(self.server_id, self.token, payload)
                with lock:
                    if status == 200:
                        answered.append(payload)
                        if progress is not None:
                            progress.append(1)
                    elif status is None:
                        unanswered.append(payload)
                    else:
                        other.append((status, answer))
            client.close()

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, chunks))
        return answered, unanswered, other

    def wait_for_tag(self, tag, expected, timeout):
        started = time.monotonic()
        count = wait_until(
            lambda: (lambda n: n if n >= expected else None)(self.count_by_tag(tag)), timeout, 1
        )
        return count or self.count_by_tag(tag), time.monotonic() - started

    def exactly_once(self, payloads, tag):
        """(missing MessageIDs, MessageIDs stored more than once) among the tag's records."""
        records = self.admin.call(
            "postmark.notification",
            "search_read",
            [("tag", "=", tag)],
            fields=["postmark_message_id"],
        )
        seen = {}
        for record in records:
            seen[record["postmark_message_id"]] = seen.get(record["postmark_message_id"], 0) + 1
        wanted = {payload["MessageID"] for payload in payloads}
        missing = wanted - set(seen)
        twice = {message_id for message_id, count in seen.items() if count > 1}
        return missing, twice, seen

    # -- 4. Odoo down

    def check_odoo_down(self):
        tag, count = "e2e-odoo-down", 500
        log("stopping Odoo")
        self.odoo.stop()
        started = time.monotonic()
        answered, unanswered, other = self.burst(tag, count, 4)
        elapsed = time.monotonic() - started
        self.check(
            f"4. with Odoo stopped the bridge answers all {count} events 200",
            len(answered) == count,
            f"{len(answered)} answered 200 in {elapsed:.1f} s, {len(unanswered)} unanswered, "
            f"other answers {other[:3]}",
        )
        ready, _ = http_get("/readyz")
        log(f"/readyz while Odoo is down: {ready}")
        time.sleep(5)  # Odoo stays down a little longer: the dispatcher backs off
        log("starting Odoo")
        self.odoo.start()
        stored, waited = self.wait_for_tag(tag, len(answered), 180)
        missing, twice, seen = self.exactly_once(answered, tag)
        self.check(
            "4. when Odoo is back every event arrives, exactly once",
            not missing and not twice and stored == len(answered),
            f"{stored} records in {waited:.0f} s after the restart; missing {len(missing)}, twice {len(twice)}",
        )

    # -- 5. the bridge killed

    def check_bridge_killed(self):
        tag, count, threads = "e2e-kill", 20000, 8
        stop = threading.Event()
        progress = []
        result = {}

        def posting():
            result["burst"] = self.burst(tag, count, threads, stop, progress)

        poster = threading.Thread(target=posting)
        poster.start()
        # Kill in the middle of the burst, once the dispatcher is busy forwarding it.
        wait_until(lambda: len(progress) >= 1500 + random.randint(0, 500), 60, 0.05)
        log("SIGKILL to the bridge")
        stop.set()
        self.bridge.kill()
        poster.join()
        answered, unanswered, other = result["burst"]
        log(
            f"{len(answered)} events answered 200, {len(unanswered)} sent without an answer, "
            f"{len(other)} other answers; {self.count_by_tag(tag)} of them in Odoo after the kill"
        )

        self.bridge.start()
        started = time.monotonic()
        wanted = {payload["MessageID"] for payload in answered}
        wait_until(lambda: not (wanted - set(self.exactly_once(answered, tag)[2])), 120, 1)
        missing, twice, seen = self.exactly_once(answered, tag)
        self.check(
            "5. after SIGKILL and restart every event answered 200 is in Odoo exactly once",
            answered and not missing and not twice and not other,
            f"{len(answered)} answered 200, all there {time.monotonic() - started:.0f} s after the restart; "
            f"missing {len(missing)}, twice {len(twice)}, other answers {other[:3]}",
        )

        # The batches the killed bridge had claimed are taken up again once their lease ends.
        started = time.monotonic()
        settled = wait_until(
            lambda: (lambda status: status and status["pending"] == 0)(self.bridge.status()), 120, 1
        )
        self.check(
            "5. the restarted bridge takes up the killed one's claimed events: none left pending",
            settled,
            f"{time.monotonic() - started:.0f} s",
        )

        # Postmark retries what got no answer; afterwards every event is in Odoo exactly once.
        client = WebhookClient()
        retried = [client.post(self.server_id, self.token, payload) for payload in unanswered]
        client.close()
        bad = [answer for answer in retried if answer[0] != 200]
        everything = answered + unanswered
        stored, waited = self.wait_for_tag(tag, len(everything), 120)
        missing, twice, seen = self.exactly_once(everything, tag)
        self.check(
            "5. after Postmark's retries of the unanswered events, every event is in Odoo exactly once",
            not bad and not missing and not twice and stored == len(everything),
            f"{len(unanswered)} retried ({sum(1 for a in retried if a[0] == 200 and a[1].get('status') == 'duplicate')}"
            f" already stored), {stored} records for {len(everything)} events; missing {len(missing)}, "
            f"twice {len(twice)}, bad answers {bad[:3]}",
        )

    def run(self):
        started = time.monotonic()
        try:
            self.odoo.start()
            self.prepare_odoo()
            self.bridge.start()
            for step in (
                self.check_record_types,
                self.check_duplicates,
                self.check_settings,
                self.check_odoo_down,
                self.check_bridge_killed,
            ):
                try:
                    step()
                except Exception as error:  # a broken step fails, the others still run
                    self.check(f"{step.__name__} ran to its end", False, repr(error))
            status = self.bridge.status()
            if status is not None:
                log(
                    f"bridge status: pending {status.get('pending')}, forwarded {status.get('forwarded')}, "
                    f"parked {status.get('parked')}, last error {status.get('last_error')}"
                )
                self.check(
                    "no event parked, none left pending",
                    status.get("parked") == 0 and status.get("pending") == 0,
                    json.dumps(status),
                )
        except Exception as error:
            self.check("the test environment starts", False, repr(error))
        finally:
            if self.bridge.process is not None:
                self.bridge.stop()
            if self.odoo.process is not None:
                self.odoo.stop()
        log(f"run took {time.monotonic() - started:.0f} s")
        if self.failed or os.environ.get("E2E_KEEP_LOGS"):
            print(f"logs kept in {WORK}/logs", flush=True)
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 1 if self.failed else 0


def main():
    arguments = sys.argv[1:]
    if arguments[:1] == ["--"]:
        arguments = arguments[1:]
    if not arguments:
        print("usage: e2e.py -- ODOO COMMAND LINE...", file=sys.stderr)
        return 2
    return Run(arguments).run()


if __name__ == "__main__":
    sys.exit(main())
