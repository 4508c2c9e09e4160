import Foundation
import Testing

@testable import PostmarkBridge

/// The Postmark payloads in `Fixtures/`: the reference's examples and the quirky variants.
enum Fixture {
    /// The fixtures folder next to this file.
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Fixtures"
    )

    /// Every fixture's file name, sorted.
    static var names: [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".json") }.sorted()
    }

    /// The bytes of a fixture.
    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    /// A fixture decoded.
    static func event(_ name: String) throws -> PostmarkEvent {
        try PostmarkEvent.decode(body: bytes(name))
    }
}

@Suite struct WebhookFixtureTests {
    struct Expectation: Sendable, CustomTestStringConvertible {
        var file: String
        var kind: RecordKind
        var state: NotificationState
        var recipient: String?
        var messageID: String?
        var eventDate: String?
        var postmarkServerID: String? = nil
        var bounceID: String? = nil
        var tag: String? = nil
        var testDescription: String { file }
    }

    static let expectations: [Expectation] = [
        Expectation(
            file: "delivery.json", kind: .delivery, state: .delivered, recipient: "john@example.com",
            messageID: "883953f4-6105-42a2-a16a-77a8eac79483", eventDate: "2019-11-05 16:33:54",
            postmarkServerID: "23", tag: "welcome-email"),
        Expectation(
            file: "delivery-serverid-lowercase.json", kind: .delivery, state: .delivered,
            recipient: "john@example.com", messageID: "00000000-0000-0000-0000-000000000000",
            eventDate: "2016-04-27 20:28:50", postmarkServerID: "23", tag: "welcome-email"),
        Expectation(
            file: "delivery-legacy-no-recordtype.json", kind: .unknown, state: .unknown,
            recipient: "john@example.com", messageID: "883953f4-6105-42a2-a16a-77a8eac79483",
            eventDate: "2016-12-01 20:41:45", tag: "welcome-email"),
        Expectation(
            file: "bounce-hard.json", kind: .bounce, state: .bounced, recipient: "john@example.com",
            messageID: "883953f4-6105-42a2-a16a-77a8eac79483", eventDate: "2019-11-05 16:33:54",
            postmarkServerID: "23", bounceID: "4323372036854775807", tag: "Test"),
        Expectation(
            file: "bounce-test-payload.json", kind: .bounce, state: .bounced, recipient: "john@example.com",
            messageID: "00000000-0000-0000-0000-000000000000", eventDate: "2019-11-05 16:33:54",
            postmarkServerID: "1234", bounceID: "42", tag: "Test"),
        Expectation(
            file: "bounce-smtp-api-error.json", kind: .bounce, state: .smtpAPIError,
            recipient: "suppressed@example.com", messageID: "7a4f0e7e-1b1e-4a4e-9c3e-2a8d1b0c9f11",
            eventDate: "2024-03-01 10:00:00", postmarkServerID: "23", bounceID: "4323372036854775806", tag: nil),
        Expectation(
            file: "bounce-unsubscribe-without-email.json", kind: .bounce, state: .unsubscribed, recipient: nil,
            messageID: "2c1b1d7e-8f0b-4f3e-9c57-1b0d5a2e6f40", eventDate: nil, postmarkServerID: "23",
            bounceID: "3719297970", tag: nil),
        Expectation(
            file: "bounce-wrong-types.json", kind: .bounce, state: .softBounced, recipient: "padded@example.com",
            messageID: nil, eventDate: nil, postmarkServerID: "23", bounceID: "4323372036854775805", tag: nil),
        Expectation(
            file: "spam-complaint.json", kind: .spamComplaint, state: .spamComplaint, recipient: "john@example.com",
            messageID: "00000000-0000-0000-0000-000000000000", eventDate: "2019-11-05 16:33:54",
            postmarkServerID: "1234", bounceID: "42", tag: "Test"),
        Expectation(
            file: "open.json", kind: .open, state: .opened, recipient: "john@example.com",
            messageID: "883953f4-6105-42a2-a16a-77a8eac79483", eventDate: "2019-11-05 16:33:54",
            tag: "welcome-email"),
        Expectation(
            file: "open-sparse.json", kind: .open, state: .opened, recipient: "john@example.com",
            messageID: "883953f4-6105-42a2-a16a-77a8eac79483", eventDate: "2019-11-05 16:35:01",
            tag: "welcome-email"),
        Expectation(
            file: "click.json", kind: .click, state: .clicked, recipient: "john@example.com",
            messageID: "00000000-0000-0000-0000-000000000000", eventDate: "2017-10-25 15:21:11",
            tag: "welcome-email"),
        Expectation(
            file: "subscription-change-hard-bounce.json", kind: .subscriptionChange, state: .bounced,
            recipient: "bounced-address@wildbit.com", messageID: "883953f4-6105-42a2-a16a-77a8eac79483",
            eventDate: "2020-02-01 10:53:34", postmarkServerID: "123456", tag: "my-tag"),
        Expectation(
            file: "subscription-change-manual.json", kind: .subscriptionChange, state: .unsubscribed,
            recipient: "someone@example.com", messageID: nil, eventDate: "2020-02-01 09:53:34",
            postmarkServerID: "123456"),
        Expectation(
            file: "subscription-change-reactivated.json", kind: .subscriptionChange, state: .subscribed,
            recipient: "bounced-address@wildbit.com", messageID: nil, eventDate: "2020-02-03 08:00:00",
            postmarkServerID: "123456"),
        Expectation(
            file: "inbound-message.json", kind: .inbound, state: .unknown, recipient: nil,
            messageID: "73e6d360-66eb-11e1-8e72-a8904824019b", eventDate: nil, tag: "TestTag"),
        Expectation(
            file: "empty-object.json", kind: .unknown, state: .unknown, recipient: nil, messageID: nil,
            eventDate: nil),
        Expectation(
            file: "unknown-record-type.json", kind: .unknown, state: .unknown, recipient: "john@example.com",
            messageID: "883953f4-6105-42a2-a16a-77a8eac79483", eventDate: nil, postmarkServerID: "23"),
    ]

    @Test func everyFixtureHasAnExpectation() {
        #expect(Set(Fixture.names) == Set(Self.expectations.map(\.file)))
    }

    @Test("decodes and classifies each fixture", arguments: expectations)
    func decodes(expected: Expectation) throws {
        let event = try Fixture.event(expected.file)
        #expect(event.kind == expected.kind)
        #expect(event.state == expected.state)
        #expect(event.recipient == expected.recipient)
        #expect(event.messageID == expected.messageID)
        #expect(event.eventDate.map(PostmarkTimestamp.odooString) == expected.eventDate)
        #expect(event.postmarkServerID == expected.postmarkServerID)
        #expect(event.bounceID == expected.bounceID)
        #expect(event.tag == expected.tag)
    }
}
