import Foundation

/// A tensor file (safetensors or `.npy`) that cannot be read or written: the path and the problem.
///
/// Thrown for everything a user can cause — a missing, truncated or damaged file, a header that
/// contradicts itself, a tensor name that is not there — never a crash.
public struct TensorFileError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// What went wrong, broadly; `message` says exactly what.
    public enum Kind: String, Sendable, Equatable {
        /// The file could not be opened or read.
        case unreadable
        /// The file ends before the data its header announces.
        case truncated
        /// The header is not well-formed (magic, length, JSON or Python literal syntax).
        case malformedHeader
        /// The header is well-formed but contradicts itself or the data (offsets, sizes, holes).
        case inconsistent
        /// A valid file using a feature this engine does not support (a dtype, a layout).
        case unsupported
        /// A requested tensor is absent from the file.
        case missingTensor
        /// The file could not be written.
        case unwritable
    }

    /// The file concerned.
    public var path: String
    /// The category of the problem.
    public var kind: Kind
    /// A sentence saying what was expected and what was found.
    public var message: String

    /// Creates an error about the file at `path`.
    public init(path: String, kind: Kind, message: String) {
        self.path = path
        self.kind = kind
        self.message = message
    }

    /// `"<path>: <message>"`.
    public var description: String { "\(path): \(message)" }

    /// Same as `description`, for `localizedDescription`.
    public var errorDescription: String? { description }
}
