import Foundation

/// Turns `ir.mail_server` records, as `search_read` returns them, into ``MailServerSettings``.
///
/// Odoo sends `false` for empty fields, so every field is read leniently; only a record without an id is skipped.
public enum MailServerRecords {
    /// The fields read: the contract's plus the authentication failure counter, which the bridge increments.
    public static let fields = BridgeContract.mailServerFieldsRead + ["postmark_auth_failure_count"]

    /// The settings of one record, or `nil` when it has no id.
    public static func settings(from record: JSONValue) -> MailServerSettings? {
        guard let id = record["id"]?.odooID else { return nil }

        var tokens: [WebhookToken] = []
        if let current = record["postmark_webhook_token"]?.odooNonEmptyString {
            tokens.append(WebhookToken(value: current))
        }
        // A rotated-out token without an end date is not accepted: the grace period must be explicit.
        if let previous = record["postmark_webhook_token_previous"]?.odooNonEmptyString,
            let until = record["postmark_webhook_token_previous_until"]?.odooDate,
            previous != tokens.first?.value
        {
            tokens.append(WebhookToken(value: previous, validUntil: until))
        }

        var triggers = WebhookTriggers()
        triggers.delivery = record["postmark_trigger_delivery"]?.odooBool ?? triggers.delivery
        triggers.bounce = record["postmark_trigger_bounce"]?.odooBool ?? triggers.bounce
        triggers.bounceIncludeContent =
            record["postmark_bounce_include_content"]?.odooBool ?? triggers.bounceIncludeContent
        triggers.spamComplaint = record["postmark_trigger_spam_complaint"]?.odooBool ?? triggers.spamComplaint
        triggers.spamComplaintIncludeContent =
            record["postmark_spam_include_content"]?.odooBool ?? triggers.spamComplaintIncludeContent
        triggers.open = record["postmark_trigger_open"]?.odooBool ?? triggers.open
        triggers.openFirstOnly = record["postmark_open_first_only"]?.odooBool ?? triggers.openFirstOnly
        triggers.click = record["postmark_trigger_click"]?.odooBool ?? triggers.click
        triggers.subscriptionChange =
            record["postmark_trigger_subscription_change"]?.odooBool ?? triggers.subscriptionChange

        return MailServerSettings(
            id: id,
            name: record["name"]?.odooString ?? "",
            tokens: tokens,
            postmarkServerID: record["postmark_server_id"].flatMap(postmarkServerID),
            accountToken: record["postmark_account_token"]?.odooNonEmptyString,
            smtpAPIErrors: record["postmark_smtp_api_errors"]?.odooBool ?? false,
            messageStream: record["postmark_message_stream"]?.odooNonEmptyString ?? "outbound",
            triggers: triggers,
            syncRequested: record["postmark_sync_requested"]?.odooBool ?? false,
            revision: record["write_date"]?.odooString
        )
    }

    /// The settings of every record that has an id.
    public static func settings(from records: [JSONValue]) -> [MailServerSettings] {
        records.compactMap { settings(from: $0) }
    }

    /// The authentication failure counter Odoo shows for each record.
    public static func authenticationFailureCounts(from records: [JSONValue]) -> [Int: Int] {
        var counts: [Int: Int] = [:]
        for record in records {
            guard let id = record["id"]?.odooID else { continue }
            counts[id] = record["postmark_auth_failure_count"]?.odooID ?? 0
        }
        return counts
    }

    /// Postmark's server id is a char field, but an integer field on an older addon still reads as text.
    private static func postmarkServerID(_ value: JSONValue) -> String? {
        if let text = value.odooNonEmptyString { return text.trimmingCharacters(in: .whitespaces) }
        if case .int(let number) = value { return String(number) }
        return nil
    }
}
