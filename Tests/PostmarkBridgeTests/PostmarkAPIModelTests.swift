import Foundation
import Testing

@testable import PostmarkBridge

@Suite struct PostmarkAPIModelTests {
    @Test func fingerprintsSeparateTheirParts() {
        #expect(CredentialFingerprint(parts: ["ab", "c"]) != CredentialFingerprint(parts: ["a", "bc"]))
        #expect(CredentialFingerprint(parts: ["ab", "c"]) == CredentialFingerprint(parts: ["ab", "c"]))
    }

    @Test(arguments: [
        (
            401, #"{"ErrorCode":10,"Message":"Bad or missing API token"}"#, PostmarkAPIError.Operation.readServer,
            PostmarkAPIError.Code.accountTokenRejected
        ),
        (401, #"{"ErrorCode":10,"Message":"Bad or missing API token"}"#, .listWebhooks, .serverTokenRejected),
        (404, "", .readServer, .serverNotFound),
        (422, #"{"ErrorCode":601,"Message":"Server does not exist."}"#, .readServer, .serverNotFound),
        (422, #"{"ErrorCode":1352,"Message":"Webhook not found."}"#, .updateWebhook, .webhookNotFound),
        (422, #"{"ErrorCode":1359,"Message":"Maximum webhooks reached."}"#, .createWebhook, .tooManyWebhooks),
        (422, #"{"ErrorCode":1364,"Message":"Verification failed."}"#, .createWebhook, .webhookVerificationFailed),
        (422, #"{"ErrorCode":1361,"Message":"Invalid field value."}"#, .createWebhook, .rejected(errorCode: 1361)),
        (422, "<html>", .createWebhook, .rejected(errorCode: 0)),
        (429, "", .listWebhooks, .rateLimited),
        (500, #"{"ErrorCode":0,"Message":"Oops"}"#, .readServer, .unavailable),
        (503, "", .updateServer, .unavailable),
    ])
    func classifiesAnswers(
        status: Int, body: String, operation: PostmarkAPIError.Operation, code: PostmarkAPIError.Code
    ) {
        let error = PostmarkAPIError.classify(
            status: status, body: Array(body.utf8), headers: [:], operation: operation, secrets: [])

        #expect(error.code == code)
        #expect(error.isTransient == (status == 429 || status >= 500))
    }

    @Test func postmarkMessagesLoseTokensAndNewlines() {
        let error = PostmarkAPIError.classify(
            status: 422, body: Array(#"{"ErrorCode":1361,"Message":"Token s3cr3t-token\nis odd"}"#.utf8),
            headers: ["retry-after": "7"], operation: .createWebhook, secrets: ["s3cr3t-token"])

        #expect(error.postmarkMessage == "Token *** is odd")
        #expect(!error.description.contains("s3cr3t"))
        #expect(error.retryAfter == .seconds(7))
    }

    @Test func callbackURLIsBuiltFromThePublicBase() {
        #expect(
            WebhookCallbackURL(publicBaseURL: "https://bridge.example.com/", mailServerID: 3)?.url
                == "https://bridge.example.com/postmark/webhook/3")
        #expect(
            WebhookCallbackURL(publicBaseURL: "https://example.com/bridge//", mailServerID: 3)?.url
                == "https://example.com/bridge/postmark/webhook/3")
        #expect(WebhookCallbackURL(publicBaseURL: "bridge.example.com", mailServerID: 3) == nil)
        #expect(WebhookCallbackURL(publicBaseURL: "https://u:p@bridge.example.com", mailServerID: 3) == nil)
        #expect(WebhookCallbackURL(publicBaseURL: "https://bridge.example.com/?x=1", mailServerID: 3) == nil)
    }

    @Test func webhookJSONReadsPostmarksShape() throws {
        let json = try JSONValue.parse(
            #"""
            {"ID":1234567,"Url":"http://www.example.com/webhook-test-tracking","MessageStream":"outbound",
             "HttpAuth":{"Username":"user","Password":"pass"},"HttpHeaders":[{"Name":"name","Value":"value"}],
             "Triggers":{"Open":{"Enabled":true,"PostFirstOpenOnly":false},"Click":{"Enabled":true},
             "Delivery":{"Enabled":true},"Bounce":{"Enabled":false,"IncludeContent":false},
             "SpamComplaint":{"Enabled":false,"IncludeContent":false},"SubscriptionChange":{"Enabled":true}}}
            """#)

        let webhook = try #require(PostmarkWebhook(json: json))

        #expect(webhook.id == 1_234_567)
        #expect(webhook.username == "user")
        #expect(webhook.password == "pass")
        #expect(webhook.triggers.open && !webhook.triggers.openFirstOnly && !webhook.triggers.bounce)
        #expect(!webhook.description.contains("pass)"))
    }

    @Test func serverInfoHidesTokens() throws {
        let json = try JSONValue.parse(
            #"{"ID":55,"Name":"Prod","ApiTokens":["srv-secret"],"EnableSmtpApiErrorHooks":true}"#)

        let server = try #require(PostmarkServerInfo(json: json))

        #expect(server.apiTokens == ["srv-secret"])
        #expect(server.enableSmtpApiErrorHooks)
        #expect(!server.description.contains("srv-secret"))
    }

    @Test func odooReportUsesContractFields() {
        let outcome = ReconcileOutcome(
            mailServerID: 4, state: .ok, message: "Webhook created", date: Date(timeIntervalSince1970: 1_767_225_605))

        #expect(
            JSONValue.object(outcome.odooReport) == [
                "id": 4, "postmark_sync_state": "ok", "postmark_sync_message": "Webhook created",
                "postmark_sync_date": "2026-01-01 00:00:05", "postmark_sync_requested": false,
            ])
    }

    @Test func syncStatesMatchTheContract() throws {
        let contract = try JSONValue.parse(try Data(contentsOf: Self.contractURL()))
        let states = try #require(contract["mail_server"]?["sync_states"]?.objectValue)

        #expect(Set(states.keys) == Set(PostmarkSyncState.allCases.map(\.rawValue)))
    }

    static func contractURL() -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appending(path: "odoo_addon/wk_postmark_notification/bridge_contract.json")
    }
}
