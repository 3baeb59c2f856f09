/// Global average pooling over NHWC: `N × H × W × C → N × C`.
public enum GlobalAveragePool {
    /// `output[n, c] = (1 / (H·W)) Σ_{h, w} input[n, h, w, c]`, summed in pixel order.
    ///
    /// - Parameters:
    ///   - input: N × pixels × C floats (pixels = H·W).
    ///   - output: N × C floats, overwritten.
    public static func forward(input: UnsafeBufferPointer<Float>, batch: Int, pixels: Int, channels: Int,
                               output: UnsafeMutableBufferPointer<Float>, pool: ThreadPool = .shared) {
        check("GlobalAveragePool.forward", input.count, output.count, batch, pixels, channels)
        guard batch > 0 else { return }
        let x = input.baseAddress!, y = output.baseAddress!
        let scale = 1 / Float(pixels)
        pool.parallelFor(count: batch) { range in
            for n in range {
                let dst = y + n * channels
                dst.update(repeating: 0, count: channels)
                for p in 0..<pixels {
                    let src = x + (n * pixels + p) * channels
                    for c in 0..<channels { dst[c] += src[c] }
                }
                for c in 0..<channels { dst[c] *= scale }
            }
        }
    }

    /// `inputGradient[n, h, w, c] = outputGradient[n, c] / (H·W)`.
    public static func backward(outputGradient: UnsafeBufferPointer<Float>, batch: Int, pixels: Int, channels: Int,
                                inputGradient: UnsafeMutableBufferPointer<Float>, pool: ThreadPool = .shared) {
        check("GlobalAveragePool.backward", inputGradient.count, outputGradient.count, batch, pixels, channels)
        guard batch > 0 else { return }
        let dy = outputGradient.baseAddress!, dx = inputGradient.baseAddress!
        let scale = 1 / Float(pixels)
        pool.parallelFor(count: batch) { range in
            for n in range {
                let src = dy + n * channels
                for p in 0..<pixels {
                    let dst = dx + (n * pixels + p) * channels
                    for c in 0..<channels { dst[c] = src[c] * scale }
                }
            }
        }
    }

    private static func check(_ op: String, _ input: Int, _ output: Int, _ batch: Int, _ pixels: Int, _ channels: Int) {
        precondition(batch >= 0 && pixels > 0 && channels > 0,
                     "\(op): invalid shape N\(batch) pixels \(pixels) C\(channels)")
        precondition(input == batch * pixels * channels && output == batch * channels,
                     "\(op): N\(batch)×\(pixels) pixels×C\(channels) needs \(batch * pixels * channels) input and "
                        + "\(batch * channels) output floats, got \(input) and \(output)")
    }
}
