import Foundation

extension AugmentationPipeline {
    /// Draws the random choices of one view of a height × width image, step by step in
    /// torchvision's order: `RandomResizedCrop.get_params`, the flip coin (`rand < p`), the
    /// `RandomApply` coin (skip when `p < rand`), then `ColorJitter.get_params` (the permutation
    /// first, then brightness, contrast, saturation and hue factors, each only when jittered), the
    /// grayscale coin. The draws come from this package's generator, not torch's: the same
    /// distributions, not the same numbers.
    public func draw(height: Int, width: Int, random: inout AugmentationRandom) -> AugmentationParameters {
        var h = height, w = width
        var drawn: [AugmentationStepParameters] = []
        drawn.reserveCapacity(steps.count)
        for step in steps {
            switch step {
            case let .randomResizedCrop(size, scaleMin, scaleMax, ratioMin, ratioMax):
                let box = AugmentationPipeline.randomResizedCropBox(height: h, width: w, scale: scaleMin...scaleMax,
                                                                    ratio: ratioMin...ratioMax, random: &random)
                drawn.append(.crop(CropBox(top: box.top, left: box.left, height: box.height, width: box.width)))
                h = size; w = size
            case let .randomCrop(size, padding):
                let paddedHeight = h + 2 * padding, paddedWidth = w + 2 * padding
                precondition(paddedHeight >= size && paddedWidth >= size,
                             "random_crop: \(size)×\(size) larger than the padded \(paddedHeight)×\(paddedWidth) image")
                let top = random.below(paddedHeight - size + 1), left = random.below(paddedWidth - size + 1)
                drawn.append(.crop(CropBox(top: top - padding, left: left - padding, height: size, width: size)))
                h = size; w = size
            case let .resize(size):
                (h, w) = ResizeGeometry.resizedShorterSide(height: h, width: w, size: size)
                drawn.append(.fixed)
            case let .centerCrop(size):
                h = size; w = size
                drawn.append(.fixed)
            case let .horizontalFlip(p):
                drawn.append(.flip(random.uniform() < p))
            case let .colorJitter(b, c, s, hue, p):
                if p < random.uniform() {
                    drawn.append(.colorJitter(nil))
                } else {
                    let order = random.permutation(4)
                    let brightness = b > 0 ? random.uniform(max(0, 1 - b), 1 + b) : nil
                    let contrast = c > 0 ? random.uniform(max(0, 1 - c), 1 + c) : nil
                    let saturation = s > 0 ? random.uniform(max(0, 1 - s), 1 + s) : nil
                    let shift = hue > 0 ? random.uniform(-hue, hue) : nil
                    drawn.append(.colorJitter(ColorJitterParameters(order: order, brightness: brightness, contrast: contrast,
                                                                    saturation: saturation, hue: shift)))
                }
            case let .grayscale(p):
                drawn.append(.grayscale(random.uniform() < p))
            case let .gaussianBlur(low, high, p):
                drawn.append(.blur(p < random.uniform() ? nil : random.uniform(low, high)))
            case .normalize:
                drawn.append(.fixed)
            }
        }
        return AugmentationParameters(steps: drawn)
    }

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
}
