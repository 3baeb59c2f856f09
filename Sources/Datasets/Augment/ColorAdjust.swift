/// torchvision's PIL colour adjustments (`transforms/_functional_pil.py`) on an 8-bit image, in
/// place, with Pillow's integer and single-precision arithmetic: `ImageEnhance` blends, PIL's
/// 'L' conversion, and the hue rotation through PIL's 'HSV' mode.
enum ColorAdjust {
    /// `Image.blend(degenerate, image, alpha)` for one value (libImaging/Blend.c): the factor is a
    /// C `float`, the arithmetic single precision, the result clipped to 0 … 255 and truncated
    /// (not rounded) to 8 bits.
    @inline(__always)
    static func blend(_ degenerate: Int32, _ value: Int32, alpha: Float) -> UInt8 {
        let t = Float(degenerate) + alpha * Float(value &- degenerate)
        if t <= 0 { return 0 }
        if t >= 255 { return 255 }
        return UInt8(t)
    }

    /// PIL's RGB → L: ITU-R 601-2 luma in 16-bit fixed point, (19595 R + 38470 G + 7471 B + 2^15) >> 16.
    @inline(__always)
    static func luma(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> Int32 {
        (Int32(r) &* 19595 &+ Int32(g) &* 38470 &+ Int32(b) &* 7471 &+ 0x8000) >> 16
    }

    /// Applies `map` (a 256-entry table) to every value.
    private static func apply(_ image: inout ByteImage, table: (Int32) -> UInt8) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { lut in
            for v in 0..<256 { lut[v] = table(Int32(v)) }
            image.values.withUnsafeMutableBufferPointer { v in
                for k in 0..<v.count { v[k] = lut[Int(v[k])] }
            }
        }
    }

    /// `adjust_brightness` = `ImageEnhance.Brightness`: blend with a black image.
    static func brightness(_ image: inout ByteImage, factor: Double) {
        let alpha = Float(factor)
        apply(&image) { blend(0, $0, alpha: alpha) }
    }

    /// `adjust_contrast` = `ImageEnhance.Contrast`: blend with a grey image of
    /// `int(mean + 0.5)`, the mean of the image's 'L' conversion (of the image when it has one
    /// channel), computed exactly from integer sums as `ImageStat` does.
    static func contrast(_ image: inout ByteImage, factor: Double) {
        var total = 0
        image.values.withUnsafeBufferPointer { v in
            if image.channels == 3 {
                for p in 0..<(v.count / 3) { total += Int(luma(v[3 * p], v[3 * p + 1], v[3 * p + 2])) }
            } else {
                for k in 0..<v.count { total += Int(v[k]) }
            }
        }
        let pixels = image.values.count / max(1, image.channels)
        let mean = pixels == 0 ? 0 : Int32(Double(total) / Double(pixels) + 0.5)
        let alpha = Float(factor)
        apply(&image) { blend(mean, $0, alpha: alpha) }
    }

    /// `adjust_saturation` = `ImageEnhance.Color`: blend each pixel with its 'L' value; 1-channel
    /// images unchanged (their degenerate image is themselves).
    static func saturation(_ image: inout ByteImage, factor: Double) {
        guard image.channels == 3 else { return }
        let alpha = Float(factor)
        image.values.withUnsafeMutableBufferPointer { v in
            for p in 0..<(v.count / 3) {
                let gray = luma(v[3 * p], v[3 * p + 1], v[3 * p + 2])
                for ch in 0..<3 { v[3 * p + ch] = blend(gray, Int32(v[3 * p + ch]), alpha: alpha) }
            }
        }
    }

    /// `rgb_to_grayscale(num_output_channels=3)`: `convert('L')` copied to all 3 channels;
    /// 1-channel images unchanged.
    static func grayscale(_ image: inout ByteImage) {
        guard image.channels == 3 else { return }
        image.values.withUnsafeMutableBufferPointer { v in
            for p in 0..<(v.count / 3) {
                let gray = UInt8(truncatingIfNeeded: luma(v[3 * p], v[3 * p + 1], v[3 * p + 2]))
                v[3 * p] = gray; v[3 * p + 1] = gray; v[3 * p + 2] = gray
            }
        }
    }

    /// `adjust_hue`: `convert('HSV')`, hue byte += `uint8(int32(shift · 255))` modulo 256 (numpy's
    /// truncation toward zero, then wrap-around), `convert('RGB')`; 1-channel images unchanged.
    static func hue(_ image: inout ByteImage, shift: Double) {
        guard image.channels == 3 else { return }
        let step = UInt8(truncatingIfNeeded: Int32(shift * 255))
        PILHSV.sectors.withUnsafeBufferPointer { sectors in
            PILHSV.saturations.withUnsafeBufferPointer { saturations in
                image.values.withUnsafeMutableBufferPointer { v in
                    for p in 0..<(v.count / 3) {
                        let (h, s, value) = PILHSV.fromRGB(v[3 * p], v[3 * p + 1], v[3 * p + 2])
                        let (i, f) = sectors[Int(h &+ step)]
                        let (r, g, b) = PILHSV.toRGB(sector: i, fraction: f, saturation: s, fs: saturations[Int(s)], value: value)
                        v[3 * p] = r; v[3 * p + 1] = g; v[3 * p + 2] = b
                    }
                }
            }
        }
    }
}

/// Pillow's 8-bit HSV conversions (libImaging/Convert.c `rgb2hsv_row`, `hsv2rgb`), with its mix
/// of `float` and `double` arithmetic reproduced operation by operation.
enum PILHSV {
    /// RGB → HSV bytes: hue and saturation scaled by 255 and truncated; value = max(R, G, B).
    @inline(__always)
    static func fromRGB(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> (UInt8, UInt8, UInt8) {
        let maxc = max(r, g, b), minc = min(r, g, b)
        guard maxc != minc else { return (0, 0, maxc) }
        let cr = Float(maxc - minc)
        let s = cr / Float(maxc)
        // Only the two of rc, gc, bc that the branch uses are computed (the same Float divisions).
        var h: Float
        if r == maxc {
            h = Float(maxc - b) / cr - Float(maxc - g) / cr
        } else if g == maxc {
            h = Float(2.0 + Double(Float(maxc - r) / cr) - Double(Float(maxc - b) / cr))
        } else {
            h = Float(4.0 + Double(Float(maxc - g) / cr) - Double(Float(maxc - r) / cr))
        }
        // fmod(h / 6 + 1, 1) with h / 6 + 1 in [5/6, 11/6]: subtracting 1 is exact and the same.
        var wrapped = Double(h) / 6.0 + 1.0
        if wrapped >= 1 { wrapped -= 1 }
        h = Float(wrapped)
        return (clip8(Int32(Double(h) * 255.0)), clip8(Int32(Double(s) * 255.0)), maxc)
    }

    /// For each hue byte h: Pillow's sector i = floor(h · 6 / 255) and fraction f (a Float).
    static let sectors: [(Int, Float)] = (0..<256).map { h in
        let scaled = Double(Float(h)) * 6.0 / 255.0
        let i = Int(scaled)  // floor: scaled ≥ 0
        return (i, Float(scaled - Double(i)))
    }

    /// For each saturation byte s: Pillow's fs = s / 255 (a Float).
    static let saturations: [Float] = (0..<256).map { Float(Double(Float($0)) / 255.0) }

    /// HSV bytes → RGB, each of p, q, t rounded half away from zero.
    static func toRGB(_ h: UInt8, _ s: UInt8, _ v: UInt8) -> (UInt8, UInt8, UInt8) {
        let (i, f) = sectors[Int(h)]
        return toRGB(sector: i, fraction: f, saturation: s, fs: saturations[Int(s)], value: v)
    }

    /// `toRGB` with the hue's sector and fraction and the saturation's fs looked up already.
    @inline(__always)
    static func toRGB(sector i: Int, fraction f: Float, saturation s: UInt8, fs: Float, value v: UInt8) -> (UInt8, UInt8, UInt8) {
        guard s != 0 else { return (v, v, v) }
        let value = Double(Float(v))
        // Each sector uses p and one of q, t: only those are computed.
        let p = roundHalfAway(value * (1.0 - Double(fs)))
        switch i % 6 {
        case 0: return (v, roundHalfAway(value * (1.0 - Double(fs) * (1.0 - Double(f)))), p)
        case 1: return (roundHalfAway(value * (1.0 - Double(fs * f))), v, p)
        case 2: return (p, v, roundHalfAway(value * (1.0 - Double(fs) * (1.0 - Double(f)))))
        case 3: return (p, roundHalfAway(value * (1.0 - Double(fs * f))), v)
        case 4: return (roundHalfAway(value * (1.0 - Double(fs) * (1.0 - Double(f)))), p, v)
        default: return (v, p, roundHalfAway(value * (1.0 - Double(fs * f))))
        }
    }

    /// C's `round` then `CLIP8` for 0 ≤ x ≤ 255 (p, q, t are never negative): truncate, then add
    /// one when the exact remainder is at least one half — libm's `round` without the call.
    @inline(__always)
    private static func roundHalfAway(_ x: Double) -> UInt8 {
        var n = Int32(x)
        if x - Double(n) >= 0.5 { n += 1 }
        return clip8(n)
    }

    @inline(__always)
    private static func clip8(_ x: Int32) -> UInt8 {
        UInt8(truncatingIfNeeded: min(max(x, 0), 255))
    }
}
