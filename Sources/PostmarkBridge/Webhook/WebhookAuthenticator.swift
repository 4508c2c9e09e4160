import Foundation

/// How a webhook presented its verify token.
public enum CredentialMethod: String, Sendable, CaseIterable {
    /// `Authorization: Basic base64(user:token)`: the password is the token, the user name is ignored.
    case basic
    /// The `X-Webhook-Token` header.
    case header
    /// The `token=` query parameter (discouraged: it reaches access logs).
    case query
}

/// The outcome of checking a webhook's credentials. It never carries the token.
public enum AuthenticationResult: Sendable, Equatable {
    /// A presented token is accepted; the method is the one that matched.
    case accepted(CredentialMethod)
    /// No token was presented in a supported form.
    case missing
    /// Tokens were presented and none is accepted; the method is the first one presented.
    case invalid(CredentialMethod)
}

/// A token a request presents, with how it was presented.
public struct PresentedCredential: Sendable, Equatable {
    /// How the token was presented.
    public var method: CredentialMethod
    /// The token (secret: never log it).
    public var token: String

    /// Creates a presented credential.
    public init(method: CredentialMethod, token: String) {
        self.method = method
        self.token = token
    }
}

/// Checks a webhook's verify token against a mail server's accepted tokens.
///
/// Inputs are the raw header values and the raw query string, so this works with any HTTP layer. Tokens are
/// compared through their SHA-256 digests in constant time, so neither the content nor the length of an accepted
/// token leaks through timing, and every accepted token is compared on every call.
public enum WebhookAuthenticator {
    /// The tokens presented, in the order they are tried: Basic password, `X-Webhook-Token`, then the first
    /// `token=` query parameter (percent-decoded; `+` stays `+`, as RFC 3986 reads it).
    ///
    /// An `Authorization` header with another scheme is ignored. A Basic header that does not decode to
    /// `user:password` is presented as an empty token, so it counts as invalid rather than missing. Blank header
    /// and query tokens count as not presented.
    /// - Parameters:
    ///   - authorization: the `Authorization` header value.
    ///   - tokenHeader: the `X-Webhook-Token` header value.
    ///   - query: the raw query string, without `?`.
    public static func presentedCredentials(
        authorization: String?,
        tokenHeader: String?,
        query: String?
    ) -> [PresentedCredential] {
        var presented: [PresentedCredential] = []
        if let authorization, let password = basicPassword(authorization) {
            presented.append(PresentedCredential(method: .basic, token: password ?? ""))
        }
        if let token = tokenHeader?.trimmedWhitespace(), !token.isEmpty {
            presented.append(PresentedCredential(method: .header, token: token))
        }
        if let query, let token = firstQueryValue(named: "token", in: query), !token.isEmpty {
            presented.append(PresentedCredential(method: .query, token: token))
        }
        return presented
    }

    /// Authenticates a request.
    ///
    /// Every presented credential is tried (a reverse proxy may use Basic auth for itself while the token
    /// travels in the header). Empty accepted tokens never match.
    /// - Parameters:
    ///   - authorization: the `Authorization` header value.
    ///   - tokenHeader: the `X-Webhook-Token` header value.
    ///   - query: the raw query string, without `?`.
    ///   - acceptedTokens: the mail server's tokens valid now (`MailServerSettings.acceptedTokens(at:)`).
    public static func authenticate(
        authorization: String?,
        tokenHeader: String?,
        query: String?,
        acceptedTokens: [String]
    ) -> AuthenticationResult {
        let presented = presentedCredentials(authorization: authorization, tokenHeader: tokenHeader, query: query)
        guard let first = presented.first else { return .missing }

        let acceptedDigests = acceptedTokens.filter { !$0.isEmpty }.map { SHA256.digest($0) }
        var matched: CredentialMethod?
        for credential in presented {
            let digest = SHA256.digest(credential.token)
            var found = false
            for accepted in acceptedDigests where constantTimeEqual(digest, accepted) {
                found = true
            }
            if found && matched == nil && !credential.token.isEmpty { matched = credential.method }
        }
        return matched.map(AuthenticationResult.accepted) ?? .invalid(first.method)
    }

    /// Whether two byte arrays are equal, in time that depends only on their lengths.
    public static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }

    /// A query string fit for logs: every value becomes `REDACTED`; names stay when they are plain
    /// (`[A-Za-z0-9._-]`, at most 32 characters), else become `REDACTED` too, as does a parameter without `=`.
    ///
    /// `a=1&token=s3cret&flag` gives `a=REDACTED&token=REDACTED&REDACTED`.
    public static func redactQuery(_ query: String) -> String {
        guard !query.isEmpty else { return query }
        return query.split(separator: "&", omittingEmptySubsequences: false).map { parameter -> String in
            let parts = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            // A parameter without `=` may itself be a secret pasted in the wrong place.
            guard parts.count == 2 else { return parameter.isEmpty ? "" : "REDACTED" }
            return (isPlainName(parts[0]) ? String(parts[0]) : "REDACTED") + "=REDACTED"
        }.joined(separator: "&")
    }

    /// The password of a Basic `Authorization` value: `nil` when the scheme is not Basic, `.some(nil)` when it is
    /// Basic but not a base64 `user:password`.
    static func basicPassword(_ authorization: String) -> String?? {
        let trimmed = authorization.trimmedWhitespace()
        guard let space = trimmed.firstIndex(of: " "), trimmed[..<space].asciiLowercased() == "basic" else {
            return nil
        }
        var encoded = trimmed[trimmed.index(after: space)...].trimmedWhitespace()
        // Some clients drop the base64 padding.
        while encoded.utf8.count % 4 != 0 { encoded += "=" }
        guard let data = Data(base64Encoded: encoded),
            let decoded = String(bytes: data, encoding: .utf8),
            let colon = decoded.firstIndex(of: ":")
        else { return .some(nil) }
        return .some(String(decoded[decoded.index(after: colon)...]))
    }

    /// The percent-decoded value of the first parameter called `name`; `nil` when absent or badly encoded.
    static func firstQueryValue(named name: String, in query: String) -> String? {
        for parameter in query.split(separator: "&") {
            let parts = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0].removingPercentEncoding == name else { continue }
            return parts[1].removingPercentEncoding
        }
        return nil
    }

    private static func isPlainName(_ name: Substring) -> Bool {
        name.utf8.count <= 32
            && name.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"):
                    return true
                default: return false
                }
            }
    }
}
