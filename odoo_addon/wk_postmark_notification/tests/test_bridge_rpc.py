import json

from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools.misc import file_path

from .common import event_vals, post_message


@tagged("post_install", "-at_install")
class TestBridgeOverJsonRpc(HttpCase):
    """What postmark-bridge does, over /jsonrpc with an API key, as its own user."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with open(file_path("wk_postmark_notification/bridge_contract.json")) as handle:
            cls.contract = json.load(handle)
        cls.bridge = new_test_user(
            cls.env,
            login="pm_rpc_bridge",
            groups="base.group_user,wk_postmark_notification.group_postmark_bridge",
        )
        cls.api_key = (
            cls.env["res.users.apikeys"]
            .with_user(cls.bridge)
            .sudo()
            ._generate(None, "postmark-bridge", None)
        )
        cls.server = cls.env["ir.mail_server"].create(
            {"name": "Postmark", "smtp_host": "127.0.0.1", "postmark_enabled": True}
        )
        cls.env["ir.mail_server"].create({"name": "Other", "smtp_host": "127.0.0.1"})
        cls.sender = new_test_user(
            cls.env,
            login="pm_rpc_sender",
            groups="base.group_user,base.group_partner_manager",
        )
        cls.customer = cls.env["res.partner"].create(
            {"name": "Customer", "email": "customer@example.com"}
        )
        cls.message = post_message(cls.env, cls.sender, cls.customer)

    def rpc(self, service, method, *args):
        response = self.opener.post(
            f"{self.base_url()}/jsonrpc",
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "call",
                "params": {"service": service, "method": method, "args": list(args)},
            },
        )
        response.raise_for_status()
        body = response.json()
        self.assertNotIn(
            "error", body, body.get("error", {}).get("data", {}).get("message")
        )
        return body.get("result")

    def execute(self, model, method, args, kwargs=None):
        return self.rpc(
            "object",
            "execute_kw",
            self.env.cr.dbname,
            self.bridge_uid,
            self.api_key,
            model,
            method,
            args,
            kwargs or {},
        )

    def test_bridge_conversation(self):
        self.bridge_uid = self.rpc(
            "common",
            "authenticate",
            self.env.cr.dbname,
            "pm_rpc_bridge",
            self.api_key,
            {},
        )
        self.assertEqual(self.bridge_uid, self.bridge.id)

        fields = list(self.contract["mail_server"]["fields_read_by_bridge"])
        servers = self.execute(
            "ir.mail_server",
            "search_read",
            [],
            {
                "domain": [["postmark_enabled", "=", True]],
                "fields": fields,
                "order": "id",
                "context": {"active_test": False},
            },
        )
        self.assertEqual([s["id"] for s in servers], [self.server.id])
        self.assertEqual(len(servers[0]["postmark_webhook_token"]), 43)
        self.assertEqual(servers[0]["postmark_message_stream"], "outbound")

        hello = self.execute(
            "ir.mail_server",
            "postmark_bridge_hello",
            [],
            {"public_url": "https://bridge.example.com"},
        )
        self.assertEqual(hello["addon_version"], "18.0.1.0.0")

        vals = event_vals(
            self.env,
            self.server,
            self.message,
            self.customer,
            state="bounced",
            record_type="bounce",
            description="No such user",
        )
        # Named arguments, as the bridge sends them.
        keys = self.execute(
            "postmark.notification", "bridge_ingest", [], {"vals_list": [vals]}
        )
        self.assertEqual(list(keys), [vals["dedupe_key"]])
        again = self.execute("postmark.notification", "bridge_ingest", [[vals]])
        self.assertEqual(again, keys)
        self.env.invalidate_all()
        event = self.env["postmark.notification"].browse(keys[vals["dedupe_key"]])
        self.assertEqual(event.user_id, self.sender)
        notification = event.mail_notification_id
        self.assertEqual(notification.notification_status, "bounce")

        self.assertTrue(
            self.execute(
                "ir.mail_server",
                "postmark_bridge_report",
                [],
                {
                    "reports": [
                        {
                            "id": self.server.id,
                            "postmark_sync_state": "ok",
                            "postmark_sync_message": "Webhook created",
                            "postmark_sync_requested": False,
                            "postmark_sync_date": "2026-01-05 10:00:00",
                        }
                    ]
                },
            )
        )
        self.env.invalidate_all()
        self.assertEqual(self.server.postmark_sync_state, "ok")
        self.assertEqual(
            self.server.postmark_callback_url,
            f"https://bridge.example.com/postmark/webhook/{self.server.id}",
        )
