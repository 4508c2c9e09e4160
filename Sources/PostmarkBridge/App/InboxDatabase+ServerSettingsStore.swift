import Foundation

/// Keeps the last known mail server settings in the inbox database, without the Postmark account token: the
/// bridge needs only the verify tokens to accept webhooks while Odoo is unreachable, and the account token, which
/// can read every server token of the account, stays in Odoo alone.
extension InboxDatabase: ServerSettingsStore {
    /// Replaces the stored settings with `servers`, account tokens removed.
    public func saveServers(_ servers: [MailServerSettings]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var rows: [Int: String] = [:]
        for var server in servers {
            server.accountToken = nil
            rows[server.id] = String(decoding: try encoder.encode(server), as: UTF8.self)
        }
        try saveServers(rows)
    }

    /// The stored settings; rows that no longer decode are skipped.
    public func loadServers() throws -> [MailServerSettings] {
        let rows: [Int: String] = try loadServers()
        let decoder = JSONDecoder()
        return rows.keys.sorted().compactMap { id in
            try? decoder.decode(MailServerSettings.self, from: Data(rows[id]!.utf8))
        }
    }
}
