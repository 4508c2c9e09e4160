/// The `state` of a `postmark.notification`; raw values are the contract's state keys.
public enum NotificationState: String, Sendable, CaseIterable, Codable {
    /// Delivery.
    case delivered
    /// Open.
    case opened
    /// Click.
    case clicked
    /// Hard bounce, virus notification, or suppression after a hard bounce.
    case bounced
    /// Soft bounce.
    case softBounced = "soft_bounced"
    /// Delayed: transient failure, DNS error, open relay test.
    case deferred
    /// Spam complaint or spam notification, or suppression after a complaint.
    case spamComplaint = "spam_complaint"
    /// Unsubscribe request or suppression for another reason.
    case unsubscribed
    /// Subscribe request or reactivation.
    case subscribed
    /// Auto-responder, address change, challenge verification.
    case autoReplied = "auto_replied"
    /// Refused before sending: bad address, deactivated, unconfirmed, blocked, DMARC.
    case rejected
    /// Postmark refused the message on its SMTP API.
    case smtpAPIError = "smtp_api_error"
    /// Inbound processing or template rendering failed.
    case failed
    /// Anything not classified above.
    case unknown
}

/// The `record_type` of a `postmark.notification`; raw values are the contract's record type keys.
public enum RecordKind: String, Sendable, CaseIterable, Codable {
    /// `RecordType: Delivery`.
    case delivery
    /// `RecordType: Bounce` (SMTP API errors included).
    case bounce
    /// `RecordType: SpamComplaint`.
    case spamComplaint = "spam_complaint"
    /// `RecordType: Open`.
    case open
    /// `RecordType: Click`.
    case click
    /// `RecordType: SubscriptionChange`.
    case subscriptionChange = "subscription_change"
    /// An inbound message: an inbound hook aimed at the bridge by mistake.
    case inbound
    /// Any other shape, including `{}`.
    case unknown
}
