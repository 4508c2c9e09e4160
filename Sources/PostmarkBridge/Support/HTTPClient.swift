import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// An outbound HTTP request to Odoo or Postmark.
public struct HTTPClientRequest: Sendable {
    /// The HTTP method, such as `POST`.
    public var method: String
    /// The absolute URL.
    public var url: URL
    /// Request headers; names are sent as given.
    public var headers: [String: String]
    /// The request body, if any.
    public var body: [UInt8]?
    /// How long the whole exchange may take.
    public var timeout: Duration

    /// Creates a request.
    public init(
        method: String,
        url: URL,
        headers: [String: String] = [:],
        body: [UInt8]? = nil,
        timeout: Duration = .seconds(30)
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// The answer to an ``HTTPClientRequest``.
public struct HTTPClientResponse: Sendable {
    /// The status code.
    public var status: Int
    /// Response headers, names lowercased.
    public var headers: [String: String]
    /// The response body.
    public var body: [UInt8]

    /// Creates a response.
    public init(status: Int, headers: [String: String] = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Why an outbound request got no HTTP answer. Messages name the host, never the path, query or credentials.
public struct HTTPClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure.
    public enum Code: String, Sendable {
        /// No answer within the request's timeout.
        case timeout
        /// The host could not be reached (refused, reset, DNS, TLS).
        case connectionFailed = "connection failed"
        /// Something that is not an HTTP response came back.
        case invalidResponse = "invalid response"
    }

    /// The kind of failure.
    public var code: Code
    /// The host the request went to.
    public var host: String

    /// Creates an error.
    public init(code: Code, host: String) {
        self.code = code
        self.host = host
    }

    /// A message safe for logs.
    public var description: String { "\(code.rawValue) talking to \(host)" }
}

/// Sends HTTP requests. The Odoo and Postmark clients depend on this protocol; tests use real in-process servers.
public protocol HTTPClient: Sendable {
    /// Sends `request` and returns whatever HTTP answer came back, whatever its status.
    func send(_ request: HTTPClientRequest) async throws(HTTPClientError) -> HTTPClientResponse
}

/// An ``HTTPClient`` on Foundation's `URLSession` (libcurl on Linux), with TLS and connection reuse.
public final class URLSessionHTTPClient: HTTPClient {
    private let session: URLSession

    /// Creates a client with its own session; `maxConnectionsPerHost` bounds parallel requests to one host.
    public init(maxConnectionsPerHost: Int = 8) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = maxConnectionsPerHost
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        session = URLSession(configuration: configuration)
    }

    deinit { session.invalidateAndCancel() }

    /// Sends `request` over the shared session.
    public func send(_ request: HTTPClientRequest) async throws(HTTPClientError) -> HTTPClientResponse {
        var urlRequest = URLRequest(url: request.url)
        urlRequest.httpMethod = request.method
        urlRequest.timeoutInterval = request.timeout.timeInterval
        for (name, value) in request.headers {
            urlRequest.setValue(value, forHTTPHeaderField: name)
        }
        if let body = request.body {
            urlRequest.httpBody = Data(body)
        }
        let host = request.url.host ?? "unknown host"

        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: urlRequest)
        } catch let error as URLError where error.code == .timedOut {
            throw HTTPClientError(code: .timeout, host: host)
        } catch {
            throw HTTPClientError(code: .connectionFailed, host: host)
        }

        guard let http = response as? HTTPURLResponse else { throw HTTPClientError(code: .invalidResponse, host: host) }
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String {
                headers[name.lowercased()] = value
            }
        }
        return HTTPClientResponse(status: http.statusCode, headers: headers, body: Array(data))
    }
}
