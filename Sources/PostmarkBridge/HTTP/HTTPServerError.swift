/// Every failure of the HTTP layer: a server that cannot start, or a request that cannot be parsed.
///
/// The description names the failure and never carries request bytes, header values or bodies. Parse failures
/// are answered by the server itself (``status``); start failures are thrown by ``HTTPServer/start()``.
public struct HTTPServerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: String, Sendable, CaseIterable {
        /// `BRIDGE_LISTEN`'s host is not an IPv4 or IPv6 literal nor `localhost`.
        case invalidAddress = "invalid_address"
        /// `socket`, `setsockopt` or `pipe` failed.
        case socketFailed = "socket_failed"
        /// The address is in use or not available here.
        case bindFailed = "bind_failed"
        /// `listen` failed.
        case listenFailed = "listen_failed"
        /// ``HTTPServer/start()`` was called twice.
        case alreadyStarted = "already_started"
        /// The request line is not `method SP target SP HTTP/x.y`.
        case malformedRequestLine = "malformed_request_line"
        /// A header line is not `name: value`, or a line ends without CRLF.
        case malformedHeader = "malformed_header"
        /// A header line starts with whitespace (obsolete line folding, RFC 9112 §5.2).
        case obsoleteLineFolding = "obsolete_line_folding"
        /// An HTTP/1.1 request without exactly one `Host`.
        case invalidHost = "invalid_host"
        /// `Content-Length` is not a decimal number.
        case invalidContentLength = "invalid_content_length"
        /// `Content-Length` appears more than once.
        case duplicateContentLength = "duplicate_content_length"
        /// Both `Content-Length` and `Transfer-Encoding`, or `Transfer-Encoding` on HTTP/1.0.
        case conflictingFraming = "conflicting_framing"
        /// A chunk-size line or a chunk terminator is malformed.
        case malformedChunk = "malformed_chunk"
        /// Request line and headers (or the trailers) exceed the configured limit.
        case headersTooLarge = "headers_too_large"
        /// The body exceeds the configured limit.
        case bodyTooLarge = "body_too_large"
        /// An HTTP major version other than 1.
        case unsupportedVersion = "unsupported_version"
        /// A transfer coding other than `chunked`.
        case unsupportedTransferEncoding = "unsupported_transfer_encoding"
    }

    /// What went wrong.
    public let code: Code

    /// The `errno` of a failed system call, when there is one.
    public let systemError: Int32?

    /// Creates an error with a code and, for system-call failures, the `errno`.
    public init(_ code: Code, systemError: Int32? = nil) {
        self.code = code
        self.systemError = systemError
    }

    /// The status the server answers a parse failure with (500 for start failures, which are never answered).
    public var status: Int {
        switch code {
        case .headersTooLarge: 431
        case .bodyTooLarge: 413
        case .unsupportedVersion: 505
        case .unsupportedTransferEncoding: 501
        case .malformedRequestLine, .malformedHeader, .obsoleteLineFolding, .invalidHost, .invalidContentLength,
            .duplicateContentLength, .conflictingFraming, .malformedChunk:
            400
        case .invalidAddress, .socketFailed, .bindFailed, .listenFailed, .alreadyStarted: 500
        }
    }

    /// The code, and the `errno` when there is one.
    public var description: String {
        guard let systemError else { return "HTTPServerError(\(code.rawValue))" }
        return "HTTPServerError(\(code.rawValue), errno: \(systemError))"
    }
}
