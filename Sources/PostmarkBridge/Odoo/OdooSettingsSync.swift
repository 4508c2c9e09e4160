import Foundation
import Synchronization

/// Keeps the bridge's mail server settings in step with Odoo and tells Odoo what the bridge sees.
///
/// It reads the Postmark-enabled `ir.mail_server` records on an interval and on request (rate-limited, for a webhook
/// that names an unknown server or token), hands them to a sink, says hello with the bridge's public URL once, and
/// writes back per server the time of the last event and the authentication failures, aggregated in memory and
/// flushed every few seconds rather than per request.
public final class OdooSettingsSync: Sendable {
    /// Tuning and inputs of the sync.
    public struct Configuration: Sendable {
        /// How often settings are read when nobody asks.
        public var refreshInterval: Duration
        /// The shortest time between two reads, however often ``OdooSettingsSync/requestRefresh()`` is called.
        public var minimumRefreshInterval: Duration
        /// How often pending reports are written to Odoo.
        public var reportInterval: Duration
        /// Backoff of reads while Odoo fails.
        public var retry: RetryPolicy
        /// `BRIDGE_PUBLIC_URL`, announced with `postmark_bridge_hello` at start when set.
        public var publicURL: String?
        /// Whether archived mail servers keep receiving events; by default only active servers do.
        public var includeArchivedServers: Bool

        /// Creates a configuration.
        public init(
            refreshInterval: Duration = .seconds(60),
            minimumRefreshInterval: Duration = .seconds(10),
            reportInterval: Duration = .seconds(5),
            retry: RetryPolicy = RetryPolicy(initialDelay: .seconds(2), maximumDelay: .seconds(60)),
            publicURL: String? = nil,
            includeArchivedServers: Bool = false
        ) {
            self.refreshInterval = refreshInterval
            self.minimumRefreshInterval = minimumRefreshInterval
            self.reportInterval = reportInterval
            self.retry = retry
            self.publicURL = publicURL
            self.includeArchivedServers = includeArchivedServers
        }
    }

    /// Receives the full list of settings after every successful read.
    public typealias Sink = @Sendable ([MailServerSettings]) async -> Void

    /// The sync's tuning.
    public let configuration: Configuration

    private let client: OdooClient
    private let sink: Sink
    private let logger: Logger
    private let wake = WakeSignal()
    private let state = Mutex(State())

    private struct Pending: Equatable {
        var lastEventAt: Date?
        var authenticationFailures = 0
        var lastAuthenticationFailureAt: Date?
    }

    private struct State {
        var stopping = false
        var refreshRequested = false
        var lastRefreshAttempt: ContinuousClock.Instant?
        var lastRefresh: Date?
        var consecutiveFailures = 0
        var knownServers: Set<Int> = []
        var failureCounts: [Int: Int] = [:]
        var pending: [Int: Pending] = [:]
        var helloDone = false
    }

    /// Creates a sync; nothing happens until ``run()`` or ``refresh()``.
    public init(
        client: OdooClient,
        configuration: Configuration = Configuration(),
        sink: @escaping Sink,
        logger: Logger = Logger(label: "settings-sync")
    ) {
        self.client = client
        self.configuration = configuration
        self.sink = sink
        self.logger = logger
    }

    /// When settings were last read successfully.
    public var lastRefresh: Date? { state.withLock { $0.lastRefresh } }

    /// Asks for a read soon: at once when the last one is older than the minimum interval, else when it is.
    public func requestRefresh() {
        let due = state.withLock { state -> Bool in
            state.refreshRequested = true
            guard let last = state.lastRefreshAttempt else { return true }
            return ContinuousClock.now - last >= configuration.minimumRefreshInterval
        }
        if due { wake.signal() }
    }

    /// Records that an event for `mailServerID` was accepted at `date`.
    public func noteEvent(mailServerID: Int, at date: Date = Date()) {
        state.withLock { state in
            let current = state.pending[mailServerID]?.lastEventAt ?? .distantPast
            state.pending[mailServerID, default: Pending()].lastEventAt = max(current, date)
        }
    }

    /// Records that a webhook for `mailServerID` came with a missing or wrong token at `date`.
    public func noteAuthenticationFailure(mailServerID: Int, at date: Date = Date()) {
        state.withLock { state in
            var entry = state.pending[mailServerID, default: Pending()]
            entry.authenticationFailures += 1
            entry.lastAuthenticationFailureAt = max(entry.lastAuthenticationFailureAt ?? .distantPast, date)
            state.pending[mailServerID] = entry
        }
    }

    /// Asks ``run()`` to flush its reports and return.
    public func stop() {
        state.withLock { $0.stopping = true }
        wake.close()
    }

    /// Says hello, then reads settings on the interval and on request and flushes reports, until ``stop()`` or
    /// cancellation; pending reports are flushed once more on the way out.
    public func run() async {
        var nextRefresh = ContinuousClock.now
        while !state.withLock({ $0.stopping }) && !Task.isCancelled {
            await helloIfNeeded()

            let now = ContinuousClock.now
            let requested = state.withLock { state in
                state.refreshRequested
                    && (state.lastRefreshAttempt.map { now - $0 >= configuration.minimumRefreshInterval } ?? true)
            }
            if now >= nextRefresh || requested {
                do {
                    _ = try await refresh()
                    nextRefresh = ContinuousClock.now + configuration.refreshInterval
                } catch {
                    let failures = state.withLock { $0.consecutiveFailures }
                    let delay = min(configuration.refreshInterval, configuration.retry.delay(afterFailures: failures))
                    nextRefresh = ContinuousClock.now + delay
                }
            }

            await flushReports()
            let untilRefresh = nextRefresh - ContinuousClock.now
            await wake.wait(timeout: max(.milliseconds(10), min(configuration.reportInterval, untilRefresh)))
        }
        await flushReports()
    }

    /// Reads the settings now, hands them to the sink and returns them.
    @discardableResult
    public func refresh() async throws(OdooError) -> [MailServerSettings] {
        state.withLock { state in
            state.refreshRequested = false
            state.lastRefreshAttempt = ContinuousClock.now
        }

        let records: [JSONValue]
        do {
            records = try await client.readPostmarkMailServers(
                fields: MailServerRecords.fields, includeArchived: configuration.includeArchivedServers
            )
        } catch {
            let first = state.withLock { state in
                state.consecutiveFailures += 1
                return state.consecutiveFailures == 1
            }
            if first, error.kind != .configuration {
                logger.warning(
                    "cannot read mail server settings from Odoo; keeping the last known ones",
                    ["odoo.error": error.description]
                )
            }
            throw error
        }

        let settings = MailServerRecords.settings(from: records)
        let counts = MailServerRecords.authenticationFailureCounts(from: records)
        let (changed, recovered) = state.withLock { state in
            let ids = Set(settings.map(\.id))
            let changed = ids != state.knownServers || state.lastRefresh == nil
            let recovered = state.consecutiveFailures > 0
            state.knownServers = ids
            state.failureCounts = counts
            state.lastRefresh = Date()
            state.consecutiveFailures = 0
            return (changed, recovered)
        }
        if changed || recovered {
            logger.info(
                "mail server settings read from Odoo",
                [
                    "mail_servers": String(settings.count),
                    "mail_server.ids": settings.map { String($0.id) }.joined(separator: ","),
                ]
            )
        }
        await sink(settings)
        return settings
    }

    /// Writes the pending reports of known servers with one `postmark_bridge_report` call; keeps them when Odoo is
    /// unreachable, drops them when Odoo refuses them for good.
    public func flushReports() async {
        let (reports, taken) = state.withLock { state -> ([[String: JSONValue]], [Int: Pending]) in
            let taken = state.pending.filter { state.knownServers.contains($0.key) }
            for id in state.pending.keys where !state.knownServers.contains(id) && state.lastRefresh != nil {
                state.pending[id] = nil
            }
            for id in taken.keys { state.pending[id] = nil }
            let reports = taken.keys.sorted().map { id in
                Self.report(id: id, pending: taken[id]!, previousFailures: state.failureCounts[id, default: 0])
            }
            return (reports, taken)
        }
        guard !reports.isEmpty else { return }

        do {
            try await client.reportMailServers(reports)
            state.withLock { state in
                for (id, pending) in taken { state.failureCounts[id, default: 0] += pending.authenticationFailures }
            }
        } catch let error where error.kind == .permanent {
            logger.warning("Odoo refused the bridge's mail server report; dropped", ["odoo.error": error.description])
        } catch {
            state.withLock { state in
                for (id, old) in taken {
                    var merged = state.pending[id, default: Pending()]
                    merged.lastEventAt = [merged.lastEventAt, old.lastEventAt].compactMap { $0 }.max()
                    merged.authenticationFailures += old.authenticationFailures
                    merged.lastAuthenticationFailureAt =
                        [merged.lastAuthenticationFailureAt, old.lastAuthenticationFailureAt].compactMap { $0 }.max()
                    state.pending[id] = merged
                }
            }
        }
    }

    private static func report(id: Int, pending: Pending, previousFailures: Int) -> [String: JSONValue] {
        var report: [String: JSONValue] = ["id": .int(Int64(id))]
        if let lastEventAt = pending.lastEventAt {
            report["postmark_last_event_date"] = .string(OdooDateTime.string(from: lastEventAt))
        }
        if pending.authenticationFailures > 0 {
            report["postmark_auth_failure_count"] = .int(Int64(previousFailures + pending.authenticationFailures))
        }
        if let at = pending.lastAuthenticationFailureAt {
            report["postmark_last_auth_failure_date"] = .string(OdooDateTime.string(from: at))
        }
        return report
    }

    private func helloIfNeeded() async {
        guard let publicURL = configuration.publicURL, !state.withLock({ $0.helloDone }) else { return }
        do {
            let answer = try await client.sayHello(publicURL: publicURL)
            state.withLock { $0.helloDone = true }
            logger.info(
                "announced the bridge's public URL to Odoo",
                [
                    "bridge.public_url": publicURL,
                    "odoo.addon_version": answer["addon_version"]?.odooString ?? "-",
                ]
            )
        } catch {
            // Retried on the next round; the client logs configuration errors itself.
            logger.debug("hello to Odoo failed", ["odoo.error": error.description])
        }
    }
}
