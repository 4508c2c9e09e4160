import Foundation
import Testing

@testable import PostmarkBridge

@Suite(.enabled(if: TestDatabase.isConfigured, TestDatabase.skipReason))
struct InboxStoreTests {
    /// A migrated database and a store on it, both closed and dropped after `body`.
    func withStore(
        writers: Int = 2,
        maxWaiting: Int = 8192,
        waitTimeout: Duration = .seconds(30),
        observer: InboxStore.Observer = .init(),
        _ body: (InboxStore, TestDatabase) throws -> Void
    ) throws {
        try withTestDatabase { database in
            try database.migratedInbox().close()
            let store = InboxStore(
                configuration: .init(
                    database: database.configuration,
                    writers: writers,
                    maxWaiting: maxWaiting,
                    waitTimeout: waitTimeout
                ),
                observer: observer
            )
            defer { store.close() }
            try body(store, database)
        }
    }

    @Test func storedEventReadsBackWithItsExactPayload() throws {
        try withStore { store, database in
            let payload =
                "{ \"RecordType\" : \"Delivery\",\n  \"Details\": \"grüße \\u00e9 📨\", \"ID\": 12345678901234 }"
            var event = sampleEvent("a", payload: payload)
            event.recipient = nil

            let outcome = try store.store(event)

            guard case .stored(let id) = outcome else {
                Issue.record("expected stored, got \(outcome)")
                return
            }
            let connection = try database.connect()
            defer { connection.close() }
            let row = try #require(
                try connection.execute(
                    """
                    SELECT mail_server_id, dedupe_key, record_type, state, message_id, recipient, occurred_at, trace_id,
                           payload, forward_status, attempts, received_at
                    FROM inbox_events WHERE id = $1
                    """,
                    [.int64(id)]
                ).rows.first
            )
            #expect(try row.int(0) == 7)
            #expect(try row.string(1) == "a")
            #expect(try row.string(2) == "delivery")
            #expect(try row.string(3) == "delivered")
            #expect(try row.string(4) == "msg-a")
            #expect(row.isNull(5))
            #expect(try row.date(6) == event.occurredAt)
            #expect(try row.string(7) == "trace-a")
            #expect(row.bytes(8) == Array(payload.utf8))
            #expect(try row.string(9) == "pending")
            #expect(try row.int(10) == 0)
            #expect(!row.isNull(11))
        }
    }

    @Test func sameKeyStoredTwiceIsADuplicateOfTheFirstRow() throws {
        try withStore { store, _ in
            let first = try store.store(sampleEvent("k"))
            let second = try store.store(sampleEvent("k", state: "bounced"))

            guard case .stored(let id) = first else {
                Issue.record("expected stored, got \(first)")
                return
            }
            #expect(second == .duplicate(id))
            #expect(store.statistics.stored == 1)
            #expect(store.statistics.duplicates == 1)
        }
    }

    @Test func nulCharactersInFieldsAreStoredNotRefused() throws {
        try withStore { store, _ in
            var event = sampleEvent("nul\u{0}key", payload: #"{"Key":"nul\u0000key"}"#)
            event.recipient = "a\u{0}b@example.com"

            let first = try store.store(event)
            let second = try store.store(event)

            guard case .stored(let id) = first else {
                Issue.record("expected stored, got \(first)")
                return
            }
            #expect(second == .duplicate(id))
        }
    }

    @Test func refusedEventFailsAloneAndItsBatchIsStored() throws {
        let batches = LockedBox<[Int]>([])
        let observer = InboxStore.Observer(batchCommitted: { report in batches.mutate { $0.append(report.size) } })
        try withStore(writers: 1, observer: observer) { store, database in
            let results = LockedBox<[Int: Result<InboxStore.StoreOutcome, InboxError>]>([:])

            try holdingTableLock(database, store: store, waitingFor: 6) {
                for index in 0..<6 {
                    // Index 3 is not UTF-8: PostgreSQL refuses it, which must not fail the other five.
                    let payload: [UInt8] = index == 3 ? [0x7B, 0xFF, 0x7D] : Array("{}".utf8)
                    var event = sampleEvent("event-\(index)")
                    event.payload = payload
                    let ready = event
                    startThread {
                        let result = Result { () throws(InboxError) in try store.store(ready) }
                        results.mutate { $0[index] = result }
                    }
                }
            }

            try waitUntil("six results") { results.value.count == 6 }
            for (index, result) in results.value {
                if index == 3 {
                    #expect(throws: InboxError.self) { try result.get() }
                } else {
                    #expect(try result.get() != .duplicate(nil))
                }
            }
            #expect(store.statistics.stored == 6)
            #expect(store.statistics.failed == 1)
        }
    }

    @Test func equalKeysInsideOneBatchStoreOneRow() throws {
        let batches = LockedBox<[Int]>([])
        let observer = InboxStore.Observer(batchCommitted: { report in batches.mutate { $0.append(report.size) } })
        try withStore(writers: 1, observer: observer) { store, database in
            let outcomes = LockedBox<[InboxStore.StoreOutcome]>([])

            try holdingTableLock(database, store: store, waitingFor: 5) {
                for _ in 0..<5 {
                    startThread {
                        if let outcome = try? store.store(sampleEvent("same")) {
                            outcomes.mutate { $0.append(outcome) }
                        }
                    }
                }
            }

            try waitUntil("five outcomes") { outcomes.value.count == 5 }
            let stored = outcomes.value.compactMap { if case .stored(let id) = $0 { id } else { nil } }
            #expect(stored.count == 1)
            #expect(outcomes.value.filter { $0 == .duplicate(stored.first) }.count == 4)
            // The blocker's batch of one, then the five in one batch (one row, four duplicates resolved in memory).
            #expect(batches.value == [1, 5])
            #expect(try rowCount(database) == 2)
        }
    }

    @Test func concurrentCallersWithOverlappingKeysGetOneRowPerKey() throws {
        try withStore { store, database in
            let outcomes = LockedBox<[String: [InboxStore.StoreOutcome]]>([:])
            let failures = LockedBox<Int>(0)

            runThreads(50) { thread in
                for round in 0..<20 {
                    // Each key is stored by several threads at nearly the same moment.
                    let key = "key-\((thread * 7 + round * 13) % 120)"
                    do {
                        let outcome = try store.store(sampleEvent(key))
                        outcomes.mutate { $0[key, default: []].append(outcome) }
                    } catch {
                        failures.mutate { $0 += 1 }
                    }
                }
            }

            #expect(failures.value == 0)
            #expect(try rowCount(database) == outcomes.value.count)
            let connection = try database.connect()
            defer { connection.close() }
            for (key, results) in outcomes.value {
                let stored = results.compactMap { if case .stored(let id) = $0 { id } else { nil } }
                let rowID = try connection.execute("SELECT id FROM inbox_events WHERE dedupe_key = $1", [.text(key)])
                    .rows.first?.int64(0)
                #expect(stored.count == 1, "key \(key)")
                #expect(stored.first == rowID)
                for result in results where result != .stored(rowID ?? -1) {
                    // A row committed by the other writer during the same statement is a duplicate without id.
                    #expect(result == .duplicate(rowID) || result == .duplicate(nil), "key \(key)")
                }
            }
            #expect(store.statistics.stored + store.statistics.duplicates == 1000)
        }
    }

    @Test func concurrentCallersAreCommittedInBatches() throws {
        let reports = LockedBox<[InboxStore.BatchReport]>([])
        let observer = InboxStore.Observer(batchCommitted: { report in reports.mutate { $0.append(report) } })
        try withStore(observer: observer) { store, database in
            runThreads(32) { thread in
                for round in 0..<40 { _ = try? store.store(sampleEvent("t\(thread)-r\(round)")) }
            }

            let sizes = reports.value.map(\.size)
            let rows = try rowCount(database)
            #expect(sizes.reduce(0, +) == 1280)
            #expect(rows == 1280)
            // 32 callers against 2 writers: while one batch commits the others queue up, so batches hold many events.
            #expect(sizes.count * 2 <= 1280, "\(sizes.count) batches for 1280 events")
            #expect(sizes.max() ?? 0 > 1)
            #expect(store.statistics.batches == sizes.count)
        }
    }

    @Test func fullQueueAnswersSaturatedAtOnceThenDrains() throws {
        try withStore(writers: 1, maxWaiting: 3) { store, database in
            let outcomes = LockedBox<Int>(0)

            try holdingTableLock(database, store: store, waitingFor: 3) {
                for index in 0..<3 {
                    startThread {
                        if (try? store.store(sampleEvent("queued-\(index)"))) != nil { outcomes.mutate { $0 += 1 } }
                    }
                }
                try waitUntil("three waiting") { store.waitingCount == 3 }

                #expect(throws: InboxError.saturated) { try store.store(sampleEvent("one too many")) }
            }

            try waitUntil("queued events stored") { outcomes.value == 3 }
            #expect(store.statistics.saturated == 1)
            #expect(try store.store(sampleEvent("after")) != .duplicate(nil))
        }
    }

    @Test func closedStoreCommitsWhatWaitsAndRefusesMore() throws {
        try withStore { store, database in
            _ = try store.store(sampleEvent("before"))

            store.close()

            #expect(throws: InboxError.closed) { try store.store(sampleEvent("after")) }
            #expect(try rowCount(database) == 1)
        }
    }

    @Test func storeLatencyHookSeesEveryCall() throws {
        let calls = LockedBox<Int>(0)
        let observer = InboxStore.Observer(storeFinished: { _, _ in calls.mutate { $0 += 1 } })
        try withStore(observer: observer) { store, _ in
            _ = try store.store(sampleEvent("a"))
            _ = try store.store(sampleEvent("a"))

            #expect(calls.value == 2)
        }
    }
}

/// Holds an exclusive lock on `inbox_events` while `body` queues events: the store's writer blocks on a first
/// event, so the events queued by `body` wait together and go out as one batch once the lock is released.
func holdingTableLock(
    _ database: TestDatabase,
    store: InboxStore,
    waitingFor count: Int,
    _ body: () throws -> Void
) throws {
    let locker = try database.connect()
    let observer = try database.connect()
    defer {
        locker.close()
        observer.close()
    }
    try locker.execute("BEGIN")
    try locker.execute("LOCK TABLE inbox_events IN EXCLUSIVE MODE")

    startThread { _ = try? store.store(sampleEvent("blocker-\(UUID())")) }
    try waitUntil("the writer took the blocker") { try writerIsWaitingForLock(observer) && store.waitingCount == 0 }
    try body()
    try waitUntil("events queued") { store.waitingCount >= count }

    try locker.execute("COMMIT")
}

/// Whether some session of the database waits for a lock (ask outside a transaction: `pg_stat_activity` is
/// cached for the length of one).
func writerIsWaitingForLock(_ connection: PostgresConnection) throws -> Bool {
    let rows = try connection.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    ).rows
    return try rows.first?.int(0) ?? 0 > 0
}

/// The number of rows in `inbox_events`.
func rowCount(_ database: TestDatabase) throws -> Int {
    let connection = try database.connect()
    defer { connection.close() }
    return try connection.execute("SELECT count(*) FROM inbox_events").rows.first?.int(0) ?? -1
}

/// Runs `body` on a new thread.
func startThread(_ body: @escaping @Sendable () -> Void) {
    Thread { body() }.start()
}
