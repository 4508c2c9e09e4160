import json

from psycopg2 import IntegrityError

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import PostmarkCase


@tagged("post_install", "-at_install")
class TestBridgeIngest(PostmarkCase):
    def test_ingest_creates_and_returns_ids(self):
        vals_a = self.event_vals()
        vals_b = self.event_vals(state="opened", record_type="open")
        keys = (
            self.env["postmark.notification"]
            .with_user(self.bridge)
            .bridge_ingest([vals_a, vals_b])
        )
        self.assertEqual(set(keys), {vals_a["dedupe_key"], vals_b["dedupe_key"]})
        events = self.env["postmark.notification"].browse(list(keys.values()))
        self.assertEqual(sorted(events.mapped("state")), ["delivered", "opened"])
        self.assertEqual(events.mapped("dedupe_key"), [e.dedupe_key for e in events])

    def test_ingest_skips_existing_keys(self):
        vals = self.event_vals()
        first = (
            self.env["postmark.notification"]
            .with_user(self.bridge)
            .bridge_ingest([vals])
        )
        again = (
            self.env["postmark.notification"]
            .with_user(self.bridge)
            .bridge_ingest(
                [
                    vals,
                    dict(vals),
                    self.event_vals(state="clicked", record_type="click"),
                ]
            )
        )
        self.assertEqual(again[vals["dedupe_key"]], first[vals["dedupe_key"]])
        self.assertEqual(len(again), 2)
        self.assertEqual(
            self.env["postmark.notification"].search_count(
                [("dedupe_key", "=", vals["dedupe_key"])]
            ),
            1,
        )

    def test_dedupe_key_is_unique_in_the_database(self):
        vals = self.event_vals()
        self.env["postmark.notification"].create(vals)
        with (
            self.assertRaises(IntegrityError),
            mute_logger("odoo.sql_db"),
            self.env.cr.savepoint(),
        ):
            self.env["postmark.notification"].create(dict(vals))

    def test_unknown_state_and_type_are_stored_as_unknown(self):
        (event,) = self.ingest(
            self.event_vals(state="exploded", record_type="Teleport")
        )
        self.assertEqual((event.state, event.record_type), ("unknown", "unknown"))

    def test_iso_event_date_is_converted_to_utc(self):
        (event,) = self.ingest(
            self.event_vals(event_date="2026-01-05T12:30:00.1234567-05:00")
        )
        self.assertEqual(str(event.event_date), "2026-01-05 17:30:00")

    def test_metadata_as_object_and_unknown_mail_server_are_kept(self):
        vals = self.event_vals(mail_server_id=999999)
        vals["metadata"] = json.loads(vals["metadata"])
        (event,) = self.ingest(vals)
        self.assertFalse(event.mail_server_id)
        self.assertEqual(event.mail_message_id, self.message)

    def test_ingest_refuses_bad_input(self):
        Events = self.env["postmark.notification"].with_user(self.bridge)
        with self.assertRaises(ValidationError):
            Events.bridge_ingest([{"state": "delivered"}])
        with self.assertRaises(ValidationError):
            Events.bridge_ingest([dict(self.event_vals(), is_read=True)])
        with self.assertRaises(ValidationError):
            Events.bridge_ingest([dict(self.event_vals(), user_id=self.other_user.id)])
        with self.assertRaises(ValidationError):
            Events.bridge_ingest([self.event_vals(event_date="yesterday")])
        with self.assertRaises(ValidationError):
            Events.bridge_ingest("not a list")

    def test_only_bridge_and_admins_may_ingest(self):
        with self.assertRaises(AccessError):
            self.env["postmark.notification"].with_user(self.sender).bridge_ingest(
                [self.event_vals()]
            )
        keys = (
            self.env["postmark.notification"]
            .with_user(self.admin)
            .bridge_ingest([self.event_vals()])
        )
        self.assertEqual(len(keys), 1)
