import Foundation
import Synchronization
import Testing

@testable import PostmarkBridge

/// The dispatcher between the real PostgreSQL inbox and ``FakeOdoo`` over HTTP: every event ends in Odoo exactly once.
@Suite(.enabled(if: TestDatabase.isConfigured, TestDatabase.skipReason))
struct DispatcherTests {
    /// One inbox database, one fake Odoo and the pieces between them.
    final class Harness: Sendable {
        let database: TestDatabase
        let inbox: InboxDatabase
        let store: InboxStore
        let odoo: FakeOdoo

        init(version: FakeOdoo.Version = .odoo18) throws {
            database = try TestDatabase()
            inbox = try database.migratedInbox()
            store = InboxStore(configuration: .init(database: database.configuration, writers: 2))
            odoo = try FakeOdoo(version: version)
        }

        deinit {
            store.close()
            inbox.close()
            database.drop()
        }

        /// Stores `count` events for mail server 1, keys `prefix-0…`, from Postmark fixtures of every record type.
        func storeEvents(_ count: Int, prefix: String = "k") throws {
            let payloads = try Self.payloads()
            let failures = Failures()
            runThreads(min(8, max(1, count))) { thread in
                for index in stride(from: thread, to: count, by: min(8, max(1, count))) {
                    let event = sampleEvent("\(prefix)-\(index)", server: 1, payload: payloads[index % payloads.count])
                    do { _ = try self.store.store(event) } catch { failures.add() }
                }
            }
            #expect(failures.count == 0)
        }

        static func payloads() throws -> [String] {
            let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
            return try ["delivery", "bounce-hard", "open", "click", "spam-complaint", "subscription-change-manual"].map
            {
                try String(contentsOf: folder.appendingPathComponent("\($0).json"), encoding: .utf8)
            }
        }

        /// A client for the fake, with short timeouts.
        func client(timeout: Duration = .seconds(5)) -> OdooClient {
            OdooClient(configuration: odoo.configuration(timeout: timeout), http: URLSessionHTTPClient())
        }

        /// A dispatcher with test-sized delays; `inbox` lets two dispatchers use two connections, like two processes.
        func dispatcher(
            client: OdooClient? = nil,
            inbox: InboxDatabase? = nil,
            batchSize: Int = 50,
            concurrentBatches: Int = 2,
            lease: Duration = .seconds(30),
            idlePoll: Duration = .milliseconds(100),
            maximumServerErrorAttempts: Int = 8,
            values: Dispatcher.ValuesBuilder? = nil
        ) -> Dispatcher {
            Dispatcher(
                queue: inbox ?? self.inbox,
                odoo: client ?? self.client(),
                values: values ?? Self.values,
                configuration: .init(
                    batchSize: batchSize, concurrentBatches: concurrentBatches, lease: lease, idlePoll: idlePoll,
                    retry: RetryPolicy(initialDelay: .milliseconds(20), maximumDelay: .milliseconds(200)),
                    configurationRetryDelay: .milliseconds(200), maximumServerErrorAttempts: maximumServerErrorAttempts,
                    inboxRetry: RetryPolicy(initialDelay: .milliseconds(20), maximumDelay: .milliseconds(200))
                )
            )
        }

        /// The real values builder: Postmark's payload decoded and mapped to the contract's fields.
        static let values: Dispatcher.ValuesBuilder = { event in
            try PostmarkEvent.decode(body: event.payload).notificationValues(
                mailServerID: event.mailServerID, dedupeKey: event.dedupeKey, payload: event.payload
            )
        }

        /// Every inbox row: dedupe key → (forward status, Odoo id, parked reason, attempts).
        func rows() throws -> [String: (status: String, odooID: Int?, reason: String?, attempts: Int)] {
            let connection = try database.connect()
            defer { connection.close() }
            let result = try connection.execute(
                "SELECT dedupe_key, forward_status, odoo_id, parked_reason, attempts FROM inbox_events"
            )
            var rows: [String: (status: String, odooID: Int?, reason: String?, attempts: Int)] = [:]
            for row in result.rows {
                rows[try row.string(0) ?? ""] = (
                    try row.string(1) ?? "", try row.int(2), try row.string(3), try row.int(4) ?? 0
                )
            }
            return rows
        }

        /// Checks that every forwarded event has exactly one record in Odoo, under the id the inbox recorded.
        func expectForwardedExactlyOnce(_ count: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let rows = try rows()
            let records = odoo.records
            let forwarded = rows.filter { $0.value.status == "forwarded" }
            #expect(forwarded.count == count, sourceLocation: sourceLocation)
            for (key, row) in forwarded {
                #expect(
                    records[key]?.id == row.odooID, "inbox and Odoo agree on \(key)", sourceLocation: sourceLocation)
            }
            #expect(Set(records.map(\.value.id)).count == records.count, sourceLocation: sourceLocation)
        }
    }

    final class Failures: Sendable {
        private let value = Mutex(0)
        func add() { value.withLock { $0 += 1 } }
        var count: Int { value.withLock { $0 } }
    }

    /// Polls `condition` every 20 ms until it holds; records an issue after `limit` (a hang guard, not a speed check).
    static func eventually(
        _ what: Comment,
        limit: Duration = .seconds(60),
        sourceLocation: SourceLocation = #_sourceLocation,
        _ condition: () throws -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + limit
        while try !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("gave up waiting: \(what)", sourceLocation: sourceLocation)
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    private func forwardedCount(_ harness: Harness) throws -> Int { try harness.inbox.status().forwarded }

    @Test func everyEventArrivesExactlyOnceInBatches() async throws {
        let harness = try Harness()
        try harness.storeEvents(300)
        let dispatcher = harness.dispatcher(batchSize: 50)

        let running = Task { await dispatcher.run() }
        try await Self.eventually("300 forwarded") { try forwardedCount(harness) == 300 }
        dispatcher.stop()
        await running.value

        try harness.expectForwardedExactlyOnce(300)
        #expect(harness.odoo.timesSent.values.allSatisfy { $0 == 1 })
        #expect(harness.odoo.ingestBatchSizes.allSatisfy { $0 <= 50 })
        #expect(harness.odoo.ingestBatchSizes.count >= 6)
        #expect(dispatcher.statistics.forwarded == 300)
        #expect(dispatcher.statistics.forwardLatency.count == 300)
        let record = try #require(harness.odoo.records["k-1"])
        #expect(record.values["state"] == "bounced")
        #expect(record.values["mail_server_id"] == 1)
    }

    @Test(arguments: [FakeOdoo.Version.odoo18, .odoo19])
    func badEventIsParkedWithOdoosReasonAndTheRestArrive(version: FakeOdoo.Version) async throws {
        let harness = try Harness(version: version)
        try harness.storeEvents(40)
        harness.odoo.reject(dedupeKey: "k-17", message: "Recipient is not a valid address")
        let dispatcher = harness.dispatcher(batchSize: 40, concurrentBatches: 1)

        let running = Task { await dispatcher.run() }
        try await Self.eventually("39 forwarded, 1 parked") {
            let status = try harness.inbox.status()
            return status.forwarded == 39 && status.parked == 1
        }
        dispatcher.stop()
        await running.value

        try harness.expectForwardedExactlyOnce(39)
        let parked = try #require(try harness.rows()["k-17"])
        #expect(parked.status == "parked")
        #expect(parked.reason?.contains("Recipient is not a valid address") == true)
        #expect(parked.reason?.contains("validation error") == true)
        #expect(harness.odoo.records["k-17"] == nil)
        #expect(dispatcher.statistics.parked == 1)
        // Bisection: the bad event is isolated in about log2(40) rounds, not by sending events one by one.
        #expect(harness.odoo.ingestBatchSizes.count <= 2 * 6 + 1)
    }

    @Test func odooDownThenUpDeliversEverythingAfterRetries() async throws {
        let harness = try Harness()
        harness.odoo.stop()
        try harness.storeEvents(100)
        let dispatcher = harness.dispatcher()

        let running = Task { await dispatcher.run() }
        try await Self.eventually("retries while Odoo is down") { dispatcher.statistics.retried >= 100 }
        #expect(try forwardedCount(harness) == 0)
        try harness.odoo.start()
        try await Self.eventually("100 forwarded") { try forwardedCount(harness) == 100 }
        dispatcher.stop()
        await running.value

        try harness.expectForwardedExactlyOnce(100)
        #expect(dispatcher.statistics.odooErrors[.transient, default: 0] >= 1)
        #expect(dispatcher.statistics.lastOdooError?.contains("connection failed") == true)
        #expect(try harness.rows().values.allSatisfy { $0.attempts >= 1 })
    }

    @Test func twoDispatchersOnOneInboxNeverForwardTwice() async throws {
        let harness = try Harness()
        try harness.storeEvents(600)
        let secondInbox = InboxDatabase(configuration: harness.database.configuration)
        defer { secondInbox.close() }
        let first = harness.dispatcher(batchSize: 25, concurrentBatches: 2)
        let second = harness.dispatcher(inbox: secondInbox, batchSize: 25, concurrentBatches: 2)

        let runs = [Task { await first.run() }, Task { await second.run() }]
        try await Self.eventually("600 forwarded") { try forwardedCount(harness) == 600 }
        first.stop()
        second.stop()
        for run in runs { await run.value }

        try harness.expectForwardedExactlyOnce(600)
        #expect(harness.odoo.timesSent.count == 600)
        #expect(harness.odoo.timesSent.values.allSatisfy { $0 == 1 }, "the lease keeps each event to one dispatcher")
        #expect(first.statistics.forwarded + second.statistics.forwarded == 600)
    }

    @Test func crashAfterOdoosCommitCreatesNoDuplicate() async throws {
        let harness = try Harness()
        try harness.storeEvents(30)
        let client = harness.client()

        // A bridge claims a batch, Odoo commits it, and the bridge dies before marking it forwarded.
        let claimed = try harness.inbox.claim(limit: 30, lease: .seconds(1))
        let valuesList = try claimed.map { try Harness.values($0) }
        let committed = try await client.ingestNotifications(valuesList)
        #expect(committed.count == 30)
        #expect(try forwardedCount(harness) == 0)

        let dispatcher = harness.dispatcher(client: client)
        let running = Task { await dispatcher.run() }
        try await Self.eventually("30 forwarded after the lease") { try forwardedCount(harness) == 30 }
        dispatcher.stop()
        await running.value

        try harness.expectForwardedExactlyOnce(30)
        #expect(harness.odoo.records.count == 30)
        #expect(harness.odoo.timesSent.values.allSatisfy { $0 == 2 })
        for (key, row) in try harness.rows() { #expect(row.odooID == committed[key]) }
    }

    @Test func odooDyingMidBatchAfterItsCommitCreatesNoDuplicate() async throws {
        let harness = try Harness()
        try harness.storeEvents(80)
        harness.odoo.inject(.dieAfterCommit, into: "bridge_ingest")
        let dispatcher = harness.dispatcher(batchSize: 80, concurrentBatches: 1)

        let running = Task { await dispatcher.run() }
        try await Self.eventually("Odoo died after committing") {
            harness.odoo.records.count == 80 && dispatcher.statistics.retried >= 80
        }
        #expect(try forwardedCount(harness) == 0)
        try harness.odoo.start()
        try await Self.eventually("80 forwarded") { try forwardedCount(harness) == 80 }
        dispatcher.stop()
        await running.value

        try harness.expectForwardedExactlyOnce(80)
        #expect(harness.odoo.timesSent.values.allSatisfy { $0 == 2 })
    }

    @Test func configurationErrorWaitsAndIsLoggedOnce() async throws {
        let harness = try Harness()
        try harness.storeEvents(10)
        harness.odoo.setAddonInstalled(false)
        let client = harness.client()
        let dispatcher = harness.dispatcher(client: client)

        let running = Task { await dispatcher.run() }
        try await Self.eventually("three refused attempts") {
            dispatcher.statistics.odooErrors[.configuration, default: 0] >= 3
        }
        #expect(client.status.configurationErrorReports == 1)
        #expect(try forwardedCount(harness) == 0)
        #expect(try harness.inbox.status().parked == 0)
        harness.odoo.setAddonInstalled(true)
        try await Self.eventually("10 forwarded") { try forwardedCount(harness) == 10 }
        dispatcher.stop()
        await running.value

        try harness.expectForwardedExactlyOnce(10)
        #expect(dispatcher.statistics.lastOdooError?.contains("install the wk_postmark_notification addon") == true)
    }

    @Test func fieldTheAddonDoesNotKnowParksNothing() async throws {
        let harness = try Harness()
        try harness.storeEvents(12)
        let dispatcher = harness.dispatcher { event in
            var values = try Harness.values(event)
            values["field_of_a_newer_bridge"] = true
            return values
        }

        let running = Task { await dispatcher.run() }
        try await Self.eventually("three refused attempts") {
            dispatcher.statistics.odooErrors[.configuration, default: 0] >= 3
        }
        dispatcher.stop()
        await running.value

        let status = try harness.inbox.status()
        #expect(status.parked == 0)
        #expect(status.pending == 12)
        #expect(dispatcher.statistics.lastOdooError?.contains("upgrade the wk_postmark_notification addon") == true)
        #expect(harness.odoo.ingestBatchSizes.allSatisfy { $0 == 12 }, "a contract mismatch is not bisected")
    }

    @Test func eventOdooCannotHandleAloneIsParkedAfterItsAttempts() async throws {
        let harness = try Harness()
        try harness.storeEvents(1)
        harness.odoo.inject(
            .exception(name: "builtins.RuntimeError", message: "mapping crashed"), into: "bridge_ingest", times: 10)
        let dispatcher = harness.dispatcher(maximumServerErrorAttempts: 3)

        let running = Task { await dispatcher.run() }
        try await Self.eventually("parked") { try harness.inbox.status().parked == 1 }
        dispatcher.stop()
        await running.value

        let row = try #require(try harness.rows()["k-0"])
        #expect(row.attempts == 3)
        #expect(row.reason?.contains("mapping crashed") == true)
        #expect(harness.odoo.records.isEmpty)
    }

    @Test func undecodablePayloadIsParkedWithoutCallingOdoo() async throws {
        let harness = try Harness()
        try harness.storeEvents(5)
        let dispatcher = harness.dispatcher { event in
            if event.dedupeKey == "k-2" { throw WebhookTestError.unusable }
            return try Harness.values(event)
        }

        let running = Task { await dispatcher.run() }
        try await Self.eventually("4 forwarded, 1 parked") {
            let status = try harness.inbox.status()
            return status.forwarded == 4 && status.parked == 1
        }
        dispatcher.stop()
        await running.value

        #expect(try harness.rows()["k-2"]?.reason?.contains("cannot build the Odoo values") == true)
        #expect(harness.odoo.timesSent["k-2"] == nil)
    }

    @Test func notifyWakesAnIdleDispatcher() async throws {
        let harness = try Harness()
        let dispatcher = harness.dispatcher(idlePoll: .seconds(3600))
        let running = Task { await dispatcher.run() }
        try await Self.eventually("both loops idle") {
            harness.odoo.calls.isEmpty && dispatcher.statistics.inFlightBatches == 0
        }
        try await Task.sleep(for: .milliseconds(200))

        try harness.storeEvents(5)
        dispatcher.notify()
        try await Self.eventually("5 forwarded", limit: .seconds(30)) { try forwardedCount(harness) == 5 }
        dispatcher.stop()
        await running.value

        try harness.expectForwardedExactlyOnce(5)
    }

    @Test func stopFinishesTheBatchInFlight() async throws {
        let harness = try Harness()
        try harness.storeEvents(20)
        harness.odoo.inject(.delay(.milliseconds(500)), into: "bridge_ingest")
        let dispatcher = harness.dispatcher(batchSize: 20, concurrentBatches: 1)

        let running = Task { await dispatcher.run() }
        try await Self.eventually("batch in flight") { dispatcher.statistics.inFlightBatches == 1 }
        dispatcher.stop()
        await running.value

        #expect(try forwardedCount(harness) == 20)
        try harness.expectForwardedExactlyOnce(20)
    }

    @Test func drainForwardsTheBacklogAndReturns() async throws {
        let harness = try Harness(version: .odoo19)
        try harness.storeEvents(120)
        let dispatcher = harness.dispatcher(batchSize: 50)

        let batches = await dispatcher.drain()

        #expect(batches == 3)
        try harness.expectForwardedExactlyOnce(120)
    }

    enum WebhookTestError: Error { case unusable }
}
