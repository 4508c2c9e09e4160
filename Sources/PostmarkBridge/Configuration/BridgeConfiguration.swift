import Foundation

/// Why the configuration could not be read. Messages name the variable, never its value.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of problem.
    public enum Code: Sendable, Equatable {
        /// A required variable is not set.
        case missing
        /// A variable is set to something that cannot be used.
        case invalid(String)
        /// Some but not all variables of a group are set.
        case incomplete(missing: [String])
    }

    /// The kind of problem.
    public var code: Code
    /// The environment variable concerned.
    public var variable: String

    /// A message for the operator.
    public var description: String {
        switch code {
        case .missing:
            return "\(variable) is required but not set"
        case .invalid(let expectation):
            return "\(variable) is invalid: expected \(expectation)"
        case .incomplete(let missing):
            return "\(variable) is set but \(missing.joined(separator: ", ")) \(missing.count == 1 ? "is" : "are") not"
        }
    }
}

/// Every setting of the bridge, read once from the environment by ``load(environment:)``.
///
/// Nothing else in the bridge reads the environment. Secrets stay out of ``description``.
public struct BridgeConfiguration: Sendable, CustomStringConvertible {
    /// libpq connection string of the inbox (`BRIDGE_DATABASE_URL`, required).
    public var databaseURL: String
    /// Odoo connection (`ODOO_URL`, `ODOO_DB`, `ODOO_USER`, `ODOO_API_KEY`); `nil` runs the bridge without Odoo:
    /// webhooks are accepted and kept in the inbox until Odoo is configured.
    public var odoo: OdooConfiguration?
    /// Host to listen on (`BRIDGE_LISTEN`, default `127.0.0.1:8080`).
    public var listenHost: String
    /// Port to listen on; 0 picks a free one.
    public var listenPort: Int
    /// Base URL Postmark reaches the bridge at (`BRIDGE_PUBLIC_URL`), used for callback URLs.
    public var publicURL: URL?
    /// Mail server settings as code (`BRIDGE_SERVERS_FILE`).
    public var serversFile: String?
    /// Postmark API base (`POSTMARK_API_URL`, default `https://api.postmarkapp.com`).
    public var postmarkAPIURL: URL
    /// Lowest log level written (`LOG_LEVEL`, default `info`).
    public var logLevel: Logger.Level
    /// Log line format (`LOG_FORMAT`, `text` or `json`, default `text`).
    public var logFormat: Logger.Format
    /// Largest accepted webhook body in bytes (`BRIDGE_MAX_BODY_BYTES`, default 10 MiB: a Bounce with its
    /// full dump fits).
    public var maxBodyBytes: Int
    /// Most connections open at once (`BRIDGE_MAX_CONNECTIONS`, default 512); more are answered 503.
    public var maxConnections: Int
    /// Seconds a client may take to send one request (`BRIDGE_READ_TIMEOUT`, default 10).
    public var readTimeout: Duration
    /// Seconds an idle keep-alive connection stays open (`BRIDGE_IDLE_TIMEOUT`, default 60).
    public var idleTimeout: Duration
    /// Events waiting for the group commit before the bridge answers 503 (`BRIDGE_INBOX_QUEUE_LIMIT`,
    /// default 4096).
    public var inboxQueueLimit: Int
    /// Events per `bridge_ingest` call (`BRIDGE_FORWARD_BATCH`, default 500).
    public var forwardBatchSize: Int
    /// Seconds between two reads of the mail server settings from Odoo (`BRIDGE_SETTINGS_REFRESH`, default 60).
    public var settingsRefreshInterval: Duration
    /// Seconds between two reconciliations of Postmark's side (`BRIDGE_RECONCILE_INTERVAL`, default 900).
    public var reconcileInterval: Duration

    /// The variables this type reads, for `--help` and the env example.
    public static let variables = [
        "BRIDGE_DATABASE_URL", "ODOO_URL", "ODOO_DB", "ODOO_USER", "ODOO_API_KEY", "BRIDGE_LISTEN",
        "BRIDGE_PUBLIC_URL", "BRIDGE_SERVERS_FILE", "POSTMARK_API_URL", "LOG_LEVEL", "LOG_FORMAT",
        "BRIDGE_MAX_BODY_BYTES", "BRIDGE_MAX_CONNECTIONS", "BRIDGE_READ_TIMEOUT", "BRIDGE_IDLE_TIMEOUT",
        "BRIDGE_INBOX_QUEUE_LIMIT", "BRIDGE_FORWARD_BATCH", "BRIDGE_SETTINGS_REFRESH", "BRIDGE_RECONCILE_INTERVAL",
    ]

    /// Reads the configuration from `environment`; empty values count as unset.
    public static func load(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigurationError) -> BridgeConfiguration {
        let env = Environment(values: environment)

        let databaseURL = try env.require("BRIDGE_DATABASE_URL")
        let odoo = try loadOdoo(env)
        let (host, port) = try env.hostPort("BRIDGE_LISTEN", default: ("127.0.0.1", 8080))
        let publicURL = try env.url("BRIDGE_PUBLIC_URL").map { URL(string: $0.absoluteString.trimmingSuffix("/"))! }

        return BridgeConfiguration(
            databaseURL: databaseURL,
            odoo: odoo,
            listenHost: host,
            listenPort: port,
            publicURL: publicURL,
            serversFile: env["BRIDGE_SERVERS_FILE"],
            postmarkAPIURL: try env.url("POSTMARK_API_URL") ?? URL(string: "https://api.postmarkapp.com")!,
            logLevel: try env.level("LOG_LEVEL"),
            logFormat: try env.format("LOG_FORMAT"),
            maxBodyBytes: try env.integer("BRIDGE_MAX_BODY_BYTES", default: 10 << 20, range: 1024...(1 << 30)),
            maxConnections: try env.integer("BRIDGE_MAX_CONNECTIONS", default: 512, range: 1...65536),
            readTimeout: .seconds(try env.integer("BRIDGE_READ_TIMEOUT", default: 10, range: 1...3600)),
            idleTimeout: .seconds(try env.integer("BRIDGE_IDLE_TIMEOUT", default: 60, range: 1...86400)),
            inboxQueueLimit: try env.integer("BRIDGE_INBOX_QUEUE_LIMIT", default: 4096, range: 1...1_000_000),
            forwardBatchSize: try env.integer("BRIDGE_FORWARD_BATCH", default: 500, range: 1...10000),
            settingsRefreshInterval: .seconds(
                try env.integer("BRIDGE_SETTINGS_REFRESH", default: 60, range: 1...86400)
            ),
            reconcileInterval: .seconds(try env.integer("BRIDGE_RECONCILE_INTERVAL", default: 900, range: 10...86400))
        )
    }

    private static func loadOdoo(_ env: Environment) throws(ConfigurationError) -> OdooConfiguration? {
        let names = ["ODOO_URL", "ODOO_DB", "ODOO_USER", "ODOO_API_KEY"]
        let present = names.filter { env[$0] != nil }
        if present.isEmpty { return nil }
        let missing = names.filter { env[$0] == nil }
        if !missing.isEmpty {
            throw ConfigurationError(code: .incomplete(missing: missing), variable: present[0])
        }

        guard let url = try env.url("ODOO_URL") else { return nil }
        return OdooConfiguration(
            url: url,
            database: env["ODOO_DB"]!,
            login: env["ODOO_USER"]!,
            apiKey: env["ODOO_API_KEY"]!,
            userAgent: "postmark-bridge/\(bridgeVersion)"
        )
    }

    /// Summarises the configuration without secrets.
    public var description: String {
        var parts = ["listen=\(listenHost):\(listenPort)", "odoo=\(odoo?.url.absoluteString ?? "none")"]
        if let publicURL { parts.append("public_url=\(publicURL.absoluteString)") }
        if let serversFile { parts.append("servers_file=\(serversFile)") }
        return "BridgeConfiguration(\(parts.joined(separator: " ")))"
    }
}

/// Typed reads of environment variables, throwing errors that name the variable.
private struct Environment {
    let values: [String: String]

    subscript(name: String) -> String? {
        guard let value = values[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    func require(_ name: String) throws(ConfigurationError) -> String {
        guard let value = self[name] else { throw ConfigurationError(code: .missing, variable: name) }
        return value
    }

    func url(_ name: String) throws(ConfigurationError) -> URL? {
        guard let value = self[name] else { return nil }
        guard let url = URL(string: value), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            url.host?.isEmpty == false
        else {
            throw ConfigurationError(code: .invalid("an http or https URL"), variable: name)
        }
        return url
    }

    func integer(_ name: String, default fallback: Int, range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let value = self[name] else { return fallback }
        guard let number = Int(value), range.contains(number) else {
            throw ConfigurationError(
                code: .invalid("an integer from \(range.lowerBound) to \(range.upperBound)"),
                variable: name
            )
        }
        return number
    }

    func hostPort(_ name: String, default fallback: (String, Int)) throws(ConfigurationError) -> (String, Int) {
        guard let value = self[name] else { return fallback }
        guard let colon = value.lastIndex(of: ":"), let port = Int(value[value.index(after: colon)...]),
            (0...65535).contains(port)
        else {
            throw ConfigurationError(code: .invalid("host:port, such as 127.0.0.1:8080"), variable: name)
        }
        var host = String(value[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    func level(_ name: String) throws(ConfigurationError) -> Logger.Level {
        guard let value = self[name] else { return .info }
        guard let level = Logger.Level(name: value) else {
            throw ConfigurationError(
                code: .invalid("one of trace, debug, info, notice, warning, error, critical"),
                variable: name)
        }
        return level
    }

    func format(_ name: String) throws(ConfigurationError) -> Logger.Format {
        guard let value = self[name] else { return .text }
        guard let format = Logger.Format(rawValue: value.lowercased()) else {
            throw ConfigurationError(code: .invalid("text or json"), variable: name)
        }
        return format
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        var result = self
        while result.hasSuffix(suffix) { result.removeLast(suffix.count) }
        return result
    }
}
