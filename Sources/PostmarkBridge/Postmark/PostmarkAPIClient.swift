import Foundation

/// Calls the parts of Postmark's API the bridge needs to configure a server: the Servers API (account token)
/// and the Webhooks API (server token).
///
/// Each method makes exactly one request and throws a typed ``PostmarkAPIError``; retrying is the
/// ``Reconciler``'s job, because only it can tell whether a retried create would duplicate a webhook.
/// Tokens travel in headers only and never reach logs or errors.
public struct PostmarkAPIClient: Sendable {
    /// The API base, such as `https://api.postmarkapp.com` (configuration's `POSTMARK_API_URL`).
    public let baseURL: URL
    private let httpClient: any HTTPClient
    private let requestTimeout: Duration
    private let logger: Logger

    /// Creates a client.
    ///
    /// - Parameters:
    ///   - baseURL: The API base URL; paths such as `/servers/1` are appended to it.
    ///   - httpClient: The transport, normally the shared ``URLSessionHTTPClient``.
    ///   - requestTimeout: How long one request may take (default 20 s).
    ///   - logger: Where requests are logged at debug level (method, path, status).
    public init(
        baseURL: URL,
        httpClient: any HTTPClient,
        requestTimeout: Duration = .seconds(20),
        logger: Logger = Logger(label: "postmark")
    ) {
        self.baseURL = baseURL
        self.httpClient = httpClient
        self.requestTimeout = requestTimeout
        self.logger = logger
    }

    /// Reads a server (`GET /servers/{id}`).
    public func server(id: Int64, accountToken: String) async throws(PostmarkAPIError) -> PostmarkServerInfo {
        let json = try await call(
            .readServer, method: "GET", path: "/servers/\(id)", auth: .account(accountToken))
        guard let info = PostmarkServerInfo(json: json) else {
            throw PostmarkAPIError(code: .unexpectedResponse, operation: .readServer, status: 200)
        }
        return info
    }

    /// Turns SMTP API error hooks on or off (`PUT /servers/{id}` with only `EnableSmtpApiErrorHooks`).
    public func setSmtpApiErrorHooks(
        _ enabled: Bool,
        serverID: Int64,
        accountToken: String
    ) async throws(PostmarkAPIError) {
        _ = try await call(
            .updateServer, method: "PUT", path: "/servers/\(serverID)", auth: .account(accountToken),
            body: ["EnableSmtpApiErrorHooks": .bool(enabled)])
    }

    /// Lists webhooks (`GET /webhooks`), of one message stream or, with `nil`, of every stream of the server.
    public func webhooks(
        messageStream: String?,
        serverToken: String
    ) async throws(PostmarkAPIError) -> [PostmarkWebhook] {
        let json = try await call(
            .listWebhooks, method: "GET", path: "/webhooks", query: messageStream.map { ["MessageStream": $0] },
            auth: .server(serverToken))
        guard let list = json["Webhooks"]?.arrayValue else {
            throw PostmarkAPIError(code: .unexpectedResponse, operation: .listWebhooks, status: 200)
        }
        return list.compactMap(PostmarkWebhook.init(json:))
    }

    /// Creates a webhook (`POST /webhooks`) and returns it as Postmark stored it.
    public func createWebhook(
        _ definition: WebhookDefinition,
        serverToken: String
    ) async throws(PostmarkAPIError) -> PostmarkWebhook {
        let json = try await call(
            .createWebhook, method: "POST", path: "/webhooks", auth: .server(serverToken),
            body: definition.createBody, secrets: [definition.credentials.password])
        guard let webhook = PostmarkWebhook(json: json) else {
            throw PostmarkAPIError(code: .unexpectedResponse, operation: .createWebhook, status: 200)
        }
        return webhook
    }

    /// Changes a webhook's URL, credentials and triggers (`PUT /webhooks/{id}`).
    public func updateWebhook(
        id: Int64,
        to definition: WebhookDefinition,
        serverToken: String
    ) async throws(PostmarkAPIError) {
        _ = try await call(
            .updateWebhook, method: "PUT", path: "/webhooks/\(id)", auth: .server(serverToken),
            body: definition.updateBody, secrets: [definition.credentials.password])
    }

    /// Deletes a webhook (`DELETE /webhooks/{id}`); the reconciler only ever deletes duplicates of its own.
    public func deleteWebhook(id: Int64, serverToken: String) async throws(PostmarkAPIError) {
        _ = try await call(.deleteWebhook, method: "DELETE", path: "/webhooks/\(id)", auth: .server(serverToken))
    }

    private enum Auth {
        case account(String)
        case server(String)

        var header: (name: String, value: String) {
            switch self {
            case .account(let token): ("X-Postmark-Account-Token", token)
            case .server(let token): ("X-Postmark-Server-Token", token)
            }
        }
    }

    private func call(
        _ operation: PostmarkAPIError.Operation,
        method: String,
        path: String,
        query: [String: String]? = nil,
        auth: Auth,
        body: JSONValue? = nil,
        secrets: [String] = []
    ) async throws(PostmarkAPIError) -> JSONValue {
        var url = baseURL.appending(path: String(path.dropFirst()))
        if let query {
            url = url.appending(queryItems: query.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0, value: $1) })
        }
        var headers = ["Accept": "application/json", auth.header.name: auth.header.value]
        if body != nil { headers["Content-Type"] = "application/json" }
        let request = HTTPClientRequest(
            method: method, url: url, headers: headers, body: body?.serializedBytes(), timeout: requestTimeout)

        let response: HTTPClientResponse
        do {
            response = try await httpClient.send(request)
        } catch {
            logger.debug("postmark request failed", ["http.method": method, "url.path": path, "error": "\(error)"])
            switch error.code {
            case .timeout: throw PostmarkAPIError(code: .timeout, operation: operation)
            case .connectionFailed: throw PostmarkAPIError(code: .connectionFailed, operation: operation)
            case .invalidResponse: throw PostmarkAPIError(code: .unexpectedResponse, operation: operation)
            }
        }
        logger.debug(
            "postmark request done", ["http.method": method, "url.path": path, "http.status": "\(response.status)"])

        guard (200..<300).contains(response.status) else {
            throw PostmarkAPIError.classify(
                status: response.status, body: response.body, headers: response.headers, operation: operation,
                secrets: secrets + [auth.header.value])
        }
        if response.body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return .null }
        do {
            return try JSONValue.parse(response.body)
        } catch {
            throw PostmarkAPIError(code: .unexpectedResponse, operation: operation, status: response.status)
        }
    }
}
