import Foundation

// Concrete (not generic) so they stay cheap on the per-request path.
extension String {
    /// The text without leading and trailing whitespace; cheap when there is none, which is nearly always.
    func trimmedWhitespace() -> String {
        if let first = utf8.first, let last = utf8.last, isPlainASCII(first), isPlainASCII(last) { return self }
        return trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The text with ASCII letters lowercased and everything else unchanged; header and key names are ASCII, and
    /// this avoids the cost of full Unicode case mapping on every request.
    func asciiLowercased() -> String {
        guard utf8.contains(where: isASCIIUppercase) else { return self }
        return String(unsafeUninitializedCapacity: utf8.count) { buffer in
            var count = 0
            for byte in utf8 {
                buffer[count] = isASCIIUppercase(byte) ? byte | 0x20 : byte
                count += 1
            }
            return count
        }
    }
}

extension Substring {
    /// The text without leading and trailing whitespace, as a `String`.
    func trimmedWhitespace() -> String { String(self).trimmedWhitespace() }

    /// The text with ASCII letters lowercased, as a `String`.
    func asciiLowercased() -> String { String(self).asciiLowercased() }
}

/// Whether a first or last byte is certainly not part of whitespace: printable ASCII other than space.
private func isPlainASCII(_ byte: UInt8) -> Bool { byte > 0x20 && byte < 0x7F }

private func isASCIIUppercase(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") }
