from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from .common import PostmarkCase

URL_SAFE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@tagged("post_install", "-at_install")
class TestMailServer(PostmarkCase):
    def test_defaults(self):
        self.assertEqual(self.server.postmark_message_stream, "outbound")
        for name in (
            "delivery",
            "bounce",
            "spam_complaint",
            "open",
            "click",
            "subscription_change",
        ):
            self.assertTrue(self.server[f"postmark_trigger_{name}"], name)
        self.assertTrue(self.server.postmark_open_first_only)
        self.assertFalse(self.server.postmark_bounce_include_content)
        self.assertFalse(self.server.postmark_spam_include_content)
        self.assertEqual(self.server.postmark_sync_state, "pending")
        self.assertFalse(self.plain_server.postmark_webhook_token)
        self.assertEqual(self.plain_server.postmark_sync_state, "never")

    def test_enabling_postmark_generates_a_token(self):
        self.plain_server.postmark_enabled = True
        token = self.plain_server.postmark_webhook_token
        self.assertGreaterEqual(len(token), 32)
        self.assertLessEqual(set(token), URL_SAFE)

    def test_generate_new_token_keeps_previous_for_grace_period(self):
        old = self.server.postmark_webhook_token
        self.server.with_user(self.admin).action_postmark_generate_token()
        new = self.server.postmark_webhook_token
        self.assertNotEqual(new, old)
        self.assertGreaterEqual(len(new), 32)
        self.assertLessEqual(set(new), URL_SAFE)
        self.assertEqual(self.server.postmark_webhook_token_previous, old)
        expected = fields.Datetime.now() + timedelta(hours=24)
        self.assertAlmostEqual(
            self.server.postmark_webhook_token_previous_until,
            expected,
            delta=timedelta(minutes=5),
        )
        self.assertTrue(self.server.postmark_sync_requested)

    def test_grace_period_comes_from_system_parameter(self):
        self.env["ir.config_parameter"].set_param(
            "wk_postmark_notification.token_grace_hours", "2"
        )
        self.server.action_postmark_generate_token()
        expected = fields.Datetime.now() + timedelta(hours=2)
        self.assertAlmostEqual(
            self.server.postmark_webhook_token_previous_until,
            expected,
            delta=timedelta(minutes=5),
        )

    def test_callback_url_needs_bridge_url(self):
        Params = self.env["ir.config_parameter"]
        Params.set_param("wk_postmark_notification.bridge_url", False)
        self.server.invalidate_recordset(["postmark_callback_url"])
        self.assertFalse(self.server.postmark_callback_url)
        Params.set_param(
            "wk_postmark_notification.bridge_url", "https://hooks.example.com/"
        )
        self.server.invalidate_recordset(["postmark_callback_url"])
        self.assertEqual(
            self.server.postmark_callback_url,
            f"https://hooks.example.com/postmark/webhook/{self.server.id}",
        )
        self.assertFalse(self.plain_server.postmark_callback_url)

    def test_sync_now_and_config_changes_request_sync(self):
        self.env["ir.mail_server"].with_user(self.bridge).postmark_bridge_report(
            [
                {
                    "id": self.server.id,
                    "postmark_sync_state": "ok",
                    "postmark_sync_requested": False,
                }
            ]
        )
        self.assertEqual(self.server.postmark_sync_state, "ok")
        self.server.with_user(self.admin).action_postmark_sync_now()
        self.assertTrue(self.server.postmark_sync_requested)
        self.assertEqual(self.server.postmark_sync_state, "pending")
        self.env["ir.mail_server"].with_user(self.bridge).postmark_bridge_report(
            [
                {
                    "id": self.server.id,
                    "postmark_sync_state": "ok",
                    "postmark_sync_requested": False,
                }
            ]
        )
        self.server.postmark_trigger_open = False
        self.assertTrue(self.server.postmark_sync_requested)
        self.assertEqual(self.server.postmark_sync_state, "pending")
