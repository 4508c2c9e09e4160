import Foundation
import Testing

@testable import PostmarkBridge

@Suite(.enabled(if: TestDatabase.isConfigured, TestDatabase.skipReason))
struct InboxPostgresTests {
    @Test func parametersRoundTripInBinaryFormat() throws {
        try withTestDatabase { database in
            let connection = try database.connect()
            defer { connection.close() }
            let date = Date(timeIntervalSince1970: 1_712_345_678.654321)

            let row = try #require(
                try connection.execute(
                    "SELECT $1::int4, $2::int8, $3::text, $4::timestamptz, $5::text, $6::float8, $7::bool, $8::text",
                    [
                        .int32(-42), .int64(1 << 40), .text("grüße 📨 \"quoted\""), .timestamp(date), .text(""),
                        .double(2.5), .bool(true), .text(nil),
                    ]
                ).rows.first
            )

            #expect(try row.int(0) == -42)
            #expect(try row.int64(1) == 1 << 40)
            #expect(try row.string(2) == "grüße 📨 \"quoted\"")
            #expect(try row.date(3) == date)
            #expect(try row.string(4) == "")
            #expect(try row.double(5) == 2.5)
            #expect(try row.bool(6) == true)
            #expect(row.isNull(7))
        }
    }

    @Test func arraysCarryNullsAndEmptyStrings() throws {
        try withTestDatabase { database in
            let connection = try database.connect()
            defer { connection.close() }

            let rows = try connection.execute(
                "SELECT a, b FROM unnest($1::int8[], $2::text[]) WITH ORDINALITY AS t(a, b, n) ORDER BY n",
                [.int64Array([1, nil, 3]), .textArray(["x", "", nil])]
            ).rows

            #expect(try rows.map { try $0.int64(0) } == [1, nil, 3])
            #expect(try rows.map { try $0.string(1) } == ["x", "", nil])
        }
    }

    @Test func refusedStatementReportsSQLStateButNotTheValue() throws {
        try withTestDatabase { database in
            let connection = try database.connect()
            defer { connection.close() }

            let error = try #require(throws: InboxError.self) {
                try connection.execute("SELECT $1::int4", [.text("secret-value-4711")])
            }

            #expect(error.code == .queryFailed)
            #expect(error.sqlState == "22P02")
            #expect(!error.description.contains("secret-value-4711"))
            #expect(!error.isTransient)
            #expect(connection.isHealthy)
        }
    }

    @Test func uniqueViolationHasItsOwnCode() throws {
        try withTestDatabase { database in
            let connection = try database.connect()
            defer { connection.close() }
            try connection.execute("CREATE TABLE t (k text PRIMARY KEY)")
            try connection.execute("INSERT INTO t VALUES ($1)", [.text("a")])

            let error = try #require(throws: InboxError.self) {
                try connection.execute("INSERT INTO t VALUES ($1)", [.text("a")])
            }

            #expect(error.code == .uniqueViolation)
            #expect(error.sqlState == "23505")
        }
    }

    @Test func transactionRollsBackWhenTheBodyThrows() throws {
        try withTestDatabase { database in
            let connection = try database.connect()
            defer { connection.close() }
            try connection.execute("CREATE TABLE t (k int4)")

            #expect(throws: InboxError.self) {
                try connection.transaction { connection throws(InboxError) in
                    try connection.execute("INSERT INTO t VALUES ($1)", [.int32(1)])
                    try connection.execute("INSERT INTO t VALUES ($1)", [.text("not a number")])
                }
            }

            let count = try connection.execute("SELECT count(*) FROM t").rows.first?.int(0)
            #expect(count == 0)
        }
    }

    @Test func statementOverItsTimeoutIsCancelledAndTheConnectionClosed() throws {
        try withTestDatabase { database in
            let connection = try database.connect()

            let error = try #require(throws: InboxError.self) {
                try connection.execute("SELECT pg_sleep(30)", timeout: .milliseconds(200))
            }

            #expect(error.code == .timedOut)
            #expect(!connection.isHealthy)
            let observer = try database.connect()
            defer { observer.close() }
            try waitUntil("the cancelled statement is gone") {
                let rows = try observer.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'"
                ).rows
                return try rows.first?.int(0) == 0
            }
        }
    }

    @Test func clientReconnectsAfterTheServerDroppedItsConnection() throws {
        try withTestDatabase { database in
            let client = PostgresClient(configuration: database.configuration)
            defer { client.close() }
            let firstPID = try client.withConnection { connection throws(InboxError) in
                try connection.execute("SELECT pg_backend_pid()").rows.first?.int(0)
            }
            let killer = try database.connect()
            defer { killer.close() }

            try killer.execute("SELECT pg_terminate_backend($1)", [.int32(Int32(firstPID ?? 0))])
            let secondPID = try client.withConnection { connection throws(InboxError) in
                try connection.execute("SELECT pg_backend_pid()").rows.first?.int(0)
            }

            #expect(secondPID != nil)
            #expect(secondPID != firstPID)
        }
    }
}

@Suite struct InboxErrorTests {
    @Test func failedConnectionNeverShowsThePassword() {
        let configuration = PostgresConfiguration(
            connectionString: "postgresql://bridge:hunter2-secret@127.0.0.1:1/inbox",
            connectTimeout: .seconds(2)
        )

        let error = #expect(throws: InboxError.self) { try PostgresConnection(configuration: configuration) }

        #expect(error?.code == .connectionFailed)
        #expect(error?.isTransient == true)
        #expect(error?.description.contains("hunter2") == false)
        #expect(error?.debugDescription.contains("hunter2") == false)
        #expect(!"\(configuration)".contains("hunter2"))
    }

    @Test(arguments: [
        ("40001", true), ("40P01", true), ("57P01", true), ("08006", true), ("53300", true), ("23505", false),
        ("22P02", false), ("42P01", false),
    ])
    func transientSQLStates(state: String, transient: Bool) {
        #expect(InboxError(.queryFailed, sqlState: state).isTransient == transient)
    }
}

@Suite(.enabled(if: TestDatabase.isConfigured, TestDatabase.skipReason))
struct InboxMigrationTests {
    @Test func migratingTwiceChangesNothingTheSecondTime() throws {
        try withTestDatabase { database in
            let inbox = InboxDatabase(configuration: database.configuration)
            defer { inbox.close() }
            #expect(try inbox.schemaVersion() == 0)

            let first = try inbox.migrate()
            let second = try inbox.migrate()

            #expect(first == InboxMigrations.all.map(\.version))
            #expect(second.isEmpty)
            #expect(try inbox.schemaVersion() == InboxMigrations.latestVersion)
            let tables = try inbox.client.withConnection { connection throws(InboxError) in
                try connection.execute(
                    """
                    SELECT count(*) FROM information_schema.tables
                    WHERE table_name IN ('inbox_events', 'mail_servers', 'bridge_state', 'schema_migrations')
                    """
                ).rows.first?.int(0)
            }
            #expect(tables == 4)
        }
    }

    @Test func concurrentMigrationsApplyEachVersionOnce() throws {
        try withTestDatabase { database in
            let applied = LockedBox<[[Int]]>([])
            let failures = LockedBox<[String]>([])

            runThreads(4) { _ in
                let inbox = InboxDatabase(configuration: database.configuration)
                defer { inbox.close() }
                do {
                    let versions = try inbox.migrate()
                    applied.mutate { $0.append(versions) }
                } catch {
                    failures.mutate { $0.append(String(reflecting: error)) }
                }
            }

            #expect(failures.value.isEmpty)
            #expect(applied.value.flatMap { $0 }.sorted() == InboxMigrations.all.map(\.version))
        }
    }
}

/// A value shared between test threads.
final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    /// Creates a box holding `value`.
    init(_ value: Value) {
        stored = value
    }

    /// A copy of the value.
    var value: Value {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }

    /// Changes the value under the lock and returns what `body` returns.
    func mutate<R>(_ body: (inout Value) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&stored)
    }
}
