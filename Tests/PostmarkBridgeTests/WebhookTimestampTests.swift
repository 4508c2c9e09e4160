import Foundation
import Testing

@testable import PostmarkBridge

@Suite struct WebhookTimestampTests {
    /// Every timestamp form of the reference, with its instant computed independently (Python's `fromisoformat`).
    static let valid: [(String, TimeInterval)] = [
        ("2019-11-05T16:33:54.9070259Z", 1_572_971_634.907_025_9),
        ("2016-04-27T16:28:50.3963933-04:00", 1_461_788_930.396_393_3),
        ("2016-12-01T15:41:45-05:00", 1_480_624_905),
        ("2011-07-13T14:45:39.31Z", 1_310_568_339.31),
        ("2017-10-25T15:21:11.9065619Z", 1_508_944_871.906_561_9),
        ("2020-02-01T10:53:34.416071Z", 1_580_554_414.416_071),
        ("2020-02-01T10:53:34.4Z", 1_580_554_414.4),
        ("2020-02-01T10:53:34.416071+01:00", 1_580_550_814.416_071),
        ("2016-12-01T15:41:45-0500", 1_480_624_905),
        ("2016-12-01T15:41:45-05", 1_480_624_905),
        ("2016-12-01T20:41:45", 1_480_624_905),
        ("2016-12-01 20:41:45z", 1_480_624_905),
        ("2016-12-01t20:41:45.000000000+00:00", 1_480_624_905),
        ("2024-02-29T23:59:59+05:30", 1_709_231_399),
        ("1970-01-01T00:00:00Z", 0),
        ("1969-12-31T23:59:59Z", -1),
        ("2000-03-01T00:00:00Z", 951_868_800),
        ("9999-12-31T23:59:59Z", 253_402_300_799),
        ("0001-01-01T00:00:00Z", -62_135_596_800),
    ]

    @Test("parses Postmark's timestamp forms", arguments: valid)
    func parses(text: String, expected: TimeInterval) throws {
        let date = try #require(PostmarkTimestamp.parse(text))
        #expect(abs(date.timeIntervalSince1970 - expected) < 1e-6)
    }

    @Test(
        "rejects what is not a timestamp",
        arguments: [
            "", "garbage", "2019-13-05T16:33:54Z", "2019-00-05T16:33:54Z", "2019-02-29T00:00:00Z",
            "2019-04-31T00:00:00Z", "2019-11-05T24:00:00Z", "2019-11-05T16:60:00Z", "2019-11-05T16:33:60Z",
            "2019-11-05", "2019-11-05T16:33Z", "2019-11-05T16:33:54.Z", "2019-11-05T16:33:54.1234567890Z",
            "2019-11-05T16:33:54+19:00", "2019-11-05T16:33:54+05:60", "2019-11-05T16:33:54+5", "2019-11-05T16:33:54ZZ",
            "2019-11-05T16:33:54Z ", " 2019-11-05T16:33:54Z", "19-11-05T16:33:54Z", "2019/11/05T16:33:54Z",
            "2019-11-05X16:33:54Z", "2019-11-05T16:33:54+05:3", "２０１９-11-05T16:33:54Z",
            "Fri, 1 Aug 2014 16:45:32 -04:00",
        ]
    )
    func rejects(text: String) {
        #expect(PostmarkTimestamp.parse(text) == nil)
    }

    @Test(
        "formats Odoo datetimes in UTC without fraction",
        arguments: [
            ("2019-11-05T16:33:54.9070259Z", "2019-11-05 16:33:54"),
            ("2016-04-27T16:28:50.3963933-04:00", "2016-04-27 20:28:50"),
            ("2016-12-31T23:30:00-01:00", "2017-01-01 00:30:00"),
            ("2024-03-01T01:00:00+02:00", "2024-02-29 23:00:00"),
            ("1969-12-31T23:59:59.5Z", "1969-12-31 23:59:59"),
            ("0001-01-01T00:00:00Z", "0001-01-01 00:00:00"),
            ("9999-12-31T23:59:59.9999999Z", "9999-12-31 23:59:59"),
        ]
    )
    func formatsForOdoo(text: String, expected: String) throws {
        let date = try #require(PostmarkTimestamp.parse(text))
        #expect(PostmarkTimestamp.odooString(date) == expected)
    }

    @Test func formatsAgainstFoundationAcrossYears() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        for seconds in stride(from: -2_000_000_000.0, to: 4_000_000_000.0, by: 86_399.0 * 37 + 0.25) {
            let date = Date(timeIntervalSince1970: seconds)
            let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
            let expected = String(
                format: "%04d-%02d-%02d %02d:%02d:%02d",
                parts.year!, parts.month!, parts.day!, parts.hour!, parts.minute!, parts.second!
            )
            #expect(PostmarkTimestamp.odooString(date) == expected)
            #expect(PostmarkTimestamp.parse(expected.replacingOccurrences(of: " ", with: "T")) == date.flooredToSecond)
        }
    }
}

extension Date {
    fileprivate var flooredToSecond: Date { Date(timeIntervalSince1970: timeIntervalSince1970.rounded(.down)) }
}
