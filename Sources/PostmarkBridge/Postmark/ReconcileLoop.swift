import Foundation
import Synchronization

/// Keeps every Postmark-enabled mail server reconciled: holds the latest settings, asks the
/// ``ReconcileScheduler`` which servers are due, runs their reconciliations one after the other and hands the
/// outcomes to a reporter (normally `OdooBridgeAPI.reportMailServers` with ``ReconcileOutcome/odooReport``).
///
/// One loop per process; it never reconciles two servers, or one server twice, at the same time.
///
/// ```swift
/// let loop = ReconcileLoop(reconciler: reconciler, publicURL: configuration.publicURL) { outcomes in
///     try? await odoo.reportMailServers(outcomes.map(\.odooReport))
/// }
/// // In the settings sink: loop.update(settings)
/// Task { await loop.run() }
/// ```
public final class ReconcileLoop: Sendable {
    /// Receives the outcomes of each batch of reconciliations (never an empty list).
    public typealias Reporter = @Sendable ([ReconcileOutcome]) async -> Void

    private struct State {
        var servers: [MailServerSettings] = []
        var scheduler: ReconcileScheduler
        var stopping = false
    }

    private let reconciler: Reconciler
    private let publicURL: URL?
    private let tick: Duration
    private let report: Reporter
    private let logger: Logger
    private let wake = WakeSignal()
    private let state: Mutex<State>

    /// Creates a loop; nothing runs until ``run()`` or ``runDue(now:)``.
    ///
    /// - Parameters:
    ///   - reconciler: Does the work for one server.
    ///   - publicURL: `BRIDGE_PUBLIC_URL`, or `nil` (servers are then reported as waiting for it).
    ///   - scheduler: Decides what is due; its intervals default to 15 minutes, and 2 after a transient failure.
    ///   - tick: The longest the loop sleeps before looking again (default 30 s).
    ///   - logger: Where batches are logged.
    ///   - report: Receives each batch's outcomes.
    public init(
        reconciler: Reconciler,
        publicURL: URL?,
        scheduler: ReconcileScheduler = ReconcileScheduler(),
        tick: Duration = .seconds(30),
        logger: Logger = Logger(label: "postmark"),
        report: @escaping Reporter
    ) {
        self.reconciler = reconciler
        self.publicURL = publicURL
        self.tick = tick
        self.report = report
        self.logger = logger
        state = Mutex(State(scheduler: scheduler))
    }

    /// Replaces the settings with `servers` (the Postmark-enabled mail servers) and wakes the loop, so a change
    /// or a "Sync now" is acted on at once.
    public func update(_ servers: [MailServerSettings]) {
        state.withLock { state in
            state.servers = servers
            state.scheduler.retain(only: Set(servers.map(\.id)))
        }
        wake.signal()
    }

    /// Reconciles the servers due at `now`, one after the other, reports the outcomes and returns them.
    @discardableResult
    public func runDue(now: Date = Date()) async -> [ReconcileOutcome] {
        let due = state.withLock { $0.scheduler.due($0.servers, callbackBaseURL: publicURL, now: now) }
        guard !due.isEmpty else { return [] }

        var outcomes: [ReconcileOutcome] = []
        for item in due {
            if state.withLock({ $0.stopping }) { break }
            logger.debug(
                "postmark reconciliation due",
                ["mail_server.id": "\(item.settings.id)", "reason": item.reason.rawValue])
            let outcome = await reconciler.reconcile(settings: item.settings, callbackBaseURL: publicURL)
            state.withLock { $0.scheduler.record(outcome, settings: item.settings, callbackBaseURL: publicURL) }
            outcomes.append(outcome)
        }

        if !outcomes.isEmpty {
            await report(outcomes)
        }
        return outcomes
    }

    /// Runs due reconciliations until ``stop()`` or cancellation, sleeping until the next one is due (at most
    /// `tick`) or ``update(_:)`` brings new settings.
    public func run() async {
        while !state.withLock({ $0.stopping }) && !Task.isCancelled {
            await runDue()

            let now = Date()
            let next = state.withLock { $0.scheduler.nextDueDate($0.servers, callbackBaseURL: publicURL, now: now) }
            var wait = tick
            if let next {
                wait = min(tick, .milliseconds(Int64(max(0, next.timeIntervalSince(now)) * 1000)))
            }
            await wake.wait(timeout: max(.milliseconds(100), wait))
        }
    }

    /// Stops ``run()`` after the reconciliation in progress, if any.
    public func stop() {
        state.withLock { $0.stopping = true }
        wake.close()
    }
}
