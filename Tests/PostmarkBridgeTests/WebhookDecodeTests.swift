import Foundation
import Testing

@testable import PostmarkBridge

@Suite struct WebhookDecodeTests {
    static func decode(_ text: String) throws -> PostmarkEvent {
        try PostmarkEvent.decode(body: Array(text.utf8))
    }

    static let malformedBodies: [([UInt8], String)] = [
        (Array("".utf8), "empty"),
        (Array("  \r\n".utf8), "empty"),
        (Array("[{\"RecordType\":\"secret-sauce\"}]".utf8), "not an object"),
        (Array("\"secret-sauce\"".utf8), "not an object"),
        (Array("42".utf8), "not an object"),
        (Array("null".utf8), "not an object"),
        (Array("true".utf8), "not an object"),
        (Array("{\"RecordType\": secret-sauce}".utf8), "not valid JSON"),
        (Array("{\"RecordType\": \"secret-sauce\"".utf8), "not valid JSON"),
        (Array("{\"RecordType\": \"secret-sauce\"} trailing".utf8), "not valid JSON"),
        (Array("RecordType=secret-sauce".utf8), "not valid JSON"),
        (Array("{\"Tag\": \"secret-sauce".utf8) + [0xFF, 0x22, 0x7D], "not valid UTF-8"),
        (Array("{\"Tag\": \"".utf8) + [0xED, 0xA0, 0x80] + Array("\"}".utf8), "not valid UTF-8"),
    ]

    @Test("refuses bodies that are not a UTF-8 JSON object, without echoing them", arguments: malformedBodies)
    func refusesMalformed(body: [UInt8], phrase: String) {
        do {
            _ = try PostmarkEvent.decode(body: body)
            Issue.record("decoded a malformed body")
        } catch {
            #expect(error.code == .malformedBody)
            #expect(error.message.contains(phrase))
            #expect(!error.message.contains("secret"))
            #expect(!error.message.contains("RecordType"))
        }
    }

    @Test func keysAreCaseInsensitiveEverywhere() throws {
        let event = try Self.decode(
            #"{"recordtype":"click","MESSAGEID":"m-1","recipient":"a@b.c","originallink":"https://x.test/","#
                + #""geo":{"country":"Serbia","CITY":"Novi Sad"},"client":{"NAME":"Firefox"},"os":{"name":"Linux"},"#
                + #""serverId":7,"receivedat":"2020-01-01T00:00:00Z"}"#
        )
        #expect(event.kind == .click)
        #expect(event.messageID == "m-1")
        #expect(event.originalLink == "https://x.test/")
        #expect(event.geoCountry == "Serbia")
        #expect(event.geoCity == "Novi Sad")
        #expect(event.clientName == "Firefox")
        #expect(event.osName == "Linux")
        #expect(event.postmarkServerID == "7")
        #expect(event.eventDate == PostmarkTimestamp.parse("2020-01-01T00:00:00Z"))
    }

    @Test func exactSpellingWinsOverAnotherCase() throws {
        let event = try Self.decode(#"{"RecordType":"Delivery","MessageID":"exact","messageid":"folded"}"#)
        #expect(event.messageID == "exact")
    }

    @Test func keepsBounceIDsBeyondThirtyTwoBitsExactly() throws {
        let event = try Self.decode(#"{"RecordType":"Bounce","Type":"HardBounce","ID":9223372036854775807}"#)
        #expect(event.bounceID == "9223372036854775807")
    }

    @Test func dropsBounceIDsThatNoLongerFitExactly() throws {
        let event = try Self.decode(#"{"RecordType":"Bounce","Type":"HardBounce","ID":18446744073709551616}"#)
        #expect(event.bounceID == nil)
        #expect(event.state == .bounced)
    }

    @Test func bounceIDIsOnlyReadOnBouncesAndComplaints() throws {
        let event = try Self.decode(#"{"RecordType":"Delivery","ID":5,"MessageID":"m"}"#)
        #expect(event.bounceID == nil)
    }

    @Test func spamComplaintTypeCodeDoesNotDecideTheState() throws {
        let event = try Fixture.event("spam-complaint.json")
        #expect(event.typeCode == 512)
        #expect(event.state == .spamComplaint)
        #expect(event.postmarkDescription == nil)
        #expect(event.canActivate == false)
    }

    @Test func blankAndNullTextCountsAsAbsent() throws {
        let event = try Self.decode(#"{"RecordType":"Delivery","Tag":"","Recipient":"   ","MessageID":null}"#)
        #expect(event.tag == nil)
        #expect(event.recipient == nil)
        #expect(event.messageID == nil)
    }

    @Test func valuesOfTheWrongTypeAreIgnored() throws {
        let event = try Fixture.event("bounce-wrong-types.json")
        #expect(event.tag == nil)
        #expect(event.messageID == nil)
        #expect(event.metadata.isEmpty)
        #expect(event.postmarkDescription == nil)
        #expect(event.details == nil)
        #expect(event.inactive == nil)
        #expect(event.typeCode == nil)
        #expect(event.subject == nil)
        #expect(event.eventTimeText == "not a date")
        #expect(event.eventDate == nil)
    }

    @Test func metadataBecomesAStringMap() throws {
        let event = try Self.decode(
            #"{"RecordType":"Delivery","Metadata":{"a":"x","n":42,"f":true,"z":null,"o":{"k":[1]}}}"#
        )
        #expect(event.metadata == ["a": "x", "n": "42", "f": "true", "o": #"{"k":[1]}"#])
    }

    @Test func opensCarryClientAndGeo() throws {
        let event = try Fixture.event("open.json")
        #expect(event.firstOpen == true)
        #expect(event.clientName == "Chrome 35.0.1916.153")
        #expect(event.osName == "OS X 10.7 Lion")
        #expect(event.platform == "WebMail")
        #expect(event.userAgent?.hasPrefix("Mozilla/5.0 (Macintosh") == true)
        #expect(event.geoCountry == "Serbia")
        #expect(event.geoCity == "Novi Sad")
        #expect(event.metadata == ["a_key": "a_value", "b_key": "b_value"])
    }

    @Test func sparseOpensHaveNoClientOrGeo() throws {
        let event = try Fixture.event("open-sparse.json")
        #expect(event.firstOpen == false)
        #expect(event.clientName == nil)
        #expect(event.osName == nil)
        #expect(event.geoCountry == nil)
        #expect(event.metadata.isEmpty)
    }

    @Test func geoCountryFallsBackToTheISOCode() throws {
        let event = try Self.decode(#"{"RecordType":"Open","Geo":{"CountryISOCode":"RS"}}"#)
        #expect(event.geoCountry == "RS")
    }

    @Test func clicksCarryTheLink() throws {
        let event = try Fixture.event("click.json")
        #expect(event.originalLink == "https://example.com")
        #expect(event.clickLocation == "HTML")
    }

    @Test func bouncesCarrySubjectDetailsAndFlags() throws {
        let event = try Fixture.event("bounce-hard.json")
        #expect(event.subject == "Test subject")
        #expect(event.details == "Test bounce details")
        #expect(event.bounceType == "HardBounce")
        #expect(event.bounceName == "Hard bounce")
        #expect(event.typeCode == 1)
        #expect(event.inactive == true)
        #expect(event.from == "sender@example.com")
        #expect(event.messageStream == "outbound")
    }

    @Test func subscriptionChangesCarrySuppression() throws {
        let event = try Fixture.event("subscription-change-manual.json")
        #expect(event.suppressSending == true)
        #expect(event.suppressionReason == "ManualSuppression")
        #expect(event.origin == "Customer")
        #expect(event.messageStream == "broadcast")
    }

    @Test func wrongTypeSuppressSendingCountsAsAbsentSoSuppressed() throws {
        let event = try Self.decode(#"{"RecordType":"SubscriptionChange","SuppressSending":"false"}"#)
        #expect(event.suppressSending == nil)
        #expect(event.state == .unsubscribed)
    }

    @Test func recipientPrefersTheKindsOwnKey() throws {
        let bounce = try Self.decode(#"{"RecordType":"Bounce","Type":"HardBounce","Email":"e@x","Recipient":"r@x"}"#)
        let delivery = try Self.decode(#"{"RecordType":"Delivery","Email":"e@x","Recipient":"r@x"}"#)
        let onlyOther = try Self.decode(#"{"RecordType":"Delivery","Email":"e@x"}"#)
        #expect(bounce.recipient == "e@x")
        #expect(delivery.recipient == "r@x")
        #expect(onlyOther.recipient == "e@x")
    }

    @Test(
        "trims any whitespace, quickly when there is none",
        arguments: [
            ("a@x", "a@x"), (" a@x", "a@x"), ("a@x\n", "a@x"), ("\u{00A0}a@x\u{2003}", "a@x"), ("\t \r\n", ""),
            ("é", "é"), ("", ""),
        ]
    )
    func trims(text: String, expected: String) {
        #expect(text.trimmedWhitespace() == expected)
    }

    @Test(
        "lowercases ASCII letters only",
        arguments: [("ServerID", "serverid"), ("already", "already"), ("ÉCOLE-Ünï", "École-Ünï"), ("", "")]
    )
    func lowercases(text: String, expected: String) {
        #expect(text.asciiLowercased() == expected)
    }
}
