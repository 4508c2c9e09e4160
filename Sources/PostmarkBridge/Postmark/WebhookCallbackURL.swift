import Foundation

/// The URL Postmark posts a mail server's events to, and how the bridge recognises its own webhooks by it.
///
/// A webhook is the bridge's own when its URL, ignoring credentials in the URL, the query, the fragment, a
/// trailing slash, the case of scheme and host and a default port, is the callback URL. Webhooks set up by
/// hand from the callback URL shown in Odoo (often with the token in the URL) are therefore adopted.
public struct WebhookCallbackURL: Sendable, Equatable, CustomStringConvertible {
    /// The callback URL, such as `https://bridge.example.com/postmark/webhook/7`.
    public let url: String

    private let key: MatchKey

    /// Builds `<publicBaseURL>/postmark/webhook/<mailServerID>`; `nil` when the base is not a plain http(s) URL
    /// (credentials, a query or a fragment have no place in it).
    public init?(publicBaseURL: String, mailServerID: Int) {
        var base = publicBaseURL.trimmingCharacters(in: .whitespaces)
        while base.hasSuffix("/") { base.removeLast() }
        guard let baseComponents = URLComponents(string: base), baseComponents.query == nil,
            baseComponents.fragment == nil
        else { return nil }
        let url = "\(base)/postmark/webhook/\(mailServerID)"
        guard let key = MatchKey(url), key.hasNoCredentials else { return nil }
        self.url = url
        self.key = key
    }

    /// Whether `candidate` points at this callback (see the type's documentation).
    public func matches(_ candidate: String) -> Bool {
        MatchKey(candidate) == key
    }

    /// Whether `candidate` points at this callback's path on another host or port, such as an old address of
    /// the bridge: such webhooks are not the bridge's to change, but worth telling the admin about.
    public func isLookalike(_ candidate: String) -> Bool {
        guard let other = MatchKey(candidate) else { return false }
        return other != key && other.path == key.path
    }

    /// The callback URL.
    public var description: String { url }

    /// `url` with any `user:password@` removed, for messages and logs.
    public static func redactingUserInfo(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "(unparseable URL)" }
        components.user = nil
        components.password = nil
        if components.query != nil { components.query = "…" }
        return components.string ?? "(unparseable URL)"
    }

    private struct MatchKey: Equatable {
        var scheme: String
        var host: String
        var port: Int
        var path: String
        var hasNoCredentials: Bool

        init?(_ text: String) {
            guard let components = URLComponents(string: text),
                let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
                let host = components.host, !host.isEmpty
            else { return nil }
            self.scheme = scheme
            self.host = host.lowercased()
            port = components.port ?? (scheme == "https" ? 443 : 80)
            var path = components.percentEncodedPath
            while path.hasSuffix("/") { path.removeLast() }
            self.path = path
            hasNoCredentials = components.user == nil && components.password == nil
        }

        static func == (lhs: MatchKey, rhs: MatchKey) -> Bool {
            lhs.scheme == rhs.scheme && lhs.host == rhs.host && lhs.port == rhs.port && lhs.path == rhs.path
        }
    }
}
