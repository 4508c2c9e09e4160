import Foundation
import Testing

@testable import PostmarkBridge

@Suite(.enabled(if: TestDatabase.isConfigured, TestDatabase.skipReason))
struct InboxQueueTests {
    /// A migrated database holding `count` stored events (keys `e0`, `e1`, …), with a queue handle on it.
    func withQueue(events count: Int, _ body: (InboxDatabase, TestDatabase, [Int64]) throws -> Void) throws {
        try withTestDatabase { database in
            let inbox = try database.migratedInbox()
            defer { inbox.close() }
            let store = InboxStore(configuration: .init(database: database.configuration, writers: 1))
            var ids: [Int64] = []
            for index in 0..<count {
                let state = ["delivered", "bounced", "opened"][index % 3]
                if case .stored(let id) = try store.store(sampleEvent("e\(index)", state: state)) { ids.append(id) }
            }
            store.close()
            try body(inbox, database, ids)
        }
    }

    @Test func claimReturnsTheOldestDueEventsWithTheirPayload() throws {
        try withQueue(events: 5) { inbox, _, ids in
            let claimed = try inbox.claim(limit: 3, lease: .seconds(60))

            #expect(claimed.map(\.id) == Array(ids.prefix(3)))
            #expect(claimed.first?.dedupeKey == "e0")
            #expect(claimed.first?.mailServerID == 7)
            #expect(claimed.first?.attempts == 0)
            #expect(claimed.first?.payload == sampleEvent("e0").payload)
            #expect(abs(claimed.first?.receivedAt.timeIntervalSinceNow ?? 99) < 60)
        }
    }

    @Test func claimedEventsAreInvisibleToOtherClaimersUntilTheLeaseEnds() throws {
        try withQueue(events: 10) { first, database, ids in
            let second = InboxDatabase(configuration: database.configuration)
            defer { second.close() }

            let a = try first.claim(limit: 4, lease: .seconds(60))
            let b = try second.claim(limit: 100, lease: .seconds(60))
            let again = try first.claim(limit: 100, lease: .seconds(60))

            #expect(Set(a.map(\.id)).isDisjoint(with: b.map(\.id)))
            #expect((a + b).map(\.id).sorted() == ids)
            #expect(again.isEmpty)
        }
    }

    @Test func rowsLockedByAnotherClaimerAreSkippedNotWaitedFor() throws {
        try withQueue(events: 6) { inbox, database, ids in
            let other = try database.connect()
            defer { other.close() }
            try other.execute("BEGIN")
            try other.execute(
                "SELECT id FROM inbox_events WHERE id = ANY($1) FOR UPDATE", [.int64Array(ids.prefix(2).map { $0 })])

            let claimed = try inbox.claim(limit: 10, lease: .seconds(60))

            try other.execute("ROLLBACK")
            #expect(claimed.map(\.id) == Array(ids.dropFirst(2)))
        }
    }

    @Test func concurrentClaimersNeverShareAnEvent() throws {
        try withQueue(events: 120) { _, database, ids in
            let claimed = LockedBox<[Int64]>([])

            runThreads(4) { _ in
                let queue = InboxDatabase(configuration: database.configuration)
                defer { queue.close() }
                while let batch = try? queue.claim(limit: 7, lease: .seconds(60)), !batch.isEmpty {
                    claimed.mutate { $0 += batch.map(\.id) }
                }
            }

            #expect(claimed.value.sorted() == ids)
        }
    }

    @Test func expiredLeaseMakesTheEventClaimableAgain() throws {
        try withQueue(events: 1) { inbox, _, ids in
            _ = try inbox.claim(limit: 1, lease: .milliseconds(50))
            usleep(100_000)

            let again = try inbox.claim(limit: 1, lease: .seconds(60))

            #expect(again.map(\.id) == ids)
            #expect(again.first?.attempts == 0)
        }
    }

    @Test func extendedLeaseOutlivesTheFirstAndSparesSettledEvents() throws {
        try withQueue(events: 3) { inbox, _, ids in
            let claimed = try inbox.claim(limit: 3, lease: .milliseconds(50))
            try inbox.markForwarded([claimed[0].id: 7])
            try inbox.reschedule([claimed[1].id], notBefore: Date(timeIntervalSinceNow: -1), error: "busy")

            try inbox.extendLease(ids, lease: .seconds(60))
            usleep(100_000)
            let again = try inbox.claim(limit: 10, lease: .seconds(60))

            #expect(again.map(\.id) == [claimed[1].id])
        }
    }

    @Test func rescheduleCountsTheAttemptDelaysItAndRecordsTheError() throws {
        try withQueue(events: 2) { inbox, database, ids in
            _ = try inbox.claim(limit: 2, lease: .seconds(60))

            try inbox.reschedule([ids[0]], notBefore: Date(timeIntervalSinceNow: 3600), error: "odoo unreachable")
            try inbox.reschedule([ids[1]], notBefore: Date(timeIntervalSinceNow: -1), error: "odoo timeout")
            let claimed = try inbox.claim(limit: 10, lease: .seconds(60))

            #expect(claimed.map(\.id) == [ids[1]])
            #expect(claimed.first?.attempts == 1)
            let connection = try database.connect()
            defer { connection.close() }
            let row = try #require(
                try connection.execute("SELECT attempts, last_error FROM inbox_events WHERE id = $1", [.int64(ids[0])])
                    .rows.first
            )
            #expect(try row.int(0) == 1)
            #expect(try row.string(1) == "odoo unreachable")
            #expect(try inbox.status().lastError == "odoo timeout")
        }
    }

    @Test func parkedEventsWaitForReplay() throws {
        try withQueue(events: 3) { inbox, _, ids in
            _ = try inbox.claim(limit: 3, lease: .seconds(60))
            try inbox.park(ids[0], reason: "ValidationError: bad state")
            try inbox.park(ids[1], reason: "ValidationError: bad recipient")
            try inbox.reschedule([ids[2]], notBefore: Date(timeIntervalSinceNow: 3600), error: "later")

            let parkedStatus = try inbox.status()
            let claimable = try inbox.claim(limit: 10, lease: .seconds(60))
            let replayedOne = try inbox.replay(ids: [ids[1]])
            let replayedRest = try inbox.replay()
            let afterReplay = try inbox.claim(limit: 10, lease: .seconds(60))

            #expect(parkedStatus.parked == 2)
            #expect(parkedStatus.pending == 1)
            #expect(claimable.isEmpty)
            #expect(replayedOne == 1)
            #expect(replayedRest == 1)
            #expect(afterReplay.map(\.id) == [ids[0], ids[1]])
            #expect(afterReplay.allSatisfy { $0.attempts == 0 })
            #expect(try inbox.replay() == 0)
        }
    }

    @Test func forwardedEventsLeaveTheQueueWithTheirOdooID() throws {
        try withQueue(events: 3) { inbox, database, ids in
            let claimed = try inbox.claim(limit: 2, lease: .seconds(60))

            try inbox.markForwarded([claimed[0].id: 501, claimed[1].id: 502])
            try inbox.markForwarded([claimed[0].id: 501])
            let rest = try inbox.claim(limit: 10, lease: .seconds(60))

            #expect(rest.map(\.id) == [ids[2]])
            let connection = try database.connect()
            defer { connection.close() }
            let rows = try connection.execute(
                "SELECT odoo_id FROM inbox_events WHERE forward_status = 'forwarded' ORDER BY id"
            ).rows
            #expect(try rows.map { try $0.int(0) } == [501, 502])
        }
    }

    @Test func statusCountsEventsByStateAndForwardStatus() throws {
        try withQueue(events: 7) { inbox, _, ids in
            let claimed = try inbox.claim(limit: 2, lease: .seconds(60))
            try inbox.markForwarded([claimed[0].id: 1])
            try inbox.park(claimed[1].id, reason: "refused")

            let status = try inbox.status()

            #expect(status.eventsByState == ["delivered": 3, "bounced": 2, "opened": 2])
            #expect(status.pending == 5)
            #expect(status.forwarded == 1)
            #expect(status.parked == 1)
            #expect(status.oldestPendingSeconds >= 0)
            #expect(status.lastError == "refused")
            #expect(status.lastErrorAt != nil)
            #expect(status.schemaVersion == InboxMigrations.latestVersion)
            let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(status)) as? [String: Any]
            #expect(json?["events_by_state"] as? [String: Int] == ["delivered": 3, "bounced": 2, "opened": 2])
            for key in ["pending", "forwarded", "parked", "oldest_pending_seconds", "last_error", "last_error_at"] {
                #expect(json?[key] != nil, "missing \(key)")
            }
            _ = ids
        }
    }

    @Test func emptyInboxStatusHasZeroAges() throws {
        try withQueue(events: 0) { inbox, _, _ in
            let status = try inbox.status()

            #expect(
                status
                    == InboxStatus(
                        eventsByState: [:], pending: 0, forwarded: 0, parked: 0, oldestPendingSeconds: 0,
                        lastError: nil,
                        lastErrorAt: nil, schemaVersion: InboxMigrations.latestVersion
                    ))
            try inbox.ping()
        }
    }

    @Test func mailServerSettingsAreReplacedAsAWhole() throws {
        try withQueue(events: 0) { inbox, _, _ in
            try inbox.saveServers([1: #"{"tokens":["a"]}"#, 2: #"{"tokens":["b"]}"#])
            #expect(try inbox.loadServers() == [1: #"{"tokens":["a"]}"#, 2: #"{"tokens":["b"]}"#])

            try inbox.saveServers([2: #"{"tokens":["c"]}"#])

            #expect(try inbox.loadServers() == [2: #"{"tokens":["c"]}"#])
        }
    }

    @Test func bridgeStateKeepsTheLastValuePerKey() throws {
        try withQueue(events: 0) { inbox, _, _ in
            #expect(try inbox.loadState("last_odoo_error") == nil)

            try inbox.saveState("last_odoo_error", value: "first")
            try inbox.saveState("last_odoo_error", value: "second")

            #expect(try inbox.loadState("last_odoo_error")?.value == "second")
            try inbox.removeState("last_odoo_error")
            #expect(try inbox.loadState("last_odoo_error") == nil)
        }
    }

    @Test func pingFailsFastWithoutADatabase() {
        let inbox = InboxDatabase(configuration: .init(connectionString: "postgresql://nobody@127.0.0.1:1/none"))
        defer { inbox.close() }

        let error = #expect(throws: InboxError.self) { try inbox.ping() }

        #expect(error?.code == .connectionFailed)
    }
}
