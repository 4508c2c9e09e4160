import Foundation
import Synchronization
import Testing

@testable import PostmarkBridge

@Suite struct WebhookIntakeTests {
    static let now = Date(timeIntervalSince1970: 1_700_000_000)
    static let server = MailServerSettings(
        id: 12,
        tokens: [
            WebhookToken(value: "tok-new"),
            WebhookToken(value: "tok-old", validUntil: now.addingTimeInterval(60)),
        ]
    )
    static let delivery = Array(#"{"RecordType":"Delivery","MessageID":"m","Recipient":"a@x"}"#.utf8)

    static func request(
        id: String = "12",
        authorization: String? = nil,
        header: String? = "tok-new",
        query: String? = nil,
        contentType: String? = "application/json",
        trace: String? = nil,
        body: [UInt8] = delivery
    ) -> WebhookRequest {
        WebhookRequest(
            mailServerID: id,
            authorization: authorization,
            tokenHeader: header,
            query: query,
            contentType: contentType,
            traceID: trace,
            body: body
        )
    }

    static func errorCode(_ decision: WebhookDecision) -> WebhookError.Code? {
        if case .reject(let error) = decision { return error.code }
        return nil
    }

    @Test func acceptsAnAuthenticatedDelivery() throws {
        let decision = WebhookIntake.evaluate(Self.request(trace: "tr-1"), server: Self.server, now: Self.now)
        guard case .accept(let inbox, let event, let method) = decision else {
            Issue.record("refused: \(decision)")
            return
        }
        #expect(method == .header)
        #expect(event.kind == .delivery)
        #expect(inbox.mailServerID == 12)
        #expect(inbox.dedupeKey == "12:delivery:trace:tr-1")
        #expect(inbox.state == "delivered")
        #expect(inbox.payload == Self.delivery)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var request: WebhookRequest
        var server: MailServerSettings?
        var expected: WebhookError.Code?
        var testDescription: String { name }
    }

    static let garbage = Array("not json".utf8)

    static let cases: [Case] = [
        Case(name: "unknown server", request: request(), server: nil, expected: .unknownMailServer),
        Case(
            name: "path id is not this server", request: request(id: "13"), server: server, expected: .unknownMailServer
        ),
        Case(
            name: "path id is not a number", request: request(id: "12a"), server: server, expected: .unknownMailServer),
        Case(name: "path id is signed", request: request(id: "+12"), server: server, expected: .unknownMailServer),
        Case(name: "path id is zero", request: request(id: "0"), server: server, expected: .unknownMailServer),
        Case(name: "path id is empty", request: request(id: ""), server: server, expected: .unknownMailServer),
        Case(
            name: "path id is too long", request: request(id: String(repeating: "9", count: 40)), server: server,
            expected: .unknownMailServer),
        Case(
            name: "unknown server wins over bad token and body",
            request: request(header: "bad", contentType: "text/plain", body: garbage), server: nil,
            expected: .unknownMailServer),
        Case(name: "no token", request: request(header: nil), server: server, expected: .missingCredentials),
        Case(
            name: "no token wins over bad body", request: request(header: nil, body: garbage), server: server,
            expected: .missingCredentials),
        Case(name: "wrong token", request: request(header: "nope"), server: server, expected: .invalidCredentials),
        Case(
            name: "wrong token wins over content type and body",
            request: request(header: "nope", contentType: "text/plain", body: garbage), server: server,
            expected: .invalidCredentials),
        Case(name: "previous token within grace", request: request(header: "tok-old"), server: server, expected: nil),
        Case(name: "query token", request: request(header: nil, query: "token=tok-new"), server: server, expected: nil),
        Case(
            name: "text/plain", request: request(contentType: "text/plain"), server: server,
            expected: .unsupportedContentType),
        Case(
            name: "form", request: request(contentType: "application/x-www-form-urlencoded"), server: server,
            expected: .unsupportedContentType),
        Case(
            name: "content type wins over bad body", request: request(contentType: "text/xml", body: garbage),
            server: server, expected: .unsupportedContentType),
        Case(name: "missing content type", request: request(contentType: nil), server: server, expected: nil),
        Case(
            name: "JSON with charset", request: request(contentType: "Application/JSON; charset=UTF-8"),
            server: server, expected: nil),
        Case(name: "bad body", request: request(body: garbage), server: server, expected: .malformedBody),
        Case(name: "array body", request: request(body: Array("[]".utf8)), server: server, expected: .malformedBody),
        Case(name: "empty object is accepted", request: request(body: Array("{}".utf8)), server: server, expected: nil),
    ]

    @Test("checks server, then credentials, then content type, then body", arguments: cases)
    func order(testCase: Case) {
        let decision = WebhookIntake.evaluate(testCase.request, server: testCase.server, now: Self.now)
        #expect(Self.errorCode(decision) == testCase.expected)
    }

    @Test func previousTokenStopsAfterItsGrace() {
        let decision = WebhookIntake.evaluate(
            Self.request(header: "tok-old"),
            server: Self.server,
            now: Self.now.addingTimeInterval(61)
        )
        #expect(Self.errorCode(decision) == .invalidCredentials)
    }

    @Test func invalidCredentialsSayHowTheyCame() {
        let decision = WebhookIntake.evaluate(
            Self.request(header: nil, query: "token=x"), server: Self.server, now: Self.now)
        guard case .reject(let error) = decision else {
            Issue.record("accepted")
            return
        }
        #expect(error.credentialMethod == .query)
        #expect(!error.message.contains("token=x"))
    }

    @Test(
        "accepts JSON content types",
        arguments: [
            (nil, true), ("", true), ("application/json", true), ("application/json; charset=utf-8", true),
            ("application/json;charset=\"utf8\"", true), ("APPLICATION/JSON", true), ("application/vnd.api+json", true),
            ("application/json; charset=iso-8859-1", false), ("text/json", false), ("text/plain", false),
            ("application/jsonx", false), ("multipart/form-data; boundary=x", false),
        ] as [(String?, Bool)]
    )
    func contentTypes(value: String?, expected: Bool) {
        #expect(WebhookIntake.isJSONContentType(value) == expected)
    }

    @Test func directoryLookupSignalsUnknownServersAndTokens() {
        let calls = Mutex(0)
        let directory = ServerDirectory(
            fileServers: [Self.server],
            unrecognisedSignalInterval: 0,
            clock: { Self.now },
            onUnrecognised: { calls.withLock { $0 += 1 } }
        )

        #expect(Self.errorCode(WebhookIntake.evaluate(Self.request(), directory: directory, now: Self.now)) == nil)
        #expect(calls.withLock { $0 } == 0)
        let unknown = WebhookIntake.evaluate(Self.request(id: "99"), directory: directory, now: Self.now)
        #expect(Self.errorCode(unknown) == .unknownMailServer)
        #expect(calls.withLock { $0 } == 1)
        let refused = WebhookIntake.evaluate(Self.request(header: "nope"), directory: directory, now: Self.now)
        #expect(Self.errorCode(refused) == .invalidCredentials)
        #expect(calls.withLock { $0 } == 2)
        let missing = WebhookIntake.evaluate(Self.request(header: nil), directory: directory, now: Self.now)
        #expect(Self.errorCode(missing) == .missingCredentials)
        #expect(calls.withLock { $0 } == 2)
        let scanner = WebhookIntake.evaluate(Self.request(id: "wp-admin"), directory: directory, now: Self.now)
        #expect(Self.errorCode(scanner) == .unknownMailServer)
        #expect(calls.withLock { $0 } == 2)
    }
}
