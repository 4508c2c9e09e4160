import Foundation

/// Everything the bridge runs when Odoo is configured: the settings sync, the dispatcher and the reconciliation
/// of Postmark's side, each as one long-running task.
final class OdooSide: Sendable {
    /// The Odoo client all three share.
    let client: OdooClient
    /// Reads the mail server settings and reports what the bridge sees.
    let sync: OdooSettingsSync
    /// Forwards inbox events into Odoo.
    let dispatcher: Dispatcher
    /// Keeps Postmark's side configured.
    let reconcileLoop: ReconcileLoop
    private let tasks = Locked<[Task<Void, Never>]>([])

    /// Builds the Odoo side; nothing runs until ``start()``.
    init(
        configuration: BridgeConfiguration,
        odoo: OdooConfiguration,
        database: InboxDatabase,
        directory: ServerDirectory,
        metrics: Metrics
    ) {
        let http = URLSessionHTTPClient()
        let client = OdooClient(configuration: odoo, http: http, logger: Logger(label: "odoo"))
        self.client = client

        let reconcileLoop = ReconcileLoop(
            reconciler: Reconciler(
                client: PostmarkAPIClient(baseURL: configuration.postmarkAPIURL, httpClient: http),
                logger: Logger(label: "postmark")),
            publicURL: configuration.publicURL,
            scheduler: ReconcileScheduler(interval: configuration.reconcileInterval),
            report: { outcomes in
                do {
                    try await client.reportMailServers(outcomes.map(\.odooReport))
                } catch {
                    Logger(label: "postmark").warning(
                        "sync outcome not reported to Odoo", ["error": String(describing: error)])
                }
            }
        )
        self.reconcileLoop = reconcileLoop

        let logger = Logger(label: "settings-sync")
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
                reconcileLoop.update(servers)
            },
            logger: logger
        )

        let dispatcher = Dispatcher(
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
        self.dispatcher = dispatcher

        let sync = self.sync
        directory.setUnrecognisedHandler { sync.requestRefresh() }
        metrics.addText { dispatcher.statistics.prometheusText(prefix: "bridge_forward") }
    }

    /// Starts the three loops.
    func start() {
        let (sync, dispatcher, reconcileLoop) = (self.sync, self.dispatcher, self.reconcileLoop)
        let started = [
            Task { await sync.run() },
            Task { await dispatcher.run() },
            Task { await reconcileLoop.run() },
        ]
        tasks.withLock { $0 = started }
    }

    /// Stops the loops: the dispatcher finishes its batch, the sync flushes its reports.
    func stop() async {
        dispatcher.stop()
        sync.stop()
        reconcileLoop.stop()
        for task in tasks.withLock({ $0 }) { await task.value }
    }

    /// Odoo's health as the last call saw it; no call is made here, so probes cost Odoo nothing.
    func readiness() -> ReadinessCheck {
        let status = client.status
        if status.isHealthy {
            return ReadinessCheck(name: "odoo", ok: true, detail: "reachable")
        }
        return ReadinessCheck(name: "odoo", ok: false, detail: status.lastError?.error.description ?? "not reached yet")
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
}
