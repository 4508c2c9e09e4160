from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged

from ..models.postmark_notification import UNREAD_COUNT_CAP
from .common import PostmarkCase, event_vals


@tagged("post_install", "-at_install")
class TestAccess(PostmarkCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mine = (
            cls.env["postmark.notification"]
            .with_user(cls.bridge)
            .bridge_ingest(
                [
                    event_vals(
                        cls.env,
                        cls.server,
                        cls.message,
                        cls.customer,
                        state="bounced",
                        record_type="bounce",
                    ),
                    event_vals(cls.env, cls.server, cls.message, cls.customer),
                ]
            )
        )
        other_message = cls.post_message(cls.other_user, cls.customer)
        cls.theirs = (
            cls.env["postmark.notification"]
            .with_user(cls.bridge)
            .bridge_ingest(
                [event_vals(cls.env, cls.server, other_message, cls.customer)]
            )
        )
        cls.my_events = cls.env["postmark.notification"].browse(list(cls.mine.values()))
        cls.their_event = cls.env["postmark.notification"].browse(
            list(cls.theirs.values())
        )

    def test_user_sees_only_own_events(self):
        Events = self.env["postmark.notification"].with_user(self.sender)
        self.assertEqual(Events.search([]), self.my_events)
        with self.assertRaises(AccessError):
            self.their_event.with_user(self.sender).read(["state"])

    def test_admin_sees_all_events(self):
        Events = self.env["postmark.notification"].with_user(self.admin)
        self.assertEqual(Events.search([]), self.my_events | self.their_event)
        self.assertTrue(self.my_events[0].with_user(self.admin).payload)

    def test_user_may_change_only_is_read(self):
        event = self.my_events[0].with_user(self.sender)
        event.write({"is_read": True})
        self.assertTrue(event.is_read)
        with self.assertRaises(AccessError):
            event.write({"state": "delivered"})
        with self.assertRaises(AccessError):
            event.write({"is_read": False, "recipient": "x@example.com"})
        with self.assertRaises(AccessError):
            self.their_event.with_user(self.sender).write({"is_read": True})
        with self.assertRaises(AccessError):
            event.unlink()
        with self.assertRaises(AccessError):
            self.env["postmark.notification"].with_user(self.sender).create(
                {"state": "delivered"}
            )

    def test_payload_is_admin_only(self):
        with self.assertRaises(AccessError):
            self.my_events[0].with_user(self.sender).read(["payload"])
        self.assertNotIn(
            "payload",
            self.env["postmark.notification"].with_user(self.sender).fields_get(),
        )

    def test_mark_read_and_mark_all_read(self):
        Events = self.env["postmark.notification"].with_user(self.sender)
        data = Events.get_systray_data()
        self.assertEqual(data["unread"], 2)
        self.assertEqual(
            {item["id"] for item in data["items"]}, set(self.my_events.ids)
        )
        self.my_events[0].with_user(self.sender).action_mark_read()
        self.assertEqual(Events.get_systray_data()["unread"], 1)
        Events.action_mark_all_read()
        self.assertEqual(Events.get_systray_data()["unread"], 0)
        self.assertFalse(self.their_event.is_read, "someone else's event stays unread")
        with self.assertRaises(AccessError):
            self.their_event.with_user(self.sender).action_mark_read()

    def test_unread_count_is_capped(self):
        """A bulk sender's backlog is counted up to the cap, not in full."""
        Events = self.env["postmark.notification"].with_user(self.bridge)
        Events.bridge_ingest(
            [
                event_vals(self.env, self.server, self.message, self.customer)
                for _index in range(UNREAD_COUNT_CAP + 5)
            ]
        )
        Mine = self.env["postmark.notification"].with_user(self.sender)
        self.assertEqual(Mine.get_systray_data()["unread"], UNREAD_COUNT_CAP)

    def test_open_from_systray_marks_read(self):
        action = self.my_events[0].with_user(self.sender).action_open()
        self.assertEqual(action["res_id"], self.my_events[0].id)
        self.assertTrue(self.my_events[0].is_read)

    def test_users_cannot_read_mail_server_tokens(self):
        with self.assertRaises(AccessError):
            self.server.with_user(self.sender).read(["postmark_webhook_token"])
        with self.assertRaises(AccessError):
            self.server.with_user(self.sender).read(["name"])

    def test_bridge_reads_postmark_servers_with_tokens_only(self):
        Servers = self.env["ir.mail_server"].with_user(self.bridge)
        found = Servers.search_read(
            [], ["name", "postmark_webhook_token", "postmark_account_token"]
        )
        self.assertEqual([s["id"] for s in found], [self.server.id])
        self.assertEqual(found[0]["postmark_account_token"], "account-secret")
        self.assertEqual(len(found[0]["postmark_webhook_token"]), 43)
        with self.assertRaises(AccessError):
            self.plain_server.with_user(self.bridge).read(["name"])
        with self.assertRaises(AccessError):
            self.server.with_user(self.bridge).read(["smtp_pass"])

    def test_bridge_cannot_write_or_read_more(self):
        with self.assertRaises(AccessError):
            self.server.with_user(self.bridge).write({"postmark_server_id": "1"})
        with self.assertRaises(AccessError):
            self.my_events[0].with_user(self.bridge).read(["state"])
        self.assertFalse(
            self.env["postmark.notification"].with_user(self.bridge).search([])
        )
        self.assertFalse(self.bridge.has_group("base.group_system"))

    def test_bridge_report_and_hello(self):
        Servers = self.env["ir.mail_server"].with_user(self.bridge)
        self.assertTrue(
            Servers.postmark_bridge_report(
                [
                    {
                        "id": self.server.id,
                        "postmark_sync_state": "ok",
                        "postmark_sync_message": "Webhook up to date",
                        "postmark_sync_date": "2026-01-05 10:00:00",
                        "postmark_sync_requested": False,
                        "postmark_auth_failure_count": 3,
                    }
                ]
            )
        )
        self.assertEqual(self.server.postmark_sync_state, "ok")
        self.assertFalse(self.server.postmark_sync_requested)
        self.assertEqual(self.server.postmark_auth_failure_count, 3)
        with self.assertRaises(ValidationError):
            Servers.postmark_bridge_report(
                [{"id": self.server.id, "postmark_server_id": "7"}]
            )
        hello = Servers.postmark_bridge_hello("https://bridge.example.com/")
        self.assertEqual(hello["addon_version"], "18.0.1.0.0")
        self.assertTrue(hello["server_version"].startswith("18.0"))
        self.assertEqual(
            self.env["ir.config_parameter"].get_param(
                "wk_postmark_notification.bridge_url"
            ),
            "https://bridge.example.com",
        )
        self.assertEqual(
            self.server.postmark_callback_url,
            f"https://bridge.example.com/postmark/webhook/{self.server.id}",
        )

    def test_users_cannot_call_bridge_methods(self):
        Servers = self.env["ir.mail_server"].with_user(self.sender)
        with self.assertRaises(AccessError):
            Servers.postmark_bridge_report(
                [{"id": self.server.id, "postmark_sync_state": "ok"}]
            )
        with self.assertRaises(AccessError):
            Servers.postmark_bridge_hello("https://evil.example.com")
