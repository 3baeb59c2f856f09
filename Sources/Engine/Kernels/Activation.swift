/// Elementwise ReLU kernels, forward and backward, split over threads (no reductions).
public enum Activation {
    /// Elements per chunk below which a loop runs on the calling thread alone.
    static let serialThreshold = 1 << 15

    /// `output[i] = max(0, input[i])`. `output` may be `input`'s memory (in place).
    public static func reluForward(input: UnsafeBufferPointer<Float>, output: UnsafeMutableBufferPointer<Float>,
                                   pool: ThreadPool = .shared) {
        precondition(input.count == output.count,
                     "Activation.reluForward: input has \(input.count) floats, output \(output.count)")
        guard input.count > 0 else { return }
        let x = input.baseAddress!, y = output.baseAddress!
        forEachRange(input.count, pool) { range in
            for i in range { y[i] = max(0, x[i]) }
        }
    }

    /// `inputGradient[i] = output[i] > 0 ? outputGradient[i] : 0`, from the forward's output.
    /// `inputGradient` may be `outputGradient`'s memory.
    public static func reluBackward(output: UnsafeBufferPointer<Float>, outputGradient: UnsafeBufferPointer<Float>,
                                    inputGradient: UnsafeMutableBufferPointer<Float>, pool: ThreadPool = .shared) {
        precondition(output.count == outputGradient.count && output.count == inputGradient.count,
                     "Activation.reluBackward: output \(output.count), outputGradient \(outputGradient.count), "
                        + "inputGradient \(inputGradient.count) floats differ")
        guard output.count > 0 else { return }
        let y = output.baseAddress!, dy = outputGradient.baseAddress!, dx = inputGradient.baseAddress!
        forEachRange(output.count, pool) { range in
            // Four at a time with the mask as a blend (a branch on a random sign mispredicts).
            var i = range.lowerBound
            while i + 4 <= range.upperBound {
                var g = load4(dy + i)
                g.replace(with: 0, where: .!(load4(y + i) .> 0))
                store4(g, dx + i)
                i += 4
            }
            while i < range.upperBound {
                dx[i] = y[i] > 0 ? dy[i] : 0
                i += 1
            }
        }
    }

    /// The residual join of a basic block: `output[i] = max(0, a[i] + b[i])`. `output` may alias `a` or `b`.
    public static func addReLUForward(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>,
                                      output: UnsafeMutableBufferPointer<Float>, pool: ThreadPool = .shared) {
        precondition(a.count == b.count && a.count == output.count,
                     "Activation.addReLUForward: a \(a.count), b \(b.count), output \(output.count) floats differ")
        guard a.count > 0 else { return }
        let pa = a.baseAddress!, pb = b.baseAddress!, y = output.baseAddress!
        forEachRange(a.count, pool) { range in
            for i in range { y[i] = max(0, pa[i] + pb[i]) }
        }
    }

    /// Backward of `addReLUForward`: the same masked gradient flows to both addends,
    /// `inputGradient[i] = output[i] > 0 ? outputGradient[i] : 0`; this is `reluBackward`.
    public static func addReLUBackward(output: UnsafeBufferPointer<Float>, outputGradient: UnsafeBufferPointer<Float>,
                                       inputGradient: UnsafeMutableBufferPointer<Float>, pool: ThreadPool = .shared) {
        reluBackward(output: output, outputGradient: outputGradient, inputGradient: inputGradient, pool: pool)
    }

    /// Runs `body` over `0..<count` in parallel when the count is large enough to pay for it.
    @inline(__always)
    static func forEachRange(_ count: Int, _ pool: ThreadPool, _ body: (Range<Int>) -> Void) {
        if count < serialThreshold {
            body(0..<count)
        } else {
            pool.parallelFor(count: count, body)
        }
    }
}
