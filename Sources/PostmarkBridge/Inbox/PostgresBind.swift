import Foundation

/// One statement parameter (`$1`, `$2`, …) in PostgreSQL's binary wire format.
///
/// Values travel apart from the SQL text, so no value is ever spliced into a statement. Arrays let one statement
/// carry a whole batch (`unnest($1::int8[])`).
public struct PostgresBind: Sendable, Equatable {
    /// The PostgreSQL type OID the value is encoded as.
    public var typeOID: UInt32
    /// The encoded value; `nil` is SQL `NULL`.
    public var bytes: [UInt8]?

    /// Creates a parameter from its type OID and binary encoding.
    public init(typeOID: UInt32, bytes: [UInt8]?) {
        self.typeOID = typeOID
        self.bytes = bytes
    }

    /// SQL `NULL` of unspecified type (the statement's context decides it).
    public static let null = PostgresBind(typeOID: 0, bytes: nil)

    /// A `bool`.
    public static func bool(_ value: Bool) -> PostgresBind {
        PostgresBind(typeOID: PostgresType.bool, bytes: [value ? 1 : 0])
    }

    /// An `int4`.
    public static func int32(_ value: Int32) -> PostgresBind {
        PostgresBind(typeOID: PostgresType.int4, bytes: bigEndianBytes(value))
    }

    /// An `int8`.
    public static func int64(_ value: Int64) -> PostgresBind {
        PostgresBind(typeOID: PostgresType.int8, bytes: bigEndianBytes(value))
    }

    /// A `float8`.
    public static func double(_ value: Double) -> PostgresBind {
        PostgresBind(typeOID: PostgresType.float8, bytes: bigEndianBytes(value.bitPattern))
    }

    /// A `text` value from a string, or `NULL`.
    public static func text(_ value: String?) -> PostgresBind {
        PostgresBind(typeOID: PostgresType.text, bytes: value.map { Array($0.utf8) })
    }

    /// A `text` value from raw UTF-8 bytes, kept exactly as given (the server rejects invalid UTF-8).
    public static func text(bytes: [UInt8]) -> PostgresBind {
        PostgresBind(typeOID: PostgresType.text, bytes: bytes)
    }

    /// A `timestamptz`, to the microsecond, or `NULL`.
    public static func timestamp(_ value: Date?) -> PostgresBind {
        PostgresBind(
            typeOID: PostgresType.timestamptz, bytes: value.map { bigEndianBytes(microseconds(since2000: $0)) })
    }

    /// An `int4[]`.
    public static func int32Array(_ values: [Int32?]) -> PostgresBind {
        array(elementOID: PostgresType.int4, arrayOID: PostgresType.int4Array, values.map { $0.map(bigEndianBytes) })
    }

    /// An `int8[]`.
    public static func int64Array(_ values: [Int64?]) -> PostgresBind {
        array(elementOID: PostgresType.int8, arrayOID: PostgresType.int8Array, values.map { $0.map(bigEndianBytes) })
    }

    /// A `text[]` from strings.
    public static func textArray(_ values: [String?]) -> PostgresBind {
        array(elementOID: PostgresType.text, arrayOID: PostgresType.textArray, values.map { $0.map { Array($0.utf8) } })
    }

    /// A `text[]` from raw UTF-8 byte strings, kept exactly as given.
    public static func textArray(bytes values: [[UInt8]?]) -> PostgresBind {
        array(elementOID: PostgresType.text, arrayOID: PostgresType.textArray, values)
    }

    /// A `timestamptz[]`.
    public static func timestampArray(_ values: [Date?]) -> PostgresBind {
        let encoded = values.map { $0.map { bigEndianBytes(microseconds(since2000: $0)) } }
        return array(elementOID: PostgresType.timestamptz, arrayOID: PostgresType.timestamptzArray, encoded)
    }

    /// Encodes a one-dimensional array: header (dimensions, has-nulls flag, element type, length, lower bound 1),
    /// then each element as a length-prefixed value, length -1 for `NULL`.
    static func array(elementOID: UInt32, arrayOID: UInt32, _ elements: [[UInt8]?]) -> PostgresBind {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(20 + elements.reduce(0) { $0 + 4 + ($1?.count ?? 0) })
        let hasNulls = elements.contains { $0 == nil }
        bytes += bigEndianBytes(Int32(1))
        bytes += bigEndianBytes(Int32(hasNulls ? 1 : 0))
        bytes += bigEndianBytes(elementOID)
        bytes += bigEndianBytes(Int32(elements.count))
        bytes += bigEndianBytes(Int32(1))
        for element in elements {
            if let element {
                bytes += bigEndianBytes(Int32(element.count))
                bytes += element
            } else {
                bytes += bigEndianBytes(Int32(-1))
            }
        }
        return PostgresBind(typeOID: arrayOID, bytes: bytes)
    }

    /// The value's bytes in network (big-endian) order, as PostgreSQL's binary format wants them.
    static func bigEndianBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    /// PostgreSQL's binary timestamps count microseconds from 2000-01-01 00:00:00 UTC.
    static func microseconds(since2000 date: Date) -> Int64 {
        Int64(((date.timeIntervalSince1970 - PostgresType.epoch2000) * 1_000_000).rounded())
    }
}

/// The type OIDs the inbox uses, from PostgreSQL's `pg_type` catalogue (stable across versions).
public enum PostgresType {
    /// `bool`.
    public static let bool: UInt32 = 16
    /// `int8`.
    public static let int8: UInt32 = 20
    /// `int2`.
    public static let int2: UInt32 = 21
    /// `int4`.
    public static let int4: UInt32 = 23
    /// `text`.
    public static let text: UInt32 = 25
    /// `float8`.
    public static let float8: UInt32 = 701
    /// `varchar`.
    public static let varchar: UInt32 = 1043
    /// `timestamptz`.
    public static let timestamptz: UInt32 = 1184
    /// `int4[]`.
    public static let int4Array: UInt32 = 1007
    /// `int8[]`.
    public static let int8Array: UInt32 = 1016
    /// `text[]`.
    public static let textArray: UInt32 = 1009
    /// `timestamptz[]`.
    public static let timestamptzArray: UInt32 = 1185
    /// Seconds from 1970-01-01 to 2000-01-01, PostgreSQL's timestamp epoch.
    static let epoch2000: Double = 946_684_800
}
