/// The shape of one 2-D max pooling over NHWC activations: a square window, stride and zero
/// padding that never wins (PyTorch's `nn.MaxPool2d(kernel, stride, padding)`, `ceil_mode=False`).
public struct MaxPool2DGeometry: Hashable, Sendable, CustomStringConvertible {
    /// Images (N), input height (H) and width (W) in pixels, channels (C).
    public var batch: Int, height: Int, width: Int, channels: Int
    /// Window side, step between windows and padding on each side, in pixels.
    public var kernelSize: Int, stride: Int, padding: Int

    /// A pooling of NHWC [batch, height, width, channels] with the given window.
    public init(batch: Int, height: Int, width: Int, channels: Int, kernelSize: Int, stride: Int, padding: Int) {
        self.batch = batch
        self.height = height
        self.width = width
        self.channels = channels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
    }

    /// Output height: `(H + 2·padding − kernel) / stride + 1`.
    public var outputHeight: Int { (height + 2 * padding - kernelSize) / stride + 1 }
    /// Output width: `(W + 2·padding − kernel) / stride + 1`.
    public var outputWidth: Int { (width + 2 * padding - kernelSize) / stride + 1 }
    /// Floats in the input.
    public var inputCount: Int { batch * height * width * channels }
    /// Floats (and indices) in the output.
    public var outputCount: Int { batch * outputHeight * outputWidth * channels }

    public var description: String { "N\(batch) \(height)x\(width)x\(channels) k\(kernelSize) s\(stride) p\(padding)" }

    /// Traps with the op name and geometry unless the sizes are usable. PyTorch also requires
    /// padding ≤ kernel / 2, so that every window holds at least one input pixel.
    func validate(_ op: String, input: Int, output: Int) {
        precondition(batch >= 0 && height > 0 && width > 0 && channels > 0 && kernelSize > 0 && stride > 0
                        && padding >= 0 && 2 * padding <= kernelSize,
                     "\(op): invalid geometry \(self) (padding must be at most half the kernel)")
        precondition(outputHeight > 0 && outputWidth > 0, "\(op): empty output for \(self)")
        precondition(input == inputCount && output == outputCount,
                     "\(op): \(self) needs \(inputCount) input and \(outputCount) output values, got \(input) and \(output)")
    }
}

/// Max pooling over NHWC, forward (with the argmax of each window) and backward.
public enum MaxPool2D {
    /// `output[n, oy, ox, c] = max over the window of input[n, ·, ·, c]`; `indices` gets the
    /// winner's pixel index y·W + x within its image (the first maximum in row-major window order,
    /// as PyTorch; a NaN wins).
    ///
    /// - Parameters:
    ///   - input: N × H × W × C floats.
    ///   - output, indices: N × OH × OW × C values, overwritten.
    public static func forward(_ g: MaxPool2DGeometry, input: UnsafeBufferPointer<Float>, output: UnsafeMutableBufferPointer<Float>,
                               indices: UnsafeMutableBufferPointer<Int32>, pool: ThreadPool = .shared) {
        g.validate("MaxPool2D.forward", input: input.count, output: output.count)
        precondition(indices.count == output.count, "MaxPool2D.forward: \(indices.count) indices for \(output.count) outputs")
        guard g.batch > 0 else { return }
        let x = input.baseAddress!, y = output.baseAddress!, at = indices.baseAddress!
        let (oh, ow, c) = (g.outputHeight, g.outputWidth, g.channels)
        pool.parallelFor(count: g.batch * oh) { rows in
            for row in rows {
                let n = row / oh, oy = row % oh
                let image = x + n * g.height * g.width * c
                let y0 = oy * g.stride - g.padding
                let yLow = Swift.max(y0, 0), yHigh = Swift.min(y0 + g.kernelSize, g.height)
                for ox in 0..<ow {
                    let x0 = ox * g.stride - g.padding
                    let xLow = Swift.max(x0, 0), xHigh = Swift.min(x0 + g.kernelSize, g.width)
                    let dst = y + (row * ow + ox) * c, dstAt = at + (row * ow + ox) * c
                    let first = yLow * g.width + xLow
                    dst.update(from: image + first * c, count: c)
                    dstAt.update(repeating: Int32(first), count: c)
                    for iy in yLow..<yHigh {
                        for ix in xLow..<xHigh where iy != yLow || ix != xLow {
                            let pixel = iy * g.width + ix
                            let src = image + pixel * c
                            for k in 0..<c where src[k] > dst[k] || src[k].isNaN {
                                dst[k] = src[k]
                                dstAt[k] = Int32(pixel)
                            }
                        }
                    }
                }
            }
        }
    }

    /// `inputGradient[n, p, c] = Σ outputGradient[n, o, c]` over the outputs `o` whose recorded
    /// index is pixel `p` (overlapping windows add), zero elsewhere. Split over images, so no two
    /// threads write one element.
    public static func backward(_ g: MaxPool2DGeometry, outputGradient: UnsafeBufferPointer<Float>,
                                indices: UnsafeBufferPointer<Int32>, inputGradient: UnsafeMutableBufferPointer<Float>,
                                pool: ThreadPool = .shared) {
        g.validate("MaxPool2D.backward", input: inputGradient.count, output: outputGradient.count)
        precondition(indices.count == outputGradient.count, "MaxPool2D.backward: \(indices.count) indices for \(outputGradient.count) outputs")
        guard g.batch > 0 else { return }
        let dy = outputGradient.baseAddress!, at = indices.baseAddress!, dx = inputGradient.baseAddress!
        let c = g.channels, outputs = g.outputHeight * g.outputWidth, pixels = g.height * g.width
        pool.parallelFor(count: g.batch) { images in
            for n in images {
                let image = dx + n * pixels * c
                image.update(repeating: 0, count: pixels * c)
                for o in 0..<outputs {
                    let src = dy + (n * outputs + o) * c, srcAt = at + (n * outputs + o) * c
                    for k in 0..<c { image[Int(srcAt[k]) * c + k] += src[k] }
                }
            }
        }
    }
}
