import Foundation
import Testing

@testable import PostmarkBridge

/// The Odoo client against ``FakeOdoo`` over real HTTP on 127.0.0.1.
@Suite struct OdooClientTests {
    private func client(_ odoo: FakeOdoo, _ configuration: OdooConfiguration? = nil) -> OdooClient {
        OdooClient(configuration: configuration ?? odoo.configuration(), http: URLSessionHTTPClient())
    }

    /// The Odoo error `body` throws; records an issue when it throws nothing or something else.
    private func error(
        _ body: () async throws -> Void,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> OdooError {
        do {
            try await body()
        } catch let error as OdooError {
            return error
        }
        Issue.record("expected an OdooError", sourceLocation: sourceLocation)
        throw CancellationError()
    }

    @Test func odoo18UsesJSONRPCAndLogsIn() async throws {
        let odoo = try FakeOdoo(version: .odoo18)
        let client = client(odoo)

        let session = try await client.login()

        #expect(session.transport == .jsonRPC)
        #expect(session.version == OdooServerVersion(text: "18.0", major: 18))
        #expect(session.uid == odoo.uid)
        #expect(odoo.calls == ["common.version", "common.authenticate"])
    }

    @Test func odoo19UsesJSON2() async throws {
        let odoo = try FakeOdoo(version: .odoo19)
        let client = client(odoo)

        let session = try await client.login()
        let servers = try await client.readPostmarkMailServers(fields: ["name"], includeArchived: false)

        #expect(session.transport == .json2)
        #expect(session.version.major == 19)
        #expect(session.uid == odoo.uid)
        #expect(servers == [["id": 1, "name": "Postmark"]])
        #expect(!odoo.calls.contains("common.version"))
    }

    @Test func odoo19StillSpeaksJSONRPCWhenAsked() async throws {
        let odoo = try FakeOdoo(version: .odoo19)
        let client = client(odoo, odoo.configuration(transport: .jsonRPC))

        let session = try await client.login()
        let failure = try await error { _ = try await client.call("postmark.notification", "no_such_method") }

        #expect(session.transport == .jsonRPC)
        #expect(failure.code == .addonMissing)
    }

    @Test func missingResultIsNullAndFalseStaysFalse() async throws {
        let odoo = try FakeOdoo()
        odoo.addMethod("ir.mail_server", "postmark_touch") { _ in nil }
        let client = client(odoo)

        let none = try await client.call("ir.mail_server", "postmark_touch", arguments: ["x": 1])
        let servers = try await client.readPostmarkMailServers(fields: ["postmark_server_id"], includeArchived: false)

        #expect(none == .null)
        #expect(servers.first?["postmark_server_id"] == false)
    }

    @Test(arguments: [FakeOdoo.Version.odoo18, .odoo19])
    func wrongAPIKeyIsAConfigurationError(version: FakeOdoo.Version) async throws {
        let odoo = try FakeOdoo(version: version)
        let client = client(odoo, odoo.configuration(apiKey: "wrong-key-9876543210"))

        let failure = try await error { try await client.login() }

        #expect(failure.kind == .configuration)
        #expect(failure.code == (version == .odoo18 ? .loginFailed : .accessDenied))
        #expect(!failure.description.contains("wrong-key-9876543210"))
        #expect(client.status.errorsByKind[.configuration] == 1)
    }

    @Test func unknownDatabaseIsAConfigurationError() async throws {
        let odoo = try FakeOdoo()
        var configuration = odoo.configuration()
        configuration.database = "odo"
        let client = client(odoo, configuration)

        let failure = try await error { try await client.login() }

        #expect(failure.code == .unknownDatabase)
        #expect(failure.description.contains("fix: check ODOO_DB"))
    }

    @Test(arguments: [FakeOdoo.Version.odoo18, .odoo19])
    func uninstalledAddonIsAConfigurationError(version: FakeOdoo.Version) async throws {
        let odoo = try FakeOdoo(version: version)
        odoo.setAddonInstalled(false)
        let client = client(odoo)

        let ingest = try await error { _ = try await client.ingestNotifications([["dedupe_key": "a"]]) }
        let hello = try await error { _ = try await client.sayHello(publicURL: "https://bridge.example") }

        #expect(ingest.code == .addonMissing)
        #expect(hello.code == .addonMissing)
        #expect(ingest.description.contains("install the wk_postmark_notification addon"))
    }

    @Test(arguments: [FakeOdoo.Version.odoo18, .odoo19])
    func userOutsideTheBridgeGroupIsAConfigurationError(version: FakeOdoo.Version) async throws {
        let odoo = try FakeOdoo(version: version)
        odoo.setUserInBridgeGroup(false)
        let client = client(odoo)

        let failure = try await error { _ = try await client.ingestNotifications([["dedupe_key": "a"]]) }

        #expect(failure.code == .accessError)
        #expect(failure.description.contains(BridgeContract.bridgeGroup))
    }

    @Test(arguments: [FakeOdoo.Version.odoo18, .odoo19])
    func ingestCreatesOnceAndAnswersExistingKeys(version: FakeOdoo.Version) async throws {
        let odoo = try FakeOdoo(version: version)
        let client = client(odoo)
        let first: [[String: JSONValue]] = [
            ["dedupe_key": "k1", "state": "delivered", "mail_server_id": 1],
            ["dedupe_key": "k2", "state": "bounced", "mail_server_id": 1],
        ]

        let ids = try await client.ingestNotifications(first)
        let again = try await client.ingestNotifications([first[1], ["dedupe_key": "k3", "state": "opened"]])

        #expect(Set(ids.keys) == ["k1", "k2"])
        #expect(again["k2"] == ids["k2"])
        #expect(odoo.records.count == 3)
    }

    @Test(arguments: [FakeOdoo.Version.odoo18, .odoo19])
    func duplicateOnPlainCreateIsAValidationError(version: FakeOdoo.Version) async throws {
        let odoo = try FakeOdoo(version: version)
        let client = client(odoo)
        let vals: JSONValue = [["dedupe_key": "k1", "state": "delivered"]]

        _ = try await client.call("postmark.notification", "create", arguments: ["vals_list": vals])
        let failure = try await error {
            _ = try await client.call("postmark.notification", "create", arguments: ["vals_list": vals])
        }

        #expect(failure.code == .validation)
        #expect(failure.kind == .permanent)
    }

    @Test(arguments: [FakeOdoo.Version.odoo18, .odoo19])
    func refusedRecordIsPermanent(version: FakeOdoo.Version) async throws {
        let odoo = try FakeOdoo(version: version)
        odoo.reject(dedupeKey: "bad", message: "Bounce code must be a number")
        let client = client(odoo)

        let failure = try await error {
            _ = try await client.ingestNotifications([["dedupe_key": "ok"], ["dedupe_key": "bad"]])
        }

        #expect(failure.code == .validation)
        #expect(failure.message == "Bounce code must be a number")
        #expect(odoo.records.isEmpty)
        #expect(client.status.isHealthy, "a refused record does not make Odoo unready")
    }

    @Test func unknownFieldMeansAnOutdatedAddon() async throws {
        let odoo = try FakeOdoo()
        let client = client(odoo)

        let failure = try await error {
            _ = try await client.ingestNotifications([["dedupe_key": "k", "brand_new_field": 1]])
        }

        #expect(failure.code == .addonOutdated)
    }

    @Test func downOdooIsTransient() async throws {
        let odoo = try FakeOdoo()
        let client = client(odoo)
        odoo.stop()

        let failure = try await error { try await client.login() }

        #expect(failure.code == .connectionFailed)
        #expect(failure.kind == .transient)
        #expect(!client.status.isHealthy)
    }

    @Test func proxyErrorIsTransient() async throws {
        let odoo = try FakeOdoo()
        let client = client(odoo)
        try await client.login()
        odoo.inject(.httpStatus(502))

        let failure = try await error { _ = try await client.ingestNotifications([["dedupe_key": "k"]]) }
        let ids = try await client.ingestNotifications([["dedupe_key": "k"]])

        #expect(failure.code == .unavailable)
        #expect(failure.httpStatus == 502)
        #expect(ids.keys.sorted() == ["k"])
        #expect(client.status.isHealthy)
    }

    @Test func slowOdooTimesOut() async throws {
        let odoo = try FakeOdoo()
        let client = client(odoo, odoo.configuration(timeout: .seconds(1)))
        try await client.login()
        odoo.inject(.delay(.seconds(3)), into: "bridge_ingest")

        let failure = try await error { _ = try await client.ingestNotifications([["dedupe_key": "k"]]) }

        #expect(failure.code == .timeout)
        #expect(failure.kind == .transient)
    }

    @Test func concurrencyErrorIsTransient() async throws {
        let odoo = try FakeOdoo()
        let client = client(odoo)
        try await client.login()
        odoo.inject(
            .exception(name: "psycopg2.errors.SerializationFailure", message: "could not serialize access"),
            into: "bridge_ingest"
        )

        let failure = try await error { _ = try await client.ingestNotifications([["dedupe_key": "k"]]) }

        #expect(failure.code == .concurrency)
    }

    @Test func loginIsRedoneAfterAConfigurationError() async throws {
        let odoo = try FakeOdoo()
        let client = client(odoo)
        try await client.login()
        odoo.setAddonInstalled(false)
        _ = try? await error { _ = try await client.ingestNotifications([["dedupe_key": "k"]]) }
        odoo.setAddonInstalled(true)

        _ = try await client.ingestNotifications([["dedupe_key": "k"]])

        #expect(odoo.calls.filter { $0 == "common.authenticate" }.count == 2)
        #expect(client.status.isHealthy)
    }
}
