import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A response for the server to write. The server adds `Content-Length`, `Date` and, when it closes the
/// connection, `Connection: close`; framing headers set here (`Content-Length`, `Transfer-Encoding`,
/// `Connection`) are replaced.
public struct HTTPResponse: Sendable {
    /// The status code, from 200 to 599 (the server sends `100 Continue` itself).
    public var status: Int
    /// Extra header fields, in order. Fields whose name or value contains CR, LF or NUL are dropped.
    public var headers: [(String, String)]
    /// The body bytes (not sent for `HEAD` requests, though `Content-Length` still counts them).
    public var body: [UInt8]

    /// Creates a response.
    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A response with a JSON body and `Content-Type: application/json`.
    public static func json(status: Int, body: [UInt8], headers: [(String, String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: body)
    }

    /// A response with a JSON body given as a string and `Content-Type: application/json`.
    public static func json(status: Int, body: String, headers: [(String, String)] = []) -> HTTPResponse {
        json(status: status, body: Array(body.utf8), headers: headers)
    }

    /// A response with a plain-text body and `Content-Type: text/plain; charset=utf-8`.
    public static func text(status: Int, body: String, headers: [(String, String)] = []) -> HTTPResponse {
        HTTPResponse(
            status: status, headers: [("Content-Type", "text/plain; charset=utf-8")] + headers, body: Array(body.utf8))
    }

    /// The server's own short JSON answer for a status: `{"error":"<code>"}`.
    static func serverError(status: Int, code: String, headers: [(String, String)] = []) -> HTTPResponse {
        json(status: status, body: #"{"error":"\#(code)"}"#, headers: headers)
    }

    /// The reason phrase for `status`, or an empty phrase for codes this service never sends.
    public static func reasonPhrase(for status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 417: "Expectation Failed"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: ""
        }
    }

    /// The bytes on the wire: status line, headers with `Content-Length` (and `Connection` as asked), body.
    ///
    /// - Parameters:
    ///   - date: The `Date` header value (an IMF-fixdate).
    ///   - close: Whether to announce `Connection: close`.
    ///   - keepAliveForHTTP10: Whether to announce `Connection: keep-alive` (for an HTTP/1.0 client that asked).
    ///   - includeBody: `false` for a `HEAD` request.
    func serialized(
        date: String = HTTPDate.format(time(nil)), close: Bool, keepAliveForHTTP10: Bool = false,
        includeBody: Bool = true
    ) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(Self.reasonPhrase(for: status))\r\n"
        for (name, value) in headers where Self.isSafe(name) && Self.isSafe(value) {
            switch HTTPHeaders.lowercase(name) {
            case "content-length", "transfer-encoding", "connection", "date": continue
            default: head += "\(name): \(value)\r\n"
            }
        }
        // RFC 9110 §8.6: no Content-Length (and no content) on 1xx, 204 and 304.
        let hasContent = status >= 200 && status != 204 && status != 304
        if hasContent {
            head += "Content-Length: \(body.count)\r\n"
        }
        if status >= 200 {
            head += "Date: \(date)\r\n"
        }
        if close {
            head += "Connection: close\r\n"
        } else if keepAliveForHTTP10 {
            head += "Connection: keep-alive\r\n"
        }
        head += "\r\n"

        var bytes = Array(head.utf8)
        if includeBody && hasContent {
            bytes.append(contentsOf: body)
        }
        return bytes
    }

    private static func isSafe(_ text: String) -> Bool {
        !text.utf8.contains { $0 == 13 || $0 == 10 || $0 == 0 }
    }
}

/// The IMF-fixdate of the `Date` header.
enum HTTPDate {
    /// `seconds` since the epoch as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
    static func format(_ seconds: Int) -> String {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func pad(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return
            "\(days[Int(parts.tm_wday)]), \(pad(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec)) GMT"
    }
}
