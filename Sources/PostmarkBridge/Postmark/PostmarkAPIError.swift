import Foundation

/// Why a call to Postmark's Account or Webhooks API failed.
///
/// Messages name the operation, the status and Postmark's `ErrorCode`, never a token: Postmark's own `Message`
/// is kept only after the tokens of the request were blanked out of it.
public struct PostmarkAPIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure, in terms of what the admin or the bridge can do about it.
    public enum Code: Sendable, Equatable {
        /// The account token was refused (HTTP 401 on the Servers API).
        case accountTokenRejected
        /// The server's API token was refused (HTTP 401 on the Webhooks API).
        case serverTokenRejected
        /// No Postmark server has the configured id (HTTP 404, or 422 with `ErrorCode` 601).
        case serverNotFound
        /// The Postmark server has no API token the bridge could use for the Webhooks API.
        case serverHasNoAPIToken
        /// The webhook vanished between reading and writing it (`ErrorCode` 1352).
        case webhookNotFound
        /// The message stream already has as many webhooks as Postmark allows (`ErrorCode` 1359).
        case tooManyWebhooks
        /// A chosen trigger is not available on the message stream (`ErrorCode` 1353).
        case triggerNotSupported
        /// Postmark refused the webhook URL (`ErrorCode` 1354).
        case invalidWebhookURL
        /// Postmark tested the webhook and the bridge did not answer 200 (`ErrorCode` 1364).
        case webhookVerificationFailed
        /// Any other refusal: an HTTP 4xx with Postmark's `ErrorCode` (0 when the body had none).
        case rejected(errorCode: Int)
        /// Postmark answered 5xx.
        case unavailable
        /// Postmark answered 429.
        case rateLimited
        /// No answer in time.
        case timeout
        /// Postmark could not be reached at all.
        case connectionFailed
        /// A 2xx answer whose body is not what the API documents.
        case unexpectedResponse
    }

    /// The API call that failed, for messages and logs.
    public enum Operation: String, Sendable {
        /// `GET /servers/{id}`.
        case readServer = "reading the server"
        /// `PUT /servers/{id}`.
        case updateServer = "updating the server"
        /// `GET /webhooks`.
        case listWebhooks = "listing webhooks"
        /// `POST /webhooks`.
        case createWebhook = "creating the webhook"
        /// `PUT /webhooks/{id}`.
        case updateWebhook = "updating the webhook"
        /// `DELETE /webhooks/{id}`.
        case deleteWebhook = "deleting a duplicate webhook"
    }

    /// The kind of failure.
    public var code: Code
    /// The call that failed.
    public var operation: Operation
    /// The HTTP status, when an answer came back.
    public var status: Int?
    /// Postmark's `Message`, with the request's tokens blanked out and cut to a readable length.
    public var postmarkMessage: String?
    /// How long Postmark asked the bridge to wait (`Retry-After`), when it said so.
    public var retryAfter: Duration?

    /// Creates an error.
    public init(
        code: Code,
        operation: Operation,
        status: Int? = nil,
        postmarkMessage: String? = nil,
        retryAfter: Duration? = nil
    ) {
        self.code = code
        self.operation = operation
        self.status = status
        self.postmarkMessage = postmarkMessage
        self.retryAfter = retryAfter
    }

    /// Whether trying again shortly may help: 5xx, 429, timeouts and connection failures.
    public var isTransient: Bool {
        switch code {
        case .unavailable, .rateLimited, .timeout, .connectionFailed: true
        default: false
        }
    }

    /// A message safe for logs: operation, status and Postmark's error code.
    public var description: String {
        var text = "Postmark API error \(operation.rawValue): \(code)"
        if let status { text += " (HTTP \(status))" }
        if let postmarkMessage { text += ": \(postmarkMessage)" }
        return text
    }

    /// Classifies an HTTP answer that is not a success.
    ///
    /// - Parameters:
    ///   - status: The HTTP status (not 2xx).
    ///   - body: The answer's body; Postmark sends `{"ErrorCode": n, "Message": "…"}`.
    ///   - headers: The answer's headers, names lowercased.
    ///   - operation: The call that was made.
    ///   - secrets: Tokens sent with the request, blanked out of Postmark's message.
    /// - Returns: The error to report.
    static func classify(
        status: Int,
        body: [UInt8],
        headers: [String: String],
        operation: Operation,
        secrets: [String]
    ) -> PostmarkAPIError {
        let json = try? JSONValue.parse(body)
        let errorCode = json?["ErrorCode"]?.intValue.map { Int($0) }
        let message = json?["Message"]?.stringValue.map { redact($0, secrets: secrets) }
        let usesAccountToken = operation == .readServer || operation == .updateServer

        let code: Code
        switch (status, errorCode) {
        case (401, _), (403, _), (_, 10?):
            code = usesAccountToken ? .accountTokenRejected : .serverTokenRejected
        case (404, _) where usesAccountToken, (_, 601?):
            code = .serverNotFound
        case (429, _):
            code = .rateLimited
        case (500..., _):
            code = .unavailable
        case (_, 1352?):
            code = .webhookNotFound
        case (_, 1353?):
            code = .triggerNotSupported
        case (_, 1354?):
            code = .invalidWebhookURL
        case (_, 1359?):
            code = .tooManyWebhooks
        case (_, 1364?):
            code = .webhookVerificationFailed
        default:
            code = .rejected(errorCode: errorCode ?? 0)
        }

        let retryAfter = headers["retry-after"].flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            .map { Duration.seconds(max(0, $0)) }
        return PostmarkAPIError(
            code: code, operation: operation, status: status, postmarkMessage: message, retryAfter: retryAfter)
    }

    /// Blanks out every secret in `text`, flattens it to one line and cuts it to 200 characters.
    static func redact(_ text: String, secrets: [String]) -> String {
        var clean = text
        for secret in secrets where !secret.isEmpty {
            clean = clean.replacingOccurrences(of: secret, with: "***")
        }
        clean = clean.split(whereSeparator: \.isNewline).joined(separator: " ")
        if clean.count > 200 {
            clean = String(clean.prefix(200)) + "…"
        }
        return clean
    }
}
