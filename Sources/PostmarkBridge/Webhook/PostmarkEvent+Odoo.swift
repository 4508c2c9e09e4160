import Foundation

extension PostmarkEvent {
    /// The longest text kept in a `char` field, in characters; `link_url` and `user_agent` get more room.
    public static let charFieldLimit = 256
    /// The longest link kept in `link_url`, in characters.
    public static let linkFieldLimit = 2_048
    /// The longest user agent kept in `user_agent`, in characters.
    public static let userAgentFieldLimit = 1_024

    /// The values of the `postmark.notification` record for this event: exactly the contract's
    /// `fields_sent_by_bridge` names and JSON types.
    ///
    /// Datetimes are `YYYY-MM-DD HH:MM:SS` in UTC; `mail_server_id` is the integer id; `metadata` is JSON text;
    /// `payload` is the body as received; `description` is the bridge's note (wrong URL, unrecognised type) followed
    /// by Postmark's `Description`. Keys without a value are left out, so Odoo keeps its defaults; `char`
    /// values are cut to ``charFieldLimit`` characters (more for links and user agents).
    /// - Parameters:
    ///   - mailServerID: the Odoo mail server id.
    ///   - dedupeKey: the inbox's dedupe key for the event.
    ///   - payload: the request body exactly as received (valid UTF-8, since it was decoded).
    public func notificationValues(mailServerID: Int, dedupeKey: String, payload: [UInt8]) -> [String: JSONValue] {
        var values: [String: JSONValue] = [
            "dedupe_key": .string(dedupeKey),
            "state": .string(state.rawValue),
            "record_type": .string(kind.rawValue),
            "mail_server_id": .int(Int64(mailServerID)),
            "payload": .string(String(decoding: payload, as: UTF8.self)),
        ]

        func char(_ key: String, _ value: String?, limit: Int = Self.charFieldLimit) {
            guard let value else { return }
            values[key] = .string(value.count <= limit ? value : String(value.prefix(limit)))
        }
        func text(_ key: String, _ value: String?) {
            guard let value else { return }
            values[key] = .string(value)
        }
        func flag(_ key: String, _ value: Bool?) {
            guard let value else { return }
            values[key] = .bool(value)
        }

        char("recipient", recipient)
        char("subject", subject)
        char("postmark_message_id", messageID)
        char("message_stream", messageStream)
        char("tag", tag)
        if let eventDate { values["event_date"] = .string(PostmarkTimestamp.odooString(eventDate)) }
        if !metadata.isEmpty {
            values["metadata"] = .string(JSONValue.object(metadata.mapValues(JSONValue.string)).serialized())
        }

        if kind == .bounce || kind == .spamComplaint {
            char("bounce_type", bounceType)
            // Odoo integers are 32-bit; every documented TypeCode fits, anything else is not a TypeCode.
            if let typeCode, let code = Int32(exactly: typeCode) { values["bounce_code"] = .int(Int64(code)) }
            char("bounce_id", bounceID)
        }
        let explanation = [classification.note, postmarkDescription].compactMap { $0 }
        text("description", explanation.isEmpty ? nil : explanation.joined(separator: "\n\n"))
        text("details", details)
        flag("inactive", inactive ?? (kind == .subscriptionChange ? suppressSending : nil))
        if kind == .open { flag("first_open", firstOpen) }

        char("client_name", clientName)
        char("os_name", osName)
        char("platform", platform)
        char("user_agent", userAgent, limit: Self.userAgentFieldLimit)
        char("geo_country", geoCountry)
        char("geo_city", geoCity)
        char("click_location", clickLocation)
        char("link_url", originalLink, limit: Self.linkFieldLimit)
        return values
    }
}
