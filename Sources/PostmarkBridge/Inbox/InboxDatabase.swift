import Foundation

/// The inbox database for everything but storing webhooks: migrations, the forwarding queue, status, replay, the
/// last known mail server settings and the bridge's key/value state.
///
/// One connection, opened on first use and reopened after failures, serves every call in turn. Calls block the
/// calling thread; from async code wrap them in ``perform(_:)``.
public final class InboxDatabase: Sendable {
    /// The connection the calls share.
    public let client: PostgresClient
    private let queue = DispatchQueue(label: "postmark-bridge.inbox-database")

    /// Creates the database handle; it connects on first use.
    public init(configuration: PostgresConfiguration) {
        client = PostgresClient(configuration: configuration, label: "inbox-database")
    }

    /// Brings the schema up to date (see ``InboxMigrations``).
    /// - Returns: the migration versions applied now; empty when the schema was current.
    @discardableResult
    public func migrate() throws(InboxError) -> [Int] {
        try client.withConnection { connection throws(InboxError) in try InboxMigrations.migrate(connection) }
    }

    /// The schema version the database is at (0 before the first migration).
    public func schemaVersion() throws(InboxError) -> Int {
        try client.withConnection { connection throws(InboxError) in try InboxMigrations.currentVersion(connection) }
    }

    /// Checks that the inbox answers, within `timeout`; for readiness probes.
    public func ping(timeout: Duration = .seconds(1)) throws(InboxError) {
        try client.withConnection { connection throws(InboxError) in
            _ = try connection.execute("SELECT 1", timeout: timeout)
        }
    }

    /// Runs `body` on the database's own dispatch queue, off Swift's cooperative threads.
    ///
    /// `body` calls the database's methods, which take the connection themselves, so this must not hold it:
    /// the connection's lock is not reentrant.
    public func perform<T: Sendable>(_ body: @escaping @Sendable (InboxDatabase) throws(InboxError) -> T)
        async throws(InboxError) -> T
    {
        let result: Result<T, InboxError> = await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: Result { () throws(InboxError) -> T in try body(self) })
            }
        }
        return try result.get()
    }

    /// Closes the connection; later calls fail with `closed`.
    public func close() {
        client.close()
    }
}
