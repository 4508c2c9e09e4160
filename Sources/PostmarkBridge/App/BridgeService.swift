import Foundation

/// The running bridge: HTTP server, inbox, server directory and, when Odoo is configured, the Odoo side.
///
/// Built from the configuration by ``init(configuration:database:logger:)``, started by ``start()`` and stopped
/// gracefully by ``stop()``: the listener closes, requests in flight finish, waiting events are committed, the
/// dispatcher finishes its batch, and the database connections close.
final class BridgeService: Sendable {
    /// The configuration it was built from.
    let configuration: BridgeConfiguration
    /// The inbox database, for migrations, status and the forwarding queue.
    let database: InboxDatabase
    /// The metrics `GET /metrics` renders.
    let metrics = Metrics()
    /// The mail servers webhooks are accepted for.
    let directory: ServerDirectory
    /// The group-commit store webhooks are committed to.
    let store: InboxStore
    /// The HTTP server.
    let server: HTTPServer
    /// The Odoo side, when Odoo is configured.
    let odoo: OdooSide?
    private let logger: Logger

    /// Wires the components together; nothing runs until ``start()``.
    /// - Parameters:
    ///   - postgres: how the group-commit store reaches the inbox (the same database as `database`).
    init(
        configuration: BridgeConfiguration,
        database: InboxDatabase,
        postgres: PostgresConfiguration,
        logger: Logger
    ) throws {
        self.configuration = configuration
        self.database = database
        self.logger = logger

        let fileServers = try configuration.serversFile.map { path throws in try ServersFile.load(path: path) } ?? []
        let directory = ServerDirectory(fileServers: fileServers, store: database)
        self.directory = directory
        do {
            let loaded = try directory.loadFromStore()
            logger.info("mail servers loaded", ["from_file": String(fileServers.count), "from_inbox": String(loaded)])
        } catch {
            logger.warning("last known mail servers unreadable", ["error": String(describing: error)])
        }

        let metrics = self.metrics
        let store = InboxStore(
            configuration: InboxStore.Configuration(
                database: postgres,
                maxWaiting: configuration.inboxQueueLimit
            ),
            observer: InboxStore.Observer(
                batchCommitted: { report in metrics.commitBatchSize.observe(Double(report.size)) },
                storeFinished: { duration, _ in metrics.storeLatency.observe(duration.timeInterval) }
            ),
            logger: Logger(label: "inbox")
        )
        self.store = store

        let odoo = configuration.odoo.map { odooConfiguration in
            OdooSide(
                configuration: configuration, odoo: odooConfiguration, database: database, directory: directory,
                metrics: metrics)
        }

        self.odoo = odoo
        let router = BridgeRouter(
            directory: directory,
            sink: store,
            metrics: metrics,
            readiness: {
                var checks = [BridgeService.inboxReadiness(database: database, store: store)]
                if let odoo { checks.append(odoo.readiness()) }
                return checks
            },
            onStored: { event in odoo?.eventStored(event) },
            onRejected: { id, error in odoo?.webhookRejected(mailServerID: id, error: error) }
        )
        server = HTTPServer(
            configuration: HTTPServerConfiguration(
                host: configuration.listenHost,
                port: configuration.listenPort,
                maxBodyBytes: configuration.maxBodyBytes,
                readTimeout: configuration.readTimeout,
                idleTimeout: configuration.idleTimeout,
                maxConnections: configuration.maxConnections
            ),
            responder: router,
            logger: Logger(label: "http"),
            observer: MetricsHTTPObserver(metrics: metrics)
        )
        metrics.addSampledGauge(
            name: "bridge_inbox_waiting", help: "Events waiting for the group commit.",
            sample: { Double(store.waitingCount) })
    }

    /// Starts listening and, with Odoo configured, the settings sync, the dispatcher and the reconciler.
    func start() throws {
        let port = try server.start()
        logger.info("listening", ["address": "\(configuration.listenHost):\(port)"])
        if configuration.odoo == nil {
            logger.notice("Odoo not configured; events are kept in the inbox until it is")
        }
        odoo?.start()
    }

    /// Stops everything gracefully; returns when it is all down.
    func stop() async {
        let server = self.server
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            // Shutdown blocks until connections drain, so it runs on its own thread.
            Thread.detachNewThread {
                server.shutdown(gracePeriod: .seconds(10))
                continuation.resume()
            }
        }
        await odoo?.stop()
        store.close()
    }

    /// The inbox's readiness: a short `SELECT 1` within a second.
    static func inboxReadiness(database: InboxDatabase, store: InboxStore) -> ReadinessCheck {
        do {
            try database.ping(timeout: .seconds(1))
            return ReadinessCheck(name: "inbox", ok: true, detail: "reachable")
        } catch {
            return ReadinessCheck(name: "inbox", ok: false, detail: error.description)
        }
    }
}

/// Counts HTTP responses and connections into ``Metrics``.
struct MetricsHTTPObserver: HTTPServerObserver {
    /// The registry counted into.
    let metrics: Metrics

    /// Counts an opened connection.
    func connectionOpened() { metrics.openConnections.add(1) }
    /// Counts a closed connection.
    func connectionClosed() { metrics.openConnections.add(-1) }
    /// Counts a response by status.
    func responseSent(status: Int, duration: Duration) { metrics.httpRequests.increment([String(status)]) }
}
