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

/// SHA-256 (FIPS 180-4); Foundation on Linux has no hash functions and the project takes no packages.
enum SHA256 {
    private static let k: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

    /// The 32-byte digest of `message`.
    static func digest(_ message: [UInt8]) -> [UInt8] {
        var hash: [UInt32] = [
            0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19,
        ]
        var padded = message
        padded.append(0x80)
        while padded.count % 64 != 56 { padded.append(0) }
        withUnsafeBytes(of: (UInt64(message.count) &* 8).bigEndian) { padded.append(contentsOf: $0) }

        var w = [UInt32](repeating: 0, count: 64)
        for chunk in stride(from: 0, to: padded.count, by: 64) {
            for i in 0..<16 {
                let j = chunk + i * 4
                w[i] =
                    UInt32(padded[j]) << 24 | UInt32(padded[j + 1]) << 16 | UInt32(padded[j + 2]) << 8
                    | UInt32(padded[j + 3])
            }
            for i in 16..<64 {
                let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
                let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
                w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
            }
            var (a, b, c, d, e, f, g, h) = (hash[0], hash[1], hash[2], hash[3], hash[4], hash[5], hash[6], hash[7])
            for i in 0..<64 {
                let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
                let choice = (e & f) ^ (~e & g)
                let t1 = h &+ s1 &+ choice &+ k[i] &+ w[i]
                let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
                let majority = (a & b) ^ (a & c) ^ (b & c)
                let t2 = s0 &+ majority
                (h, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
            }
            for (index, value) in [a, b, c, d, e, f, g, h].enumerated() { hash[index] = hash[index] &+ value }
        }
        return hash.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (24 - 8 * UInt32($0))) } }
    }

    private static func rotr(_ value: UInt32, _ count: UInt32) -> UInt32 {
        (value >> count) | (value << (32 - count))
    }
}
