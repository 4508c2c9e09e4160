import Foundation
import Synchronization

@testable import PostmarkBridge

/// An in-process Odoo on 127.0.0.1 that speaks Odoo 18's `/jsonrpc` and Odoo 19's JSON-2 exactly as the reference
/// documents them (envelopes, HTTP 200 errors with `data.name`, a missing `result` for None, `false` for empty
/// values), with the `wk_postmark_notification` contract's models and methods, and switches to fail like a real one:
/// down, 5xx, slow, an exception for chosen records, or dying after its commit.
final class FakeOdoo: HTTPResponder {
    /// Which Odoo to impersonate.
    enum Version: Sendable {
        /// `/jsonrpc` only, error `code` 200, no `/web/version`.
        case odoo18
        /// JSON-2 plus a deprecated `/jsonrpc` with error `code` 0, and `/web/version`.
        case odoo19
    }

    /// A failure injected into the next matching request.
    enum Fault: Sendable {
        /// A proxy's answer with this status and an HTML body.
        case httpStatus(Int)
        /// Wait this long before handling the request.
        case delay(Duration)
        /// Raise this Odoo exception instead of running the method (nothing is committed).
        case exception(name: String, message: String)
        /// Run the method and commit, then die before answering: the connection is cut and the server is down.
        case dieAfterCommit
    }

    /// An Odoo exception raised by a fake method: class name, message and the JSON-2 status its class maps to.
    struct Raised: Error {
        var name: String
        var message: String
        var status: Int

        static func accessDenied() -> Raised {
            Raised(name: "odoo.exceptions.AccessDenied", message: "Access Denied", status: 403)
        }
        static func accessError(_ message: String) -> Raised {
            Raised(name: "odoo.exceptions.AccessError", message: message, status: 403)
        }
        static func validation(_ message: String) -> Raised {
            Raised(name: "odoo.exceptions.ValidationError", message: message, status: 422)
        }
        static func userError(_ message: String) -> Raised {
            Raised(name: "odoo.exceptions.UserError", message: message, status: 422)
        }
        static func valueError(_ message: String) -> Raised {
            Raised(name: "builtins.ValueError", message: message, status: 422)
        }
        static func typeError(_ message: String) -> Raised {
            Raised(name: "builtins.TypeError", message: message, status: 422)
        }
        static func attributeError(_ message: String) -> Raised {
            Raised(name: "builtins.AttributeError", message: message, status: 404)
        }
    }

    /// A created `postmark.notification`.
    struct Record: Sendable {
        var id: Int
        var values: [String: JSONValue]
    }

    private struct State {
        var server: HTTPServer?
        var port = 0
        var records: [String: Record] = [:]
        var nextRecordID = 1
        var timesSent: [String: Int] = [:]
        var ingestBatchSizes: [Int] = []
        var calls: [String] = []
        var faults: [(method: String?, fault: Fault)] = []
        var rejectedKeys: [String: String] = [:]
        var mailServers: [Int: [String: JSONValue]] = [:]
        var reports: [[String: JSONValue]] = []
        var helloURLs: [String] = []
        var addonInstalled = true
        var keepsValues = true
        var userInBridgeGroup = true
        var moduleListReadable = false
        var extraMethods: [String: @Sendable ([String: JSONValue]) -> JSONValue?] = [:]
    }

    let version: Version
    let database = "odoo"
    let login = "bridge"
    let apiKey = "bridge-api-key-0123456789"
    let uid = 7

    private let state = Mutex(State())
    private let contractFields: Set<String>
    private let contractStates: Set<String>
    private let contractWrittenFields: Set<String>

    /// Creates the fake and starts it on a free port.
    init(version: Version = .odoo18) throws {
        self.version = version
        let contract = try FakeOdoo.contract()
        contractFields = Set(contract["notification"]?["fields_sent_by_bridge"]?.objectValue?.keys.map { $0 } ?? [])
        contractStates = Set(contract["notification"]?["states"]?.objectValue?.keys.map { $0 } ?? [])
        contractWrittenFields = Set(
            contract["mail_server"]?["fields_written_by_bridge"]?.objectValue?.keys.map { $0 } ?? []
        )
        addMailServer(id: 1, name: "Postmark", token: "verify-token-1")
        try start()
    }

    deinit { state.withLock { $0.server }?.shutdown(gracePeriod: .zero) }

    /// The addon's `bridge_contract.json`, read from the repository.
    static func contract() throws -> JSONValue {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let url = root.appendingPathComponent("odoo_addon/wk_postmark_notification/bridge_contract.json")
        return try JSONValue.parse(Array(try Data(contentsOf: url)))
    }

    // MARK: - Control

    /// Odoo's base URL.
    var url: URL { URL(string: "http://127.0.0.1:\(state.withLock { $0.port })")! }

    /// A client configuration for the bridge user; `apiKey` overrides the right key.
    func configuration(
        apiKey: String? = nil,
        transport: OdooTransport? = nil,
        timeout: Duration = .seconds(5)
    ) -> OdooConfiguration {
        OdooConfiguration(
            url: url, database: database, login: login, apiKey: apiKey ?? self.apiKey, transport: transport,
            timeout: timeout, batchTimeout: timeout
        )
    }

    /// Starts listening, on the same port as before when it ran already.
    func start() throws {
        let port = state.withLock { $0.port }
        let server = HTTPServer(
            configuration: HTTPServerConfiguration(host: "127.0.0.1", port: port, maxBodyBytes: 64 << 20),
            responder: self, logger: Logger(label: "fake-odoo")
        )
        let bound = try server.start()
        state.withLock {
            $0.server = server
            $0.port = bound
        }
    }

    /// Stops listening: connections are refused until ``start()``.
    func stop() {
        let server = state.withLock { state -> HTTPServer? in
            defer { state.server = nil }
            return state.server
        }
        server?.shutdown(gracePeriod: .zero)
    }

    /// Injects `fault` into the next request calling `method` (such as `bridge_ingest`), or any request when `nil`.
    func inject(_ fault: Fault, into method: String? = nil, times: Int = 1) {
        state.withLock { state in
            for _ in 0..<times { state.faults.append((method, fault)) }
        }
    }

    /// Makes every batch holding `dedupeKey` fail with a ValidationError carrying `message`.
    func reject(dedupeKey: String, message: String) {
        state.withLock { $0.rejectedKeys[dedupeKey] = message }
    }

    /// Uninstalls or installs the addon (its model and methods disappear).
    func setAddonInstalled(_ installed: Bool) { state.withLock { $0.addonInstalled = installed } }

    /// Whether created records keep their values; benchmarks turn it off so the fake's memory stays small.
    func setKeepsValues(_ keeps: Bool) { state.withLock { $0.keepsValues = keeps } }

    /// Takes the bridge user out of (or back into) the addon's bridge group.
    func setUserInBridgeGroup(_ member: Bool) { state.withLock { $0.userInBridgeGroup = member } }

    /// Lets the bridge user read `ir.module.module` (admins can; the bridge group normally cannot).
    func setModuleListReadable(_ readable: Bool) { state.withLock { $0.moduleListReadable = readable } }

    /// Adds a public method, called with its named arguments; returning `nil` is Python's None.
    func addMethod(_ model: String, _ method: String, _ body: @escaping @Sendable ([String: JSONValue]) -> JSONValue?) {
        state.withLock { $0.extraMethods["\(model).\(method)"] = body }
    }

    /// Adds or replaces an `ir.mail_server` record with Postmark enabled; other fields take Odoo's defaults.
    func addMailServer(id: Int, name: String, token: String?, fields: [String: JSONValue] = [:]) {
        var record: [String: JSONValue] = [
            "id": .int(Int64(id)), "name": .string(name), "active": true, "postmark_enabled": true,
            "postmark_server_id": false, "postmark_account_token": false,
            "postmark_webhook_token": token.map(JSONValue.string) ?? false, "postmark_webhook_token_previous": false,
            "postmark_webhook_token_previous_until": false, "postmark_smtp_api_errors": false,
            "postmark_message_stream": "outbound", "postmark_trigger_delivery": true, "postmark_trigger_bounce": true,
            "postmark_bounce_include_content": false, "postmark_trigger_spam_complaint": true,
            "postmark_spam_include_content": false, "postmark_trigger_open": true, "postmark_open_first_only": true,
            "postmark_trigger_click": true, "postmark_trigger_subscription_change": true,
            "postmark_sync_requested": false, "write_date": "2026-01-02 03:04:05", "postmark_sync_state": "never",
            "postmark_sync_message": false, "postmark_sync_date": false, "postmark_last_event_date": false,
            "postmark_auth_failure_count": 0, "postmark_last_auth_failure_date": false,
            "smtp_host": "smtp.postmarkapp.com",
        ]
        record.merge(fields) { _, new in new }
        state.withLock { $0.mailServers[id] = record }
    }

    /// The `ir.mail_server` record with `id`, as stored.
    func mailServer(_ id: Int) -> [String: JSONValue]? { state.withLock { $0.mailServers[id] } }

    /// The notifications, by dedupe key.
    var records: [String: Record] { state.withLock { $0.records } }

    /// How many times each dedupe key was sent to `bridge_ingest` or `create`.
    var timesSent: [String: Int] { state.withLock { $0.timesSent } }

    /// The size of every `bridge_ingest` call that reached Odoo.
    var ingestBatchSizes: [Int] { state.withLock { $0.ingestBatchSizes } }

    /// Every call as `service.method` or `model.method`, in order.
    var calls: [String] { state.withLock { $0.calls } }

    /// The `postmark_bridge_report` reports received.
    var reports: [[String: JSONValue]] { state.withLock { $0.reports } }

    /// The public URLs announced with `postmark_bridge_hello`.
    var helloURLs: [String] { state.withLock { $0.helloURLs } }

    // MARK: - HTTP

    func respond(to request: HTTPRequest) -> HTTPResponse {
        let route: String
        switch (request.method, request.path) {
        case ("POST", "/jsonrpc"): route = "jsonrpc"
        case ("GET", "/web/version"), ("GET", "/json/version"): route = "version"
        case ("POST", let path) where path.hasPrefix("/json/2/"): route = "json2"
        default: route = "other"
        }

        let calledMethod = route == "json2" ? String(request.path.split(separator: "/").last ?? "") : rpcMethod(request)
        if let response = applyFault(method: calledMethod, request: request) { return response }

        switch route {
        case "jsonrpc": return jsonRPC(request)
        case "version" where version == .odoo19:
            return .json(status: 200, body: #"{"version_info":[19,0,0,"final",0,""],"version":"19.0"}"#)
        case "json2" where version == .odoo19: return json2(request)
        default: return notFoundPage()
        }
    }

    private func rpcMethod(_ request: HTTPRequest) -> String? {
        guard request.path == "/jsonrpc", let body = try? JSONValue.parse(request.body),
            let args = body["params"]?["args"]?.arrayValue
        else { return nil }
        if args.count > 4 { return args[4].stringValue }
        return body["params"]?["method"]?.stringValue
    }

    private func applyFault(method: String?, request: HTTPRequest) -> HTTPResponse? {
        let fault = state.withLock { state -> Fault? in
            guard let index = state.faults.firstIndex(where: { $0.method == nil || $0.method == method }) else {
                return nil
            }
            return state.faults.remove(at: index).fault
        }
        switch fault {
        case nil:
            return nil
        case .httpStatus(let status):
            return HTTPResponse(
                status: status, headers: [("Content-Type", "text/html")],
                body: Array("<html><body><h1>\(status) Bad Gateway</h1></body></html>".utf8)
            )
        case .delay(let duration):
            Thread.sleep(
                forTimeInterval: Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
            return nil
        case .exception(let name, let message):
            let raised = Raised(name: name, message: message, status: 500)
            return request.path == "/jsonrpc" ? jsonRPCError(raised, id: rpcID(request)) : json2Error(raised)
        case .dieAfterCommit:
            _ = request.path == "/jsonrpc" ? jsonRPC(request) : json2(request)
            Thread.detachNewThread { self.stop() }
            // The answer is lost: the server force-closes this connection while the responder still holds it.
            Thread.sleep(forTimeInterval: 1)
            return HTTPResponse(status: 500)
        }
    }

    private func notFoundPage() -> HTTPResponse {
        HTTPResponse(
            status: 404, headers: [("Content-Type", "text/html; charset=utf-8")],
            body: Array("<!DOCTYPE html><html><title>404 | Page not found</title></html>".utf8)
        )
    }

    // MARK: - /jsonrpc

    private func rpcID(_ request: HTTPRequest) -> JSONValue {
        (try? JSONValue.parse(request.body))?["id"] ?? .null
    }

    private func jsonRPC(_ request: HTTPRequest) -> HTTPResponse {
        let contentType = request.headers["Content-Type"]?.split(separator: ";").first.map(String.init) ?? ""
        guard contentType == "application/json" || contentType == "application/json-rpc" else {
            return HTTPResponse(status: 400, headers: [("Content-Type", "text/html")], body: Array("Bad Request".utf8))
        }
        guard let document = try? JSONValue.parse(request.body) else {
            return HTTPResponse(status: 400, body: Array("Invalid JSON data".utf8))
        }
        guard let params = document["params"]?.objectValue else {
            return HTTPResponse(status: 400, body: Array("Invalid JSON-RPC data".utf8))
        }
        let id = document["id"] ?? .null

        do {
            let service = params["service"]?.stringValue ?? ""
            let method = params["method"]?.stringValue ?? ""
            let args = params["args"]?.arrayValue ?? []
            let result = try dispatchRPC(service: service, method: method, args: args)
            var envelope: [String: JSONValue] = ["jsonrpc": "2.0", "id": id]
            if let result { envelope["result"] = result }
            return .json(status: 200, body: JSONValue.object(envelope).serializedBytes())
        } catch let raised as Raised {
            return jsonRPCError(raised, id: id)
        } catch {
            return jsonRPCError(Raised(name: "builtins.Exception", message: "\(error)", status: 500), id: id)
        }
    }

    private func jsonRPCError(_ raised: Raised, id: JSONValue) -> HTTPResponse {
        let error: JSONValue = [
            "code": version == .odoo18 ? 200 : 0,
            "message": "Odoo Server Error",
            "data": [
                "name": .string(raised.name),
                "debug": .string("Traceback (most recent call last):\n  ...\n\(raised.name): \(raised.message)\n"),
                "message": .string(raised.message),
                "arguments": [.string(raised.message)],
                "context": [:],
            ],
        ]
        return .json(
            status: 200, body: JSONValue.object(["jsonrpc": "2.0", "id": id, "error": error]).serializedBytes())
    }

    private func dispatchRPC(service: String, method: String, args: [JSONValue]) throws -> JSONValue? {
        record("\(service).\(method)")
        switch (service, method) {
        case ("common", "version"):
            let major: Int64 = version == .odoo18 ? 18 : 19
            return [
                "server_version": .string("\(major).0"), "server_version_info": [.int(major), 0, 0, "final", 0, ""],
                "server_serie": .string("\(major).0"), "protocol_version": 1,
            ]
        case ("common", "login"), ("common", "authenticate"):
            guard args.count >= 3 else {
                throw Raised.typeError("exp_authenticate() missing 1 required positional argument")
            }
            try checkDatabase(args[0].stringValue)
            return args[1].stringValue == login && args[2].stringValue == apiKey ? .int(Int64(uid)) : false
        case ("object", "execute_kw"):
            guard args.count >= 6 else { throw Raised.typeError("execute_kw() missing required positional arguments") }
            try checkDatabase(args[0].stringValue)
            guard args[1].intValue == Int64(uid), args[2].stringValue == apiKey else { throw Raised.accessDenied() }
            let model = args[3].stringValue ?? ""
            let name = args[4].stringValue ?? ""
            let positional = args[5].arrayValue ?? []
            let kwargs = args.count > 6 ? args[6].objectValue ?? [:] : [:]
            return try execute(
                model: model, method: name, positional: positional, named: kwargs, missingModel: .userError)
        default:
            throw Raised(name: "builtins.NameError", message: "Method not available \(method)", status: 500)
        }
    }

    private func checkDatabase(_ name: String?) throws {
        guard name == database else {
            throw Raised(
                name: "psycopg2.OperationalError",
                message:
                    "connection to server at \"127.0.0.1\", port 5432 failed: "
                    + "FATAL:  database \"\(name ?? "")\" does not exist",
                status: 500
            )
        }
    }

    // MARK: - JSON-2

    private func json2(_ request: HTTPRequest) -> HTTPResponse {
        let authorization = request.headers["Authorization"] ?? ""
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", parts[1] == apiKey else {
            return json2Error(Raised(name: "werkzeug.exceptions.Unauthorized", message: "Invalid apikey", status: 401))
        }
        if let database = request.headers["X-Odoo-Database"], database != self.database {
            return json2Error(Raised(name: "werkzeug.exceptions.NotFound", message: "database not found", status: 404))
        }
        let components = request.path.split(separator: "/").map(String.init)
        guard components.count == 4 else {
            return json2Error(
                Raised(
                    name: "werkzeug.exceptions.NotFound",
                    message: "Did you mean POST /json/2/<model>/<method>?", status: 404
                )
            )
        }
        guard var body = (try? JSONValue.parse(request.body))?.objectValue else {
            return json2Error(Raised(name: "werkzeug.exceptions.BadRequest", message: "Invalid JSON data", status: 400))
        }
        let ids = body.removeValue(forKey: "ids")
        if let ids, !(ids.arrayValue?.isEmpty ?? true) {
            return json2Error(
                Raised(
                    name: "werkzeug.exceptions.UnprocessableEntity", message: "cannot call @api.model with ids",
                    status: 422)
            )
        }

        do {
            let result = try execute(
                model: components[2], method: components[3], positional: [], named: body, missingModel: .notFound)
            return .json(status: 200, body: (result ?? .null).serializedBytes())
        } catch let raised as Raised {
            return json2Error(raised)
        } catch {
            return json2Error(Raised(name: "builtins.Exception", message: "\(error)", status: 500))
        }
    }

    private func json2Error(_ raised: Raised) -> HTTPResponse {
        let body: JSONValue = [
            "name": .string(raised.name), "message": .string(raised.message), "arguments": [.string(raised.message)],
            "context": [:], "debug": .string("Traceback (most recent call last):\n  ...\n"),
        ]
        return .json(status: raised.status, body: body.serializedBytes())
    }

    // MARK: - Models

    private enum MissingModel {
        case userError
        case notFound
    }

    private func record(_ call: String) { state.withLock { $0.calls.append(call) } }

    private func execute(
        model: String,
        method: String,
        positional: [JSONValue],
        named: [String: JSONValue],
        missingModel: MissingModel
    ) throws -> JSONValue? {
        record("\(model).\(method)")
        if method.hasPrefix("_") || method == "init" {
            throw Raised.accessError("Private methods (such as \(model).\(method)) cannot be called remotely.")
        }
        let installed = state.withLock { $0.addonInstalled }
        let models: Set<String> = ["ir.mail_server", "res.users", "ir.module.module"]
        guard models.contains(model) || (model == "postmark.notification" && installed) else {
            switch missingModel {
            case .userError: throw Raised.userError("Object \(model) doesn't exist")
            case .notFound:
                throw Raised(name: "werkzeug.exceptions.NotFound", message: "Model \(model) not found", status: 404)
            }
        }

        let signature: [String]
        switch method {
        case "bridge_ingest", "create": signature = ["vals_list"]
        case "search_read": signature = ["domain", "fields", "offset", "limit", "order"]
        case "search_count": signature = ["domain", "limit"]
        case "fields_get": signature = ["allfields", "attributes"]
        case "postmark_bridge_report": signature = ["reports"]
        case "postmark_bridge_hello": signature = ["public_url"]
        default: signature = []
        }
        var arguments = named
        let context = arguments.removeValue(forKey: "context")?.objectValue ?? [:]
        for (index, value) in positional.enumerated() {
            guard index < signature.count else {
                throw Raised.typeError("\(method)() takes \(signature.count + 1) positional arguments")
            }
            arguments[signature[index]] = value
        }
        if let extra = state.withLock({ $0.extraMethods["\(model).\(method)"] }) { return extra(arguments) }
        if let unexpected = arguments.keys.first(where: { !signature.contains($0) }) {
            guard !signature.isEmpty || ["context_get"].contains(method) else {
                throw Raised.attributeError("The method '\(method)' does not exist on the model '\(model)'")
            }
            throw Raised.typeError("\(model).\(method)() got an unexpected keyword argument '\(unexpected)'")
        }

        switch (model, method) {
        case ("postmark.notification", "bridge_ingest"):
            return try ingest(arguments["vals_list"], skipExisting: true)
        case ("postmark.notification", "create"):
            let ids = try ingest(arguments["vals_list"], skipExisting: false)
            return .array(ids.objectValue?.values.sorted { ($0.intValue ?? 0) < ($1.intValue ?? 0) } ?? [])
        case ("postmark.notification", "search_count"):
            return .int(Int64(state.withLock { $0.records.count }))
        case ("postmark.notification", "fields_get"):
            // Like Odoo, fields_get hides fields whose `groups` the caller lacks: the raw payload is admin-only.
            return fieldsGet(
                contractFields.subtracting(["payload"]).union(["id", "user_id", "mail_message_id", "is_read"]))
        case ("ir.mail_server", "search_read"):
            return try searchMailServers(arguments, context: context)
        case ("ir.mail_server", "postmark_bridge_report") where installed:
            try requireBridgeGroup("ir.mail_server")
            let reports = arguments["reports"]?.arrayValue?.compactMap(\.objectValue) ?? []
            try state.withLock { state in
                for report in reports {
                    let unknown = report.keys.filter { $0 != "id" && !contractWrittenFields.contains($0) }.sorted()
                    if !unknown.isEmpty {
                        throw Raised.validation("Fields the bridge may not write: \(unknown.joined(separator: ", "))")
                    }
                    guard let id = report["id"]?.odooID, state.mailServers[id] != nil else {
                        throw Raised.validation("No mail server \(report["id"]?.odooID ?? 0).")
                    }
                }
                for report in reports {
                    guard let id = report["id"]?.odooID else { continue }
                    for (key, value) in report where key != "id" { state.mailServers[id]?[key] = value }
                }
                state.reports += reports
            }
            return true
        case ("ir.mail_server", "postmark_bridge_hello") where installed:
            try requireBridgeGroup("ir.mail_server")
            let publicURL = arguments["public_url"]?.stringValue ?? ""
            state.withLock { $0.helloURLs.append(publicURL) }
            return ["server_version": "18.0", "addon_version": "18.0.1.0.0"]
        case ("res.users", "context_get"):
            return ["lang": "en_US", "tz": false, "uid": .int(Int64(uid))]
        case ("ir.module.module", "search_read"):
            guard state.withLock({ $0.moduleListReadable }) else {
                throw Raised.accessError("You are not allowed to access 'Module' (ir.module.module) records.")
            }
            return [["id": 42, "state": installed ? "installed" : "uninstalled", "latest_version": "18.0.1.0.0"]]
        default:
            throw Raised.attributeError("The method '\(method)' does not exist on the model '\(model)'")
        }
    }

    private func requireBridgeGroup(_ model: String) throws {
        guard state.withLock({ $0.userInBridgeGroup }) else {
            throw Raised.accessError(
                "You are not allowed to modify '\(model)' records. "
                    + "This operation is allowed for the following groups:\n\t- Postmark bridge"
            )
        }
    }

    /// `bridge_ingest` (`skipExisting`) or plain `create`: validates every record first, so a refused batch creates
    /// nothing (one transaction), then creates the missing ones.
    private func ingest(_ valsList: JSONValue?, skipExisting: Bool) throws -> JSONValue {
        try requireBridgeGroup("postmark.notification")
        guard let list = valsList?.arrayValue else { throw Raised.typeError("vals_list must be a list of dicts") }
        let values = try list.map { item -> [String: JSONValue] in
            guard let object = item.objectValue else { throw Raised.typeError("vals_list must be a list of dicts") }
            return object
        }

        return try state.withLock { state in
            state.ingestBatchSizes.append(values.count)
            for vals in values {
                if let key = vals["dedupe_key"]?.stringValue { state.timesSent[key, default: 0] += 1 }
            }
            for vals in values {
                let unknown = vals.keys.filter { !contractFields.contains($0) }.sorted()
                if !unknown.isEmpty {
                    throw Raised.validation("Fields not accepted from the bridge: \(unknown.joined(separator: ", "))")
                }
                guard let key = vals["dedupe_key"]?.odooNonEmptyString else {
                    throw Raised.validation(
                        "The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n\n"
                            + "Model: Postmark Notification (postmark.notification)\nField: Dedupe Key (dedupe_key)\n"
                    )
                }
                if let message = state.rejectedKeys[key] { throw Raised.validation(message) }
                if let stateValue = vals["state"]?.stringValue, !contractStates.contains(stateValue) {
                    throw Raised.valueError("Wrong value for postmark.notification.state: '\(stateValue)'")
                }
                if let server = vals["mail_server_id"]?.odooID, state.mailServers[server] == nil {
                    throw Raised.validation(
                        "The operation cannot be completed: another model requires the record being deleted. "
                            + "If possible, archive it instead.\n\n"
                            + "Model: Postmark Notification (postmark.notification)\n"
                            + "Constraint: postmark_notification_mail_server_id_fkey\n"
                    )
                }
                if !skipExisting, state.records[key] != nil {
                    throw Raised.validation(
                        "The operation cannot be completed: A notification with this dedupe key already exists."
                    )
                }
            }

            var ids: [String: JSONValue] = [:]
            for vals in values {
                let key = vals["dedupe_key"]!.stringValue!
                if let existing = state.records[key] {
                    ids[key] = .int(Int64(existing.id))
                    continue
                }
                let record = Record(id: state.nextRecordID, values: state.keepsValues ? vals : [:])
                state.nextRecordID += 1
                state.records[key] = record
                ids[key] = .int(Int64(record.id))
            }
            return .object(ids)
        }
    }

    private func searchMailServers(_ arguments: [String: JSONValue], context: [String: JSONValue]) throws -> JSONValue {
        let activeTest = context["active_test"]?.boolValue ?? true
        let terms = arguments["domain"]?.arrayValue ?? []
        let fields = arguments["fields"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let servers = state.withLock { $0.mailServers }.sorted { $0.key < $1.key }.map(\.value)

        let known = Set(servers.first?.keys.map { $0 } ?? [])
        if let unknown = fields.first(where: { !known.contains($0) }) {
            throw Raised.valueError("Invalid field '\(unknown)' on model 'ir.mail_server'")
        }
        let matching = servers.filter { record in
            if activeTest, record["active"] != .bool(true) { return false }
            return terms.allSatisfy { term in
                guard let parts = term.arrayValue, parts.count == 3, parts[1] == "=", let field = parts[0].stringValue
                else { return true }
                return (record[field] ?? false) == parts[2]
            }
        }
        return .array(
            matching.map { record in
                var projected: [String: JSONValue] = ["id": record["id"] ?? false]
                for field in fields { projected[field] = record[field] ?? false }
                return .object(projected)
            }
        )
    }

    private func fieldsGet(_ names: Set<String>) -> JSONValue {
        .object(Dictionary(uniqueKeysWithValues: names.map { ($0, ["type": "char"] as JSONValue) }))
    }
}
