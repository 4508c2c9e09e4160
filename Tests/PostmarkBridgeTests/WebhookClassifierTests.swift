import Testing

@testable import PostmarkBridge

@Suite struct WebhookClassifierTests {
    /// DESIGN's state table, row by row, written out independently of the classifier's own table.
    static let bounceTypes: [(String, NotificationState)] = [
        ("HardBounce", .bounced),
        ("VirusNotification", .bounced),
        ("SoftBounce", .softBounced),
        ("Transient", .deferred),
        ("DnsError", .deferred),
        ("OpenRelayTest", .deferred),
        ("SpamComplaint", .spamComplaint),
        ("SpamNotification", .spamComplaint),
        ("Unsubscribe", .unsubscribed),
        ("Subscribe", .subscribed),
        ("AutoResponder", .autoReplied),
        ("AddressChange", .autoReplied),
        ("ChallengeVerification", .autoReplied),
        ("BadEmailAddress", .rejected),
        ("ManuallyDeactivated", .rejected),
        ("Unconfirmed", .rejected),
        ("Blocked", .rejected),
        ("DMARCPolicy", .rejected),
        ("SMTPApiError", .smtpAPIError),
        ("InboundError", .failed),
        ("TemplateRenderingFailed", .failed),
        ("Unknown", .unknown),
        ("SoftBounce/Undeliverable", .unknown),
        ("NewTypeFromTheFuture", .unknown),
    ]

    @Test("classifies every bounce Type by name", arguments: bounceTypes)
    func bounceType(type: String, expected: NotificationState) {
        let result = EventClassifier.classify(
            recordType: "Bounce",
            bounceType: type,
            suppressSending: nil,
            suppressionReason: nil
        )
        #expect(result.kind == .bounce)
        #expect(result.state == expected)
        #expect((result.note != nil) == (EventClassifier.bounceStates[type.lowercased()] == nil))
    }

    @Test func bounceTypeNamesIgnoreCase() {
        let result = EventClassifier.classify(
            recordType: "bounce",
            bounceType: "SmtpApiError",
            suppressSending: nil,
            suppressionReason: nil
        )
        #expect(result == EventClassification(kind: .bounce, state: .smtpAPIError))
    }

    @Test func everyDocumentedBounceTypeIsInTheTable() {
        let documented = Set(Self.bounceTypes.map { $0.0.lowercased() }).subtracting([
            "softbounce/undeliverable", "newtypefromthefuture",
        ])
        #expect(Set(EventClassifier.bounceStates.keys) == documented)
    }

    struct Row: Sendable, CustomTestStringConvertible {
        var recordType: String?
        var type: String? = nil
        var suppressSending: Bool? = nil
        var reason: String? = nil
        var inbound = false
        var empty = false
        var kind: RecordKind
        var state: NotificationState
        var testDescription: String {
            "\(recordType ?? "nil")/\(type ?? "-")/\(suppressSending.map(String.init) ?? "-")/\(reason ?? "-")"
        }
    }

    static let rows: [Row] = [
        Row(recordType: "Delivery", kind: .delivery, state: .delivered),
        Row(recordType: "Open", kind: .open, state: .opened),
        Row(recordType: "Click", kind: .click, state: .clicked),
        Row(recordType: "SpamComplaint", type: "SpamComplaint", kind: .spamComplaint, state: .spamComplaint),
        Row(recordType: "SpamComplaint", type: nil, kind: .spamComplaint, state: .spamComplaint),
        Row(recordType: "Bounce", type: nil, kind: .bounce, state: .unknown),
        Row(
            recordType: "SubscriptionChange", suppressSending: true, reason: "HardBounce", kind: .subscriptionChange,
            state: .bounced),
        Row(
            recordType: "SubscriptionChange", suppressSending: nil, reason: "HardBounce", kind: .subscriptionChange,
            state: .bounced),
        Row(
            recordType: "SubscriptionChange", suppressSending: true, reason: "SpamComplaint",
            kind: .subscriptionChange, state: .spamComplaint),
        Row(
            recordType: "SubscriptionChange", suppressSending: nil, reason: "SpamComplaint",
            kind: .subscriptionChange, state: .spamComplaint),
        Row(
            recordType: "SubscriptionChange", suppressSending: true, reason: "ManualSuppression",
            kind: .subscriptionChange, state: .unsubscribed),
        Row(
            recordType: "SubscriptionChange", suppressSending: true, reason: "SomethingNew",
            kind: .subscriptionChange, state: .unsubscribed),
        Row(
            recordType: "SubscriptionChange", suppressSending: true, reason: nil, kind: .subscriptionChange,
            state: .unsubscribed),
        Row(
            recordType: "SubscriptionChange", suppressSending: nil, reason: nil, kind: .subscriptionChange,
            state: .unsubscribed),
        Row(
            recordType: "SubscriptionChange", suppressSending: false, reason: nil, kind: .subscriptionChange,
            state: .subscribed),
        Row(
            recordType: "SubscriptionChange", suppressSending: false, reason: "HardBounce",
            kind: .subscriptionChange, state: .subscribed),
        Row(recordType: "Inbound", kind: .inbound, state: .unknown),
        Row(recordType: nil, inbound: true, kind: .inbound, state: .unknown),
        Row(recordType: nil, empty: true, kind: .unknown, state: .unknown),
        Row(recordType: nil, kind: .unknown, state: .unknown),
        Row(recordType: "Reactivation", kind: .unknown, state: .unknown),
        Row(recordType: "", kind: .unknown, state: .unknown),
    ]

    @Test("classifies every record type of DESIGN's table", arguments: rows)
    func recordType(row: Row) {
        let result = EventClassifier.classify(
            recordType: row.recordType,
            bounceType: row.type,
            suppressSending: row.suppressSending,
            suppressionReason: row.reason,
            isInboundMessage: row.inbound,
            isEmpty: row.empty
        )
        #expect(result.kind == row.kind)
        #expect(result.state == row.state)
    }

    @Test func inboundNoteSaysTheWebhookPointsAtTheWrongURL() {
        let result = EventClassifier.classify(
            recordType: nil,
            bounceType: nil,
            suppressSending: nil,
            suppressionReason: nil,
            isInboundMessage: true
        )
        #expect(result.note?.contains("inbound webhook URL points at the bridge") == true)
    }

    @Test(
        "recognises inbound message shapes",
        arguments: [
            (["fromfull"], true),
            (["tofull"], true),
            (["mailboxhash"], true),
            (["from", "to", "textbody"], true),
            (["from", "to", "htmlbody"], true),
            (["from", "to"], false),
            (["messageid", "recipient", "deliveredat"], false),
            ([], false),
        ]
    )
    func inboundShape(keys: [String], expected: Bool) {
        #expect(EventClassifier.looksLikeInboundMessage(keys: Set(keys)) == expected)
    }

    @Test func longUnknownNamesAreAbbreviatedInTheNote() throws {
        let name = String(repeating: "X", count: 500)
        let result = EventClassifier.classify(
            recordType: name,
            bounceType: nil,
            suppressSending: nil,
            suppressionReason: nil
        )
        let note = try #require(result.note)
        #expect(note.count < 100)
    }
}
