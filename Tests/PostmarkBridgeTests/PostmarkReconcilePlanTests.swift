import Foundation
import Testing

@testable import PostmarkBridge

@Suite struct PostmarkReconcilePlanTests {
    static let callback = WebhookCallbackURL(publicBaseURL: "https://bridge.example.com", mailServerID: 7)!
    static let credentials = WebhookCredentials(username: "postmark", password: "verify-token-1")

    static func desired(
        smtp: Bool = true,
        stream: String = "outbound",
        password: String = "verify-token-1",
        triggers: WebhookTriggers = WebhookTriggers()
    ) -> DesiredPostmarkState {
        DesiredPostmarkState(
            smtpApiErrorHooks: smtp, callback: callback, messageStream: stream,
            credentials: WebhookCredentials(username: "postmark", password: password), triggers: triggers)
    }

    static func ours(
        id: Int64,
        url: String = "https://bridge.example.com/postmark/webhook/7",
        stream: String = "outbound",
        password: String? = "verify-token-1",
        triggers: WebhookTriggers = WebhookTriggers()
    ) -> PostmarkWebhook {
        PostmarkWebhook(
            id: id, url: url, messageStream: stream, username: "postmark", password: password, triggers: triggers)
    }

    static let foreign = PostmarkWebhook(
        id: 900, url: "https://crm.example.org/hooks/postmark", messageStream: "outbound", username: "crm",
        password: "crm-secret", triggers: WebhookTriggers())

    @Test func freshServerGetsHooksAndAWebhook() {
        let plan = ReconcilePlan.make(
            desired: Self.desired(), observed: ObservedPostmarkState(smtpApiErrorHooks: false, webhooks: []))

        #expect(plan.changes == [.setSmtpApiErrorHooks(true), .createWebhook(Self.desired().webhook)])
        #expect(plan.keptWebhookID == nil)
    }

    @Test func matchingStatePlansNothing() {
        let observed = ObservedPostmarkState(smtpApiErrorHooks: true, webhooks: [Self.foreign, Self.ours(id: 1)])

        let plan = ReconcilePlan.make(desired: Self.desired(), observed: observed)

        #expect(plan.isEmpty)
        #expect(plan.keptWebhookID == 1)
    }

    @Test func foreignWebhooksAreNeverTouched() {
        var foreignOnOurStream = Self.foreign
        foreignOnOurStream.triggers.open = false
        let observed = ObservedPostmarkState(smtpApiErrorHooks: true, webhooks: [foreignOnOurStream])

        let plan = ReconcilePlan.make(desired: Self.desired(), observed: observed)

        #expect(plan.changes == [.createWebhook(Self.desired().webhook)])
        for change in plan.changes {
            if case .updateWebhook(let id, _, _) = change { #expect(id != 900) }
            if case .deleteWebhook(let id, _, _) = change { #expect(id != 900) }
        }
    }

    @Test(arguments: [
        ("https://bridge.example.com/postmark/webhook/7/", true),
        ("https://user:old@bridge.example.com/postmark/webhook/7", true),
        ("https://BRIDGE.example.com:443/postmark/webhook/7?token=old", true),
        ("http://bridge.example.com/postmark/webhook/7", false),
        ("https://bridge.example.com/postmark/webhook/70", false),
        ("https://bridge.example.com/postmark/webhook/7/x", false),
        ("https://other.example.com/postmark/webhook/7", false),
    ])
    func recognisesOwnWebhookByURL(url: String, isOurs: Bool) {
        #expect(Self.callback.matches(url) == isOurs)
    }

    @Test func adoptsHandMadeWebhookAndCleansItsURL() {
        let handMade = Self.ours(id: 3, url: "https://postmark:verify-token-1@bridge.example.com/postmark/webhook/7/")
        let observed = ObservedPostmarkState(smtpApiErrorHooks: true, webhooks: [handMade])

        let plan = ReconcilePlan.make(desired: Self.desired(), observed: observed)

        #expect(plan.changes == [.updateWebhook(id: 3, to: Self.desired().webhook, reasons: [.url])])
    }

    @Test func triggerChangeUpdatesWithTheTriggerNamed() {
        var triggers = WebhookTriggers()
        triggers.open = false
        let observed = ObservedPostmarkState(smtpApiErrorHooks: true, webhooks: [Self.ours(id: 1)])

        let plan = ReconcilePlan.make(desired: Self.desired(triggers: triggers), observed: observed)

        #expect(
            plan.changes == [
                .updateWebhook(id: 1, to: Self.desired(triggers: triggers).webhook, reasons: [.triggers(["Open"])])
            ])
    }

    @Test func optionsOfDisabledTriggersDoNotCount() {
        var wanted = WebhookTriggers()
        wanted.bounce = false
        wanted.bounceIncludeContent = true
        var echoed = WebhookTriggers()
        echoed.bounce = false
        echoed.bounceIncludeContent = false
        let observed = ObservedPostmarkState(smtpApiErrorHooks: true, webhooks: [Self.ours(id: 1, triggers: echoed)])

        let plan = ReconcilePlan.make(desired: Self.desired(triggers: wanted), observed: observed)

        #expect(plan.isEmpty)
    }

    @Test func rotatedTokenUpdatesCredentials() {
        let observed = ObservedPostmarkState(smtpApiErrorHooks: true, webhooks: [Self.ours(id: 1)])

        let plan = ReconcilePlan.make(desired: Self.desired(password: "verify-token-2"), observed: observed)

        #expect(
            plan.changes == [
                .updateWebhook(id: 1, to: Self.desired(password: "verify-token-2").webhook, reasons: [.credentials])
            ])
    }

    @Test func hiddenPasswordIsComparedByRememberedFingerprint() {
        let observed = ObservedPostmarkState(smtpApiErrorHooks: true, webhooks: [Self.ours(id: 1, password: nil)])
        let current = CredentialFingerprint(WebhookCredentials(username: "postmark", password: "verify-token-1"))
        let previous = CredentialFingerprint(WebhookCredentials(username: "postmark", password: "verify-token-0"))

        let remembered = ReconcilePlan.make(
            desired: Self.desired(), observed: observed, rememberedCredentials: [1: current])
        let rotated = ReconcilePlan.make(
            desired: Self.desired(), observed: observed, rememberedCredentials: [1: previous])
        let forgotten = ReconcilePlan.make(desired: Self.desired(), observed: observed)

        #expect(remembered.isEmpty)
        #expect(rotated.changes == [.updateWebhook(id: 1, to: Self.desired().webhook, reasons: [.credentials])])
        #expect(forgotten.changes == rotated.changes)
    }

    @Test func smtpApiErrorHooksSetOnlyWhenDifferent() {
        let on = ObservedPostmarkState(smtpApiErrorHooks: true, webhooks: [Self.ours(id: 1)])
        let off = ObservedPostmarkState(smtpApiErrorHooks: false, webhooks: [Self.ours(id: 1)])

        #expect(
            ReconcilePlan.make(desired: Self.desired(smtp: false), observed: on).changes == [
                .setSmtpApiErrorHooks(false)
            ])
        #expect(ReconcilePlan.make(desired: Self.desired(smtp: false), observed: off).isEmpty)
    }

    @Test func duplicatesKeepTheBestMatchAndDeleteOnlyOwnExtras() {
        var stale = WebhookTriggers()
        stale.click = false
        let observed = ObservedPostmarkState(
            smtpApiErrorHooks: true,
            webhooks: [
                Self.ours(id: 5, triggers: stale), Self.foreign, Self.ours(id: 8), Self.ours(id: 2, password: "x"),
            ])

        let plan = ReconcilePlan.make(desired: Self.desired(), observed: observed)

        #expect(plan.keptWebhookID == 8)
        #expect(
            plan.changes == [
                .deleteWebhook(id: 2, messageStream: "outbound", reason: .duplicate),
                .deleteWebhook(id: 5, messageStream: "outbound", reason: .duplicate),
            ])
    }

    @Test func streamChangeCreatesOnNewStreamThenRemovesOldOne() {
        let observed = ObservedPostmarkState(smtpApiErrorHooks: true, webhooks: [Self.ours(id: 1), Self.foreign])

        let plan = ReconcilePlan.make(desired: Self.desired(stream: "broadcast"), observed: observed)

        #expect(
            plan.changes == [
                .createWebhook(Self.desired(stream: "broadcast").webhook),
                .deleteWebhook(id: 1, messageStream: "outbound", reason: .otherStream),
            ])
    }

    @Test func reportsLookalikesWithoutTouchingThem() {
        let oldAddress = Self.ours(id: 4, url: "https://old-bridge.example.com/postmark/webhook/7")
        let observed = ObservedPostmarkState(smtpApiErrorHooks: true, webhooks: [oldAddress, Self.ours(id: 1)])

        let plan = ReconcilePlan.make(desired: Self.desired(), observed: observed)

        #expect(plan.isEmpty)
        #expect(plan.lookalikeWebhookIDs == [4])
    }

    @Test func requestBodiesSpellOutEveryTrigger() throws {
        var triggers = WebhookTriggers()
        triggers.openFirstOnly = false
        triggers.bounceIncludeContent = true
        let definition = Self.desired(triggers: triggers).webhook

        let body = definition.createBody

        #expect(body["Url"] == "https://bridge.example.com/postmark/webhook/7")
        #expect(body["MessageStream"] == "outbound")
        #expect(body["HttpAuth"] == ["Username": "postmark", "Password": "verify-token-1"])
        #expect(body["Triggers"]?["Open"] == ["Enabled": true, "PostFirstOpenOnly": false])
        #expect(body["Triggers"]?["Bounce"] == ["Enabled": true, "IncludeContent": true])
        #expect(definition.updateBody["MessageStream"] == nil)
        #expect(WebhookTriggers(postmarkJSON: try #require(body["Triggers"])) == triggers)
        #expect(!"\(definition)".contains("verify-token-1"))
    }
}
