import Foundation
import Testing

@testable import PostmarkBridge

#if canImport(Glibc)
    import Glibc
#endif

/// A fresh PostgreSQL database for one test, created from `BRIDGE_TEST_DATABASE_URL` and dropped by ``drop()``.
///
/// Each test gets its own database, so tests and suites run in parallel without seeing each other's rows. Without
/// the variable the database tests are skipped (``isConfigured``); under CI (`CI` set) the sentinel test below fails
/// instead, so a CI run without a database cannot pass. Pointed at a server of your own, the URL's user needs the
/// right to create databases; `scripts/with-postgres.sh` starts a throw-away server where it has it.
final class TestDatabase: Sendable {
    /// The server's connection string, from the environment; `nil` when not set.
    static let url: String? = {
        let value = ProcessInfo.processInfo.environment["BRIDGE_TEST_DATABASE_URL"] ?? ""
        return value.isEmpty ? nil : value
    }()

    /// Whether the database tests can run.
    static let isConfigured = url != nil

    /// Whether the tests run under CI, where a missing database is a failure.
    static let isCI = ProcessInfo.processInfo.environment["CI"].map { !$0.isEmpty } ?? false

    /// The reason shown for skipped database tests.
    static let skipReason: Comment = "BRIDGE_TEST_DATABASE_URL is not set: run scripts/with-postgres.sh swift test"

    /// The database's name.
    let name: String
    /// The configuration that reaches this database.
    let configuration: PostgresConfiguration

    /// Creates a new, empty database.
    init(statementTimeout: Duration = .seconds(30)) throws {
        guard let url = Self.url else {
            throw InboxError(.connectionFailed, detail: "BRIDGE_TEST_DATABASE_URL is not set")
        }
        let suffix = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        name = "pmb_test_\(suffix)"
        configuration = PostgresConfiguration(connectionString: url, statementTimeout: statementTimeout)
            .overriding("dbname", name)

        let admin = try PostgresConnection(configuration: PostgresConfiguration(connectionString: url))
        defer { admin.close() }
        // Database names cannot be parameters; this one is made only of [a-z0-9_] above.
        try admin.execute("CREATE DATABASE \(name)")
    }

    /// A new connection to this database.
    func connect() throws -> PostgresConnection {
        try PostgresConnection(configuration: configuration)
    }

    /// A migrated inbox database handle.
    func migratedInbox() throws -> InboxDatabase {
        let database = InboxDatabase(configuration: configuration)
        try database.migrate()
        return database
    }

    /// Drops the database, closing any connection still open to it.
    func drop() {
        guard let url = Self.url, let admin = try? PostgresConnection(configuration: .init(connectionString: url))
        else {
            return
        }
        defer { admin.close() }
        _ = try? admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }
}

/// Runs `body` with a fresh database, dropped afterwards.
func withTestDatabase<T>(_ body: (TestDatabase) throws -> T) throws -> T {
    let database = try TestDatabase()
    defer { database.drop() }
    return try body(database)
}

/// An inbox event with distinct values in every field, keyed by `key`.
func sampleEvent(
    _ key: String,
    server: Int = 7,
    state: String = "delivered",
    payload: String? = nil
) -> InboxEvent {
    InboxEvent(
        mailServerID: server,
        dedupeKey: key,
        recordType: "delivery",
        state: state,
        messageID: "msg-\(key)",
        recipient: "rcpt-\(key)@example.com",
        occurredAt: Date(timeIntervalSince1970: 1_700_000_000.123456),
        traceID: "trace-\(key)",
        payload: Array((payload ?? #"{"RecordType":"Delivery","Key":"\#(key)"}"#).utf8)
    )
}

/// Runs `count` threads at once (released together) and waits for all of them.
func runThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    let start = DispatchSemaphore(value: 0)
    for index in 0..<count {
        group.enter()
        let thread = Thread {
            start.wait()
            body(index)
            group.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    for _ in 0..<count { start.signal() }
    group.wait()
}

/// Polls `condition` every 10 ms until it holds; fails the test after `limit` (a hang guard, not a speed check).
func waitUntil(
    _ what: Comment,
    limit: Duration = .seconds(30),
    sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () throws -> Bool
) throws {
    let deadline = ContinuousClock.now + limit
    while try !condition() {
        if ContinuousClock.now > deadline {
            Issue.record("gave up waiting: \(what)", sourceLocation: sourceLocation)
            return
        }
        usleep(10_000)
    }
}

@Suite struct TestDatabaseTests {
    @Test(
        "PostgreSQL is configured for the database tests",
        .enabled(if: !TestDatabase.isConfigured, "the database tests run")
    )
    func databaseIsConfigured() {
        let message = """
            *** PostgreSQL tests SKIPPED: BRIDGE_TEST_DATABASE_URL is not set. \
            Run them with: scripts/with-postgres.sh swift test ***
            """
        if TestDatabase.isCI {
            Issue.record("CI is set but BRIDGE_TEST_DATABASE_URL is not: the database tests cannot run")
        } else {
            FileHandle.standardError.write(Data((message + "\n").utf8))
        }
    }
}
