import Foundation

/// The SQL of the `inbox_events` table for storing events; every value travels as a parameter.
enum InboxStatements {
    /// Inserts a batch with one statement: arrays in, one row out per input event.
    ///
    /// `inserted_id` is set for new rows; `existing_id` for keys already stored before this statement's snapshot.
    /// Both are null for a key another transaction committed while this statement ran.
    static let insertBatch = """
        WITH input AS (
            SELECT *
            FROM unnest($1::int4[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],
                        $8::text[], $9::text[])
                AS t(mail_server_id, dedupe_key, record_type, state, message_id, recipient, occurred_at, trace_id,
                     payload)
        ),
        inserted AS (
            INSERT INTO inbox_events (mail_server_id, dedupe_key, record_type, state, message_id, recipient,
                                      occurred_at, trace_id, payload)
            SELECT mail_server_id, dedupe_key, record_type, state, message_id, recipient, occurred_at, trace_id,
                   payload
            FROM input
            ON CONFLICT (dedupe_key) DO NOTHING
            RETURNING id, dedupe_key
        )
        SELECT i.dedupe_key, n.id AS inserted_id,
               CASE WHEN n.id IS NULL THEN
                   (SELECT e.id FROM inbox_events e WHERE e.dedupe_key = i.dedupe_key)
               END AS existing_id
        FROM input i
        LEFT JOIN inserted n ON n.dedupe_key = i.dedupe_key
        """

    /// Inserts `events`, whose dedupe keys are distinct, and returns each one's outcome in the same order.
    ///
    /// Rows are sent sorted by dedupe key, so two processes inserting overlapping batches take the unique index's
    /// locks in the same order and cannot deadlock.
    static func insert(_ events: [InboxEvent], on connection: PostgresConnection) throws(InboxError)
        -> [InboxStore.StoreOutcome]
    {
        let sorted = events.sorted { $0.dedupeKey < $1.dedupeKey }
        let binds: [PostgresBind] = [
            .int32Array(sorted.map { Int32(truncatingIfNeeded: $0.mailServerID) }),
            .textArray(sorted.map { clean($0.dedupeKey) }),
            .textArray(sorted.map { clean($0.recordType) }),
            .textArray(sorted.map { clean($0.state) }),
            .textArray(sorted.map { $0.messageID.map(clean) }),
            .textArray(sorted.map { $0.recipient.map(clean) }),
            .timestampArray(sorted.map(\.occurredAt)),
            .textArray(sorted.map { $0.traceID.map(clean) }),
            .textArray(bytes: sorted.map(\.payload)),
        ]

        let rows = try connection.execute(prepared: "inbox_insert_batch", insertBatch, binds).rows
        var outcomes: [String: InboxStore.StoreOutcome] = [:]
        for row in rows {
            guard let key = try row.string(0) else { continue }
            if let id = try row.int64(1) {
                outcomes[key] = .stored(id)
            } else {
                outcomes[key] = .duplicate(try row.int64(2))
            }
        }
        return try events.map { event throws(InboxError) in
            guard let outcome = outcomes[clean(event.dedupeKey)] else {
                throw InboxError(.unexpectedResult, detail: "no outcome for an event of the batch")
            }
            return outcome
        }
    }

    /// PostgreSQL text cannot hold NUL, which a JSON string can (`\u0000`): it becomes U+FFFD so the event is
    /// stored rather than refused. The payload keeps its exact bytes (raw JSON never contains NUL).
    static func clean(_ text: String) -> String {
        text.utf8.contains(0) ? text.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") : text
    }
}
