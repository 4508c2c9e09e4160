import Foundation

/// One Postmark webhook payload, decoded tolerantly and classified.
///
/// Every key is looked up ignoring case (`ServerID`/`ServerId`). Missing keys and values of the wrong JSON type
/// leave the property `nil` instead of failing: Postmark's test calls, legacy hooks and odd variants (a Bounce
/// without `Email`, `MessageID` null on a SubscriptionChange, `Tag` null or empty) must still be stored.
/// Text values are trimmed, and empty text counts as absent.
public struct PostmarkEvent: Sendable, Equatable {
    /// The whole payload (always an object).
    public var body: JSONValue
    /// Record type, state and the bridge's note.
    public var classification: EventClassification
    /// `RecordType` as sent.
    public var recordType: String?
    /// Postmark's server id (`ServerID`/`ServerId`), as text.
    public var postmarkServerID: String?
    /// Postmark's `MessageID` (its own UUID, not the RFC 5322 Message-ID).
    public var messageID: String?
    /// The recipient: `Email` on bounces and complaints, `Recipient` on the others.
    public var recipient: String?
    /// The event's timestamp exactly as sent (`BouncedAt`, `DeliveredAt`, `ReceivedAt` or `ChangedAt`).
    public var eventTimeText: String?
    /// ``eventTimeText`` parsed, when it is a valid timestamp.
    public var eventDate: Date?
    /// `MessageStream`.
    public var messageStream: String?
    /// `Tag`.
    public var tag: String?
    /// `Metadata`; non-string values are kept as their JSON text, nulls are dropped.
    public var metadata: [String: String]
    /// Bounce or complaint `ID` as decimal text (it can exceed 32 bits).
    public var bounceID: String?
    /// Bounce `Type`, such as `HardBounce`.
    public var bounceType: String?
    /// Bounce `TypeCode`, informative only: classification never uses it.
    public var typeCode: Int64?
    /// Bounce `Name`, such as `Hard bounce`.
    public var bounceName: String?
    /// `Subject` of the message.
    public var subject: String?
    /// `From` of the message.
    public var from: String?
    /// Postmark's `Description`.
    public var postmarkDescription: String?
    /// `Details`: the remote server's answer or Postmark's detail.
    public var details: String?
    /// `Inactive`: whether Postmark now suppresses the address.
    public var inactive: Bool?
    /// `CanActivate`.
    public var canActivate: Bool?
    /// `FirstOpen` of an Open.
    public var firstOpen: Bool?
    /// `Client.Name` of an Open or Click.
    public var clientName: String?
    /// `OS.Name` of an Open or Click.
    public var osName: String?
    /// `Platform` of an Open or Click.
    public var platform: String?
    /// `UserAgent` of an Open or Click.
    public var userAgent: String?
    /// `Geo.Country` (or `Geo.CountryISOCode` when the name is missing).
    public var geoCountry: String?
    /// `Geo.City`.
    public var geoCity: String?
    /// `ClickLocation` of a Click (`HTML` or `Text`).
    public var clickLocation: String?
    /// `OriginalLink` of a Click.
    public var originalLink: String?
    /// `SuppressSending` of a SubscriptionChange.
    public var suppressSending: Bool?
    /// `SuppressionReason` of a SubscriptionChange.
    public var suppressionReason: String?
    /// `Origin` of a SubscriptionChange.
    public var origin: String?

    /// The record type.
    public var kind: RecordKind { classification.kind }
    /// The notification state.
    public var state: NotificationState { classification.state }

    /// Decodes a webhook body.
    /// - Throws: ``WebhookError`` with code `malformedBody` when the body is empty, not UTF-8, not JSON, or not
    ///   a JSON object. The message names the problem and a byte offset, never the content.
    public static func decode(body: [UInt8]) throws(WebhookError) -> PostmarkEvent {
        let json: JSONValue
        do {
            json = try JSONValue.parse(body)
        } catch {
            throw malformed(error, bodyIsBlank: body.allSatisfy { [0x20, 0x09, 0x0A, 0x0D].contains($0) })
        }
        guard case .object(let members) = json else {
            throw WebhookError(.malformedBody, "The body is JSON but not an object (\(kindName(json))).")
        }
        return PostmarkEvent(object: members)
    }

    /// Decodes an already parsed object.
    public init(object members: [String: JSONValue]) {
        let fields = Fields(members)
        body = .object(members)
        recordType = fields.string("RecordType")
        bounceType = fields.string("Type")
        suppressSending = fields.bool("SuppressSending")
        suppressionReason = fields.string("SuppressionReason")
        classification = EventClassifier.classify(
            recordType: recordType,
            bounceType: bounceType,
            suppressSending: suppressSending,
            suppressionReason: suppressionReason,
            isInboundMessage: recordType == nil && EventClassifier.looksLikeInboundMessage(keys: fields.foldedKeys),
            isEmpty: members.isEmpty
        )
        let isBounceLike = classification.kind == .bounce || classification.kind == .spamComplaint

        postmarkServerID = fields.integerText("ServerID")
        messageID = fields.string("MessageID")
        recipient =
            isBounceLike
            ? fields.string("Email") ?? fields.string("Recipient")
            : fields.string("Recipient") ?? fields.string("Email")
        eventTimeText = Self.timeKeys(for: classification.kind).lazy.compactMap { fields.string($0) }.first
        eventDate = eventTimeText.flatMap(PostmarkTimestamp.parse)
        messageStream = fields.string("MessageStream")
        tag = fields.string("Tag")
        metadata = fields.stringMap("Metadata")

        bounceID = isBounceLike ? fields.integerText("ID") : nil
        typeCode = fields.int("TypeCode")
        bounceName = fields.string("Name")
        subject = fields.string("Subject")
        from = fields.string("From")
        postmarkDescription = fields.string("Description")
        details = fields.string("Details")
        inactive = fields.bool("Inactive")
        canActivate = fields.bool("CanActivate")

        firstOpen = fields.bool("FirstOpen")
        clientName = fields.object("Client")?.string("Name")
        osName = fields.object("OS")?.string("Name")
        platform = fields.string("Platform")
        userAgent = fields.string("UserAgent")
        let geo = fields.object("Geo")
        geoCountry = geo?.string("Country") ?? geo?.string("CountryISOCode")
        geoCity = geo?.string("City")
        clickLocation = fields.string("ClickLocation")
        originalLink = fields.string("OriginalLink")
        origin = fields.string("Origin")
    }

    private static func timeKeys(for kind: RecordKind) -> [String] {
        switch kind {
        case .bounce, .spamComplaint: return ["BouncedAt", "ChangedAt", "DeliveredAt", "ReceivedAt"]
        case .delivery: return ["DeliveredAt", "BouncedAt", "ReceivedAt", "ChangedAt"]
        case .open, .click: return ["ReceivedAt", "DeliveredAt", "BouncedAt", "ChangedAt"]
        case .subscriptionChange: return ["ChangedAt", "BouncedAt", "DeliveredAt", "ReceivedAt"]
        case .inbound: return ["Date", "ReceivedAt"]
        case .unknown: return ["BouncedAt", "DeliveredAt", "ReceivedAt", "ChangedAt"]
        }
    }

    private static func malformed(_ error: JSONParseError, bodyIsBlank: Bool) -> WebhookError {
        if bodyIsBlank { return WebhookError(.malformedBody, "The body is empty.") }
        if error.reason == .invalidUTF8 {
            return WebhookError(.malformedBody, "The body is not valid UTF-8 (at byte \(error.offset)).")
        }
        return WebhookError(.malformedBody, "The body is not valid JSON: \(error.description).")
    }

    private static func kindName(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .double: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// Case-insensitive, type-tolerant access to the members of a JSON object.
private struct Fields {
    private let exact: [String: JSONValue]
    private let folded: [String: JSONValue]

    init(_ members: [String: JSONValue]) {
        exact = members
        var folded: [String: JSONValue] = [:]
        folded.reserveCapacity(members.count)
        for (key, value) in members {
            let lowered = key.asciiLowercased()
            guard folded[lowered] != nil else {
                folded[lowered] = value
                continue
            }
            // Two keys differing only in case (rare): the smallest spelling wins, the same way on every run.
            if let smallest = members.keys.filter({ $0.asciiLowercased() == lowered }).min() {
                folded[lowered] = members[smallest]
            }
        }
        self.folded = folded
    }

    /// The object's keys, lowercased.
    var foldedKeys: Set<String> { Set(folded.keys) }

    func value(_ key: String) -> JSONValue? { exact[key] ?? folded[key.asciiLowercased()] }

    /// A non-blank string, trimmed.
    func string(_ key: String) -> String? {
        guard case .string(let text)? = value(key) else { return nil }
        let trimmed = text.trimmedWhitespace()
        return trimmed.isEmpty ? nil : trimmed
    }

    func bool(_ key: String) -> Bool? { value(key)?.boolValue }

    /// An integer; a double qualifies only when it is exactly integral.
    func int(_ key: String) -> Int64? { value(key)?.intValue }

    /// An integer as decimal text, or a string made of digits; beyond 64 bits the number is not exact, so absent.
    func integerText(_ key: String) -> String? {
        switch value(key) {
        case .int(let number)?: return String(number)
        case .string?:
            guard let text = string(key), text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), text.count <= 40
            else { return nil }
            return text
        default: return nil
        }
    }

    func object(_ key: String) -> Fields? { value(key)?.objectValue.map(Fields.init) }

    /// An object's members as text: strings as they are, other scalars and containers as JSON text.
    func stringMap(_ key: String) -> [String: String] {
        guard let members = value(key)?.objectValue else { return [:] }
        var map: [String: String] = [:]
        for (name, value) in members {
            switch value {
            case .null: continue
            case .string(let text): map[name] = text
            default: map[name] = value.serialized()
            }
        }
        return map
    }
}
