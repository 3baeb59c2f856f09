/// Everything a user can get wrong about a data set: missing, truncated or corrupt files, bad
/// split lines, labels out of range, a failed download.
///
/// Each case names the file (and the line for text files) so the message says where to look.
public struct DatasetError: Error, Equatable, CustomStringConvertible, Sendable {
    /// What kind of problem it is, for callers that branch on it.
    public enum Kind: String, Sendable {
        /// A file or folder that should exist does not.
        case missingFile
        /// The file ends before its header says it should.
        case truncated
        /// The file is not of the expected format (magic number, header, pickle opcode).
        case badFormat
        /// A label lies outside `0..<classCount` or a split line is malformed.
        case badLabel
        /// An image could not be decoded.
        case decodeFailed
        /// A download failed or its checksum does not match.
        case download
        /// A parameter is outside its range (imbalance factor, crop size).
        case badParameter
        /// Reading or writing failed at the operating-system level.
        case io
        /// A listed entry resolves (links followed) outside the data set's root folder.
        case outsideRoot
        /// A listed entry is not a regular file (a FIFO, a device, a folder, a socket).
        case notRegularFile
        /// A file, a decompressed stream or an image is larger than its limit (`ImageLimits`).
        case tooLarge
    }

    /// What kind of problem it is.
    public let kind: Kind
    /// The file concerned, or an empty string when no file is involved.
    public let path: String
    /// The 1-based line of a text file, when the problem is on one line.
    public let line: Int?
    /// What was expected and what was found, as a sentence.
    public let message: String

    /// Makes an error about `path` (and `line`, for text files).
    public init(_ kind: Kind, path: String, line: Int? = nil, _ message: String) {
        self.kind = kind
        self.path = path
        self.line = line
        self.message = message
    }

    /// `path:line: message`, the form editors and terminals link to.
    public var description: String {
        var where_ = POSIXName.display(path)
        if let line { where_ += ":\(line)" }
        return where_.isEmpty ? POSIXName.display(message) : "\(where_): \(POSIXName.display(message))"
    }
}
