import CBLAS

/// k-means with equal-size clusters under cosine similarity, as the authors'
/// `balanced_cluster.balanced_kmean(distance='cosine', tol=1e-3, iol=50)` computes it:
///
/// - each iteration takes the k × N cosine similarities, divides each centre's row by its sum,
///   and visits all k·N (centre, point) pairs from the largest value down, giving a point to a
///   centre while the point is free and the centre holds fewer than ⌊N/k⌋ points;
/// - the N mod k points left over then go one by one to the best remaining (centre, point) pair,
///   each centre taking at most one of them;
/// - centres become the plain means of their points; it stops when (Σ_k ‖c_k − c'_k‖)² <
///   tolerance or after `maxIterations` iterations.
///
/// The reference seeds with k-means++ from a torch generator; here the initial centres are given
/// points, or k distinct random points drawn from an MT19937.
public struct BalancedCosineKMeans: Equatable, Sendable {
    /// k.
    public var clusterCount: Int
    /// Stop when the squared total centre shift falls below this.
    public var tolerance: Double
    /// At most this many iterations (the reference's `iol`, 50 in main.py).
    public var maxIterations: Int

    /// A balanced k-means with main.py's settings by default (tolerance 1e-3, 50 iterations).
    public init(clusterCount: Int, tolerance: Double = 1e-3, maxIterations: Int = 50) {
        precondition(clusterCount >= 1, "BalancedCosineKMeans: clusterCount \(clusterCount) < 1")
        precondition(maxIterations >= 1, "BalancedCosineKMeans: maxIterations \(maxIterations) < 1")
        self.clusterCount = clusterCount
        self.tolerance = tolerance
        self.maxIterations = maxIterations
    }

    /// Clusters `points` (N × `dimension`) from k distinct random points drawn from `generator`.
    public func fit(points: [Float], dimension: Int, generator: inout MT19937) -> KMeansResult {
        precondition(dimension > 0 && points.count % dimension == 0,
                     "BalancedCosineKMeans.fit: \(points.count) values are not rows of dimension \(dimension)")
        let initial = generator.legacyChoiceWithoutReplacement(population: points.count / dimension, count: clusterCount)
        return fit(points: points, dimension: dimension, initialIndices: initial)
    }

    /// Clusters `points` (N × `dimension`) from the points at `initialIndices`.
    public func fit(points: [Float], dimension: Int, initialIndices: [Int]) -> KMeansResult {
        precondition(dimension > 0 && points.count % dimension == 0,
                     "BalancedCosineKMeans.fit: \(points.count) values are not rows of dimension \(dimension)")
        let n = points.count / dimension, k = clusterCount
        precondition(n >= k, "BalancedCosineKMeans.fit: \(n) points for \(k) clusters")
        precondition(initialIndices.count == k && initialIndices.allSatisfy { (0..<n).contains($0) },
                     "BalancedCosineKMeans.fit: initial indices \(initialIndices) are not \(k) indices into \(n) points")
        var centres = [Float](repeating: 0, count: k * dimension)
        for (c, p) in initialIndices.enumerated() {
            for d in 0..<dimension { centres[c * dimension + d] = points[p * dimension + d] }
        }
        var similarity = [Float](repeating: 0, count: k * n)
        var assignments = [Int32](repeating: -1, count: n)
        var iterations = 0
        points.withUnsafeBufferPointer { x in
            let unit = KMeansMath.normalizedRows(x, rows: n, dimension: dimension)
            while iterations < maxIterations {
                let unitCentres = centres.withUnsafeBufferPointer { KMeansMath.normalizedRows($0, rows: k, dimension: dimension) }
                unitCentres.withUnsafeBufferPointer { c in
                    unit.withUnsafeBufferPointer { u in
                        similarity.withUnsafeMutableBufferPointer { s in
                            GEMM.sgemm(transposeA: false, transposeB: true, m: k, n: n, k: dimension, a: c.baseAddress!,
                                       lda: dimension, b: u.baseAddress!, ldb: dimension, beta: 0, c: s.baseAddress!, ldc: n)
                        }
                    }
                }
                for c in 0..<k {
                    var sum: Float = 0
                    for j in 0..<n { sum += similarity[c * n + j] }
                    for j in 0..<n { similarity[c * n + j] /= sum }
                }
                assignments = BalancedCosineKMeans.assign(similarity: &similarity, clusters: k, points: n)
                var members = [[Int]](repeating: [], count: k)
                for (i, c) in assignments.enumerated() { members[Int(c)].append(i) }
                let previous = centres
                for c in 0..<k {
                    KMeansMath.setMean(of: members[c], points: x, dimension: dimension, into: &centres, row: c)
                }
                iterations += 1
                let shift = KMeansMath.centreShift(centres, previous, clusters: k, dimension: dimension)
                if shift * shift < tolerance { break }
            }
        }
        return KMeansResult(assignments: assignments, centres: centres, iterations: iterations)
    }

    /// The greedy balanced assignment on the row-normalised k × N similarity (overwritten).
    static func assign(similarity: inout [Float], clusters k: Int, points n: Int) -> [Int32] {
        let perCluster = n / k, leftOver = n % k
        let order = (0..<(k * n)).sorted { a, b in
            similarity[a] != similarity[b] ? similarity[a] > similarity[b] : a < b
        }
        var assignments = [Int32](repeating: -1, count: n)
        var sizes = [Int](repeating: 0, count: k)
        let blocked: Float = -100
        for e in order {
            let c = e / n, j = e % n
            if assignments[j] == -1 && sizes[c] < perCluster {
                assignments[j] = Int32(c)
                sizes[c] += 1
                if leftOver > 0 { for r in 0..<k { similarity[r * n + j] = blocked } }
            }
        }
        for _ in 0..<leftOver {
            var best = 0
            for e in 1..<(k * n) where similarity[e] > similarity[best] { best = e }
            let c = best / n, j = best % n
            assignments[j] = Int32(c)
            for r in 0..<k { similarity[r * n + j] = blocked }
            sizes[c] += 1
            if sizes[c] >= perCluster + 1 { for q in 0..<n { similarity[c * n + q] = blocked } }
        }
        return assignments
    }
}
