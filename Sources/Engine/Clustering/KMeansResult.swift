/// The outcome of a k-means run.
public struct KMeansResult: Equatable, Sendable {
    /// Cluster index in 0..<k of each point, from the last assignment step.
    public var assignments: [Int32]
    /// The k centres, k × D row-major: plain means of their points (not renormalised).
    public var centres: [Float]
    /// Assignment/update iterations run.
    public var iterations: Int

    /// Creates a result.
    public init(assignments: [Int32], centres: [Float], iterations: Int) {
        self.assignments = assignments
        self.centres = centres
        self.iterations = iterations
    }
}

/// Helpers shared by the k-means variants.
enum KMeansMath {
    /// Rows of `x` (rows × dimension) divided by their L2 norm, as the reference's
    /// `A / A.norm(dim=-1)` (a zero row stays zero instead of becoming NaN).
    static func normalizedRows(_ x: UnsafeBufferPointer<Float>, rows: Int, dimension: Int) -> [Float] {
        var out = [Float](repeating: 0, count: rows * dimension)
        for r in 0..<rows {
            var s: Float = 0
            for d in 0..<dimension { s += x[r * dimension + d] * x[r * dimension + d] }
            let inv: Float = s > 0 ? 1 / s.squareRoot() : 0
            for d in 0..<dimension { out[r * dimension + d] = x[r * dimension + d] * inv }
        }
        return out
    }

    /// Σ_k ‖c_k − c'_k‖₂: the reference's `center_shift`.
    static func centreShift(_ a: [Float], _ b: [Float], clusters: Int, dimension: Int) -> Double {
        var total = 0.0
        for k in 0..<clusters {
            var s = 0.0
            for d in 0..<dimension {
                let diff = Double(a[k * dimension + d]) - Double(b[k * dimension + d])
                s += diff * diff
            }
            total += s.squareRoot()
        }
        return total
    }

    /// Mean of the points whose index is listed, into row `k` of `centres`.
    static func setMean(of members: [Int], points: UnsafeBufferPointer<Float>, dimension: Int,
                        into centres: inout [Float], row k: Int) {
        var sum = [Double](repeating: 0, count: dimension)
        for p in members {
            for d in 0..<dimension { sum[d] += Double(points[p * dimension + d]) }
        }
        let inv = 1 / Double(members.count)
        for d in 0..<dimension { centres[k * dimension + d] = Float(sum[d] * inv) }
    }
}
