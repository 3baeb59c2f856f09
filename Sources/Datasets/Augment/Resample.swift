/// Pillow's bilinear taps for one axis of a resize (libImaging/Resample.c, `precompute_coeffs` and
/// `normalize_coeffs_8bpc`): for output `i`, input `start[i]` … and `count[i]` fixed-point
/// weights at `weights[i · stride ...]`.
///
/// The triangle filter is widened by the scale when shrinking (antialiasing) and is plain
/// bilinear between pixel centres when enlarging; taps are clipped to the source and the weights
/// renormalised over what is left, in Double; then each weight becomes an integer with
/// `precisionBits` fraction bits, rounded half away from zero.
struct ResampleCoefficients: Sendable {
    /// Pillow's `PRECISION_BITS` (32 − 8 − 2): room for 8-bit values and two bits of overflow.
    static let precisionBits: Int32 = 22

    var start: [Int] = []
    var count: [Int] = []
    var weights: [Int32] = []
    var stride = 0

    /// Taps for resizing an axis of `inputSize` pixels (the whole axis, as after PIL's crop) to
    /// `outputSize` pixels.
    mutating func prepare(inputSize: Int, outputSize: Int) {
        // Pillow's box is (float in0, float in1) = (0, inputSize); the scale is in Double.
        let scale = Double(inputSize) / Double(outputSize)
        let filterScale = max(scale, 1)
        let support = 1.0 * filterScale  // the bilinear filter's support is 1
        let inverseFilterScale = 1.0 / filterScale
        stride = Int(support.rounded(.up)) * 2 + 1
        start.removeAll(keepingCapacity: true)
        count.removeAll(keepingCapacity: true)
        weights.removeAll(keepingCapacity: true)
        weights.reserveCapacity(stride * outputSize)
        let one = Double(1 << ResampleCoefficients.precisionBits)
        withUnsafeTemporaryAllocation(of: Double.self, capacity: stride) { k in
            for i in 0..<outputSize {
                let center = (Double(i) + 0.5) * scale
                // C's (int) truncates toward zero, as Swift's Int(_:) does.
                let first = max(Int(center - support + 0.5), 0)
                let n = min(Int(center + support + 0.5), inputSize) - first
                var total = 0.0
                for x in 0..<max(n, 0) {
                    var t = (Double(x + first) - center + 0.5) * inverseFilterScale
                    if t < 0 { t = -t }
                    let w = t < 1 ? 1 - t : 0
                    k[x] = w
                    total += w
                }
                if total != 0 { for x in 0..<max(n, 0) { k[x] /= total } }
                for x in 0..<stride {
                    let w = x < n ? k[x] : 0
                    weights.append(Int32(w < 0 ? -0.5 + w * one : 0.5 + w * one))
                }
                start.append(first)
                count.append(max(n, 0))
            }
        }
    }
}

/// Geometry helpers shared by `resize` and the crops.
enum ResizeGeometry {
    /// torchvision's `Resize(size)` with an int size: the shorter side becomes `size`, the longer
    /// `int(size · long / short)`.
    static func resizedShorterSide(height: Int, width: Int, size: Int) -> (Int, Int) {
        if height <= width { return (size, Int(Double(size) * Double(width) / Double(height))) }
        return (Int(Double(size) * Double(height) / Double(width)), size)
    }
}

extension AugmentationScratch {
    /// PIL's `img.crop(box).resize((outWidth, outHeight), BILINEAR)` on `front`, into `front`.
    ///
    /// As Pillow's `ImagingResample`: a horizontal pass over the rows the vertical taps use, its
    /// sums rounded (`+ 2^21`, `>> 22`) and clipped to 8 bits, then a vertical pass over those
    /// bytes, rounded and clipped again. A pass whose size does not change is skipped (Pillow
    /// skips it too; its taps would be the identity). Taps stay inside the box: the crop comes
    /// first, so edge weights renormalise within it.
    mutating func resizeFront(box: CropBox, outHeight: Int, outWidth: Int) {
        let c = front.channels, inW = front.width
        let needHorizontal = outWidth != box.width, needVertical = outHeight != box.height
        back.reshape(height: outHeight, width: outWidth, channels: c)
        if !needHorizontal && !needVertical {
            front.values.withUnsafeBufferPointer { src in
                back.values.withUnsafeMutableBufferPointer { dst in
                    let rowLength = box.width * c
                    for y in 0..<box.height {
                        let from = ((box.top + y) * inW + box.left) * c
                        for k in 0..<rowLength { dst[y * rowLength + k] = src[from + k] }
                    }
                }
            }
            swap(&front, &back)
            return
        }
        // The rows of the box the vertical pass reads (all of them when it is skipped).
        var rowLow = 0, rowHigh = box.height
        if needVertical {
            vertical.prepare(inputSize: box.height, outputSize: outHeight)
            rowLow = vertical.start[0]
            rowHigh = vertical.start[outHeight - 1] + vertical.count[outHeight - 1]
        }
        let rounding: Int32 = 1 << (ResampleCoefficients.precisionBits - 1)
        let shift = ResampleCoefficients.precisionBits
        // Horizontal pass: rows rowLow ..< rowHigh of the box, box.width → outWidth, into `rows`.
        let rowCount = rowHigh - rowLow
        let passWidth = needHorizontal ? outWidth : box.width
        rows.resize(to: rowCount * passWidth * c, filler: 0)
        front.values.withUnsafeBufferPointer { src in
            rows.withUnsafeMutableBufferPointer { tmp in
                if needHorizontal {
                    horizontal.prepare(inputSize: box.width, outputSize: outWidth)
                    let hs = horizontal.stride
                    horizontal.weights.withUnsafeBufferPointer { kw in
                        horizontal.start.withUnsafeBufferPointer { starts in
                            horizontal.count.withUnsafeBufferPointer { counts in
                                for r in 0..<rowCount {
                                    let srcRow = ((box.top + rowLow + r) * inW + box.left) * c
                                    let dstRow = r * outWidth * c
                                    for j in 0..<outWidth {
                                        let s = srcRow + starts[j] * c, n = counts[j], k = j * hs
                                        for ch in 0..<c {
                                            var acc = rounding
                                            for t in 0..<n { acc &+= Int32(src[s + t * c + ch]) &* kw[k + t] }
                                            tmp[dstRow + j * c + ch] = ResampleCoefficients.clip8(acc >> shift)
                                        }
                                    }
                                }
                            }
                        }
                    }
                } else {
                    let rowLength = box.width * c
                    for r in 0..<rowCount {
                        let from = ((box.top + rowLow + r) * inW + box.left) * c
                        for k in 0..<rowLength { tmp[r * rowLength + k] = src[from + k] }
                    }
                }
            }
        }
        if needVertical {
            rows.withUnsafeBufferPointer { tmp in
                back.values.withUnsafeMutableBufferPointer { dst in
                    vertical.weights.withUnsafeBufferPointer { kw in
                        let rowLength = outWidth * c, vs = vertical.stride
                        withUnsafeTemporaryAllocation(of: Int32.self, capacity: rowLength) { acc in
                            for i in 0..<outHeight {
                                let s = vertical.start[i] - rowLow, n = vertical.count[i]
                                for k in 0..<rowLength { acc[k] = rounding }
                                for t in 0..<n {
                                    let w = kw[i * vs + t], base = (s + t) * rowLength
                                    for k in 0..<rowLength { acc[k] &+= Int32(tmp[base + k]) &* w }
                                }
                                let out = i * rowLength
                                for k in 0..<rowLength { dst[out + k] = ResampleCoefficients.clip8(acc[k] >> shift) }
                            }
                        }
                    }
                }
            }
        } else {
            rows.withUnsafeBufferPointer { tmp in
                back.values.withUnsafeMutableBufferPointer { dst in
                    for k in 0..<dst.count { dst[k] = tmp[k] }
                }
            }
        }
        swap(&front, &back)
    }

    /// Copies the window at (top, left) of size outHeight × outWidth of `front` into `front`;
    /// pixels outside the image are 0 (torchvision's constant padding).
    mutating func cropFront(top: Int, left: Int, outHeight: Int, outWidth: Int) {
        let c = front.channels, inH = front.height, inW = front.width
        back.reshape(height: outHeight, width: outWidth, channels: c)
        front.values.withUnsafeBufferPointer { src in
            back.values.withUnsafeMutableBufferPointer { dst in
                for y in 0..<outHeight {
                    let sy = top + y
                    for x in 0..<outWidth {
                        let sx = left + x
                        let inside = sy >= 0 && sy < inH && sx >= 0 && sx < inW
                        for ch in 0..<c {
                            dst[(y * outWidth + x) * c + ch] = inside ? src[(sy * inW + sx) * c + ch] : 0
                        }
                    }
                }
            }
        }
        swap(&front, &back)
    }

    /// Mirrors `front` left to right in place (`Image.transpose(FLIP_LEFT_RIGHT)`).
    mutating func flipFront() {
        let c = front.channels, w = front.width
        front.values.withUnsafeMutableBufferPointer { v in
            for y in 0..<front.height {
                let row = y * w * c
                for x in 0..<(w / 2) {
                    for ch in 0..<c { v.swapAt(row + x * c + ch, row + (w - 1 - x) * c + ch) }
                }
            }
        }
    }
}

extension ResampleCoefficients {
    /// Pillow's `clip8` after the shift: the value clamped to 0 … 255.
    @inline(__always)
    static func clip8(_ value: Int32) -> UInt8 {
        UInt8(truncatingIfNeeded: min(max(value, 0), 255))
    }
}
