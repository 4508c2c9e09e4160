import Foundation

/// Postmark's ISO 8601 timestamps, and Odoo's `Datetime` text.
///
/// Postmark writes .NET timestamps: `2019-11-05T16:33:54.9070259Z`, `2016-04-27T16:28:50.3963933-04:00`,
/// `2016-12-01T15:41:45-05:00`. The parser is written by hand because `ISO8601DateFormatter` rejects seven
/// fractional digits and offsets without a colon.
public enum PostmarkTimestamp {
    /// The most fractional digits accepted; Postmark sends at most 7, nanoseconds need 9.
    public static let maximumFractionDigits = 9

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction][Z|±hh:mm|±hhmm|±hh]`.
    ///
    /// A missing zone means UTC. The separator may be `T`, `t` or a space. Fractions keep what `Date` can hold
    /// (about a tenth of a microsecond today). Out-of-range fields (month 13, February 30, hour 24, offset over
    /// 18 hours) and anything after the zone make the text invalid.
    /// - Returns: the instant, or `nil` when the text is not such a timestamp.
    public static func parse(_ text: String) -> Date? {
        var scanner = Scanner(Array(text.utf8))

        guard let year = scanner.digits(4), scanner.skip("-"),
            let month = scanner.digits(2), scanner.skip("-"),
            let day = scanner.digits(2)
        else { return nil }
        guard scanner.skip("T") || scanner.skip("t") || scanner.skip(" ") else { return nil }
        guard let hour = scanner.digits(2), scanner.skip(":"),
            let minute = scanner.digits(2), scanner.skip(":"),
            let second = scanner.digits(2)
        else { return nil }
        guard (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
            (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second)
        else { return nil }

        var fraction = 0.0
        if scanner.skip(".") {
            guard let value = scanner.fraction(maximumDigits: maximumFractionDigits) else { return nil }
            fraction = value
        }

        guard let offsetSeconds = scanner.zoneOffset(), scanner.isAtEnd else { return nil }

        let days = daysSinceEpoch(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offsetSeconds
        // Far from 1970 a Double cannot hold seven digits; never let rounding carry into the next second.
        let instant = Double(seconds) + fraction
        return Date(timeIntervalSince1970: instant < Double(seconds + 1) ? instant : Double(seconds + 1).nextDown)
    }

    /// Formats `date` as Odoo's `Datetime` text, `YYYY-MM-DD HH:MM:SS` in UTC, dropping the fraction.
    public static func odooString(_ date: Date) -> String {
        let total = Int(date.timeIntervalSince1970.rounded(.down))
        let days = total >= 0 ? total / 86_400 : (total - 86_399) / 86_400
        let secondsOfDay = total - days * 86_400
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2)) "
            + "\(pad(secondsOfDay / 3_600, 2)):\(pad(secondsOfDay % 3_600 / 60, 2)):\(pad(secondsOfDay % 60, 2))"
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }

    private static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    // Howard Hinnant's days_from_civil / civil_from_days: exact proleptic Gregorian arithmetic, no calendar object.
    private static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func civilDate(daysSinceEpoch days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

/// A cursor over the ASCII bytes of a timestamp.
private struct Scanner {
    let bytes: [UInt8]
    var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { index == bytes.count }

    mutating func skip(_ character: Unicode.Scalar) -> Bool {
        guard index < bytes.count, bytes[index] == UInt8(ascii: character) else { return false }
        index += 1
        return true
    }

    mutating func digits(_ count: Int) -> Int? {
        guard index + count <= bytes.count else { return nil }
        var value = 0
        for byte in bytes[index..<index + count] {
            guard let digit = Self.digit(byte) else { return nil }
            value = value * 10 + digit
        }
        index += count
        return value
    }

    mutating func fraction(maximumDigits: Int) -> Double? {
        var numerator = 0
        var denominator = 1
        while index < bytes.count, let digit = Self.digit(bytes[index]) {
            guard denominator < Self.powerOfTen(maximumDigits) else { return nil }
            numerator = numerator * 10 + digit
            denominator *= 10
            index += 1
        }
        guard denominator > 1 else { return nil }
        return Double(numerator) / Double(denominator)
    }

    /// The zone's offset east of UTC in seconds: 0 for `Z` or no zone, `nil` when malformed.
    mutating func zoneOffset() -> Int? {
        if isAtEnd || skip("Z") || skip("z") { return 0 }
        let sign: Int
        if skip("+") {
            sign = 1
        } else if skip("-") {
            sign = -1
        } else {
            return nil
        }
        guard let hours = digits(2) else { return nil }
        var minutes = 0
        if !isAtEnd {
            _ = skip(":")
            guard let value = digits(2) else { return nil }
            minutes = value
        }
        guard hours <= 18, minutes <= 59 else { return nil }
        return sign * (hours * 3_600 + minutes * 60)
    }

    static func digit(_ byte: UInt8) -> Int? {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? Int(byte - UInt8(ascii: "0")) : nil
    }

    static func powerOfTen(_ exponent: Int) -> Int { (0..<exponent).reduce(1) { result, _ in result * 10 } }
}
