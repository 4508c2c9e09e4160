import Foundation

extension PostmarkEvent {
    /// The longest dedupe key ``dedupeKey(mailServerID:traceID:)`` returns for any mail server id.
    public static let maximumDedupeKeyLength = 128

    /// The key that recognises a redelivery of this event.
    ///
    /// Forms, always prefixed by the mail server id and the record type so two servers or two kinds never collide:
    /// - `<server>:<kind>:trace:<id>`: the `X-PM-Webhook-Trace-Id` header, stable across Postmark's retries
    ///   (hashed as `trace-sha256:<hex>` when it is long or has characters outside `[A-Za-z0-9._-]`);
    /// - `<server>:<kind>:key:<sha256>`: the natural key of the record type (bounce `ID` with `MessageID`,
    ///   `Email`, `Type` and `BouncedAt`, so Postmark's test payloads that all say `ID: 42` stay apart; Delivery
    ///   `MessageID`, `Recipient`, `DeliveredAt`; Open adds `ReceivedAt` and `FirstOpen`; Click `OriginalLink`;
    ///   SubscriptionChange `Recipient`, `MessageStream`, `ChangedAt`, `SuppressSending`), hashed so the key is
    ///   bounded and carries no address;
    /// - `<server>:<kind>:body:<sha256>`: the canonical body (keys sorted), when the record type has no natural
    ///   key or a part of it is missing.
    /// - Parameters:
    ///   - mailServerID: the Odoo mail server id from the URL.
    ///   - traceID: the `X-PM-Webhook-Trace-Id` header value, if any.
    public func dedupeKey(mailServerID: Int, traceID: String?) -> String {
        let prefix = "\(mailServerID):\(kind.rawValue):"
        if let trace = Self.normalizedTraceID(traceID) {
            let isPlain =
                trace.utf8.count <= 64
                && trace.utf8.allSatisfy { byte in
                    switch byte {
                    case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"):
                        return true
                    default: return false
                    }
                }
            return prefix + (isPlain ? "trace:\(trace)" : "trace-sha256:\(SHA256.hexDigest(trace))")
        }
        if let parts = naturalKeyParts() {
            return prefix + "key:" + SHA256.hexDigest(Self.keyMaterial(parts))
        }
        return prefix + "body:" + SHA256.hexDigest(body.serialized())
    }

    /// The event as the inbox stores it.
    /// - Parameters:
    ///   - mailServerID: the Odoo mail server id from the URL.
    ///   - traceID: the `X-PM-Webhook-Trace-Id` header value, if any.
    ///   - payload: the request body exactly as received.
    public func inboxEvent(mailServerID: Int, traceID: String?, payload: [UInt8]) -> InboxEvent {
        InboxEvent(
            mailServerID: mailServerID,
            dedupeKey: dedupeKey(mailServerID: mailServerID, traceID: traceID),
            recordType: kind.rawValue,
            state: state.rawValue,
            messageID: messageID,
            recipient: recipient,
            occurredAt: eventDate,
            traceID: Self.normalizedTraceID(traceID),
            payload: payload
        )
    }

    /// A trace id header trimmed, or `nil` when absent or blank.
    public static func normalizedTraceID(_ traceID: String?) -> String? {
        guard let trimmed = traceID?.trimmedWhitespace(), !trimmed.isEmpty else { return nil }
        return trimmed
    }

    /// The parts of the record type's natural key (reference §4.3), or `nil` when it has none or one of its
    /// required parts is missing; optional parts may be `nil`. Each record type has a fixed list, so positions
    /// never shift. Timestamps are taken as sent, so precision beyond `Date` still tells events apart.
    func naturalKeyParts() -> [String?]? {
        func flag(_ value: Bool?) -> String? { value.map { $0 ? "true" : "false" } }

        switch kind {
        case .bounce, .spamComplaint:
            guard let bounceID else { return nil }
            return [bounceID, messageID, recipient, bounceType, eventTimeText]
        case .delivery:
            guard let messageID, let recipient, let eventTimeText else { return nil }
            return [messageID, recipient, eventTimeText]
        case .open:
            guard let messageID, let recipient, let eventTimeText else { return nil }
            return [messageID, recipient, eventTimeText, flag(firstOpen)]
        case .click:
            guard let messageID, let recipient, let originalLink else { return nil }
            return [messageID, recipient, originalLink]
        case .subscriptionChange:
            guard let recipient, let eventTimeText else { return nil }
            return [recipient, messageStream, eventTimeText, flag(suppressSending)]
        case .inbound, .unknown:
            return nil
        }
    }

    /// An unambiguous encoding of key parts: each is `<byte count>:<text>;`, or `~;` when absent.
    static func keyMaterial(_ parts: [String?]) -> String {
        var material = ""
        for part in parts {
            if let part {
                material += "\(part.utf8.count):\(part);"
            } else {
                material += "~;"
            }
        }
        return material
    }
}
