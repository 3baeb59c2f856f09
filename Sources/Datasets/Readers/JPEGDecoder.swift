import CJPEG

/// A decoded 8-bit image, channels last.
public struct DecodedImage: Sendable, Equatable {
    /// Height in pixels.
    public var height: Int
    /// Width in pixels.
    public var width: Int
    /// 1 (gray) or 3 (RGB).
    public var channels: Int
    /// H × W × C bytes.
    public var pixels: [UInt8]
}

/// JPEG decoding through libjpeg-turbo.
public enum JPEGDecoder {
    /// Decodes JPEG bytes to RGB (or gray when `gray`); CMYK and gray files convert to the asked
    /// colour space.
    ///
    /// - Throws: `DatasetError.decodeFailed` with libjpeg's message, naming `path`.
    public static func decode(_ bytes: [UInt8], path: String, gray: Bool = false) throws -> DecodedImage {
        var pointer: UnsafeMutablePointer<UInt8>?
        var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0
        var message = [CChar](repeating: 0, count: Int(JMSG_LENGTH_MAX))
        let status = bytes.withUnsafeBufferPointer { data in
            sbcl_jpeg_decode(data.baseAddress, UInt(data.count), gray ? 1 : 0, &pointer, &width, &height, &channels, &message)
        }
        guard status == 0, let pointer else {
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw DatasetError(.decodeFailed, path: path, "cannot decode the JPEG: \(text)")
        }
        defer { free(pointer) }
        let count = Int(width) * Int(height) * Int(channels)
        return DecodedImage(height: Int(height), width: Int(width), channels: Int(channels),
                            pixels: Array(UnsafeBufferPointer(start: pointer, count: count)))
    }
}

#if canImport(Glibc)
import Glibc
#endif
