/// Batch normalisation over NHWC activations, per channel (the last axis), optionally fused with a
/// ReLU: `y = max(0, γ·(x − μ)/√(σ² + ε) + β)`.
///
/// Statistics are summed per chunk of rows in Float64 (Float32 within blocks of 64 rows, around a
/// per-channel shift) and the chunks — fixed, whatever the thread count — are added in order:
/// bit-identical results on any number of threads.
public enum BatchNorm2D {
    /// Rows summed in Float32 before they are added to the Float64 partial.
    static let blockRows = 64

    /// Training-mode forward: normalises with the batch mean and biased variance, and updates the
    /// running statistics as PyTorch does (`r ← (1 − m)·r + m·s`, with the unbiased variance).
    ///
    /// - Parameters:
    ///   - input: `rows × channels` floats (rows = N·H·W).
    ///   - gamma, beta: `channels` floats each.
    ///   - runningMean, runningVariance: `channels` floats each, updated in place.
    ///   - output: `rows × channels` floats, overwritten (may not alias `input`).
    ///   - savedMean, savedInverseStd: `channels` floats each: the batch mean and `1/√(σ²_biased + ε)`,
    ///     which `trainingBackward` needs.
    public static func trainingForward(
        input: UnsafeBufferPointer<Float>, channels: Int, gamma: UnsafeBufferPointer<Float>,
        beta: UnsafeBufferPointer<Float>, runningMean: UnsafeMutableBufferPointer<Float>,
        runningVariance: UnsafeMutableBufferPointer<Float>, momentum: Float = 0.1, epsilon: Float = 1e-5,
        fuseReLU: Bool, output: UnsafeMutableBufferPointer<Float>,
        savedMean: UnsafeMutableBufferPointer<Float>, savedInverseStd: UnsafeMutableBufferPointer<Float>,
        workspace: KernelWorkspace, pool: ThreadPool = .shared, sync: BatchNormSync? = nil
    ) {
        let c = channels
        checkShapes("BatchNorm2D.trainingForward", input.count, c, output.count,
                    [gamma.count, beta.count, runningMean.count, runningVariance.count, savedMean.count, savedInverseStd.count])
        let rows = input.count / c
        precondition(rows > 0, "BatchNorm2D.trainingForward: needs at least one row, got input of \(input.count) floats")
        let x = input.baseAddress!
        // Σ(x − s) and Σ(x − s)² around the first row s: exact mean, well-conditioned variance.
        let shift = x
        let totals = pairedChannelSums(rows: rows, channels: c, workspace: workspace, pool: pool) { range, block in
            if c % 4 == 0 {
                // The same sums four channels at a time (LLVM does not vectorise the scalar
                // loop: `block` might alias `x`).
                for r in range {
                    let row = x + r * c
                    for j in stride(from: 0, to: c, by: 4) {
                        let d = load4(row + j) - load4(shift + j)
                        store4(load4(block + j) + d, block + j)
                        store4(load4(block + c + j) + d * d, block + c + j)
                    }
                }
            } else {
                for r in range {
                    let row = x + r * c
                    for j in 0..<c {
                        let d = row[j] - shift[j]
                        block[j] += d
                        block[c + j] += d * d
                    }
                }
            }
        }
        // With a sync group: this rank's count, mean and Σ(x − mean)², combined over all ranks.
        let global = sync.map { group in
            let m = Double(rows)
            return group.combine(count: m, mean: (0..<c).map { Double(shift[$0]) + totals[$0] / m },
                                 squares: (0..<c).map { max(0, totals[c + $0] - totals[$0] * totals[$0] / m) })
        }
        for j in 0..<c {
            let s1 = totals[j], s2 = totals[c + j]
            let m = global?.count ?? Double(rows)
            let meanShifted = s1 / m
            let variance = global.map { max(0, $0.squares[j] / m) } ?? max(0, s2 / m - meanShifted * meanShifted)
            let mean = global?.mean[j] ?? Double(shift[j]) + meanShifted
            savedMean[j] = Float(mean)
            savedInverseStd[j] = Float(1 / (variance + Double(epsilon)).squareRoot())
            let unbiased = m > 1 ? variance * m / (m - 1) : variance
            runningMean[j] = (1 - momentum) * runningMean[j] + momentum * Float(mean)
            runningVariance[j] = (1 - momentum) * runningVariance[j] + momentum * Float(unbiased)
        }
        normalise(x, rows: rows, channels: c, mean: UnsafePointer(savedMean.baseAddress!),
                  inverseStd: UnsafePointer(savedInverseStd.baseAddress!), gamma: gamma.baseAddress!,
                  beta: beta.baseAddress!, fuseReLU: fuseReLU, output: output.baseAddress!,
                  workspace: workspace, pool: pool)
    }

    /// Evaluation-mode forward with the running statistics: `y = γ·(x − r_μ)/√(r_σ² + ε) + β` (then ReLU).
    public static func inferenceForward(
        input: UnsafeBufferPointer<Float>, channels: Int, gamma: UnsafeBufferPointer<Float>,
        beta: UnsafeBufferPointer<Float>, runningMean: UnsafeBufferPointer<Float>,
        runningVariance: UnsafeBufferPointer<Float>, epsilon: Float = 1e-5, fuseReLU: Bool,
        output: UnsafeMutableBufferPointer<Float>, workspace: KernelWorkspace, pool: ThreadPool = .shared
    ) {
        let c = channels
        checkShapes("BatchNorm2D.inferenceForward", input.count, c, output.count,
                    [gamma.count, beta.count, runningMean.count, runningVariance.count])
        workspace.prepare(chunks: 1, scratch: 0, partial: c)
        let inverseStd = workspace.partial(0)
        for j in 0..<c { inverseStd[j] = 1 / (runningVariance[j] + epsilon).squareRoot() }
        normalise(input.baseAddress!, rows: input.count / c, channels: c, mean: runningMean.baseAddress!,
                  inverseStd: UnsafePointer(inverseStd), gamma: gamma.baseAddress!, beta: beta.baseAddress!,
                  fuseReLU: fuseReLU, output: output.baseAddress!, workspace: workspace, pool: pool)
    }

    /// `y = x·a + b` per channel with `a = γ·invstd`, `b = β − μ·a`, then ReLU when fused.
    /// `trainingBackward` recomputes the ReLU mask with the same formula, so it matches bit for bit.
    static func normalise(
        _ x: UnsafePointer<Float>, rows: Int, channels c: Int, mean: UnsafePointer<Float>,
        inverseStd: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
        fuseReLU: Bool, output y: UnsafeMutablePointer<Float>, workspace: KernelWorkspace, pool: ThreadPool
    ) {
        let coefficients = workspace.packed.reserve(2 * c)
        for j in 0..<c {
            coefficients[j] = gamma[j] * inverseStd[j]
            coefficients[c + j] = beta[j] - mean[j] * coefficients[j]
        }
        let scale = UnsafePointer(coefficients), offset = UnsafePointer(coefficients + c)
        pool.parallelFor(count: rows) { range in
            for r in range {
                let xr = x + r * c, yr = y + r * c
                if fuseReLU {
                    for j in 0..<c { yr[j] = max(0, xr[j] * scale[j] + offset[j]) }
                } else {
                    for j in 0..<c { yr[j] = xr[j] * scale[j] + offset[j] }
                }
            }
        }
    }

    /// Two per-channel sums over `rows × channels` values, split over `pool`: `accumulate(rows,
    /// block)` adds a block of up to `blockRows` rows into `block` (first sum in `block[0..<c]`,
    /// second in `block[c..<2c]`, Float32); blocks are added into a Float64 sum per chunk and the
    /// chunks in order. The chunks are `ThreadPool.reductionChunkCount`'s, fixed whatever the
    /// thread count, so the result has the same bits on any number of threads. Returns the 2·c
    /// totals (valid until the workspace is next prepared).
    static func pairedChannelSums(rows: Int, channels c: Int, workspace: KernelWorkspace, pool: ThreadPool,
                                  accumulate: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) -> UnsafePointer<Double> {
        let chunks = ThreadPool.reductionChunkCount(for: rows)
        workspace.prepareDoubles(chunks: max(chunks, 1), count: 2 * c)
        workspace.prepare(chunks: chunks, scratch: 2 * c)
        pool.parallelReductionChunks(count: rows) { chunk, range in
            let sums = workspace.doubles(chunk), block = workspace.scratch(chunk)
            sums.initialize(repeating: 0, count: 2 * c)
            var start = range.lowerBound
            while start < range.upperBound {
                let end = min(start + blockRows, range.upperBound)
                block.initialize(repeating: 0, count: 2 * c)
                accumulate(start..<end, block)
                for j in 0..<(2 * c) { sums[j] += Double(block[j]) }
                start = end
            }
        }
        let totals = workspace.doubles(0)
        if chunks == 0 { totals.initialize(repeating: 0, count: 2 * c) }
        for k in 1..<max(chunks, 1) {
            let part = workspace.doubles(k)
            for j in 0..<(2 * c) { totals[j] += part[j] }
        }
        return UnsafePointer(totals)
    }

    static func checkShapes(_ op: String, _ input: Int, _ channels: Int, _ output: Int, _ perChannel: [Int]) {
        precondition(channels > 0 && input % channels == 0,
                     "\(op): input of \(input) floats is not a whole number of rows of \(channels) channels")
        precondition(output == input, "\(op): output has \(output) floats, input has \(input)")
        for count in perChannel {
            precondition(count == channels, "\(op): a per-channel buffer has \(count) floats, expected \(channels)")
        }
    }
}
