import Foundation
import PipelineDSL
import Engine

/// The one place where errors become messages and exit statuses.
enum ExitStatus {
    /// Success.
    static let success: Int32 = 0
    /// A failure while running (a stage, the cache, the file system).
    static let failure: Int32 = 1
    /// An invalid recipe or command line.
    static let invalid: Int32 = 2

    /// Prints `error` to standard error and returns its exit status.
    static func report(_ error: Error) -> Int32 {
        switch error {
        case let error as RecipeError:
            printError(error.description)
            let count = error.diagnostics.count
            printError("\(count) error\(count == 1 ? "" : "s") in the recipe; nothing was run")
            return invalid
        case let error as UsageError:
            printError("error: \(error.message)\n\(CLI.usageHint)")
            return invalid
        case let error as MemoryLimitError:
            printError("error: \(error.description)")
            return invalid
        case let error as DeviceError:
            printError("error: \(error.description)")
            // A device that cannot be used here is a usage error (as an invalid --device); a
            // device failing while it runs (out of memory) is a failure.
            switch error {
            case .unknownDevice, .unavailable: return invalid
            case .outOfMemory, .failure: return failure
            }
        case let error as RunError:
            printError("error: \(error.message)")
            return failure
        default:
            printError("error: \(String(describing: error))")
            return failure
        }
    }

    /// Writes to standard error; a data-parallel rank other than 0 says which it is.
    static func printError(_ text: String) {
        let prefix = RankJob.isFollower ? "rank \(RankJob.current!.rank): " : ""
        FileHandle.standardError.write(Data((prefix + text + "\n").utf8))
    }
}
