import Foundation

/// Why the servers file (`BRIDGE_SERVERS_FILE`) cannot be used. The message names the file, the entry and the
/// field, never a token.
public struct ServersFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file's path.
    public var file: String
    /// The zero-based index of the offending entry, when one is at fault.
    public var entry: Int?
    /// The offending field of that entry, when one is at fault.
    public var field: String?
    /// What is wrong.
    public var problem: String

    /// Creates an error.
    public init(file: String, entry: Int? = nil, field: String? = nil, problem: String) {
        self.file = file
        self.entry = entry
        self.field = field
        self.problem = problem
    }

    /// `servers file <path>: entry <n>, field "<name>": <problem>`.
    public var description: String {
        var text = "servers file \(file)"
        if let entry { text += ": entry \(entry)" }
        if let field { text += entry == nil ? ": field \"\(field)\"" : ", field \"\(field)\"" }
        return text + ": " + problem
    }
}

/// The servers file: mail server settings as code.
///
/// A JSON array of objects:
/// - `id` (required): the Odoo mail server id, a positive integer, as in the webhook URL;
/// - `tokens` (required): accepted verify tokens, newest first, at least one. Each is a string, or an object
///   `{"token": "…", "valid_until": "<ISO 8601>"}` for a rotated-out token that stops working at that time;
/// - `name`, `postmark_server_id` (integer or text), `message_stream` (default `outbound`): optional.
///
/// Unknown keys are refused, so a typo (`token` for `tokens`) fails at start instead of locking Postmark out.
public enum ServersFile {
    /// The keys an entry may have.
    public static let allowedKeys: Set<String> = ["id", "tokens", "name", "postmark_server_id", "message_stream"]

    /// Reads and parses the file at `path`.
    /// - Throws: ``ServersFileError`` when the file cannot be read or is invalid.
    public static func load(path: String) throws(ServersFileError) -> [MailServerSettings] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let exists = FileManager.default.fileExists(atPath: path)
            throw ServersFileError(file: path, problem: exists ? "cannot be read" : "does not exist")
        }
        return try parse(Array(data), file: path)
    }

    /// Parses the content of a servers file.
    /// - Parameters:
    ///   - bytes: the file's content.
    ///   - file: the path, for error messages.
    /// - Throws: ``ServersFileError`` naming the first offending entry and field.
    public static func parse(_ bytes: [UInt8], file: String) throws(ServersFileError) -> [MailServerSettings] {
        let json: JSONValue
        do {
            json = try JSONValue.parse(bytes)
        } catch {
            throw ServersFileError(file: file, problem: "is not valid JSON (\(error.description))")
        }
        guard let entries = json.arrayValue else {
            throw ServersFileError(file: file, problem: "must be a JSON array of mail server objects")
        }

        var servers: [MailServerSettings] = []
        var seen: [Int: Int] = [:]
        for (index, entry) in entries.enumerated() {
            let server = try parseEntry(entry, index: index, file: file)
            if let earlier = seen[server.id] {
                throw ServersFileError(
                    file: file,
                    entry: index,
                    field: "id",
                    problem: "mail server \(server.id) is already defined by entry \(earlier)"
                )
            }
            seen[server.id] = index
            servers.append(server)
        }
        return servers
    }

    private static func parseEntry(_ entry: JSONValue, index: Int, file: String) throws(ServersFileError)
        -> MailServerSettings
    {
        func failure(_ field: String?, _ problem: String) -> ServersFileError {
            ServersFileError(file: file, entry: index, field: field, problem: problem)
        }

        guard let members = entry.objectValue else { throw failure(nil, "must be an object") }
        if let unknown = members.keys.sorted().first(where: { !allowedKeys.contains($0) }) {
            throw failure(
                unknown.count <= 40 ? unknown : String(unknown.prefix(40)) + "…",
                "is not a known key (allowed: \(allowedKeys.sorted().joined(separator: ", ")))"
            )
        }

        guard let id = members["id"]?.intValue, id > 0, let serverID = Int(exactly: id) else {
            throw failure("id", "must be a positive integer (the Odoo mail server id)")
        }

        guard let tokenValues = members["tokens"]?.arrayValue, !tokenValues.isEmpty else {
            throw failure("tokens", "must be a non-empty array of tokens, newest first")
        }
        var tokens: [WebhookToken] = []
        for (position, value) in tokenValues.enumerated() {
            tokens.append(try parseToken(value, position: position, failure: failure))
        }

        let name = try optionalText(members["name"], field: "name", failure: failure) ?? ""
        let stream = try optionalText(members["message_stream"], field: "message_stream", failure: failure)
        let postmarkServerID: String?
        switch members["postmark_server_id"] {
        case nil, .null?: postmarkServerID = nil
        case .int(let number)?: postmarkServerID = String(number)
        case .string(let text)? where !text.isEmpty: postmarkServerID = text
        default: throw failure("postmark_server_id", "must be an integer or a non-empty string")
        }

        return MailServerSettings(
            id: serverID,
            name: name,
            tokens: tokens,
            postmarkServerID: postmarkServerID,
            messageStream: stream ?? "outbound"
        )
    }

    private static func parseToken(
        _ value: JSONValue,
        position: Int,
        failure: (String?, String) -> ServersFileError
    ) throws(ServersFileError) -> WebhookToken {
        let field = "tokens[\(position)]"
        switch value {
        case .string(let token):
            guard !token.isEmpty else { throw failure(field, "must not be empty") }
            return WebhookToken(value: token)
        case .object(let members):
            guard let token = members["token"]?.stringValue, !token.isEmpty else {
                throw failure(field, "must have a non-empty \"token\" string")
            }
            if let extra = members.keys.sorted().first(where: { $0 != "token" && $0 != "valid_until" }) {
                throw failure(field, "has an unknown key \"\(extra.prefix(40))\" (allowed: token, valid_until)")
            }
            var validUntil: Date?
            if let text = members["valid_until"]?.stringValue {
                guard let date = PostmarkTimestamp.parse(text) else {
                    throw failure(field, "valid_until must be an ISO 8601 timestamp")
                }
                validUntil = date
            } else if members["valid_until"] != nil && members["valid_until"] != .null {
                throw failure(field, "valid_until must be an ISO 8601 timestamp")
            }
            return WebhookToken(value: token, validUntil: validUntil)
        default:
            throw failure(field, "must be a string or an object {\"token\", \"valid_until\"}")
        }
    }

    private static func optionalText(
        _ value: JSONValue?,
        field: String,
        failure: (String?, String) -> ServersFileError
    ) throws(ServersFileError) -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let text)?: return text.isEmpty ? nil : text
        default: throw failure(field, "must be a string")
        }
    }
}
