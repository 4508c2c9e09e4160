/// Everything that can go wrong in the inbox and its PostgreSQL connection.
///
/// ``description`` names the code and, for query failures, the SQLSTATE; it never carries SQL parameter values,
/// payload bodies or the connection string. ``debugDescription`` adds libpq's or the server's own message, which can
/// quote a value, so log it only at debug level.
public struct InboxError: Error, Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What kind of failure happened; callers (the HTTP router, the dispatcher) switch on it.
    public enum Code: String, Sendable, Equatable, CaseIterable {
        /// No connection to PostgreSQL could be opened.
        case connectionFailed = "connection_failed"
        /// The connection broke while a statement was running; its outcome is unknown.
        case connectionLost = "connection_lost"
        /// PostgreSQL refused a statement; ``InboxError/sqlState`` says why.
        case queryFailed = "query_failed"
        /// A statement broke a unique constraint (SQLSTATE 23505).
        case uniqueViolation = "unique_violation"
        /// A statement or a store did not finish within its timeout.
        case timedOut = "timed_out"
        /// The inbox is known to be unreachable right now; it reconnects on its own.
        case unavailable
        /// Too many events are already waiting to be stored; try again shortly.
        case saturated
        /// The store or connection was closed.
        case closed
        /// A result did not have the shape the inbox expected.
        case unexpectedResult = "unexpected_result"
        /// The schema could not be brought up to date.
        case migrationFailed = "migration_failed"
        /// A caller passed a value the inbox cannot store, such as a payload that is not UTF-8.
        case invalidArgument = "invalid_argument"
    }

    /// What kind of failure happened.
    public var code: Code
    /// The five-character SQLSTATE PostgreSQL reported, when it reported one.
    public var sqlState: String?
    /// libpq's or the server's message; may quote values, so it only appears in ``debugDescription``.
    public var detail: String?

    /// Creates an error.
    public init(_ code: Code, sqlState: String? = nil, detail: String? = nil) {
        self.code = code
        self.sqlState = sqlState
        self.detail = detail
    }

    /// Whether retrying the same operation later can succeed: the database was unreachable, busy or slow, or the
    /// bridge was shutting down. The HTTP router answers these with 503 and `Retry-After`.
    public var isTransient: Bool {
        switch code {
        case .connectionFailed, .connectionLost, .timedOut, .unavailable, .saturated, .closed: true
        case .queryFailed: sqlState.map(Self.isTransientSQLState) ?? false
        case .uniqueViolation, .unexpectedResult, .migrationFailed, .invalidArgument: false
        }
    }

    /// Whether the connection the error happened on can no longer be used.
    var breaksConnection: Bool {
        switch code {
        case .connectionFailed, .connectionLost, .timedOut, .closed: true
        default: sqlState.map { $0.hasPrefix("08") || $0.hasPrefix("57P") } ?? false
        }
    }

    /// Whether the server or the network dropped the connection (as opposed to a timeout): the statement may
    /// succeed on a new connection.
    var droppedConnection: Bool {
        code == .connectionLost || (code == .queryFailed && breaksConnection)
    }

    /// A short, secret-free text: the code, and the SQLSTATE when there is one.
    public var description: String {
        if let sqlState { return "inbox: \(code.rawValue) (SQLSTATE \(sqlState))" }
        return "inbox: \(code.rawValue)"
    }

    /// The description followed by libpq's or the server's message.
    public var debugDescription: String {
        guard let detail, !detail.isEmpty else { return description }
        return "\(description): \(detail)"
    }

    /// Equality on the code and SQLSTATE only, so tests and callers can compare with the static members.
    public static func == (lhs: InboxError, rhs: InboxError) -> Bool {
        lhs.code == rhs.code && lhs.sqlState == rhs.sqlState
    }

    /// Too many events are waiting to be stored.
    public static let saturated = InboxError(.saturated)
    /// The inbox is known to be unreachable right now.
    public static let unavailable = InboxError(.unavailable)
    /// The store or connection was closed.
    public static let closed = InboxError(.closed)

    // Serialization failures, deadlocks, lock timeouts, "too many connections", admin shutdown, crash recovery and
    // connection exceptions all pass when retried later.
    private static func isTransientSQLState(_ state: String) -> Bool {
        state == "40001" || state == "40P01" || state == "55P03" || state == "53300" || state.hasPrefix("08")
            || state.hasPrefix("57P")
    }
}
