#if canImport(Glibc)
import Glibc
#endif
/// PNG decoding for `image_folder`: gray, gray + alpha, RGB, RGBA and palette images at every
/// bit depth the format allows (1/2/4/8/16), interlaced (Adam7) or not, delivered as gray
/// (1 channel) or RGB (3 channels); alpha is dropped as PIL's `convert('RGB')` drops it.
///
/// 16-bit samples keep their high byte (what Pillow does for 16-bit RGB, RGBA and gray + alpha;
/// Pillow opens 16-bit gray as 'I;16' and clips it to 255 in `convert('RGB')`, a quirk we do not
/// copy). 1/2/4-bit gray levels scale to 0–255 (v · 255 / (2^depth − 1)), as Pillow's unpackers.
public enum PNGDecoder {
    private static let signature: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

    /// Whether `bytes` start with the PNG signature.
    public static func isPNG(_ bytes: [UInt8]) -> Bool { bytes.count >= 8 && Array(bytes[0..<8]) == signature }

    /// (height, width) from the IHDR chunk, without inflating anything, checked against
    /// `limits.maxPixels`.
    ///
    /// - Throws: `DatasetError.decodeFailed` naming `path` when there is no PNG header,
    ///   `.tooLarge` when it claims more pixels than the limit.
    public static func header(_ bytes: [UInt8], path: String, limits: ImageLimits = .process) throws -> (height: Int, width: Int) {
        guard isPNG(bytes), bytes.count >= 24, String(decoding: bytes[12..<16], as: UTF8.self) == "IHDR" else {
            throw DatasetError(.decodeFailed, path: path, "cannot decode the PNG: no PNG signature and IHDR chunk")
        }
        let size = (height: Int(FileBytes.bigEndianUInt32(bytes, at: 20)), width: Int(FileBytes.bigEndianUInt32(bytes, at: 16)))
        try limits.checkImage(height: size.height, width: size.width, path: path, format: "PNG")
        return size
    }

    /// Decodes PNG bytes to gray (1 channel) or RGB (3 channels). The header's size is checked
    /// against `limits.maxPixels` before anything is allocated, and the image data is inflated to
    /// no more than that size needs.
    ///
    /// - Throws: `DatasetError.decodeFailed` naming `path` for a damaged or unsupported file,
    ///   `.tooLarge` for one whose header claims more pixels than the limit.
    public static func decode(_ bytes: [UInt8], path: String, limits: ImageLimits = .process) throws -> DecodedImage {
        func fail(_ why: String) -> DatasetError { DatasetError(.decodeFailed, path: path, "cannot decode the PNG: \(why)") }
        guard isPNG(bytes) else { throw fail("no PNG signature") }
        var offset = 8
        var width = 0, height = 0, colorType = -1, depth = 8, interlaced = false
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
                let allowed: [Int: [Int]] = [0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]]
                guard let depths = allowed[colorType] else { throw fail("colour type \(colorType) is not a PNG colour type") }
                guard depths.contains(depth) else { throw fail("bit depth \(depth) is not valid for colour type \(colorType)") }
                guard b[12] <= 1 else { throw fail("unknown interlace method \(b[12])") }
                interlaced = b[12] == 1
                try limits.checkImage(height: height, width: width, path: path, format: "PNG")
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
        guard colorType != 3 || !palette.isEmpty else { throw fail("a palette image without a PLTE chunk") }
        let samples = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][colorType]!
        let passes = interlaced ? PNGPixelFormat.adam7 : [(0, 0, 1, 1)]
        // What the header promises: the filtered rows of every pass (checked arithmetic, as the
        // pixel limit may be raised).
        var promised = 0
        for (x0, y0, dx, dy) in passes {
            let passWidth = (width - x0 + dx - 1) / dx, passHeight = (height - y0 + dy - 1) / dy
            guard passWidth > 0, passHeight > 0 else { continue }
            guard let rowBits = product([passWidth, samples, depth]), let need = product([passHeight, (rowBits + 7) / 8 + 1]),
                  !promised.addingReportingOverflow(need).overflow else {
                throw fail("the header's \(width)×\(height) pixels overflow the image data's size")
            }
            promised += need
        }
        guard let planeSize = product([width, height, samples]) else { throw fail("the header's \(width)×\(height) pixels overflow") }
        let raw = try Gzip.inflate(compressed, path: path, maxOutput: promised, stopAtLimit: true)
        let format = PNGPixelFormat(samples: samples, depth: depth, scaleGray: colorType == 0)
        // 8-bit samples of every pixel, row-major (palette indices for colour type 3).
        var plain = [UInt8](repeating: 0, count: planeSize)
        var consumed = 0
        for (k, (x0, y0, dx, dy)) in passes.enumerated() {
            let passWidth = (width - x0 + dx - 1) / dx, passHeight = (height - y0 + dy - 1) / dy
            guard passWidth > 0, passHeight > 0 else { continue }
            let stride = (passWidth * samples * depth + 7) / 8
            let need = passHeight * (stride + 1)
            guard raw.count >= consumed + need else {
                throw fail("image data holds \(raw.count) bytes, \(interlaced ? "pass \(k + 1) needs" : "expected") \(consumed + need)")
            }
            var packed = [UInt8](repeating: 0, count: passHeight * stride)
            try unfilter(raw[consumed..<(consumed + need)], into: &packed, height: passHeight, stride: stride,
                         bytesPerPixel: max(1, samples * depth / 8), fail: fail)
            consumed += need
            for y in 0..<passHeight {
                for x in 0..<passWidth {
                    let target = ((y0 + y * dy) * width + x0 + x * dx) * samples
                    for s in 0..<samples { plain[target + s] = format.sample(packed, row: y * stride, pixel: x, sample: s) }
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

    /// The product of `factors`, or nil when it overflows.
    static func product(_ factors: [Int]) -> Int? {
        var p = 1
        for f in factors {
            let (next, overflow) = p.multipliedReportingOverflow(by: f)
            if overflow { return nil }
            p = next
        }
        return p
    }

    /// Undoes the per-row filters (None, Sub, Up, Average, Paeth) of one pass.
    private static func unfilter(_ raw: ArraySlice<UInt8>, into out: inout [UInt8], height: Int, stride: Int,
                                 bytesPerPixel bpp: Int, fail: (String) -> DatasetError) throws {
        let base = raw.startIndex
        for y in 0..<height {
            let filter = raw[base + y * (stride + 1)]
            let src = base + y * (stride + 1) + 1, row = y * stride, prev = row - stride
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

/// How one PNG pixel's samples lie in an unfiltered row.
struct PNGPixelFormat {
    let samples: Int
    let depth: Int
    /// Whether sub-byte samples are gray levels to stretch to 0–255 (not palette indices).
    let scaleGray: Bool

    /// Adam7's passes: (first column, first row, column step, row step).
    static let adam7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]

    /// Sample `sample` of pixel `pixel` of the row starting at `row`, as 8 bits.
    @inline(__always)
    func sample(_ packed: [UInt8], row: Int, pixel: Int, sample: Int) -> UInt8 {
        switch depth {
        case 8: return packed[row + pixel * samples + sample]
        case 16: return packed[row + 2 * (pixel * samples + sample)]  // the high (first) byte
        default:
            let mask = (1 << depth) - 1, perByte = 8 / depth
            let byte = Int(packed[row + pixel / perByte])
            let v = (byte >> (8 - depth * (pixel % perByte + 1))) & mask
            return UInt8(scaleGray ? v * 255 / mask : v)
        }
    }
}
