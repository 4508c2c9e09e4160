import CLibPQ
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One libpq connection to PostgreSQL, used by one thread at a time.
///
/// Every statement is parameterised (`PQsendQueryParams`, values in binary format) and results come back in binary
/// format. Calls block the calling thread, so run them on a dedicated thread or dispatch queue, never on Swift's
/// cooperative pool. A statement that outlives ``PostgresConfiguration/statementTimeout`` is cancelled and the
/// connection is closed, so a hung server never hangs the caller for longer.
public final class PostgresConnection {
    private var handle: OpaquePointer?
    private let statementTimeout: Duration
    private var preparedNames: Set<String> = []

    /// Opens a connection.
    /// - Throws: ``InboxError/Code/connectionFailed`` with libpq's message in the debug description.
    public init(configuration: PostgresConfiguration) throws(InboxError) {
        statementTimeout = configuration.statementTimeout
        let parameters = configuration.libpqParameters
        let keywords = parameters.map { strdup($0.0) }
        let values = parameters.map { strdup($0.1) }
        defer {
            keywords.forEach { free($0) }
            values.forEach { free($0) }
        }
        let connection = (keywords.map { UnsafePointer($0) } + [nil]).withUnsafeBufferPointer { keywordBuffer in
            (values.map { UnsafePointer($0) } + [nil]).withUnsafeBufferPointer { valueBuffer in
                PQconnectdbParams(keywordBuffer.baseAddress, valueBuffer.baseAddress, 1)
            }
        }
        guard let connection else { throw InboxError(.connectionFailed, detail: "out of memory") }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.message(PQerrorMessage(connection))
            PQfinish(connection)
            throw InboxError(.connectionFailed, detail: message)
        }
        // libpq prints server notices (such as "relation already exists, skipping") to stderr by default.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        // Non-blocking sends let a statement's deadline cover writing its parameters too (see `send`).
        PQsetnonblocking(connection, 1)
        handle = connection
    }

    deinit {
        if let handle { PQfinish(handle) }
    }

    /// Whether the connection is open and libpq has seen no failure on it.
    public var isHealthy: Bool {
        guard let handle else { return false }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// The server's host (or socket directory) and port, as libpq resolved them.
    public var serverAddress: (host: String, port: String)? {
        guard let handle else { return nil }
        return (Self.message(PQhost(handle)), Self.message(PQport(handle)))
    }

    /// The server's version number, such as `150004` for 15.4.
    public var serverVersion: Int {
        handle.map { Int(PQserverVersion($0)) } ?? 0
    }

    /// Closes the connection; later calls fail with ``InboxError/Code/closed``.
    public func close() {
        if let handle { PQfinish(handle) }
        handle = nil
    }

    /// Runs one parameterised statement and returns its rows.
    /// - Parameters:
    ///   - sql: one SQL statement with `$1…$n` placeholders; never build it from values.
    ///   - binds: the placeholder values, in order.
    ///   - timeout: overrides the configured statement timeout.
    /// - Throws: ``InboxError`` with code `queryFailed`/`uniqueViolation` (and the SQLSTATE) when the server refuses
    ///   the statement, `connectionLost` or `timedOut` when the connection broke (it is then closed).
    @discardableResult
    public func execute(_ sql: String, _ binds: [PostgresBind] = [], timeout: Duration? = nil) throws(InboxError)
        -> PostgresResult
    {
        guard let handle else { throw InboxError.closed }

        let deadline = ContinuousClock.now + (timeout ?? statementTimeout)
        try send(handle, binds, until: deadline) { values, lengths, formats in
            PQsendQueryParams(
                handle, sql, Int32(binds.count), binds.map { Oid($0.typeOID) }, values, lengths, formats, 1)
        }
        return try collect(handle, until: deadline)
    }

    /// Runs a statement prepared once per connection under `name`, saving the server from parsing and planning it
    /// again on each call; for hot statements.
    ///
    /// The first call on a connection prepares `sql` with the types of `binds`; later calls must pass the same
    /// `sql` and types under that name.
    @discardableResult
    public func execute(prepared name: String, _ sql: String, _ binds: [PostgresBind], timeout: Duration? = nil)
        throws(InboxError) -> PostgresResult
    {
        guard let handle else { throw InboxError.closed }

        let deadline = ContinuousClock.now + (timeout ?? statementTimeout)
        if !preparedNames.contains(name) {
            try send(handle, [], until: deadline) { _, _, _ in
                PQsendPrepare(handle, name, sql, Int32(binds.count), binds.map { Oid($0.typeOID) })
            }
            _ = try collect(handle, until: deadline)
            preparedNames.insert(name)
        }
        try send(handle, binds, until: deadline) { values, lengths, formats in
            PQsendQueryPrepared(handle, name, Int32(binds.count), values, lengths, formats, 1)
        }
        return try collect(handle, until: deadline)
    }

    /// Reads every result of the statement in flight; returns the first error, or else the last result.
    private func collect(_ handle: OpaquePointer, until deadline: ContinuousClock.Instant) throws(InboxError)
        -> PostgresResult
    {
        var outcome: Result<PostgresResult, InboxError>?
        while true {
            try awaitResult(handle, until: deadline)
            guard let result = PQgetResult(handle) else { break }
            let decoded = Self.decode(result)
            PQclear(result)
            // Keep the first error, but read every result so the connection is ready for the next statement.
            if case .failure? = outcome { continue }
            outcome = decoded
        }

        guard let outcome else { throw InboxError(.unexpectedResult, detail: "no result") }
        return try outcome.get()
    }

    /// Runs `body` inside `BEGIN … COMMIT`, rolling back when it throws.
    ///
    /// When the connection breaks during `COMMIT` the outcome is unknown; the error is `connectionLost`.
    public func transaction<T>(_ body: (PostgresConnection) throws(InboxError) -> T) throws(InboxError) -> T {
        try execute("BEGIN")
        do {
            let value = try body(self)
            try execute("COMMIT")
            return value
        } catch {
            if isHealthy { _ = try? execute("ROLLBACK") }
            throw error
        }
    }

    /// Queues the statement and flushes it to the server; the connection is non-blocking, so a server that stops
    /// reading cannot block this thread past the deadline.
    private func send(
        _ handle: OpaquePointer,
        _ binds: [PostgresBind],
        until deadline: ContinuousClock.Instant,
        _ queue: ([UnsafePointer<CChar>?], [Int32], [Int32]) -> Int32
    ) throws(InboxError) {
        let lengths = binds.map { Int32($0.bytes?.count ?? 0) }
        let formats = [Int32](repeating: 1, count: binds.count)

        // libpq copies the parameters into its output buffer before returning, so the pointers only need to live
        // for this call.
        let queued = Self.withPointers(binds.map(\.bytes)) { pointers in queue(pointers, lengths, formats) }
        guard queued == 1 else { throw lostConnection(handle) }

        while true {
            let flushed = PQflush(handle)
            if flushed == 0 { return }
            if flushed < 0 { throw lostConnection(handle) }
            // The server may be sending (notices, an early error) while we write: read as well, or both sides stall.
            let ready = try poll(handle, events: Int16(POLLIN | POLLOUT), until: deadline)
            if ready & Int16(POLLIN) != 0 && PQconsumeInput(handle) == 0 { throw lostConnection(handle) }
        }
    }

    /// Waits until the socket is ready for `events`; returns the ready events, or throws `timedOut` (after cancelling
    /// the statement and closing the connection) once the deadline has passed.
    private func poll(_ handle: OpaquePointer, events: Int16, until deadline: ContinuousClock.Instant)
        throws(InboxError) -> Int16
    {
        while true {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else {
                cancelAndClose(handle)
                throw InboxError(.timedOut, detail: "statement exceeded its timeout")
            }
            let milliseconds = Int32(min(remaining / .milliseconds(1), 60_000).rounded(.up))
            var descriptor = pollfd(fd: PQsocket(handle), events: events, revents: 0)
            let ready = Glibc.poll(&descriptor, 1, milliseconds)
            if ready < 0 && errno != EINTR { throw lostConnection(handle) }
            if ready > 0 { return descriptor.revents }
        }
    }

    /// Waits until a whole result is buffered, or the deadline passes (then cancels and closes).
    private func awaitResult(_ handle: OpaquePointer, until deadline: ContinuousClock.Instant) throws(InboxError) {
        while PQisBusy(handle) == 1 {
            _ = try poll(handle, events: Int16(POLLIN), until: deadline)
            if PQconsumeInput(handle) == 0 { throw lostConnection(handle) }
        }
    }

    private func cancelAndClose(_ handle: OpaquePointer) {
        if let cancel = PQgetCancel(handle) {
            var buffer = [CChar](repeating: 0, count: 256)
            _ = PQcancel(cancel, &buffer, Int32(buffer.count))
            PQfreeCancel(cancel)
        }
        close()
    }

    private func lostConnection(_ handle: OpaquePointer) -> InboxError {
        let message = Self.message(PQerrorMessage(handle))
        close()
        return InboxError(.connectionLost, detail: message)
    }

    private static func decode(_ result: OpaquePointer) -> Result<PostgresResult, InboxError> {
        let status = PQresultStatus(result)
        switch status {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            break
        case PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR:
            let sqlState = field(result, "C")
            let message = [field(result, "M"), field(result, "D")].compactMap { $0 }.joined(separator: "; ")
            let code: InboxError.Code = sqlState == "23505" ? .uniqueViolation : .queryFailed
            return .failure(InboxError(code, sqlState: sqlState, detail: message))
        default:
            return .failure(InboxError(.unexpectedResult, detail: Self.message(PQresStatus(status))))
        }

        let columnCount = Int(PQnfields(result))
        let columns = (0..<columnCount).map { index in
            PostgresResult.Column(
                name: message(PQfname(result, Int32(index))), typeOID: UInt32(PQftype(result, Int32(index))))
        }
        let rowCount = Int(PQntuples(result))
        var rows: [PostgresRow] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<Int32(rowCount) {
            var cells: [[UInt8]?] = []
            cells.reserveCapacity(columnCount)
            for column in 0..<Int32(columnCount) {
                if PQgetisnull(result, row, column) == 1 {
                    cells.append(nil)
                } else {
                    let length = Int(PQgetlength(result, row, column))
                    let start = UnsafeRawPointer(PQgetvalue(result, row, column)!)
                    cells.append(Array(UnsafeRawBufferPointer(start: start, count: length)))
                }
            }
            rows.append(PostgresRow(columns: columns, cells: cells))
        }
        let affected = Int(message(PQcmdTuples(result))) ?? 0
        return .success(PostgresResult(columns: columns, rows: rows, affectedRows: affected))
    }

    private static func field(_ result: OpaquePointer, _ code: Character) -> String? {
        guard let value = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
        return String(cString: value)
    }

    private static func message(_ text: UnsafePointer<CChar>?) -> String {
        guard let text else { return "" }
        return String(cString: text).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func withPointers<R>(_ values: [[UInt8]?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        var pointers: [UnsafePointer<CChar>?] = []
        pointers.reserveCapacity(values.count)
        func recurse(_ index: Int) -> R {
            guard index < values.count else { return body(pointers) }
            guard let value = values[index] else {
                pointers.append(nil)
                return recurse(index + 1)
            }
            return value.withUnsafeBufferPointer { buffer in
                // An empty value still needs a non-null pointer, or libpq would send NULL.
                let base = buffer.baseAddress.map { UnsafeRawPointer($0) } ?? UnsafeRawPointer(emptyValue.utf8Start)
                pointers.append(base.assumingMemoryBound(to: CChar.self))
                return recurse(index + 1)
            }
        }
        return recurse(0)
    }
}

private let emptyValue: StaticString = ""
