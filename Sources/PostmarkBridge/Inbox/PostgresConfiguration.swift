/// How to reach PostgreSQL: a libpq connection string plus the bridge's own timeouts.
///
/// The connection string (``connectionString``) is a secret: it can hold a password, so the configuration never
/// prints it.
public struct PostgresConfiguration: Sendable, CustomStringConvertible {
    /// A libpq connection string, as a URI (`postgresql://user@host:5432/db`) or as `key=value` pairs.
    public var connectionString: String
    /// libpq parameters applied after the connection string, overriding it (tests use it to pick a database).
    public var overrides: [(key: String, value: String)]
    /// How long opening a connection may take. Default 3 s; libpq rounds it to whole seconds, at least 2.
    public var connectTimeout: Duration
    /// How long one statement may take before the connection is cancelled and dropped. Default 10 s.
    public var statementTimeout: Duration
    /// The `application_name` shown in `pg_stat_activity`. Default `postmark-bridge`.
    public var applicationName: String

    /// Creates a configuration with the documented defaults.
    public init(
        connectionString: String,
        overrides: [(key: String, value: String)] = [],
        connectTimeout: Duration = .seconds(3),
        statementTimeout: Duration = .seconds(10),
        applicationName: String = "postmark-bridge"
    ) {
        self.connectionString = connectionString
        self.overrides = overrides
        self.connectTimeout = connectTimeout
        self.statementTimeout = statementTimeout
        self.applicationName = applicationName
    }

    /// A copy with one more override, such as `("dbname", "other")`.
    public func overriding(_ key: String, _ value: String) -> PostgresConfiguration {
        var copy = self
        copy.overrides.append((key, value))
        return copy
    }

    /// Names the timeouts only; the connection string may hold a password.
    public var description: String {
        "PostgresConfiguration(connectTimeout: \(connectTimeout), statementTimeout: \(statementTimeout))"
    }

    /// The keyword/value pairs handed to `PQconnectdbParams`, in order.
    ///
    /// Defaults come before `dbname` so that the connection string can override them; ``overrides`` come after it
    /// so that they win (libpq keeps the last non-empty value of a repeated keyword).
    var libpqParameters: [(String, String)] {
        let seconds = max(2, Int((connectTimeout.components.seconds)))
        var parameters: [(String, String)] = [
            ("connect_timeout", String(seconds)),
            ("application_name", applicationName),
            ("keepalives", "1"),
            ("keepalives_idle", "10"),
            ("keepalives_interval", "3"),
            ("keepalives_count", "3"),
            ("tcp_user_timeout", "15000"),
            ("dbname", connectionString),
        ]
        parameters += overrides.map { ($0.key, $0.value) }
        // Payloads are stored as text with their exact bytes, which needs a UTF-8 session.
        parameters.append(("client_encoding", "UTF8"))
        return parameters
    }
}
