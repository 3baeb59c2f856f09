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

    /// An image of height × width × channels bytes.
    public init(height: Int, width: Int, channels: Int, pixels: [UInt8]) {
        self.height = height
        self.width = width
        self.channels = channels
        self.pixels = pixels
    }

    /// The same image with 3 channels (a gray image's value replicated, as PIL's `convert('RGB')`).
    public func rgb() -> DecodedImage {
        guard channels == 1 else { return self }
        var out = [UInt8](repeating: 0, count: pixels.count * 3)
        for (k, v) in pixels.enumerated() { out[3 * k] = v; out[3 * k + 1] = v; out[3 * k + 2] = v }
        return DecodedImage(height: height, width: width, channels: 3, pixels: out)
    }
}

/// JPEG decoding and encoding through libjpeg-turbo.
public enum JPEGDecoder {
    private static func text(_ message: [CChar]) -> String {
        String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whether `bytes` start with the JPEG SOI marker FF D8.
    public static func isJPEG(_ bytes: [UInt8]) -> Bool { bytes.count >= 2 && bytes[0] == 0xff && bytes[1] == 0xd8 }

    /// The full-size (height, width) and component count (1 gray, 3 colour, 4 CMYK/YCCK) from the
    /// header alone, without decoding any pixels, checked against `limits.maxPixels`.
    ///
    /// - Throws: `DatasetError.decodeFailed` with libjpeg's message, or `.tooLarge` with the size
    ///   and the limit, naming `path`.
    public static func header(_ bytes: [UInt8], path: String, limits: ImageLimits = .process) throws -> (height: Int, width: Int, components: Int) {
        var width: Int32 = 0, height: Int32 = 0, components: Int32 = 0
        var message = [CChar](repeating: 0, count: Int(JMSG_LENGTH_MAX))
        let status = bytes.withUnsafeBufferPointer { data in
            sbcl_jpeg_header(data.baseAddress, UInt(data.count), &width, &height, &components, &message)
        }
        guard status == 0 else { throw DatasetError(.decodeFailed, path: path, "cannot read the JPEG header: \(text(message))") }
        try limits.checkImage(height: Int(height), width: Int(width), path: path, format: "JPEG")
        return (Int(height), Int(width), Int(components))
    }

    /// The size libjpeg gives a side of `side` pixels at scale `numerator`/8: ceil(side · M / 8).
    public static func scaledSide(_ side: Int, numerator: Int) -> Int { (side * numerator + 7) / 8 }

    /// Decodes JPEG bytes to RGB (or gray when `gray`), scaled in the DCT by `scaleNumerator`/8
    /// (1…8; 8 is full size, each side becomes ceil(side · M / 8)). Gray files are replicated to
    /// RGB; CMYK and YCCK files (Adobe-inverted, as Pillow assumes) convert as Pillow's
    /// `convert('RGB')` does. A header claiming more than `limits.maxPixels` pixels is refused
    /// before anything is allocated for the image.
    ///
    /// - Throws: `DatasetError.decodeFailed` with libjpeg's message, or `.tooLarge` with the size
    ///   and the limit, naming `path`.
    public static func decode(_ bytes: [UInt8], path: String, gray: Bool = false, scaleNumerator: Int = 8,
                              limits: ImageLimits = .process) throws -> DecodedImage {
        precondition((1...8).contains(scaleNumerator), "JPEGDecoder.decode: scale \(scaleNumerator)/8 outside 1/8…8/8")
        var pointer: UnsafeMutablePointer<UInt8>?
        var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0
        var message = [CChar](repeating: 0, count: Int(JMSG_LENGTH_MAX))
        let status = bytes.withUnsafeBufferPointer { data in
            sbcl_jpeg_decode_limited(data.baseAddress, UInt(data.count), gray ? 1 : 0, Int32(scaleNumerator),
                                     Int64(limits.maxPixels), &pointer, &width, &height, &channels, &message)
        }
        if status == -2 { try limits.checkImage(height: Int(height), width: Int(width), path: path, format: "JPEG") }
        guard status == 0, let pointer else {
            throw DatasetError(.decodeFailed, path: path, "cannot decode the JPEG: \(text(message))")
        }
        defer { free(pointer) }
        let count = Int(width) * Int(height) * Int(channels)
        return DecodedImage(height: Int(height), width: Int(width), channels: Int(channels),
                            pixels: Array(UnsafeBufferPointer(start: pointer, count: count)))
    }

    /// Compresses a gray or RGB image to JPEG bytes at `quality` (1–100; libjpeg's defaults,
    /// 4:2:0 chroma for RGB) — for test data and benchmarks.
    ///
    /// - Throws: `DatasetError.io` with libjpeg's message.
    public static func encode(_ image: DecodedImage, quality: Int = 90) throws -> [UInt8] {
        precondition(image.channels == 1 || image.channels == 3, "JPEGDecoder.encode: \(image.channels) channels")
        precondition(image.pixels.count == image.height * image.width * image.channels, "JPEGDecoder.encode: pixel count")
        var buffer: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        var message = [CChar](repeating: 0, count: Int(JMSG_LENGTH_MAX))
        let status = image.pixels.withUnsafeBufferPointer { p in
            sbcl_jpeg_encode(p.baseAddress, Int32(image.width), Int32(image.height), Int32(image.channels),
                             Int32(min(100, max(1, quality))), &buffer, &size, &message)
        }
        guard status == 0, let buffer else { throw DatasetError(.io, path: "", "cannot encode a JPEG: \(text(message))") }
        defer { free(buffer) }
        return Array(UnsafeBufferPointer(start: buffer, count: Int(size)))
    }
}
