/// Pillow's `ImageFilter.GaussianBlur(radius)` (libImaging/BoxBlur.c): not a sampled Gaussian
/// but three passes of an *extended* box blur per axis (Gwosdek et al., SSVM 2011), horizontal
/// passes first, then vertical ones, every pass rounded back to 8 bits.
///
/// The box's radius r = l + a has an integer part l and a fraction a, chosen so that three passes
/// have variance radius² (`boxRadius`, in C `float`). One pass gives each pixel weight
/// ww = ⌊2^24 / (2r + 1)⌋ inside ±l and fw = (2^24 − (2l + 1) · ww) / 2 to the two pixels at ±(l + 1),
/// in 8.24 fixed point, rounded (+2^23, >> 24); pixels beyond the edges repeat the edge pixel.
enum PILGaussianBlur {
    /// Pillow's `_gaussian_blur_radius(radius, passes)`, with its float and double steps.
    static func boxRadius(_ radius: Float, passes: Int = 3) -> Float {
        let sigma2: Float = radius * radius / Float(passes)
        let bigL = Float((12.0 * Double(sigma2) + 1.0).squareRoot())
        let l = Float(((Double(bigL) - 1.0) / 2.0).rounded(.down))
        var a: Float = (2 * l + 1) * (l * (l + 1) - 3 * sigma2)
        a /= 6 * (sigma2 - (l + 1) * (l + 1))
        return l + a
    }

    /// Blurs `image` in place as `image.filter(ImageFilter.GaussianBlur(radius))` does; `radius`
    /// is converted to a C float first (Pillow parses it with "f"). A zero radius is a copy.
    static func apply(_ image: inout ByteImage, radius: Double) {
        let r = boxRadius(Float(radius))
        guard r != 0, image.width > 0, image.height > 0 else { return }
        let h = image.height, w = image.width, c = image.channels
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 2 * max(h, w)) { buffer in
            let line = UnsafeMutableBufferPointer(rebasing: buffer[0..<max(h, w)])
            let out = UnsafeMutableBufferPointer(rebasing: buffer[max(h, w)...])
            image.values.withUnsafeMutableBufferPointer { v in
                // Horizontal passes over each row and channel, then vertical passes over each column.
                for (length, count, step, lineStride) in [(w, h, c, w * c), (h, w, w * c, c)] {
                    for k in 0..<count {
                        for ch in 0..<c {
                            let base = k * lineStride + ch
                            for x in 0..<length { line[x] = v[base + x * step] }
                            for _ in 0..<3 {
                                blurLine(line, into: out, length: length, radius: r)
                                for x in 0..<length { line[x] = out[x] }
                            }
                            for x in 0..<length { v[base + x * step] = line[x] }
                        }
                    }
                }
            }
        }
    }

    /// `ImagingLineBoxBlur8`: one extended-box pass over `length` values.
    static func blurLine(_ input: UnsafeMutableBufferPointer<UInt8>, into output: UnsafeMutableBufferPointer<UInt8>,
                         length: Int, radius floatRadius: Float) {
        let radius = Int(floatRadius)
        let ww = UInt32(Float(UInt32(1 << 24)) / (floatRadius * 2 + 1))
        let fw = (UInt32(1 << 24) &- UInt32(radius * 2 + 1) &* ww) / 2
        let lastx = length - 1
        let edgeA = min(radius + 1, length), edgeB = max(length - radius - 1, 0)
        @inline(__always) func at(_ x: Int) -> UInt32 { UInt32(input[x]) }
        @inline(__always) func move(_ acc: inout UInt32, _ subtract: Int, _ add: Int) {
            acc = acc &+ UInt32(bitPattern: Int32(input[add]) - Int32(input[subtract]))
        }
        @inline(__always) func save(_ x: Int, _ acc: UInt32, _ left: Int, _ right: Int) {
            let bulk = acc &* ww &+ (at(left) &+ at(right)) &* fw
            output[x] = UInt8(truncatingIfNeeded: (bulk &+ (1 << 23)) >> 24)
        }
        var acc = at(0) &* UInt32(radius + 1)
        for x in 0..<max(0, edgeA - 1) { acc = acc &+ at(x) }
        acc = acc &+ at(lastx) &* UInt32(bitPattern: Int32(radius - edgeA + 1))
        if edgeA <= edgeB {
            for x in 0..<edgeA { move(&acc, 0, x + radius); save(x, acc, 0, x + radius + 1) }
            for x in edgeA..<edgeB { move(&acc, x - radius - 1, x + radius); save(x, acc, x - radius - 1, x + radius + 1) }
            for x in edgeB...lastx { move(&acc, x - radius - 1, lastx); save(x, acc, x - radius - 1, lastx) }
        } else {
            for x in 0..<edgeB { move(&acc, 0, x + radius); save(x, acc, 0, x + radius + 1) }
            for x in edgeB..<edgeA { move(&acc, 0, lastx); save(x, acc, 0, lastx) }
            for x in edgeA..<length { move(&acc, x - radius - 1, lastx); save(x, acc, x - radius - 1, lastx) }
        }
    }
}
