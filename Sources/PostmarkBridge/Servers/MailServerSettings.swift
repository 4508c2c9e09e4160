import Foundation

/// A verify token the bridge accepts for one mail server's webhooks.
public struct WebhookToken: Sendable, Equatable, Codable {
    /// The secret itself.
    public var value: String
    /// Until when a rotated-out token keeps working; `nil` for the current token.
    public var validUntil: Date?

    /// Creates a token, current unless `validUntil` is given.
    public init(value: String, validUntil: Date? = nil) {
        self.value = value
        self.validUntil = validUntil
    }

    /// Whether the token is accepted at `date`.
    public func isValid(at date: Date) -> Bool {
        guard let validUntil else { return true }
        return date < validUntil
    }
}

/// Which webhook triggers the admin chose for a mail server, as Postmark's Webhooks API names them.
public struct WebhookTriggers: Sendable, Equatable, Codable {
    /// Delivery events.
    public var delivery = true
    /// Bounce events.
    public var bounce = true
    /// Whether bounces carry the full bounce dump.
    public var bounceIncludeContent = false
    /// Spam complaint events.
    public var spamComplaint = true
    /// Whether spam complaints carry the abuse report.
    public var spamComplaintIncludeContent = false
    /// Open events.
    public var open = true
    /// Whether only the first open of a message is posted.
    public var openFirstOnly = true
    /// Click events.
    public var click = true
    /// Subscription change (suppression list) events.
    public var subscriptionChange = true

    /// Creates the default choice: every trigger on, no content, first open only.
    public init() {}
}

/// The Postmark settings of one Odoo outgoing mail server, as the bridge needs them.
///
/// Secrets (`tokens`, `accountToken`) never appear in ``description``.
public struct MailServerSettings: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The Odoo `ir.mail_server` id, as in the webhook URL.
    public var id: Int
    /// The mail server's name in Odoo.
    public var name: String
    /// Accepted webhook verify tokens, newest first.
    public var tokens: [WebhookToken]
    /// Postmark's numeric server id, as text.
    public var postmarkServerID: String?
    /// Postmark account API token (secret).
    public var accountToken: String?
    /// Whether Postmark should report SMTP API errors through the bounce webhook.
    public var smtpAPIErrors: Bool
    /// The Postmark message stream the webhook belongs to.
    public var messageStream: String
    /// The triggers the webhook should have.
    public var triggers: WebhookTriggers
    /// Whether the admin pressed "Sync now" since the last reconciliation.
    public var syncRequested: Bool
    /// Odoo's `write_date` of the record, to notice changes.
    public var revision: String?

    /// Creates settings; only the id and tokens are required.
    public init(
        id: Int,
        name: String = "",
        tokens: [WebhookToken],
        postmarkServerID: String? = nil,
        accountToken: String? = nil,
        smtpAPIErrors: Bool = false,
        messageStream: String = "outbound",
        triggers: WebhookTriggers = WebhookTriggers(),
        syncRequested: Bool = false,
        revision: String? = nil
    ) {
        self.id = id
        self.name = name
        self.tokens = tokens
        self.postmarkServerID = postmarkServerID
        self.accountToken = accountToken
        self.smtpAPIErrors = smtpAPIErrors
        self.messageStream = messageStream
        self.triggers = triggers
        self.syncRequested = syncRequested
        self.revision = revision
    }

    /// The tokens accepted at `date`.
    public func acceptedTokens(at date: Date) -> [String] {
        tokens.filter { $0.isValid(at: date) }.map(\.value)
    }

    /// Names the server without its secrets.
    public var description: String {
        "MailServerSettings(id: \(id), name: \(name), tokens: \(tokens.count), "
            + "postmarkServerID: \(postmarkServerID ?? "-"))"
    }
}
