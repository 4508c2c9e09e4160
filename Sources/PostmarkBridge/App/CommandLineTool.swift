import Foundation

/// The bridge's version, printed by `--version` and reported to Odoo.
public let bridgeVersion = "0.1.0"

/// A parsed command line.
public struct CommandLineArguments: Sendable, Equatable {
    /// The subcommands of `postmark-bridge`.
    public enum Command: String, Sendable, CaseIterable {
        /// Receive webhooks and forward them (the default).
        case serve
        /// Create or upgrade the inbox schema.
        case migrate
        /// Print inbox counts.
        case status
        /// Requeue parked events.
        case replay
        /// Print a connectivity and configuration report.
        case check
        /// Print usage.
        case help
        /// Print the version.
        case version
    }

    /// The subcommand.
    public var command: Command
    /// Whether `--json` was given (for `status` and `check`).
    public var json = false

    /// Why a command line could not be parsed.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        /// What to tell the user.
        public var description: String
    }

    /// Parses the arguments after the program name.
    public static func parse(_ arguments: [String]) throws(ParseError) -> CommandLineArguments {
        var parsed = CommandLineArguments(command: .serve)
        var sawCommand = false
        for argument in arguments {
            switch argument {
            case "--help", "-h", "help":
                return CommandLineArguments(command: .help)
            case "--version", "-V", "version":
                return CommandLineArguments(command: .version)
            case "--json":
                parsed.json = true
            default:
                guard !sawCommand, !argument.hasPrefix("-"), let command = Command(rawValue: argument) else {
                    throw ParseError(description: "unknown argument '\(argument)'; see postmark-bridge --help")
                }
                parsed.command = command
                sawCommand = true
            }
        }
        if parsed.json, parsed.command != .status, parsed.command != .check {
            throw ParseError(description: "--json goes with status or check")
        }
        return parsed
    }

    /// The text of `--help`.
    public static let usage = """
        postmark-bridge \(bridgeVersion): receives Postmark webhooks, keeps them in PostgreSQL, forwards them to Odoo.

        Usage: postmark-bridge [command] [--json]

        Commands:
          serve      receive webhooks and forward them to Odoo (default)
          migrate    create or upgrade the inbox schema, then exit
          status     inbox counts: events by state, pending, forwarded, parked (--json for JSON)
          replay     requeue parked events for another forwarding attempt
          check      report on the inbox, Odoo, the addon and the Postmark mail servers (--json for JSON)
          --help     this text
          --version  the version

        Configuration comes from the environment:
          BRIDGE_DATABASE_URL   libpq connection string of the inbox (required)
          ODOO_URL, ODOO_DB, ODOO_USER, ODOO_API_KEY
                                Odoo and the bridge's Odoo user; without them events wait in the inbox
          BRIDGE_LISTEN         host:port to listen on (127.0.0.1:8080)
          BRIDGE_PUBLIC_URL     base URL Postmark reaches the bridge at
          BRIDGE_SERVERS_FILE   mail server settings as code (JSON)
          POSTMARK_API_URL      Postmark API base (https://api.postmarkapp.com)
          LOG_LEVEL             trace, debug, info, notice, warning, error, critical (info)
          LOG_FORMAT            text or json (text)
        See README.md for the tuning variables.
        """
}

/// Entry point of the `postmark-bridge` executable.
public enum CommandLineTool {
    /// Runs the subcommand named in `arguments` and returns the process exit status.
    public static func main(arguments: [String]) async -> Int32 {
        let parsed: CommandLineArguments
        do {
            parsed = try CommandLineArguments.parse(arguments)
        } catch {
            printError("postmark-bridge: \(error)")
            return 64
        }

        switch parsed.command {
        case .help:
            print(CommandLineArguments.usage)
            return 0
        case .version:
            print("postmark-bridge \(bridgeVersion)")
            return 0
        default:
            break
        }

        let configuration: BridgeConfiguration
        do {
            configuration = try BridgeConfiguration.load()
        } catch {
            printError("postmark-bridge: configuration error: \(error)")
            return 78
        }
        LogSink.shared.configure(level: configuration.logLevel, format: configuration.logFormat)
        return await BridgeApp.run(parsed, configuration: configuration)
    }

    /// Writes a line to stderr.
    static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
