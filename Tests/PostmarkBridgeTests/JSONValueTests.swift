import Testing

@testable import PostmarkBridge

@Suite struct JSONValueTests {
    @Test func keepsSixtyFourBitIntegersExact() throws {
        let value = try JSONValue.parse(#"{"ID": 4323372036854775807, "TypeCode": 100001, "x": -0.5e1}"#)
        #expect(value["ID"] == .int(4_323_372_036_854_775_807))
        #expect(value["TypeCode"]?.intValue == 100_001)
        #expect(value["x"] == .double(-5))
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let value = try JSONValue.parse(#"["a\"b\\c\/\n", "\u00e9\ud83d\ude00", "é"]"#)
        #expect(value == ["a\"b\\c/\n", "é😀", "é"])
    }

    @Test func looksUpKeysIgnoringCase() throws {
        let value = try JSONValue.parse(#"{"ServerId": 23}"#)
        #expect(value.value(forKeyIgnoringCase: "ServerID") == .int(23))
        #expect(value["ServerID"] == nil)
    }

    @Test(
        "rejects malformed documents",
        arguments: [
            ("", JSONParseError.Reason.unexpectedEnd),
            ("{", .unexpectedEnd),
            ("{\"a\" 1}", .unexpectedCharacter),
            ("[1,]", .unexpectedCharacter),
            ("01", .trailingData),
            ("1.", .invalidToken),
            ("tru", .unexpectedEnd),
            ("nul!", .invalidToken),
            ("\"\\x\"", .invalidToken),
            ("\"\\ud800\"", .invalidToken),
            ("{} {}", .trailingData),
            ("\"a\u{01}\"", .unexpectedCharacter),
        ]
    )
    func rejectsMalformed(input: String, reason: JSONParseError.Reason) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(input) }
        do {
            _ = try JSONValue.parse(input)
        } catch {
            #expect(error.reason == reason)
        }
    }

    @Test func rejectsInvalidUTF8InsideStrings() {
        let bytes: [UInt8] = Array(#"{"a":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect(throws: JSONParseError(reason: .invalidUTF8, offset: 6)) { try JSONValue.parse(bytes) }
    }

    @Test func rejectsDeepNesting() {
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(deep) }
    }

    @Test func serializesCanonically() throws {
        let value: JSONValue = ["b": [1, true, nil], "a": "x\"\n\u{01}", "c": .double(1.5)]
        #expect(value.serialized() == #"{"a":"x\"\n\u0001","b":[1,true,null],"c":1.5}"#)
        #expect(try JSONValue.parse(value.serialized()) == value)
    }
}
