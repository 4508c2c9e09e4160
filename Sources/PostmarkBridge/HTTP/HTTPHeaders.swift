/// The header fields of a request, in arrival order, looked up by name without regard to case.
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral {
    /// One header field as received: the name keeps its original spelling, the value is trimmed of surrounding
    /// whitespace.
    public struct Field: Sendable, Equatable {
        /// The name as the client spelled it.
        public let name: String
        /// The value without leading or trailing spaces and tabs.
        public let value: String
        /// The name in ASCII lowercase, used for lookups.
        let lowercasedName: String
    }

    private var fields: [Field]

    /// Creates an empty set of headers.
    public init() {
        fields = []
    }

    /// Creates headers from `(name, value)` pairs, in order.
    public init(_ pairs: [(String, String)]) {
        fields = pairs.map { Field(name: $0.0, value: $0.1, lowercasedName: Self.lowercase($0.0)) }
    }

    /// Creates headers from a dictionary literal, in the literal's order.
    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    /// The number of fields, counting repeated names separately.
    public var count: Int { fields.count }

    /// The value of the first field called `name` (case-insensitive), or `nil`.
    public subscript(name: String) -> String? {
        let wanted = Self.lowercase(name)
        return fields.first { $0.lowercasedName == wanted }?.value
    }

    /// The values of every field called `name` (case-insensitive), in order.
    public func values(for name: String) -> [String] {
        let wanted = Self.lowercase(name)
        return fields.filter { $0.lowercasedName == wanted }.map(\.value)
    }

    /// Whether a comma-separated field called `name` lists `token` (both compared case-insensitively), as
    /// `Connection: keep-alive, Upgrade` lists `keep-alive`.
    public func contains(token: String, in name: String) -> Bool {
        let wanted = Self.lowercase(token)
        return values(for: name).contains { value in
            value.split(separator: ",").contains { Self.lowercase(String($0)).trimmingSpaces() == wanted }
        }
    }

    /// Appends a field, keeping any earlier field of the same name.
    public mutating func add(name: String, value: String) {
        fields.append(Field(name: name, value: value, lowercasedName: Self.lowercase(name)))
    }

    /// Appends a field the parser already validated and lowercased.
    mutating func append(_ field: Field) {
        fields.append(field)
    }

    /// Iterates over the fields in arrival order.
    public func makeIterator() -> IndexingIterator<[Field]> {
        fields.makeIterator()
    }

    /// `name` in ASCII lowercase.
    static func lowercase(_ name: String) -> String {
        // Header names are ASCII tokens; avoiding Unicode case mapping keeps lookups cheap and locale-free.
        var utf8 = Array(name.utf8)
        var changed = false
        for index in utf8.indices where utf8[index] >= UInt8(ascii: "A") && utf8[index] <= UInt8(ascii: "Z") {
            utf8[index] += 32
            changed = true
        }
        return changed ? String(decoding: utf8, as: UTF8.self) : name
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs (HTTP's optional whitespace).
    func trimmingSpaces() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
