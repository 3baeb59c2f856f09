import Foundation

/// The contents of a safetensors file: named arrays in file order plus the `__metadata__` map.
public struct SafeTensorsFile: Equatable, Sendable {
    /// The file it was read from (empty for one built in memory); used in error messages.
    public var path: String
    /// Tensors in the order of their data in the file.
    public var tensors: [(name: String, array: HostArray)]
    /// The free-form string map stored under `__metadata__`.
    public var metadata: [String: String]

    /// Creates a file value from arrays in memory.
    public init(path: String = "", tensors: [(name: String, array: HostArray)], metadata: [String: String] = [:]) {
        self.path = path
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Tensor names in file order.
    public var names: [String] { tensors.map(\.name) }

    /// The array called `name`, or `nil`.
    public subscript(name: String) -> HostArray? {
        tensors.first(where: { $0.name == name })?.array
    }

    /// The array called `name`.
    /// - Throws: `TensorFileError.missingTensor` naming the file and the tensor.
    public func array(named name: String) throws -> HostArray {
        guard let a = self[name] else {
            throw TensorFileError(path: path, kind: .missingTensor, message: "no tensor named '\(name)' in the file")
        }
        return a
    }

    /// Same tensors (names, order, values) and metadata; the source path is not compared.
    public static func == (a: SafeTensorsFile, b: SafeTensorsFile) -> Bool {
        a.metadata == b.metadata && a.tensors.count == b.tensors.count
            && zip(a.tensors, b.tensors).allSatisfy { $0.name == $1.name && $0.array == $1.array }
    }
}

/// Reads and writes the safetensors format of Hugging Face (what `safetensors.torch.save_file`
/// writes): an 8-byte little-endian header length, a JSON header
/// `{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}` padded with
/// spaces to a multiple of 8 bytes, then the tensors' bytes, contiguous, little-endian, C order.
public enum SafeTensors {
    /// Headers larger than this are refused as damaged (the reference implementation's limit).
    public static let maxHeaderSize = 100_000_000

    /// Reads and validates the file at `url`.
    /// - Throws: `TensorFileError` naming the file and the problem: unreadable, shorter than its
    ///   header says, malformed JSON, an unknown dtype, offsets that overlap, leave holes, run past
    ///   the end or do not match dtype × shape.
    public static func read(contentsOf url: URL) throws -> SafeTensorsFile {
        try decode(FileIO.readAll(url), path: url.path)
    }

    /// Decodes safetensors bytes; `path` only names the source in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws -> SafeTensorsFile {
        func fail(_ kind: TensorFileError.Kind, _ message: String) -> TensorFileError {
            TensorFileError(path: path, kind: kind, message: message)
        }
        guard bytes.count >= 8 else {
            throw fail(.truncated, "file is \(bytes.count) bytes, too short for the 8-byte header length of a safetensors file")
        }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(maxHeaderSize) else {
            throw fail(.malformedHeader, "header length \(headerLength) exceeds the limit of \(maxHeaderSize) bytes; not a safetensors file?")
        }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw fail(.truncated, "header length \(headerLength) runs past the end of the \(bytes.count)-byte file")
        }
        let n = Int(headerLength)
        guard n >= 2, bytes[8] == UInt8(ascii: "{") else {
            throw fail(.malformedHeader, "header does not start with '{'; not a safetensors file?")
        }
        let json: HeaderJSON
        do {
            json = try HeaderJSON.parse(Array(bytes[8..<8 + n]))
        } catch let e as HeaderJSON.SyntaxError {
            throw fail(.malformedHeader, "header is not valid JSON at byte \(8 + e.offset): \(e.message)")
        }
        guard case let .object(members) = json else { throw fail(.malformedHeader, "header is not a JSON object") }

        let dataStart = 8 + n
        let dataLength = bytes.count - dataStart
        var metadata: [String: String] = [:]
        var entries: [(name: String, dtype: DType, shape: [Int], begin: Int, end: Int)] = []
        var seen = Set<String>()
        for (name, value) in members {
            guard seen.insert(name).inserted else { throw fail(.malformedHeader, "tensor '\(name)' appears twice in the header") }
            if name == "__metadata__" {
                guard case let .object(pairs) = value else { throw fail(.malformedHeader, "__metadata__ is not an object") }
                for (k, v) in pairs {
                    guard case let .string(s) = v else { throw fail(.malformedHeader, "__metadata__ value for '\(k)' is not a string") }
                    metadata[k] = s
                }
                continue
            }
            entries.append(try parseEntry(name: name, value: value, fail: fail))
        }

        // Data regions must tile [0, dataLength) exactly, in some order.
        let ordered = entries.enumerated().sorted { ($0.element.begin, $0.offset) < ($1.element.begin, $1.offset) }.map(\.element)
        var cursor = 0
        var tensors: [(name: String, array: HostArray)] = []
        for e in ordered {
            guard let count = HostArray.elementCount(e.shape) else {
                throw fail(.inconsistent, "tensor '\(e.name)': shape \(e.shape) has too many elements")
            }
            let (expected, overflow) = count.multipliedReportingOverflow(by: e.dtype.byteSize)
            guard !overflow, e.end - e.begin == expected else {
                throw fail(.inconsistent, "tensor '\(e.name)': data_offsets [\(e.begin), \(e.end)] hold \(e.end - e.begin) bytes but \(e.dtype.safetensorsName) \(e.shape) needs \(overflow ? "more" : String(expected))")
            }
            if e.begin < cursor { throw fail(.inconsistent, "tensor '\(e.name)': data_offsets [\(e.begin), \(e.end)] overlap the previous tensor, which ends at \(cursor)") }
            if e.begin > cursor { throw fail(.inconsistent, "tensor '\(e.name)': data_offsets start at \(e.begin), leaving a hole after byte \(cursor)") }
            guard e.end <= dataLength else {
                throw fail(.truncated, "tensor '\(e.name)': data_offsets [\(e.begin), \(e.end)] run past the \(dataLength) bytes of data in the file")
            }
            cursor = e.end
            let slice = Array(bytes[dataStart + e.begin..<dataStart + e.end])
            tensors.append((e.name, HostArray(dtype: e.dtype, shape: e.shape, bytes: slice)))
        }
        guard cursor == dataLength else {
            throw fail(.inconsistent, "the tensors cover \(cursor) bytes of data but the file holds \(dataLength) (trailing bytes)")
        }
        return SafeTensorsFile(path: path, tensors: tensors, metadata: metadata)
    }

    private static func parseEntry(name: String, value: HeaderJSON,
                                   fail: (TensorFileError.Kind, String) -> TensorFileError)
        throws -> (name: String, dtype: DType, shape: [Int], begin: Int, end: Int) {
        guard case let .object(fields) = value else { throw fail(.malformedHeader, "tensor '\(name)': entry is not an object") }
        func field(_ key: String) throws -> HeaderJSON {
            guard let v = fields.first(where: { $0.key == key })?.value else {
                throw fail(.malformedHeader, "tensor '\(name)': missing \"\(key)\"")
            }
            return v
        }
        func integers(_ key: String) throws -> [Int] {
            guard case let .array(items) = try field(key) else { throw fail(.malformedHeader, "tensor '\(name)': \"\(key)\" is not an array") }
            return try items.map {
                guard case let .integer(i) = $0, i >= 0 else {
                    throw fail(.malformedHeader, "tensor '\(name)': \"\(key)\" must hold non-negative integers")
                }
                return i
            }
        }
        guard case let .string(dtypeName) = try field("dtype") else {
            throw fail(.malformedHeader, "tensor '\(name)': \"dtype\" is not a string")
        }
        guard let dtype = DType(safetensorsName: dtypeName) else {
            throw fail(.unsupported, "tensor '\(name)': dtype \"\(dtypeName)\" is not supported (expected one of \(DType.allCases.map(\.safetensorsName).joined(separator: ", ")))")
        }
        let shape = try integers("shape")
        let offsets = try integers("data_offsets")
        guard offsets.count == 2, offsets[0] <= offsets[1] else {
            throw fail(.inconsistent, "tensor '\(name)': data_offsets \(offsets) must be [begin, end] with begin <= end")
        }
        return (name, dtype, shape, offsets[0], offsets[1])
    }
}
