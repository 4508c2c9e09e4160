import Foundation

/// A single PostgreSQL connection shared by several threads: opened on first use, used by one caller at a time,
/// reopened after it breaks.
///
/// For low-rate work (claiming, status, migrations). Calls block; from async code use ``perform(_:)``, which runs
/// them on the client's own dispatch queue instead of the cooperative pool.
public final class PostgresClient: @unchecked Sendable {
    /// The connection settings.
    public let configuration: PostgresConfiguration

    // Guards `connection`; held for the whole of each call so that one caller uses the connection at a time.
    private let lock = NSLock()
    private var connection: PostgresConnection?
    private var isClosed = false
    private let queue: DispatchQueue

    /// Creates a client; it connects on first use.
    public init(configuration: PostgresConfiguration, label: String = "postgres-client") {
        self.configuration = configuration
        queue = DispatchQueue(label: "postmark-bridge.\(label)")
    }

    /// Runs `body` with the connection, opening it first when needed.
    ///
    /// When a connection that was already open turns out to be broken (the server restarted since its last use),
    /// `body` runs once more on a new connection; `body` must therefore be safe to repeat.
    /// - Throws: the error of `body`, or ``InboxError/Code/connectionFailed``.
    @discardableResult
    public func withConnection<T>(_ body: (PostgresConnection) throws(InboxError) -> T) throws(InboxError) -> T {
        lock.lock()
        defer { lock.unlock() }

        guard !isClosed else { throw InboxError.closed }
        var reused = true
        if connection?.isHealthy != true {
            connection = try PostgresConnection(configuration: configuration)
            reused = false
        }

        do {
            return try body(connection!)
        } catch  where error.breaksConnection || connection?.isHealthy != true {
            connection?.close()
            connection = nil
            guard reused, error.droppedConnection else { throw error }
            connection = try PostgresConnection(configuration: configuration)
            do {
                return try body(connection!)
            } catch {
                if error.breaksConnection || connection?.isHealthy != true {
                    connection?.close()
                    connection = nil
                }
                throw error
            }
        }
    }

    /// Runs `body` with the connection on the client's dispatch queue, keeping blocking libpq calls off Swift's
    /// cooperative threads.
    public func perform<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws(InboxError) -> T)
        async throws(InboxError) -> T
    {
        let result: Result<T, InboxError> = await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: Result { () throws(InboxError) -> T in try self.withConnection(body) })
            }
        }
        return try result.get()
    }

    /// Closes the connection; later calls fail with ``InboxError/Code/closed``.
    public func close() {
        lock.lock()
        defer { lock.unlock() }
        isClosed = true
        connection?.close()
        connection = nil
    }
}
