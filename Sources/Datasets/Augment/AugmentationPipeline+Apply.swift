import Foundation

extension AugmentationPipeline {
    /// torchvision's `RandomResizedCrop.get_params`: (top, left, height, width) of the crop of a
    /// height × width image.
    public static func randomResizedCropBox(height: Int, width: Int, scale: ClosedRange<Double>, ratio: ClosedRange<Double>,
                                            random: inout AugmentationRandom) -> (top: Int, left: Int, height: Int, width: Int) {
        let area = Double(height * width)
        let logLow = log(ratio.lowerBound), logHigh = log(ratio.upperBound)
        for _ in 0..<10 {
            let targetArea = area * random.uniform(scale.lowerBound, scale.upperBound)
            let aspect = exp(random.uniform(logLow, logHigh))
            let w = Int((targetArea * aspect).squareRoot().rounded(.toNearestOrEven))
            let h = Int((targetArea / aspect).squareRoot().rounded(.toNearestOrEven))
            if w > 0, w <= width, h > 0, h <= height {
                let top = random.below(height - h + 1)
                let left = random.below(width - w + 1)
                return (top, left, h, w)
            }
        }
        // Fallback: the whole image, clamped to the ratio range, centred.
        let inRatio = Double(width) / Double(height)
        var w = width, h = height
        if inRatio < ratio.lowerBound {
            h = Int((Double(w) / ratio.lowerBound).rounded(.toNearestOrEven))
        } else if inRatio > ratio.upperBound {
            w = Int((Double(h) * ratio.upperBound).rounded(.toNearestOrEven))
        }
        return ((height - h) / 2, (width - w) / 2, h, w)
    }

    /// Makes one view of an 8-bit H × W × C image and writes it, channels last, into `output`
    /// (which must hold exactly the output size × C values).
    ///
    /// Random draws come only from `random`; buffers come from `scratch`.
    public func augment(_ pixels: UnsafeBufferPointer<UInt8>, height: Int, width: Int, channels: Int,
                        random: inout AugmentationRandom, scratch: inout AugmentationScratch,
                        into output: UnsafeMutableBufferPointer<Float>) {
        scratch.front.load(pixels, height: height, width: width, channels: channels)
        var mean: [Double] = [], std: [Double] = []
        for step in steps {
            apply(step, random: &random, scratch: &scratch, mean: &mean, std: &std)
        }
        let image = scratch.front
        precondition(output.count == image.values.count,
                     "AugmentationPipeline.augment: output holds \(output.count) values, the view has \(image.height)×\(image.width)×\(image.channels)")
        let c = image.channels
        if mean.isEmpty {
            image.values.withUnsafeBufferPointer { v in
                _ = output.initialize(from: v)
            }
        } else {
            precondition(mean.count == c || mean.count == 1,
                         "AugmentationPipeline.augment: normalize has \(mean.count) means for \(c) channels")
            // (x − mean) / std exactly as torchvision's Normalize, not a fused multiply-add.
            var meanC = [Float](repeating: 0, count: c), stdC = meanC
            for ch in 0..<c {
                meanC[ch] = Float(mean.count == 1 ? mean[0] : mean[ch])
                stdC[ch] = Float(std.count == 1 ? std[0] : std[ch])
            }
            image.values.withUnsafeBufferPointer { v in
                for p in 0..<(v.count / c) {
                    for ch in 0..<c { output[p * c + ch] = (v[p * c + ch] - meanC[ch]) / stdC[ch] }
                }
            }
        }
    }

    /// One view as a `WorkImage` (tests and tools; the loader writes into its batch instead).
    public func augmented(_ pixels: [UInt8], height: Int, width: Int, channels: Int,
                          random: inout AugmentationRandom) -> WorkImage {
        var scratch = AugmentationScratch()
        let size = outputSize(height: height, width: width)
        var out = WorkImage()
        out.reshape(height: size.height, width: size.width, channels: channels)
        pixels.withUnsafeBufferPointer { p in
            out.values.withUnsafeMutableBufferPointer { o in
                augment(p, height: height, width: width, channels: channels, random: &random, scratch: &scratch, into: o)
            }
        }
        return out
    }

    private func apply(_ step: AugmentationStep, random: inout AugmentationRandom, scratch: inout AugmentationScratch,
                       mean: inout [Double], std: inout [Double]) {
        switch step {
        case let .randomResizedCrop(size, scaleMin, scaleMax, ratioMin, ratioMax):
            let box = AugmentationPipeline.randomResizedCropBox(height: scratch.front.height, width: scratch.front.width,
                                                                scale: scaleMin...scaleMax, ratio: ratioMin...ratioMax,
                                                                random: &random)
            scratch.resampleFront(x0: Double(box.left), y0: Double(box.top), x1: Double(box.left + box.width),
                                  y1: Double(box.top + box.height), outHeight: size, outWidth: size)
        case let .randomCrop(size, padding):
            let h = scratch.front.height + 2 * padding, w = scratch.front.width + 2 * padding
            precondition(h >= size && w >= size, "random_crop: \(size)×\(size) larger than the padded \(h)×\(w) image")
            let top = random.below(h - size + 1), left = random.below(w - size + 1)
            scratch.cropFront(top: top - padding, left: left - padding, outHeight: size, outWidth: size)
        case let .resize(size):
            let (h, w) = ResizeGeometry.resizedShorterSide(height: scratch.front.height, width: scratch.front.width, size: size)
            if h != scratch.front.height || w != scratch.front.width {
                scratch.resampleFront(x0: 0, y0: 0, x1: Double(scratch.front.width), y1: Double(scratch.front.height),
                                      outHeight: h, outWidth: w)
            }
        case let .centerCrop(size):
            let top = Int((Double(scratch.front.height - size) / 2).rounded(.toNearestOrEven))
            let left = Int((Double(scratch.front.width - size) / 2).rounded(.toNearestOrEven))
            scratch.cropFront(top: top, left: left, outHeight: size, outWidth: size)
        case let .horizontalFlip(p):
            if random.uniform() < p { scratch.flipFront() }
        case let .colorJitter(b, c, s, h, p):
            // RandomApply skips when p < u.
            if p < random.uniform() { return }
            let order = random.permutation(4)
            let brightness = b > 0 ? Float(random.uniform(max(0, 1 - b), 1 + b)) : nil
            let contrast = c > 0 ? Float(random.uniform(max(0, 1 - c), 1 + c)) : nil
            let saturation = s > 0 ? Float(random.uniform(max(0, 1 - s), 1 + s)) : nil
            let hue = h > 0 ? Float(random.uniform(-h, h)) : nil
            for op in order {
                switch op {
                case 0: if let brightness { ColorAdjust.brightness(&scratch.front, factor: brightness) }
                case 1: if let contrast { ColorAdjust.contrast(&scratch.front, factor: contrast) }
                case 2: if let saturation { ColorAdjust.saturation(&scratch.front, factor: saturation) }
                default: if let hue { ColorAdjust.hue(&scratch.front, shift: hue) }
                }
            }
        case let .grayscale(p):
            if random.uniform() < p { ColorAdjust.grayscale(&scratch.front) }
        case let .normalize(m, s):
            mean = m
            std = s
        }
    }
}
