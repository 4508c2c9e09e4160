import Foundation

/// Makes Postmark's side of one mail server match its settings: reads the server and its webhooks, plans
/// (``ReconcilePlan``), makes the planned calls, and describes the outcome for the admin.
///
/// Transient failures (5xx, 429, timeouts, connection failures, a webhook vanishing mid-run) are retried a few
/// times within one reconciliation with exponential backoff; each retry reads Postmark's state again and plans
/// anew, so a create whose answer was lost is not repeated as a duplicate.
public final class Reconciler: Sendable {
    /// The user name of the HTTP Basic credentials the bridge puts on its webhooks.
    public static let defaultWebhookUsername = "postmark"

    private let client: PostmarkAPIClient
    private let memory: WebhookCredentialMemory
    private let webhookUsername: String
    private let maxAttempts: Int
    private let initialBackoff: Duration
    private let sleep: @Sendable (Duration) async -> Void
    private let now: @Sendable () -> Date
    private let logger: Logger

    /// Creates a reconciler.
    ///
    /// - Parameters:
    ///   - client: The Postmark API client.
    ///   - memory: Fingerprints of the credentials set on each webhook; keep one for the process's lifetime.
    ///   - webhookUsername: HTTP Basic user name on the webhook (default `postmark`); the password is the
    ///     mail server's current verify token.
    ///   - maxAttempts: Passes per reconciliation when errors are transient (default 3, at least 1).
    ///   - initialBackoff: Wait before the second pass; doubles each pass, at most 60 s (default 2 s). A
    ///     longer `Retry-After` from Postmark is honoured up to 60 s.
    ///   - sleep: How to wait (tests pass one that returns at once).
    ///   - now: The clock for outcome dates.
    ///   - logger: Where outcomes are logged.
    public init(
        client: PostmarkAPIClient,
        memory: WebhookCredentialMemory = WebhookCredentialMemory(),
        webhookUsername: String = Reconciler.defaultWebhookUsername,
        maxAttempts: Int = 3,
        initialBackoff: Duration = .seconds(2),
        sleep: @escaping @Sendable (Duration) async -> Void = { try? await Task.sleep(for: $0) },
        now: @escaping @Sendable () -> Date = { Date() },
        logger: Logger = Logger(label: "postmark")
    ) {
        self.client = client
        self.memory = memory
        self.webhookUsername = webhookUsername
        self.maxAttempts = max(1, maxAttempts)
        self.initialBackoff = initialBackoff
        self.sleep = sleep
        self.now = now
        self.logger = logger
    }

    /// Reconciles one mail server.
    ///
    /// - Parameters:
    ///   - settings: The mail server's settings (only Postmark-enabled servers should be passed).
    ///   - callbackBaseURL: `BRIDGE_PUBLIC_URL` (configuration's `publicURL`), or `nil` when it is not set.
    /// - Returns: The outcome to report to Odoo; never throws, failures are outcomes.
    public func reconcile(settings: MailServerSettings, callbackBaseURL: URL?) async -> ReconcileOutcome {
        let target: Target
        switch Target.make(settings: settings, callbackBaseURL: callbackBaseURL, username: webhookUsername) {
        case .success(let ready):
            target = ready
        case .failure(let skip):
            logger.info("postmark reconciliation skipped", ["mail_server.id": "\(settings.id)", "reason": skip.log])
            return ReconcileOutcome(mailServerID: settings.id, state: skip.state, message: skip.message, date: now())
        }
        let log = logger.with(["mail_server.id": "\(settings.id)", "postmark.server_id": "\(target.serverID)"])

        var applied: [ReconcileOutcome.Applied] = []
        var attempt = 0
        while true {
            attempt += 1
            do {
                let plan = try await runPass(target, applied: &applied)
                let outcome = successOutcome(mailServerID: settings.id, plan: plan, applied: applied, attempts: attempt)
                log.info("postmark reconciled", ["changes": "\(applied.count)", "attempts": "\(attempt)"])
                return outcome
            } catch {
                let retryable = error.isTransient || error.code == .webhookNotFound
                if retryable && attempt < maxAttempts {
                    let delay = backoff(after: attempt, error: error)
                    log.notice("postmark call failed, retrying", ["error": "\(error)", "attempt": "\(attempt)"])
                    await sleep(delay)
                    continue
                }
                log.warning("postmark reconciliation failed", ["error": "\(error)", "attempts": "\(attempt)"])
                let parts = applied.map(\.message) + [Self.message(for: error, target: target)]
                return ReconcileOutcome(
                    mailServerID: settings.id, state: .error, message: parts.joined(separator: "; "), applied: applied,
                    error: error, attempts: attempt, date: now())
            }
        }
    }

    /// One pass: observe, plan, apply. Appends every change made to `applied` as soon as it is made.
    private func runPass(
        _ target: Target,
        applied: inout [ReconcileOutcome.Applied]
    ) async throws(PostmarkAPIError) -> ReconcilePlan {
        let server = try await client.server(id: target.serverID, accountToken: target.accountToken)
        guard let serverToken = server.apiTokens.first(where: { !$0.isEmpty }) else {
            throw PostmarkAPIError(code: .serverHasNoAPIToken, operation: .readServer)
        }
        let webhooks = try await client.webhooks(messageStream: nil, serverToken: serverToken)

        let observed = ObservedPostmarkState(smtpApiErrorHooks: server.enableSmtpApiErrorHooks, webhooks: webhooks)
        var plan = ReconcilePlan.make(desired: target.desired, observed: observed, rememberedCredentials: memory.all)

        let fingerprint = CredentialFingerprint(target.desired.webhook.credentials)
        for change in plan.changes {
            switch change {
            case .setSmtpApiErrorHooks(let enabled):
                try await client.setSmtpApiErrorHooks(
                    enabled, serverID: target.serverID, accountToken: target.accountToken)
                applied.append(.smtpApiErrorHooks(enabled))
            case .createWebhook(let definition):
                let created = try await client.createWebhook(definition, serverToken: serverToken)
                memory.remember(fingerprint, forWebhook: created.id)
                plan.keptWebhookID = created.id
                applied.append(.webhookCreated(id: created.id))
            case .updateWebhook(let id, let definition, let reasons):
                try await client.updateWebhook(id: id, to: definition, serverToken: serverToken)
                memory.remember(fingerprint, forWebhook: id)
                applied.append(.webhookUpdated(id: id, reasons: reasons))
            case .deleteWebhook(let id, let stream, let reason):
                try await client.deleteWebhook(id: id, serverToken: serverToken)
                memory.forget(webhook: id)
                applied.append(.webhookDeleted(id: id, messageStream: stream, reason: reason))
            }
        }
        return plan
    }

    private func successOutcome(
        mailServerID: Int,
        plan: ReconcilePlan,
        applied: [ReconcileOutcome.Applied],
        attempts: Int
    ) -> ReconcileOutcome {
        var parts = applied.isEmpty ? ["In sync"] : applied.map(\.message)
        if !plan.lookalikeWebhookIDs.isEmpty {
            let ids = plan.lookalikeWebhookIDs.map(String.init).joined(separator: ", ")
            parts.append(
                "Webhook \(ids) posts to this mail server's callback path at another address and was left alone; "
                    + "remove it in Postmark if it is an old address of the bridge")
        }
        return ReconcileOutcome(
            mailServerID: mailServerID, state: .ok, message: parts.joined(separator: "; "), applied: applied,
            attempts: attempts, webhookID: plan.keptWebhookID, date: now())
    }

    private func backoff(after attempt: Int, error: PostmarkAPIError) -> Duration {
        let cap = Duration.seconds(60)
        var delay = initialBackoff * (1 << min(attempt - 1, 10))
        if let retryAfter = error.retryAfter, retryAfter > delay { delay = retryAfter }
        return min(delay, cap)
    }

    /// The admin-readable sentence for an error that ended a reconciliation.
    static func message(for error: PostmarkAPIError, target: Target) -> String {
        let stream = target.desired.webhook.messageStream
        let detail = error.postmarkMessage.map { " (Postmark: \($0))" } ?? ""
        switch error.code {
        case .accountTokenRejected:
            return "Postmark rejected the account token"
        case .serverTokenRejected:
            return "Postmark rejected the server token of server \(target.serverID)"
        case .serverNotFound:
            return "Postmark server \(target.serverID) not found"
        case .serverHasNoAPIToken:
            return "Postmark server \(target.serverID) has no API token; create one on its API Tokens tab"
        case .tooManyWebhooks:
            return "Stream \(stream) already has as many webhooks as Postmark allows; remove one in Postmark"
        case .triggerNotSupported:
            return "Postmark does not offer one of the chosen triggers on stream \(stream)\(detail)"
        case .invalidWebhookURL:
            return "Postmark refused the callback URL \(target.desired.callback.url); check BRIDGE_PUBLIC_URL"
        case .webhookVerificationFailed:
            return "Postmark tested the webhook and \(target.desired.callback.url) did not answer 200; "
                + "check BRIDGE_PUBLIC_URL and the reverse proxy"
        case .webhookNotFound:
            return "The webhook kept disappearing in Postmark while the bridge updated it; will retry"
        case .rejected(let code):
            return "Postmark refused \(error.operation.rawValue) (error \(code))\(detail)"
        case .unavailable:
            return "Postmark is having trouble (HTTP \(error.status ?? 500)); will retry"
        case .rateLimited:
            return "Postmark is rate-limiting the bridge; will retry"
        case .timeout, .connectionFailed:
            return "Postmark is unreachable; will retry"
        case .unexpectedResponse:
            return "Postmark sent an answer the bridge does not understand while \(error.operation.rawValue)"
        }
    }
}

/// A mail server whose settings are complete enough to reconcile.
struct Target: Sendable {
    /// Why a mail server cannot be reconciled yet.
    struct Skip: Error {
        /// The state to report.
        var state: PostmarkSyncState
        /// What the admin should do.
        var message: String
        /// A constant reason for the log.
        var log: String
    }

    /// Postmark's server id.
    var serverID: Int64
    /// The account token (secret).
    var accountToken: String
    /// What Postmark should look like.
    var desired: DesiredPostmarkState

    /// Checks that `settings` are complete and builds the target, or says what is missing.
    static func make(
        settings: MailServerSettings,
        callbackBaseURL: URL?,
        username: String
    ) -> Result<Target, Skip> {
        let serverIDText = settings.postmarkServerID?.trimmingCharacters(in: .whitespaces) ?? ""
        let accountToken = settings.accountToken?.trimmingCharacters(in: .whitespaces) ?? ""
        guard !serverIDText.isEmpty, !accountToken.isEmpty else {
            return .failure(
                Skip(
                    state: .never,
                    message: "Set the Postmark server id and account token to let the bridge configure Postmark",
                    log: "no server id or account token"))
        }
        guard let serverID = Int64(serverIDText), serverID > 0 else {
            return .failure(
                Skip(
                    state: .error, message: "The Postmark server id must be a number, such as 1234567",
                    log: "server id not a number"))
        }
        guard let base = callbackBaseURL?.absoluteString, !base.trimmingCharacters(in: .whitespaces).isEmpty else {
            return .failure(
                Skip(
                    state: .never,
                    message: "Set BRIDGE_PUBLIC_URL on the bridge so it can register its webhook with Postmark",
                    log: "no public URL"))
        }
        guard let callback = WebhookCallbackURL(publicBaseURL: base, mailServerID: settings.id) else {
            return .failure(
                Skip(
                    state: .error,
                    message: "BRIDGE_PUBLIC_URL is not a plain http(s) URL such as https://bridge.example.com",
                    log: "public URL invalid"))
        }
        guard let token = settings.tokens.first(where: { $0.validUntil == nil && !$0.value.isEmpty }) else {
            return .failure(
                Skip(
                    state: .error, message: "Generate a webhook verify token so the bridge can secure its webhook",
                    log: "no current verify token"))
        }

        let desired = DesiredPostmarkState(
            smtpApiErrorHooks: settings.smtpAPIErrors, callback: callback,
            messageStream: settings.messageStream.isEmpty ? "outbound" : settings.messageStream,
            credentials: WebhookCredentials(username: username, password: token.value), triggers: settings.triggers)
        return .success(Target(serverID: serverID, accountToken: accountToken, desired: desired))
    }
}
