import Testing

@testable import PostmarkBridge

/// What a parser made of an input: the requests it completed, in order, and the error that stopped it.
private struct ParseOutcome: Equatable, CustomStringConvertible {
    var requests: [String] = []
    var error: HTTPServerError.Code?

    var description: String { "\(requests) error: \(error?.rawValue ?? "none")" }
}

/// Feeds `pieces` to a fresh parser one after the other and records every completed request as a line that
/// shows everything the parser extracted, so any difference between two ways of splitting the input shows.
private func parse(_ pieces: [[UInt8]], maxHeaderBytes: Int = 256, maxBodyBytes: Int = 64) -> ParseOutcome {
    var parser = HTTPParser(maxHeaderBytes: maxHeaderBytes, maxBodyBytes: maxBodyBytes)
    var outcome = ParseOutcome()
    var pendingHead: HTTPRequestHead?
    for piece in pieces {
        parser.append(piece)
        do {
            while let event = try parser.next() {
                switch event {
                case .head(let head):
                    #expect(pendingHead == nil, "two heads without a request between them")
                    pendingHead = head
                case .request(let request):
                    #expect(pendingHead?.target == request.head.target, "a request without its head first")
                    pendingHead = nil
                    outcome.requests.append(summary(of: request))
                }
            }
        } catch {
            outcome.error = error.code
            return outcome
        }
    }
    return outcome
}

private func summary(of request: HTTPRequest) -> String {
    let head = request.head
    let fields = head.headers.map { "\($0.name)=\($0.value)" }.joined(separator: ",")
    return "\(head.method) \(head.target) path=\(head.path) query=\(head.query ?? "nil") \(head.version) "
        + "[\(fields)] \(head.framing) keepAlive=\(head.keepAlive) continue=\(head.expectsContinue) "
        + "body=\(String(decoding: request.body, as: UTF8.self))"
}

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A valid input and the requests it must yield.
struct ValidCase: Sendable, CustomTestStringConvertible {
    let name: String
    let input: String
    let expected: [String]
    var testDescription: String { name }
}

/// An invalid input and the error it must end with (after the requests before it, if any).
struct InvalidCase: Sendable, CustomTestStringConvertible {
    let name: String
    let input: String
    let error: HTTPServerError.Code
    var status: Int { HTTPServerError(error).status }
    var testDescription: String { name }
}

@Suite struct HTTPParserTests {
    static let validCases: [ValidCase] = [
        ValidCase(
            name: "GET without body",
            input: "GET /healthz HTTP/1.1\r\nHost: bridge\r\n\r\n",
            expected: [
                "GET /healthz path=/healthz query=nil HTTP/1.1 [Host=bridge] none keepAlive=true continue=false body="
            ]),
        ValidCase(
            name: "POST with Content-Length, query, and padded header value",
            input: "POST /postmark/webhook/7?token=s%20x&a=1 HTTP/1.1\r\nHost: b\r\nX-Thing:  v  \r\n"
                + "content-length: 5\r\n\r\nhello",
            expected: [
                "POST /postmark/webhook/7?token=s%20x&a=1 path=/postmark/webhook/7 query=token=s%20x&a=1 HTTP/1.1 "
                    + "[Host=b,X-Thing=v,content-length=5] length(5) keepAlive=true continue=false body=hello"
            ]),
        ValidCase(
            name: "chunked with extensions and trailers",
            input: "POST /c HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5;name=value\r\nhello\r\n6 ; x\r\n world\r\n0\r\nX-Trailer: t\r\nY: u\r\n\r\n",
            expected: [
                "POST /c path=/c query=nil HTTP/1.1 [Host=b,Transfer-Encoding=chunked] chunked keepAlive=true "
                    + "continue=false body=hello world"
            ]),
        ValidCase(
            name: "chunked with upper-case hex and no trailers",
            input: "POST /c HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: Chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n",
            expected: [
                "POST /c path=/c query=nil HTTP/1.1 [Host=b,Transfer-Encoding=Chunked] chunked keepAlive=true "
                    + "continue=false body=0123456789"
            ]),
        ValidCase(
            name: "HTTP/1.0 needs no Host and closes by default",
            input: "GET /x HTTP/1.0\r\n\r\n",
            expected: ["GET /x path=/x query=nil HTTP/1.0 [] none keepAlive=false continue=false body="]),
        ValidCase(
            name: "HTTP/1.0 keep-alive",
            input: "GET /x HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
            expected: [
                "GET /x path=/x query=nil HTTP/1.0 [Connection=Keep-Alive] none keepAlive=true continue=false body="
            ]),
        ValidCase(
            name: "Connection close and Expect 100-continue",
            input: "POST /e HTTP/1.1\r\nHost: b\r\nConnection: upgrade, close\r\nExpect: 100-Continue\r\n"
                + "Content-Length: 2\r\n\r\nok",
            expected: [
                "POST /e path=/e query=nil HTTP/1.1 [Host=b,Connection=upgrade, close,Expect=100-Continue,"
                    + "Content-Length=2] length(2) keepAlive=false continue=true body=ok"
            ]),
        ValidCase(
            name: "empty lines before the request line are ignored",
            input: "\r\n\r\nGET / HTTP/1.1\r\nHost: b\r\n\r\n",
            expected: ["GET / path=/ query=nil HTTP/1.1 [Host=b] none keepAlive=true continue=false body="]),
        ValidCase(
            name: "absolute-form target",
            input: "GET http://bridge:8080/healthz?x=1 HTTP/1.1\r\nHost: bridge:8080\r\n\r\n",
            expected: [
                "GET http://bridge:8080/healthz?x=1 path=/healthz query=x=1 HTTP/1.1 [Host=bridge:8080] none "
                    + "keepAlive=true continue=false body="
            ]),
        ValidCase(
            name: "HTTP/1.2 is served as HTTP/1.1, OPTIONS asterisk",
            input: "OPTIONS * HTTP/1.2\r\nHost: b\r\n\r\n",
            expected: ["OPTIONS * path=* query=nil HTTP/1.1 [Host=b] none keepAlive=true continue=false body="]),
        ValidCase(
            name: "Content-Length zero and leading zeros",
            input: "POST /z HTTP/1.1\r\nHost: b\r\nContent-Length: 0\r\n\r\n"
                + "POST /z HTTP/1.1\r\nHost: b\r\nContent-Length: 003\r\n\r\nabc",
            expected: [
                "POST /z path=/z query=nil HTTP/1.1 [Host=b,Content-Length=0] length(0) keepAlive=true "
                    + "continue=false body=",
                "POST /z path=/z query=nil HTTP/1.1 [Host=b,Content-Length=003] length(3) keepAlive=true "
                    + "continue=false body=abc",
            ]),
        ValidCase(
            name: "three pipelined requests in one buffer",
            input: "GET /1 HTTP/1.1\r\nHost: b\r\n\r\n"
                + "POST /2 HTTP/1.1\r\nHost: b\r\nContent-Length: 3\r\n\r\ntwo"
                + "POST /3 HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nthree\r\n0\r\n\r\n",
            expected: [
                "GET /1 path=/1 query=nil HTTP/1.1 [Host=b] none keepAlive=true continue=false body=",
                "POST /2 path=/2 query=nil HTTP/1.1 [Host=b,Content-Length=3] length(3) keepAlive=true "
                    + "continue=false body=two",
                "POST /3 path=/3 query=nil HTTP/1.1 [Host=b,Transfer-Encoding=chunked] chunked keepAlive=true "
                    + "continue=false body=three",
            ]),
    ]

    static let invalidCases: [InvalidCase] = [
        InvalidCase(name: "garbage request line", input: "HELLO\r\n\r\n", error: .malformedRequestLine),
        InvalidCase(
            name: "extra field in request line", input: "GET / HTTP/1.1 x\r\nHost: b\r\n\r\n",
            error: .malformedRequestLine),
        InvalidCase(name: "double space", input: "GET  / HTTP/1.1\r\nHost: b\r\n\r\n", error: .malformedRequestLine),
        InvalidCase(
            name: "lower-case version", input: "GET / http/1.1\r\nHost: b\r\n\r\n",
            error: .malformedRequestLine),
        InvalidCase(
            name: "method with a separator", input: "GE(T / HTTP/1.1\r\nHost: b\r\n\r\n",
            error: .malformedRequestLine),
        InvalidCase(
            name: "relative target", input: "GET healthz HTTP/1.1\r\nHost: b\r\n\r\n",
            error: .malformedRequestLine),
        InvalidCase(
            name: "fragment in target", input: "GET /a#b HTTP/1.1\r\nHost: b\r\n\r\n",
            error: .malformedRequestLine),
        InvalidCase(name: "bare LF request", input: "GET / HTTP/1.1\nHost: b\n\n", error: .malformedRequestLine),
        InvalidCase(name: "HTTP/2.0", input: "GET / HTTP/2.0\r\nHost: b\r\n\r\n", error: .unsupportedVersion),
        InvalidCase(name: "HTTP/0.9", input: "GET / HTTP/0.9\r\n\r\n", error: .unsupportedVersion),
        InvalidCase(
            name: "bare LF in headers", input: "GET / HTTP/1.1\r\nHost: b\nX: y\r\n\r\n",
            error: .malformedHeader),
        InvalidCase(
            name: "obs-fold", input: "GET / HTTP/1.1\r\nHost: b\r\nX: a\r\n  folded\r\n\r\n",
            error: .obsoleteLineFolding),
        InvalidCase(name: "space before colon", input: "GET / HTTP/1.1\r\nHost : b\r\n\r\n", error: .malformedHeader),
        InvalidCase(
            name: "header without colon", input: "GET / HTTP/1.1\r\nHost: b\r\nNoColon\r\n\r\n",
            error: .malformedHeader),
        InvalidCase(
            name: "empty header name", input: "GET / HTTP/1.1\r\nHost: b\r\n: v\r\n\r\n",
            error: .malformedHeader),
        InvalidCase(
            name: "control character in value", input: "GET / HTTP/1.1\r\nHost: b\r\nX: a\u{1}b\r\n\r\n",
            error: .malformedHeader),
        InvalidCase(
            name: "bare CR in value", input: "GET / HTTP/1.1\r\nHost: b\r\nX: a\rb\r\n\r\n",
            error: .malformedHeader),
        InvalidCase(name: "HTTP/1.1 without Host", input: "GET / HTTP/1.1\r\nX: y\r\n\r\n", error: .invalidHost),
        InvalidCase(
            name: "two Host fields", input: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            error: .invalidHost),
        InvalidCase(
            name: "duplicate Content-Length, same value",
            input: "POST / HTTP/1.1\r\nHost: b\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
            error: .duplicateContentLength),
        InvalidCase(
            name: "Content-Length list", input: "POST / HTTP/1.1\r\nHost: b\r\nContent-Length: 2, 2\r\n\r\nok",
            error: .invalidContentLength),
        InvalidCase(
            name: "negative Content-Length", input: "POST / HTTP/1.1\r\nHost: b\r\nContent-Length: -1\r\n\r\n",
            error: .invalidContentLength),
        InvalidCase(
            name: "empty Content-Length", input: "POST / HTTP/1.1\r\nHost: b\r\nContent-Length:\r\n\r\n",
            error: .invalidContentLength),
        InvalidCase(
            name: "Content-Length with Transfer-Encoding",
            input: "POST / HTTP/1.1\r\nHost: b\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            error: .conflictingFraming),
        InvalidCase(
            name: "Transfer-Encoding on HTTP/1.0",
            input: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", error: .conflictingFraming),
        InvalidCase(
            name: "unknown transfer coding", input: "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: gzip\r\n\r\n",
            error: .unsupportedTransferEncoding),
        InvalidCase(
            name: "gzip then chunked",
            input: "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            error: .unsupportedTransferEncoding),
        InvalidCase(
            name: "chunked twice",
            input: "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            error: .malformedHeader),
        InvalidCase(
            name: "chunk size not hex",
            input: "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", error: .malformedChunk),
        InvalidCase(
            name: "chunk size with junk",
            input: "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n0\r\n\r\n",
            error: .malformedChunk),
        InvalidCase(
            name: "chunk data longer than its size",
            input: "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
            error: .malformedChunk),
        InvalidCase(
            name: "chunk size line with bare LF",
            input: "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\r\n0\r\n\r\n",
            error: .malformedChunk),
        InvalidCase(
            name: "huge chunk size",
            input: "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
            error: .bodyTooLarge),
        InvalidCase(
            name: "malformed trailer",
            input: "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n",
            error: .malformedHeader),
        InvalidCase(
            name: "error after a good pipelined request",
            input: "GET /ok HTTP/1.1\r\nHost: b\r\n\r\nBAD\r\n\r\n", error: .malformedRequestLine),
    ]

    @Test(arguments: validCases)
    func parsesValidInput(_ testCase: ValidCase) {
        let outcome = parse([bytes(testCase.input)])
        #expect(outcome == ParseOutcome(requests: testCase.expected, error: nil))
    }

    @Test(arguments: validCases)
    func validInputGivesTheSameResultWhateverTheSplit(_ testCase: ValidCase) {
        let input = bytes(testCase.input)
        let whole = parse([input])

        #expect(parse(input.map { [$0] }) == whole, "one byte at a time")
        for split in 1..<input.count {
            let outcome = parse([Array(input[..<split]), Array(input[split...])])
            #expect(outcome == whole, "split at \(split)")
        }
    }

    @Test(arguments: invalidCases)
    func rejectsInvalidInput(_ testCase: InvalidCase) {
        let outcome = parse([bytes(testCase.input)])
        #expect(outcome.error == testCase.error)
    }

    @Test(arguments: invalidCases)
    func invalidInputGivesTheSameErrorWhateverTheSplit(_ testCase: InvalidCase) {
        let input = bytes(testCase.input)
        let whole = parse([input])

        #expect(parse(input.map { [$0] }) == whole, "one byte at a time")
        for split in 1..<input.count {
            #expect(parse([Array(input[..<split]), Array(input[split...])]) == whole, "split at \(split)")
        }
    }

    @Test func errorStatusesMatchTheProtocol() {
        #expect(HTTPServerError(.headersTooLarge).status == 431)
        #expect(HTTPServerError(.bodyTooLarge).status == 413)
        #expect(HTTPServerError(.unsupportedVersion).status == 505)
        #expect(HTTPServerError(.unsupportedTransferEncoding).status == 501)
        #expect(HTTPServerError(.conflictingFraming).status == 400)
        #expect(HTTPServerError(.obsoleteLineFolding).status == 400)
    }

    /// A request whose request line and headers take exactly `size` bytes, CRLFs included.
    private static func head(ofSize size: Int) -> String {
        let fixed = "GET / HTTP/1.1\r\nHost: b\r\nX-Pad: \r\n\r\n"
        return "GET / HTTP/1.1\r\nHost: b\r\nX-Pad: " + String(repeating: "p", count: size - fixed.utf8.count)
            + "\r\n\r\n"
    }

    @Test(arguments: [(256, nil), (257, HTTPServerError.Code.headersTooLarge)])
    func headLimitIsInclusive(size: Int, error: HTTPServerError.Code?) {
        let input = bytes(Self.head(ofSize: size))
        #expect(input.count == size)

        #expect(parse([input], maxHeaderBytes: 256).error == error)
        #expect(parse(input.map { [$0] }, maxHeaderBytes: 256).error == error)
    }

    @Test func oversizedHeadIsRefusedBeforeItEnds() {
        let start = bytes("GET / HTTP/1.1\r\nHost: b\r\nX-Pad: " + String(repeating: "p", count: 300))
        #expect(parse([start], maxHeaderBytes: 256).error == .headersTooLarge)
    }

    @Test(arguments: [(64, nil), (65, HTTPServerError.Code.bodyTooLarge)])
    func contentLengthLimitIsInclusive(length: Int, error: HTTPServerError.Code?) {
        let input =
            bytes("POST / HTTP/1.1\r\nHost: b\r\nContent-Length: \(length)\r\n\r\n")
            + [UInt8](repeating: 0x61, count: length)

        let outcome = parse([input], maxBodyBytes: 64)
        #expect(outcome.error == error)
        #expect(outcome.requests.count == (error == nil ? 1 : 0))
    }

    @Test func contentLengthOverTheLimitIsRefusedFromTheHeadAlone() {
        let input = bytes("POST / HTTP/1.1\r\nHost: b\r\nContent-Length: 99999999999999999999\r\n\r\n")
        #expect(parse([input], maxBodyBytes: 64).error == .bodyTooLarge)
    }

    @Test(arguments: [(64, nil), (65, HTTPServerError.Code.bodyTooLarge)])
    func chunkedLimitCountsAllChunks(total: Int, error: HTTPServerError.Code?) {
        let first = total / 2
        let second = total - first
        let input = bytes(
            "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n"
                + String(first, radix: 16) + "\r\n" + String(repeating: "a", count: first) + "\r\n"
                + String(second, radix: 16) + "\r\n" + String(repeating: "b", count: second) + "\r\n0\r\n\r\n")

        #expect(parse([input], maxBodyBytes: 64).error == error)
        #expect(parse(input.map { [$0] }, maxBodyBytes: 64).error == error)
    }

    @Test(arguments: [(256, nil), (257, HTTPServerError.Code.headersTooLarge)])
    func trailerLimitIsInclusive(size: Int, error: HTTPServerError.Code?) {
        let fixed = "X-T: \r\n\r\n"
        let trailers = "X-T: " + String(repeating: "t", count: size - fixed.utf8.count) + "\r\n\r\n"
        let input = bytes("POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + trailers)

        #expect(parse([input], maxHeaderBytes: 256).error == error)
        #expect(parse(input.map { [$0] }, maxHeaderBytes: 256).error == error)
    }

    @Test func skippedBodyIsDiscardedAndTheNextRequestFollows() throws {
        var parser = HTTPParser(maxHeaderBytes: 256, maxBodyBytes: 64)
        parser.append(
            bytes("POST /a HTTP/1.1\r\nHost: b\r\nContent-Length: 4\r\n\r\nbodyGET /b HTTP/1.1\r\nHost: b\r\n\r\n"))

        guard case .head(let head)? = try parser.next() else {
            Issue.record("no head")
            return
        }
        #expect(head.path == "/a")
        parser.skipBody()
        guard case .request(let skipped)? = try parser.next() else {
            Issue.record("no request")
            return
        }
        #expect(skipped.body.isEmpty)
        guard case .head(let next)? = try parser.next() else {
            Issue.record("no second head")
            return
        }
        #expect(next.path == "/b")
    }

    @Test func emptyLinesAfterARequestLeaveTheParserIdle() throws {
        var parser = HTTPParser()
        #expect(parser.isIdle)
        parser.append(bytes("POST / HTTP/1.1\r\nHost: b\r\nContent-Length: 1\r\n\r\nx\r\n"))
        #expect(!parser.isIdle)

        guard case .head? = try parser.next(), case .request? = try parser.next() else {
            Issue.record("no request")
            return
        }
        #expect(parser.isIdle)
        parser.append(bytes("\r\n"))
        #expect(parser.isIdle)
        parser.append(bytes("G"))
        #expect(!parser.isIdle)
    }

    @Test func errorsAreSticky() {
        var parser = HTTPParser()
        parser.append(bytes("BAD\r\n\r\n"))
        #expect(throws: HTTPServerError(.malformedRequestLine)) { try parser.next() }
        parser.append(bytes("GET / HTTP/1.1\r\nHost: b\r\n\r\n"))
        #expect(throws: HTTPServerError(.malformedRequestLine)) { try parser.next() }
    }

    @Test func headersAreCaseInsensitiveAndKeepRepeats() {
        let headers: HTTPHeaders = ["X-Token": "a", "x-token": "b", "Accept": "json"]
        #expect(headers["X-TOKEN"] == "a")
        #expect(headers.values(for: "x-Token") == ["a", "b"])
        #expect(headers["missing"] == nil)
        #expect(headers.count == 3)
    }

    @Test func queryItemsAreDecoded() {
        let head = HTTPRequestHead(method: "POST", target: "/w/1?token=a%2Bb+c&empty=&flag&token=second")
        #expect(head.path == "/w/1")
        #expect(head.queryItem("token") == "a+b c")
        #expect(head.queryItems.map(\.name) == ["token", "empty", "flag", "token"])
        #expect(head.queryItem("empty") == "")
        #expect(head.queryItem("absent") == nil)
    }
}
