/// Why a webhook request is refused. The router maps ``code`` to an HTTP status; ``message`` is safe to send
/// back and to log: it never carries a token, a query string or any part of the body.
public struct WebhookError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of refusal.
    public enum Code: String, Sendable, CaseIterable {
        /// The mail server id in the path is not a known server (or not a positive integer). HTTP 404.
        case unknownMailServer = "unknown_mail_server"
        /// No credential was presented in a supported form. HTTP 401.
        case missingCredentials = "missing_credentials"
        /// A credential was presented and matches no accepted token. HTTP 401.
        case invalidCredentials = "invalid_credentials"
        /// The Content-Type is present and is not JSON. HTTP 415.
        case unsupportedContentType = "unsupported_content_type"
        /// The body is not a UTF-8 JSON object. HTTP 400.
        case malformedBody = "malformed_body"
    }

    /// The kind of refusal.
    public var code: Code
    /// A short explanation for the client.
    public var message: String
    /// For credential errors, how the rejected credential was presented (for metrics).
    public var credentialMethod: CredentialMethod?

    /// Creates an error.
    public init(_ code: Code, _ message: String, credentialMethod: CredentialMethod? = nil) {
        self.code = code
        self.message = message
        self.credentialMethod = credentialMethod
    }

    /// The code and the message.
    public var description: String { "\(code.rawValue): \(message)" }
}
