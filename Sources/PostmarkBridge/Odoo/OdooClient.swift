import Foundation
import Synchronization

/// Which of Odoo's external APIs the client speaks.
public enum OdooTransport: String, Sendable, Equatable {
    /// `POST /jsonrpc` with `object.execute_kw` and the API key as password (Odoo 14 to 21).
    case jsonRPC = "jsonrpc"
    /// `POST /json/2/<model>/<method>` with a bearer API key (Odoo 19 and later).
    case json2 = "json-2"
}

/// How to reach and log in to Odoo. The API key never appears in ``description``.
public struct OdooConfiguration: Sendable, CustomStringConvertible {
    /// Odoo's base URL (`ODOO_URL`), such as `https://odoo.example.com`.
    public var url: URL
    /// The database (`ODOO_DB`).
    public var database: String
    /// The bridge user's login (`ODOO_USER`).
    public var login: String
    /// The bridge user's API key (`ODOO_API_KEY`).
    public var apiKey: String
    /// A fixed transport, or `nil` to pick one from the server version (JSON-2 from Odoo 19 on).
    public var transport: OdooTransport?
    /// The timeout of ordinary calls; at least 1 s, as libcurl counts in whole seconds.
    public var timeout: Duration
    /// The timeout of calls that carry a batch of notifications, which take Odoo longer; at least 1 s.
    public var batchTimeout: Duration
    /// The `User-Agent` sent with each call.
    public var userAgent: String

    /// Creates a configuration.
    public init(
        url: URL,
        database: String,
        login: String,
        apiKey: String,
        transport: OdooTransport? = nil,
        timeout: Duration = .seconds(30),
        batchTimeout: Duration = .seconds(60),
        userAgent: String = "postmark-bridge"
    ) {
        self.url = url
        self.database = database
        self.login = login
        self.apiKey = apiKey
        self.transport = transport
        self.timeout = max(timeout, .seconds(1))
        self.batchTimeout = max(batchTimeout, .seconds(1))
        self.userAgent = userAgent
    }

    /// Names the server, database and user, never the key.
    public var description: String {
        "OdooConfiguration(url: \(url.absoluteString), database: \(database), login: \(login))"
    }
}

/// Odoo's version, as `GET /web/version` or `common.version` report it.
public struct OdooServerVersion: Sendable, Equatable, CustomStringConvertible {
    /// The version text, such as `18.0` or `18.0+e`.
    public var text: String
    /// The major version, such as 18.
    public var major: Int

    /// Creates a version.
    public init(text: String, major: Int) {
        self.text = text
        self.major = major
    }

    /// The transport to use with this version: JSON-2 from Odoo 19 on.
    public var preferredTransport: OdooTransport { major >= 19 ? .json2 : .jsonRPC }

    /// The version text.
    public var description: String { text }
}

/// A working login: the transport chosen, the server version and the bridge user's id.
public struct OdooSession: Sendable, Equatable {
    /// The transport used for calls.
    public var transport: OdooTransport
    /// The server's version.
    public var version: OdooServerVersion
    /// The bridge user's id; JSON-2 does not always tell it.
    public var uid: Int?
}

/// What the client knows about Odoo's health, for `/readyz`, `/metrics` and `status`.
public struct OdooClientStatus: Sendable {
    /// The session in use, if a login succeeded.
    public var session: OdooSession?
    /// When a call last succeeded.
    public var lastSuccess: Date?
    /// The last error and when it happened; cleared by the next success.
    public var lastError: (error: OdooError, at: Date)?
    /// Failed calls since start, by kind.
    public var errorsByKind: [OdooError.Kind: Int]
    /// Calls made since start.
    public var calls: Int
    /// How many times a configuration error was logged: once per new problem, not once per retry.
    public var configurationErrorReports: Int

    /// Whether Odoo answers and accepts the bridge: the last call succeeded or failed only because Odoo refused its
    /// records (a bad event does not make Odoo unready). The settings sync's periodic read keeps this fresh.
    public var isHealthy: Bool {
        guard let lastError else { return lastSuccess != nil }
        return lastError.error.kind == .permanent
    }
}

/// Calls Odoo's external API as the bridge user, over JSON-RPC or JSON-2.
///
/// The first call detects the server version, picks the transport and logs in; the session is kept until a
/// configuration error, when the next call logs in again. Every call has a timeout. A configuration error is logged
/// once, with what to fix, until a call succeeds again.
public final class OdooClient: Sendable {
    /// How to reach Odoo.
    public let configuration: OdooConfiguration

    private let http: any HTTPClient
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var session: OdooSession?
        var nextRequestID: Int64 = 1
        var lastSuccess: Date?
        var lastError: (error: OdooError, at: Date)?
        var errorsByKind: [OdooError.Kind: Int] = [:]
        var calls = 0
        var reportedConfigurationError: OdooError.Code?
        var configurationErrorReports = 0
    }

    /// Creates a client; it does not connect until the first call.
    public init(configuration: OdooConfiguration, http: any HTTPClient, logger: Logger = Logger(label: "odoo")) {
        self.configuration = configuration
        self.http = http
        self.logger = logger
    }

    /// A snapshot of the client's health.
    public var status: OdooClientStatus {
        state.withLock {
            OdooClientStatus(
                session: $0.session, lastSuccess: $0.lastSuccess, lastError: $0.lastError,
                errorsByKind: $0.errorsByKind, calls: $0.calls, configurationErrorReports: $0.configurationErrorReports
            )
        }
    }

    /// Calls `model.method` with named arguments and returns its result (`null` when the method returned None).
    ///
    /// - Parameters:
    ///   - ids: the records for a record method (`args[0]` over JSON-RPC, `ids` over JSON-2); `nil` for
    ///     `@api.model` methods.
    ///   - arguments: the method's parameters by name.
    ///   - context: the Odoo context, such as `{"active_test": false}`.
    ///   - timeout: overrides the configured timeout.
    public func call(
        _ model: String,
        _ method: String,
        ids: [Int]? = nil,
        arguments: [String: JSONValue] = [:],
        context: [String: JSONValue]? = nil,
        timeout: Duration? = nil
    ) async throws(OdooError) -> JSONValue {
        try await call(model, method, ids: ids, arguments: arguments, context: context, timeout: timeout, tracked: true)
    }

    /// Calls `model.method` like ``call(_:_:ids:arguments:context:timeout:)``; an untracked call's failure is
    /// neither logged nor counted, for probes whose failure is an answer (such as reading a privileged model).
    func call(
        _ model: String,
        _ method: String,
        ids: [Int]? = nil,
        arguments: [String: JSONValue] = [:],
        context: [String: JSONValue]? = nil,
        timeout: Duration? = nil,
        tracked: Bool
    ) async throws(OdooError) -> JSONValue {
        do {
            let session = try await currentSession()
            let result = try await execute(
                session: session, model: model, method: method, ids: ids, arguments: arguments, context: context,
                timeout: timeout ?? configuration.timeout
            )
            if tracked { recordSuccess() }
            return result
        } catch {
            let error = error.redacting(configuration.apiKey)
            if tracked { recordFailure(error) }
            throw error
        }
    }

    /// Detects the version, picks the transport and logs in, replacing any current session.
    @discardableResult
    public func login() async throws(OdooError) -> OdooSession {
        do {
            let session = try await establishSession()
            recordSuccess()
            return session
        } catch {
            let error = error.redacting(configuration.apiKey)
            recordFailure(error)
            throw error
        }
    }

    /// Asks the server its version without logging in: `GET /web/version` (Odoo 19+), else `common.version`.
    public func serverVersion() async throws(OdooError) -> OdooServerVersion {
        if let version = try await webVersion() { return version }

        let result = try await jsonRPC(service: "common", method: "version", args: [], timeout: configuration.timeout)
        guard let text = result["server_version"]?.stringValue,
            let major = result["server_version_info"]?.arrayValue?.first?.intValue
        else {
            throw OdooError(code: .invalidResponse, message: "common.version did not report server_version_info")
        }
        return OdooServerVersion(text: text, major: Int(major))
    }

    // MARK: - Session

    private func currentSession() async throws(OdooError) -> OdooSession {
        if let session = state.withLock({ $0.session }) { return session }
        return try await establishSession()
    }

    private func establishSession() async throws(OdooError) -> OdooSession {
        let version = try await serverVersion()
        let transport = configuration.transport ?? version.preferredTransport

        let uid: Int?
        switch transport {
        case .jsonRPC:
            let result = try await jsonRPC(
                service: "common", method: "authenticate",
                args: [
                    .string(configuration.database), .string(configuration.login), .string(configuration.apiKey),
                    [:],
                ],
                timeout: configuration.timeout
            )
            guard let value = result.intValue, value > 0 else {
                throw OdooError(code: .loginFailed, message: "common.authenticate refused the login and API key")
            }
            uid = Int(value)
        case .json2:
            let context = try await json2(
                model: "res.users", method: "context_get", body: [:], timeout: configuration.timeout
            )
            uid = context["uid"]?.intValue.flatMap { Int(exactly: $0) }
        }

        let session = OdooSession(transport: transport, version: version, uid: uid)
        state.withLock { $0.session = session }
        logger.info(
            "logged in to Odoo",
            [
                "odoo.version": version.text, "odoo.transport": transport.rawValue,
                "odoo.uid": uid.map(String.init) ?? "-",
            ]
        )
        return session
    }

    private func webVersion() async throws(OdooError) -> OdooServerVersion? {
        let request = HTTPClientRequest(
            method: "GET", url: endpoint("web/version"), headers: ["User-Agent": configuration.userAgent],
            timeout: configuration.timeout
        )
        let response = try await send(request)
        guard response.status == 200, let document = try? JSONValue.parse(response.body),
            let text = document["version"]?.stringValue,
            let major = document["version_info"]?.arrayValue?.first?.intValue
        else { return nil }
        return OdooServerVersion(text: text, major: Int(major))
    }

    // MARK: - Transports

    private func execute(
        session: OdooSession,
        model: String,
        method: String,
        ids: [Int]?,
        arguments: [String: JSONValue],
        context: [String: JSONValue]?,
        timeout: Duration
    ) async throws(OdooError) -> JSONValue {
        switch session.transport {
        case .jsonRPC:
            var kwargs = arguments
            if let context { kwargs["context"] = .object(context) }
            let positional: [JSONValue] = ids.map { [.array($0.map { .int(Int64($0)) })] } ?? []
            return try await jsonRPC(
                service: "object", method: "execute_kw",
                args: [
                    .string(configuration.database), .int(Int64(session.uid ?? 0)), .string(configuration.apiKey),
                    .string(model), .string(method), .array(positional), .object(kwargs),
                ],
                timeout: timeout
            )
        case .json2:
            var body = arguments
            if let ids { body["ids"] = .array(ids.map { .int(Int64($0)) }) }
            if let context { body["context"] = .object(context) }
            return try await json2(model: model, method: method, body: body, timeout: timeout)
        }
    }

    private func jsonRPC(
        service: String,
        method: String,
        args: [JSONValue],
        timeout: Duration
    ) async throws(OdooError) -> JSONValue {
        let id = state.withLock { state in
            state.nextRequestID += 1
            return state.nextRequestID - 1
        }
        let request = HTTPClientRequest(
            method: "POST", url: endpoint("jsonrpc"),
            headers: [
                "Content-Type": "application/json", "Accept": "application/json",
                "User-Agent": configuration.userAgent,
            ],
            body: OdooWire.jsonRPCRequest(service: service, method: method, args: args, id: id),
            timeout: timeout
        )
        let response = try await send(request)
        return try OdooWire.decodeJSONRPCResponse(status: response.status, body: response.body)
    }

    private func json2(
        model: String,
        method: String,
        body: [String: JSONValue],
        timeout: Duration
    ) async throws(OdooError) -> JSONValue {
        let request = HTTPClientRequest(
            method: "POST", url: endpoint("json/2/\(model)/\(method)"),
            headers: [
                "Content-Type": "application/json", "Accept": "application/json",
                "Authorization": "bearer \(configuration.apiKey)", "X-Odoo-Database": configuration.database,
                "User-Agent": configuration.userAgent,
            ],
            body: JSONValue.object(body).serializedBytes(),
            timeout: timeout
        )
        let response = try await send(request)
        return try OdooWire.decodeJSON2Response(status: response.status, body: response.body)
    }

    private func send(_ request: HTTPClientRequest) async throws(OdooError) -> HTTPClientResponse {
        do {
            return try await http.send(request)
        } catch {
            switch error.code {
            case .timeout:
                throw OdooError(code: .timeout, message: "no answer from \(error.host) in time")
            case .connectionFailed:
                throw OdooError(code: .connectionFailed, message: "cannot reach \(error.host)")
            case .invalidResponse:
                throw OdooError(code: .invalidResponse, message: "\(error.host) did not answer with HTTP")
            }
        }
    }

    private func endpoint(_ path: String) -> URL {
        var base = configuration.url.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        return URL(string: base + "/" + path) ?? configuration.url.appendingPathComponent(path)
    }

    // MARK: - Health

    private func recordSuccess() {
        let recovered = state.withLock { state in
            state.calls += 1
            state.lastSuccess = Date()
            state.lastError = nil
            let reported = state.reportedConfigurationError
            state.reportedConfigurationError = nil
            return reported
        }
        if let recovered {
            logger.notice("Odoo configuration problem solved", ["odoo.error": recovered.rawValue])
        }
    }

    private func recordFailure(_ error: OdooError) {
        let firstReport = state.withLock { state in
            state.calls += 1
            state.lastError = (error, Date())
            state.errorsByKind[error.kind, default: 0] += 1
            guard error.kind == .configuration else { return false }
            state.session = nil
            let isNew = state.reportedConfigurationError != error.code
            state.reportedConfigurationError = error.code
            if isNew { state.configurationErrorReports += 1 }
            return isNew
        }
        if firstReport {
            logger.error(
                "Odoo refuses the bridge's configuration; retrying slowly until it is fixed",
                [
                    "odoo.error": error.code.rawValue, "odoo.message": error.message,
                    "odoo.fix": error.code.remedy ?? "-", "odoo.url": configuration.url.absoluteString,
                    "odoo.database": configuration.database, "odoo.login": configuration.login,
                ]
            )
        }
    }
}
