import Foundation
import Synchronization

@testable import PostmarkBridge

/// An in-process stand-in for Postmark's Servers and Webhooks APIs, served by the bridge's own ``HTTPServer`` on
/// 127.0.0.1, behaving as reference/postmark-facts.md §5 documents:
///
/// - `GET`/`PUT /servers/{id}` need `X-Postmark-Account-Token`; `/webhooks` needs `X-Postmark-Server-Token`
///   (one of a server's `ApiTokens`) and only sees that server's webhooks. A wrong or missing token gets 401
///   with `{"ErrorCode":10,…}`.
/// - Requests must accept JSON, and bodies must be JSON (`ErrorCode` 409 / 402 otherwise).
/// - Unknown server: 422 `ErrorCode` 601. Unknown webhook: 422 1352. Missing or bad `Url`: 1354. An `ID` on
///   create: 1356. A changed `MessageStream` on edit: 1357. More than 10 webhooks on a stream: 1359. A trigger
///   a stream does not offer (Bounce on a broadcast stream): 1353. Unknown stream: 1226.
/// - Webhooks belong to a message stream; an edit with a partial `Triggers` changes only the triggers given.
///
/// Every request is recorded (method, path, query, auth header used, body) so tests can assert which calls
/// were made; failures can be scripted to test retries.
final class FakePostmark: HTTPResponder {
    /// A request as the fake received it. Tokens are recorded so tests can check which one was sent.
    struct Recorded: Sendable {
        var method: String
        var path: String
        var query: String?
        var accountToken: String?
        var serverToken: String?
        var accept: String?
        var contentType: String?
        var body: JSONValue?

        /// Whether the call can change anything on Postmark's side.
        var changes: Bool { method != "GET" }
    }

    /// A Postmark server.
    struct Server: Sendable {
        var id: Int64
        var name: String
        var apiTokens: [String]
        var enableSmtpApiErrorHooks = false
        /// Stream id → whether it is a broadcast stream.
        var streams: [String: Bool] = ["outbound": false, "broadcast": true]
    }

    /// A stored webhook, in Postmark's JSON shape (without `ID`).
    struct Webhook: Sendable {
        var serverID: Int64
        var json: [String: JSONValue]
    }

    private struct Failure {
        var method: String
        var pathPrefix: String
        var status: Int
        var body: String
        var remaining: Int
        var afterHandling: Bool
        var retryAfter: Int?
        var stall: Duration?
    }

    private struct State {
        var accountToken: String
        var servers: [Int64: Server] = [:]
        var webhooks: [Int64: Webhook] = [:]
        var nextWebhookID: Int64 = 100
        var requests: [Recorded] = []
        var failures: [Failure] = []
        var hidesPasswords = false
        var server: HTTPServer?
        var baseURL = URL(string: "http://127.0.0.1:1")!
    }

    /// Postmark's limit of webhooks per message stream.
    static let maxWebhooksPerStream = 10

    private let state: Mutex<State>

    /// The base URL to give the client, once started.
    var baseURL: URL { state.withLock { $0.baseURL } }

    /// Creates a fake account whose account token is `accountToken`, with no servers.
    init(accountToken: String) {
        state = Mutex(State(accountToken: accountToken))
    }

    /// Starts serving on an ephemeral port of 127.0.0.1.
    static func start(accountToken: String) throws -> FakePostmark {
        let fake = FakePostmark(accountToken: accountToken)
        let server = HTTPServer(
            configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0), responder: fake,
            logger: Logger(label: "fake-postmark"))
        let port = try server.start()
        fake.state.withLock {
            $0.server = server
            $0.baseURL = URL(string: "http://127.0.0.1:\(port)")!
        }
        return fake
    }

    /// Stops serving.
    func stop() {
        state.withLock { $0.server }?.shutdown(gracePeriod: .seconds(1))
    }

    // MARK: - Test controls

    /// Adds a server.
    func addServer(_ server: Server) {
        state.withLock { $0.servers[server.id] = server }
    }

    /// A server as stored now.
    func server(_ id: Int64) -> Server? {
        state.withLock { $0.servers[id] }
    }

    /// Adds a webhook as if someone made it in Postmark's UI; returns its id.
    @discardableResult
    func addWebhook(
        serverID: Int64,
        url: String,
        stream: String = "outbound",
        username: String? = nil,
        password: String? = nil,
        triggers: WebhookTriggers = WebhookTriggers()
    ) -> Int64 {
        var json: [String: JSONValue] = [
            "Url": .string(url), "MessageStream": .string(stream), "Triggers": triggers.postmarkJSON,
            "HttpHeaders": [["Name": "X-Origin", "Value": "manual"]],
        ]
        if let username, let password {
            json["HttpAuth"] = ["Username": .string(username), "Password": .string(password)]
        }
        return state.withLock { state in
            let id = state.nextWebhookID
            state.nextWebhookID += 1
            state.webhooks[id] = Webhook(serverID: serverID, json: json)
            return id
        }
    }

    /// Every webhook of `serverID`, as Postmark would list it (passwords included), ordered by id.
    func webhooks(serverID: Int64) -> [PostmarkWebhook] {
        state.withLock { state in
            state.webhooks.filter { $0.value.serverID == serverID }.sorted { $0.key < $1.key }
                .compactMap { PostmarkWebhook(json: Self.render(id: $0.key, $0.value, hidingPassword: false)) }
        }
    }

    /// The raw stored JSON of a webhook, for byte-for-byte comparisons.
    func webhookJSON(_ id: Int64) -> JSONValue? {
        state.withLock { state in state.webhooks[id].map { Self.render(id: id, $0, hidingPassword: false) } }
    }

    /// Makes the Webhooks API leave `HttpAuth.Password` out of what it returns.
    func hidePasswords(_ hide: Bool) {
        state.withLock { $0.hidesPasswords = hide }
    }

    /// Answers the next `count` requests whose method is `method` and path starts with `pathPrefix` with
    /// `status` and `body`: instead of handling them, or, with `afterHandling`, after handling them (the
    /// change is made but its answer is lost, as when a proxy times out). `retryAfter` adds that header;
    /// `stall` holds the answer back that long first, to make the client time out.
    func fail(
        _ method: String,
        _ pathPrefix: String,
        status: Int,
        body: String = #"{"ErrorCode":0,"Message":"Internal error"}"#,
        times count: Int = 1,
        afterHandling: Bool = false,
        retryAfter: Int? = nil,
        stall: Duration? = nil
    ) {
        state.withLock {
            $0.failures.append(
                Failure(
                    method: method, pathPrefix: pathPrefix, status: status, body: body, remaining: count,
                    afterHandling: afterHandling, retryAfter: retryAfter, stall: stall))
        }
    }

    /// Every request received so far, in order.
    var requests: [Recorded] { state.withLock { $0.requests } }

    /// Forgets the recorded requests.
    func clearRequests() {
        state.withLock { $0.requests.removeAll() }
    }

    // MARK: - HTTP

    /// Records the request, then answers it as Postmark would (or with a scripted failure).
    func respond(to request: HTTPRequest) -> HTTPResponse {
        let body = request.body.isEmpty ? nil : try? JSONValue.parse(request.body)
        let recorded = Recorded(
            method: request.method, path: request.path, query: request.query,
            accountToken: request.headers["X-Postmark-Account-Token"],
            serverToken: request.headers["X-Postmark-Server-Token"], accept: request.headers["Accept"],
            contentType: request.headers["Content-Type"], body: body)

        // The scripted failure is claimed before any stall, so a retry arriving meanwhile is handled normally.
        let failure: Failure? = state.withLock { state in
            guard
                let index = state.failures.firstIndex(where: {
                    $0.remaining > 0 && $0.method == request.method && request.path.hasPrefix($0.pathPrefix)
                })
            else { return nil }
            state.failures[index].remaining -= 1
            return state.failures[index]
        }
        if let stall = failure?.stall {
            // The responder runs on the connection's own thread, so blocking it only delays this answer.
            Thread.sleep(
                forTimeInterval: Double(stall.components.seconds) + Double(stall.components.attoseconds) / 1e18)
        }

        return state.withLock { state in
            state.requests.append(recorded)
            guard let failure else { return Self.handle(request, parsedBody: body, state: &state) }
            if failure.afterHandling {
                _ = Self.handle(request, parsedBody: body, state: &state)
            }
            let headers = failure.retryAfter.map { [("Retry-After", String($0))] } ?? []
            return .json(status: failure.status, body: failure.body, headers: headers)
        }
    }

    private static func error(_ status: Int, _ code: Int, _ message: String) -> HTTPResponse {
        .json(
            status: status,
            body: JSONValue.object(["ErrorCode": .int(Int64(code)), "Message": .string(message)])
                .serialized())
    }

    private static func ok(_ json: JSONValue) -> HTTPResponse {
        .json(status: 200, body: json.serialized())
    }

    private static func handle(_ request: HTTPRequest, parsedBody: JSONValue?, state: inout State) -> HTTPResponse {
        guard request.headers["Accept"]?.lowercased().contains("application/json") == true else {
            return error(422, 409, "JSON required (Accept: application/json).")
        }
        if !request.body.isEmpty {
            guard request.headers["Content-Type"]?.lowercased().hasPrefix("application/json") == true else {
                return error(422, 409, "JSON required.")
            }
            guard parsedBody != nil else { return error(422, 402, "Invalid JSON.") }
        }

        let segments = request.path.split(separator: "/").map(String.init)
        switch (request.method, segments.first) {
        case (_, "servers") where segments.count == 2:
            guard request.headers["X-Postmark-Account-Token"] == state.accountToken else {
                return error(401, 10, "Request does not contain a valid Account token.")
            }
            guard let id = Int64(segments[1]), var server = state.servers[id] else {
                return error(422, 601, "Server does not exist.")
            }
            switch request.method {
            case "GET":
                return ok(render(server))
            case "PUT":
                guard case .object(let fields) = parsedBody else { return error(422, 402, "Invalid JSON.") }
                if let name = fields["Name"]?.stringValue { server.name = name }
                if let flag = fields["EnableSmtpApiErrorHooks"]?.boolValue { server.enableSmtpApiErrorHooks = flag }
                state.servers[id] = server
                return ok(render(server))
            default:
                return .json(status: 405, body: "{}")
            }

        case (_, "webhooks"):
            guard let token = request.headers["X-Postmark-Server-Token"],
                let server = state.servers.values.first(where: { $0.apiTokens.contains(token) })
            else {
                return error(401, 10, "Request does not contain a valid Server token.")
            }
            return handleWebhooks(request, segments: segments, body: parsedBody, server: server, state: &state)

        default:
            return .json(status: 404, body: "{}")
        }
    }

    private static func handleWebhooks(
        _ request: HTTPRequest,
        segments: [String],
        body: JSONValue?,
        server: Server,
        state: inout State
    ) -> HTTPResponse {
        let hide = state.hidesPasswords
        switch (request.method, segments.count) {
        case ("GET", 1):
            let stream = request.queryItems.first { $0.name.lowercased() == "messagestream" }?.value
            if let stream, server.streams[stream] == nil {
                return error(422, 1226, "The message stream for the provided 'ID' was not found.")
            }
            let list = state.webhooks.filter { $0.value.serverID == server.id }.sorted { $0.key < $1.key }
                .filter { stream == nil || $0.value.json["MessageStream"]?.stringValue == stream }
                .map { render(id: $0.key, $0.value, hidingPassword: hide) }
            return ok(["Webhooks": .array(list)])

        case ("POST", 1):
            guard case .object(var fields) = body else { return error(422, 1355, "Request body is empty.") }
            guard fields["ID"] == nil else { return error(422, 1356, "ID must not be given.") }
            guard let url = fields["Url"]?.stringValue, isValidURL(url) else {
                return error(422, 1354, "The Url is missing or invalid.")
            }
            let stream = fields["MessageStream"]?.stringValue ?? "outbound"
            guard let isBroadcast = server.streams[stream] else {
                return error(422, 1226, "The message stream for the provided 'ID' was not found.")
            }
            let onStream = state.webhooks.values.filter {
                $0.serverID == server.id && $0.json["MessageStream"]?.stringValue == stream
            }
            guard onStream.count < maxWebhooksPerStream else {
                return error(422, 1359, "Maximum number of webhooks reached for this message stream.")
            }
            fields["Url"] = .string(url)
            fields["MessageStream"] = .string(stream)
            fields["Triggers"] = mergeTriggers(.null, fields["Triggers"] ?? .null)
            if isBroadcast && fields["Triggers"]?["Bounce"]?["Enabled"]?.boolValue == true {
                return error(422, 1353, "The Bounce trigger is not supported on Broadcast message streams.")
            }
            if fields["HttpHeaders"] == nil { fields["HttpHeaders"] = [] }
            let id = state.nextWebhookID
            state.nextWebhookID += 1
            state.webhooks[id] = Webhook(serverID: server.id, json: fields)
            return ok(render(id: id, state.webhooks[id]!, hidingPassword: hide))

        case ("PUT", 2), ("DELETE", 2):
            guard let id = Int64(segments[1]), var webhook = state.webhooks[id], webhook.serverID == server.id else {
                return error(422, 1352, "Webhook not found.")
            }
            if request.method == "DELETE" {
                state.webhooks[id] = nil
                return ok(["ErrorCode": 0, "Message": .string("Webhook \(id) removed.")])
            }
            guard case .object(let fields) = body else { return error(422, 1355, "Request body is empty.") }
            if let givenID = fields["ID"], givenID.intValue != id {
                return error(422, 1357, "The ID cannot be changed.")
            }
            if let stream = fields["MessageStream"], stream != webhook.json["MessageStream"] {
                return error(422, 1357, "The MessageStream cannot be changed.")
            }
            if let url = fields["Url"] {
                guard let text = url.stringValue, isValidURL(text) else {
                    return error(422, 1354, "The Url is missing or invalid.")
                }
                webhook.json["Url"] = url
            }
            if let auth = fields["HttpAuth"] { webhook.json["HttpAuth"] = auth }
            if let headers = fields["HttpHeaders"] { webhook.json["HttpHeaders"] = headers }
            if let triggers = fields["Triggers"] {
                webhook.json["Triggers"] = mergeTriggers(webhook.json["Triggers"] ?? .null, triggers)
            }
            let stream = webhook.json["MessageStream"]?.stringValue ?? "outbound"
            if server.streams[stream] == true && webhook.json["Triggers"]?["Bounce"]?["Enabled"]?.boolValue == true {
                return error(422, 1353, "The Bounce trigger is not supported on Broadcast message streams.")
            }
            state.webhooks[id] = webhook
            return ok(render(id: id, webhook, hidingPassword: hide))

        default:
            return .json(status: 405, body: "{}")
        }
    }

    private static func isValidURL(_ text: String) -> Bool {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            return false
        }
        return (scheme == "http" || scheme == "https") && components.host?.isEmpty == false
    }

    /// Applies the triggers given in `update` over `current`; every trigger is spelled out in the result.
    private static func mergeTriggers(_ current: JSONValue, _ update: JSONValue) -> JSONValue {
        let options: [String: [String]] = [
            "Delivery": ["Enabled"], "Bounce": ["Enabled", "IncludeContent"],
            "SpamComplaint": ["Enabled", "IncludeContent"], "Open": ["Enabled", "PostFirstOpenOnly"],
            "Click": ["Enabled"], "SubscriptionChange": ["Enabled"],
        ]
        var merged: [String: JSONValue] = [:]
        for (trigger, keys) in options {
            var object: [String: JSONValue] = [:]
            for key in keys {
                object[key] = update[trigger]?[key] ?? current[trigger]?[key] ?? false
            }
            merged[trigger] = .object(object)
        }
        return .object(merged)
    }

    private static func render(id: Int64, _ webhook: Webhook, hidingPassword: Bool) -> JSONValue {
        var json = webhook.json
        json["ID"] = .int(id)
        if hidingPassword, case .object(var auth) = json["HttpAuth"] {
            auth["Password"] = nil
            json["HttpAuth"] = .object(auth)
        }
        return .object(json)
    }

    private static func render(_ server: Server) -> JSONValue {
        [
            "ID": .int(server.id), "Name": .string(server.name),
            "ApiTokens": .array(server.apiTokens.map(JSONValue.string)),
            "ServerLink": .string("https://account.postmarkapp.com/servers/\(server.id)/streams"),
            "Color": "Blue", "SmtpApiActivated": true, "RawEmailEnabled": false, "DeliveryType": "Live",
            "InboundAddress": "", "InboundHookUrl": "", "BounceHookUrl": "", "OpenHookUrl": "",
            "DeliveryHookUrl": "", "ClickHookUrl": "", "PostFirstOpenOnly": false, "TrackOpens": false,
            "TrackLinks": "None", "IncludeBounceContentInHook": false, "InboundSpamThreshold": 0,
            "EnableSmtpApiErrorHooks": .bool(server.enableSmtpApiErrorHooks),
        ]
    }
}
