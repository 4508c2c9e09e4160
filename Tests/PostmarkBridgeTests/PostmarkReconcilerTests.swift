import Foundation
import Synchronization
import Testing

@testable import PostmarkBridge

/// Reconciliation end to end: the real ``PostmarkAPIClient`` over ``URLSessionHTTPClient`` against
/// ``FakePostmark`` on 127.0.0.1.
@Suite struct PostmarkReconcilerTests {
    static let accountToken = "acct-token-secret"
    static let serverToken = "server-token-secret"
    static let publicURL = URL(string: "https://bridge.example.com")
    static let callback = "https://bridge.example.com/postmark/webhook/7"

    /// Records the backoff waits instead of waiting.
    final class Sleeps: Sendable {
        let durations = Mutex<[Duration]>([])
        var all: [Duration] { durations.withLock { $0 } }
    }

    let fake: FakePostmark
    let sleeps = Sleeps()
    let memory = WebhookCredentialMemory()

    init() throws {
        fake = try FakePostmark.start(accountToken: Self.accountToken)
        fake.addServer(FakePostmark.Server(id: 55, name: "Production", apiTokens: [Self.serverToken]))
    }

    func reconciler(
        baseURL: URL? = nil,
        memory: WebhookCredentialMemory? = nil,
        requestTimeout: Duration = .seconds(10)
    ) -> Reconciler {
        let client = PostmarkAPIClient(
            baseURL: baseURL ?? fake.baseURL, httpClient: URLSessionHTTPClient(), requestTimeout: requestTimeout)
        let sleeps = sleeps
        return Reconciler(
            client: client, memory: memory ?? self.memory,
            sleep: { duration in
                sleeps.durations.withLock { $0.append(duration) }
            })
    }

    static func settings(
        serverID: String? = "55",
        accountToken: String? = Self.accountToken,
        token: String = "verify-1",
        smtp: Bool = true,
        stream: String = "outbound",
        triggers: WebhookTriggers = WebhookTriggers()
    ) -> MailServerSettings {
        MailServerSettings(
            id: 7, name: "Postmark", tokens: [WebhookToken(value: token)], postmarkServerID: serverID,
            accountToken: accountToken, smtpAPIErrors: smtp, messageStream: stream, triggers: triggers)
    }

    func run(_ settings: MailServerSettings = Self.settings(), reconciler: Reconciler? = nil) async
        -> ReconcileOutcome
    {
        await (reconciler ?? self.reconciler()).reconcile(settings: settings, callbackBaseURL: Self.publicURL)
    }

    // MARK: - Fresh server and idempotence

    @Test func freshServerGetsWebhookAndSmtpApiErrorHooks() async throws {
        var triggers = WebhookTriggers()
        triggers.bounceIncludeContent = true
        triggers.openFirstOnly = false
        triggers.subscriptionChange = false
        defer { fake.stop() }

        let outcome = await run(Self.settings(triggers: triggers))

        #expect(outcome.state == .ok)
        #expect(outcome.message == "SMTP API error hooks on; Webhook created")
        #expect(fake.server(55)?.enableSmtpApiErrorHooks == true)
        let webhooks = fake.webhooks(serverID: 55)
        try #require(webhooks.count == 1)
        #expect(webhooks[0].url == Self.callback)
        #expect(webhooks[0].messageStream == "outbound")
        #expect(webhooks[0].username == "postmark")
        #expect(webhooks[0].password == "verify-1")
        #expect(webhooks[0].triggers == triggers)
        #expect(outcome.webhookID == webhooks[0].id)

        let requests = fake.requests
        #expect(
            requests.map { "\($0.method) \($0.path)" } == [
                "GET /servers/55", "GET /webhooks", "PUT /servers/55", "POST /webhooks",
            ])
        #expect(
            requests.filter { $0.path.hasPrefix("/servers") }.allSatisfy {
                $0.accountToken == Self.accountToken && $0.serverToken == nil
            })
        #expect(
            requests.filter { $0.path.hasPrefix("/webhooks") }.allSatisfy {
                $0.serverToken == Self.serverToken && $0.accountToken == nil
            })
        #expect(requests.allSatisfy { $0.accept == "application/json" })
        #expect(requests.filter(\.changes).allSatisfy { $0.contentType == "application/json" })
        #expect(requests[2].body == ["EnableSmtpApiErrorHooks": true])
    }

    @Test func secondRunOnlyReads() async {
        defer { fake.stop() }
        let reconciler = reconciler()
        _ = await run(reconciler: reconciler)
        fake.clearRequests()

        let outcome = await run(reconciler: reconciler)

        #expect(outcome.state == .ok)
        #expect(outcome.message == "In sync")
        #expect(fake.requests.map(\.method) == ["GET", "GET"])
    }

    @Test func hiddenPasswordsStayInSyncThroughTheRememberedFingerprint() async {
        defer { fake.stop() }
        fake.hidePasswords(true)
        _ = await run()
        fake.clearRequests()

        let again = await run()
        let afterRestart = await run(reconciler: reconciler(memory: WebhookCredentialMemory()))

        #expect(again.message == "In sync")
        #expect(afterRestart.message == "Webhook updated (credentials)")
        #expect(fake.requests.filter(\.changes).map { "\($0.method) \($0.path)" } == ["PUT /webhooks/100"])
    }

    // MARK: - Settings changes

    @Test func triggerTurnedOffUpdatesTheWebhook() async {
        defer { fake.stop() }
        _ = await run()
        var triggers = WebhookTriggers()
        triggers.open = false

        let outcome = await run(Self.settings(triggers: triggers))

        #expect(outcome.message == "Webhook updated (triggers Open)")
        #expect(fake.webhooks(serverID: 55).map(\.triggers.open) == [false])
    }

    @Test func rotatedTokenUpdatesCredentials() async {
        defer { fake.stop() }
        _ = await run()

        let outcome = await run(Self.settings(token: "verify-2"))

        #expect(outcome.message == "Webhook updated (credentials)")
        #expect(fake.webhooks(serverID: 55).map(\.password) == ["verify-2"])
    }

    @Test func smtpApiErrorHooksTurnedOff() async {
        defer { fake.stop() }
        _ = await run()

        let outcome = await run(Self.settings(smtp: false))

        #expect(outcome.message == "SMTP API error hooks off")
        #expect(fake.server(55)?.enableSmtpApiErrorHooks == false)
    }

    @Test func streamChangeMovesTheWebhook() async {
        defer { fake.stop() }
        var server = fake.server(55)!
        server.streams["transactional-2"] = false
        fake.addServer(server)
        _ = await run()

        let outcome = await run(Self.settings(stream: "transactional-2"))

        #expect(outcome.message == "Webhook created; Removed the bridge's old webhook 100 on stream outbound")
        #expect(fake.webhooks(serverID: 55).map(\.messageStream) == ["transactional-2"])
    }

    @Test func handMadeWebhookIsAdoptedNotDuplicated() async {
        defer { fake.stop() }
        let manual = fake.addWebhook(serverID: 55, url: Self.callback + "?token=verify-1")

        let outcome = await run()

        #expect(outcome.message == "SMTP API error hooks on; Webhook updated (URL, credentials)")
        #expect(fake.webhooks(serverID: 55).map(\.id) == [manual])
        #expect(fake.webhooks(serverID: 55).map(\.url) == [Self.callback])
    }

    // MARK: - Foreign webhooks

    @Test func foreignWebhooksSurviveUntouched() async {
        defer { fake.stop() }
        var partial = WebhookTriggers()
        partial.open = false
        let crm = fake.addWebhook(
            serverID: 55, url: "https://crm.example.org/postmark", username: "crm", password: "crm-pass",
            triggers: partial)
        let analytics = fake.addWebhook(serverID: 55, url: "https://bridge.example.com/analytics", stream: "broadcast")
        let before = [fake.webhookJSON(crm), fake.webhookJSON(analytics)]

        var noBounce = partial
        noBounce.bounce = false

        _ = await run()
        _ = await run(Self.settings(token: "verify-2", triggers: partial))
        let moved = await run(Self.settings(stream: "broadcast", triggers: noBounce))

        #expect(moved.state == .ok)
        #expect(fake.webhooks(serverID: 55).filter { $0.url == Self.callback }.map(\.messageStream) == ["broadcast"])

        #expect([fake.webhookJSON(crm), fake.webhookJSON(analytics)] == before)
        let touched = fake.requests.filter { $0.changes }.map(\.path)
        #expect(!touched.contains("/webhooks/\(crm)"))
        #expect(!touched.contains("/webhooks/\(analytics)"))
    }

    @Test func fullStreamIsReportedAndLeftAlone() async {
        defer { fake.stop() }
        for index in 0..<FakePostmark.maxWebhooksPerStream {
            fake.addWebhook(serverID: 55, url: "https://hooks.example.org/\(index)")
        }

        let outcome = await run(Self.settings(smtp: false))

        #expect(outcome.state == .error)
        #expect(
            outcome.message == "Stream outbound already has as many webhooks as Postmark allows; remove one in Postmark"
        )
        #expect(fake.webhooks(serverID: 55).count == FakePostmark.maxWebhooksPerStream)
        #expect(fake.requests.filter(\.changes).map(\.method) == ["POST"])
    }

    @Test func unsupportedTriggerIsExplained() async {
        defer { fake.stop() }

        let outcome = await run(Self.settings(smtp: false, stream: "broadcast"))

        #expect(outcome.state == .error)
        #expect(outcome.message.hasPrefix("Postmark does not offer one of the chosen triggers on stream broadcast"))
    }

    // MARK: - Errors

    @Test func wrongAccountTokenIsReported() async {
        defer { fake.stop() }

        let outcome = await run(Self.settings(accountToken: "not-the-account-token"))

        #expect(outcome.state == .error)
        #expect(outcome.message == "Postmark rejected the account token")
        #expect(outcome.error?.code == .accountTokenRejected)
        #expect(!outcome.isTransientFailure)
        #expect(fake.requests.count == 1)
        #expect(sleeps.all.isEmpty)
    }

    @Test func unknownServerIsReported() async {
        defer { fake.stop() }

        let outcome = await run(Self.settings(serverID: "999"))

        #expect(outcome.message == "Postmark server 999 not found")
        #expect(outcome.error?.code == .serverNotFound)
    }

    @Test func rejectedServerTokenIsReported() async {
        defer { fake.stop() }
        fake.fail("GET", "/webhooks", status: 401, body: #"{"ErrorCode":10,"Message":"Bad or missing API token"}"#)

        let outcome = await run(Self.settings(smtp: false))

        #expect(outcome.message == "Postmark rejected the server token of server 55")
    }

    @Test func serverWithoutAPITokenIsReported() async {
        defer { fake.stop() }
        fake.addServer(FakePostmark.Server(id: 56, name: "Empty", apiTokens: []))

        let outcome = await run(Self.settings(serverID: "56"))

        #expect(outcome.message == "Postmark server 56 has no API token; create one on its API Tokens tab")
    }

    @Test func serverErrorIsRetriedThenSucceeds() async {
        defer { fake.stop() }
        fake.fail("GET", "/servers/55", status: 500)

        let outcome = await run()

        #expect(outcome.state == .ok)
        #expect(outcome.attempts == 2)
        #expect(outcome.message == "SMTP API error hooks on; Webhook created")
        #expect(sleeps.all == [.seconds(2)])
    }

    @Test func lostCreateAnswerIsNotRepeated() async {
        defer { fake.stop() }
        fake.fail("POST", "/webhooks", status: 503, afterHandling: true)

        let outcome = await run()

        #expect(outcome.state == .ok)
        #expect(fake.webhooks(serverID: 55).count == 1)
        #expect(fake.requests.filter { $0.method == "POST" }.count == 1)
        #expect(outcome.message == "SMTP API error hooks on")
        #expect(outcome.webhookID == fake.webhooks(serverID: 55).first?.id)
    }

    @Test func rateLimitHonoursRetryAfter() async {
        defer { fake.stop() }
        fake.fail(
            "GET", "/webhooks", status: 429, body: #"{"ErrorCode":429,"Message":"Rate limit exceeded"}"#, retryAfter: 7)

        let outcome = await run()

        #expect(outcome.state == .ok)
        #expect(sleeps.all == [.seconds(7)])
    }

    @Test func persistentOutageGivesUpWithBackoff() async {
        defer { fake.stop() }
        fake.fail("GET", "/servers/55", status: 503, times: 10)

        let outcome = await run()

        #expect(outcome.state == .error)
        #expect(outcome.message == "Postmark is having trouble (HTTP 503); will retry")
        #expect(outcome.isTransientFailure)
        #expect(outcome.attempts == 3)
        #expect(sleeps.all == [.seconds(2), .seconds(4)])
    }

    @Test func unreachablePostmarkIsReported() async throws {
        let closed = try FakePostmark.start(accountToken: "x")
        let closedURL = closed.baseURL
        closed.stop()
        fake.stop()

        let outcome = await run(reconciler: reconciler(baseURL: closedURL))

        #expect(outcome.message == "Postmark is unreachable; will retry")
        #expect(outcome.error?.code == .connectionFailed)
    }

    @Test func slowPostmarkTimesOutAndIsRetried() async {
        defer { fake.stop() }
        fake.fail("GET", "/webhooks", status: 200, body: #"{"Webhooks":[]}"#, stall: .seconds(4))

        let outcome = await run(reconciler: reconciler(requestTimeout: .seconds(1)))

        #expect(outcome.state == .ok)
        #expect(outcome.attempts == 2)
        #expect(sleeps.all == [.seconds(2)])
        #expect(outcome.message == "SMTP API error hooks on; Webhook created")
    }

    @Test func partialProgressIsReportedWithTheError() async {
        defer { fake.stop() }
        fake.fail("POST", "/webhooks", status: 422, body: #"{"ErrorCode":1364,"Message":"Verification failed."}"#)

        let outcome = await run()

        #expect(outcome.state == .error)
        #expect(
            outcome.message
                == "SMTP API error hooks on; Postmark tested the webhook and \(Self.callback) did not answer 200; "
                + "check BRIDGE_PUBLIC_URL and the reverse proxy")
        #expect(outcome.applied == [.smtpApiErrorHooks(true)])
    }

    // MARK: - Loop

    @Test func loopRunsDueServersAndReportsThem() async {
        defer { fake.stop() }
        let reports = Mutex<[[Int]]>([])
        let loop = ReconcileLoop(reconciler: reconciler(), publicURL: Self.publicURL) { outcomes in
            reports.withLock { $0.append(outcomes.map(\.mailServerID)) }
        }
        var incomplete = Self.settings(serverID: nil)
        incomplete.id = 8
        let start = Date()
        loop.update([Self.settings(), incomplete])

        let first = await loop.runDue(now: start)
        let second = await loop.runDue(now: start + 60)
        loop.update([Self.settings(token: "verify-2"), incomplete])
        let third = await loop.runDue(now: start + 120)

        #expect(
            first.map(\.message) == [
                "SMTP API error hooks on; Webhook created",
                "Set the Postmark server id and account token to let the bridge configure Postmark",
            ])
        #expect(second.isEmpty)
        #expect(third.map(\.message) == ["Webhook updated (credentials)"])
        #expect(reports.withLock { $0 } == [[7, 8], [7]])
    }

    @Test func runningLoopActsOnNewSettingsAndStops() async {
        defer { fake.stop() }
        let (reports, continuation) = AsyncStream.makeStream(of: [ReconcileOutcome].self)
        let loop = ReconcileLoop(reconciler: reconciler(), publicURL: Self.publicURL, tick: .seconds(60)) {
            continuation.yield($0)
        }
        let running = Task { await loop.run() }

        loop.update([Self.settings()])
        var iterator = reports.makeAsyncIterator()
        let batch = await iterator.next()
        loop.stop()
        await running.value

        #expect(batch?.map(\.message) == ["SMTP API error hooks on; Webhook created"])
        #expect(fake.webhooks(serverID: 55).count == 1)
    }

    // MARK: - Skips and secrets

    static let incompleteSettings: [(String?, String?, URL?, PostmarkSyncState, String)] = [
        (
            nil, accountToken, publicURL, .never,
            "Set the Postmark server id and account token to let the bridge configure Postmark"
        ),
        (
            "55", nil, publicURL, .never,
            "Set the Postmark server id and account token to let the bridge configure Postmark"
        ),
        ("abc", accountToken, publicURL, .error, "The Postmark server id must be a number, such as 1234567"),
        (
            "55", accountToken, nil, .never,
            "Set BRIDGE_PUBLIC_URL on the bridge so it can register its webhook with Postmark"
        ),
        (
            "55", accountToken, URL(string: "bridge.example.com"), .error,
            "BRIDGE_PUBLIC_URL is not a plain http(s) URL such as https://bridge.example.com"
        ),
    ]

    @Test(arguments: incompleteSettings)
    func incompleteSettingsAreSkipped(
        serverID: String?,
        accountToken: String?,
        publicURL: URL?,
        state: PostmarkSyncState,
        message: String
    ) async {
        defer { fake.stop() }
        let settings = Self.settings(serverID: serverID, accountToken: accountToken)

        let outcome = await reconciler().reconcile(settings: settings, callbackBaseURL: publicURL)

        #expect(outcome.state == state)
        #expect(outcome.message == message)
        #expect(fake.requests.isEmpty)
    }

    @Test func tokensNeverReachLogsOrMessages() async {
        defer { fake.stop() }
        let lines = Mutex<[String]>([])
        LogSink.shared.configure(level: .trace, format: .text)
        LogSink.shared.capture { line in lines.withLock { $0.append(line) } }
        fake.fail("GET", "/webhooks", status: 500, body: #"{"ErrorCode":0,"Message":"server-token-secret broke"}"#)
        fake.fail("POST", "/webhooks", status: 422, body: #"{"ErrorCode":1361,"Message":"verify-1 is odd"}"#)

        let outcome = await run()
        let wrongAccount = await run(Self.settings(accountToken: "wrong-account-secret"))

        LogSink.shared.capture(nil)
        LogSink.shared.configure(level: .info, format: .text)
        let logged = lines.withLock { $0 }.joined(separator: "\n")
        #expect(logged.contains("postmark"))
        for secret in [Self.accountToken, Self.serverToken, "verify-1", "wrong-account-secret"] {
            #expect(!logged.contains(secret))
            #expect(!outcome.message.contains(secret))
            #expect(!wrongAccount.message.contains(secret))
            #expect(!"\(String(describing: outcome.error))".contains(secret))
        }
        #expect(outcome.message.hasSuffix("Postmark refused creating the webhook (error 1361) (Postmark: *** is odd)"))
    }
}
