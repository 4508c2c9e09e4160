import Foundation

extension InboxDatabase {
    /// Replaces the last known mail server settings with `servers` (mail server id → settings as JSON text).
    ///
    /// Servers absent from `servers` are removed; a server whose settings did not change keeps its `updated_at`.
    public func saveServers(_ servers: [Int: String]) throws(InboxError) {
        let sorted = servers.sorted { $0.key < $1.key }
        try client.withConnection { connection throws(InboxError) in
            try connection.transaction { connection throws(InboxError) in
                try connection.execute(
                    "DELETE FROM mail_servers WHERE id <> ALL($1::int4[])",
                    [.int32Array(sorted.map { Int32(truncatingIfNeeded: $0.key) })]
                )
                try connection.execute(
                    """
                    INSERT INTO mail_servers (id, settings, updated_at)
                    SELECT id, settings, now() FROM unnest($1::int4[], $2::text[]) AS s(id, settings)
                    ON CONFLICT (id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at
                    WHERE mail_servers.settings IS DISTINCT FROM excluded.settings
                    """,
                    [
                        .int32Array(sorted.map { Int32(truncatingIfNeeded: $0.key) }),
                        .textArray(sorted.map { InboxStatements.clean($0.value) }),
                    ]
                )
            }
        }
    }

    /// The last known mail server settings: mail server id → settings as JSON text.
    public func loadServers() throws(InboxError) -> [Int: String] {
        let rows = try client.withConnection { connection throws(InboxError) in
            try connection.execute("SELECT id, settings FROM mail_servers").rows
        }
        var servers: [Int: String] = [:]
        for row in rows {
            if let id = try row.int(0), let settings = try row.string(1) { servers[id] = settings }
        }
        return servers
    }

    /// Sets a value of the bridge's key/value state (such as the last Odoo error).
    public func saveState(_ key: String, value: String) throws(InboxError) {
        try client.withConnection { connection throws(InboxError) in
            try connection.execute(
                """
                INSERT INTO bridge_state (key, value, updated_at) VALUES ($1, $2, now())
                ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                """,
                [.text(key), .text(InboxStatements.clean(value))]
            )
        }
    }

    /// A value of the bridge's key/value state and when it was set, or `nil` when the key was never set.
    public func loadState(_ key: String) throws(InboxError) -> (value: String, updatedAt: Date)? {
        let rows = try client.withConnection { connection throws(InboxError) in
            try connection.execute("SELECT value, updated_at FROM bridge_state WHERE key = $1", [.text(key)]).rows
        }
        guard let row = rows.first, let value = try row.string(0), let date = try row.date(1) else { return nil }
        return (value, date)
    }

    /// Removes a key of the bridge's state.
    public func removeState(_ key: String) throws(InboxError) {
        try client.withConnection { connection throws(InboxError) in
            try connection.execute("DELETE FROM bridge_state WHERE key = $1", [.text(key)])
        }
    }
}
