import logging
import secrets
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.modules.module import get_manifest

from .postmark_notification import BRIDGE_GROUP, check_bridge_access

_logger = logging.getLogger(__name__)

SECRET_GROUPS = f"base.group_system,{BRIDGE_GROUP}"
BRIDGE_URL_PARAM = "wk_postmark_notification.bridge_url"
GRACE_HOURS_PARAM = "wk_postmark_notification.token_grace_hours"
DEFAULT_GRACE_HOURS = 24

SYNC_STATES = [
    ("never", "Not synced yet"),
    ("pending", "Sync requested"),
    ("ok", "In sync"),
    ("error", "Error"),
]

# The fields postmark_bridge_report may write (bridge_contract.json).
REPORT_FIELDS = frozenset(
    {
        "postmark_sync_state",
        "postmark_sync_message",
        "postmark_sync_date",
        "postmark_last_event_date",
        "postmark_auth_failure_count",
        "postmark_last_auth_failure_date",
        "postmark_sync_requested",
    }
)

# Changing one of these means the Postmark side has to be reconciled again.
SYNCED_FIELDS = frozenset(
    {
        "postmark_enabled",
        "postmark_server_id",
        "postmark_account_token",
        "postmark_webhook_token",
        "postmark_smtp_api_errors",
        "postmark_message_stream",
        "postmark_trigger_delivery",
        "postmark_trigger_bounce",
        "postmark_bounce_include_content",
        "postmark_trigger_spam_complaint",
        "postmark_spam_include_content",
        "postmark_trigger_open",
        "postmark_open_first_only",
        "postmark_trigger_click",
        "postmark_trigger_subscription_change",
    }
)


class IrMailServer(models.Model):
    """Postmark settings of an outgoing mail server, read by postmark-bridge."""

    _inherit = "ir.mail_server"

    postmark_enabled = fields.Boolean(
        string="Use Postmark",
        help="This server is Postmark's SMTP service: tag outgoing mail so "
        "Postmark's events link back to Odoo, and let the bridge manage the webhook.",
    )
    postmark_server_id = fields.Char(
        string="Postmark Server ID", help="The numeric ID of the Postmark server."
    )
    postmark_account_token = fields.Char(
        string="Account API Token",
        groups=SECRET_GROUPS,
        copy=False,
        help="Postmark account token, used by the bridge to manage webhooks "
        "and SMTP API error tracking on this server.",
    )
    postmark_webhook_token = fields.Char(
        string="Webhook Verify Token",
        groups=SECRET_GROUPS,
        copy=False,
        readonly=True,
        help="Secret Postmark sends with every webhook call (HTTP Basic password).",
    )
    postmark_webhook_token_previous = fields.Char(
        string="Previous Webhook Token", groups=SECRET_GROUPS, copy=False, readonly=True
    )
    postmark_webhook_token_previous_until = fields.Datetime(
        string="Previous Token Valid Until", copy=False, readonly=True
    )
    postmark_smtp_api_errors = fields.Boolean(
        string="Track SMTP API Errors",
        default=True,
        help="Ask Postmark to report messages it refused at SMTP time as bounces.",
    )
    postmark_message_stream = fields.Char(string="Message Stream", default="outbound")
    postmark_trigger_delivery = fields.Boolean(string="Deliveries", default=True)
    postmark_trigger_bounce = fields.Boolean(string="Bounces", default=True)
    postmark_bounce_include_content = fields.Boolean(string="Include Bounce Content")
    postmark_trigger_spam_complaint = fields.Boolean(
        string="Spam Complaints", default=True
    )
    postmark_spam_include_content = fields.Boolean(string="Include Complaint Content")
    postmark_trigger_open = fields.Boolean(string="Opens", default=True)
    postmark_open_first_only = fields.Boolean(string="First Open Only", default=True)
    postmark_trigger_click = fields.Boolean(string="Link Clicks", default=True)
    postmark_trigger_subscription_change = fields.Boolean(
        string="Subscription Changes", default=True
    )
    postmark_callback_url = fields.Char(
        string="Callback URL",
        compute="_compute_postmark_callback_url",
        help="The webhook URL to give Postmark. Built from the public URL the bridge "
        "reports (system parameter wk_postmark_notification.bridge_url).",
    )
    postmark_sync_requested = fields.Boolean(string="Sync Requested", copy=False)
    postmark_sync_state = fields.Selection(
        SYNC_STATES, string="Sync State", default="never", copy=False, readonly=True
    )
    postmark_sync_message = fields.Char(
        string="Sync Message", copy=False, readonly=True
    )
    postmark_sync_date = fields.Datetime(string="Last Sync", copy=False, readonly=True)
    postmark_last_event_date = fields.Datetime(
        string="Last Event", copy=False, readonly=True
    )
    postmark_auth_failure_count = fields.Integer(
        string="Rejected Webhook Calls", copy=False, readonly=True
    )
    postmark_last_auth_failure_date = fields.Datetime(
        string="Last Rejected Call", copy=False, readonly=True
    )
    postmark_notification_count = fields.Integer(
        string="Postmark Events", compute="_compute_postmark_notification_count"
    )

    @api.depends("postmark_enabled")
    def _compute_postmark_callback_url(self):
        base = self.env["ir.config_parameter"].sudo().get_param(BRIDGE_URL_PARAM) or ""
        base = base.strip().rstrip("/")
        for server in self:
            if server.postmark_enabled and base and server.id:
                server.postmark_callback_url = f"{base}/postmark/webhook/{server.id}"
            else:
                server.postmark_callback_url = False

    def _compute_postmark_notification_count(self):
        counts = {
            server.id: count
            for server, count in self.env["postmark.notification"]._read_group(
                [("mail_server_id", "in", self.ids)], ["mail_server_id"], ["__count"]
            )
        }
        for server in self:
            server.postmark_notification_count = counts.get(server.id, 0)

    @api.constrains("postmark_enabled", "postmark_message_stream")
    def _check_postmark_message_stream(self):
        for server in self:
            if (
                server.postmark_enabled
                and not (server.postmark_message_stream or "").strip()
            ):
                raise ValidationError(_("A Postmark server needs a message stream."))

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("postmark_enabled"):
                vals.setdefault("postmark_webhook_token", secrets.token_urlsafe(32))
                vals.setdefault("postmark_sync_requested", True)
                vals.setdefault("postmark_sync_state", "pending")
        return super().create(vals_list)

    def write(self, vals):
        if (
            SYNCED_FIELDS & set(vals)
            and not self.env.context.get("postmark_bridge_report")
            and "postmark_sync_requested" not in vals
        ):
            vals = dict(
                vals, postmark_sync_requested=True, postmark_sync_state="pending"
            )
        result = super().write(vals)
        if vals.get("postmark_enabled"):
            for server in self.sudo().filtered(lambda s: not s.postmark_webhook_token):
                server.postmark_webhook_token = secrets.token_urlsafe(32)
        return result

    # ------------------------------------------------------------
    # Admin actions
    # ------------------------------------------------------------

    def action_postmark_generate_token(self):
        """Replace the webhook verify token; the old one stays valid for the
        grace period (system parameter wk_postmark_notification.token_grace_hours)."""
        self.check_access("write")
        grace = _grace_hours(self.env)
        now = fields.Datetime.now()
        for server in self.sudo():
            previous = server.postmark_webhook_token
            server.write(
                {
                    "postmark_webhook_token": secrets.token_urlsafe(32),
                    "postmark_webhook_token_previous": previous or False,
                    "postmark_webhook_token_previous_until": (
                        now + timedelta(hours=grace) if previous else False
                    ),
                    "postmark_sync_requested": True,
                    "postmark_sync_state": "pending",
                }
            )
        return True

    def action_postmark_sync_now(self):
        """Ask the bridge to reconcile the Postmark side at its next refresh."""
        self.check_access("write")
        self.write({"postmark_sync_requested": True, "postmark_sync_state": "pending"})
        return True

    def action_postmark_open_notifications(self):
        """The Postmark events received for this server."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "wk_postmark_notification.action_postmark_notification"
        )
        action["domain"] = [("mail_server_id", "=", self.id)]
        action["context"] = {}
        return action

    # ------------------------------------------------------------
    # Bridge API
    # ------------------------------------------------------------

    @api.model
    def postmark_bridge_report(self, reports):
        """Store what the bridge found when reconciling Postmark.

        :param list reports: dicts with ``id`` and any of the fields the bridge
            writes (``fields_written_by_bridge`` in bridge_contract.json)
        :return: True
        """
        check_bridge_access(self.env)
        if isinstance(reports, dict):
            reports = [reports]
        if not isinstance(reports, list):
            raise ValidationError(
                _("postmark_bridge_report expects a list of reports.")
            )
        for report in reports:
            if not isinstance(report, dict) or not isinstance(report.get("id"), int):
                raise ValidationError(_("Each report needs the mail server id."))
            values = {k: v for k, v in report.items() if k != "id"}
            unknown = set(values) - REPORT_FIELDS
            if unknown:
                raise ValidationError(
                    _(
                        "Fields the bridge may not write: %(f)s",
                        f=", ".join(sorted(unknown)),
                    )
                )
            state = values.get("postmark_sync_state")
            if state is not None and state not in dict(SYNC_STATES):
                raise ValidationError(_("Unknown sync state %(s)s.", s=state))
            if "postmark_sync_message" in values and values["postmark_sync_message"]:
                values["postmark_sync_message"] = str(values["postmark_sync_message"])[
                    :500
                ]
            values = {k: (False if v is None else v) for k, v in values.items()}
            server = self.sudo().browse(report["id"]).exists()
            if not server:
                raise ValidationError(_("No mail server %(id)s.", id=report["id"]))
            # sudo after the group check: the bridge has read-only access.
            server.with_context(postmark_bridge_report=True).write(values)
        return True

    @api.model
    def postmark_bridge_hello(self, public_url):
        """Record the bridge's public URL and tell it which Odoo it talks to.

        :param str public_url: base URL Postmark reaches the bridge at (or empty)
        :return: ``{"server_version": str, "addon_version": str}``
        """
        check_bridge_access(self.env)
        if public_url is not None and not isinstance(public_url, str):
            raise ValidationError(_("public_url must be a string."))
        url = (public_url or "").strip().rstrip("/")
        if url and not url.startswith(("http://", "https://")):
            raise ValidationError(_("public_url must be an http(s) URL."))
        params = self.env["ir.config_parameter"].sudo()
        if url and params.get_param(BRIDGE_URL_PARAM) != url:
            params.set_param(BRIDGE_URL_PARAM, url)
        from odoo.release import version

        return {
            "server_version": version,
            "addon_version": get_manifest("wk_postmark_notification").get(
                "version", ""
            ),
        }


def _grace_hours(env):
    raw = (
        env["ir.config_parameter"]
        .sudo()
        .get_param(GRACE_HOURS_PARAM, DEFAULT_GRACE_HOURS)
    )
    try:
        hours = float(raw)
    except (TypeError, ValueError):
        _logger.warning(
            "Ignoring invalid %s, using %s hours",
            GRACE_HOURS_PARAM,
            DEFAULT_GRACE_HOURS,
        )
        return DEFAULT_GRACE_HOURS
    return max(hours, 0)
