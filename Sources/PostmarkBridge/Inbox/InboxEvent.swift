import Foundation

/// An accepted webhook, classified, ready to be stored in the inbox.
public struct InboxEvent: Sendable, Equatable {
    /// The Odoo `ir.mail_server` id named in the webhook URL.
    public var mailServerID: Int
    /// The key that recognises a redelivery of the same event.
    public var dedupeKey: String
    /// The contract's `record_type` key, such as `bounce`.
    public var recordType: String
    /// The contract's `state` key, such as `bounced`.
    public var state: String
    /// Postmark's `MessageID`, when the event has one.
    public var messageID: String?
    /// The recipient address, when the event names one.
    public var recipient: String?
    /// When the event happened, by Postmark's clock.
    public var occurredAt: Date?
    /// The `X-PM-Webhook-Trace-Id` header, when Postmark sent one.
    public var traceID: String?
    /// The request body as received (a valid JSON object).
    public var payload: [UInt8]

    /// Creates an event from its parts.
    public init(
        mailServerID: Int,
        dedupeKey: String,
        recordType: String,
        state: String,
        messageID: String?,
        recipient: String?,
        occurredAt: Date?,
        traceID: String?,
        payload: [UInt8]
    ) {
        self.mailServerID = mailServerID
        self.dedupeKey = dedupeKey
        self.recordType = recordType
        self.state = state
        self.messageID = messageID
        self.recipient = recipient
        self.occurredAt = occurredAt
        self.traceID = traceID
        self.payload = payload
    }
}
