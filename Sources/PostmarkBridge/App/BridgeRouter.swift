import Foundation

/// What the router needs to store an event; ``InboxStore`` is the real one.
public protocol EventSink: Sendable {
    /// Commits `event` (or recognises it as a redelivery) before returning.
    func store(_ event: InboxEvent) throws(InboxError) -> InboxStore.StoreOutcome
}

extension InboxStore: EventSink {}

/// The result of one readiness check, for `GET /readyz` and `check`.
public struct ReadinessCheck: Sendable, Equatable {
    /// What was checked, such as `inbox` or `odoo`.
    public var name: String
    /// Whether it is usable.
    public var ok: Bool
    /// A short explanation, free of secrets.
    public var detail: String

    /// Creates a check result.
    public init(name: String, ok: Bool, detail: String) {
        self.name = name
        self.ok = ok
        self.detail = detail
    }
}

/// The bridge's HTTP routes: the webhook endpoint and the operations endpoints.
///
/// Every refusal is mapped to its HTTP status here and nowhere else (``response(for:)-(WebhookError)`` and
/// ``response(for:)-(InboxError)``). Answers are short JSON documents that never echo credentials or bodies.
public final class BridgeRouter: HTTPResponder {
    /// The path prefix of the webhook endpoint; the mail server id follows it.
    public static let webhookPrefix = "/postmark/webhook/"

    private let directory: ServerDirectory
    private let sink: any EventSink
    private let metrics: Metrics
    private let logger: Logger
    private let readiness: @Sendable () -> [ReadinessCheck]
    private let onStored: @Sendable (InboxEvent) -> Void
    private let onRejected: @Sendable (Int?, WebhookError) -> Void

    /// Creates the router.
    /// - Parameters:
    ///   - directory: the mail servers webhooks are accepted for.
    ///   - sink: where accepted events are committed.
    ///   - metrics: the registry counted into.
    ///   - logger: the router's logger.
    ///   - readiness: the checks `GET /readyz` reports; ready when all pass.
    ///   - onStored: called after a new event is committed (wakes the dispatcher, notes the server as seen).
    ///   - onRejected: called with the mail server id (when numeric) of a refused webhook (counts auth failures).
    public init(
        directory: ServerDirectory,
        sink: any EventSink,
        metrics: Metrics,
        logger: Logger = Logger(label: "router"),
        readiness: @escaping @Sendable () -> [ReadinessCheck],
        onStored: @escaping @Sendable (InboxEvent) -> Void = { _ in },
        onRejected: @escaping @Sendable (Int?, WebhookError) -> Void = { _, _ in }
    ) {
        self.directory = directory
        self.sink = sink
        self.metrics = metrics
        self.logger = logger
        self.readiness = readiness
        self.onStored = onStored
        self.onRejected = onRejected
    }

    /// Refuses unknown routes, wrong methods, unknown servers and bad credentials before the body is read.
    public func check(head: HTTPRequestHead) -> HTTPResponse? {
        if let methods = Self.allowedMethods(path: head.path) {
            guard methods.contains(head.method) else { return Self.methodNotAllowed(methods) }
        } else {
            return Self.error(404, "not_found", "No such endpoint.")
        }

        guard head.path.hasPrefix(Self.webhookPrefix) else { return nil }
        let idText = String(head.path.dropFirst(Self.webhookPrefix.count))
        let server = WebhookIntake.mailServerID(idText).flatMap(directory.settings(for:))
        guard let server else {
            return reject(WebhookError(.unknownMailServer, "No mail server with this id is configured."), id: nil)
        }

        let result = WebhookAuthenticator.authenticate(
            authorization: head.headers["Authorization"],
            tokenHeader: head.headers["X-Webhook-Token"],
            query: head.query,
            acceptedTokens: server.acceptedTokens(at: Date())
        )
        switch result {
        case .accepted:
            return nil
        case .missing, .invalid:
            // The full evaluation in respond(to:) words the refusal; here it only has to happen before the body.
            let request = WebhookRequest(
                mailServerID: idText, authorization: head.headers["Authorization"],
                tokenHeader: head.headers["X-Webhook-Token"], query: head.query, body: [])
            if case .reject(let error) = WebhookIntake.evaluate(request, server: server, now: Date()) {
                return reject(error, id: server.id)
            }
            return nil
        }
    }

    /// Answers a complete request.
    public func respond(to request: HTTPRequest) -> HTTPResponse {
        switch request.path {
        case "/healthz":
            return .json(status: 200, body: #"{"status":"ok"}"#)
        case "/readyz":
            return ready()
        case "/metrics":
            return HTTPResponse(
                status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                body: Array(metrics.render().utf8))
        default:
            return webhook(request)
        }
    }

    private func webhook(_ request: HTTPRequest) -> HTTPResponse {
        let idText = String(request.path.dropFirst(Self.webhookPrefix.count))
        let webhookRequest = WebhookRequest(
            mailServerID: idText,
            authorization: request.headers["Authorization"],
            tokenHeader: request.headers["X-Webhook-Token"],
            query: request.query,
            contentType: request.headers["Content-Type"],
            traceID: request.headers["X-PM-Webhook-Trace-Id"],
            body: request.body
        )

        let event: InboxEvent
        switch WebhookIntake.evaluate(webhookRequest, directory: directory, now: Date()) {
        case .reject(let error):
            return reject(error, id: WebhookIntake.mailServerID(idText))
        case .accept(let accepted, _, _):
            event = accepted
        }

        do {
            switch try sink.store(event) {
            case .stored:
                metrics.events.increment([event.recordType, event.state])
                onStored(event)
                logger.debug(
                    "webhook stored",
                    ["mail_server": String(event.mailServerID), "record_type": event.recordType, "state": event.state])
                return .json(status: 200, body: #"{"status":"stored"}"#)
            case .duplicate:
                metrics.duplicates.increment()
                logger.debug("webhook duplicate", ["mail_server": String(event.mailServerID)])
                return .json(status: 200, body: #"{"status":"duplicate"}"#)
            }
        } catch {
            return Self.response(for: error, logger: logger)
        }
    }

    private func reject(_ error: WebhookError, id: Int?) -> HTTPResponse {
        metrics.rejections.increment([error.code.rawValue])
        onRejected(id, error)
        logger.debug("webhook refused", ["reason": error.code.rawValue, "mail_server": id.map(String.init) ?? "-"])
        return Self.response(for: error)
    }

    private func ready() -> HTTPResponse {
        let checks = readiness()
        let allOK = checks.allSatisfy(\.ok)
        let members = checks.map { check -> (String, JSONValue) in
            (check.name, ["ok": .bool(check.ok), "detail": .string(check.detail)])
        }
        let body: JSONValue = [
            "status": .string(allOK ? "ready" : "not_ready"),
            "checks": .object(Dictionary(members, uniquingKeysWith: { first, _ in first })),
        ]
        return .json(status: allOK ? 200 : 503, body: body.serializedBytes())
    }

    /// The HTTP answer to a refused webhook.
    public static func response(for error: WebhookError) -> HTTPResponse {
        let status: Int
        var headers: [(String, String)] = []
        switch error.code {
        case .unknownMailServer: status = 404
        case .missingCredentials, .invalidCredentials:
            status = 401
            headers.append(("WWW-Authenticate", #"Basic realm="postmark-bridge""#))
        case .unsupportedContentType: status = 415
        case .malformedBody: status = 400
        }
        return Self.error(status, error.code.rawValue, error.message, headers: headers)
    }

    /// The HTTP answer when the inbox could not store an event: 503 with `Retry-After`, so Postmark retries.
    public static func response(for error: InboxError, logger: Logger? = nil) -> HTTPResponse {
        switch error.code {
        case .saturated:
            logger?.warning("inbox saturated")
            return Self.error(503, "busy", "The bridge is busy; retry shortly.", headers: [("Retry-After", "1")])
        case .unavailable, .connectionFailed, .connectionLost, .timedOut, .closed:
            logger?.warning("inbox unavailable", ["error": error.description])
            return Self.error(
                503, "unavailable", "The bridge cannot store events right now; retry later.",
                headers: [("Retry-After", "5")])
        case .invalidArgument:
            return Self.error(400, "malformed_body", "The body cannot be stored.")
        default:
            logger?.error("inbox store failed", ["error": error.description])
            return Self.error(
                503, "store_failed", "The event could not be stored; retry later.", headers: [("Retry-After", "5")])
        }
    }

    /// The methods a path answers, or `nil` for a path that is no endpoint.
    static func allowedMethods(path: String) -> [String]? {
        switch path {
        case "/healthz", "/readyz", "/metrics": return ["GET", "HEAD"]
        case _ where path.hasPrefix(webhookPrefix) && path.count > webhookPrefix.count: return ["POST"]
        default: return nil
        }
    }

    /// 405 with the `Allow` header.
    static func methodNotAllowed(_ methods: [String]) -> HTTPResponse {
        error(
            405, "method_not_allowed", "Use \(methods.joined(separator: " or ")).",
            headers: [("Allow", methods.joined(separator: ", "))])
    }

    /// A JSON error answer: `{"error": code, "message": message}`.
    static func error(_ status: Int, _ code: String, _ message: String, headers: [(String, String)] = [])
        -> HTTPResponse
    {
        let body: JSONValue = ["error": .string(code), "message": .string(message)]
        return .json(status: status, body: body.serializedBytes(), headers: headers)
    }
}
