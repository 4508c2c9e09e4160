import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A small structured logger: constant messages, data in sorted `key=value` metadata, one line per event on stderr.
///
/// The level and format are chosen once at start-up (``LogSink/configure(level:format:)``); every logger shares
/// that sink. Child loggers carry extra metadata, such as a request id, without copying the sink.
public struct Logger: Sendable {
    /// Severity of a log event, ordered from the most verbose to the most severe.
    public enum Level: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
        /// Per-byte and per-row detail.
        case trace
        /// Per-request detail.
        case debug
        /// Lifecycle events and problems handled without throwing.
        case info
        /// Something unusual that is worth a look.
        case notice
        /// A degraded state the process continues through.
        case warning
        /// Data may be lost or an operation failed for good.
        case error
        /// The process cannot go on.
        case critical

        /// Parses a level name as `LOG_LEVEL` spells it (case-insensitive).
        public init?(name: String) {
            guard let level = Level.allCases.first(where: { $0.description == name.lowercased() }) else { return nil }
            self = level
        }

        /// The lowercase level name.
        public var description: String {
            switch self {
            case .trace: "trace"
            case .debug: "debug"
            case .info: "info"
            case .notice: "notice"
            case .warning: "warning"
            case .error: "error"
            case .critical: "critical"
            }
        }

        /// Orders levels by severity.
        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// How log lines are rendered.
    public enum Format: String, Sendable {
        /// `timestamp level label key=value … message`.
        case text
        /// One JSON object per line.
        case json
    }

    /// Metadata attached to log events: keys are dotted names, values are already rendered strings.
    public typealias Metadata = [String: String]

    /// The component that emits the events, such as `http` or `inbox`.
    public let label: String

    /// Metadata added to every event of this logger.
    public var metadata: Metadata

    /// Creates a logger writing to the shared sink.
    public init(label: String, metadata: Metadata = [:]) {
        self.label = label
        self.metadata = metadata
    }

    /// Returns a logger with the same label and extra metadata.
    public func with(_ extra: Metadata) -> Logger {
        var copy = self
        copy.metadata.merge(extra) { _, new in new }
        return copy
    }

    /// Whether events at `level` would be written.
    public func isEnabled(_ level: Level) -> Bool { level >= LogSink.shared.level }

    /// Writes an event at `level`, unless the sink's level filters it out.
    public func log(_ level: Level, _ message: StaticString, _ extra: Metadata = [:]) {
        guard isEnabled(level) else { return }
        var all = metadata
        all.merge(extra) { _, new in new }
        LogSink.shared.write(level: level, label: label, message: "\(message)", metadata: all)
    }

    /// Writes a trace event.
    public func trace(_ message: StaticString, _ extra: Metadata = [:]) { log(.trace, message, extra) }
    /// Writes a debug event.
    public func debug(_ message: StaticString, _ extra: Metadata = [:]) { log(.debug, message, extra) }
    /// Writes an info event.
    public func info(_ message: StaticString, _ extra: Metadata = [:]) { log(.info, message, extra) }
    /// Writes a notice event.
    public func notice(_ message: StaticString, _ extra: Metadata = [:]) { log(.notice, message, extra) }
    /// Writes a warning event.
    public func warning(_ message: StaticString, _ extra: Metadata = [:]) { log(.warning, message, extra) }
    /// Writes an error event.
    public func error(_ message: StaticString, _ extra: Metadata = [:]) { log(.error, message, extra) }
    /// Writes a critical event.
    public func critical(_ message: StaticString, _ extra: Metadata = [:]) { log(.critical, message, extra) }
}

/// The process-wide destination of log events. Configured once at start-up; writes whole lines to stderr.
public final class LogSink: Sendable {
    /// The sink every ``Logger`` writes to.
    public static let shared = LogSink()

    private struct Settings {
        var level: Logger.Level = .info
        var format: Logger.Format = .text
        var capture: (@Sendable (String) -> Void)?
    }

    private let settings = Mutex(Settings())
    // Read on every log call from every connection thread, so it is an atomic rather than behind the mutex.
    private let minimumLevel = Atomic<Int>(Logger.Level.info.rawValue)

    /// The lowest level written.
    public var level: Logger.Level { Logger.Level(rawValue: minimumLevel.load(ordering: .relaxed)) ?? .info }

    /// Sets the level and format; called once from configuration.
    public func configure(level: Logger.Level, format: Logger.Format) {
        settings.withLock {
            $0.level = level
            $0.format = format
        }
        minimumLevel.store(level.rawValue, ordering: .relaxed)
    }

    /// Sends rendered lines to `capture` instead of stderr (tests use it to assert what is and is not logged).
    public func capture(_ capture: (@Sendable (String) -> Void)?) {
        settings.withLock { $0.capture = capture }
    }

    func write(level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) {
        let (format, capture) = settings.withLock { ($0.format, $0.capture) }
        let line: String
        switch format {
        case .text:
            line = Self.renderText(level: level, label: label, message: message, metadata: metadata)
        case .json:
            line = Self.renderJSON(level: level, label: label, message: message, metadata: metadata)
        }

        if let capture {
            capture(line)
            return
        }
        let bytes = Array((line + "\n").utf8)
        // One write(2) per line keeps lines whole when several threads log at once.
        bytes.withUnsafeBufferPointer { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if written <= 0 { break }
                offset += written
            }
        }
    }

    static func timestamp() -> String {
        Date().formatted(.iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: true))
    }

    static func renderText(level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var line = "\(timestamp()) \(level) \(label)"
        for key in metadata.keys.sorted() {
            line += " \(key)=\(quoteIfNeeded(metadata[key]!))"
        }
        line += " \(message)"
        return line
    }

    static func renderJSON(level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var object: [String: String] = metadata
        object["ts"] = timestamp()
        object["level"] = level.description
        object["label"] = label
        object["msg"] = message
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    private static func quoteIfNeeded(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.contains { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline }
        guard needsQuotes else { return value }
        let escaped = value.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
        return "\"\(escaped)\""
    }
}
