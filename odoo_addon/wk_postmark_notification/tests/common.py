import json
from itertools import count

from odoo.tests import TransactionCase, new_test_user

_sequence = count(1)


def post_message(env, user, partners, subject="Your quote"):
    """Post a comment as ``user`` that notifies ``partners`` by email."""
    record = env["res.partner"].create({"name": "Quote target"})
    return record.with_user(user).message_post(
        body="Here is your quote",
        subject=subject,
        partner_ids=partners.ids,
        message_type="comment",
        subtype_xmlid="mail.mt_comment",
    )


def event_vals(
    env,
    server,
    message,
    partner,
    state="delivered",
    record_type="delivery",
    database=None,
    **extra,
):
    """One event as postmark-bridge sends it to bridge_ingest."""
    metadata = {"odoo_db": database or env.cr.dbname}
    if message:
        metadata["odoo_message_id"] = str(message.id)
    if partner:
        metadata["odoo_partner_id"] = str(partner.id)
    vals = {
        "dedupe_key": f"test-{next(_sequence)}",
        "state": state,
        "record_type": record_type,
        "mail_server_id": server.id,
        "recipient": partner.email if partner else "nobody@example.com",
        "subject": "Your quote",
        "postmark_message_id": "b7bc2f4a-e38e-4336-af7d-e6c392c2f817",
        "event_date": "2026-01-05 10:00:00",
        "message_stream": "outbound",
        "metadata": json.dumps(metadata),
        "payload": json.dumps({"RecordType": record_type.title()}),
    }
    vals.update(extra)
    return vals


class PostmarkCase(TransactionCase):
    """Users, a Postmark mail server and a message the sender emailed."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(
            context=dict(cls.env.context, mail_create_nolog=True, tracking_disable=True)
        )
        cls.sender = new_test_user(
            cls.env,
            login="pm_sender",
            groups="base.group_user,base.group_partner_manager",
            name="Sally Sender",
            email="sally@example.com",
        )
        cls.other_user = new_test_user(
            cls.env,
            login="pm_other",
            groups="base.group_user,base.group_partner_manager",
            name="Oscar Other",
            email="oscar@example.com",
        )
        cls.admin = new_test_user(
            cls.env, login="pm_admin", groups="base.group_user,base.group_system"
        )
        cls.bridge = new_test_user(
            cls.env,
            login="pm_bridge",
            name="Postmark Bridge",
            groups="base.group_user,wk_postmark_notification.group_postmark_bridge",
        )
        cls.server = cls.env["ir.mail_server"].create(
            {
                "name": "Postmark",
                "smtp_host": "127.0.0.1",
                "smtp_port": 587,
                "postmark_enabled": True,
                "postmark_server_id": "424242",
                "postmark_account_token": "account-secret",
            }
        )
        cls.plain_server = cls.env["ir.mail_server"].create(
            {
                "name": "Plain SMTP",
                "smtp_host": "127.0.0.1",
                "smtp_port": 25,
                "sequence": 50,
            }
        )
        cls.customer = cls.env["res.partner"].create(
            {"name": "Carla Customer", "email": "carla@example.com"}
        )
        cls.customer_2 = cls.env["res.partner"].create(
            {"name": "Dan Customer", "email": "dan@example.com"}
        )
        cls.message = cls.post_message(cls.sender, cls.customer | cls.customer_2)

    @classmethod
    def post_message(cls, user, partners, subject="Your quote"):
        return post_message(cls.env, user, partners, subject)

    def notification_of(self, message, partner):
        return self.env["mail.notification"].search(
            [("mail_message_id", "=", message.id), ("res_partner_id", "=", partner.id)]
        )

    def event_vals(
        self,
        state="delivered",
        record_type="delivery",
        message=None,
        partner=None,
        **extra,
    ):
        return event_vals(
            self.env,
            self.server,
            self.message if message is None else message,
            self.customer if partner is None else partner,
            state=state,
            record_type=record_type,
            **extra,
        )

    def ingest(self, *vals_list, user=None):
        Events = self.env["postmark.notification"].with_user(user or self.bridge)
        keys = Events.bridge_ingest(list(vals_list))
        return self.env["postmark.notification"].browse(
            [keys[v["dedupe_key"]] for v in vals_list]
        )
