import Foundation
import Testing

@testable import PostmarkBridge

/// Odoo's wire formats and the error classification table, without a server.
@Suite struct OdooWireTests {
    private func rpcError(code: Int64 = 200, name: String, message: String) -> [UInt8] {
        let body: JSONValue = [
            "jsonrpc": "2.0", "id": 3,
            "error": [
                "code": .int(code), "message": "Odoo Server Error",
                "data": [
                    "name": .string(name), "debug": "Traceback (most recent call last): secret stays out",
                    "message": .string(message), "arguments": [.string(message)], "context": [:],
                ],
            ],
        ]
        return body.serializedBytes()
    }

    @Test func jsonRPCRequestIsAnEnvelopeWithParamsObject() throws {
        let bytes = OdooWire.jsonRPCRequest(service: "common", method: "version", args: [], id: 9)
        let document = try JSONValue.parse(bytes)
        #expect(document["jsonrpc"] == "2.0")
        #expect(document["id"] == 9)
        #expect(document["params"] == ["service": "common", "method": "version", "args": []])
    }

    @Test func missingResultReadsAsNull() throws {
        let result = try OdooWire.decodeJSONRPCResponse(status: 200, body: Array(#"{"jsonrpc":"2.0","id":1}"#.utf8))
        #expect(result == .null)
    }

    @Test func resultKeepsOdooFalseAndMany2one() throws {
        let body = #"{"jsonrpc":"2.0","id":1,"result":[{"id":4,"name":false,"mail_server_id":[2,"Postmark"]}]}"#
        let result = try OdooWire.decodeJSONRPCResponse(status: 200, body: Array(body.utf8))
        let record = try #require(result.arrayValue?.first)
        #expect(record["name"]?.odooString == nil)
        #expect(record["name"]?.odooBool == false)
        #expect(record["mail_server_id"]?.odooID == 2)
        #expect(record["id"]?.odooID == 4)
    }

    @Test(
        "JSON-RPC exceptions are classified by data.name, in Odoo 18 (code 200) and 19 (code 0)",
        arguments: [
            ("odoo.exceptions.AccessDenied", "Access Denied", OdooError.Code.accessDenied),
            ("odoo.exceptions.AccessError", "You are not allowed to create 'Postmark Notification'", .accessError),
            ("odoo.exceptions.ValidationError", "The operation cannot be completed: duplicate key", .validation),
            ("odoo.exceptions.ValidationError", "Fields not accepted from the bridge: geo_city", .addonOutdated),
            ("odoo.exceptions.ValidationError", "Fields the bridge may not write: name", .addonOutdated),
            ("odoo.exceptions.UserError", "The mail server is archived", .userError),
            ("odoo.exceptions.UserError", "Object postmark.notification doesn't exist", .addonMissing),
            ("odoo.exceptions.MissingError", "Record does not exist or has been deleted.", .missingRecord),
            (
                "builtins.AttributeError",
                "The method 'bridge_ingest' does not exist on the model 'postmark.notification'",
                .addonMissing
            ),
            ("builtins.AttributeError", "'NoneType' object has no attribute 'id'", .serverError),
            ("builtins.AttributeError", "'bool' object is not callable", .serverError),
            ("builtins.TypeError", "unhashable type: 'list'", .badRecord),
            ("builtins.TypeError", "bridge_ingest() got an unexpected keyword argument 'vals_list'", .addonOutdated),
            ("builtins.ValueError", "Wrong value for postmark.notification.state: 'x'", .badRecord),
            ("builtins.ValueError", "Invalid field 'geo_city' on model 'postmark.notification'", .addonOutdated),
            ("builtins.KeyError", "'record_type'", .badRecord),
            (
                "psycopg2.errors.SerializationFailure", "could not serialize access due to concurrent update",
                .concurrency
            ),
            ("psycopg2.errors.DeadlockDetected", "deadlock detected", .concurrency),
            ("psycopg2.errors.LockNotAvailable", "could not obtain lock on row", .concurrency),
            ("psycopg2.OperationalError", "server closed the connection unexpectedly", .databaseUnavailable),
            ("psycopg2.OperationalError", "FATAL:  database \"odo\" does not exist", .unknownDatabase),
            ("psycopg2.pool.PoolError", "The Connection Pool Is Full", .databaseUnavailable),
            ("builtins.ZeroDivisionError", "division by zero", .serverError),
        ]
    )
    func classifiesJSONRPCExceptions(name: String, message: String, expected: OdooError.Code) {
        for code: Int64 in [200, 0] {
            #expect(throws: OdooError.self) {
                try OdooWire.decodeJSONRPCResponse(
                    status: 200, body: rpcError(code: code, name: name, message: message))
            }
            do {
                _ = try OdooWire.decodeJSONRPCResponse(
                    status: 200, body: rpcError(code: code, name: name, message: message))
            } catch {
                #expect(error.code == expected)
                #expect(error.odooName == name)
                #expect(!error.description.contains("Traceback"))
            }
        }
    }

    @Test(
        "kinds follow codes",
        arguments: [
            (OdooError.Code.accessDenied, OdooError.Kind.configuration), (.loginFailed, .configuration),
            (.accessError, .configuration), (.addonMissing, .configuration), (.addonOutdated, .configuration),
            (.unknownDatabase, .configuration), (.endpointNotFound, .configuration), (.validation, .permanent),
            (.userError, .permanent), (.missingRecord, .permanent), (.badRecord, .permanent), (.badRequest, .permanent),
            (.connectionFailed, .transient), (.timeout, .transient), (.unavailable, .transient),
            (.concurrency, .transient), (.databaseUnavailable, .transient), (.sessionExpired, .transient),
            (.serverError, .transient), (.invalidResponse, .transient),
        ]
    )
    func kindOfCode(code: OdooError.Code, kind: OdooError.Kind) {
        #expect(code.kind == kind)
        #expect((code.remedy != nil) == (kind == .configuration))
    }

    @Test func sessionExpiredIsTransient() throws {
        let body =
            #"{"jsonrpc":"2.0","id":1,"error":{"code":100,"message":"Odoo Session Expired","#
            + #""data":{"name":"odoo.http.SessionExpiredException","message":"Session expired"}}}"#
        let error = try #require(throws: OdooError.self) {
            try OdooWire.decodeJSONRPCResponse(status: 200, body: Array(body.utf8))
        }
        #expect(error.code == .sessionExpired)
        #expect(error.kind == .transient)
    }

    @Test(
        "HTTP statuses of /jsonrpc without an Odoo body",
        arguments: [
            (502, OdooError.Code.unavailable), (503, .unavailable), (504, .unavailable), (500, .unavailable),
            (429, .unavailable), (404, .endpointNotFound), (400, .badRequest), (413, .badRequest),
            (301, .invalidResponse),
        ]
    )
    func classifiesJSONRPCStatuses(status: Int, expected: OdooError.Code) throws {
        let error = try #require(throws: OdooError.self) {
            try OdooWire.decodeJSONRPCResponse(status: status, body: Array("<html>Bad Gateway</html>".utf8))
        }
        #expect(error.code == expected)
        #expect(error.httpStatus == status)
    }

    @Test func nonJSONAnswerIsInvalid() throws {
        let error = try #require(throws: OdooError.self) {
            try OdooWire.decodeJSONRPCResponse(status: 200, body: Array("<html>Login</html>".utf8))
        }
        #expect(error.code == .invalidResponse)
    }

    @Test func json2SuccessIsTheRawValue() throws {
        #expect(try OdooWire.decodeJSON2Response(status: 200, body: Array(#"{"k-1":5}"#.utf8)) == ["k-1": 5])
        #expect(try OdooWire.decodeJSON2Response(status: 200, body: Array("null".utf8)) == .null)
        #expect(try OdooWire.decodeJSON2Response(status: 200, body: []) == .null)
    }

    @Test(
        "JSON-2 errors are classified by name and status",
        arguments: [
            (401, "werkzeug.exceptions.Unauthorized", "Invalid apikey", OdooError.Code.accessDenied),
            (403, "odoo.exceptions.AccessError", "Private methods cannot be called remotely.", .accessError),
            (404, "werkzeug.exceptions.NotFound", "Did you mean POST /json/2/<model>/<method>?", .addonMissing),
            (404, "odoo.exceptions.MissingError", "Record does not exist or has been deleted.", .missingRecord),
            (409, "odoo.exceptions.LockError", "Cannot lock the record", .concurrency),
            (422, "odoo.exceptions.ValidationError", "dedupe key must be unique", .validation),
            (422, "odoo.exceptions.UserError", "No such server", .userError),
            (
                422, "werkzeug.exceptions.UnprocessableEntity",
                "bridge_ingest() got an unexpected keyword argument 'x'", .addonOutdated
            ),
            (422, "werkzeug.exceptions.UnprocessableEntity", "cannot call @api.model with ids", .badRequest),
            (400, "werkzeug.exceptions.BadRequest", "Invalid JSON data", .badRequest),
            (500, "psycopg2.errors.SerializationFailure", "could not serialize access", .concurrency),
            (500, "builtins.RuntimeError", "boom", .serverError),
            (503, "werkzeug.exceptions.ServiceUnavailable", "Service Unavailable", .unavailable),
        ]
    )
    func classifiesJSON2Errors(status: Int, name: String, message: String, expected: OdooError.Code) throws {
        let body: JSONValue = [
            "name": .string(name), "message": .string(message), "arguments": [], "context": [:], "debug": "tb",
        ]
        let error = try #require(throws: OdooError.self) {
            try OdooWire.decodeJSON2Response(status: status, body: body.serializedBytes())
        }
        #expect(error.code == expected)
        #expect(error.httpStatus == status)
    }

    @Test func json2ProxyErrorsAreTransient() throws {
        let error = try #require(throws: OdooError.self) {
            try OdooWire.decodeJSON2Response(status: 502, body: Array("<html>502 Bad Gateway</html>".utf8))
        }
        #expect(error.code == .unavailable)
        #expect(error.kind == .transient)
    }

    @Test func messagesAreOneShortLineWithoutTheKey() {
        let long = "line one\n\n  line two " + String(repeating: "x", count: 1000)
        let error = OdooError(code: .validation, message: long)
        #expect(!error.message.contains("\n"))
        #expect(error.message.hasPrefix("line one line two"))
        #expect(error.message.count == OdooError.maximumMessageLength)

        let leaked = OdooError(code: .accessDenied, message: "key sk-12345678 refused").redacting("sk-12345678")
        #expect(leaked.message == "key *** refused")
        #expect(leaked.description.contains("fix: check ODOO_DB, ODOO_USER and ODOO_API_KEY"))
    }

    @Test func mayBeCausedByRecordsOnlyForRecordErrors() {
        #expect(OdooError(code: .validation, message: "").mayBeCausedByRecords)
        #expect(OdooError(code: .serverError, message: "").mayBeCausedByRecords)
        #expect(!OdooError(code: .timeout, message: "").mayBeCausedByRecords)
        #expect(!OdooError(code: .accessError, message: "").mayBeCausedByRecords)
    }

    @Test func datetimesRoundTripInUTC() throws {
        let date = try #require(OdooDateTime.date(from: "2026-03-04 05:06:07"))
        #expect(date.timeIntervalSince1970 == 1_772_600_767)
        #expect(OdooDateTime.string(from: date) == "2026-03-04 05:06:07")
        #expect(OdooDateTime.date(from: "2026-03-04 05:06:07.123456") == date)
        #expect(OdooDateTime.date(from: "2026-03-04")?.timeIntervalSince1970 == 1_772_582_400)
        #expect(OdooDateTime.date(from: "2026-13-04 05:06:07") == nil)
        #expect(JSONValue.bool(false).odooDate == nil)
    }
}
