import Dispatch
import Foundation
import Synchronization

/// Forwards inbox events into Odoo: claims a batch, sends it with **one** `bridge_ingest` call, marks it forwarded.
///
/// Exactly once: the inbox gives each event out again until it is marked forwarded (at least once), and Odoo keeps
/// `dedupe_key` unique while `bridge_ingest` answers existing keys with their record id instead of creating a second
/// one (at most once). So a crash between Odoo's commit and ``ForwardingQueue/markForwarded(_:)``, an expired lease, or
/// several dispatchers on one inbox only cost a repeated call, never a second record.
///
/// Failures: a batch Odoo refuses for its content is split in halves until the bad events stand alone, and those are
/// parked with Odoo's reason; when Odoo is unreachable or busy, the batch is rescheduled with exponential backoff and
/// jitter, and the dispatcher stops claiming until the backoff ends; a configuration error (bad key, missing addon)
/// reschedules with a long delay.
public final class Dispatcher: Sendable {
    /// Tuning of the dispatcher.
    public struct Configuration: Sendable {
        /// Events per `bridge_ingest` call.
        public var batchSize: Int
        /// Batches in flight at once in this process.
        public var concurrentBatches: Int
        /// How long a claimed batch stays invisible to other dispatchers. The lease is renewed every third of it while
        /// the batch is in flight, so it bounds how long the events of a crashed bridge wait, not how long Odoo may
        /// take.
        public var lease: Duration
        /// How long an idle loop waits for ``Dispatcher/notify()`` before looking at the inbox again.
        public var idlePoll: Duration
        /// Backoff for events and for the dispatcher itself while Odoo is unreachable.
        public var retry: RetryPolicy
        /// The wait after a configuration error, which needs an admin.
        public var configurationRetryDelay: Duration
        /// Failures after which an event that alone makes Odoo raise an unclassified exception is parked.
        public var maximumServerErrorAttempts: Int
        /// Backoff while the inbox itself fails.
        public var inboxRetry: RetryPolicy

        /// Creates a configuration; the defaults suit a production Odoo.
        public init(
            batchSize: Int = 500,
            concurrentBatches: Int = 2,
            lease: Duration = .seconds(30),
            idlePoll: Duration = .seconds(5),
            retry: RetryPolicy = RetryPolicy(),
            configurationRetryDelay: Duration = .seconds(60),
            maximumServerErrorAttempts: Int = 8,
            inboxRetry: RetryPolicy = RetryPolicy(initialDelay: .milliseconds(500), maximumDelay: .seconds(30))
        ) {
            self.batchSize = max(1, batchSize)
            self.concurrentBatches = max(1, concurrentBatches)
            self.lease = lease
            self.idlePoll = idlePoll
            self.retry = retry
            self.configurationRetryDelay = configurationRetryDelay
            self.maximumServerErrorAttempts = max(1, maximumServerErrorAttempts)
            self.inboxRetry = inboxRetry
        }
    }

    /// Builds the `postmark.notification` values of an event; a thrown error parks the event with its description.
    public typealias ValuesBuilder = @Sendable (PendingEvent) throws -> [String: JSONValue]

    /// The dispatcher's tuning.
    public let configuration: Configuration

    private let queue: any ForwardingQueue
    private let odoo: any NotificationIngesting
    private let buildValues: ValuesBuilder
    private let logger: Logger
    private let wake = WakeSignal()
    private let inboxThreads = DispatchQueue(label: "postmark-bridge.dispatcher.inbox", attributes: .concurrent)
    private let state = Mutex(State())

    private struct State {
        var stopping = false
        var statistics = DispatcherStatistics()
        var pausedUntil: ContinuousClock.Instant?
        var consecutiveOdooFailures = 0
        var consecutiveInboxFailures = 0
        // Unclassified failures per event that Odoo raised for it alone; attempts also count outages.
        var strikes: [Int64: Int] = [:]
    }

    /// Creates a dispatcher; nothing happens until ``run()``.
    ///
    /// - Parameters:
    ///   - queue: the inbox.
    ///   - odoo: where notifications are created, normally an ``OdooClient``.
    ///   - values: builds an event's notification values; the dispatcher sets `dedupe_key` itself.
    public init(
        queue: any ForwardingQueue,
        odoo: any NotificationIngesting,
        values: @escaping ValuesBuilder,
        configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "dispatcher")
    ) {
        self.queue = queue
        self.odoo = odoo
        self.buildValues = values
        self.configuration = configuration
        self.logger = logger
    }

    /// A snapshot of what the dispatcher did so far.
    public var statistics: DispatcherStatistics { state.withLock { $0.statistics } }

    /// Tells the dispatcher that new events are in the inbox, so an idle loop claims them now.
    public func notify() { wake.signal() }

    /// Asks the loops to finish their batch in flight and return from ``run()``.
    public func stop() {
        state.withLock { $0.stopping = true }
        wake.close()
    }

    /// Runs ``Configuration/concurrentBatches`` loops until ``stop()`` (or cancellation, which also lets the batches in
    /// flight finish).
    public func run() async {
        logger.info(
            "dispatcher started",
            [
                "dispatcher.batch_size": String(configuration.batchSize),
                "dispatcher.concurrency": String(configuration.concurrentBatches),
            ]
        )
        await withTaskCancellationHandler {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<configuration.concurrentBatches {
                    group.addTask { await self.loop() }
                }
            }
        } onCancel: {
            stop()
        }
        logger.info("dispatcher stopped")
    }

    /// Forwards due events until the inbox has none left, then returns how many batches it handled; `replay` and tests
    /// use it to drain without running loops.
    @discardableResult
    public func drain() async -> Int {
        var handled = 0
        while !isStopping {
            guard let events = await claim(), !events.isEmpty else { break }
            await forward(events)
            handled += 1
        }
        return handled
    }

    // MARK: - Loop

    private var isStopping: Bool { state.withLock { $0.stopping } }

    private func loop() async {
        while !isStopping {
            if let pause = remainingPause() {
                await wake.wait(timeout: pause)
                continue
            }

            guard let events = await claim() else {
                let failures = state.withLock { $0.consecutiveInboxFailures }
                await wake.wait(timeout: configuration.inboxRetry.delay(afterFailures: failures))
                continue
            }
            if events.isEmpty {
                await wake.wait(timeout: configuration.idlePoll)
                continue
            }
            // An unstructured task is not cancelled with run(), so a stopping bridge still finishes its batch.
            await Task { await self.forward(events) }.value
        }
    }

    private func remainingPause() -> Duration? {
        state.withLock { state in
            guard let until = state.pausedUntil else { return nil }
            let remaining = until - ContinuousClock.now
            guard remaining > .zero else {
                state.pausedUntil = nil
                state.statistics.pausedUntil = nil
                return nil
            }
            return remaining
        }
    }

    private func claim() async -> [PendingEvent]? {
        let limit = configuration.batchSize
        let lease = configuration.lease
        do {
            let events = try await inbox { [queue] in try queue.claim(limit: limit, lease: lease) }
            let recovered = state.withLock { state in
                defer { state.consecutiveInboxFailures = 0 }
                return state.consecutiveInboxFailures > 0
            }
            if recovered { logger.notice("inbox reachable again") }
            return events
        } catch {
            noteInboxFailure(error, operation: "claim")
            return nil
        }
    }

    // MARK: - Forwarding

    private struct Item: Sendable {
        var event: PendingEvent
        var values: [String: JSONValue]
    }

    private enum Outcome {
        case delivered
        case split
        case odooUnavailable(OdooError)
    }

    private func forward(_ events: [PendingEvent]) async {
        state.withLock { $0.statistics.inFlightBatches += 1 }
        defer { state.withLock { $0.statistics.inFlightBatches -= 1 } }

        let renewal = Task { await self.renewLease(of: events.map(\.id)) }
        defer { renewal.cancel() }

        var items: [Item] = []
        items.reserveCapacity(events.count)
        for event in events {
            do {
                var values = try buildValues(event)
                values["dedupe_key"] = .string(event.dedupeKey)
                items.append(Item(event: event, values: values))
            } catch {
                await park(event, reason: "cannot build the Odoo values: \(error)")
            }
        }

        // Halves of a refused batch wait on this stack; the first half is tried first.
        var parts: [ArraySlice<Item>] = items.isEmpty ? [] : [items[...]]
        while let part = parts.popLast() {
            switch await attempt(part) {
            case .delivered:
                continue
            case .split:
                let middle = part.startIndex + part.count / 2
                parts.append(part[middle...])
                parts.append(part[..<middle])
            case .odooUnavailable(let error):
                let rest = parts.flatMap { $0 }
                await rescheduleUnavailable(Array(part) + rest, error: error)
                return
            }
        }
    }

    private func attempt(_ part: ArraySlice<Item>) async -> Outcome {
        let ids: [String: Int]
        do {
            ids = try await odoo.ingestNotifications(part.map(\.values))
        } catch {
            noteOdooFailure(error)
            if error.mayBeCausedByRecords {
                if part.count > 1 { return .split }
                await refuseAlone(part[part.startIndex].event, error: error)
                return .delivered
            }
            return .odooUnavailable(error)
        }
        noteOdooSuccess()

        var forwarded: [Int64: Int] = [:]
        var missing: [PendingEvent] = []
        for item in part {
            if let id = ids[item.event.dedupeKey] {
                forwarded[item.event.id] = id
            } else {
                missing.append(item.event)
            }
        }
        if !forwarded.isEmpty { await markForwarded(forwarded, events: part.map(\.event)) }
        for event in missing {
            let error = OdooError(code: .invalidResponse, message: "bridge_ingest returned no record id for this event")
            await refuseAlone(event, error: error)
        }
        return .delivered
    }

    /// One event made Odoo fail: a permanent refusal parks it; an unclassified failure is retried a few times first.
    private func refuseAlone(_ event: PendingEvent, error: OdooError) async {
        let strikes = state.withLock { state in
            state.strikes[event.id, default: 0] += 1
            return state.strikes[event.id]!
        }
        if error.kind == .permanent || strikes >= configuration.maximumServerErrorAttempts {
            state.withLock { _ = $0.strikes.removeValue(forKey: event.id) }
            await park(event, reason: error.description)
            return
        }
        let delay = configuration.retry.delay(afterFailures: event.attempts + 1)
        await reschedule([event], after: delay, error: error.description)
    }

    private func rescheduleUnavailable(_ items: [Item], error: OdooError) async {
        let pause: Duration
        if error.kind == .configuration {
            pause = configuration.configurationRetryDelay
        } else {
            let failures = state.withLock { $0.consecutiveOdooFailures }
            pause = configuration.retry.delay(afterFailures: failures)
        }
        state.withLock { state in
            let until = ContinuousClock.now + pause
            state.pausedUntil = max(state.pausedUntil ?? until, until)
            state.statistics.pausedUntil = Date().addingTimeInterval(pause.timeInterval)
        }

        let byAttempts = Dictionary(grouping: items.map(\.event), by: \.attempts)
        for (attempts, events) in byAttempts.sorted(by: { $0.key < $1.key }) {
            let delay =
                error.kind == .configuration
                ? configuration.configurationRetryDelay
                : max(pause, configuration.retry.delay(afterFailures: attempts + 1))
            await reschedule(events, after: delay, error: error.description)
        }
    }

    // MARK: - Inbox updates

    private func markForwarded(_ forwarded: [Int64: Int], events: [PendingEvent]) async {
        do {
            try await inbox { [queue] in try queue.markForwarded(forwarded) }
        } catch {
            // Odoo has the records; the lease expires and the next bridge_ingest call finds them.
            noteInboxFailure(error, operation: "mark forwarded")
            return
        }
        let now = Date()
        state.withLock { state in
            if !state.strikes.isEmpty {
                for id in forwarded.keys { state.strikes[id] = nil }
            }
            state.statistics.forwarded += forwarded.count
            state.statistics.batches += 1
            state.statistics.batchSizes.observe(Double(forwarded.count))
            for event in events where forwarded[event.id] != nil {
                state.statistics.forwardLatency.observe(max(0, now.timeIntervalSince(event.receivedAt)))
            }
        }
    }

    private func reschedule(_ events: [PendingEvent], after delay: Duration, error: String) async {
        let ids = events.map(\.id)
        let notBefore = Date().addingTimeInterval(delay.timeInterval)
        do {
            try await inbox { [queue] in try queue.reschedule(ids, notBefore: notBefore, error: error) }
            state.withLock { $0.statistics.retried += ids.count }
        } catch {
            noteInboxFailure(error, operation: "reschedule")
        }
    }

    private func park(_ event: PendingEvent, reason: String) async {
        do {
            try await inbox { [queue] in try queue.park(event.id, reason: reason) }
            state.withLock { $0.statistics.parked += 1 }
            logger.warning(
                "event parked: Odoo refuses it for good; `postmark-bridge replay` requeues it",
                [
                    "inbox.id": String(event.id), "mail_server.id": String(event.mailServerID),
                    "event.attempts": String(event.attempts), "reason": reason,
                ]
            )
        } catch {
            noteInboxFailure(error, operation: "park")
        }
    }

    /// Keeps the batch's lease alive until cancelled, so a slow Odoo call is not mistaken for a dead claimer.
    private func renewLease(of ids: [Int64]) async {
        let lease = configuration.lease
        while true {
            do {
                try await Task.sleep(for: lease / 3)
            } catch {
                return
            }
            do {
                try await inbox { [queue] in try queue.extendLease(ids, lease: lease) }
            } catch {
                noteInboxFailure(error, operation: "extend lease")
            }
        }
    }

    /// Runs a blocking inbox operation off the cooperative thread pool.
    private func inbox<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            inboxThreads.async {
                continuation.resume(with: Result { try body() })
            }
        }
    }

    // MARK: - Health

    private func noteOdooSuccess() {
        let recovered = state.withLock { state in
            defer { state.consecutiveOdooFailures = 0 }
            state.pausedUntil = nil
            state.statistics.pausedUntil = nil
            return state.consecutiveOdooFailures > 0
        }
        if recovered { logger.notice("Odoo accepts notifications again") }
    }

    private func noteOdooFailure(_ error: OdooError) {
        let first = state.withLock { state in
            state.statistics.odooErrors[error.kind, default: 0] += 1
            state.statistics.lastOdooError = error.description
            state.statistics.lastOdooErrorAt = Date()
            guard !error.mayBeCausedByRecords else { return false }
            state.consecutiveOdooFailures += 1
            return state.consecutiveOdooFailures == 1
        }
        // The client logs configuration errors itself, once; a streak of transient ones is logged at its start.
        if first, error.kind == .transient {
            logger.warning(
                "Odoo unavailable; events wait in the inbox and are retried", ["odoo.error": error.description])
        }
    }

    private func noteInboxFailure(_ error: any Error, operation: StaticString) {
        let first = state.withLock { state in
            state.statistics.inboxErrors += 1
            state.consecutiveInboxFailures += 1
            return state.consecutiveInboxFailures == 1
        }
        if first {
            logger.error(
                "inbox operation failed; the dispatcher retries",
                ["inbox.operation": "\(operation)", "inbox.error": "\(error)"]
            )
        }
    }
}
