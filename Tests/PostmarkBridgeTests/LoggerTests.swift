import Testing

@testable import PostmarkBridge

@Suite struct LoggerTests {
    @Test func levelNamesRoundTrip() {
        for level in Logger.Level.allCases {
            #expect(Logger.Level(name: level.description.uppercased()) == level)
        }
        #expect(Logger.Level(name: "verbose") == nil)
    }

    @Test func textLinesSortMetadataAndQuoteSpaces() {
        let line = LogSink.renderText(
            level: .info, label: "http", message: "listening", metadata: ["b": "x y", "a": "1"])
        #expect(line.hasSuffix(" info http a=1 b=\"x y\" listening"))
    }
}
