import Foundation

/// Stores accepted webhooks durably, committing the events of many concurrent callers together (group commit).
///
/// ``store(_:)`` is called synchronously from many connection threads at once. Each call queues its event and
/// waits; a few writer threads, each with its own connection, take whatever is waiting and insert the whole batch
/// with one statement and one commit, then wake each caller with its own outcome. Throughput is therefore bounded
/// by batches per second, not by one fsync per request; `synchronous_commit` stays as the server has it (on).
///
/// Failure behaviour: a full queue answers ``InboxError/Code/saturated`` at once; while PostgreSQL is unreachable
/// every call answers ``InboxError/Code/unavailable`` at once, and the writers reconnect with backoff in the
/// background, so the store recovers by itself. A caller never waits longer than
/// ``Configuration/waitTimeout``.
public final class InboxStore: @unchecked Sendable {
    /// Tuning of the store; every field has a default.
    public struct Configuration: Sendable {
        /// The inbox database.
        public var database: PostgresConfiguration
        /// How many writer threads (and connections) commit batches in parallel. Default 2.
        public var writers: Int
        /// The most events one batch holds. Default 512.
        public var maxBatchSize: Int
        /// The most events waiting for a writer; beyond it ``store(_:)`` answers `saturated`. Default 8192.
        public var maxWaiting: Int
        /// The longest a caller waits for its commit before it gets `timedOut`. Default 5 s.
        public var waitTimeout: Duration
        /// The first pause before reconnecting after PostgreSQL became unreachable; it doubles. Default 50 ms.
        public var reconnectDelay: Duration
        /// The longest pause between reconnection attempts. Default 2 s.
        public var maxReconnectDelay: Duration

        /// Creates a configuration with the documented defaults.
        public init(
            database: PostgresConfiguration,
            writers: Int = 2,
            maxBatchSize: Int = 512,
            maxWaiting: Int = 8192,
            waitTimeout: Duration = .seconds(5),
            reconnectDelay: Duration = .milliseconds(50),
            maxReconnectDelay: Duration = .seconds(2)
        ) {
            self.database = database
            self.writers = max(1, writers)
            self.maxBatchSize = max(1, maxBatchSize)
            self.maxWaiting = max(1, maxWaiting)
            self.waitTimeout = waitTimeout
            self.reconnectDelay = reconnectDelay
            self.maxReconnectDelay = max(reconnectDelay, maxReconnectDelay)
        }
    }

    /// What happened to a stored event.
    public enum StoreOutcome: Sendable, Equatable {
        /// The event is new and committed under this inbox id.
        case stored(Int64)
        /// An event with the same dedupe key was already in the inbox (or earlier in the same batch); its id when
        /// known (a row committed by another process during this very statement is not visible to it).
        case duplicate(Int64?)
    }

    /// One committed batch, as reported to ``Observer/batchCommitted``.
    public struct BatchReport: Sendable, Equatable {
        /// Events in the batch (callers served by its one commit).
        public var size: Int
        /// Events newly stored.
        public var stored: Int
        /// Events recognised as duplicates, of an earlier row or of an event earlier in the batch.
        public var duplicates: Int
        /// Time from taking the batch to its commit.
        public var duration: Duration
    }

    /// Hooks for metrics; each is called on the thread that produced the figure and must return quickly.
    public struct Observer: Sendable {
        /// Called by a writer after each committed batch.
        public var batchCommitted: (@Sendable (BatchReport) -> Void)?
        /// Called by the caller's thread when ``store(_:)`` returns: the time it took and what came of it.
        public var storeFinished: (@Sendable (Duration, Result<StoreOutcome, InboxError>) -> Void)?

        /// Creates an observer from its hooks.
        public init(
            batchCommitted: (@Sendable (BatchReport) -> Void)? = nil,
            storeFinished: (@Sendable (Duration, Result<StoreOutcome, InboxError>) -> Void)? = nil
        ) {
            self.batchCommitted = batchCommitted
            self.storeFinished = storeFinished
        }
    }

    /// Running totals since the store was created.
    public struct Statistics: Sendable, Equatable {
        /// Batches committed.
        public var batches = 0
        /// Events newly stored.
        public var stored = 0
        /// Events answered `duplicate`.
        public var duplicates = 0
        /// Calls answered `saturated`.
        public var saturated = 0
        /// Calls answered `unavailable` or `timedOut`, or failed by a broken connection.
        public var unavailable = 0
        /// Calls failed for another reason (PostgreSQL refused the event).
        public var failed = 0
    }

    /// The settings the store runs with.
    public let configuration: Configuration
    /// The metrics hooks.
    let observer: Observer
    /// Where the writers report connection loss and recovery.
    let logger: Logger

    /// Guards the properties below; writers wait on it for work, and for the delay before reconnecting.
    let condition = NSCondition()
    /// Callers waiting for a writer, oldest first, from `waitingHead` on (taken entries are dropped lazily).
    var waiting: [Waiter] = []
    /// Index of the oldest entry of `waiting` not yet taken by a writer.
    var waitingHead = 0
    /// False while PostgreSQL is known to be unreachable: calls then fail at once.
    var available = true
    /// Set by ``close()``.
    var isClosed = false
    /// The running totals behind ``statistics``.
    var totals = Statistics()
    private let writersDone = DispatchGroup()

    /// Creates the store and starts its writer threads; they connect when the first batch arrives.
    public init(configuration: Configuration, observer: Observer = Observer(), logger: Logger = Logger(label: "inbox"))
    {
        self.configuration = configuration
        self.observer = observer
        self.logger = logger
        for index in 0..<configuration.writers {
            writersDone.enter()
            let thread = Thread { [self] in
                var writer = InboxWriter(store: self)
                writer.run()
                writersDone.leave()
            }
            thread.name = "inbox-writer-\(index)"
            thread.start()
        }
    }

    /// Stores `event` durably, or recognises it as a duplicate, and returns once that is committed.
    ///
    /// Blocks the calling thread for about one commit; never call it from Swift's cooperative pool.
    /// - Throws: `saturated` when too many events are waiting, `unavailable` while PostgreSQL is unreachable,
    ///   `timedOut` after ``Configuration/waitTimeout``, `closed` after ``close()``, `invalidArgument` or
    ///   `queryFailed` when PostgreSQL refuses this event. After `timedOut` the event may still be committed: a
    ///   redelivery is then answered `duplicate`.
    public func store(_ event: InboxEvent) throws(InboxError) -> StoreOutcome {
        let started = ContinuousClock.now
        let result = Result { () throws(InboxError) -> StoreOutcome in try enqueueAndWait(event) }
        observer.storeFinished?(ContinuousClock.now - started, result)
        return try result.get()
    }

    /// Whether the store believes PostgreSQL is reachable (false between a connection failure and the reconnect).
    public var isAvailable: Bool {
        condition.lock()
        defer { condition.unlock() }
        return available && !isClosed
    }

    /// Events waiting for a writer right now.
    public var waitingCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return waiting.count - waitingHead
    }

    /// Running totals since the store was created.
    public var statistics: Statistics {
        condition.lock()
        defer { condition.unlock() }
        return totals
    }

    /// Stops taking events, commits those already waiting, and closes the connections.
    ///
    /// Returns when the writers have finished; calls made afterwards fail with `closed`.
    public func close() {
        condition.lock()
        isClosed = true
        condition.broadcast()
        condition.unlock()
        writersDone.wait()
    }

    private func enqueueAndWait(_ event: InboxEvent) throws(InboxError) -> StoreOutcome {
        guard Int32(exactly: event.mailServerID) != nil else {
            throw InboxError(.invalidArgument, detail: "mail server id out of range")
        }
        let waiter = Waiter(event: event)

        condition.lock()
        if isClosed {
            condition.unlock()
            throw InboxError.closed
        }
        if !available {
            totals.unavailable += 1
            condition.unlock()
            throw InboxError.unavailable
        }
        if waiting.count - waitingHead >= configuration.maxWaiting {
            totals.saturated += 1
            condition.unlock()
            throw InboxError.saturated
        }
        waiting.append(waiter)
        // Broadcast, not signal: a writer pausing before a reconnect waits on the same condition and must not
        // swallow the wake-up meant for an idle writer.
        condition.broadcast()
        condition.unlock()

        if waiter.semaphore.wait(timeout: .now() + configuration.waitTimeout.timeInterval) == .timedOut {
            condition.lock()
            defer { condition.unlock() }
            // A writer may have finished it between the timeout and this lock.
            if let result = waiter.result { return try result.get() }
            waiter.isAbandoned = true
            totals.unavailable += 1
            throw InboxError(.timedOut, detail: "no commit within the wait timeout")
        }
        return try waiter.result!.get()
    }

    /// Takes the next batch for a writer, waiting for work; `nil` once the store is closed and drained.
    func takeBatch() -> [Waiter]? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            let count = waiting.count - waitingHead
            if count > 0 {
                let end = waitingHead + min(count, configuration.maxBatchSize)
                let batch = waiting[waitingHead..<end].filter { !$0.isAbandoned }
                waitingHead = end
                if waitingHead == waiting.count {
                    waiting.removeAll(keepingCapacity: true)
                    waitingHead = 0
                } else if waitingHead > 4 * configuration.maxBatchSize {
                    waiting.removeFirst(waitingHead)
                    waitingHead = 0
                }
                if !batch.isEmpty { return batch }
                continue
            }
            if isClosed { return nil }
            condition.wait()
        }
    }

    /// Wakes each waiter of a finished batch with its outcome and updates the totals.
    func finish(_ outcomes: [(Waiter, Result<StoreOutcome, InboxError>)]) {
        condition.lock()
        for (waiter, result) in outcomes {
            waiter.result = result
            switch result {
            case .success(.stored): totals.stored += 1
            case .success(.duplicate): totals.duplicates += 1
            case .failure(let error) where error.isTransient: totals.unavailable += 1
            case .failure: totals.failed += 1
            }
        }
        condition.unlock()
        for (waiter, _) in outcomes { waiter.semaphore.signal() }
    }

    /// Records a committed batch.
    func recordBatch(_ report: BatchReport) {
        condition.lock()
        totals.batches += 1
        condition.unlock()
        observer.batchCommitted?(report)
    }

    /// Marks PostgreSQL unreachable (calls fail fast) or reachable again; returns whether that changed anything.
    @discardableResult
    func setAvailable(_ value: Bool) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard available != value else { return false }
        available = value
        return true
    }

    /// Sleeps for `delay` unless the store closes first; returns false when it closed.
    func pause(_ delay: Duration) -> Bool {
        let deadline = Date(timeIntervalSinceNow: delay.timeInterval)
        condition.lock()
        defer { condition.unlock() }
        while !isClosed {
            if !condition.wait(until: deadline) { return true }
        }
        return false
    }

    /// Whether ``close()`` was called.
    var closed: Bool {
        condition.lock()
        defer { condition.unlock() }
        return isClosed
    }
}

/// One caller of ``InboxStore/store(_:)`` waiting for its batch.
final class Waiter: @unchecked Sendable {
    /// The event to store.
    let event: InboxEvent
    /// Signalled once `result` is set.
    let semaphore = DispatchSemaphore(value: 0)
    /// The outcome; written under the store's lock before `semaphore` is signalled.
    var result: Result<InboxStore.StoreOutcome, InboxError>?
    /// Set when the caller gave up waiting, so that a writer skips the event.
    var isAbandoned = false

    /// Creates a waiter for `event`.
    init(event: InboxEvent) {
        self.event = event
    }
}
