import ArgumentParser
import Engine
import Foundation
import PipelineDSL

/// The one place where errors become messages and exit statuses.
enum ExitStatus {
    /// Success.
    static let success: Int32 = 0
    /// A failure while running (a stage, the cache, the file system).
    static let failure: Int32 = 1
    /// An invalid recipe, command line or environment variable.
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
        case let error as KernelSetError:
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
            printError("error: \(sentence(for: error))")
            return failure
        }
    }

    /// An ArgumentParser error (or request): help and completion scripts go to standard output
    /// with status 0; a usage error is one sentence on standard error with status 2.
    static func reportParsing(_ error: Error) -> Int32 {
        let code = SBCLRun.exitCode(for: error)
        if code == .success {
            CLI.output(SBCLRun.fullMessage(for: error).trimmingCharacters(in: .newlines) + "\n")
            return success
        }
        var message = SBCLRun.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid command line"
        // A value refused by our own check: its sentence names the option and the value already.
        if let range = message.range(of: #"^The value '.*' is invalid for '[^']*': (?=--)"#, options: .regularExpression) {
            message.removeSubrange(range)
        }
        if let first = message.first, first.isUppercase { message = first.lowercased() + message.dropFirst() }
        printError("error: \(message)\n\(CLI.usageHint)")
        return invalid
    }

    /// `error` as one sentence: Foundation's file errors name the file and the cause (never a
    /// domain and a code), anything else says what it says.
    static func sentence(for error: Error) -> String {
        if let problem = FileProblem(error) { return problem.description }
        return FileProblem.scrubbed(String(describing: error))
    }

    /// Writes to standard error; a data-parallel rank other than 0 says which it is.
    static func printError(_ text: String) {
        let prefix = RankJob.isFollower ? "rank \(RankJob.current!.rank): " : ""
        FileHandle.standardError.write(Data((prefix + FileProblem.scrubbed(text) + "\n").utf8))
    }
}

/// A file operation that failed, as Foundation reports it (`CocoaError`, `POSIXError`), told as
/// one sentence naming the file and the cause.
struct FileProblem: CustomStringConvertible {
    /// The file, when Foundation says which.
    var path: String?
    /// What went wrong, in words.
    var cause: String

    /// Nil when `error` is not one of Foundation's file errors.
    init?(_ error: Error) {
        if let error = error as? CocoaError {
            path = error.filePath ?? error.url?.path
            cause = Self.cause(cocoa: error.code.rawValue, underlying: error.underlying)
        } else if let error = error as? POSIXError {
            path = nil
            cause = Self.cause(posix: error.code.rawValue)
        } else {
            let error = error as NSError
            switch error.domain {
            case NSCocoaErrorDomain:
                path = error.userInfo[NSFilePathErrorKey] as? String ?? (error.userInfo[NSURLErrorKey] as? URL)?.path
                cause = Self.cause(cocoa: error.code, underlying: error.userInfo[NSUnderlyingErrorKey] as? Error)
            case NSPOSIXErrorDomain:
                path = error.userInfo[NSFilePathErrorKey] as? String
                cause = Self.cause(posix: Int32(truncatingIfNeeded: error.code))
            default:
                return nil
            }
        }
    }

    var description: String { path.map { "\($0): \(cause)" } ?? cause }

    /// The cause of `error` in words, for messages that name the file themselves.
    static func cause(of error: Error) -> String {
        FileProblem(error)?.cause ?? scrubbed(String(describing: error))
    }

    /// `text` with Foundation's "The operation could not be completed. (NSCocoaErrorDomain error
    /// 512.)" replaced by its cause in words.
    static func scrubbed(_ text: String) -> String {
        var result = text
        // Foundation's preamble before its own sentence: "…: The operation could not be completed. The file doesn’t exist."
        while let range = result.range(of: #"The operation could(n’t|n't| not) be completed\. (?=[A-Z])"#, options: .regularExpression) {
            let offset = result.distance(from: result.startIndex, to: range.lowerBound)
            result.removeSubrange(range)
            let start = result.index(result.startIndex, offsetBy: offset)
            result.replaceSubrange(start...start, with: result[start...start].lowercased())
        }
        guard result.contains("ErrorDomain") else { return result }
        let pattern = #"(The operation could not be completed\.|The operation couldn’t be completed\.)? ?\(?(NSCocoaErrorDomain|NSPOSIXErrorDomain) (error )?(-?\d+)\.?\)?"#
        while let range = result.range(of: pattern, options: .regularExpression) {
            let match = String(result[range])
            let code = Int(match.components(separatedBy: CharacterSet(charactersIn: "-0123456789").inverted)
                .last { !$0.isEmpty } ?? "") ?? 0
            let words = match.contains("POSIX") ? cause(posix: Int32(truncatingIfNeeded: code)) : cause(cocoa: code, underlying: nil)
            result.replaceSubrange(range, with: words)
        }
        if let range = result.range(of: #"Error Domain=NSCocoaErrorDomain Code=(-?\d+).*"#, options: .regularExpression) {
            let code = Int(result[range].dropFirst("Error Domain=NSCocoaErrorDomain Code=".count).prefix { $0 == "-" || $0.isNumber }) ?? 0
            result.replaceSubrange(range, with: cause(cocoa: code, underlying: nil))
        }
        return result
    }

    /// Foundation's file error codes in words.
    static func cause(cocoa code: Int, underlying: Error?) -> String {
        if let posix = underlying as? POSIXError { return cause(posix: posix.code.rawValue) }
        if let underlying = underlying as NSError?, underlying.domain == NSPOSIXErrorDomain {
            return cause(posix: Int32(truncatingIfNeeded: underlying.code))
        }
        switch CocoaError.Code(rawValue: code) {
        case .fileNoSuchFile, .fileReadNoSuchFile: return "no such file or folder"
        case .fileReadNoPermission, .fileWriteNoPermission: return "permission denied"
        case .fileWriteOutOfSpace: return "no space left on the device"
        case .fileWriteVolumeReadOnly: return "the file system is read-only"
        case .fileWriteFileExists: return "a file of that name already exists"
        case .fileReadCorruptFile: return "the file is damaged or not in the expected format"
        case .fileReadTooLarge: return "the file is too large to read"
        case .fileReadInapplicableStringEncoding, .fileWriteInapplicableStringEncoding: return "the text is not in the expected encoding"
        case .fileReadInvalidFileName, .fileWriteInvalidFileName: return "the file name is not valid"
        case .fileLocking: return "the file is locked"
        case .fileReadUnknown: return "the file could not be read"
        case .fileWriteUnknown: return "the file could not be written (its folder may be missing)"
        default: return "the file operation failed"
        }
    }

    /// A POSIX error number in words (`strerror`), lower-cased.
    static func cause(posix code: Int32) -> String {
        let text = String(cString: strerror(code))
        return text.prefix(1).lowercased() + text.dropFirst()
    }
}
