import Foundation

/// What the bridge reads of a Postmark server (`GET /servers/{id}`).
///
/// ``description`` never shows the API tokens.
public struct PostmarkServerInfo: Sendable, Equatable, CustomStringConvertible {
    /// Postmark's server id.
    public var id: Int64
    /// The server's name in Postmark.
    public var name: String
    /// The server's API tokens (secrets); the first one is used for the Webhooks API.
    public var apiTokens: [String]
    /// Whether SMTP API errors are reported through the bounce webhook.
    public var enableSmtpApiErrorHooks: Bool

    /// Creates server info.
    public init(id: Int64, name: String, apiTokens: [String], enableSmtpApiErrorHooks: Bool) {
        self.id = id
        self.name = name
        self.apiTokens = apiTokens
        self.enableSmtpApiErrorHooks = enableSmtpApiErrorHooks
    }

    /// Reads the server from Postmark's JSON; `nil` when the id is missing.
    public init?(json: JSONValue) {
        guard let id = json["ID"]?.intValue else { return nil }
        self.id = id
        name = json["Name"]?.stringValue ?? ""
        apiTokens = json["ApiTokens"]?.arrayValue?.compactMap(\.stringValue) ?? []
        enableSmtpApiErrorHooks = json["EnableSmtpApiErrorHooks"]?.boolValue ?? false
    }

    /// Names the server without its tokens.
    public var description: String {
        "PostmarkServerInfo(id: \(id), name: \(name), apiTokens: \(apiTokens.count), "
            + "enableSmtpApiErrorHooks: \(enableSmtpApiErrorHooks))"
    }
}

/// HTTP Basic credentials Postmark sends with each webhook call.
///
/// ``description`` never shows the password.
public struct WebhookCredentials: Sendable, Equatable, CustomStringConvertible {
    /// The user name.
    public var username: String
    /// The password (secret): the mail server's current verify token.
    public var password: String

    /// Creates credentials.
    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// Names the user, hides the password.
    public var description: String { "WebhookCredentials(username: \(username), password: ***)" }
}

/// A webhook as Postmark's Webhooks API reports it.
///
/// ``description`` never shows the password.
public struct PostmarkWebhook: Sendable, Equatable, CustomStringConvertible {
    /// Postmark's webhook id.
    public var id: Int64
    /// Where Postmark posts events.
    public var url: String
    /// The message stream the webhook belongs to.
    public var messageStream: String
    /// `HttpAuth.Username`, when set.
    public var username: String?
    /// `HttpAuth.Password`, when Postmark returned it (it may not).
    public var password: String?
    /// The enabled triggers.
    public var triggers: WebhookTriggers

    /// Creates a webhook.
    public init(
        id: Int64,
        url: String,
        messageStream: String,
        username: String? = nil,
        password: String? = nil,
        triggers: WebhookTriggers
    ) {
        self.id = id
        self.url = url
        self.messageStream = messageStream
        self.username = username
        self.password = password
        self.triggers = triggers
    }

    /// Reads a webhook from Postmark's JSON; `nil` without an id or URL.
    public init?(json: JSONValue) {
        guard let id = json["ID"]?.intValue, let url = json["Url"]?.stringValue else { return nil }
        self.id = id
        self.url = url
        messageStream = json["MessageStream"]?.stringValue ?? "outbound"
        username = json["HttpAuth"]?["Username"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        password = json["HttpAuth"]?["Password"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        triggers = WebhookTriggers(postmarkJSON: json["Triggers"] ?? .null)
    }

    /// Describes the webhook without its password.
    public var description: String {
        "PostmarkWebhook(id: \(id), url: \(WebhookCallbackURL.redactingUserInfo(url)), stream: \(messageStream), "
            + "username: \(username ?? "-"), password: \(password == nil ? "absent" : "***"))"
    }
}

/// The webhook the bridge wants Postmark to have: what `POST /webhooks` and `PUT /webhooks/{id}` send.
///
/// ``description`` never shows the password.
public struct WebhookDefinition: Sendable, Equatable, CustomStringConvertible {
    /// The callback URL, without credentials.
    public var url: String
    /// The message stream.
    public var messageStream: String
    /// The HTTP Basic credentials.
    public var credentials: WebhookCredentials
    /// The triggers, already normalised (see ``WebhookTriggers/normalized``).
    public var triggers: WebhookTriggers

    /// Creates a definition; `triggers` are normalised.
    public init(url: String, messageStream: String, credentials: WebhookCredentials, triggers: WebhookTriggers) {
        self.url = url
        self.messageStream = messageStream
        self.credentials = credentials
        self.triggers = triggers.normalized
    }

    /// The body of `POST /webhooks`.
    public var createBody: JSONValue {
        [
            "Url": .string(url),
            "MessageStream": .string(messageStream),
            "HttpAuth": ["Username": .string(credentials.username), "Password": .string(credentials.password)],
            "Triggers": triggers.postmarkJSON,
        ]
    }

    /// The body of `PUT /webhooks/{id}`: everything but the stream, which Postmark does not let an edit change.
    public var updateBody: JSONValue {
        [
            "Url": .string(url),
            "HttpAuth": ["Username": .string(credentials.username), "Password": .string(credentials.password)],
            "Triggers": triggers.postmarkJSON,
        ]
    }

    /// Describes the definition without the password.
    public var description: String {
        "WebhookDefinition(url: \(url), stream: \(messageStream), \(credentials), triggers: \(triggers))"
    }
}

extension WebhookTriggers {
    /// Reads Postmark's `Triggers` object; a missing trigger counts as disabled.
    public init(postmarkJSON json: JSONValue) {
        self.init()
        delivery = json["Delivery"]?["Enabled"]?.boolValue ?? false
        bounce = json["Bounce"]?["Enabled"]?.boolValue ?? false
        bounceIncludeContent = json["Bounce"]?["IncludeContent"]?.boolValue ?? false
        spamComplaint = json["SpamComplaint"]?["Enabled"]?.boolValue ?? false
        spamComplaintIncludeContent = json["SpamComplaint"]?["IncludeContent"]?.boolValue ?? false
        open = json["Open"]?["Enabled"]?.boolValue ?? false
        openFirstOnly = json["Open"]?["PostFirstOpenOnly"]?.boolValue ?? false
        click = json["Click"]?["Enabled"]?.boolValue ?? false
        subscriptionChange = json["SubscriptionChange"]?["Enabled"]?.boolValue ?? false
    }

    /// The same choice with the options of disabled triggers cleared, so that two choices that make Postmark
    /// post the same events compare equal whatever Postmark echoes for a disabled trigger's options.
    public var normalized: WebhookTriggers {
        var copy = self
        if !bounce { copy.bounceIncludeContent = false }
        if !spamComplaint { copy.spamComplaintIncludeContent = false }
        if !open { copy.openFirstOnly = false }
        return copy
    }

    /// Postmark's `Triggers` object, every trigger spelled out.
    public var postmarkJSON: JSONValue {
        [
            "Delivery": ["Enabled": .bool(delivery)],
            "Bounce": ["Enabled": .bool(bounce), "IncludeContent": .bool(bounceIncludeContent)],
            "SpamComplaint": ["Enabled": .bool(spamComplaint), "IncludeContent": .bool(spamComplaintIncludeContent)],
            "Open": ["Enabled": .bool(open), "PostFirstOpenOnly": .bool(openFirstOnly)],
            "Click": ["Enabled": .bool(click)],
            "SubscriptionChange": ["Enabled": .bool(subscriptionChange)],
        ]
    }

    /// The names of the triggers that differ between `self` and `other`, as Postmark names them.
    public func differences(from other: WebhookTriggers) -> [String] {
        let a = normalized
        let b = other.normalized
        var names: [String] = []
        if a.delivery != b.delivery { names.append("Delivery") }
        if a.bounce != b.bounce || a.bounceIncludeContent != b.bounceIncludeContent { names.append("Bounce") }
        if a.spamComplaint != b.spamComplaint || a.spamComplaintIncludeContent != b.spamComplaintIncludeContent {
            names.append("SpamComplaint")
        }
        if a.open != b.open || a.openFirstOnly != b.openFirstOnly { names.append("Open") }
        if a.click != b.click { names.append("Click") }
        if a.subscriptionChange != b.subscriptionChange { names.append("SubscriptionChange") }
        return names
    }
}
