import Foundation

extension InboxDatabase: ForwardingQueue {
    /// The `bridge_state` key under which forwarding failures record the last error.
    public static let lastForwardErrorKey = "last_forward_error"

    /// Claims up to `limit` due pending events, oldest due first, for `lease`.
    ///
    /// Rows are locked with `FOR UPDATE SKIP LOCKED`, so concurrent claimers (threads or bridge processes) never get
    /// the same event; a claimed event's next attempt moves to the lease's end, so it becomes claimable again if its
    /// claimer never reports back (a crash).
    public func claim(limit: Int, lease: Duration) throws(InboxError) -> [PendingEvent] {
        guard limit > 0 else { return [] }
        let rows = try client.withConnection { connection throws(InboxError) in
            try connection.execute(
                """
                WITH due AS (
                    SELECT id FROM inbox_events
                    WHERE forward_status = 'pending' AND next_attempt_at <= now()
                    ORDER BY next_attempt_at, id
                    LIMIT $1
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE inbox_events e
                SET lease_until = now() + $2 * interval '1 second',
                    next_attempt_at = now() + $2 * interval '1 second'
                FROM due
                WHERE e.id = due.id
                RETURNING e.id, e.mail_server_id, e.dedupe_key, e.attempts, e.received_at, e.payload
                """,
                [.int64(Int64(limit)), .double(lease.timeInterval)]
            ).rows
        }
        var events: [PendingEvent] = []
        events.reserveCapacity(rows.count)
        for row in rows {
            events.append(
                PendingEvent(
                    id: try row.int64(0) ?? 0,
                    mailServerID: try row.int(1) ?? 0,
                    dedupeKey: try row.string(2) ?? "",
                    attempts: try row.int(3) ?? 0,
                    receivedAt: try row.date(4) ?? Date(timeIntervalSince1970: 0),
                    payload: row.bytes(5) ?? []
                )
            )
        }
        return events.sorted { $0.id < $1.id }
    }

    /// Moves the lease end of events that are still claimed and pending to `lease` from now, so a batch in flight
    /// stays invisible to other claimers for as long as its claimer lives, and no longer.
    public func extendLease(_ ids: [Int64], lease: Duration) throws(InboxError) {
        guard !ids.isEmpty else { return }
        try client.withConnection { connection throws(InboxError) in
            try connection.execute(
                """
                UPDATE inbox_events
                SET lease_until = now() + $2 * interval '1 second',
                    next_attempt_at = now() + $2 * interval '1 second'
                WHERE id = ANY($1::int8[]) AND forward_status = 'pending' AND lease_until IS NOT NULL
                """,
                [.int64Array(ids), .double(lease.timeInterval)]
            )
        }
    }

    /// Marks events forwarded, recording each one's Odoo record id; repeating it changes nothing.
    public func markForwarded(_ odooIDs: [Int64: Int]) throws(InboxError) {
        guard !odooIDs.isEmpty else { return }
        let pairs = odooIDs.sorted { $0.key < $1.key }
        try client.withConnection { connection throws(InboxError) in
            try connection.execute(
                """
                UPDATE inbox_events e
                SET forward_status = 'forwarded', forwarded_at = now(), odoo_id = f.odoo_id, lease_until = NULL,
                    last_error = NULL
                FROM unnest($1::int8[], $2::int8[]) AS f(id, odoo_id)
                WHERE e.id = f.id
                """,
                [.int64Array(pairs.map { $0.key }), .int64Array(pairs.map { Int64($0.value) })]
            )
        }
    }

    /// Puts pending events back for an attempt at `notBefore`, counting the attempt and recording `error` (also as
    /// the bridge's last forwarding error for ``status()``).
    public func reschedule(_ ids: [Int64], notBefore: Date, error: String) throws(InboxError) {
        guard !ids.isEmpty else { return }
        try client.withConnection { connection throws(InboxError) in
            try connection.execute(
                """
                WITH updated AS (
                    UPDATE inbox_events
                    SET attempts = attempts + 1, next_attempt_at = $2, lease_until = NULL, last_error = $3
                    WHERE id = ANY($1::int8[]) AND forward_status = 'pending'
                    RETURNING id
                )
                INSERT INTO bridge_state (key, value, updated_at) VALUES ($4, $3, now())
                ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                """,
                [.int64Array(ids), .timestamp(notBefore), .text(error), .text(Self.lastForwardErrorKey)]
            )
        }
    }

    /// Parks an event Odoo refused for good: it stays in the inbox with `reason` until ``replay(ids:)``.
    public func park(_ id: Int64, reason: String) throws(InboxError) {
        try client.withConnection { connection throws(InboxError) in
            try connection.execute(
                """
                WITH updated AS (
                    UPDATE inbox_events
                    SET forward_status = 'parked', parked_reason = $2, last_error = $2, lease_until = NULL,
                        attempts = attempts + 1
                    WHERE id = $1 AND forward_status = 'pending'
                    RETURNING id
                )
                INSERT INTO bridge_state (key, value, updated_at) VALUES ($3, $2, now())
                ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                """,
                [.int64(id), .text(reason), .text(Self.lastForwardErrorKey)]
            )
        }
    }

    /// Puts parked events back in the queue, due now, with their attempt count reset.
    /// - Parameter ids: the events to replay; `nil` replays every parked event.
    /// - Returns: how many events were requeued.
    @discardableResult
    public func replay(ids: [Int64]? = nil) throws(InboxError) -> Int {
        try client.withConnection { connection throws(InboxError) in
            try connection.execute(
                """
                UPDATE inbox_events
                SET forward_status = 'pending', next_attempt_at = now(), lease_until = NULL, attempts = 0,
                    parked_reason = NULL
                WHERE forward_status = 'parked' AND ($1::int8[] IS NULL OR id = ANY($1::int8[]))
                """,
                [ids.map { .int64Array($0) } ?? PostgresBind(typeOID: PostgresType.int8Array, bytes: nil)]
            ).affectedRows
        }
    }
}
