import Foundation
import Testing

@testable import PostmarkBridge

@Suite struct WebhookDedupeTests {
    static func decode(_ text: String) throws -> PostmarkEvent {
        try PostmarkEvent.decode(body: Array(text.utf8))
    }

    static func key(_ text: String, server: Int = 3, trace: String? = nil) throws -> String {
        try decode(text).dedupeKey(mailServerID: server, traceID: trace)
    }

    static let delivery =
        #"{"RecordType":"Delivery","MessageID":"m-1","Recipient":"a@x.test","#
        + #""DeliveredAt":"2019-11-05T16:33:54.9070259Z","Details":"250 OK"}"#

    @Test func usesTheTraceIDWhenPresent() throws {
        #expect(try Self.key(Self.delivery, trace: " 7c1d-4e.9_A ") == "3:delivery:trace:7c1d-4e.9_A")
    }

    @Test(
        "hashes trace ids that are long or unusual",
        arguments: [String(repeating: "a", count: 65), "has space", "semi;colon", "é", "a:b"]
    )
    func hashesUnusualTraceIDs(trace: String) throws {
        let key = try Self.key(Self.delivery, trace: trace)
        #expect(key == "3:delivery:trace-sha256:" + SHA256.hexDigest(trace))
    }

    @Test func blankTraceIDFallsBackToTheNaturalKey() throws {
        #expect(try Self.key(Self.delivery, trace: "  ") == Self.key(Self.delivery, trace: nil))
        #expect(try Self.key(Self.delivery).hasPrefix("3:delivery:key:"))
    }

    @Test func serverAndRecordTypeAreAlwaysPartOfTheKey() throws {
        let click = #"{"RecordType":"Click","MessageID":"m-1","Recipient":"a@x.test","OriginalLink":"https://x"}"#
        #expect(try Self.key(Self.delivery, server: 3) != Self.key(Self.delivery, server: 4))
        #expect(try Self.key(Self.delivery, trace: "t") != Self.key(click, trace: "t"))
        #expect(try Self.key("{}", server: 3) != Self.key("{}", server: 4))
    }

    @Test func naturalKeyIgnoresFieldsOutsideIt() throws {
        let redelivered =
            #"{"Details":"250 2.0.0 OK","DeliveredAt":"2019-11-05T16:33:54.9070259Z","Recipient":"a@x.test","#
            + #""MessageID":"m-1","RecordType":"Delivery","Metadata":{"x":"y"}}"#
        #expect(try Self.key(Self.delivery) == Self.key(redelivered))
    }

    @Test func naturalKeyKeepsPrecisionBeyondDate() throws {
        let later = Self.delivery.replacingOccurrences(of: ".9070259Z", with: ".9070260Z")
        #expect(try Self.key(Self.delivery) != Self.key(later))
    }

    struct Pair: Sendable, CustomTestStringConvertible {
        var name: String
        var first: String
        var second: String
        var same: Bool
        var testDescription: String { name }
    }

    /// `base` with `changes` applied, as JSON text.
    static func variant(_ base: [String: JSONValue], _ changes: [String: JSONValue] = [:]) -> String {
        JSONValue.object(base.merging(changes) { _, new in new }).serialized()
    }

    static let bounce: [String: JSONValue] = [
        "RecordType": "Bounce", "ID": 42, "Type": "HardBounce", "MessageID": "m", "Email": "a@x",
        "BouncedAt": "2019-11-05T16:33:54Z",
    ]
    static let open: [String: JSONValue] = [
        "RecordType": "Open", "MessageID": "m", "Recipient": "a@x", "ReceivedAt": "2019-11-05T16:33:54Z",
        "FirstOpen": true,
    ]
    static let click: [String: JSONValue] = [
        "RecordType": "Click", "MessageID": "m", "Recipient": "a@x", "OriginalLink": "https://x",
        "ReceivedAt": "2019-11-05T16:33:54Z",
    ]
    static let change: [String: JSONValue] = [
        "RecordType": "SubscriptionChange", "Recipient": "a@x", "MessageStream": "outbound",
        "ChangedAt": "2020-02-01T10:53:34Z", "SuppressSending": true,
    ]

    static let pairs: [Pair] = [
        Pair(
            name: "test bounces with ID 42 but different messages stay apart",
            first: variant(bounce), second: variant(bounce, ["MessageID": "m-2"]), same: false),
        Pair(
            name: "test bounces with ID 42 but different types stay apart",
            first: variant(bounce), second: variant(bounce, ["Type": "SoftBounce"]), same: false),
        Pair(
            name: "test bounces with ID 42 but different times stay apart",
            first: variant(bounce), second: variant(bounce, ["BouncedAt": "2019-11-05T16:33:55Z"]), same: false),
        Pair(
            name: "a redelivered bounce with other details is the same",
            first: variant(bounce, ["Details": "x"]), second: variant(bounce, ["Details": "y", "Content": "dump"]),
            same: true),
        Pair(
            name: "first and later opens at the same second stay apart",
            first: variant(open), second: variant(open, ["FirstOpen": false]), same: false),
        Pair(
            name: "opens at different times stay apart",
            first: variant(open), second: variant(open, ["ReceivedAt": "2019-11-05T16:34:54Z"]), same: false),
        Pair(
            name: "a click on the same link is the same event",
            first: variant(click), second: variant(click, ["ReceivedAt": "2019-11-05T16:39:54Z"]), same: true),
        Pair(
            name: "clicks on different links stay apart",
            first: variant(click), second: variant(click, ["OriginalLink": "https://y"]), same: false),
        Pair(
            name: "suppression and reactivation at the same time stay apart",
            first: variant(change), second: variant(change, ["SuppressSending": false]), same: false),
        Pair(
            name: "suppressions on two streams stay apart",
            first: variant(change), second: variant(change, ["MessageStream": "broadcast"]), same: false),
        Pair(
            name: "a body-hashed event is the same whatever its key order and spacing",
            first: #"{"RecordType":"Mystery","a":1,"b":[1,2]}"#,
            second: #"{ "b" : [1, 2], "a": 1, "RecordType": "Mystery" }"#,
            same: true),
        Pair(
            name: "body-hashed events differing anywhere stay apart",
            first: #"{"RecordType":"Mystery","a":1}"#,
            second: #"{"RecordType":"Mystery","a":2}"#,
            same: false),
    ]

    @Test("recognises redeliveries and keeps distinct events apart", arguments: pairs)
    func pair(pair: Pair) throws {
        #expect(try (Self.key(pair.first) == Self.key(pair.second)) == pair.same)
    }

    @Test(
        "falls back to the body when the natural key is incomplete",
        arguments: [
            #"{"RecordType":"Bounce","Type":"HardBounce","MessageID":"m","Email":"a@x"}"#,
            #"{"RecordType":"Delivery","MessageID":"m","Recipient":"a@x"}"#,
            #"{"RecordType":"Open","Recipient":"a@x","ReceivedAt":"2019-11-05T16:33:54Z"}"#,
            #"{"RecordType":"Click","MessageID":"m","Recipient":"a@x"}"#,
            #"{"RecordType":"SubscriptionChange","Recipient":"a@x"}"#,
            #"{"RecordType":"Nope","MessageID":"m"}"#,
            #"{"FromFull":{},"MessageID":"m"}"#,
            "{}",
        ]
    )
    func bodyFallback(body: String) throws {
        let event = try Self.decode(body)
        let key = event.dedupeKey(mailServerID: 3, traceID: nil)
        #expect(key == "3:\(event.kind.rawValue):body:" + SHA256.hexDigest(event.body.serialized()))
    }

    @Test("keys stay bounded", arguments: Fixture.names)
    func bounded(file: String) throws {
        let event = try Fixture.event(file)
        for trace in [nil, "a", String(repeating: "x", count: 5_000)] {
            let key = event.dedupeKey(mailServerID: Int.max, traceID: trace)
            #expect(key.utf8.count <= PostmarkEvent.maximumDedupeKeyLength)
        }
    }

    @Test func inboxEventCarriesTheClassification() throws {
        let body = try Fixture.bytes("bounce-hard.json")
        let event = try PostmarkEvent.decode(body: body)
        let inbox = event.inboxEvent(mailServerID: 9, traceID: " t-1 ", payload: body)
        #expect(inbox.mailServerID == 9)
        #expect(inbox.dedupeKey == "9:bounce:trace:t-1")
        #expect(inbox.recordType == "bounce")
        #expect(inbox.state == "bounced")
        #expect(inbox.messageID == "883953f4-6105-42a2-a16a-77a8eac79483")
        #expect(inbox.recipient == "john@example.com")
        #expect(inbox.occurredAt == PostmarkTimestamp.parse("2019-11-05T16:33:54.9070259Z"))
        #expect(inbox.traceID == "t-1")
        #expect(inbox.payload == body)
    }
}
