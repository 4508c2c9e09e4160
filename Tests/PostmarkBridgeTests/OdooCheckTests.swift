import Foundation
import Testing

@testable import PostmarkBridge

/// The Odoo half of `postmark-bridge check`, and the contract both sides test.
@Suite struct OdooCheckTests {
    private func client(_ odoo: FakeOdoo, apiKey: String? = nil) -> OdooClient {
        OdooClient(configuration: odoo.configuration(apiKey: apiKey), http: URLSessionHTTPClient())
    }

    @Test(arguments: [FakeOdoo.Version.odoo18, .odoo19])
    func workingSetupPassesEveryStep(version: FakeOdoo.Version) async throws {
        let odoo = try FakeOdoo(version: version)
        odoo.addMailServer(id: 4, name: "Marketing", token: "t4", fields: ["postmark_server_id": "556677"])

        let report = await OdooCheck.run(client: client(odoo), publicURL: "https://bridge.example.com/")

        #expect(report.isSuccessful)
        #expect(report.steps.map(\.outcome) == [.ok, .ok, .ok, .ok])
        #expect(report.steps.map(\.title) == OdooCheck.titles)
        #expect(report.version?.major == (version == .odoo18 ? 18 : 19))
        #expect(report.session?.uid == odoo.uid)
        #expect(
            report.servers == [
                .init(
                    id: 1, name: "Postmark", callbackURL: "https://bridge.example.com/postmark/webhook/1",
                    hasToken: true,
                    postmarkServerID: nil
                ),
                .init(
                    id: 4, name: "Marketing", callbackURL: "https://bridge.example.com/postmark/webhook/4",
                    hasToken: true, postmarkServerID: "556677"
                ),
            ]
        )
        #expect(report.steps[3].detail.hasPrefix("2 Postmark mail server(s)"))
    }

    @Test func moduleStateIsShownWhenReadable() async throws {
        let odoo = try FakeOdoo()
        odoo.setModuleListReadable(true)

        let report = await OdooCheck.run(client: client(odoo), publicURL: nil)

        #expect(report.addonState == "installed")
        #expect(report.steps[2].detail.contains("installed"))
        #expect(report.steps[3].outcome == .warning)
        #expect(report.steps[3].detail.contains("BRIDGE_PUBLIC_URL is not set"))
        #expect(report.servers.first?.callbackURL == nil)
    }

    @Test func unreachableOdooSkipsTheRest() async throws {
        let odoo = try FakeOdoo()
        odoo.stop()

        let report = await OdooCheck.run(client: client(odoo), publicURL: nil)

        #expect(!report.isSuccessful)
        #expect(report.steps.map(\.outcome) == [.failed, .skipped, .skipped, .skipped])
        #expect(report.steps[0].detail.contains("connection failed"))
    }

    @Test func wrongKeyFailsTheLoginWithTheFix() async throws {
        let odoo = try FakeOdoo()

        let report = await OdooCheck.run(client: client(odoo, apiKey: "not-the-key-0000"), publicURL: nil)

        #expect(report.steps.map(\.outcome) == [.ok, .failed, .skipped, .skipped])
        #expect(report.steps[1].detail.contains("fix: check ODOO_DB, ODOO_USER and ODOO_API_KEY"))
        #expect(!report.steps.contains { $0.detail.contains("not-the-key-0000") })
    }

    @Test func missingAddonFailsWithTheFix() async throws {
        let odoo = try FakeOdoo()
        odoo.setAddonInstalled(false)

        let report = await OdooCheck.run(client: client(odoo), publicURL: nil)

        #expect(report.steps.map(\.outcome) == [.ok, .ok, .failed, .skipped])
        #expect(report.steps[2].detail.contains("install the wk_postmark_notification addon"))
    }

    @Test func serverWithoutTokenIsAWarning() async throws {
        let odoo = try FakeOdoo()
        odoo.addMailServer(id: 1, name: "Postmark", token: nil)

        let report = await OdooCheck.run(client: client(odoo), publicURL: "https://b.example")

        #expect(report.isSuccessful)
        #expect(report.steps[3].outcome == .warning)
        #expect(report.steps[3].detail.contains("no webhook verify token on server 1"))
    }

    @Test func callbackURLJoinsWithoutDoubleSlashes() {
        #expect(
            OdooCheck.callbackURL(publicURL: "https://b.example//", id: 12) == "https://b.example/postmark/webhook/12")
        #expect(
            OdooCheck.callbackURL(publicURL: "https://b.example/pm", id: 3) == "https://b.example/pm/postmark/webhook/3"
        )
    }

    @Test func bridgeNamesMatchTheAddonContract() throws {
        let contract = try FakeOdoo.contract()
        let notification = try #require(contract["notification"])
        let mailServer = try #require(contract["mail_server"])

        #expect(contract["bridge_group"]?.stringValue == BridgeContract.bridgeGroup)
        #expect(notification["model"]?.stringValue == BridgeContract.notificationModel)
        #expect(notification["ingest_method"]?.stringValue == BridgeContract.ingestMethod)
        #expect(
            Set(notification["fields_sent_by_bridge"]?.objectValue?.keys.map { $0 } ?? [])
                == BridgeContract.notificationFields)
        #expect(mailServer["model"]?.stringValue == BridgeContract.mailServerModel)
        #expect(mailServer["report_method"]?.stringValue == BridgeContract.reportMethod)
        #expect(mailServer["hello_method"]?.stringValue == BridgeContract.helloMethod)
        #expect(
            Set(mailServer["fields_read_by_bridge"]?.objectValue?.keys.map { $0 } ?? [])
                == Set(BridgeContract.mailServerFieldsRead))
        #expect(
            Set(mailServer["fields_written_by_bridge"]?.objectValue?.keys.map { $0 } ?? [])
                == BridgeContract.mailServerFieldsWritten
        )
        let extraRead = Set(MailServerRecords.fields).subtracting(BridgeContract.mailServerFieldsRead)
        #expect(
            extraRead.isSubset(of: BridgeContract.mailServerFieldsWritten), "the bridge only reads back what it writes")
    }
}
