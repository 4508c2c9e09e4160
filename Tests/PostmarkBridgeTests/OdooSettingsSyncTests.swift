import Foundation
import Synchronization
import Testing

@testable import PostmarkBridge

/// Mail server settings from Odoo, the reports written back, and the records' parsing.
@Suite struct OdooSettingsSyncTests {
    /// Collects what the sync hands to its sink.
    final class Received: Sendable {
        private let lists = Mutex<[[MailServerSettings]]>([])
        func add(_ settings: [MailServerSettings]) { lists.withLock { $0.append(settings) } }
        var all: [[MailServerSettings]] { lists.withLock { $0 } }
    }

    private func sync(
        _ odoo: FakeOdoo,
        received: Received = Received(),
        configuration: OdooSettingsSync.Configuration = .init()
    ) -> OdooSettingsSync {
        let client = OdooClient(configuration: odoo.configuration(), http: URLSessionHTTPClient())
        return OdooSettingsSync(client: client, configuration: configuration) { received.add($0) }
    }

    private static func eventually(_ what: Comment, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("gave up waiting: \(what)")
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test func readsEnabledServersWithTheirTokensAndTriggers() async throws {
        let odoo = try FakeOdoo()
        odoo.addMailServer(
            id: 3, name: "Rotating", token: "new-token",
            fields: [
                "postmark_webhook_token_previous": "old-token",
                "postmark_webhook_token_previous_until": "2030-01-02 03:04:05", "postmark_server_id": "123456",
                "postmark_account_token": "account-secret", "postmark_smtp_api_errors": true,
                "postmark_trigger_open": false, "postmark_message_stream": "broadcast", "postmark_sync_requested": true,
            ]
        )
        odoo.addMailServer(id: 4, name: "Off", token: "t4", fields: ["postmark_enabled": false])
        let received = Received()
        let sync = sync(odoo, received: received)

        let settings = try await sync.refresh()

        #expect(settings.map(\.id) == [1, 3])
        #expect(received.all == [settings])
        let rotating = try #require(settings.last)
        #expect(rotating.name == "Rotating")
        #expect(rotating.tokens.map(\.value) == ["new-token", "old-token"])
        #expect(rotating.tokens[0].validUntil == nil)
        #expect(rotating.tokens[1].validUntil == OdooDateTime.date(from: "2030-01-02 03:04:05"))
        #expect(rotating.postmarkServerID == "123456")
        #expect(rotating.accountToken == "account-secret")
        #expect(rotating.smtpAPIErrors)
        #expect(rotating.messageStream == "broadcast")
        #expect(rotating.syncRequested)
        #expect(rotating.triggers.open == false)
        #expect(rotating.triggers.delivery)
        #expect(rotating.revision == "2026-01-02 03:04:05")
        let plain = try #require(settings.first)
        #expect(plain.postmarkServerID == nil)
        #expect(plain.accountToken == nil)
        #expect(plain.tokens == [WebhookToken(value: "verify-token-1")])
    }

    @Test func archivedServersAreLeftOutUnlessAsked() async throws {
        let odoo = try FakeOdoo()
        odoo.addMailServer(id: 2, name: "Archived", token: "t2", fields: ["active": false])

        let active = try await sync(odoo).refresh()
        let all = try await sync(odoo, configuration: .init(includeArchivedServers: true)).refresh()

        #expect(active.map(\.id) == [1])
        #expect(all.map(\.id) == [1, 2])
    }

    @Test func recordsWithOdoosFalseValuesParseLeniently() {
        let record: JSONValue = [
            "id": 9, "name": false, "postmark_webhook_token": false, "postmark_webhook_token_previous": "old",
            "postmark_webhook_token_previous_until": false, "postmark_server_id": 778_899,
            "postmark_message_stream": false, "write_date": false,
        ]

        let settings = MailServerRecords.settings(from: record)

        #expect(settings?.id == 9)
        #expect(settings?.name == "")
        #expect(settings?.tokens.isEmpty == true, "a previous token without an end date is not accepted")
        #expect(settings?.postmarkServerID == "778899")
        #expect(settings?.messageStream == "outbound")
        #expect(settings?.revision == nil)
        #expect(MailServerRecords.settings(from: ["name": "no id"]) == nil)
    }

    @Test func reportsAreAggregatedAndFlushedInOneCall() async throws {
        let odoo = try FakeOdoo()
        odoo.addMailServer(id: 1, name: "Postmark", token: "t", fields: ["postmark_auth_failure_count": 5])
        let sync = sync(odoo)
        try await sync.refresh()
        let early = try #require(OdooDateTime.date(from: "2026-05-01 10:00:00"))
        let late = try #require(OdooDateTime.date(from: "2026-05-01 10:00:07"))

        sync.noteEvent(mailServerID: 1, at: late)
        sync.noteEvent(mailServerID: 1, at: early)
        sync.noteAuthenticationFailure(mailServerID: 1, at: early)
        sync.noteAuthenticationFailure(mailServerID: 1, at: late)
        await sync.flushReports()
        await sync.flushReports()
        sync.noteAuthenticationFailure(mailServerID: 1, at: late)
        await sync.flushReports()

        #expect(odoo.calls.filter { $0 == "ir.mail_server.postmark_bridge_report" }.count == 2)
        #expect(
            odoo.reports.first == [
                "id": 1, "postmark_last_event_date": "2026-05-01 10:00:07", "postmark_auth_failure_count": 7,
                "postmark_last_auth_failure_date": "2026-05-01 10:00:07",
            ]
        )
        #expect(odoo.mailServer(1)?["postmark_auth_failure_count"] == 8)
    }

    @Test func reportsWaitWhileOdooIsDownAndUnknownServersAreDropped() async throws {
        let odoo = try FakeOdoo()
        let sync = sync(odoo)
        try await sync.refresh()
        sync.noteEvent(mailServerID: 1, at: Date(timeIntervalSince1970: 1_800_000_000))
        sync.noteEvent(mailServerID: 99, at: Date(timeIntervalSince1970: 1_800_000_000))

        odoo.stop()
        await sync.flushReports()
        try odoo.start()
        await sync.flushReports()

        #expect(odoo.reports.count == 1)
        #expect(odoo.reports.first?["id"] == 1)
        #expect(odoo.mailServer(1)?["postmark_last_event_date"] == "2027-01-15 08:00:00")
    }

    @Test func runSaysHelloRefreshesAndFlushes() async throws {
        let odoo = try FakeOdoo()
        odoo.setAddonInstalled(false)
        let received = Received()
        let sync = sync(
            odoo, received: received,
            configuration: .init(
                refreshInterval: .seconds(3600), reportInterval: .milliseconds(50),
                retry: RetryPolicy(initialDelay: .milliseconds(20), maximumDelay: .milliseconds(50)),
                publicURL: "https://bridge.example.com/"
            )
        )

        let running = Task { await sync.run() }
        try await Self.eventually("hello refused while the addon is missing") {
            odoo.calls.contains("ir.mail_server.postmark_bridge_hello")
        }
        odoo.setAddonInstalled(true)
        try await Self.eventually("hello and settings") { !odoo.helloURLs.isEmpty && !received.all.isEmpty }
        sync.noteEvent(mailServerID: 1, at: Date(timeIntervalSince1970: 1_800_000_000))
        try await Self.eventually("report flushed") { !odoo.reports.isEmpty }
        sync.stop()
        await running.value

        #expect(odoo.helloURLs == ["https://bridge.example.com/"])
        #expect(sync.lastRefresh != nil)
    }

    @Test func requestedRefreshesAreRateLimited() async throws {
        let odoo = try FakeOdoo()
        let sync = sync(
            odoo,
            configuration: .init(
                refreshInterval: .seconds(3600), minimumRefreshInterval: .seconds(3600),
                reportInterval: .milliseconds(20)
            )
        )
        let running = Task { await sync.run() }
        try await Self.eventually("first read") { sync.lastRefresh != nil }

        for _ in 0..<50 {
            sync.requestRefresh()
            try await Task.sleep(for: .milliseconds(5))
        }
        sync.stop()
        await running.value

        #expect(odoo.calls.filter { $0 == "ir.mail_server.search_read" }.count == 1)
    }

    @Test func requestedRefreshHappensPromptlyOnceAllowed() async throws {
        let odoo = try FakeOdoo()
        let received = Received()
        let sync = sync(
            odoo, received: received,
            configuration: .init(
                refreshInterval: .seconds(3600), minimumRefreshInterval: .zero, reportInterval: .seconds(3600))
        )
        let running = Task { await sync.run() }
        try await Self.eventually("first read") { received.all.count == 1 }

        odoo.addMailServer(id: 5, name: "New", token: "t5")
        sync.requestRefresh()
        try await Self.eventually("second read sees the new server") { received.all.last?.map(\.id) == [1, 5] }
        sync.stop()
        await running.value
    }
}
