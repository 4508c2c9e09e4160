import json
import logging
from collections import defaultdict
from datetime import datetime, timezone

from psycopg2.errors import SerializationFailure, UniqueViolation

from odoo import _, api, fields, models, tools
from odoo.exceptions import AccessError, ValidationError
from odoo.tools import mute_logger

_logger = logging.getLogger(__name__)

BRIDGE_GROUP = "wk_postmark_notification.group_postmark_bridge"
# The systray counts unread events up to this many and shows "99+" beyond.
UNREAD_COUNT_CAP = 100


def check_bridge_access(env):
    """Refuse the bridge API to anyone but the bridge's group and administrators."""
    if not (
        env.su
        or env.user.has_group("base.group_system")
        or env.user.has_group(BRIDGE_GROUP)
    ):
        raise AccessError(
            env._("Only the Postmark bridge and administrators may do this.")
        )


BUS_NOTIFICATION = "wk_postmark_notification/updated"

STATES = [
    ("delivered", "Delivered"),
    ("opened", "Opened"),
    ("clicked", "Clicked"),
    ("bounced", "Bounced"),
    ("soft_bounced", "Soft bounce"),
    ("deferred", "Delayed"),
    ("spam_complaint", "Spam complaint"),
    ("unsubscribed", "Unsubscribed"),
    ("subscribed", "Resubscribed"),
    ("auto_replied", "Auto-reply"),
    ("rejected", "Rejected"),
    ("smtp_api_error", "SMTP API error"),
    ("failed", "Failed"),
    ("unknown", "Unknown"),
]

RECORD_TYPES = [
    ("delivery", "Delivery"),
    ("bounce", "Bounce"),
    ("spam_complaint", "Spam complaint"),
    ("open", "Open"),
    ("click", "Click"),
    ("subscription_change", "Subscription change"),
    ("inbound", "Inbound message"),
    ("unknown", "Unknown"),
]

# What an event does to the recipient's mail.notification: the states that
# make Odoo show a failed delivery on the message, and the ones that prove the
# mail arrived. Everything else (soft bounces, auto-replies, subscription
# changes) leaves the notification as it is.
FAILURE_STATES = {
    "bounced": ("bounce", "mail_bounce"),
    "spam_complaint": ("bounce", "mail_bounce"),
    "rejected": ("bounce", "mail_bounce"),
    "failed": ("bounce", "mail_bounce"),
    "smtp_api_error": ("exception", "unknown"),
}
SUCCESS_STATES = {"delivered", "opened", "clicked"}
NOT_YET_DELIVERED = ("ready", "process", "pending")

# The fields postmark-bridge may set through bridge_ingest (bridge_contract.json).
BRIDGE_FIELDS = frozenset(
    {
        "dedupe_key",
        "state",
        "record_type",
        "mail_server_id",
        "recipient",
        "subject",
        "postmark_message_id",
        "event_date",
        "message_stream",
        "tag",
        "metadata",
        "bounce_type",
        "bounce_code",
        "bounce_id",
        "description",
        "details",
        "inactive",
        "first_open",
        "client_name",
        "os_name",
        "platform",
        "user_agent",
        "geo_country",
        "geo_city",
        "click_location",
        "link_url",
        "payload",
    }
)

METADATA_DATABASE = "odoo_db"
METADATA_MESSAGE = "odoo_message_id"
METADATA_PARTNER = "odoo_partner_id"


class PostmarkNotification(models.Model):
    """One event Postmark reported about an email Odoo sent (or received).

    Records are created by postmark-bridge through :meth:`bridge_ingest`. On
    creation each event is linked to the ``mail.message`` and the recipient's
    ``mail.notification`` named in the metadata headers Odoo put on the
    outgoing mail, and to the user who sent it, who then sees it in the
    systray.
    """

    _name = "postmark.notification"
    _description = "Postmark Notification"
    _order = "event_date desc, id desc"
    _rec_name = "recipient"

    dedupe_key = fields.Char(
        readonly=True,
        copy=False,
        help="Identifies the Postmark event; the bridge never sends one twice.",
    )
    state = fields.Selection(STATES, required=True, default="unknown", index=True)
    record_type = fields.Selection(
        RECORD_TYPES, string="Record Type", required=True, default="unknown"
    )
    event_date = fields.Datetime(
        string="Event Time",
        index=True,
        default=fields.Datetime.now,
        help="When Postmark says the event happened (UTC).",
    )
    recipient = fields.Char()
    subject = fields.Char()
    postmark_message_id = fields.Char(
        string="Postmark MessageID", index="btree_not_null"
    )
    mail_server_id = fields.Many2one(
        "ir.mail_server", string="Mail Server", ondelete="set null"
    )
    message_stream = fields.Char()
    tag = fields.Char()
    metadata = fields.Text(help="Metadata echoed by Postmark, as JSON.")
    bounce_type = fields.Char()
    bounce_code = fields.Integer()
    bounce_id = fields.Char(string="Bounce ID")
    description = fields.Text()
    details = fields.Text()
    inactive = fields.Boolean(help="Postmark deactivated the recipient address.")
    first_open = fields.Boolean()
    client_name = fields.Char(string="Client")
    os_name = fields.Char(string="Operating System")
    platform = fields.Char()
    user_agent = fields.Char()
    geo_country = fields.Char(string="Country")
    geo_city = fields.Char(string="City")
    click_location = fields.Char()
    link_url = fields.Char(string="Link")
    payload = fields.Text(string="Raw Payload", groups="base.group_system")
    payload_pretty = fields.Text(
        string="Payload", compute="_compute_payload_pretty", groups="base.group_system"
    )

    mail_message_id = fields.Many2one(
        "mail.message", string="Message", ondelete="set null", index="btree_not_null"
    )
    user_id = fields.Many2one(
        "res.users", string="Sender", ondelete="set null", index="btree_not_null"
    )
    mail_notification_id = fields.Many2one(
        "mail.notification",
        string="Recipient Notification",
        ondelete="set null",
        index="btree_not_null",
    )
    correlation_note = fields.Char(
        help="Why this event is not linked to a message, when it is not."
    )
    is_read = fields.Boolean(string="Read", default=False)
    res_model = fields.Char(related="mail_message_id.model", string="Document Model")
    res_id = fields.Many2oneReference(
        related="mail_message_id.res_id", string="Document ID", model_field="res_model"
    )
    is_failure = fields.Boolean(
        compute="_compute_is_failure", search="_search_is_failure"
    )

    _sql_constraints = [
        (
            "dedupe_key_unique",
            "UNIQUE(dedupe_key)",
            "A Postmark event with this dedupe key already exists.",
        ),
    ]

    def init(self):
        # The systray asks "my unread events" on every page load.
        tools.create_index(
            self.env.cr,
            "postmark_notification_user_unread_index",
            self._table,
            ["user_id", "event_date DESC"],
            where="is_read IS NOT TRUE",
        )

    @api.depends("payload")
    def _compute_payload_pretty(self):
        for event in self:
            try:
                event.payload_pretty = json.dumps(
                    json.loads(event.payload), indent=2, ensure_ascii=False
                )
            except (TypeError, ValueError):
                event.payload_pretty = event.payload

    @api.depends("state")
    def _compute_is_failure(self):
        for event in self:
            event.is_failure = event.state in FAILURE_STATES

    def _search_is_failure(self, operator, value):
        if operator not in ("=", "!="):
            raise ValidationError(_("Unsupported search on failures."))
        positive = (operator == "=") == bool(value)
        return [("state", "in" if positive else "not in", list(FAILURE_STATES))]

    @api.depends("state", "recipient")
    def _compute_display_name(self):
        labels = dict(self._fields["state"]._description_selection(self.env))
        for event in self:
            event.display_name = " · ".join(
                filter(None, [labels.get(event.state), event.recipient])
            )

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        found = self._correlation_lookups(vals_list)
        vals_list = [self._correlate_vals(dict(vals), found) for vals in vals_list]
        events = super().create(vals_list)
        events._apply_to_mail_notifications()
        events._notify_users()
        return events

    def write(self, vals):
        if not self.env.su and not self.env.user.has_group("base.group_system"):
            forbidden = set(vals) - {"is_read"}
            if forbidden:
                raise AccessError(
                    _(
                        "You may only mark Postmark notifications as read "
                        "(not change %(fields)s).",
                        fields=", ".join(sorted(forbidden)),
                    )
                )
        result = super().write(vals)
        if "is_read" in vals:
            self._notify_users()
        return result

    # ------------------------------------------------------------
    # Correlation
    # ------------------------------------------------------------

    @api.model
    def _correlation_lookups(self, vals_list):
        """The messages and recipient notifications named by the metadata of
        a batch of events, read with one query each rather than per event.

        :return: ``{"messages": {id: mail.message}, "notifications":
            {(message id, partner id): mail.notification}}``
        """
        message_ids, pairs = set(), set()
        for vals in vals_list:
            if vals.get("mail_message_id") or vals.get("correlation_note"):
                continue
            metadata = self._parse_metadata(vals.get("metadata")) or {}
            if metadata.get(METADATA_DATABASE) != self.env.cr.dbname:
                continue
            message_id = _to_int(metadata.get(METADATA_MESSAGE))
            if not _is_record_id(message_id):
                continue
            message_ids.add(message_id)
            partner_id = _to_int(metadata.get(METADATA_PARTNER))
            if _is_record_id(partner_id):
                pairs.add((message_id, partner_id))
        # sudo: see _correlate_vals.
        messages = self.env["mail.message"].sudo().browse(message_ids).exists()
        notifications = {}
        if pairs:
            # Ordered by id, so each pair keeps the notification that a
            # search with limit=1 would find.
            for notification in (
                self.env["mail.notification"]
                .sudo()
                .search(
                    [
                        ("mail_message_id", "in", list({m for m, _ in pairs})),
                        ("res_partner_id", "in", list({p for _, p in pairs})),
                        ("notification_type", "=", "email"),
                    ],
                    order="id",
                )
            ):
                notifications.setdefault(
                    (notification.mail_message_id.id, notification.res_partner_id.id),
                    notification,
                )
        return {
            "messages": {message.id: message for message in messages},
            "notifications": notifications,
        }

    @api.model
    def _correlate_vals(self, vals, found=None):
        """Fill mail_message_id, user_id and mail_notification_id from the
        event's metadata, or correlation_note saying why they stay empty.

        :param dict found: what :meth:`_correlation_lookups` read for the
            batch; without it the lookups are made for this event alone
        """
        if vals.get("mail_message_id") or vals.get("correlation_note"):
            return vals
        metadata = self._parse_metadata(vals.get("metadata"))
        if metadata is None:
            vals["correlation_note"] = _("The event carries no Odoo metadata.")
            return vals
        database = metadata.get(METADATA_DATABASE)
        if not database:
            vals["correlation_note"] = _("The event carries no Odoo metadata.")
            return vals
        if database != self.env.cr.dbname:
            vals["correlation_note"] = _(
                "The email was sent from another Odoo database (%(db)s).", db=database
            )
            return vals
        message_id = _to_int(metadata.get(METADATA_MESSAGE))
        if found is None:
            found = self._correlation_lookups([vals])
        # sudo (in the lookups): the bridge user and the event's future reader
        # may not read the message's document; linking it is the addon's job.
        message = found["messages"].get(message_id)
        if not message:
            vals["correlation_note"] = _(
                "No message %(id)s in this database.",
                id=metadata.get(METADATA_MESSAGE) or "?",
            )
            return vals
        vals["mail_message_id"] = message.id
        vals["user_id"] = self._sender_user(message).id
        partner_id = _to_int(metadata.get(METADATA_PARTNER))
        if _is_record_id(partner_id):
            notification = found["notifications"].get((message.id, partner_id))
        else:
            notification = self._recipient_notification(
                message, None, vals.get("recipient")
            )
        if notification:
            vals["mail_notification_id"] = notification.id
        return vals

    @api.model
    def _parse_metadata(self, metadata):
        if not metadata:
            return None
        if isinstance(metadata, dict):
            return metadata
        try:
            parsed = json.loads(metadata)
        except (TypeError, ValueError):
            return None
        return parsed if isinstance(parsed, dict) else None

    @api.model
    def _sender_user(self, message):
        """The internal user who sent the message: the author's user, else the
        user who created the message (mails sent on behalf of a partner)."""
        users = message.author_id.with_context(active_test=False).user_ids
        user = users.filtered(lambda u: not u.share)[:1] or users[:1]
        if (
            not user
            and message.create_uid
            and message.create_uid != self.env.ref("base.user_root")
        ):
            user = message.create_uid
        return user

    @api.model
    def _recipient_notification(self, message, partner_id, recipient):
        Notification = self.env["mail.notification"].sudo()
        domain = [
            ("mail_message_id", "=", message.id),
            ("notification_type", "=", "email"),
        ]
        if partner_id:
            return Notification.search(
                domain + [("res_partner_id", "=", partner_id)], limit=1
            )
        email = tools.email_normalize(recipient or "")
        if not email:
            return Notification
        return Notification.search(
            domain + [("res_partner_id.email_normalized", "=", email)], limit=1
        )

    def _apply_to_mail_notifications(self):
        """Show failures on the sender's message the way Odoo shows its own
        bounces, and mark deliveries; an older event never overrides a newer
        one and a success never clears a failure."""
        events = self.filtered(
            lambda e: (
                e.mail_notification_id
                and (e.state in FAILURE_STATES or e.state in SUCCESS_STATES)
            )
        )
        if not events:
            return
        # Every failure already stored for these recipients, in one query.
        failures = defaultdict(lambda: self.browse())
        for failure in self.sudo().search(
            [
                ("mail_notification_id", "in", events.mail_notification_id.ids),
                ("state", "in", list(FAILURE_STATES)),
            ]
        ):
            failures[failure.mail_notification_id.id] |= failure
        messages = self.env["mail.message"].sudo()
        for event in events.sorted(lambda e: (e.event_date or datetime.min, e.id)):
            notification = event.mail_notification_id.sudo()
            siblings = failures[notification.id] - event
            if event.state in SUCCESS_STATES:
                if (
                    siblings
                    or notification.notification_status not in NOT_YET_DELIVERED
                ):
                    continue
                notification.write({"notification_status": "sent"})
            else:
                when = event.event_date or datetime.min
                if any((s.event_date or datetime.min) > when for s in siblings):
                    continue
                status, failure_type = FAILURE_STATES[event.state]
                notification.write(
                    {
                        "notification_status": status,
                        "failure_type": failure_type,
                        "failure_reason": event._failure_reason(),
                    }
                )
                mail = notification.mail_mail_id
                if mail and mail.state != "exception":
                    mail.write(
                        {
                            "state": "exception",
                            "failure_type": "unknown",
                            "failure_reason": event._failure_reason(),
                        }
                    )
            messages |= notification.mail_message_id
        if messages:
            messages._notify_message_notification_update()

    def _failure_reason(self):
        self.ensure_one()
        labels = dict(self._fields["state"]._description_selection(self.env))
        parts = [_("Postmark: %(state)s", state=labels.get(self.state))]
        if self.bounce_type:
            parts.append(self.bounce_type)
        if self.description:
            parts.append(self.description)
        if self.details:
            parts.append(self.details)
        return " — ".join(parts)

    # ------------------------------------------------------------
    # Bridge API
    # ------------------------------------------------------------

    @api.model
    def bridge_ingest(self, vals_list):
        """Store the events the bridge forwards, at most once per dedupe key.

        :param list vals_list: dicts of the fields the bridge sets
            (``fields_sent_by_bridge`` in bridge_contract.json); each needs a
            ``dedupe_key``.
        :return: ``{dedupe_key: id}`` for every given key, existing ones included
        """
        check_bridge_access(self.env)
        if isinstance(vals_list, dict):
            vals_list = [vals_list]
        if not isinstance(vals_list, list):
            raise ValidationError(_("bridge_ingest expects a list of events."))
        pending = {}
        for vals in vals_list:
            if not isinstance(vals, dict):
                raise ValidationError(_("Each event must be an object."))
            key = vals.get("dedupe_key")
            if not isinstance(key, str) or not key.strip():
                raise ValidationError(_("Each event needs a non-empty dedupe_key."))
            unknown = set(vals) - BRIDGE_FIELDS
            if unknown:
                raise ValidationError(
                    _(
                        "Fields not accepted from the bridge: %(f)s",
                        f=", ".join(sorted(unknown)),
                    )
                )
            pending.setdefault(key, vals)
        # sudo: the bridge account has no rights on messages, notifications
        # and users; the group check above is the gate.
        Events = self.sudo()
        result = {
            event.dedupe_key: event.id
            for event in Events.search([("dedupe_key", "in", list(pending))])
        }
        new = [vals for key, vals in pending.items() if key not in result]
        servers = set(
            self.env["ir.mail_server"]
            .sudo()
            .browse(
                {
                    server_id
                    for server_id in (_to_int(v.get("mail_server_id")) for v in new)
                    if _is_record_id(server_id)
                }
            )
            .exists()
            .ids
        )
        to_create = [Events._normalize_bridge_vals(vals, servers) for vals in new]
        if to_create:
            try:
                with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                    created = Events.create(to_create)
            except UniqueViolation as error:
                # Another bridge process stored one of these keys after this
                # transaction started; the RPC layer retries serialization
                # failures, and the retry finds the stored event.
                raise SerializationFailure(
                    "concurrent ingest of the same dedupe key"
                ) from error
            for event in created:
                result[event.dedupe_key] = event.id
        return result

    @api.model
    def _normalize_bridge_vals(self, vals, servers=None):
        """Coerce what the bridge sent so an unusual event is stored, not refused.

        :param set servers: the ids of the existing mail servers among those
            the batch names; without it the event's server is looked up alone
        """
        vals = dict(vals)
        states = dict(STATES)
        if vals.get("state") not in states:
            vals["state"] = "unknown"
        if vals.get("record_type") not in dict(RECORD_TYPES):
            vals["record_type"] = "unknown"
        if isinstance(vals.get("metadata"), (dict, list)):
            vals["metadata"] = json.dumps(vals["metadata"], sort_keys=True)
        if isinstance(vals.get("payload"), (dict, list)):
            vals["payload"] = json.dumps(vals["payload"])
        if "event_date" in vals:
            vals["event_date"] = self._parse_event_date(vals["event_date"])
        if "bounce_code" in vals:
            vals["bounce_code"] = _to_int(vals["bounce_code"]) or 0
        server_id = _to_int(vals.get("mail_server_id"))
        if "mail_server_id" in vals:
            if servers is None and _is_record_id(server_id):
                servers = set(
                    self.env["ir.mail_server"].sudo().browse(server_id).exists().ids
                )
            vals["mail_server_id"] = (
                server_id if server_id in (servers or ()) else False
            )
        for name, value in list(vals.items()):
            if value is None:
                vals[name] = False
        return vals

    @api.model
    def _parse_event_date(self, value):
        """Accept Odoo's "YYYY-MM-DD HH:MM:SS" (UTC) and ISO 8601 with an offset."""
        if not value or isinstance(value, datetime):
            return value
        if not isinstance(value, str):
            raise ValidationError(_("event_date must be a date-time string."))
        text = value.strip().replace("Z", "+00:00")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as error:
            raise ValidationError(
                _("event_date %(value)s is not a date-time.", value=value)
            ) from error
        if parsed.tzinfo:
            parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
        return parsed.replace(microsecond=0)

    # ------------------------------------------------------------
    # Systray and user actions
    # ------------------------------------------------------------

    @api.model
    def get_systray_data(self, limit=10):
        """Unread count and latest events of the current user, for the systray."""
        limit = max(1, min(int(limit or 10), 50))
        domain = [("user_id", "=", self.env.uid)]
        events = self.search(domain, limit=limit)
        labels = dict(self._fields["state"]._description_selection(self.env))
        return {
            "unread": self._unread_count(self.env.uid),
            "items": [
                {
                    "id": event.id,
                    "state": event.state,
                    "state_label": labels.get(event.state),
                    "recipient": event.recipient or "",
                    "subject": event.subject
                    or event.mail_message_id.sudo().subject
                    or "",
                    "event_date": fields.Datetime.to_string(event.event_date),
                    "is_read": event.is_read,
                    "is_failure": event.state in FAILURE_STATES,
                }
                for event in events
            ],
        }

    def action_mark_read(self):
        """Mark these events read (only the caller's own, through the rules)."""
        self.filtered(lambda e: not e.is_read).write({"is_read": True})
        return True

    @api.model
    def action_mark_all_read(self):
        """Mark every unread event of the current user read."""
        self.search([("user_id", "=", self.env.uid), ("is_read", "=", False)]).write(
            {"is_read": True}
        )
        return True

    def action_open(self):
        """Open the event's form and mark it read (used by the systray)."""
        self.ensure_one()
        self.action_mark_read()
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "views": [[False, "form"]],
            "target": "current",
        }

    def action_open_document(self):
        """Open the document the email was sent about."""
        self.ensure_one()
        if not self.res_model or not self.res_id:
            return False
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "views": [[False, "form"]],
            "target": "current",
        }

    def _notify_users(self):
        users = self.sudo().user_id
        for user in users:
            user._bus_send(BUS_NOTIFICATION, {"unread": self._unread_count(user.id)})

    @api.model
    def _unread_count(self, user_id):
        """Unread events of a user, counted up to UNREAD_COUNT_CAP only: the
        systray shows "99+" beyond, and a bulk sender's backlog of unread
        events must not make every forwarded batch count them all."""
        return self.sudo().search_count(
            [("user_id", "=", user_id), ("is_read", "=", False)],
            limit=UNREAD_COUNT_CAP,
        )


def _is_record_id(value):
    """Whether value can be a record id (PostgreSQL's serial is 32-bit)."""
    return isinstance(value, int) and 0 < value < 2**31


def _to_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
