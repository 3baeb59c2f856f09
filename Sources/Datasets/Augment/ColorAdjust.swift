/// torchvision's tensor colour adjustments on a [0, 1] image, in place. Each `_blend` result is
/// clamped to [0, 1] as torchvision does for float images.
enum ColorAdjust {
    /// ITU-R 601-2 luma weights of torchvision's `rgb_to_grayscale`.
    static let luma: (Float, Float, Float) = (0.2989, 0.587, 0.114)

    /// `adjust_brightness`: x · factor.
    static func brightness(_ image: inout WorkImage, factor: Float) {
        image.values.withUnsafeMutableBufferPointer { v in
            for k in 0..<v.count { v[k] = min(max(v[k] * factor, 0), 1) }
        }
    }

    /// `adjust_contrast`: blend with the mean of the grayscale image (of the image itself when it
    /// has one channel).
    static func contrast(_ image: inout WorkImage, factor: Float) {
        let c = image.channels
        var mean: Float = 0
        image.values.withUnsafeBufferPointer { v in
            var total: Double = 0
            if c == 3 {
                for p in 0..<(v.count / 3) {
                    total += Double(luma.0 * v[3 * p] + luma.1 * v[3 * p + 1] + luma.2 * v[3 * p + 2])
                }
            } else {
                for k in 0..<v.count { total += Double(v[k]) }
            }
            mean = Float(total / Double(max(1, v.count / c)))
        }
        let offset = (1 - factor) * mean
        image.values.withUnsafeMutableBufferPointer { v in
            for k in 0..<v.count { v[k] = min(max(factor * v[k] + offset, 0), 1) }
        }
    }

    /// `adjust_saturation`: blend each pixel with its gray value; 1-channel images unchanged.
    static func saturation(_ image: inout WorkImage, factor: Float) {
        guard image.channels == 3 else { return }
        image.values.withUnsafeMutableBufferPointer { v in
            for p in 0..<(v.count / 3) {
                let gray = luma.0 * v[3 * p] + luma.1 * v[3 * p + 1] + luma.2 * v[3 * p + 2]
                let offset = (1 - factor) * gray
                for ch in 0..<3 { v[3 * p + ch] = min(max(factor * v[3 * p + ch] + offset, 0), 1) }
            }
        }
    }

    /// `grayscale` with 3 output channels: every channel becomes the luma; 1-channel unchanged.
    static func grayscale(_ image: inout WorkImage) {
        guard image.channels == 3 else { return }
        image.values.withUnsafeMutableBufferPointer { v in
            for p in 0..<(v.count / 3) {
                let gray = luma.0 * v[3 * p] + luma.1 * v[3 * p + 1] + luma.2 * v[3 * p + 2]
                v[3 * p] = gray; v[3 * p + 1] = gray; v[3 * p + 2] = gray
            }
        }
    }

    /// `adjust_hue`: rotate the hue by `shift` (a fraction of the circle, in [−0.5, 0.5]) through
    /// HSV; 1-channel images unchanged.
    static func hue(_ image: inout WorkImage, shift: Float) {
        guard image.channels == 3 else { return }
        image.values.withUnsafeMutableBufferPointer { v in
            for p in 0..<(v.count / 3) {
                let (h, s, value) = rgbToHSV(v[3 * p], v[3 * p + 1], v[3 * p + 2])
                // (h + shift) mod 1 for h in [0, 1), shift in [−0.5, 0.5]: one exact correction.
                var shifted = h + shift
                if shifted < 0 { shifted += 1 } else if shifted >= 1 { shifted -= 1 }
                let (r, g, b) = hsvToRGB(shifted, s, value)
                v[3 * p] = r; v[3 * p + 1] = g; v[3 * p + 2] = b
            }
        }
    }

    /// torchvision's `_rgb2hsv` for one pixel: hue in [0, 1).
    static func rgbToHSV(_ r: Float, _ g: Float, _ b: Float) -> (Float, Float, Float) {
        let maxc = max(r, g, b), minc = min(r, g, b)
        let chroma = maxc - minc
        guard chroma > 0 else { return (0, 0, maxc) }
        let s = chroma / maxc
        let rc = (maxc - r) / chroma, gc = (maxc - g) / chroma, bc = (maxc - b) / chroma
        let h: Float
        if maxc == r { h = bc - gc } else if maxc == g { h = 2 + rc - bc } else { h = 4 + gc - rc }
        // fmod(h / 6 + 1, 1) with h / 6 + 1 in [5/6, 2): subtracting 1 is exact and the same.
        var hue = h / 6 + 1
        if hue >= 1 { hue -= 1 }
        return (hue, s, maxc)
    }

    /// torchvision's `_hsv2rgb` for one pixel.
    static func hsvToRGB(_ h: Float, _ s: Float, _ v: Float) -> (Float, Float, Float) {
        let scaled = h * 6
        let sector = scaled.rounded(.down)
        let f = scaled - sector
        let i = ((Int(sector) % 6) + 6) % 6
        let p = min(max(v * (1 - s), 0), 1)
        let q = min(max(v * (1 - s * f), 0), 1)
        let t = min(max(v * (1 - s * (1 - f)), 0), 1)
        switch i {
        case 0: return (v, t, p)
        case 1: return (q, v, p)
        case 2: return (p, v, t)
        case 3: return (p, q, v)
        case 4: return (t, p, v)
        default: return (v, p, q)
        }
    }
}
