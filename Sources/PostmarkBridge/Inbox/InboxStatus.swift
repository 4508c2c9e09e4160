import Foundation

/// A snapshot of the inbox for `postmark-bridge status` and `/metrics`.
///
/// Encodes to the JSON object of `status --json`: `events_by_state`, `pending`, `forwarded`, `parked`,
/// `oldest_pending_seconds`, `last_error`, `last_error_at` (ISO 8601) and `schema_version`.
public struct InboxStatus: Sendable, Equatable, Encodable {
    /// Events per notification state (`delivered`, `bounced`, …), whatever their forward status.
    public var eventsByState: [String: Int]
    /// Events waiting to be forwarded (including those claimed right now).
    public var pending: Int
    /// Events forwarded to Odoo.
    public var forwarded: Int
    /// Events Odoo refused for good, waiting for `replay`.
    public var parked: Int
    /// Age in seconds of the oldest pending event; 0 when nothing is pending.
    public var oldestPendingSeconds: Double
    /// The last forwarding error recorded (by a reschedule or a park), if any.
    public var lastError: String?
    /// When ``lastError`` was recorded.
    public var lastErrorAt: Date?
    /// The schema version of the inbox.
    public var schemaVersion: Int

    /// Creates a status from its parts.
    public init(
        eventsByState: [String: Int],
        pending: Int,
        forwarded: Int,
        parked: Int,
        oldestPendingSeconds: Double,
        lastError: String?,
        lastErrorAt: Date?,
        schemaVersion: Int
    ) {
        self.eventsByState = eventsByState
        self.pending = pending
        self.forwarded = forwarded
        self.parked = parked
        self.oldestPendingSeconds = oldestPendingSeconds
        self.lastError = lastError
        self.lastErrorAt = lastErrorAt
        self.schemaVersion = schemaVersion
    }

    private enum CodingKeys: String, CodingKey {
        case eventsByState = "events_by_state"
        case pending, forwarded, parked
        case oldestPendingSeconds = "oldest_pending_seconds"
        case lastError = "last_error"
        case lastErrorAt = "last_error_at"
        case schemaVersion = "schema_version"
    }

    /// Encodes the `status --json` shape; absent values are `null`, dates ISO 8601 strings.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(eventsByState, forKey: .eventsByState)
        try container.encode(pending, forKey: .pending)
        try container.encode(forwarded, forKey: .forwarded)
        try container.encode(parked, forKey: .parked)
        try container.encode(oldestPendingSeconds, forKey: .oldestPendingSeconds)
        try container.encode(lastError, forKey: .lastError)
        try container.encode(lastErrorAt.map { $0.formatted(.iso8601) }, forKey: .lastErrorAt)
        try container.encode(schemaVersion, forKey: .schemaVersion)
    }
}

extension InboxDatabase {
    /// Counts the inbox's events by state and forward status, with the oldest pending age and the last error.
    public func status() throws(InboxError) -> InboxStatus {
        try client.withConnection { connection throws(InboxError) in
            // One snapshot for all three reads, so the counts agree with each other.
            try connection.transaction { connection throws(InboxError) in
                try connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                var status = InboxStatus(
                    eventsByState: [:],
                    pending: 0,
                    forwarded: 0,
                    parked: 0,
                    oldestPendingSeconds: 0,
                    lastError: nil,
                    lastErrorAt: nil,
                    schemaVersion: try InboxMigrations.currentVersion(connection)
                )

                let counts = try connection.execute(
                    "SELECT forward_status, state, count(*) FROM inbox_events GROUP BY forward_status, state"
                )
                for row in counts.rows {
                    let count = try row.int(2) ?? 0
                    status.eventsByState[try row.string(1) ?? "unknown", default: 0] += count
                    switch try row.string(0) {
                    case "pending": status.pending += count
                    case "forwarded": status.forwarded += count
                    case "parked": status.parked += count
                    default: break
                    }
                }

                let oldest = try connection.execute(
                    """
                    SELECT coalesce(extract(epoch FROM now() - min(received_at)), 0)::float8
                    FROM inbox_events WHERE forward_status = 'pending'
                    """
                )
                status.oldestPendingSeconds = max(0, try oldest.rows.first?.double(0) ?? 0)

                let lastError = try connection.execute(
                    "SELECT value, updated_at FROM bridge_state WHERE key = $1",
                    [.text(Self.lastForwardErrorKey)]
                )
                if let row = lastError.rows.first {
                    status.lastError = try row.string(0)
                    status.lastErrorAt = try row.date(1)
                }
                return status
            }
        }
    }
}
