import Foundation

/// What the admin's settings ask of a Postmark server.
public struct DesiredPostmarkState: Sendable, Equatable {
    /// `EnableSmtpApiErrorHooks`.
    public var smtpApiErrorHooks: Bool
    /// The callback that identifies the bridge's own webhook.
    public var callback: WebhookCallbackURL
    /// The webhook to have on the chosen stream; its URL is `callback.url`.
    public var webhook: WebhookDefinition

    /// Creates a desired state for `callback`.
    public init(
        smtpApiErrorHooks: Bool,
        callback: WebhookCallbackURL,
        messageStream: String,
        credentials: WebhookCredentials,
        triggers: WebhookTriggers
    ) {
        self.smtpApiErrorHooks = smtpApiErrorHooks
        self.callback = callback
        webhook = WebhookDefinition(
            url: callback.url, messageStream: messageStream, credentials: credentials, triggers: triggers)
    }
}

/// What Postmark reported about the server and its webhooks.
public struct ObservedPostmarkState: Sendable, Equatable {
    /// `EnableSmtpApiErrorHooks` as read.
    public var smtpApiErrorHooks: Bool
    /// Every webhook of the server, on every stream, the bridge's or not.
    public var webhooks: [PostmarkWebhook]

    /// Creates an observed state.
    public init(smtpApiErrorHooks: Bool, webhooks: [PostmarkWebhook]) {
        self.smtpApiErrorHooks = smtpApiErrorHooks
        self.webhooks = webhooks
    }
}

/// The calls that bring a Postmark server from its observed state to the desired one; pure and deterministic.
///
/// Rules: `EnableSmtpApiErrorHooks` is set only when it differs. On the chosen stream exactly one of the
/// bridge's webhooks (see ``WebhookCallbackURL``) remains: created when there is none, updated when its URL,
/// credentials or triggers differ. The bridge's other webhooks (duplicates, or left on a stream the admin
/// moved away from) are deleted after that. Webhooks that are not the bridge's are never touched. An empty
/// plan means Postmark already matches, so a second run after a successful one makes no changing call.
public struct ReconcilePlan: Sendable, Equatable {
    /// Why the bridge's webhook needs a `PUT`.
    public enum UpdateReason: Sendable, Equatable, CustomStringConvertible {
        /// The URL carries credentials or a query, or differs in spelling from the callback URL.
        case url
        /// The HTTP Basic credentials differ, or Postmark hid the password and the bridge cannot tell.
        case credentials
        /// These triggers (Postmark's names) differ.
        case triggers([String])

        /// A short phrase for the admin.
        public var description: String {
            switch self {
            case .url: "URL"
            case .credentials: "credentials"
            case .triggers(let names): "triggers \(names.joined(separator: ", "))"
            }
        }
    }

    /// Why one of the bridge's own webhooks is deleted.
    public enum DeleteReason: Sendable, Equatable {
        /// Another of the bridge's webhooks on the same stream is kept.
        case duplicate
        /// It is on a stream other than the chosen one.
        case otherStream
    }

    /// One call to make.
    public enum Change: Sendable, Equatable {
        /// `PUT /servers/{id}` with `EnableSmtpApiErrorHooks`.
        case setSmtpApiErrorHooks(Bool)
        /// `POST /webhooks`.
        case createWebhook(WebhookDefinition)
        /// `PUT /webhooks/{id}`.
        case updateWebhook(id: Int64, to: WebhookDefinition, reasons: [UpdateReason])
        /// `DELETE /webhooks/{id}` of one of the bridge's own webhooks.
        case deleteWebhook(id: Int64, messageStream: String, reason: DeleteReason)
    }

    /// The calls, in the order to make them: server setting, then the kept webhook, then deletions.
    public var changes: [Change]
    /// The bridge's webhook on the chosen stream that is kept (`nil` when one is to be created).
    public var keptWebhookID: Int64?
    /// Webhooks that are not the bridge's but post to its callback path on another host or port, such as an
    /// old address of the bridge. Left alone; worth telling the admin about.
    public var lookalikeWebhookIDs: [Int64]

    /// Whether Postmark already matches the settings.
    public var isEmpty: Bool { changes.isEmpty }

    /// Plans the calls.
    ///
    /// - Parameters:
    ///   - desired: What the settings ask for.
    ///   - observed: What Postmark reported.
    ///   - rememberedCredentials: Fingerprints of the credentials the bridge last set, by webhook id; used only
    ///     for webhooks whose password Postmark did not return.
    /// - Returns: The plan.
    public static func make(
        desired: DesiredPostmarkState,
        observed: ObservedPostmarkState,
        rememberedCredentials: [Int64: CredentialFingerprint] = [:]
    ) -> ReconcilePlan {
        var changes: [Change] = []
        if observed.smtpApiErrorHooks != desired.smtpApiErrorHooks {
            changes.append(.setSmtpApiErrorHooks(desired.smtpApiErrorHooks))
        }

        let ours = observed.webhooks.filter { desired.callback.matches($0.url) }
        let stream = desired.webhook.messageStream
        let onStream = ours.filter { $0.messageStream == stream }
        let candidates = onStream.map { webhook in
            (webhook, reasons: updateReasons(webhook, desired: desired.webhook, remembered: rememberedCredentials))
        }
        // Keep the webhook that needs the fewest changes; among equals the oldest (lowest id).
        let kept = candidates.min { lhs, rhs in
            (lhs.reasons.count, lhs.0.id) < (rhs.reasons.count, rhs.0.id)
        }
        if let kept {
            if !kept.reasons.isEmpty {
                changes.append(.updateWebhook(id: kept.0.id, to: desired.webhook, reasons: kept.reasons))
            }
        } else {
            changes.append(.createWebhook(desired.webhook))
        }

        for webhook in ours.sorted(by: { $0.id < $1.id }) where webhook.id != kept?.0.id {
            let reason: DeleteReason = webhook.messageStream == stream ? .duplicate : .otherStream
            changes.append(.deleteWebhook(id: webhook.id, messageStream: webhook.messageStream, reason: reason))
        }

        let lookalikes = observed.webhooks.filter { desired.callback.isLookalike($0.url) }.map(\.id).sorted()
        return ReconcilePlan(changes: changes, keptWebhookID: kept?.0.id, lookalikeWebhookIDs: lookalikes)
    }

    /// What differs between an observed webhook of the bridge's and the desired definition.
    static func updateReasons(
        _ webhook: PostmarkWebhook,
        desired: WebhookDefinition,
        remembered: [Int64: CredentialFingerprint]
    ) -> [UpdateReason] {
        var reasons: [UpdateReason] = []
        if webhook.url != desired.url {
            reasons.append(.url)
        }

        let wanted = desired.credentials
        let credentialsMatch: Bool
        if let password = webhook.password {
            credentialsMatch = webhook.username == wanted.username && password == wanted.password
        } else {
            // Postmark did not return the password: trust what the bridge itself last set, if anything.
            credentialsMatch =
                (webhook.username == nil || webhook.username == wanted.username)
                && remembered[webhook.id] == CredentialFingerprint(wanted)
        }
        if !credentialsMatch {
            reasons.append(.credentials)
        }

        let triggerDifferences = desired.triggers.differences(from: webhook.triggers)
        if !triggerDifferences.isEmpty {
            reasons.append(.triggers(triggerDifferences))
        }
        return reasons
    }
}
