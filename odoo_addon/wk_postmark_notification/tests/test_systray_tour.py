from odoo.tests import HttpCase, new_test_user, tagged

from .common import event_vals, post_message


@tagged("post_install", "-at_install")
class TestSystrayTour(HttpCase):
    def test_systray_lists_and_marks_read(self):
        user = new_test_user(self.env, login="pm_tour_user", groups="base.group_user,base.group_partner_manager", name="Tour User", email="tour@example.com")
        bridge = new_test_user(
            self.env, login="pm_tour_bridge",
            groups="base.group_user,wk_postmark_notification.group_postmark_bridge",
        )
        server = self.env["ir.mail_server"].create(
            {"name": "Postmark", "smtp_host": "smtp.postmarkapp.com", "postmark_enabled": True}
        )
        customer = self.env["res.partner"].create(
            {"name": "Tour Customer", "email": "tour-bounce@example.com"}
        )
        message = post_message(self.env, user, customer, subject="Tour quote")
        events = [
            event_vals(self.env, server, message, customer, state="bounced", record_type="bounce",
                       description="Mailbox does not exist", event_date="2026-01-05 10:05:00"),
            event_vals(self.env, server, message, customer, event_date="2026-01-05 10:00:00"),
        ]
        self.env["postmark.notification"].with_user(bridge).bridge_ingest(events)
        self.start_tour("/odoo", "wk_postmark_systray_tour", login="pm_tour_user")
        unread = self.env["postmark.notification"].search_count(
            [("user_id", "=", user.id), ("is_read", "=", False)]
        )
        self.assertEqual(unread, 0)
