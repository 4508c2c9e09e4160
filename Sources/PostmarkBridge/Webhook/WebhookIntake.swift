import Foundation

/// What the HTTP layer knows of one `POST /postmark/webhook/<mail_server_id>` request.
public struct WebhookRequest: Sendable {
    /// The `<mail_server_id>` path segment, as text.
    public var mailServerID: String
    /// The `Authorization` header value.
    public var authorization: String?
    /// The `X-Webhook-Token` header value.
    public var tokenHeader: String?
    /// The raw query string, without `?`.
    public var query: String?
    /// The `Content-Type` header value.
    public var contentType: String?
    /// The `X-PM-Webhook-Trace-Id` header value.
    public var traceID: String?
    /// The body.
    public var body: [UInt8]

    /// Creates a request description.
    public init(
        mailServerID: String,
        authorization: String? = nil,
        tokenHeader: String? = nil,
        query: String? = nil,
        contentType: String? = nil,
        traceID: String? = nil,
        body: [UInt8]
    ) {
        self.mailServerID = mailServerID
        self.authorization = authorization
        self.tokenHeader = tokenHeader
        self.query = query
        self.contentType = contentType
        self.traceID = traceID
        self.body = body
    }
}

/// The outcome of one webhook request.
public enum WebhookDecision: Sendable, Equatable {
    /// Store the event, then answer 200; `via` says how the caller authenticated (for metrics).
    case accept(InboxEvent, PostmarkEvent, via: CredentialMethod)
    /// Answer with the error's code.
    case reject(WebhookError)
}

/// The whole decision for one webhook request, without I/O: server, then credentials, then content type, then
/// body, so a caller without a valid token learns nothing about how its body would be judged.
///
/// Content-Type policy: `application/json` with any parameters is accepted, as is any `application/*+json`;
/// a charset other than UTF-8 is refused. A missing or blank Content-Type is accepted (the body must still be a
/// JSON object): Postmark always sends `application/json`, and refusing a valid event for a missing header would
/// lose it, since Postmark drops events answered with a 4xx.
public enum WebhookIntake {
    /// Decides one request against the settings of the server its path names.
    /// - Parameters:
    ///   - request: the request.
    ///   - server: the settings of the mail server named by the path, `nil` when unknown.
    ///   - now: the current time (a rotated-out token is accepted until its grace period ends).
    /// - Returns: the event to store, or the ``WebhookError`` to answer with.
    public static func evaluate(
        _ request: WebhookRequest,
        server: MailServerSettings?,
        now: Date
    ) -> WebhookDecision {
        guard let id = mailServerID(request.mailServerID), let server, server.id == id else {
            return .reject(WebhookError(.unknownMailServer, "No mail server with this id is configured."))
        }

        let authentication = WebhookAuthenticator.authenticate(
            authorization: request.authorization,
            tokenHeader: request.tokenHeader,
            query: request.query,
            acceptedTokens: server.acceptedTokens(at: now)
        )
        let method: CredentialMethod
        switch authentication {
        case .accepted(let accepted):
            method = accepted
        case .missing:
            return .reject(
                WebhookError(
                    .missingCredentials,
                    "A verify token is required: Basic auth password, X-Webhook-Token header or token parameter."
                )
            )
        case .invalid(let presented):
            return .reject(
                WebhookError(.invalidCredentials, "The verify token is not accepted.", credentialMethod: presented)
            )
        }

        guard isJSONContentType(request.contentType) else {
            return .reject(WebhookError(.unsupportedContentType, "The body must be application/json."))
        }

        let event: PostmarkEvent
        do {
            event = try PostmarkEvent.decode(body: request.body)
        } catch {
            return .reject(error)
        }
        let inboxEvent = event.inboxEvent(mailServerID: id, traceID: request.traceID, payload: request.body)
        return .accept(inboxEvent, event, via: method)
    }

    /// Decides one request, looking its server up in `directory`; an unknown (numeric) server id or a refused token
    /// raises the directory's rate-limited "unrecognised" signal so the Odoo sync can refresh early.
    public static func evaluate(
        _ request: WebhookRequest,
        directory: ServerDirectory,
        now: Date
    ) -> WebhookDecision {
        let id = mailServerID(request.mailServerID)
        let result = evaluate(request, server: id.flatMap(directory.settings(for:)), now: now)
        // A path that is no id at all is a scanner, not a server Odoo may just have added.
        if case .reject(let error) = result, id != nil,
            error.code == .unknownMailServer || error.code == .invalidCredentials
        {
            directory.noteUnrecognised()
        }
        return result
    }

    /// The mail server id of a path segment: 1 to 18 ASCII digits, positive; anything else is no id.
    public static func mailServerID(_ text: String) -> Int? {
        guard (1...18).contains(text.utf8.count), text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let id = Int(text), id > 0
        else { return nil }
        return id
    }

    /// Whether a Content-Type value is acceptable for a webhook body (see the type's policy).
    public static func isJSONContentType(_ value: String?) -> Bool {
        guard let value else { return true }
        if value == "application/json" || value == "application/json; charset=utf-8" { return true }

        let parts = value.split(separator: ";").map { $0.trimmedWhitespace().asciiLowercased() }
        guard let mediaType = parts.first, !mediaType.isEmpty else { return true }
        guard mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json"))
        else { return false }

        for parameter in parts.dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmedWhitespace() }
            guard pair.count == 2, pair[0] == "charset" else { continue }
            let charset = pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            if charset != "utf-8" && charset != "utf8" { return false }
        }
        return true
    }
}
