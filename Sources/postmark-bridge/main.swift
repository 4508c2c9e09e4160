import Foundation
import PostmarkBridge

// The command line lives in the core library so that it can be tested; this target only hands over.
exit(await CommandLineTool.main(arguments: Array(CommandLine.arguments.dropFirst())))
