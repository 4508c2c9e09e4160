import Foundation
import Synchronization

/// A SHA-256 digest of secrets, to notice that they changed without keeping a second copy of them.
public struct CredentialFingerprint: Sendable, Hashable, CustomStringConvertible {
    /// The 32 digest bytes.
    public let bytes: [UInt8]

    /// The fingerprint of webhook credentials.
    public init(_ credentials: WebhookCredentials) {
        self.init(parts: ["webhook-credentials", credentials.username, credentials.password])
    }

    /// The fingerprint of several strings; each is length-prefixed so that no two lists share a digest.
    public init(parts: [String]) {
        var input: [UInt8] = []
        for part in parts {
            let utf8 = Array(part.utf8)
            withUnsafeBytes(of: UInt64(utf8.count).bigEndian) { input.append(contentsOf: $0) }
            input.append(contentsOf: utf8)
        }
        bytes = SHA256.digest(input)
    }

    /// The first eight hex digits: enough to tell fingerprints apart in a log, useless to guess a secret.
    public var description: String {
        bytes.prefix(4).map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }

    /// All 64 hex digits.
    public var hex: String { bytes.map { String($0, radix: 16).leftPadded(to: 2) }.joined() }
}

/// Remembers, per webhook, the fingerprint of the credentials the bridge last set on it.
///
/// Postmark may leave `HttpAuth.Password` out when webhooks are read back; the reconciler then compares the
/// fingerprint of the current verify token with the one remembered here, and sets the credentials again when
/// they differ or nothing is remembered (after a restart). Shared by every reconciliation of the process.
public final class WebhookCredentialMemory: Sendable {
    private let fingerprints = Mutex<[Int64: CredentialFingerprint]>([:])

    /// Creates an empty memory.
    public init() {}

    /// The fingerprint last set on webhook `webhookID`.
    public func fingerprint(forWebhook webhookID: Int64) -> CredentialFingerprint? {
        fingerprints.withLock { $0[webhookID] }
    }

    /// Records that the credentials with `fingerprint` were set on webhook `webhookID`.
    public func remember(_ fingerprint: CredentialFingerprint, forWebhook webhookID: Int64) {
        fingerprints.withLock { $0[webhookID] = fingerprint }
    }

    /// Forgets webhook `webhookID`, such as after deleting it.
    public func forget(webhook webhookID: Int64) {
        fingerprints.withLock { $0[webhookID] = nil }
    }

    /// Every remembered fingerprint, by webhook id.
    public var all: [Int64: CredentialFingerprint] { fingerprints.withLock { $0 } }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
