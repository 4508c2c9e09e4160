/// What an event is and which state it gives its notification.
public struct EventClassification: Sendable, Equatable {
    /// The record type.
    public var kind: RecordKind
    /// The notification state.
    public var state: NotificationState
    /// The bridge's explanation when the payload alone does not explain the state (wrong URL, unknown type).
    public var note: String?

    /// Creates a classification.
    public init(kind: RecordKind, state: NotificationState, note: String? = nil) {
        self.kind = kind
        self.state = state
        self.note = note
    }
}

/// DESIGN's state table: classifies by `RecordType` and the bounce `Type` string, never by `TypeCode`
/// (Postmark's own SpamComplaint example carries the SpamNotification code).
///
/// Names are matched ignoring ASCII case, so `SMTPApiError` and `SmtpApiError` are the same type.
public enum EventClassifier {
    /// The state of every bounce `Type` Postmark documents, keyed by the lowercased type name.
    public static let bounceStates: [String: NotificationState] = [
        "hardbounce": .bounced,
        "virusnotification": .bounced,
        "softbounce": .softBounced,
        "transient": .deferred,
        "dnserror": .deferred,
        "openrelaytest": .deferred,
        "spamcomplaint": .spamComplaint,
        "spamnotification": .spamComplaint,
        "unsubscribe": .unsubscribed,
        "subscribe": .subscribed,
        "autoresponder": .autoReplied,
        "addresschange": .autoReplied,
        "challengeverification": .autoReplied,
        "bademailaddress": .rejected,
        "manuallydeactivated": .rejected,
        "unconfirmed": .rejected,
        "blocked": .rejected,
        "dmarcpolicy": .rejected,
        "smtpapierror": .smtpAPIError,
        "inbounderror": .failed,
        "templaterenderingfailed": .failed,
        "unknown": .unknown,
    ]

    /// The note stored with an inbound message posted to the tracking URL.
    public static let inboundNote =
        "An inbound message was posted to the delivery-tracking webhook: the server's inbound webhook URL points "
        + "at the bridge. Point Postmark's inbound webhook elsewhere; this event is kept for reference only."

    /// The note stored with an empty object.
    public static let emptyNote = "Empty payload, as Postmark sends when it tests or verifies a webhook."

    /// Classifies one event.
    /// - Parameters:
    ///   - recordType: `RecordType`, when the payload has it as a string.
    ///   - bounceType: `Type`, when the payload has it as a string.
    ///   - suppressSending: `SuppressSending` of a SubscriptionChange, when it is a boolean.
    ///   - suppressionReason: `SuppressionReason` of a SubscriptionChange, when it is a string.
    ///   - isInboundMessage: whether the payload has the shape of an inbound message (see
    ///     ``looksLikeInboundMessage(keys:)``).
    ///   - isEmpty: whether the payload is `{}`.
    public static func classify(
        recordType: String?,
        bounceType: String?,
        suppressSending: Bool?,
        suppressionReason: String?,
        isInboundMessage: Bool = false,
        isEmpty: Bool = false
    ) -> EventClassification {
        guard let recordType else {
            if isInboundMessage { return EventClassification(kind: .inbound, state: .unknown, note: inboundNote) }
            if isEmpty { return EventClassification(kind: .unknown, state: .unknown, note: emptyNote) }
            return EventClassification(kind: .unknown, state: .unknown, note: "The payload has no RecordType.")
        }

        switch recordType.asciiLowercased() {
        case "delivery": return EventClassification(kind: .delivery, state: .delivered)
        case "open": return EventClassification(kind: .open, state: .opened)
        case "click": return EventClassification(kind: .click, state: .clicked)
        case "spamcomplaint": return EventClassification(kind: .spamComplaint, state: .spamComplaint)
        case "bounce": return classifyBounce(type: bounceType)
        case "subscriptionchange":
            return classifySubscriptionChange(suppressSending: suppressSending, reason: suppressionReason)
        case "inbound": return EventClassification(kind: .inbound, state: .unknown, note: inboundNote)
        default:
            return EventClassification(
                kind: .unknown,
                state: .unknown,
                note: "Unrecognised RecordType \"\(abbreviated(recordType))\"."
            )
        }
    }

    /// Whether a payload without `RecordType` looks like an inbound message rather than a tracking event:
    /// it has `FromFull`, `ToFull` or `MailboxHash`, or `From` and `To` with a `TextBody` or `HtmlBody`.
    /// - Parameter keys: the payload's keys, lowercased.
    public static func looksLikeInboundMessage(keys: Set<String>) -> Bool {
        if keys.contains("fromfull") || keys.contains("tofull") || keys.contains("mailboxhash") { return true }
        return keys.contains("from") && keys.contains("to")
            && (keys.contains("textbody") || keys.contains("htmlbody"))
    }

    private static func classifyBounce(type: String?) -> EventClassification {
        guard let type else {
            return EventClassification(kind: .bounce, state: .unknown, note: "Bounce without a Type.")
        }
        guard let state = bounceStates[type.asciiLowercased()] else {
            return EventClassification(
                kind: .bounce,
                state: .unknown,
                note: "Unrecognised bounce Type \"\(abbreviated(type))\"."
            )
        }
        return EventClassification(kind: .bounce, state: state)
    }

    private static func classifySubscriptionChange(suppressSending: Bool?, reason: String?) -> EventClassification {
        // Postmark omits SuppressSending on some suppressions; only an explicit false is a reactivation.
        if suppressSending == false {
            return EventClassification(kind: .subscriptionChange, state: .subscribed)
        }
        switch reason?.asciiLowercased() {
        case "hardbounce": return EventClassification(kind: .subscriptionChange, state: .bounced)
        case "spamcomplaint": return EventClassification(kind: .subscriptionChange, state: .spamComplaint)
        default: return EventClassification(kind: .subscriptionChange, state: .unsubscribed)
        }
    }

    private static func abbreviated(_ text: String) -> String {
        text.count <= 64 ? text : String(text.prefix(64)) + "…"
    }
}
