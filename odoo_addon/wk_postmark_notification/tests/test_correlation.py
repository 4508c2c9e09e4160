from unittest.mock import patch

from odoo.tests import tagged

from odoo.addons.mail.models.mail_message import Message

from .common import PostmarkCase


@tagged("post_install", "-at_install")
class TestCorrelation(PostmarkCase):
    def test_event_links_message_sender_and_recipient_notification(self):
        (event,) = self.ingest(self.event_vals())
        self.assertEqual(event.mail_message_id, self.message)
        self.assertEqual(event.user_id, self.sender)
        self.assertEqual(
            event.mail_notification_id,
            self.notification_of(self.message, self.customer),
        )
        self.assertFalse(event.correlation_note)
        self.assertFalse(event.is_read)

    def test_recipient_found_by_email_without_partner_metadata(self):
        vals = self.event_vals(partner=False, recipient="Dan@Example.com")
        (event,) = self.ingest(vals)
        self.assertEqual(
            event.mail_notification_id,
            self.notification_of(self.message, self.customer_2),
        )

    def test_other_database_is_kept_unlinked(self):
        (event,) = self.ingest(self.event_vals(database="someone_else"))
        self.assertFalse(event.mail_message_id)
        self.assertFalse(event.user_id)
        self.assertIn("someone_else", event.correlation_note)

    def test_unknown_message_is_kept_unlinked(self):
        vals = self.event_vals()
        vals["metadata"] = vals["metadata"].replace(str(self.message.id), "987654321")
        (event,) = self.ingest(vals)
        self.assertFalse(event.mail_message_id)
        self.assertIn("987654321", event.correlation_note)

    def test_event_without_metadata_is_kept_unlinked(self):
        vals = self.event_vals()
        del vals["metadata"]
        (event,) = self.ingest(vals)
        self.assertFalse(event.mail_message_id)
        self.assertTrue(event.correlation_note)

    def test_sender_is_message_creator_when_author_has_no_user(self):
        message = (
            self.env["res.partner"]
            .create({"name": "Doc"})
            .with_user(self.sender)
            .message_post(
                body="On behalf",
                author_id=self.customer_2.id,
                partner_ids=self.customer.ids,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
            )
        )
        (event,) = self.ingest(self.event_vals(message=message))
        self.assertEqual(event.user_id, self.sender)

    def test_bounce_marks_recipient_notification_and_pushes_update(self):
        notification = self.notification_of(self.message, self.customer)
        with patch.object(
            Message,
            "_notify_message_notification_update",
            autospec=True,
            side_effect=Message._notify_message_notification_update,
        ) as pushed:
            self.ingest(
                self.event_vals(
                    state="bounced",
                    record_type="bounce",
                    bounce_type="HardBounce",
                    description="The server was unable to deliver your message",
                )
            )
        self.assertEqual(notification.notification_status, "bounce")
        self.assertEqual(notification.failure_type, "mail_bounce")
        self.assertIn("HardBounce", notification.failure_reason)
        self.assertIn("unable to deliver", notification.failure_reason)
        self.assertTrue(self.message.has_error)
        pushed.assert_called_once()
        self.assertEqual(pushed.call_args.args[0], self.message)
        other = self.notification_of(self.message, self.customer_2)
        self.assertNotIn(other.notification_status, ("bounce", "exception"))

    def test_spam_complaint_and_rejection_are_failures(self):
        self.ingest(
            self.event_vals(state="spam_complaint", record_type="spam_complaint")
        )
        self.assertEqual(
            self.notification_of(self.message, self.customer).notification_status,
            "bounce",
        )
        self.ingest(
            self.event_vals(
                state="rejected", record_type="bounce", partner=self.customer_2
            )
        )
        self.assertEqual(
            self.notification_of(self.message, self.customer_2).notification_status,
            "bounce",
        )

    def test_smtp_api_error_is_an_exception(self):
        self.ingest(
            self.event_vals(
                state="smtp_api_error", record_type="bounce", description="Bad header"
            )
        )
        notification = self.notification_of(self.message, self.customer)
        self.assertEqual(notification.notification_status, "exception")
        self.assertIn("Bad header", notification.failure_reason)

    def test_late_delivery_does_not_clear_a_bounce(self):
        notification = self.notification_of(self.message, self.customer)
        self.ingest(
            self.event_vals(
                state="bounced", record_type="bounce", event_date="2026-01-05 10:05:00"
            )
        )
        self.ingest(self.event_vals(event_date="2026-01-05 10:00:00"))
        self.assertEqual(notification.notification_status, "bounce")
        self.ingest(
            self.event_vals(
                state="opened", record_type="open", event_date="2026-01-05 11:00:00"
            )
        )
        self.assertEqual(notification.notification_status, "bounce")

    def test_older_failure_does_not_replace_newer_reason(self):
        notification = self.notification_of(self.message, self.customer)
        self.ingest(
            self.event_vals(
                state="spam_complaint",
                record_type="spam_complaint",
                description="Complaint",
                event_date="2026-01-06 09:00:00",
            )
        )
        self.ingest(
            self.event_vals(
                state="bounced",
                record_type="bounce",
                description="Old bounce",
                event_date="2026-01-05 09:00:00",
            )
        )
        self.assertIn("Complaint", notification.failure_reason)
        self.assertNotIn("Old bounce", notification.failure_reason)

    def test_delivery_marks_pending_notification_delivered(self):
        notification = self.notification_of(self.message, self.customer)
        notification.notification_status = "pending"
        self.ingest(self.event_vals())
        self.assertEqual(notification.notification_status, "sent")

    def test_soft_bounce_leaves_notification_alone(self):
        notification = self.notification_of(self.message, self.customer)
        before = notification.notification_status
        self.ingest(self.event_vals(state="soft_bounced", record_type="bounce"))
        self.assertEqual(notification.notification_status, before)

    def test_one_batch_applies_events_in_time_order(self):
        notification = self.notification_of(self.message, self.customer)
        self.ingest(
            self.event_vals(
                state="opened", record_type="open", event_date="2026-01-05 10:09:00"
            ),
            self.event_vals(
                state="bounced",
                record_type="bounce",
                description="Gone",
                event_date="2026-01-05 10:05:00",
            ),
            self.event_vals(event_date="2026-01-05 10:01:00"),
            self.event_vals(
                state="rejected",
                record_type="bounce",
                description="Older",
                event_date="2026-01-05 10:00:00",
            ),
        )
        self.assertEqual(notification.notification_status, "bounce")
        self.assertIn("Gone", notification.failure_reason)
