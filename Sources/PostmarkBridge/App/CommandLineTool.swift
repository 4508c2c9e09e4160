import Foundation

/// Entry point of the `postmark-bridge` executable.
public enum CommandLineTool {
    /// Runs the subcommand named in `arguments` and returns the process exit status.
    public static func main(arguments: [String]) async -> Int32 {
        0
    }
}
