import CZlib

/// zlib streams through libz: gzip files (IDX, `.tar.gz` archives) and PNG's zlib data.
public enum Gzip {
    /// Inflates a whole gzip or zlib stream (the header decides which) to at most `maxOutput`
    /// bytes: a stream that would inflate to more is refused (a "zip bomb" never fills memory),
    /// or, with `stopAtLimit`, cut at `maxOutput` (PNG image data, whose size the header gives).
    ///
    /// - Throws: `DatasetError.truncated` when the stream ends early, `.badFormat` when it is
    ///   corrupt, `.tooLarge` when it inflates past `maxOutput`; all name `path`.
    public static func inflate(_ input: [UInt8], path: String, maxOutput: Int = ImageLimits.process.maxFileBytes,
                               stopAtLimit: Bool = false) throws -> [UInt8] {
        var stream = z_stream()
        // 15 window bits + 32: detect gzip or zlib headers automatically.
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DatasetError(.io, path: path, "zlib could not start inflating")
        }
        defer { inflateEnd(&stream) }
        let limit = max(0, maxOutput)
        var output = [UInt8]()
        output.reserveCapacity(min(limit, input.count.multipliedReportingOverflow(by: 4).overflow ? limit : input.count * 4))
        // Output pieces of up to 1 MiB, smaller when the limit is (a small PNG's image data).
        var chunk = [UInt8](repeating: 0, count: max(1 << 12, limit < 1 << 20 ? limit + 1 : 1 << 20))
        var status: Int32 = Z_OK
        let piece = 1 << 30  // avail_in is 32 bits: feed at most this much at a time
        try input.withUnsafeBufferPointer { src in
            var fed = 0
            func refill() {
                if stream.avail_in == 0, fed < src.count {
                    let n = min(piece, src.count - fed)
                    stream.next_in = UnsafeMutablePointer(mutating: src.baseAddress! + fed)
                    stream.avail_in = UInt32(n)
                    fed += n
                }
            }
            func remainingInput() -> Int { Int(stream.avail_in) + (src.count - fed) }
            refill()
            repeat {
                let finished: Bool = try chunk.withUnsafeMutableBufferPointer { dst in
                    stream.next_out = dst.baseAddress
                    stream.avail_out = UInt32(dst.count)
                    let before = remainingInput()
                    status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                        throw DatasetError(.badFormat, path: path, "corrupt compressed data (zlib status \(status))")
                    }
                    let produced = dst.count - Int(stream.avail_out)
                    if produced > limit - output.count {
                        if stopAtLimit {
                            output += dst[0..<(limit - output.count)]
                            return true
                        }
                        throw DatasetError(.tooLarge, path: path,
                                           "the compressed data inflates to more than the limit of \(limit) bytes (a damaged file or a decompression bomb)")
                    }
                    output += dst[0..<produced]
                    if status == Z_STREAM_END {
                        guard remainingInput() > 0 else { return true }
                        // Concatenated gzip members (allowed by RFC 1952): start the next one.
                        let consumed = src.count - remainingInput()
                        guard inflateReset(&stream) == Z_OK else {
                            throw DatasetError(.badFormat, path: path, "corrupt gzip data after byte \(consumed)")
                        }
                        status = Z_OK
                        return false
                    }
                    refill()
                    if produced == 0, remainingInput() == before {
                        // No progress: the input is used up (truncated) or zlib cannot go on.
                        if remainingInput() == 0 {
                            throw DatasetError(.truncated, path: path, "compressed data ends early (\(src.count) bytes)")
                        }
                        throw DatasetError(.badFormat, path: path, "corrupt compressed data (zlib makes no progress at byte \(src.count - remainingInput()))")
                    }
                    return false
                }
                if finished { break }
            } while true
        }
        return output
    }

    /// Compresses `input` as a gzip stream (level 6); used for cached artifacts and by tests.
    public static func deflate(_ input: [UInt8]) -> [UInt8] {
        var stream = z_stream()
        precondition(deflateInit2_(&stream, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
                                   Int32(MemoryLayout<z_stream>.size)) == Z_OK, "Gzip.deflate: deflateInit2 failed")
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))) + 32)
        input.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                stream.next_in = UnsafeMutablePointer(mutating: src.baseAddress)
                stream.avail_in = UInt32(src.count)
                stream.next_out = dst.baseAddress
                stream.avail_out = UInt32(dst.count)
                let status = CZlib.deflate(&stream, Z_FINISH)
                precondition(status == Z_STREAM_END, "Gzip.deflate: status \(status)")
            }
        }
        output.removeLast(Int(stream.avail_out))
        return output
    }
}
