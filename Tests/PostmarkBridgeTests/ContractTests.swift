import Foundation
import Testing

@testable import PostmarkBridge

/// Checks the bridge against `bridge_contract.json`, the file both halves of the product test against.
@Suite struct ContractTests {
    static let contractURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("odoo_addon/wk_postmark_notification/bridge_contract.json")

    static func notification() throws -> JSONValue {
        let contract = try JSONValue.parse(Array(try Data(contentsOf: contractURL)))
        return try #require(contract["notification"])
    }

    static func keys(_ name: String) throws -> Set<String> {
        Set(try #require(try notification()[name]?.objectValue).keys)
    }

    @Test func statesMatchTheContract() throws {
        #expect(Set(NotificationState.allCases.map(\.rawValue)) == (try Self.keys("states")))
    }

    @Test func recordTypesMatchTheContract() throws {
        #expect(Set(RecordKind.allCases.map(\.rawValue)) == (try Self.keys("record_types")))
    }

    static func matches(_ value: JSONValue, fieldType: String) -> Bool {
        switch (fieldType, value) {
        case ("char", .string), ("text", .string), ("selection", .string): return true
        case ("integer", .int(let number)), ("many2one", .int(let number)):
            return number >= Int64(Int32.min) && number <= Int64(Int32.max)
        case ("boolean", .bool): return true
        case ("datetime", .string(let text)):
            return text.wholeMatch(of: /\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/) != nil
        default: return false
        }
    }

    @Test("sends only contract fields with contract types", arguments: Fixture.names)
    func fieldsAndTypes(file: String) throws {
        let fields = try #require(try Self.notification()["fields_sent_by_bridge"]?.objectValue)
        let body = try Fixture.bytes(file)
        let event = try PostmarkEvent.decode(body: body)
        let key = event.dedupeKey(mailServerID: 7, traceID: nil)
        let values = event.notificationValues(mailServerID: 7, dedupeKey: key, payload: body)

        for (name, value) in values {
            let fieldType = try #require(fields[name]?.stringValue, "\(name) is not in fields_sent_by_bridge")
            #expect(Self.matches(value, fieldType: fieldType), "\(name) = \(value) is not a \(fieldType)")
        }
        #expect(values["state"]?.stringValue.flatMap(NotificationState.init(rawValue:)) != nil)
        #expect(values["record_type"]?.stringValue.flatMap(RecordKind.init(rawValue:)) != nil)
    }

    @Test func theFixturesTogetherUseMostContractFields() throws {
        let fields = try Self.keys("fields_sent_by_bridge")
        var used: Set<String> = []
        for file in Fixture.names {
            let body = try Fixture.bytes(file)
            let event = try PostmarkEvent.decode(body: body)
            used.formUnion(event.notificationValues(mailServerID: 1, dedupeKey: "k", payload: body).keys)
        }
        #expect(used == fields)
    }
}
