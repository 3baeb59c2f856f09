extension AugmentationPipeline {
    /// Makes one view of an 8-bit H × W × C image and writes it, channels last, into `output`
    /// (which must hold exactly the output size × C values): `draw`, then `apply`.
    ///
    /// Random draws come only from `random`; buffers come from `scratch`.
    public func augment(_ pixels: UnsafeBufferPointer<UInt8>, height: Int, width: Int, channels: Int,
                        random: inout AugmentationRandom, scratch: inout AugmentationScratch,
                        into output: UnsafeMutableBufferPointer<Float>) {
        let parameters = draw(height: height, width: width, random: &random)
        apply(parameters, to: pixels, height: height, width: width, channels: channels, scratch: &scratch, into: output)
    }

    /// Makes the view that `parameters` (from `draw`, or torchvision's draws) describe and writes
    /// it, channels last, into `output`: every step on 8 bits as PIL does, then `ToTensor` (x / 255)
    /// and, when the pipeline ends with one, `Normalize` ((x − mean) / std), in Float.
    public func apply(_ parameters: AugmentationParameters, to pixels: UnsafeBufferPointer<UInt8>,
                      height: Int, width: Int, channels: Int, scratch: inout AugmentationScratch,
                      into output: UnsafeMutableBufferPointer<Float>) {
        precondition(parameters.steps.count == steps.count,
                     "AugmentationPipeline.apply: \(parameters.steps.count) parameters for \(steps.count) steps")
        scratch.front.load(pixels, height: height, width: width, channels: channels)
        var mean: [Double] = [], std: [Double] = []
        for (step, drawn) in zip(steps, parameters.steps) {
            apply(step, drawn, scratch: &scratch, mean: &mean, std: &std)
        }
        let image = scratch.front
        precondition(output.count == image.values.count,
                     "AugmentationPipeline.apply: output holds \(output.count) values, the view has \(image.height)×\(image.width)×\(image.channels)")
        AugmentationPipeline.toTensor(image, mean: mean, std: std, into: output)
    }

    /// One view as a `WorkImage` (tests and tools; the loader writes into its batch instead).
    public func augmented(_ pixels: [UInt8], height: Int, width: Int, channels: Int,
                          random: inout AugmentationRandom) -> WorkImage {
        augmented(pixels, height: height, width: width, channels: channels,
                  parameters: draw(height: height, width: width, random: &random))
    }

    /// The view that `parameters` describe, as a `WorkImage`.
    public func augmented(_ pixels: [UInt8], height: Int, width: Int, channels: Int,
                          parameters: AugmentationParameters) -> WorkImage {
        var scratch = AugmentationScratch()
        let size = outputSize(height: height, width: width)
        var out = WorkImage()
        out.reshape(height: size.height, width: size.width, channels: channels)
        pixels.withUnsafeBufferPointer { p in
            out.values.withUnsafeMutableBufferPointer { o in
                apply(parameters, to: p, height: height, width: width, channels: channels, scratch: &scratch, into: o)
            }
        }
        return out
    }

    private func apply(_ step: AugmentationStep, _ drawn: AugmentationStepParameters, scratch: inout AugmentationScratch,
                       mean: inout [Double], std: inout [Double]) {
        switch (step, drawn) {
        case let (.randomResizedCrop(size, _, _, _, _), .crop(box)):
            precondition(box.top >= 0 && box.left >= 0 && box.height > 0 && box.width > 0
                            && box.top + box.height <= scratch.front.height && box.left + box.width <= scratch.front.width,
                         "random_resized_crop: box \(box) outside the \(scratch.front.height)×\(scratch.front.width) image")
            scratch.resizeFront(box: box, outHeight: size, outWidth: size)
        case let (.randomCrop(size, _), .crop(box)):
            precondition(box.height == size && box.width == size, "random_crop: a \(box.height)×\(box.width) window for size \(size)")
            scratch.cropFront(top: box.top, left: box.left, outHeight: size, outWidth: size)
        case let (.resize(size), .fixed):
            let (h, w) = ResizeGeometry.resizedShorterSide(height: scratch.front.height, width: scratch.front.width, size: size)
            scratch.resizeFront(box: CropBox(top: 0, left: 0, height: scratch.front.height, width: scratch.front.width),
                                outHeight: h, outWidth: w)
        case let (.centerCrop(size), .fixed):
            // torchvision's center_crop: int(round((H − size) / 2)), zero padding when the image is smaller.
            let top = Int((Double(scratch.front.height - size) / 2).rounded(.toNearestOrEven))
            let left = Int((Double(scratch.front.width - size) / 2).rounded(.toNearestOrEven))
            scratch.cropFront(top: top, left: left, outHeight: size, outWidth: size)
        case let (.horizontalFlip, .flip(flip)):
            if flip { scratch.flipFront() }
        case let (.colorJitter, .colorJitter(jitter)):
            guard let jitter else { return }
            for op in jitter.order {
                switch op {
                case 0: if let f = jitter.brightness { ColorAdjust.brightness(&scratch.front, factor: f) }
                case 1: if let f = jitter.contrast { ColorAdjust.contrast(&scratch.front, factor: f) }
                case 2: if let f = jitter.saturation { ColorAdjust.saturation(&scratch.front, factor: f) }
                default: if let f = jitter.hue { ColorAdjust.hue(&scratch.front, shift: f) }
                }
            }
        case let (.grayscale, .grayscale(convert)):
            if convert { ColorAdjust.grayscale(&scratch.front) }
        case let (.gaussianBlur, .blur(sigma)):
            if let sigma { PILGaussianBlur.apply(&scratch.front, radius: sigma) }
        case let (.normalize(m, s), .fixed):
            mean = m
            std = s
        default:
            preconditionFailure("AugmentationPipeline.apply: parameters \(drawn) do not fit the step \(step)")
        }
    }

    /// `ToTensor` (x / 255 in Float) and, when `mean` is not empty, `Normalize` ((x − mean) / std in
    /// Float, not a fused multiply-add), channels last. A 256-entry table per channel holds exactly
    /// those Float results.
    static func toTensor(_ image: ByteImage, mean: [Double], std: [Double], into output: UnsafeMutableBufferPointer<Float>) {
        let c = image.channels
        precondition(mean.isEmpty || mean.count == c || mean.count == 1,
                     "AugmentationPipeline: normalize has \(mean.count) means for \(c) channels")
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 256 * c) { table in
            for ch in 0..<c {
                let m = mean.isEmpty ? nil : Float(mean.count == 1 ? mean[0] : mean[ch])
                let s = std.isEmpty ? nil : Float(std.count == 1 ? std[0] : std[ch])
                for v in 0..<256 {
                    let x = Float(v) / 255
                    if let m, let s { table[ch * 256 + v] = (x - m) / s } else { table[ch * 256 + v] = x }
                }
            }
            image.values.withUnsafeBufferPointer { v in
                if c == 1 {
                    for k in 0..<v.count { output[k] = table[Int(v[k])] }
                } else {
                    for p in 0..<(v.count / 3) {
                        output[3 * p] = table[Int(v[3 * p])]
                        output[3 * p + 1] = table[256 + Int(v[3 * p + 1])]
                        output[3 * p + 2] = table[512 + Int(v[3 * p + 2])]
                    }
                }
            }
        }
    }
}
