import Foundation

/// Odoo's two external API wire formats: encoding requests and decoding answers into values or ``OdooError``s.
///
/// Pure functions, so every error shape Odoo produces can be tested without a server.
public enum OdooWire {
    /// The body of a `/jsonrpc` call of `service.method(args)`.
    public static func jsonRPCRequest(service: String, method: String, args: [JSONValue], id: Int64) -> [UInt8] {
        let envelope: JSONValue = [
            "jsonrpc": "2.0",
            "method": "call",
            "id": .int(id),
            "params": ["service": .string(service), "method": .string(method), "args": .array(args)],
        ]
        return envelope.serializedBytes()
    }

    /// Decodes a `/jsonrpc` answer: the `result` (`null` when Odoo omitted it because the method returned None), or
    /// the error Odoo put in the `error` member of its HTTP 200 answer.
    public static func decodeJSONRPCResponse(status: Int, body: [UInt8]) throws(OdooError) -> JSONValue {
        let document = try? JSONValue.parse(body)

        if let error = document?["error"], error.objectValue != nil {
            throw jsonRPCError(error, httpStatus: status == 200 ? nil : status)
        }
        guard status == 200 else {
            let code = OdooErrorClassifier.classify(httpStatus: status, fromOdoo: false)
            throw OdooError(code: code, message: "Odoo answered HTTP \(status)", httpStatus: status)
        }
        guard let document, document.objectValue != nil else {
            throw OdooError(code: .invalidResponse, message: "the answer to /jsonrpc is not a JSON-RPC object")
        }
        return document["result"] ?? .null
    }

    /// Decodes a JSON-2 (`/json/2/<model>/<method>`) answer: the raw return value on HTTP 200, else the error Odoo
    /// describes in its `{name, message, …}` body, classified by name and status.
    public static func decodeJSON2Response(status: Int, body: [UInt8]) throws(OdooError) -> JSONValue {
        let document = try? JSONValue.parse(body)

        if status == 200 {
            if body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return .null }
            guard let document else {
                throw OdooError(code: .invalidResponse, message: "the answer to a JSON-2 call is not JSON")
            }
            return document
        }
        if let name = document?["name"]?.stringValue {
            let message = document?["message"]?.stringValue ?? ""
            let code = OdooErrorClassifier.classify(name: name, message: message, httpStatus: status)
            throw OdooError(code: code, message: message, odooName: name, httpStatus: status)
        }
        let code = OdooErrorClassifier.classify(httpStatus: status, fromOdoo: false)
        throw OdooError(code: code, message: "Odoo answered HTTP \(status)", httpStatus: status)
    }

    /// The error object of a JSON-RPC answer: `{code, message, data: {name, message, arguments, debug}}`.
    static func jsonRPCError(_ error: JSONValue, httpStatus: Int?) -> OdooError {
        let rpcCode = error["code"]?.intValue
        let data = error["data"]
        let name = data?["name"]?.stringValue
        let message = data?["message"]?.stringValue ?? error["message"]?.stringValue ?? ""

        if rpcCode == 100 {
            return OdooError(code: .sessionExpired, message: message, odooName: name, httpStatus: httpStatus)
        }
        if rpcCode == 404, name == nil {
            return OdooError(code: .endpointNotFound, message: message, httpStatus: httpStatus)
        }
        let code = OdooErrorClassifier.classify(name: name, message: message, httpStatus: httpStatus)
        return OdooError(code: code, message: message, odooName: name, httpStatus: httpStatus)
    }
}

/// Odoo's datetime text, `YYYY-MM-DD HH:MM:SS` in UTC.
public enum OdooDateTime {
    /// Formats `date` as Odoo stores datetimes (UTC, whole seconds).
    public static func string(from date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(
            format: "%04d-%02d-%02d %02d:%02d:%02d",
            parts.year ?? 0, parts.month ?? 0, parts.day ?? 0, parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0
        )
    }

    /// Parses an Odoo datetime (`YYYY-MM-DD HH:MM:SS`, optionally with fractional seconds) or date (`YYYY-MM-DD`).
    public static func date(from text: String) -> Date? {
        let fields = text.split(whereSeparator: { $0 == "-" || $0 == " " || $0 == ":" || $0 == "T" })
        guard fields.count == 3 || fields.count == 6 else { return nil }
        var numbers: [Int] = []
        for (index, field) in fields.enumerated() {
            let whole = index == 5 ? field.split(separator: ".").first ?? field : field
            guard let number = Int(whole) else { return nil }
            numbers.append(number)
        }
        while numbers.count < 6 { numbers.append(0) }

        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let components = DateComponents(
            year: numbers[0], month: numbers[1], day: numbers[2], hour: numbers[3], minute: numbers[4],
            second: numbers[5]
        )
        guard components.isValidDate(in: calendar) else { return nil }
        return calendar.date(from: components)
    }
}

extension JSONValue {
    /// A string field's value; `nil` for Odoo's `false` (empty) and for `null`.
    public var odooString: String? {
        guard case .string(let value) = self else { return nil }
        return value
    }

    /// A non-empty string field's value; `nil` for `false`, `null` and `""`.
    public var odooNonEmptyString: String? {
        guard let value = odooString, !value.isEmpty else { return nil }
        return value
    }

    /// A boolean field's value; Odoo's `false` and a missing value both read as `false`.
    public var odooBool: Bool { boolValue ?? false }

    /// An integer field's value, or a many2one's id from `[id, "name"]`; `nil` for `false`.
    public var odooID: Int? {
        if let value = intValue { return Int(exactly: value) }
        if let first = arrayValue?.first?.intValue { return Int(exactly: first) }
        return nil
    }

    /// A datetime field's value; `nil` for `false` or unparsable text.
    public var odooDate: Date? { odooString.flatMap(OdooDateTime.date(from:)) }
}
