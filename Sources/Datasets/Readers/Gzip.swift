import CZlib

/// zlib streams through libz: gzip files (IDX, `.tar.gz` archives) and PNG's zlib data.
public enum Gzip {
    /// Inflates a whole gzip or zlib stream (the header decides which).
    ///
    /// - Throws: `DatasetError.truncated` when the stream ends early, `.badFormat` when it is
    ///   corrupt; both name `path`.
    public static func inflate(_ input: [UInt8], path: String) throws -> [UInt8] {
        var stream = z_stream()
        // 15 window bits + 32: detect gzip or zlib headers automatically.
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DatasetError(.io, path: path, "zlib could not start inflating")
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8]()
        output.reserveCapacity(input.count * 4)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var status: Int32 = Z_OK
        var consumed = 0
        try input.withUnsafeBufferPointer { src in
            stream.next_in = UnsafeMutablePointer(mutating: src.baseAddress)
            stream.avail_in = UInt32(src.count)
            repeat {
                try chunk.withUnsafeMutableBufferPointer { dst in
                    stream.next_out = dst.baseAddress
                    stream.avail_out = UInt32(dst.count)
                    status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    if status == Z_STREAM_END, stream.avail_in > 0 {
                        // Concatenated gzip members (allowed by RFC 1952): start the next one.
                        let produced = dst.count - Int(stream.avail_out)
                        output += dst[0..<produced]
                        consumed = src.count - Int(stream.avail_in)
                        guard inflateReset(&stream) == Z_OK else {
                            throw DatasetError(.badFormat, path: path, "corrupt gzip data after byte \(consumed)")
                        }
                        status = Z_OK
                        stream.avail_out = UInt32(dst.count)
                        return
                    }
                    guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                        throw DatasetError(.badFormat, path: path, "corrupt compressed data (zlib status \(status))")
                    }
                    let produced = dst.count - Int(stream.avail_out)
                    output += dst[0..<produced]
                    if status == Z_BUF_ERROR, produced == 0 {
                        throw DatasetError(.truncated, path: path, "compressed data ends early (\(src.count) bytes)")
                    }
                }
            } while status != Z_STREAM_END
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
