import Foundation
import Testing

@testable import PostmarkBridge

@Suite struct WebhookOdooValuesTests {
    static func values(_ body: [UInt8], server: Int = 5) throws -> [String: JSONValue] {
        let event = try PostmarkEvent.decode(body: body)
        return event.notificationValues(mailServerID: server, dedupeKey: "k", payload: body)
    }

    static func values(fixture: String) throws -> [String: JSONValue] {
        try values(Fixture.bytes(fixture))
    }

    @Test func deliveryValues() throws {
        let body = try Fixture.bytes("delivery.json")
        let values = try Self.values(body)
        #expect(
            values == [
                "dedupe_key": "k",
                "state": "delivered",
                "record_type": "delivery",
                "mail_server_id": 5,
                "recipient": "john@example.com",
                "postmark_message_id": "883953f4-6105-42a2-a16a-77a8eac79483",
                "event_date": "2019-11-05 16:33:54",
                "message_stream": "outbound",
                "tag": "welcome-email",
                "metadata": #"{"a_key":"a_value","b_key":"b_value"}"#,
                "details": "Test delivery webhook details",
                "payload": .string(String(decoding: body, as: UTF8.self)),
            ]
        )
    }

    @Test func bounceValues() throws {
        let values = try Self.values(fixture: "bounce-hard.json")
        #expect(values["state"] == "bounced")
        #expect(values["bounce_type"] == "HardBounce")
        #expect(values["bounce_code"] == 1)
        #expect(values["bounce_id"] == "4323372036854775807")
        #expect(values["subject"] == "Test subject")
        #expect(values["inactive"] == true)
        #expect(
            values["description"]
                == "The server was unable to deliver your message (ex: unknown user, mailbox not found).")
        #expect(values["first_open"] == nil)
    }

    @Test func spamComplaintKeepsItsDisagreeingTypeCode() throws {
        let values = try Self.values(fixture: "spam-complaint.json")
        #expect(values["state"] == "spam_complaint")
        #expect(values["record_type"] == "spam_complaint")
        #expect(values["bounce_code"] == 512)
        #expect(values["description"] == nil)
    }

    @Test func openAndClickValues() throws {
        let open = try Self.values(fixture: "open.json")
        #expect(open["first_open"] == true)
        #expect(open["client_name"] == "Chrome 35.0.1916.153")
        #expect(open["os_name"] == "OS X 10.7 Lion")
        #expect(open["platform"] == "WebMail")
        #expect(open["geo_country"] == "Serbia")
        #expect(open["geo_city"] == "Novi Sad")
        #expect(open["bounce_id"] == nil)

        let click = try Self.values(fixture: "click.json")
        #expect(click["link_url"] == "https://example.com")
        #expect(click["click_location"] == "HTML")
        #expect(click["first_open"] == nil)
        #expect(click["event_date"] == "2017-10-25 15:21:11")
    }

    @Test func subscriptionChangeReportsSuppressionAsInactive() throws {
        #expect(try Self.values(fixture: "subscription-change-manual.json")["inactive"] == true)
        #expect(try Self.values(fixture: "subscription-change-reactivated.json")["inactive"] == false)
        #expect(try Self.values(fixture: "subscription-change-reactivated.json")["postmark_message_id"] == nil)
        #expect(try Self.values(fixture: "subscription-change-reactivated.json")["metadata"] == nil)
    }

    @Test func emptyObjectHasOnlyTheEssentials() throws {
        let values = try Self.values(fixture: "empty-object.json")
        #expect(
            Set(values.keys) == ["dedupe_key", "state", "record_type", "mail_server_id", "payload", "description"]
        )
        #expect(values["description"] == .string(EventClassifier.emptyNote))
    }

    @Test func inboundMessageSaysItIsAtTheWrongURL() throws {
        let values = try Self.values(fixture: "inbound-message.json")
        #expect(values["record_type"] == "inbound")
        #expect(values["state"] == "unknown")
        #expect(values["description"]?.stringValue?.contains("points at the bridge") == true)
        #expect(values["subject"] == "Test subject")
    }

    @Test func unknownBounceTypeExplainsAndKeepsPostmarksDescription() throws {
        let body = Array(#"{"RecordType":"Bounce","Type":"Weird","Description":"Postmark says"}"#.utf8)
        let description = try #require(try Self.values(body)["description"]?.stringValue)
        #expect(description.hasPrefix("Unrecognised bounce Type \"Weird\"."))
        #expect(description.hasSuffix("Postmark says"))
    }

    @Test func charFieldsAreCut() throws {
        let longSubject = String(repeating: "é", count: 1_000)
        let longLink = "https://x.test/" + String(repeating: "a", count: 5_000)
        let body = Array(
            JSONValue.object([
                "RecordType": "Click", "OriginalLink": .string(longLink), "Subject": .string(longSubject),
                "UserAgent": .string(String(repeating: "u", count: 3_000)),
                "Details": .string(String(repeating: "d", count: 3_000)),
            ]).serialized().utf8
        )
        let values = try Self.values(body)
        #expect(values["subject"]?.stringValue?.count == PostmarkEvent.charFieldLimit)
        #expect(values["link_url"]?.stringValue?.count == PostmarkEvent.linkFieldLimit)
        #expect(values["user_agent"]?.stringValue?.count == PostmarkEvent.userAgentFieldLimit)
        #expect(values["details"]?.stringValue?.count == 3_000)
    }

    @Test func typeCodesOutsideOdooIntegersAreLeftOut() throws {
        let body = Array(#"{"RecordType":"Bounce","Type":"HardBounce","TypeCode":4294967296}"#.utf8)
        #expect(try Self.values(body)["bounce_code"] == nil)
    }

    @Test func payloadIsTheBodyAsReceived() throws {
        let body = Array("{ \"RecordType\" : \"Delivery\", \"Tag\": \"\\u00e9\" }".utf8)
        #expect(try Self.values(body)["payload"] == .string("{ \"RecordType\" : \"Delivery\", \"Tag\": \"\\u00e9\" }"))
    }
}
