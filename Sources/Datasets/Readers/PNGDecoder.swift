/// PNG decoding for `image_folder`: 8-bit gray, gray + alpha, RGB, RGBA, palette images and
/// 1/2/4-bit gray or palette images, non-interlaced; alpha is dropped. Other variants (16-bit,
/// interlaced) are a clear error.
public enum PNGDecoder {
    private static let signature: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

    /// Whether `bytes` start with the PNG signature.
    public static func isPNG(_ bytes: [UInt8]) -> Bool { bytes.count >= 8 && Array(bytes[0..<8]) == signature }

    /// Decodes PNG bytes to gray (1 channel) or RGB (3 channels).
    ///
    /// - Throws: `DatasetError.decodeFailed` naming `path` for a damaged or unsupported file.
    public static func decode(_ bytes: [UInt8], path: String) throws -> DecodedImage {
        func fail(_ why: String) -> DatasetError { DatasetError(.decodeFailed, path: path, "cannot decode the PNG: \(why)") }
        guard isPNG(bytes) else { throw fail("no PNG signature") }
        var offset = 8
        var width = 0, height = 0, colorType = -1, depth = 8
        var palette: [UInt8] = []
        var compressed: [UInt8] = []
        var ended = false
        while offset + 8 <= bytes.count {
            let length = Int(FileBytes.bigEndianUInt32(bytes, at: offset))
            let type = String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self)
            guard offset + 12 + length <= bytes.count else { throw fail("chunk \(type) runs past the end of the file (truncated)") }
            let body = bytes[(offset + 8)..<(offset + 8 + length)]
            switch type {
            case "IHDR":
                guard length == 13 else { throw fail("bad IHDR") }
                let b = Array(body)
                width = Int(FileBytes.bigEndianUInt32(b, at: 0))
                height = Int(FileBytes.bigEndianUInt32(b, at: 4))
                depth = Int(b[8])
                colorType = Int(b[9])
                let lowDepthOK = [1, 2, 4].contains(depth) && (colorType == 0 || colorType == 3)
                guard depth == 8 || lowDepthOK else { throw fail("bit depth \(depth) with colour type \(colorType) is not supported") }
                guard b[12] == 0 else { throw fail("interlaced PNGs are not supported") }
            case "PLTE": palette = Array(body)
            case "IDAT": compressed += body
            case "IEND": ended = true
            default: break
            }
            offset += 12 + length
            if ended { break }
        }
        guard ended else { throw fail("no IEND chunk (truncated)") }
        guard width > 0, height > 0 else { throw fail("no IHDR chunk") }
        let samples: Int
        switch colorType {
        case 0: samples = 1
        case 2: samples = 3
        case 3: samples = 1
        case 4: samples = 2
        case 6: samples = 4
        default: throw fail("colour type \(colorType) is not supported")
        }
        let raw = try Gzip.inflate(compressed, path: path)
        let stride = (width * samples * depth + 7) / 8
        guard raw.count >= height * (stride + 1) else { throw fail("image data holds \(raw.count) bytes, expected \(height * (stride + 1))") }
        var packed = [UInt8](repeating: 0, count: height * stride)
        try unfilter(raw, into: &packed, height: height, stride: stride, bytesPerPixel: samples, fail: fail)
        var plain = packed
        if depth < 8 {
            // Unpack 1/2/4-bit samples, most significant bits first; gray levels scale to 0–255.
            plain = [UInt8](repeating: 0, count: width * height)
            let mask = (1 << depth) - 1, perByte = 8 / depth
            for y in 0..<height {
                for x in 0..<width {
                    let byte = Int(packed[y * stride + x / perByte])
                    let v = (byte >> (8 - depth * (x % perByte + 1))) & mask
                    plain[y * width + x] = UInt8(colorType == 0 ? v * 255 / mask : v)
                }
            }
        }
        let outChannels = (colorType == 0 || colorType == 4) ? 1 : 3
        var pixels = [UInt8](repeating: 0, count: width * height * outChannels)
        for p in 0..<(width * height) {
            switch colorType {
            case 0: pixels[p] = plain[p]
            case 4: pixels[p] = plain[2 * p]
            case 2, 6:
                for c in 0..<3 { pixels[3 * p + c] = plain[samples * p + c] }
            default: // palette
                let index = Int(plain[p])
                guard 3 * index + 2 < palette.count else { throw fail("palette index \(index) outside the palette") }
                for c in 0..<3 { pixels[3 * p + c] = palette[3 * index + c] }
            }
        }
        return DecodedImage(height: height, width: width, channels: outChannels, pixels: pixels)
    }

    /// Undoes the per-row filters (None, Sub, Up, Average, Paeth).
    private static func unfilter(_ raw: [UInt8], into out: inout [UInt8], height: Int, stride: Int, bytesPerPixel bpp: Int,
                                 fail: (String) -> DatasetError) throws {
        for y in 0..<height {
            let filter = raw[y * (stride + 1)]
            let src = y * (stride + 1) + 1, row = y * stride, prev = row - stride
            for x in 0..<stride {
                let a = x >= bpp ? Int(out[row + x - bpp]) : 0
                let b = y > 0 ? Int(out[prev + x]) : 0
                let c = (x >= bpp && y > 0) ? Int(out[prev + x - bpp]) : 0
                let predictor: Int
                switch filter {
                case 0: predictor = 0
                case 1: predictor = a
                case 2: predictor = b
                case 3: predictor = (a + b) / 2
                case 4:
                    let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    predictor = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c)
                default: throw fail("row \(y) has unknown filter \(filter)")
                }
                out[row + x] = UInt8(truncatingIfNeeded: Int(raw[src + x]) + predictor)
            }
        }
    }
}
