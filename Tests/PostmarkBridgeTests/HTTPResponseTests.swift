import Testing

@testable import PostmarkBridge

@Suite struct HTTPResponseTests {
    private static let date = "Sun, 06 Nov 1994 08:49:37 GMT"

    private func wire(_ response: HTTPResponse, close: Bool = false, http10: Bool = false, head: Bool = false) -> String
    {
        let bytes = response.serialized(date: Self.date, close: close, keepAliveForHTTP10: http10, includeBody: !head)
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func dateIsAnIMFFixdate() {
        #expect(HTTPDate.format(784_111_777) == Self.date)
        #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
    }

    @Test func jsonResponseCarriesTypeLengthAndDate() {
        let text = wire(.json(status: 200, body: #"{"ok":true}"#))
        #expect(
            text == "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n"
                + "Date: \(Self.date)\r\n\r\n{\"ok\":true}")
    }

    @Test func connectionHeaderFollowsTheServersDecision() {
        #expect(wire(.text(status: 503, body: "x"), close: true).contains("\r\nConnection: close\r\n"))
        #expect(wire(.text(status: 200, body: "x"), http10: true).contains("\r\nConnection: keep-alive\r\n"))
        #expect(!wire(.text(status: 200, body: "x")).contains("Connection"))
    }

    @Test func framingHeadersFromTheResponderAreReplaced() {
        let response = HTTPResponse(
            status: 200,
            headers: [("Content-Length", "999"), ("transfer-encoding", "chunked"), ("Connection", "upgrade")],
            body: Array("abc".utf8))
        let text = wire(response)
        #expect(text == "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nDate: \(Self.date)\r\n\r\nabc")
    }

    @Test func headersThatWouldSplitTheResponseAreDropped() {
        let response = HTTPResponse(
            status: 200, headers: [("X-Good", "1"), ("X-Bad", "a\r\nSet-Cookie: x"), ("X-Bad\r\nY", "2")])
        let text = wire(response)
        #expect(text.contains("X-Good: 1\r\n"))
        #expect(!text.contains("X-Bad"))
        #expect(!text.contains("Set-Cookie"))
    }

    @Test func headAnswersKeepTheLengthWithoutTheBody() {
        #expect(
            wire(.text(status: 200, body: "hello"), head: true).hasSuffix(
                "Content-Length: 5\r\nDate: \(Self.date)\r\n\r\n"))
    }

    @Test func noContentHasNeitherLengthNorBody() {
        #expect(
            wire(HTTPResponse(status: 204, body: [1, 2])) == "HTTP/1.1 204 No Content\r\nDate: \(Self.date)\r\n\r\n")
    }

    @Test(arguments: [100, 200, 400, 401, 404, 405, 408, 413, 415, 429, 431, 500, 501, 503, 505])
    func everyStatusTheServiceUsesHasAReasonPhrase(status: Int) {
        #expect(!HTTPResponse.reasonPhrase(for: status).isEmpty)
    }
}
