import Foundation
import Synchronization

/// Everything the bridge runs when Odoo is configured: the settings sync, the dispatcher and the reconciliation
/// of Postmark's side, each as one long-running task.
final class OdooSide: Sendable {
    let client: OdooClient
    let sync: OdooSettingsSync
    let dispatcher: Dispatcher
    private let reconciler: Reconciler
    private let publicURL: URL?
    private let reconcileInterval: Duration
    private let logger = Logger(label: "odoo")
    private let state = Locked(State())

    private struct State {
        var tasks: [Task<Void, Never>] = []
        var synced: [MailServerSettings] = []
        var scheduler = ReconcileScheduler()
        var reconcileWake: CheckedContinuation<Void, Never>?
        var wakeGeneration = 0
        var stopping = false
    }

    /// Builds the Odoo side; nothing runs until ``start()``.
    init(
        configuration: BridgeConfiguration,
        odoo: OdooConfiguration,
        database: InboxDatabase,
        directory: ServerDirectory,
        metrics: Metrics
    ) {
        let http = URLSessionHTTPClient()
        client = OdooClient(configuration: odoo, http: http, logger: Logger(label: "odoo"))
        publicURL = configuration.publicURL
        reconcileInterval = configuration.reconcileInterval
        reconciler = Reconciler(
            client: PostmarkAPIClient(baseURL: configuration.postmarkAPIURL, httpClient: http),
            logger: Logger(label: "postmark"))

        let state = self.state
        let logger = self.logger
        sync = OdooSettingsSync(
            client: client,
            configuration: OdooSettingsSync.Configuration(
                refreshInterval: configuration.settingsRefreshInterval,
                publicURL: configuration.publicURL?.absoluteString
            ),
            sink: { servers in
                do {
                    try directory.replace(with: servers)
                } catch {
                    logger.warning("mail servers not persisted", ["error": String(describing: error)])
                }
                let wake = state.withLock { state -> CheckedContinuation<Void, Never>? in
                    state.synced = servers
                    defer { state.reconcileWake = nil }
                    return state.reconcileWake
                }
                wake?.resume()
            },
            logger: Logger(label: "settings-sync")
        )

        dispatcher = Dispatcher(
            queue: database,
            odoo: client,
            values: { event in
                let decoded = try PostmarkEvent.decode(body: event.payload)
                return decoded.notificationValues(
                    mailServerID: event.mailServerID, dedupeKey: event.dedupeKey, payload: event.payload)
            },
            configuration: Dispatcher.Configuration(batchSize: configuration.forwardBatchSize),
            logger: Logger(label: "dispatcher")
        )

        let sync = self.sync
        directory.setUnrecognisedHandler { sync.requestRefresh() }
        let dispatcher = self.dispatcher
        metrics.addText { dispatcher.statistics.prometheusText(prefix: "bridge_forward") }
    }

    /// Starts the three loops.
    func start() {
        let sync = self.sync
        let dispatcher = self.dispatcher
        let tasks = [
            Task { await sync.run() },
            Task { await dispatcher.run() },
            Task { await self.reconcileLoop() },
        ]
        state.withLock { $0.tasks = tasks }
    }

    /// Stops the loops: the dispatcher finishes its batch, the sync flushes its reports.
    func stop() async {
        let (tasks, wake) = state.withLock { state in
            state.stopping = true
            defer { state.reconcileWake = nil }
            return (state.tasks, state.reconcileWake)
        }
        wake?.resume()
        dispatcher.stop()
        sync.stop()
        for task in tasks { await task.value }
    }

    /// Odoo's health as the last call saw it; no call is made here, so probes cost Odoo nothing.
    func readiness() -> ReadinessCheck {
        let status = client.status
        if let (error, _) = status.lastError {
            return ReadinessCheck(name: "odoo", ok: false, detail: error.description)
        }
        guard status.lastSuccess != nil else {
            return ReadinessCheck(name: "odoo", ok: false, detail: "not reached yet")
        }
        return ReadinessCheck(name: "odoo", ok: true, detail: "reachable")
    }

    /// A new event is in the inbox: forward it now and note the server as seen.
    func eventStored(_ event: InboxEvent) {
        dispatcher.notify()
        sync.noteEvent(mailServerID: event.mailServerID)
    }

    /// A webhook was refused; wrong tokens are reported to Odoo so the admin sees them on the mail server.
    func webhookRejected(mailServerID: Int?, error: WebhookError) {
        guard let mailServerID, error.code == .missingCredentials || error.code == .invalidCredentials else { return }
        sync.noteAuthenticationFailure(mailServerID: mailServerID)
    }

    private func reconcileLoop() async {
        while true {
            let (servers, stopping) = state.withLock { ($0.synced, $0.stopping) }
            if stopping { return }

            let due = state.withLock { $0.scheduler.due(servers, callbackBaseURL: publicURL, now: Date()) }
            var reports: [[String: JSONValue]] = []
            for item in due {
                let outcome = await reconciler.reconcile(settings: item.settings, callbackBaseURL: publicURL)
                logger.info(
                    "postmark reconciled",
                    ["mail_server": String(item.settings.id), "reason": item.reason.rawValue,
                     "state": outcome.state.rawValue, "message": outcome.message])
                state.withLock {
                    $0.scheduler.record(outcome, settings: item.settings, callbackBaseURL: publicURL)
                }
                reports.append([
                    "id": .int(Int64(item.settings.id)),
                    "postmark_sync_state": .string(outcome.state.rawValue),
                    "postmark_sync_message": .string(outcome.message),
                    "postmark_sync_date": .string(PostmarkTimestamp.odooString(outcome.date)),
                    "postmark_sync_requested": .bool(false),
                ])
            }
            if !reports.isEmpty {
                do {
                    try await client.reportMailServers(reports)
                } catch {
                    logger.warning("sync outcome not reported to Odoo", ["error": error.description])
                }
            }

            let next = state.withLock { $0.scheduler.nextDueDate(servers, callbackBaseURL: publicURL, now: Date()) }
            let wait = min(max(next?.timeIntervalSinceNow ?? reconcileInterval.seconds, 1), reconcileInterval.seconds)
            await sleepOrWake(seconds: wait)
        }
    }

    private func sleepOrWake(seconds: Double) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let generation = state.withLock { state -> Int? in
                if state.stopping { return nil }
                state.wakeGeneration += 1
                state.reconcileWake = continuation
                return state.wakeGeneration
            }
            guard let generation else {
                continuation.resume()
                return
            }
            Task {
                try? await Task.sleep(for: .seconds(seconds))
                // Only this wait's own continuation: an earlier wake may have resumed it and a newer wait begun.
                let wake = state.withLock { state -> CheckedContinuation<Void, Never>? in
                    guard state.wakeGeneration == generation else { return nil }
                    defer { state.reconcileWake = nil }
                    return state.reconcileWake
                }
                wake?.resume()
            }
        }
    }
}
