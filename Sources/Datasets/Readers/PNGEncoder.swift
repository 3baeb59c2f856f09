import CZlib

/// A minimal PNG writer (8-bit gray or RGB, filter 0, not interlaced) — for test data and
/// tools; the decoder reads far more than this writes.
public enum PNGEncoder {
    /// The PNG bytes of a gray (1 channel) or RGB (3 channels) image.
    public static func encode(_ image: DecodedImage) -> [UInt8] {
        precondition(image.channels == 1 || image.channels == 3, "PNGEncoder.encode: \(image.channels) channels")
        let stride = image.width * image.channels
        var raw = [UInt8]()
        raw.reserveCapacity(image.height * (stride + 1))
        for y in 0..<image.height {
            raw.append(0)
            raw += image.pixels[(y * stride)..<((y + 1) * stride)]
        }
        var compressed = [UInt8](repeating: 0, count: Int(compressBound(UInt(raw.count))))
        var length = UInt(compressed.count)
        let status = compress2(&compressed, &length, raw, UInt(raw.count), 6)
        precondition(status == Z_OK, "PNGEncoder.encode: compress2 status \(status)")
        compressed.removeLast(compressed.count - Int(length))
        var header = [UInt8]()
        header += bigEndian(UInt32(image.width)) + bigEndian(UInt32(image.height))
        header += [8, image.channels == 1 ? 0 : 2, 0, 0, 0]
        return [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] + chunk("IHDR", header) + chunk("IDAT", compressed) + chunk("IEND", [])
    }

    private static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] }

    private static func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
        let typed = Array(type.utf8) + body
        let crc = typed.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, UInt32($0.count))) }
        return bigEndian(UInt32(body.count)) + typed + bigEndian(crc)
    }
}
