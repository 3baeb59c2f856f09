/// Batch normalisation over NHWC activations (per channel, statistics over N·H·W), optionally
/// followed by ReLU, in plain loops split over the threads by rows.
public enum BatchNormLoops {
    /// Per-channel sums of `x` ([rows, c]) and of its squares, in Float64, summed per chunk and
    /// then over chunks in a fixed order.
    static func channelMoments(_ x: UnsafePointer<Float>, rows: Int, channels c: Int) -> (mean: [Double], variance: [Double]) {
        let chunks = Swift.max(1, Swift.min(CPUThreads.count, rows / 256))
        var partial = [[Double]](repeating: [Double](repeating: 0, count: 2 * c), count: chunks)
        partial.withUnsafeMutableBufferPointer { parts in
            parallelChunks(chunks, minimumChunk: 1) { cr in
                for ch in cr {
                    var acc = [Double](repeating: 0, count: 2 * c)
                    for r in chunkRange(ch, of: chunks, count: rows) {
                        let row = x + r * c
                        for j in 0..<c { let v = Double(row[j]); acc[j] += v; acc[c + j] += v * v }
                    }
                    parts[ch] = acc
                }
            }
        }
        var mean = [Double](repeating: 0, count: c), variance = [Double](repeating: 0, count: c)
        for j in 0..<c {
            var s = 0.0, s2 = 0.0
            for p in partial { s += p[j]; s2 += p[c + j] }
            mean[j] = s / Double(rows)
            variance[j] = Swift.max(0, s2 / Double(rows) - mean[j] * mean[j])
        }
        return (mean, variance)
    }

    /// y = γ·(x − mean)·invstd + β (then ReLU when `relu`), with per-channel scale/shift folded.
    static func normalize(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, channels c: Int,
                          scale: [Float], shift: [Float], relu: Bool) {
        parallelChunks(rows, minimumChunk: 512) { r in
            scale.withUnsafeBufferPointer { sc in shift.withUnsafeBufferPointer { sh in
                for i in r {
                    let xr = x + i * c, yr = y + i * c
                    if relu { for j in 0..<c { yr[j] = Swift.max(0, xr[j] * sc[j] + sh[j]) } }
                    else { for j in 0..<c { yr[j] = xr[j] * sc[j] + sh[j] } }
                }
            } }
        }
    }
}
