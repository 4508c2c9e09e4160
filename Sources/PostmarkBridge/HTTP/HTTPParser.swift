/// An incremental HTTP/1.1 request parser with no I/O: feed it bytes as they arrive, then ask for events.
///
/// Each request yields ``Event/head(_:)`` as soon as its request line and headers are complete (so the server
/// can answer `Expect: 100-continue` or reject it before reading the body), then ``Event/request(_:)`` once its
/// body is complete. Pipelined requests in one buffer come out one after the other. The parser is strict where
/// leniency enables request smuggling (RFC 9112 §6.3, §11.2): bare LF, obsolete line folding, whitespace before
/// the colon, repeated `Content-Length`, and `Content-Length` with `Transfer-Encoding` are all rejected.
/// After an error every call throws the same error: the connection must be answered and closed.
public struct HTTPParser: Sendable {
    /// What the parser has recognised.
    public enum Event: Sendable {
        /// The request line and headers of the next request.
        case head(HTTPRequestHead)
        /// The same request, complete with its body.
        case request(HTTPRequest)
    }

    private enum State: Sendable, Equatable {
        case head
        case headDelivered
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
    }

    private struct RequestLine: Sendable {
        var method: String
        var target: String
        var version: HTTPVersion
    }

    /// The most bytes the request line and headers may take, CRLFs included; also the limit for trailers.
    public let maxHeaderBytes: Int
    /// The most body bytes a request may carry, after de-chunking.
    public let maxBodyBytes: Int

    // A chunk-size line carries a size and ignored extensions; this bounds what is buffered looking for its end.
    private static let maxChunkLineBytes = 4096

    private var buffer: [UInt8] = []
    private var index = 0
    private var state = State.head
    private var scanOffset = 0
    private var requestLineEnd: Int?
    private var requestLine: RequestLine?
    private var currentHead: HTTPRequestHead?
    private var body: [UInt8] = []
    private var bodyBytes = 0
    private var discardingBody = false
    private var trailerBytes = 0
    private var failure: HTTPServerError?

    /// Creates a parser.
    ///
    /// - Parameters:
    ///   - maxHeaderBytes: The most bytes for the request line and headers (431 beyond). Default 16 KiB.
    ///   - maxBodyBytes: The most body bytes (413 beyond). Default 10 MiB.
    public init(maxHeaderBytes: Int = 16 * 1024, maxBodyBytes: Int = 10 * 1024 * 1024) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
    }

    /// The number of received bytes not yet consumed by an event.
    public var bufferedByteCount: Int { buffer.count - index }

    /// Whether no request has started: nothing is buffered and no head is pending.
    public var isIdle: Bool { state == .head && buffer.count == index }

    /// Adds received bytes.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        compactIfWorthwhile()
        buffer.append(contentsOf: bytes)
        skipEmptyLinesBetweenRequests()
    }

    /// Adds received bytes from raw memory.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compactIfWorthwhile()
        buffer.append(contentsOf: bytes)
        skipEmptyLinesBetweenRequests()
    }

    /// Makes the body of the request whose head was just returned be read and thrown away: its
    /// ``Event/request(_:)`` comes with an empty body (used when a request is rejected before its body is read).
    public mutating func skipBody() {
        discardingBody = true
        body = []
    }

    /// Returns the next event, or `nil` when more bytes are needed.
    ///
    /// - Throws: ``HTTPServerError`` with the code the server answers (see ``HTTPServerError/status``).
    public mutating func next() throws(HTTPServerError) -> Event? {
        if let failure { throw failure }
        do {
            return try step()
        } catch {
            failure = error
            throw error
        }
    }

    private mutating func step() throws(HTTPServerError) -> Event? {
        switch state {
        case .head:
            guard let head = try parseHead() else { return nil }
            currentHead = head
            state = .headDelivered
            return .head(head)
        case .headDelivered:
            switch currentHead!.framing {
            case .none, .length(0):
                return finishRequest()
            case .length(let length):
                if !discardingBody { body.reserveCapacity(min(length, 1 << 20)) }
                state = .fixedBody(remaining: length)
            case .chunked:
                state = .chunkSize
                scanOffset = index
            }
            return try parseBody()
        default:
            return try parseBody()
        }
    }

    // MARK: - Head

    /// RFC 9112 §2.2: empty lines before a request line are ignored (some clients send CRLF after a body).
    /// Skipping them as they arrive keeps ``isIdle`` true, so they do not start the read timeout.
    private mutating func skipEmptyLinesBetweenRequests() {
        guard state == .head else { return }
        while buffer.count - index >= 2 && buffer[index] == .cr && buffer[index + 1] == .lf {
            index += 2
        }
    }

    private mutating func parseHead() throws(HTTPServerError) -> HTTPRequestHead? {
        skipEmptyLinesBetweenRequests()
        let start = index
        scanOffset = max(scanOffset, start)

        // Scan no further than the limit allows, so a split at any byte gives the same answer.
        let scanEnd = min(buffer.count, start + maxHeaderBytes)
        var headEnd: Int?
        var foundRequestLineEnd: Int?
        var bareLineFeed = false
        let knownRequestLineEnd = requestLineEnd
        let from = scanOffset
        buffer.withUnsafeBufferPointer { bytes in
            var lineEnd = knownRequestLineEnd
            var i = from
            while i < scanEnd {
                if bytes[i] == .lf {
                    if i == start || bytes[i - 1] != .cr {
                        bareLineFeed = true
                        break
                    }
                    if lineEnd == nil {
                        lineEnd = i + 1
                        foundRequestLineEnd = i + 1
                    } else if bytes[i - 2] == .lf {
                        headEnd = i + 1
                        break
                    }
                }
                i += 1
            }
        }

        // Judge the request line as soon as it is complete, so garbage is refused without waiting for more.
        if let foundRequestLineEnd {
            requestLineEnd = foundRequestLineEnd
            requestLine = try parseRequestLine(start..<(foundRequestLineEnd - 2))
        }
        if bareLineFeed {
            throw HTTPServerError(requestLineEnd == nil ? .malformedRequestLine : .malformedHeader)
        }
        guard let headEnd else {
            if buffer.count - start > maxHeaderBytes { throw HTTPServerError(.headersTooLarge) }
            scanOffset = scanEnd
            return nil
        }

        let head = try parseFields(from: requestLineEnd!, to: headEnd - 2, requestLine: requestLine!)
        index = headEnd
        scanOffset = headEnd
        requestLineEnd = nil
        requestLine = nil
        return head
    }

    private func parseRequestLine(_ range: Range<Int>) throws(HTTPServerError) -> RequestLine {
        let line = buffer[range]
        guard let firstSpace = line.firstIndex(of: .space),
            let secondSpace = line[(firstSpace + 1)...].firstIndex(of: .space),
            line[(secondSpace + 1)...].firstIndex(of: .space) == nil
        else { throw HTTPServerError(.malformedRequestLine) }

        let method = line[..<firstSpace]
        let target = line[(firstSpace + 1)..<secondSpace]
        let version = line[(secondSpace + 1)...]
        guard !method.isEmpty, method.allSatisfy(\.isTokenCharacter) else {
            throw HTTPServerError(.malformedRequestLine)
        }
        guard !target.isEmpty, target.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "#") }) else {
            throw HTTPServerError(.malformedRequestLine)
        }

        let methodText = String(decoding: method, as: UTF8.self)
        let targetText = String(decoding: target, as: UTF8.self)
        let isOriginForm = target.first == UInt8(ascii: "/")
        let isAsterisk = targetText == "*" && methodText == "OPTIONS"
        let lowered = targetText.prefix(8).lowercased()
        let isAbsoluteForm = lowered.hasPrefix("http://") || lowered.hasPrefix("https://")
        guard isOriginForm || isAsterisk || isAbsoluteForm else { throw HTTPServerError(.malformedRequestLine) }

        return RequestLine(method: methodText, target: targetText, version: try parseVersion(version))
    }

    private func parseVersion(_ bytes: ArraySlice<UInt8>) throws(HTTPServerError) -> HTTPVersion {
        let text = Array(bytes)
        guard text.count == 8, text[0..<5].elementsEqual("HTTP/".utf8), text[6] == UInt8(ascii: "."),
            text[5].isDigit, text[7].isDigit
        else { throw HTTPServerError(.malformedRequestLine) }

        let major = Int(text[5] - UInt8(ascii: "0"))
        let minor = Int(text[7] - UInt8(ascii: "0"))
        guard major == 1 else { throw HTTPServerError(.unsupportedVersion) }
        // RFC 9110 §2.5: a higher minor version of a major we implement is handled as the highest we know.
        return minor >= 1 ? .http1_1 : .http1_0
    }

    private func parseFields(from: Int, to end: Int, requestLine: RequestLine) throws(HTTPServerError)
        -> HTTPRequestHead
    {
        var headers = HTTPHeaders()
        var lineStart = from
        while lineStart < end {
            var lineEnd = lineStart
            while buffer[lineEnd] != .cr || buffer[lineEnd + 1] != .lf { lineEnd += 1 }
            headers.append(try parseField(lineStart..<lineEnd))
            lineStart = lineEnd + 2
        }

        let framing = try framing(of: headers, version: requestLine.version)
        return HTTPRequestHead(
            method: requestLine.method, target: requestLine.target, version: requestLine.version, headers: headers,
            framing: framing)
    }

    private func parseField(_ range: Range<Int>) throws(HTTPServerError) -> HTTPHeaders.Field {
        let line = buffer[range]
        if let first = line.first, first == .space || first == .tab {
            throw HTTPServerError(.obsoleteLineFolding)
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw HTTPServerError(.malformedHeader) }
        let name = line[..<colon]
        guard !name.isEmpty, name.allSatisfy(\.isTokenCharacter) else { throw HTTPServerError(.malformedHeader) }

        var valueStart = colon + 1
        var valueEnd = range.upperBound
        while valueStart < valueEnd && (buffer[valueStart] == .space || buffer[valueStart] == .tab) { valueStart += 1 }
        while valueEnd > valueStart && (buffer[valueEnd - 1] == .space || buffer[valueEnd - 1] == .tab) {
            valueEnd -= 1
        }
        let value = buffer[valueStart..<valueEnd]
        guard value.allSatisfy({ $0 == .tab || ($0 >= 0x20 && $0 != 0x7F) }) else {
            throw HTTPServerError(.malformedHeader)
        }

        let lowercased = name.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 + 32 : $0 }
        return HTTPHeaders.Field(
            name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self),
            lowercasedName: String(decoding: lowercased, as: UTF8.self))
    }

    private func framing(of headers: HTTPHeaders, version: HTTPVersion) throws(HTTPServerError) -> HTTPBodyFraming {
        var lengths: [String] = []
        var codings: [String] = []
        var hosts = 0
        for field in headers {
            switch field.lowercasedName {
            case "content-length": lengths.append(field.value)
            case "transfer-encoding": codings.append(contentsOf: field.value.split(separator: ",").map(String.init))
            case "host": hosts += 1
            default: break
            }
        }

        if hosts > 1 || (hosts == 0 && version.minor >= 1) { throw HTTPServerError(.invalidHost) }
        if lengths.count > 1 { throw HTTPServerError(.duplicateContentLength) }
        let hasTransferEncoding = headers.contains { $0.lowercasedName == "transfer-encoding" }
        if hasTransferEncoding {
            if !lengths.isEmpty || version.minor == 0 { throw HTTPServerError(.conflictingFraming) }
            let names = codings.map { HTTPHeaders.lowercase($0.trimmingSpaces()) }.filter { !$0.isEmpty }
            if names.contains(where: { $0 != "chunked" }) { throw HTTPServerError(.unsupportedTransferEncoding) }
            guard names.count == 1 else { throw HTTPServerError(.malformedHeader) }
            return .chunked
        }
        guard let length = lengths.first else { return .none }

        let digits = Array(length.utf8)
        guard !digits.isEmpty, digits.allSatisfy(\.isDigit) else { throw HTTPServerError(.invalidContentLength) }
        guard digits.count <= 18, let value = Int(length), value <= maxBodyBytes else {
            throw HTTPServerError(.bodyTooLarge)
        }
        return .length(value)
    }

    // MARK: - Body

    private mutating func parseBody() throws(HTTPServerError) -> Event? {
        while true {
            switch state {
            case .fixedBody(let remaining):
                let taken = consumeBody(upTo: remaining)
                if taken == remaining { return finishRequest() }
                state = .fixedBody(remaining: remaining - taken)
                return nil

            case .chunkSize:
                guard let size = try parseChunkSize() else { return nil }
                if size == 0 {
                    state = .trailers
                    trailerBytes = 0
                } else {
                    if size > maxBodyBytes - bodyBytes { throw HTTPServerError(.bodyTooLarge) }
                    state = .chunkData(remaining: size)
                }

            case .chunkData(let remaining):
                let taken = consumeBody(upTo: remaining)
                if taken < remaining {
                    state = .chunkData(remaining: remaining - taken)
                    return nil
                }
                state = .chunkDataEnd

            case .chunkDataEnd:
                if bufferedByteCount >= 1 && buffer[index] != .cr { throw HTTPServerError(.malformedChunk) }
                if bufferedByteCount >= 2 && buffer[index + 1] != .lf { throw HTTPServerError(.malformedChunk) }
                guard bufferedByteCount >= 2 else { return nil }
                index += 2
                scanOffset = index
                state = .chunkSize

            case .trailers:
                guard let lineEnd = try findLineEnd(limit: maxHeaderBytes - trailerBytes, error: .headersTooLarge)
                else { return nil }
                trailerBytes += lineEnd - index
                if lineEnd - index == 2 {
                    index = lineEnd
                    return finishRequest()
                }
                // Trailers are checked for syntax and then dropped: nothing here relies on them.
                _ = try parseField(index..<(lineEnd - 2))
                index = lineEnd
                scanOffset = index

            case .head, .headDelivered:
                return nil
            }
        }
    }

    private mutating func consumeBody(upTo wanted: Int) -> Int {
        let taken = min(wanted, bufferedByteCount)
        if !discardingBody {
            body.append(contentsOf: buffer[index..<(index + taken)])
        }
        index += taken
        bodyBytes += taken
        return taken
    }

    /// Finds the end (after LF) of the line starting at `index`, scanning at most `limit` bytes.
    private mutating func findLineEnd(limit: Int, error: HTTPServerError.Code) throws(HTTPServerError) -> Int? {
        let scanEnd = min(buffer.count, index + limit)
        var i = max(scanOffset, index)
        while i < scanEnd {
            if buffer[i] == .lf {
                guard i > index && buffer[i - 1] == .cr else {
                    throw HTTPServerError(state == .trailers ? .malformedHeader : .malformedChunk)
                }
                return i + 1
            }
            i += 1
        }
        if buffer.count - index > limit { throw HTTPServerError(error) }
        scanOffset = scanEnd
        return nil
    }

    private mutating func parseChunkSize() throws(HTTPServerError) -> Int? {
        guard let lineEnd = try findLineEnd(limit: Self.maxChunkLineBytes, error: .malformedChunk) else { return nil }
        let line = buffer[index..<(lineEnd - 2)]

        var size = 0
        var digits = 0
        var position = line.startIndex
        while position < line.endIndex, let digit = line[position].hexValue {
            digits += 1
            // Fifteen hex digits cannot overflow an Int; anything longer is beyond any body limit anyway.
            if digits > 15 { throw HTTPServerError(.bodyTooLarge) }
            size = size * 16 + digit
            position += 1
        }
        guard digits > 0 else { throw HTTPServerError(.malformedChunk) }

        // Chunk extensions (`;name=value`, RFC 9112 §7.1.1) are allowed after optional whitespace and ignored.
        while position < line.endIndex && (line[position] == .space || line[position] == .tab) { position += 1 }
        if position < line.endIndex {
            guard line[position] == UInt8(ascii: ";") else { throw HTTPServerError(.malformedChunk) }
            guard line[position...].allSatisfy({ $0 == .tab || ($0 >= 0x20 && $0 != 0x7F) }) else {
                throw HTTPServerError(.malformedChunk)
            }
        }

        index = lineEnd
        scanOffset = index
        return size
    }

    private mutating func finishRequest() -> Event {
        let request = HTTPRequest(head: currentHead!, body: discardingBody ? [] : body)
        currentHead = nil
        body = []
        bodyBytes = 0
        discardingBody = false
        state = .head
        skipEmptyLinesBetweenRequests()
        scanOffset = index
        return .request(request)
    }

    private mutating func compactIfWorthwhile() {
        guard index > 0, index == buffer.count || (index >= 64 * 1024 && index * 2 >= buffer.count) else { return }
        buffer.removeFirst(index)
        scanOffset = max(0, scanOffset - index)
        if let end = requestLineEnd { requestLineEnd = end - index }
        index = 0
    }
}

extension UInt8 {
    fileprivate static let cr = UInt8(ascii: "\r")
    fileprivate static let lf = UInt8(ascii: "\n")
    fileprivate static let space = UInt8(ascii: " ")
    fileprivate static let tab = UInt8(ascii: "\t")

    fileprivate var isDigit: Bool { self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9") }

    fileprivate var hexValue: Int? {
        switch self {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(self - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(self - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(self - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// RFC 9110 §5.6.2 `tchar`.
    fileprivate var isTokenCharacter: Bool {
        switch self {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }
}
