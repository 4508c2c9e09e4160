import Foundation
import Testing

@testable import PostmarkBridge

@Suite struct WebhookAuthenticatorTests {
    static func basic(_ credentials: String) -> String {
        "Basic " + Data(credentials.utf8).base64EncodedString()
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var authorization: String? = nil
        var header: String? = nil
        var query: String? = nil
        var expected: AuthenticationResult
        var testDescription: String { name }
    }

    static let accepted = ["new-token", "old-token"]

    static let cases: [Case] = [
        Case(name: "nothing presented", expected: .missing),
        Case(name: "Basic password", authorization: basic("postmark:new-token"), expected: .accepted(.basic)),
        Case(name: "Basic previous token", authorization: basic("x:old-token"), expected: .accepted(.basic)),
        Case(name: "Basic empty user", authorization: basic(":new-token"), expected: .accepted(.basic)),
        Case(name: "Basic password with colon", authorization: basic("u:new:token"), expected: .invalid(.basic)),
        Case(
            name: "Basic scheme in lower case",
            authorization: "basic " + Data("u:new-token".utf8).base64EncodedString(),
            expected: .accepted(.basic)),
        Case(name: "Basic without padding", authorization: "Basic dTpuZXctdG9rZW4", expected: .accepted(.basic)),
        Case(
            name: "Basic user name is not the token", authorization: basic("new-token:nope"), expected: .invalid(.basic)
        ),
        Case(name: "Basic wrong password", authorization: basic("u:wrong"), expected: .invalid(.basic)),
        Case(name: "Basic empty password", authorization: basic("u:"), expected: .invalid(.basic)),
        Case(name: "Basic not base64", authorization: "Basic !!!", expected: .invalid(.basic)),
        Case(name: "Basic without colon", authorization: basic("new-token"), expected: .invalid(.basic)),
        Case(name: "Bearer is not a supported scheme", authorization: "Bearer new-token", expected: .missing),
        Case(name: "header token", header: "new-token", expected: .accepted(.header)),
        Case(name: "header token padded", header: "  old-token ", expected: .accepted(.header)),
        Case(name: "header wrong token", header: "new-token2", expected: .invalid(.header)),
        Case(name: "header prefix of token", header: "new-toke", expected: .invalid(.header)),
        Case(name: "blank header", header: "  ", expected: .missing),
        Case(name: "query token", query: "token=new-token", expected: .accepted(.query)),
        Case(name: "query token among others", query: "a=1&token=old-token&b=2", expected: .accepted(.query)),
        Case(name: "query token percent-encoded", query: "token=new%2Dtoken", expected: .accepted(.query)),
        Case(name: "query plus stays plus", query: "token=new+token", expected: .invalid(.query)),
        Case(name: "query wrong token", query: "token=nope", expected: .invalid(.query)),
        Case(
            name: "query first token parameter counts", query: "token=nope&token=new-token",
            expected: .invalid(.query)),
        Case(name: "query empty token", query: "token=", expected: .missing),
        Case(name: "query other parameter", query: "tok=new-token", expected: .missing),
        Case(name: "query bad percent encoding", query: "token=%zz", expected: .missing),
        Case(
            name: "wrong Basic but right header", authorization: basic("proxy:secret"), header: "new-token",
            expected: .accepted(.header)),
        Case(
            name: "wrong header but right query", header: "nope", query: "token=old-token",
            expected: .accepted(.query)),
        Case(
            name: "all wrong reports the first method", authorization: basic("u:x"), header: "y", query: "token=z",
            expected: .invalid(.basic)),
    ]

    @Test("authenticates each way a token can be presented", arguments: cases)
    func authenticate(testCase: Case) {
        let result = WebhookAuthenticator.authenticate(
            authorization: testCase.authorization,
            tokenHeader: testCase.header,
            query: testCase.query,
            acceptedTokens: Self.accepted
        )
        #expect(result == testCase.expected)
    }

    @Test func emptyAcceptedTokensNeverMatch() {
        let result = WebhookAuthenticator.authenticate(
            authorization: Self.basic("u:"),
            tokenHeader: nil,
            query: "token=",
            acceptedTokens: ["", ""]
        )
        #expect(result == .invalid(.basic))
        #expect(
            WebhookAuthenticator.authenticate(authorization: nil, tokenHeader: "x", query: nil, acceptedTokens: [])
                == .invalid(.header)
        )
    }

    @Test func rotatedTokenWorksUntilItsGraceEnds() {
        let rotation = Date(timeIntervalSince1970: 1_700_000_000)
        let server = MailServerSettings(
            id: 1,
            tokens: [
                WebhookToken(value: "new-token"),
                WebhookToken(value: "old-token", validUntil: rotation.addingTimeInterval(3_600)),
            ]
        )
        func check(_ token: String, at date: Date) -> AuthenticationResult {
            WebhookAuthenticator.authenticate(
                authorization: nil,
                tokenHeader: token,
                query: nil,
                acceptedTokens: server.acceptedTokens(at: date)
            )
        }
        #expect(check("old-token", at: rotation.addingTimeInterval(3_599)) == .accepted(.header))
        #expect(check("old-token", at: rotation.addingTimeInterval(3_600)) == .invalid(.header))
        #expect(check("new-token", at: rotation.addingTimeInterval(999_999)) == .accepted(.header))
    }

    @Test(
        "compares byte arrays exactly",
        arguments: [
            ([UInt8](), [UInt8](), true),
            ([1, 2, 3], [1, 2, 3], true),
            ([1, 2, 3], [1, 2, 4], false),
            ([1, 2, 3], [1, 2], false),
            ([0], [128], false),
        ] as [([UInt8], [UInt8], Bool)]
    )
    func constantTimeEqual(lhs: [UInt8], rhs: [UInt8], expected: Bool) {
        #expect(WebhookAuthenticator.constantTimeEqual(lhs, rhs) == expected)
    }

    @Test(
        "redacts every query value",
        arguments: [
            ("", ""),
            ("token=s3cret", "token=REDACTED"),
            ("a=1&token=s3cret&flag", "a=REDACTED&token=REDACTED&REDACTED"),
            ("token=a=b", "token=REDACTED"),
            ("&&token=x&", "&&token=REDACTED&"),
            ("s3cret-bare-value!", "REDACTED"),
            ("s3cret", "REDACTED"),
            ("we%20ird=1", "REDACTED=REDACTED"),
            (String(repeating: "k", count: 40) + "=v", "REDACTED=REDACTED"),
        ]
    )
    func redactsQuery(query: String, expected: String) {
        let redacted = WebhookAuthenticator.redactQuery(query)
        #expect(redacted == expected)
        #expect(!redacted.contains("s3cret"))
    }

    @Test func presentedCredentialsKeepTheirOrder() {
        let presented = WebhookAuthenticator.presentedCredentials(
            authorization: Self.basic("u:a"),
            tokenHeader: "b",
            query: "token=c"
        )
        #expect(
            presented == [
                PresentedCredential(method: .basic, token: "a"),
                PresentedCredential(method: .header, token: "b"),
                PresentedCredential(method: .query, token: "c"),
            ]
        )
    }
}
