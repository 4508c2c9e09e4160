import Foundation

/// The protocol version of a request.
public struct HTTPVersion: Sendable, Equatable, CustomStringConvertible {
    /// The major version (always 1 for accepted requests).
    public let major: Int
    /// The minor version (0 or 1 for accepted requests; higher 1.x minors are treated as 1.1).
    public let minor: Int

    /// HTTP/1.0.
    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    /// HTTP/1.1.
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)

    /// Creates a version.
    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// `HTTP/major.minor`.
    public var description: String { "HTTP/\(major).\(minor)" }
}

/// How the length of a request body is known.
public enum HTTPBodyFraming: Sendable, Equatable {
    /// No body: no `Content-Length` and no `Transfer-Encoding`.
    case none
    /// A `Content-Length` of this many bytes.
    case length(Int)
    /// `Transfer-Encoding: chunked`; the length is known once the last chunk arrives.
    case chunked

    /// Whether the request carries body bytes (a `Content-Length: 0` body carries none).
    public var hasContent: Bool {
        switch self {
        case .none, .length(0): false
        case .length, .chunked: true
        }
    }
}

/// The request line and headers of a request, available before its body is read.
public struct HTTPRequestHead: Sendable {
    /// The method, case-sensitive as sent (`POST`).
    public let method: String
    /// The request target exactly as sent, query included. Never log it: the query may carry `token=`.
    public let target: String
    /// The path of the target without the query, still percent-encoded (`/postmark/webhook/7`); safe to log.
    public let path: String
    /// The raw query after `?`, without the `?`, or `nil` when the target has none.
    public let query: String?
    /// The protocol version.
    public let version: HTTPVersion
    /// The header fields.
    public let headers: HTTPHeaders
    /// How the body is delimited.
    public let framing: HTTPBodyFraming

    /// Whether the client asked for `100 Continue` before sending the body (`Expect: 100-continue` on HTTP/1.1).
    public var expectsContinue: Bool {
        version.minor >= 1 && headers.contains(token: "100-continue", in: "Expect")
    }

    /// Whether the client wants the connection kept open after this request: HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
    public var keepAlive: Bool {
        if headers.contains(token: "close", in: "Connection") { return false }
        return version.minor >= 1 || headers.contains(token: "keep-alive", in: "Connection")
    }

    /// The `Content-Length` of the request, when it declares one.
    public var contentLength: Int? {
        if case .length(let length) = framing { return length }
        return nil
    }

    /// The query parameters, percent-decoded with `+` as space, in order; repeated names are kept.
    public var queryItems: [(name: String, value: String)] {
        guard let query, !query.isEmpty else { return [] }
        return query.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let value = parts.count > 1 ? Self.decodeQueryComponent(parts[1]) : ""
            return (name: Self.decodeQueryComponent(parts[0]), value: value)
        }
    }

    /// The first query parameter called `name` (case-sensitive), percent-decoded.
    public func queryItem(_ name: String) -> String? {
        queryItems.first { $0.name == name }?.value
    }

    /// Creates a head; the parser builds these, tests and routers may too.
    public init(
        method: String, target: String, version: HTTPVersion = .http1_1, headers: HTTPHeaders = HTTPHeaders(),
        framing: HTTPBodyFraming = .none
    ) {
        self.method = method
        self.target = target
        (self.path, self.query) = Self.splitTarget(target)
        self.version = version
        self.headers = headers
        self.framing = framing
    }

    /// Splits a request target into its path and raw query; an absolute-form target loses scheme and authority.
    static func splitTarget(_ target: String) -> (path: String, query: String?) {
        var rest = Substring(target)

        // Absolute form (`http://host/path?q`), which RFC 9112 requires servers to accept.
        if let schemeEnd = rest.range(of: "://"), rest[..<schemeEnd.lowerBound].allSatisfy(\.isLetter) {
            let afterAuthority = rest[schemeEnd.upperBound...]
            if let pathStart = afterAuthority.firstIndex(where: { $0 == "/" || $0 == "?" }) {
                rest = afterAuthority[pathStart...]
            } else {
                rest = "/"
            }
            if rest.first == "?" { rest = "/" + rest }
        }

        guard let mark = rest.firstIndex(of: "?") else { return (String(rest), nil) }
        return (String(rest[..<mark]), String(rest[rest.index(after: mark)...]))
    }

    private static func decodeQueryComponent(_ component: Substring) -> String {
        let spaced = component.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}

/// A complete request: head and body.
public struct HTTPRequest: Sendable {
    /// The request line and headers.
    public let head: HTTPRequestHead
    /// The body bytes, de-chunked; empty when there is none.
    public let body: [UInt8]

    /// Creates a request.
    public init(head: HTTPRequestHead, body: [UInt8] = []) {
        self.head = head
        self.body = body
    }

    /// The method, as in ``HTTPRequestHead/method``.
    public var method: String { head.method }
    /// The path without the query, as in ``HTTPRequestHead/path``.
    public var path: String { head.path }
    /// The raw query, as in ``HTTPRequestHead/query``.
    public var query: String? { head.query }
    /// The header fields, as in ``HTTPRequestHead/headers``.
    public var headers: HTTPHeaders { head.headers }
    /// The decoded query parameters, as in ``HTTPRequestHead/queryItems``.
    public var queryItems: [(name: String, value: String)] { head.queryItems }
}
