import Foundation

/// Reads and writes numpy's `.npy` format (versions 1.0, 2.0 and 3.0): the magic `\x93NUMPY`, a
/// version, a little-endian header length, a Python dictionary literal giving dtype, order and
/// shape, then the raw data.
public enum NPY {
    private static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    /// Reads the array in the file at `url`, converted to little-endian C order.
    /// - Throws: `TensorFileError` naming the file and the problem (wrong magic, unknown version,
    ///   malformed header, unsupported dtype, data shorter or longer than the shape needs).
    public static func read(contentsOf url: URL) throws -> HostArray {
        try decode(FileIO.readAll(url), path: url.path)
    }

    /// Decodes `.npy` bytes; `path` only names the source in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws -> HostArray {
        func fail(_ kind: TensorFileError.Kind, _ message: String) -> TensorFileError {
            TensorFileError(path: path, kind: kind, message: message)
        }
        guard bytes.count >= 10 else { throw fail(.truncated, "file is \(bytes.count) bytes, too short for a .npy header") }
        guard Array(bytes[0..<6]) == magic else { throw fail(.malformedHeader, "missing the \\x93NUMPY magic; not a .npy file") }
        let major = bytes[6], minor = bytes[7]
        let lengthStart = 8
        let lengthSize: Int
        switch major {
        case 1: lengthSize = 2
        case 2, 3: lengthSize = 4
        default: throw fail(.unsupported, "format version \(major).\(minor) is not supported (expected 1.0, 2.0 or 3.0)")
        }
        guard bytes.count >= lengthStart + lengthSize else { throw fail(.truncated, "file ends inside the header length") }
        var headerLength = 0
        for k in 0..<lengthSize { headerLength |= Int(bytes[lengthStart + k]) << (8 * k) }
        let headerStart = lengthStart + lengthSize
        guard headerLength <= bytes.count - headerStart else {
            throw fail(.truncated, "header length \(headerLength) runs past the end of the \(bytes.count)-byte file")
        }
        let headerBytes = bytes[headerStart..<headerStart + headerLength]
        let text: String
        if major == 3 {
            guard let s = String(validating: headerBytes, as: UTF8.self) else { throw fail(.malformedHeader, "header is not valid UTF-8") }
            text = s
        } else {
            text = String(String.UnicodeScalarView(headerBytes.map { Unicode.Scalar($0) }))  // latin-1
        }
        let header: NPYHeader
        do {
            header = try NPYHeader.parse(text)
        } catch let e as NPYHeader.ParseError {
            throw fail(e.kind, e.message)
        }
        guard let count = HostArray.elementCount(header.shape) else { throw fail(.inconsistent, "shape \(header.shape) has too many elements") }
        let dataStart = headerStart + headerLength
        let (needed, overflow) = count.multipliedReportingOverflow(by: header.dtype.byteSize)
        let available = bytes.count - dataStart
        guard !overflow, available >= needed else {
            throw fail(.truncated, "data is \(available) bytes but \(header.dtype) \(header.shape) needs \(overflow ? "more" : String(needed))")
        }
        guard available == needed else {
            throw fail(.inconsistent, "data is \(available) bytes but \(header.dtype) \(header.shape) needs only \(needed) (trailing bytes)")
        }
        var data = Array(bytes[dataStart...])
        if header.bigEndian { swapBytes(&data, size: header.dtype.byteSize) }
        if header.fortranOrder, header.shape.count > 1 {
            data = fortranToC(data, shape: header.shape, size: header.dtype.byteSize)
        }
        return HostArray(dtype: header.dtype, shape: header.shape, bytes: data)
    }

    /// Encodes `array` as a version 1.0 `.npy` (2.0 when the header needs more than 65535 bytes),
    /// little-endian, C order, header padded to 64 bytes as numpy does.
    /// - Throws: `TensorFileError.unsupported` for bfloat16, which numpy cannot represent.
    public static func encode(_ array: HostArray, path: String = "") throws -> [UInt8] {
        guard array.dtype.numpyCode != nil else {
            throw TensorFileError(path: path, kind: .unsupported, message: "\(array.dtype) has no numpy equivalent; convert it to float32 first")
        }
        let literal = Array(NPYHeader(dtype: array.dtype, bigEndian: false, fortranOrder: false, shape: array.shape).literal().utf8)
        var version: UInt8 = 1
        var prefixLength = 10
        var total = prefixLength + literal.count + 1
        var padded = (total + 63) / 64 * 64
        if padded - prefixLength > 65535 {
            version = 2
            prefixLength = 12
            total = prefixLength + literal.count + 1
            padded = (total + 63) / 64 * 64
        }
        let headerLength = padded - prefixLength
        var out = magic + [version, 0]
        for k in 0..<(version == 1 ? 2 : 4) { out.append(UInt8(truncatingIfNeeded: headerLength >> (8 * k))) }
        out += literal
        out += [UInt8](repeating: 0x20, count: padded - total)
        out.append(0x0a)
        out += array.bytes
        return out
    }

    /// Writes `array` to `url` atomically (temporary file, then rename).
    /// - Throws: `TensorFileError` naming the file.
    public static func write(_ array: HostArray, to url: URL) throws {
        try FileIO.writeAtomically([encode(array, path: url.path)], to: url)
    }

    private static func swapBytes(_ data: inout [UInt8], size: Int) {
        guard size > 1 else { return }
        var start = 0
        while start + size <= data.count {
            data[start..<start + size].reverse()
            start += size
        }
    }

    /// Reorders elements of `size` bytes from column-major to row-major.
    private static func fortranToC(_ data: [UInt8], shape: [Int], size: Int) -> [UInt8] {
        let count = data.count / size
        var out = [UInt8](repeating: 0, count: data.count)
        var fortranStrides = [Int](repeating: 1, count: shape.count)
        for d in 1..<shape.count { fortranStrides[d] = fortranStrides[d - 1] * shape[d - 1] }
        var index = [Int](repeating: 0, count: shape.count)
        for c in 0..<count {
            var f = 0
            for d in 0..<shape.count { f += index[d] * fortranStrides[d] }
            for b in 0..<size { out[c * size + b] = data[f * size + b] }
            var d = shape.count - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < shape[d] { break }
                index[d] = 0
                d -= 1
            }
        }
        return out
    }
}
