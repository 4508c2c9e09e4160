import Foundation

/// Why a call to Odoo failed, classified by what the bridge should do about it.
///
/// Messages carry Odoo's own text (shortened, on one line) but never the API key, the request or a payload.
public struct OdooError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What the caller should do with an error.
    public enum Kind: String, Sendable, CaseIterable {
        /// Odoo or the bridge is set up wrongly: retrying soon will not help, an admin must fix something.
        case configuration
        /// Odoo refuses the records of this call for good; another call without them may succeed.
        case permanent
        /// Odoo is unreachable, busy or restarting: the same call may succeed later.
        case transient
    }

    /// The precise reason, which decides the ``Kind``.
    public enum Code: String, Sendable, CaseIterable {
        /// The login, API key or database is refused (`AccessDenied`, HTTP 401).
        case accessDenied = "access denied"
        /// `common.authenticate` answered `false`: wrong login or API key.
        case loginFailed = "login failed"
        /// The bridge user lacks a group or access right (`AccessError`, HTTP 403).
        case accessError = "access error"
        /// The model or method does not exist: the addon is not installed in this database.
        case addonMissing = "addon missing"
        /// The addon is installed but does not match this bridge (unknown field, different signature).
        case addonOutdated = "addon outdated"
        /// `ODOO_DB` names no database on that server.
        case unknownDatabase = "unknown database"
        /// The URL answers, but not like Odoo (HTTP 404 on the API endpoint).
        case endpointNotFound = "endpoint not found"
        /// A constraint refused a record (`ValidationError`, a unique key).
        case validation = "validation error"
        /// A business rule refused the call (`UserError`).
        case userError = "user error"
        /// A record the call refers to does not exist (`MissingError`).
        case missingRecord = "missing record"
        /// A value Odoo cannot use (`TypeError`, `ValueError`, `KeyError`).
        case badRecord = "bad record"
        /// Odoo refused the request itself (HTTP 400, 413, 422 without a known exception).
        case badRequest = "bad request"
        /// No connection could be made, or it broke before an answer came.
        case connectionFailed = "connection failed"
        /// No answer within the call's timeout.
        case timeout
        /// Odoo or a proxy in front of it is overloaded or restarting (HTTP 429, 5xx).
        case unavailable
        /// A database concurrency failure (serialization failure, deadlock, lock timeout).
        case concurrency
        /// Odoo cannot reach its own database right now (`OperationalError`).
        case databaseUnavailable = "database unavailable"
        /// The session or registry was being reloaded (`SessionExpiredException`).
        case sessionExpired = "session expired"
        /// Any other exception raised inside Odoo.
        case serverError = "server error"
        /// An answer that is not Odoo's wire format.
        case invalidResponse = "invalid response"

        /// What the caller should do with an error of this code.
        public var kind: Kind {
            switch self {
            case .accessDenied, .loginFailed, .accessError, .addonMissing, .addonOutdated, .unknownDatabase,
                .endpointNotFound:
                .configuration
            case .validation, .userError, .missingRecord, .badRecord, .badRequest:
                .permanent
            case .connectionFailed, .timeout, .unavailable, .concurrency, .databaseUnavailable, .sessionExpired,
                .serverError, .invalidResponse:
                .transient
            }
        }

        /// What an admin should change, for configuration errors.
        public var remedy: String? {
            switch self {
            case .accessDenied, .loginFailed:
                "check ODOO_DB, ODOO_USER and ODOO_API_KEY (an API key of the bridge user, scope RPC)"
            case .accessError:
                "add the bridge user to the group \(BridgeContract.bridgeGroup)"
            case .addonMissing:
                "install the \(BridgeContract.addonName) addon in the database named by ODOO_DB"
            case .addonOutdated:
                "upgrade the \(BridgeContract.addonName) addon to the version shipped with this bridge"
            case .unknownDatabase:
                "check ODOO_DB: the Odoo server has no database of that name"
            case .endpointNotFound:
                "check ODOO_URL: it should be Odoo's base URL, such as https://odoo.example.com"
            default:
                nil
            }
        }
    }

    /// The precise reason.
    public var code: Code
    /// The exception class Odoo named (`data.name`), such as `odoo.exceptions.ValidationError`.
    public var odooName: String?
    /// Odoo's message or ours, on one line, at most ``maximumMessageLength`` characters.
    public var message: String
    /// The HTTP status, when the answer was not a plain 200.
    public var httpStatus: Int?

    /// The longest message kept; Odoo's messages can hold whole tracebacks.
    public static let maximumMessageLength = 300

    /// Creates an error; `message` is put on one line and shortened.
    public init(code: Code, message: String, odooName: String? = nil, httpStatus: Int? = nil) {
        self.code = code
        self.message = Self.oneLine(message)
        self.odooName = odooName
        self.httpStatus = httpStatus
    }

    /// What the caller should do with this error.
    public var kind: Kind { code.kind }

    /// Whether the records sent caused the error, so that sending fewer of them may succeed.
    ///
    /// True for permanent errors and for unclassified exceptions inside Odoo, which a single bad record can raise.
    public var mayBeCausedByRecords: Bool { kind == .permanent || code == .serverError }

    /// A line for logs, parking reasons and `status`: kind, code, Odoo's exception name and message, and the fix.
    public var description: String {
        var text = "\(kind.rawValue) Odoo error (\(code.rawValue))"
        if let httpStatus { text += " HTTP \(httpStatus)" }
        if let odooName { text += " \(odooName)" }
        if !message.isEmpty { text += ": \(message)" }
        if let remedy = code.remedy { text += "; fix: \(remedy)" }
        return text
    }

    /// Returns the error with every occurrence of `secret` in its message masked.
    func redacting(_ secret: String) -> OdooError {
        guard secret.count >= 4, message.contains(secret) else { return self }
        var copy = self
        copy.message = message.replacingOccurrences(of: secret, with: "***")
        return copy
    }

    /// `text` on one line, blank lines dropped, shortened to ``maximumMessageLength`` characters.
    static func oneLine(_ text: String) -> String {
        let flattened = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " ")
        guard flattened.count > maximumMessageLength else { return flattened }
        return String(flattened.prefix(maximumMessageLength - 1)) + "…"
    }
}

/// Maps Odoo's exception names, messages and HTTP statuses to an ``OdooError/Code``: the table the dispatcher's
/// retry, split and park decisions rest on.
public enum OdooErrorClassifier {
    /// Classifies an exception Odoo reported, by its class name first and the HTTP status second.
    ///
    /// - Parameters:
    ///   - name: `error.data.name` (JSON-RPC) or `name` (JSON-2), such as `odoo.exceptions.AccessDenied`.
    ///   - message: Odoo's message, used to tell an uninstalled addon from a record error.
    ///   - httpStatus: the HTTP status (JSON-2 reports errors by status), `nil` for JSON-RPC's HTTP 200.
    public static func classify(name: String?, message: String, httpStatus: Int?) -> OdooError.Code {
        let className = name.map { String($0.split(separator: ".").last ?? Substring($0)) } ?? ""

        switch className {
        case "AccessDenied", "Unauthorized":
            return .accessDenied
        case "AccessError", "Forbidden":
            return .accessError
        case "ValidationError", "IntegrityError", "UniqueViolation", "CheckViolation", "NotNullViolation":
            return isSignatureOrFieldMismatch(message) ? .addonOutdated : .validation
        case "MissingError":
            return .missingRecord
        case "UserError", "RedirectWarning":
            return isUnknownModel(message) ? .addonMissing : .userError
        case "AttributeError":
            return isUnknownMethod(message) ? .addonMissing : .serverError
        case "TypeError", "ValueError", "KeyError", "CacheMiss":
            return isSignatureOrFieldMismatch(message) ? .addonOutdated : .badRecord
        case "SerializationFailure", "DeadlockDetected", "LockNotAvailable", "TransactionRollbackError",
            "ConcurrencyError", "LockError", "QueryCanceled":
            return .concurrency
        case "OperationalError", "InterfaceError", "PoolError":
            return isUnknownDatabase(message) ? .unknownDatabase : .databaseUnavailable
        case "SessionExpiredException":
            return .sessionExpired
        case "ServiceUnavailable", "BadGateway", "GatewayTimeout", "TooManyRequests":
            return .unavailable
        case "NotFound":
            return .addonMissing
        case "BadRequest", "UnprocessableEntity", "RequestEntityTooLarge":
            return isSignatureOrFieldMismatch(message) ? .addonOutdated : .badRequest
        default:
            break
        }

        if className.isEmpty || className == "Exception" || className == "InternalServerError",
            let httpStatus, httpStatus != 500
        {
            return classify(httpStatus: httpStatus, fromOdoo: true)
        }
        return .serverError
    }

    /// Classifies an HTTP status that came without an Odoo exception (from Odoo's routing or a proxy in front).
    ///
    /// - Parameter fromOdoo: whether Odoo's JSON-2 dispatcher produced the status, so a 404 means an unknown model
    ///   or method rather than a wrong URL.
    public static func classify(httpStatus: Int, fromOdoo: Bool) -> OdooError.Code {
        switch httpStatus {
        case 401: .accessDenied
        case 403: .accessError
        case 404: fromOdoo ? .addonMissing : .endpointNotFound
        case 409: .concurrency
        case 400, 413, 422: .badRequest
        case 408: .timeout
        case 429, 500...599: .unavailable
        default: .invalidResponse
        }
    }

    private static func isUnknownModel(_ message: String) -> Bool {
        message.hasPrefix("Object ") && message.contains("doesn't exist")
    }

    private static func isUnknownMethod(_ message: String) -> Bool {
        message.contains("does not exist on the model")
    }

    /// Whether the bridge and the addon disagree on names: the same refusal would hit every event, so it is the
    /// admin's to fix, not a reason to park events. The addon's own wording for a field outside the contract counts.
    private static func isSignatureOrFieldMismatch(_ message: String) -> Bool {
        message.contains("unexpected keyword argument") || message.contains("required positional argument")
            || message.hasPrefix("Invalid field") || message.hasPrefix("Fields not accepted from the bridge")
            || message.hasPrefix("Fields the bridge may not write")
    }

    private static func isUnknownDatabase(_ message: String) -> Bool {
        message.contains("database \"") && message.contains("does not exist")
    }
}
