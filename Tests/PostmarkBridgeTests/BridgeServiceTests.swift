import Foundation
import Testing

@testable import PostmarkBridge

/// The whole `serve` wiring: configuration → ``BridgeService`` with its settings sync, router, inbox and
/// dispatcher, against PostgreSQL and an in-process Odoo that speaks the JSON-RPC wire format.
@Suite(.enabled(if: TestDatabase.isConfigured, TestDatabase.skipReason))
struct BridgeServiceTests {
    static let token = "odoo-side-verify-token-0123456789abcd"

    struct Running {
        let odoo: FakeOdoo
        let database: TestDatabase
        let inbox: InboxDatabase
        let service: BridgeService
        let port: Int

        func post(_ fixture: String, token: String = BridgeServiceTests.token) throws -> TestHTTPResponse {
            let client = try TestSocketClient(port: port)
            defer { client.close() }
            return try client.request(
                method: "POST", target: "/postmark/webhook/3",
                headers: [("Content-Type", "application/json"), ("X-Webhook-Token", token)],
                body: try BridgeRouterTests.fixture(fixture))
        }
    }

    static func start() async throws -> Running {
        let odoo = try FakeOdoo()
        odoo.addMailServer(id: 3, name: "Postmark", token: token)
        let database = try TestDatabase()
        let inbox = try database.migratedInbox()
        let odooConfiguration = odoo.configuration()
        let configuration = try BridgeConfiguration.load(environment: [
            "BRIDGE_DATABASE_URL": "unused: the test passes its own database",
            "ODOO_URL": odooConfiguration.url.absoluteString, "ODOO_DB": odooConfiguration.database,
            "ODOO_USER": odooConfiguration.login, "ODOO_API_KEY": odooConfiguration.apiKey,
            "BRIDGE_LISTEN": "127.0.0.1:0", "BRIDGE_PUBLIC_URL": "https://bridge.example.com",
            "BRIDGE_SETTINGS_REFRESH": "1",
        ])
        let service = try BridgeService(
            configuration: configuration, database: inbox, postgres: database.configuration,
            logger: Logger(label: "test"))
        try service.start()
        let port = try #require(service.server.port)

        // The mail server is known once the first settings sync has run.
        try await waitFor { service.directory.settings(for: 3) != nil }
        return Running(odoo: odoo, database: database, inbox: inbox, service: service, port: port)
    }

    static func waitFor(_ condition: @escaping () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("condition not met in time")
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test func acceptedEventsReachOdooOnceAndTheServerIsReportedSeen() async throws {
        let running = try await Self.start()
        let fixtures = ["delivery", "bounce-hard", "open", "click", "spam-complaint"]

        for name in fixtures {
            #expect(try running.post(name).status == 200)
        }
        #expect(try running.post("delivery").status == 200)
        try await Self.waitFor { running.odoo.records.count == fixtures.count }
        try await Self.waitFor { running.odoo.reports.contains { $0["postmark_last_event_date"] != nil } }
        await running.service.stop()

        #expect(running.odoo.records.count == fixtures.count)
        #expect(running.odoo.timesSent.values.allSatisfy { $0 == 1 })
        let states = Set(running.odoo.records.values.compactMap { $0.values["state"]?.stringValue })
        #expect(states == ["delivered", "bounced", "opened", "clicked", "spam_complaint"])
        #expect(try running.inbox.status().forwarded == fixtures.count)
        #expect(running.odoo.helloURLs == ["https://bridge.example.com"])
        running.inbox.close()
        running.database.drop()
        running.odoo.stop()
    }

    @Test func aWrongTokenIsRefusedAndCountedOnTheMailServer() async throws {
        let running = try await Self.start()

        let response = try running.post("delivery", token: "not-the-token")
        try await Self.waitFor {
            running.odoo.reports.contains { ($0["postmark_auth_failure_count"]?.intValue ?? 0) >= 1 }
        }
        await running.service.stop()

        #expect(response.status == 401)
        #expect(running.odoo.records.isEmpty)
        running.inbox.close()
        running.database.drop()
        running.odoo.stop()
    }

    @Test func eventsWaitWhileOdooIsDownAndArriveWhenItIsBack() async throws {
        let running = try await Self.start()
        running.odoo.stop()

        for name in ["delivery", "bounce-hard", "click"] {
            #expect(try running.post(name).status == 200)
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(running.odoo.records.isEmpty)
        try running.odoo.start()
        running.service.odoo?.dispatcher.notify()
        try await Self.waitFor { running.odoo.records.count == 3 }
        await running.service.stop()

        #expect(running.odoo.timesSent.values.allSatisfy { $0 == 1 })
        running.inbox.close()
        running.database.drop()
        running.odoo.stop()
    }
}
