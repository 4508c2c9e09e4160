import Foundation

/// One writer thread of an ``InboxStore``: takes batches, commits them on its own connection, and reconnects
/// with backoff when PostgreSQL goes away.
struct InboxWriter {
    /// The store whose batches this writer commits.
    let store: InboxStore
    private var connection: PostgresConnection?

    /// Creates a writer; it connects when its first batch arrives.
    init(store: InboxStore) {
        self.store = store
    }

    /// Commits batches until the store is closed and drained.
    mutating func run() {
        while let batch = store.takeBatch() {
            commit(batch)
            if connection == nil && !store.isAvailable { reconnect() }
        }
        connection?.close()
    }

    private mutating func commit(_ batch: [Waiter]) {
        // Equal keys in one batch: the first occurrence is inserted, later ones share its outcome as duplicates.
        var unique: [String: Int] = [:]
        var events: [InboxEvent] = []
        for waiter in batch where unique[InboxStatements.clean(waiter.event.dedupeKey)] == nil {
            unique[InboxStatements.clean(waiter.event.dedupeKey)] = events.count
            events.append(waiter.event)
        }

        let started = ContinuousClock.now
        let outcomes: [Result<InboxStore.StoreOutcome, InboxError>]
        switch insert(events) {
        case .success(let results):
            outcomes = results.map { .success($0) }
        case .failure(let error) where !error.isTransient && events.count > 1:
            // One event PostgreSQL refuses must not fail the others: store them one by one.
            outcomes = events.map { event in insert([event]).map { $0[0] } }
        case .failure(let error):
            outcomes = Array(repeating: .failure(error), count: events.count)
        }

        var seen = Set<String>()
        let results = batch.map { waiter -> (Waiter, Result<InboxStore.StoreOutcome, InboxError>) in
            let key = InboxStatements.clean(waiter.event.dedupeKey)
            let outcome = outcomes[unique[key]!]
            guard !seen.insert(key).inserted else { return (waiter, outcome) }
            return (waiter, outcome.map { if case .stored(let id) = $0 { .duplicate(id) } else { $0 } })
        }

        let stored = results.count { if case .success(.stored) = $0.1 { true } else { false } }
        let duplicates = results.count { if case .success(.duplicate) = $0.1 { true } else { false } }
        if stored + duplicates > 0 {
            store.recordBatch(
                .init(
                    size: batch.count,
                    stored: stored,
                    duplicates: duplicates,
                    duration: ContinuousClock.now - started
                )
            )
        }
        store.finish(results)
    }

    /// Inserts `events` (unique keys) in one statement, reconnecting once when the connection turns out broken.
    private mutating func insert(_ events: [InboxEvent]) -> Result<[InboxStore.StoreOutcome], InboxError> {
        var retried = false
        while true {
            if connection?.isHealthy != true {
                connection = nil
                guard connect() else { return .failure(InboxError.unavailable) }
                retried = true
            }

            do throws(InboxError) {
                return .success(try InboxStatements.insert(events, on: connection!))
            } catch {
                if error.breaksConnection {
                    connection?.close()
                    connection = nil
                }
                // A connection that was fine at its last use can have been cut since (server restart): one retry on
                // a new connection, harmless since a row already inserted comes back as a duplicate. Timeouts are not
                // retried: the server is slow, not gone.
                if error.droppedConnection && !retried {
                    retried = true
                    continue
                }
                if error.droppedConnection { markUnavailable(error) }
                return .failure(error)
            }
        }
    }

    /// Opens the connection; on failure marks the store unavailable, so that callers are answered at once while
    /// ``reconnect()`` keeps trying.
    private mutating func connect() -> Bool {
        do throws(InboxError) {
            connection = try PostgresConnection(configuration: store.configuration.database)
            return true
        } catch {
            markUnavailable(error)
            return false
        }
    }

    /// Tries to connect with growing pauses until it succeeds, then marks the store available again; gives up
    /// when the store closes.
    private mutating func reconnect() {
        var delay = store.configuration.reconnectDelay
        while store.pause(delay.jittered) {
            do throws(InboxError) {
                connection = try PostgresConnection(configuration: store.configuration.database)
                if store.setAvailable(true) { store.logger.info("inbox reachable again") }
                return
            } catch {
                delay = min(delay * 2, store.configuration.maxReconnectDelay)
                store.logger.debug("inbox reconnect failed", ["error.code": error.code.rawValue])
            }
        }
    }

    private func markUnavailable(_ error: InboxError) {
        if store.setAvailable(false) {
            // Only connection errors get here: libpq's message names host, user and cause, never the password or a
            // statement's values, and the operator needs it.
            store.logger.warning(
                "inbox unreachable, answering unavailable until it is back",
                ["error.code": error.code.rawValue, "error.detail": error.detail ?? ""]
            )
        }
    }
}

extension Duration {
    /// The duration scaled by a random factor between 0.8 and 1.2, so that reconnecting processes spread out.
    fileprivate var jittered: Duration {
        self * Double.random(in: 0.8...1.2)
    }
}
