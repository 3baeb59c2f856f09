/// Per-output-pixel filter taps of a 1-D resampling: for output `i`, input `start[i]` … and
/// `count[i]` weights at `weights[i · stride ...]`.
struct ResampleCoefficients: Sendable {
    var start: [Int] = []
    var count: [Int] = []
    var weights: [Float] = []
    var stride = 0

    /// PIL's bilinear (triangle filter) taps for the source interval [low, high) of an axis of
    /// `inputSize` pixels onto `outputSize` pixels. When shrinking, the filter widens by the
    /// scale (antialiasing, as PIL and torchvision's `antialias=True`); when enlarging it is
    /// plain bilinear interpolation between pixel centres (`align_corners=False`), edges clamped.
    mutating func prepare(low: Double, high: Double, inputSize: Int, outputSize: Int) {
        let scale = (high - low) / Double(outputSize)
        let filterScale = max(scale, 1)
        let support = filterScale
        stride = Int(support.rounded(.up)) * 2 + 1
        start.removeAll(keepingCapacity: true)
        count.removeAll(keepingCapacity: true)
        weights.removeAll(keepingCapacity: true)
        weights.reserveCapacity(stride * outputSize)
        for i in 0..<outputSize {
            let center = low + (Double(i) + 0.5) * scale
            let first = max(Int(center - support + 0.5), 0)
            let last = min(Int(center + support + 0.5), inputSize)
            let base = weights.count
            weights.append(contentsOf: repeatElement(0, count: stride))
            var total = 0.0
            var n = 0
            for x in first..<max(first, last) where n < stride {
                let w = max(0, 1 - abs((Double(x) - center + 0.5) / filterScale))
                weights[base + n] = Float(w)
                total += w
                n += 1
            }
            if total > 0 { for k in 0..<n { weights[base + k] = Float(Double(weights[base + k]) / total) } }
            start.append(first)
            count.append(n)
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
    /// Resamples the box [x0, x1) × [y0, y1) of `front` (in pixels) to outHeight × outWidth into
    /// `front`, separably: rows first, then columns (PIL's order).
    mutating func resampleFront(x0: Double, y0: Double, x1: Double, y1: Double, outHeight: Int, outWidth: Int) {
        let c = front.channels, inW = front.width
        horizontal.prepare(low: x0, high: x1, inputSize: front.width, outputSize: outWidth)
        vertical.prepare(low: y0, high: y1, inputSize: front.height, outputSize: outHeight)
        // Only the source rows that the vertical taps touch are filtered horizontally.
        var rowLow = Int.max, rowHigh = 0
        for i in 0..<outHeight where vertical.count[i] > 0 {
            rowLow = min(rowLow, vertical.start[i])
            rowHigh = max(rowHigh, vertical.start[i] + vertical.count[i])
        }
        if rowLow > rowHigh { rowLow = 0; rowHigh = 0 }
        let rowCount = rowHigh - rowLow
        let needed = rowCount * outWidth * c
        if rows.count < needed { rows.append(contentsOf: repeatElement(0, count: needed - rows.count)) }
        back.reshape(height: outHeight, width: outWidth, channels: c)
        let hs = horizontal.stride, vs = vertical.stride
        front.values.withUnsafeBufferPointer { src in
            rows.withUnsafeMutableBufferPointer { tmp in
                horizontal.weights.withUnsafeBufferPointer { hw in
                    for r in 0..<rowCount {
                        let srcRow = (rowLow + r) * inW * c
                        let dstRow = r * outWidth * c
                        for j in 0..<outWidth {
                            let s = horizontal.start[j], n = horizontal.count[j]
                            for ch in 0..<c {
                                var acc: Float = 0
                                for t in 0..<n { acc += hw[j * hs + t] * src[srcRow + (s + t) * c + ch] }
                                tmp[dstRow + j * c + ch] = acc
                            }
                        }
                    }
                }
                back.values.withUnsafeMutableBufferPointer { dst in
                    vertical.weights.withUnsafeBufferPointer { vw in
                        let rowLength = outWidth * c
                        for i in 0..<outHeight {
                            let s = vertical.start[i] - rowLow, n = vertical.count[i]
                            let out = i * rowLength
                            for k in 0..<rowLength { dst[out + k] = 0 }
                            for t in 0..<n {
                                let w = vw[i * vs + t]
                                let base = (s + t) * rowLength
                                for k in 0..<rowLength { dst[out + k] += w * tmp[base + k] }
                            }
                        }
                    }
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

    /// Mirrors `front` left to right in place.
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
