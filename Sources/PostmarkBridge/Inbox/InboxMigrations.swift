/// The inbox schema as numbered migrations, and the code that applies them.
///
/// Migrations run in one transaction under an advisory lock, so several bridge processes starting together apply
/// each migration once; running them again changes nothing. A migration, once released, is never edited: changes
/// go in a new one.
public enum InboxMigrations {
    /// One schema step: a version, a name for `schema_migrations`, and its statements (one per libpq call).
    public struct Migration: Sendable {
        /// The version number; migrations apply in increasing order.
        public var version: Int
        /// A short name recorded with the version.
        public var name: String
        /// The statements, run in order.
        public var statements: [String]
    }

    /// Key of the transaction-scoped advisory lock migrations hold (an arbitrary constant: "pmbridge" in ASCII).
    static let advisoryLockKey: Int64 = 0x706D_6272_6964_6765

    /// Every migration, oldest first.
    public static let all: [Migration] = [
        Migration(
            version: 1,
            name: "inbox events, mail servers, bridge state",
            statements: [
                """
                CREATE TABLE inbox_events (
                    id bigserial PRIMARY KEY,
                    mail_server_id integer NOT NULL,
                    dedupe_key text NOT NULL,
                    record_type text NOT NULL,
                    state text NOT NULL,
                    message_id text,
                    recipient text,
                    occurred_at timestamptz,
                    received_at timestamptz NOT NULL DEFAULT now(),
                    trace_id text,
                    payload text NOT NULL,
                    forward_status text NOT NULL DEFAULT 'pending'
                        CHECK (forward_status IN ('pending', 'forwarded', 'parked')),
                    attempts integer NOT NULL DEFAULT 0,
                    next_attempt_at timestamptz NOT NULL DEFAULT now(),
                    lease_until timestamptz,
                    last_error text,
                    forwarded_at timestamptz,
                    odoo_id bigint,
                    parked_reason text,
                    CONSTRAINT inbox_events_dedupe_key_key UNIQUE (dedupe_key)
                )
                """,
                // Claiming reads due pending events in this order; forwarded and parked rows stay out of the index.
                """
                CREATE INDEX inbox_events_due_idx ON inbox_events (next_attempt_at, id)
                    WHERE forward_status = 'pending'
                """,
                // Counts per forward status, the oldest pending event, and replaying parked events.
                "CREATE INDEX inbox_events_status_idx ON inbox_events (forward_status, received_at)",
                """
                CREATE TABLE mail_servers (
                    id integer PRIMARY KEY,
                    settings text NOT NULL,
                    updated_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                """
                CREATE TABLE bridge_state (
                    key text PRIMARY KEY,
                    value text NOT NULL,
                    updated_at timestamptz NOT NULL DEFAULT now()
                )
                """,
            ]
        )
    ]

    /// Brings the schema up to date on `connection`.
    /// - Returns: the versions applied by this call (empty when the schema was already current).
    /// - Throws: ``InboxError`` with code `migrationFailed` (the failing version in the debug description), or the
    ///   connection error.
    @discardableResult
    public static func migrate(_ connection: PostgresConnection, migrations: [Migration] = all) throws(InboxError)
        -> [Int]
    {
        // Payloads are kept as text with their exact bytes, which only a UTF-8 database can promise.
        let encoding = try connection.execute("SELECT current_setting('server_encoding')").rows.first?.string(0)
        guard encoding == "UTF8" else {
            throw InboxError(.migrationFailed, detail: "the inbox database must use the UTF8 encoding")
        }

        return try connection.transaction { connection throws(InboxError) in
            try connection.execute("SELECT pg_advisory_xact_lock($1)", [.int64(advisoryLockKey)])
            try connection.execute(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """
            )

            let rows = try connection.execute("SELECT version FROM schema_migrations").rows
            var applied = Set<Int>()
            for row in rows { applied.insert(try row.int(0) ?? 0) }

            var newlyApplied: [Int] = []
            for migration in migrations.sorted(by: { $0.version < $1.version })
            where !applied.contains(migration.version) {
                do throws(InboxError) {
                    for statement in migration.statements { try connection.execute(statement) }
                    try connection.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                        [.int32(Int32(migration.version)), .text(migration.name)]
                    )
                } catch  where !error.breaksConnection {
                    throw InboxError(
                        .migrationFailed,
                        sqlState: error.sqlState,
                        detail: "migration \(migration.version): \(error.detail ?? "")"
                    )
                }
                newlyApplied.append(migration.version)
            }
            return newlyApplied
        }
    }

    /// The highest version recorded in `schema_migrations`, or 0 when the schema was never migrated.
    public static func currentVersion(_ connection: PostgresConnection) throws(InboxError) -> Int {
        let exists = try connection.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").rows
        guard try exists.first?.bool(0) == true else { return 0 }
        let rows = try connection.execute("SELECT coalesce(max(version), 0)::int8 FROM schema_migrations").rows
        return try rows.first?.int(0) ?? 0
    }

    /// The version this build of the bridge expects.
    public static var latestVersion: Int { all.map(\.version).max() ?? 0 }
}
