import Foundation

/// The rows a statement returned, copied out of libpq, in binary format.
public struct PostgresResult: Sendable {
    /// One result column: its name and type OID.
    public struct Column: Sendable, Equatable {
        /// The column name as the statement labelled it.
        public var name: String
        /// The PostgreSQL type OID of its values.
        public var typeOID: UInt32
    }

    /// The result's columns, in order.
    public var columns: [Column]
    /// The rows, in the order PostgreSQL sent them.
    public var rows: [PostgresRow]
    /// How many rows an `INSERT`, `UPDATE` or `DELETE` touched (0 for other statements).
    public var affectedRows: Int
}

/// One result row; cells are decoded on access by the column's type.
public struct PostgresRow: Sendable {
    /// The result's columns (shared by every row of one result).
    public let columns: [PostgresResult.Column]
    /// Each cell's binary value; `nil` is SQL `NULL`.
    public let cells: [[UInt8]?]

    /// Whether the cell at `index` is SQL `NULL`.
    public func isNull(_ index: Int) -> Bool { cells[index] == nil }

    /// The cell as an integer (`int2`, `int4` or `int8`), or `nil` when `NULL`.
    public func int64(_ index: Int) throws(InboxError) -> Int64? {
        guard let bytes = cells[index] else { return nil }
        switch (columns[index].typeOID, bytes.count) {
        case (PostgresType.int8, 8): return Int64(bigEndian: Self.load(bytes, as: Int64.self))
        case (PostgresType.int4, 4): return Int64(Int32(bigEndian: Self.load(bytes, as: Int32.self)))
        case (PostgresType.int2, 2): return Int64(Int16(bigEndian: Self.load(bytes, as: Int16.self)))
        default: throw mismatch(index, expected: "integer")
        }
    }

    /// The cell as an `Int`, or `nil` when `NULL`.
    public func int(_ index: Int) throws(InboxError) -> Int? {
        try int64(index).map { Int($0) }
    }

    /// The cell as a `float8`, or `nil` when `NULL`.
    public func double(_ index: Int) throws(InboxError) -> Double? {
        guard let bytes = cells[index] else { return nil }
        guard columns[index].typeOID == PostgresType.float8, bytes.count == 8 else {
            throw mismatch(index, expected: "float8")
        }
        return Double(bitPattern: UInt64(bigEndian: Self.load(bytes, as: UInt64.self)))
    }

    /// The cell as a `bool`, or `nil` when `NULL`.
    public func bool(_ index: Int) throws(InboxError) -> Bool? {
        guard let bytes = cells[index] else { return nil }
        guard columns[index].typeOID == PostgresType.bool, bytes.count == 1 else {
            throw mismatch(index, expected: "bool")
        }
        return bytes[0] != 0
    }

    /// The cell's raw bytes (for `text` columns: the exact UTF-8 bytes stored), or `nil` when `NULL`.
    public func bytes(_ index: Int) -> [UInt8]? { cells[index] }

    /// The cell as a string (`text`, `varchar` and other textual types), or `nil` when `NULL`.
    public func string(_ index: Int) throws(InboxError) -> String? {
        guard let bytes = cells[index] else { return nil }
        switch columns[index].typeOID {
        case PostgresType.text, PostgresType.varchar, 18, 19, 1042, 114, 3802:
            // jsonb's binary form is a version byte followed by the text.
            if columns[index].typeOID == 3802, bytes.first == 1 {
                return String(decoding: bytes.dropFirst(), as: UTF8.self)
            }
            return String(decoding: bytes, as: UTF8.self)
        default:
            throw mismatch(index, expected: "text")
        }
    }

    /// The cell as a `timestamptz`, or `nil` when `NULL`.
    public func date(_ index: Int) throws(InboxError) -> Date? {
        guard let bytes = cells[index] else { return nil }
        guard columns[index].typeOID == PostgresType.timestamptz, bytes.count == 8 else {
            throw mismatch(index, expected: "timestamptz")
        }
        let microseconds = Int64(bigEndian: Self.load(bytes, as: Int64.self))
        return Date(timeIntervalSince1970: PostgresType.epoch2000 + Double(microseconds) / 1_000_000)
    }

    private func mismatch(_ index: Int, expected: String) -> InboxError {
        InboxError(
            .unexpectedResult,
            detail: "column \(columns[index].name) has type \(columns[index].typeOID), expected \(expected)"
        )
    }

    private static func load<T: FixedWidthInteger>(_ bytes: [UInt8], as type: T.Type) -> T {
        bytes.withUnsafeBytes { $0.loadUnaligned(as: T.self) }
    }
}
