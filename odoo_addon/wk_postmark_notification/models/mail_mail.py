from odoo import models

from .postmark_notification import METADATA_DATABASE, METADATA_MESSAGE, METADATA_PARTNER


class MailMail(models.Model):
    """Tag mail sent through a Postmark server so its events link back here."""

    _inherit = "mail.mail"

    def _prepare_outgoing_list(self, mail_server=False, **kwargs):
        """Add ``X-PM-KeepID`` and the ``X-PM-Metadata-*`` headers Postmark
        echoes in its webhooks: database, ``mail.message`` id and recipient
        partner id. Mail through other servers is left untouched."""
        email_list = super()._prepare_outgoing_list(mail_server=mail_server, **kwargs)
        server = mail_server or self.mail_server_id
        if not server or not server.sudo().postmark_enabled:
            return email_list
        common = {
            # Keep Odoo's Message-ID so replies thread on the right document.
            "X-PM-KeepID": "true",
            f"X-PM-Metadata-{METADATA_DATABASE}": self.env.cr.dbname,
            f"X-PM-Metadata-{METADATA_MESSAGE}": str(self.mail_message_id.id),
        }
        for email in email_list:
            # The headers dict is shared by all recipients of this mail.
            headers = dict(email.get("headers") or {}, **common)
            partner = email.get("partner_id")
            if partner:
                headers[f"X-PM-Metadata-{METADATA_PARTNER}"] = str(partner.id)
            email["headers"] = headers
        return email_list
