import Foundation
import Testing

@testable import PostmarkBridge

@Suite struct PostmarkSchedulerTests {
    static let base = URL(string: "https://bridge.example.com")
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    static func settings(id: Int = 1, revision: String? = "2026-01-01 10:00:00") -> MailServerSettings {
        MailServerSettings(
            id: id, tokens: [WebhookToken(value: "tok-a")], postmarkServerID: "55", accountToken: "acct",
            revision: revision)
    }

    static func outcome(_ settings: MailServerSettings, at date: Date, error: PostmarkAPIError? = nil)
        -> ReconcileOutcome
    {
        ReconcileOutcome(
            mailServerID: settings.id, state: error == nil ? .ok : .error, message: "", error: error, date: date)
    }

    func ran(_ settings: MailServerSettings, at date: Date, error: PostmarkAPIError? = nil) -> ReconcileScheduler {
        var scheduler = ReconcileScheduler(interval: .seconds(900), retryInterval: .seconds(60))
        scheduler.record(Self.outcome(settings, at: date, error: error), settings: settings, callbackBaseURL: Self.base)
        return scheduler
    }

    @Test func newServersAreDueAtOnce() {
        let scheduler = ReconcileScheduler()

        let due = scheduler.due(
            [Self.settings(id: 1), Self.settings(id: 2)], callbackBaseURL: Self.base, now: Self.start)

        #expect(due.map(\.settings.id) == [1, 2])
        #expect(due.allSatisfy { $0.reason == .firstRun })
    }

    @Test func nothingIsDueRightAfterARun() {
        let settings = Self.settings()
        let scheduler = ran(settings, at: Self.start)

        #expect(scheduler.due([settings], callbackBaseURL: Self.base, now: Self.start.addingTimeInterval(899)).isEmpty)
        #expect(scheduler.nextDueDate([settings], callbackBaseURL: Self.base, now: Self.start) == Self.start + 900)
    }

    @Test func periodicRunAfterTheInterval() {
        let settings = Self.settings()
        let scheduler = ran(settings, at: Self.start)

        #expect(scheduler.reason(for: settings, callbackBaseURL: Self.base, now: Self.start + 900) == .periodic)
    }

    @Test(arguments: [
        "token", "stream", "trigger", "smtp", "serverID", "accountToken", "publicURL",
    ])
    func changedSettingsAreDue(change: String) {
        let before = Self.settings()
        let scheduler = ran(before, at: Self.start)
        var after = before
        var base = Self.base
        switch change {
        case "token": after.tokens = [WebhookToken(value: "tok-b"), WebhookToken(value: "tok-a", validUntil: .now)]
        case "stream": after.messageStream = "broadcast"
        case "trigger": after.triggers.click = false
        case "smtp": after.smtpAPIErrors = true
        case "serverID": after.postmarkServerID = "56"
        case "accountToken": after.accountToken = "acct-2"
        default: base = URL(string: "https://new.example.com")
        }

        let reason = scheduler.reason(for: after, callbackBaseURL: base, now: Self.start + 1)

        #expect(reason == .settingsChanged)
    }

    @Test func ownReportsDoNotRetrigger() {
        let before = Self.settings(revision: "2026-01-01 10:00:00")
        let scheduler = ran(before, at: Self.start)
        var after = before
        after.revision = "2026-01-01 10:00:05"
        after.name = "renamed"

        #expect(scheduler.reason(for: after, callbackBaseURL: Self.base, now: Self.start + 1) == nil)
    }

    @Test func syncNowRunsOncePerPress() {
        var pressed = Self.settings(revision: "r2")
        pressed.syncRequested = true
        var scheduler = ran(Self.settings(revision: "r1"), at: Self.start)

        #expect(scheduler.reason(for: pressed, callbackBaseURL: Self.base, now: Self.start + 1) == .syncRequested)

        scheduler.record(Self.outcome(pressed, at: Self.start + 2), settings: pressed, callbackBaseURL: Self.base)
        #expect(scheduler.reason(for: pressed, callbackBaseURL: Self.base, now: Self.start + 3) == nil)

        var pressedAgain = pressed
        pressedAgain.revision = "r3"
        #expect(scheduler.reason(for: pressedAgain, callbackBaseURL: Self.base, now: Self.start + 4) == .syncRequested)
    }

    @Test func transientFailureRetriesSooner() {
        let settings = Self.settings()
        let down = PostmarkAPIError(code: .unavailable, operation: .readServer, status: 503)
        let refused = PostmarkAPIError(code: .accountTokenRejected, operation: .readServer, status: 401)

        let afterOutage = ran(settings, at: Self.start, error: down)
        let afterRefusal = ran(settings, at: Self.start, error: refused)

        #expect(afterOutage.reason(for: settings, callbackBaseURL: Self.base, now: Self.start + 60) == .retry)
        #expect(afterRefusal.reason(for: settings, callbackBaseURL: Self.base, now: Self.start + 60) == nil)
        #expect(afterRefusal.reason(for: settings, callbackBaseURL: Self.base, now: Self.start + 900) == .periodic)
    }

    @Test func forgottenServersStartOver() {
        let settings = Self.settings()
        var scheduler = ran(settings, at: Self.start)

        scheduler.retain(only: [])

        #expect(scheduler.reason(for: settings, callbackBaseURL: Self.base, now: Self.start + 1) == .firstRun)
    }
}
