import Foundation
import Testing

@testable import PostmarkBridge

/// The receiving path end to end: a real ``HTTPServer`` on port 0, the ``BridgeRouter``, a real ``InboxStore`` on
/// PostgreSQL; requests go over a socket exactly as Postmark sends them.
@Suite(.enabled(if: TestDatabase.isConfigured, TestDatabase.skipReason))
struct BridgeRouterTests {
    static let token = "verify-token-0123456789abcdefghijkl"
    static let previousToken = "previous-token-0123456789abcdefghij"

    /// A running bridge front end on a fresh inbox.
    final class Harness: Sendable {
        let database: TestDatabase
        let inbox: InboxDatabase
        let store: InboxStore
        let server: HTTPServer
        let metrics = Metrics()
        let port: Int

        init(stored: @escaping @Sendable (InboxEvent) -> Void = { _ in }) throws {
            database = try TestDatabase()
            inbox = try database.migratedInbox()
            store = InboxStore(configuration: InboxStore.Configuration(database: database.configuration))
            let directory = ServerDirectory(fileServers: [
                MailServerSettings(
                    id: 7,
                    tokens: [
                        WebhookToken(value: BridgeRouterTests.token),
                        WebhookToken(value: BridgeRouterTests.previousToken, validUntil: Date().addingTimeInterval(60)),
                        WebhookToken(
                            value: "expired-token-0123456789abcdefghijk", validUntil: Date(timeIntervalSince1970: 0)),
                    ])
            ])
            let inbox = self.inbox
            let store = self.store
            let router = BridgeRouter(
                directory: directory, sink: store, metrics: metrics,
                readiness: { [BridgeService.inboxReadiness(database: inbox, store: store)] },
                onStored: stored)
            server = HTTPServer(
                configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0, maxBodyBytes: 64 * 1024),
                responder: router, observer: MetricsHTTPObserver(metrics: metrics))
            port = try server.start()
        }

        func post(
            _ body: [UInt8], path: String = "/postmark/webhook/7", headers: [(String, String)]? = nil
        ) throws -> TestHTTPResponse {
            let client = try TestSocketClient(port: port)
            defer { client.close() }
            let headers =
                headers ?? [
                    ("Content-Type", "application/json"),
                    ("Authorization", BridgeRouterTests.basic(BridgeRouterTests.token)),
                ]
            return try client.request(method: "POST", target: path, headers: headers, body: body)
        }

        func rowCount() throws -> Int {
            let connection = try database.connect()
            defer { connection.close() }
            return try connection.execute("SELECT count(*) FROM inbox_events").rows[0].int(0) ?? -1
        }

        func shutDown() {
            server.shutdown(gracePeriod: .seconds(2))
            store.close()
            inbox.close()
            database.drop()
        }
    }

    static func basic(_ password: String) -> String {
        "Basic " + Data("postmark:\(password)".utf8).base64EncodedString()
    }

    static func fixture(_ name: String) throws -> [UInt8] {
        let url = Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "json")!
        return Array(try Data(contentsOf: url))
    }

    @Test func storesEveryRecordTypeOnceAndAnswersDuplicates() throws {
        let harness = try Harness()
        defer { harness.shutDown() }
        let fixtures = [
            "delivery", "bounce-hard", "spam-complaint", "open", "click", "subscription-change-manual",
            "bounce-smtp-api-error", "empty-object", "inbound-message",
        ]

        for name in fixtures {
            let response = try harness.post(try Self.fixture(name))
            #expect(response.status == 200, "\(name)")
            #expect(String(decoding: response.body, as: UTF8.self) == #"{"status":"stored"}"#, "\(name)")
        }
        for name in fixtures {
            let response = try harness.post(try Self.fixture(name))
            #expect(String(decoding: response.body, as: UTF8.self) == #"{"status":"duplicate"}"#, "\(name)")
        }

        #expect(try harness.rowCount() == fixtures.count)
        let status = try harness.inbox.status()
        #expect(status.pending == fixtures.count)
        #expect(status.eventsByState["bounced"] == 1)
        #expect(status.eventsByState["smtp_api_error"] == 1)
        #expect(status.eventsByState["unknown"] == 2)
        #expect(harness.metrics.duplicates.value() == Double(fixtures.count))
    }

    @Test func theTraceIDRecognisesARetryWhateverTheBody() throws {
        let harness = try Harness()
        defer { harness.shutDown() }
        var headers = [("Content-Type", "application/json"), ("X-Webhook-Token", Self.token)]
        headers.append(("X-PM-Webhook-Trace-Id", "6f1c0a52-9c1e-4a5e-a7b2-0d9f3f9b2c11"))

        let first = try harness.post(try Self.fixture("open"), headers: headers)
        let retry = try harness.post(try Self.fixture("open") + Array(" ".utf8), headers: headers)

        #expect(String(decoding: first.body, as: UTF8.self) == #"{"status":"stored"}"#)
        #expect(String(decoding: retry.body, as: UTF8.self) == #"{"status":"duplicate"}"#)
        #expect(try harness.rowCount() == 1)
    }

    @Test(
        "refuses with the status DESIGN gives and stores nothing",
        arguments: [
            ("/postmark/webhook/8", [("Authorization", basic(token))], #"{}"#, 404),
            ("/postmark/webhook/abc", [("Authorization", basic(token))], #"{}"#, 404),
            ("/postmark/webhook/7", [], #"{}"#, 401),
            ("/postmark/webhook/7", [("Authorization", basic("wrong-token"))], #"{}"#, 401),
            ("/postmark/webhook/7", [("Authorization", basic("expired-token-0123456789abcdefghijk"))], #"{}"#, 401),
            ("/postmark/webhook/7", [("Authorization", basic(token)), ("Content-Type", "text/plain")], #"{}"#, 415),
            ("/postmark/webhook/7", [("Authorization", basic(token))], #"[1, 2]"#, 400),
            ("/postmark/webhook/7", [("Authorization", basic(token))], #"{"RecordType": "Delivery""#, 400),
            ("/elsewhere", [("Authorization", basic(token))], #"{}"#, 404),
        ]
    )
    func refuses(path: String, headers: [(String, String)], body: String, status: Int) throws {
        let harness = try Harness()
        defer { harness.shutDown() }

        let response = try harness.post(Array(body.utf8), path: path, headers: headers)

        #expect(response.status == status)
        let text = String(decoding: response.body, as: UTF8.self)
        for secret in [Self.token, "wrong-token", "expired-token", "RecordType"] {
            #expect(!text.contains(secret))
        }
        #expect(try harness.rowCount() == 0)
    }

    @Test func acceptsEveryCredentialFormIncludingTheRotatedToken() throws {
        let harness = try Harness()
        defer { harness.shutDown() }
        let body = try Self.fixture("delivery")

        let basic = try harness.post(body, headers: [("Authorization", Self.basic(Self.previousToken))])
        let header = try harness.post(body, headers: [("X-Webhook-Token", Self.token)])
        let query = try harness.post(body, path: "/postmark/webhook/7?token=\(Self.token)", headers: [])

        #expect([basic.status, header.status, query.status] == [Int]([200, 200, 200]))
    }

    @Test func rejectsBadCredentialsBeforeTheBodyIsSent() throws {
        let harness = try Harness()
        defer { harness.shutDown() }
        let client = try TestSocketClient(port: harness.port)
        defer { client.close() }

        try client.send(
            "POST /postmark/webhook/7 HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n"
                + "X-Webhook-Token: nope\r\n\r\n")
        let response = try client.readResponse()

        #expect(response.status == 401)
    }

    @Test func wrongMethodsAndOperationsEndpoints() throws {
        let harness = try Harness()
        defer { harness.shutDown() }
        let client = try TestSocketClient(port: harness.port)
        defer { client.close() }

        let get = try client.request(method: "GET", target: "/postmark/webhook/7")
        let health = try client.request(target: "/healthz")
        let ready = try client.request(target: "/readyz")
        let metrics = try client.request(target: "/metrics")
        let postHealth = try client.request(method: "POST", target: "/healthz")

        #expect(get.status == 405)
        #expect(get.header("Allow") == "POST")
        #expect(health.status == 200)
        #expect(ready.status == 200)
        #expect(String(decoding: ready.body, as: UTF8.self).contains(#""status":"ready""#))
        #expect(String(decoding: metrics.body, as: UTF8.self).contains("bridge_http_requests_total{status=\"405\"} 1"))
        #expect(postHealth.status == 405)
    }

    @Test func aStoredEventIsAnnouncedOnce() throws {
        let announced = Locked<[String]>([])
        let harness = try Harness(stored: { event in announced.withLock { $0.append(event.state) } })
        defer { harness.shutDown() }

        _ = try harness.post(try Self.fixture("bounce-hard"))
        _ = try harness.post(try Self.fixture("bounce-hard"))

        #expect(announced.withLock { $0 } == ["bounced"])
    }

    @Test func concurrentRedeliveriesMakeOneRowEach() throws {
        let harness = try Harness()
        defer { harness.shutDown() }
        let bodies = try ["delivery", "open", "click", "bounce-hard"].map(Self.fixture)
        let statuses = Locked<[Int]>([])

        runThreads(16) { index in
            let response = try? harness.post(bodies[index % bodies.count])
            statuses.withLock { $0.append(response?.status ?? -1) }
        }

        #expect(statuses.withLock { $0 }.allSatisfy { $0 == 200 })
        #expect(try harness.rowCount() == bodies.count)
    }
}
