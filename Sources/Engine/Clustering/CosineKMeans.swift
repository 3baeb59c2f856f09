import CBLAS

/// k-means under cosine distance 1 − cos(x, c), as the authors' `kmeans_gpu.kmeans(distance=
/// 'cosine', tol=1e-3, iter_limit=35)` runs it for each class at re-clustering (docs/method.md):
///
/// - initial centres: k distinct random points (`np.random.choice(N, k, replace=False)`, which
///   the MT19937 generator reproduces exactly for the same seed);
/// - each iteration assigns every point to the centre of smallest cosine distance (first index on
///   ties), then sets each centre to the plain mean of its points (not renormalised); a cluster
///   left empty takes one random point;
/// - it stops when (Σ_k ‖c_k − c'_k‖)² < tolerance or after `maxIterations` iterations;
/// - the assignments returned are those of the last iteration (made with the centres before the
///   last update), the centres the updated ones.
///
/// Similarities are one sgemm (N × D by D × k) per iteration.
public struct CosineKMeans: Equatable, Sendable {
    /// k.
    public var clusterCount: Int
    /// Stop when the squared total centre shift falls below this (the reference's `tol`).
    public var tolerance: Double
    /// At most this many iterations (the reference's `iter_limit`).
    public var maxIterations: Int

    /// A k-means with the reference's settings by default (tolerance 1e-3, 35 iterations).
    public init(clusterCount: Int, tolerance: Double = 1e-3, maxIterations: Int = 35) {
        precondition(clusterCount >= 1, "CosineKMeans: clusterCount \(clusterCount) < 1")
        precondition(maxIterations >= 1, "CosineKMeans: maxIterations \(maxIterations) < 1")
        self.clusterCount = clusterCount
        self.tolerance = tolerance
        self.maxIterations = maxIterations
    }

    /// Clusters `points` (N × `dimension`, row-major), drawing the initial centres and any
    /// empty-cluster replacement from `generator`.
    public func fit(points: [Float], dimension: Int, generator: inout MT19937) -> KMeansResult {
        let n = pointCount(points, dimension)
        let initial = generator.legacyChoiceWithoutReplacement(population: n, count: clusterCount)
        return fit(points: points, dimension: dimension, initialIndices: initial, generator: &generator)
    }

    /// Clusters `points` starting from the points at `initialIndices` (k distinct indices);
    /// `generator` only serves empty-cluster replacements.
    public func fit(points: [Float], dimension: Int, initialIndices: [Int], generator: inout MT19937) -> KMeansResult {
        let n = pointCount(points, dimension)
        precondition(initialIndices.count == clusterCount && initialIndices.allSatisfy { (0..<n).contains($0) },
                     "CosineKMeans.fit: initial indices \(initialIndices) are not \(clusterCount) indices into \(n) points")
        let k = clusterCount
        var centres = [Float](repeating: 0, count: k * dimension)
        for (c, p) in initialIndices.enumerated() {
            for d in 0..<dimension { centres[c * dimension + d] = points[p * dimension + d] }
        }
        var assignments = [Int32](repeating: 0, count: n)
        var similarities = [Float](repeating: 0, count: n * k)
        var members = [[Int]](repeating: [], count: k)
        var iterations = 0
        points.withUnsafeBufferPointer { x in
            let unit = KMeansMath.normalizedRows(x, rows: n, dimension: dimension)
            while true {
                let unitCentres = centres.withUnsafeBufferPointer { KMeansMath.normalizedRows($0, rows: k, dimension: dimension) }
                unit.withUnsafeBufferPointer { u in
                    unitCentres.withUnsafeBufferPointer { c in
                        similarities.withUnsafeMutableBufferPointer { s in
                            GEMM.sgemm(transposeA: false, transposeB: true, m: n, n: k, k: dimension, a: u.baseAddress!,
                                       lda: dimension, b: c.baseAddress!, ldb: dimension, beta: 0, c: s.baseAddress!, ldc: k)
                        }
                    }
                }
                for c in 0..<k { members[c].removeAll(keepingCapacity: true) }
                for i in 0..<n {
                    // argmin of the distance 1 − cos, in Float as the reference computes it.
                    var best = 0
                    var bestDistance = 1 - similarities[i * k]
                    for c in 1..<max(1, k) where 1 - similarities[i * k + c] < bestDistance {
                        bestDistance = 1 - similarities[i * k + c]
                        best = c
                    }
                    assignments[i] = Int32(best)
                    members[best].append(i)
                }
                let previous = centres
                for c in 0..<k {
                    if members[c].isEmpty { members[c] = [generator.nextInterval(n - 1)] }
                    KMeansMath.setMean(of: members[c], points: x, dimension: dimension, into: &centres, row: c)
                }
                iterations += 1
                let shift = KMeansMath.centreShift(centres, previous, clusters: k, dimension: dimension)
                if shift * shift < tolerance || iterations >= maxIterations { break }
            }
        }
        return KMeansResult(assignments: assignments, centres: centres, iterations: iterations)
    }

    private func pointCount(_ points: [Float], _ dimension: Int) -> Int {
        precondition(dimension > 0 && points.count % dimension == 0,
                     "CosineKMeans.fit: \(points.count) values are not rows of dimension \(dimension)")
        let n = points.count / dimension
        precondition(n >= clusterCount, "CosineKMeans.fit: \(n) points for \(clusterCount) clusters")
        return n
    }
}
