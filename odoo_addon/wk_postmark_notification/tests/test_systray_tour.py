from collections import deque
from unittest.mock import patch

from odoo.sql_db import TestCursor
from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.bus.websocket import WebsocketConnectionHandler

from .common import event_vals, post_message

_test_cursor_commit = TestCursor.commit


def _commit_and_run_postcommit(cr):
    funcs, data = deque(cr.postcommit._funcs), dict(cr.postcommit.data)
    _test_cursor_commit(cr)
    cr.postcommit._funcs, cr.postcommit.data = funcs, data
    cr.postcommit.run()


@tagged("post_install", "-at_install")
class TestSystrayTour(HttpCase):
    def test_systray_lists_and_marks_read(self):
        user = new_test_user(
            self.env,
            login="pm_tour_user",
            groups="base.group_user,base.group_partner_manager",
            name="Tour User",
            email="tour@example.com",
        )
        bridge = new_test_user(
            self.env,
            login="pm_tour_bridge",
            groups="base.group_user,wk_postmark_notification.group_postmark_bridge",
        )
        server = self.env["ir.mail_server"].create(
            {"name": "Postmark", "smtp_host": "127.0.0.1", "postmark_enabled": True}
        )
        customer = self.env["res.partner"].create(
            {"name": "Tour Customer", "email": "tour-bounce@example.com"}
        )
        message = post_message(self.env, user, customer, subject="Tour quote")
        events = [
            event_vals(
                self.env,
                server,
                message,
                customer,
                state="bounced",
                record_type="bounce",
                description="Mailbox does not exist",
                event_date="2026-01-05 10:05:00",
            ),
            event_vals(
                self.env, server, message, customer, event_date="2026-01-05 10:00:00"
            ),
        ]
        self.env["postmark.notification"].with_user(bridge).bridge_ingest(events)
        # The tour checks that a change made on the server reaches the open
        # systray through the bus. Under tests Odoo refuses websockets and its
        # test cursors drop the post-commit hooks the bus notifies from.
        with (
            patch.object(
                WebsocketConnectionHandler, "websocket_allowed", return_value=True
            ),
            patch.object(TestCursor, "commit", _commit_and_run_postcommit),
        ):
            self.start_tour("/odoo", "wk_postmark_systray_tour", login="pm_tour_user")
        events = self.env["postmark.notification"].search([("user_id", "=", user.id)])
        self.assertEqual(len(events), 2)
        read = events.filtered("is_read")
        self.assertEqual(
            read.mapped("state"), ["bounced"], "opening the bounce marked it read"
        )
