from odoo.tests import tagged

from odoo.addons.mail.tests.common import MockEmail

from .common import PostmarkCase


@tagged("post_install", "-at_install")
class TestOutgoingHeaders(PostmarkCase, MockEmail):
    def _send_mail(self, server):
        mail = self.env["mail.mail"].create(
            {
                "subject": "Invoice",
                "body_html": "<p>Hello</p>",
                "email_from": "sally@example.com",
                "recipient_ids": [(6, 0, (self.customer | self.customer_2).ids)],
                "mail_server_id": server.id,
                "headers": repr({"X-Custom": "kept"}),
            }
        )
        with self.mock_mail_gateway():
            mail.send()
        return mail

    def test_postmark_server_mail_carries_metadata_headers(self):
        mail = self._send_mail(self.server)
        self.assertEqual(len(self._mails), 2)
        by_partner = {}
        for sent in self._mails:
            headers = sent["headers"]
            self.assertEqual(headers["X-PM-KeepID"], "true")
            self.assertEqual(headers["X-PM-Metadata-odoo_db"], self.env.cr.dbname)
            self.assertEqual(
                headers["X-PM-Metadata-odoo_message_id"], str(mail.mail_message_id.id)
            )
            self.assertEqual(headers["X-Custom"], "kept")
            by_partner[headers["X-PM-Metadata-odoo_partner_id"]] = sent["email_to"]
        self.assertEqual(
            set(by_partner), {str(self.customer.id), str(self.customer_2.id)}
        )
        self.assertIn("carla@example.com", by_partner[str(self.customer.id)][0])

    def test_other_server_mail_carries_no_postmark_header(self):
        self._send_mail(self.plain_server)
        self.assertTrue(self._mails)
        for sent in self._mails:
            self.assertFalse([h for h in sent["headers"] if h.startswith("X-PM-")])
            self.assertEqual(sent["headers"]["X-Custom"], "kept")

    def test_chatter_notification_mail_is_tagged_end_to_end(self):
        (
            self.plain_server
            | self.env["ir.mail_server"].search([("id", "!=", self.server.id)])
        ).write({"active": False})
        record = self.env["res.partner"].create({"name": "Deal"})
        with self.mock_mail_gateway():
            message = record.with_user(self.sender).message_post(
                body="Hi",
                partner_ids=self.customer.ids,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
            )
        sent = [m for m in self._mails if "carla@example.com" in m["email_to"][0]]
        self.assertEqual(len(sent), 1)
        headers = sent[0]["headers"]
        self.assertEqual(headers["X-PM-Metadata-odoo_message_id"], str(message.id))
        self.assertEqual(
            headers["X-PM-Metadata-odoo_partner_id"], str(self.customer.id)
        )
        # and the event Postmark reports for it links back to this message
        (event,) = self.ingest(
            self.event_vals(message=message, state="bounced", record_type="bounce")
        )
        self.assertEqual(event.user_id, self.sender)
        self.assertEqual(
            self.notification_of(message, self.customer).notification_status, "bounce"
        )
