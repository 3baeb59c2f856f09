import Foundation

/// The re-clustering step of SBCL's first stage (`cluster()` and `main_worker` in the authors'
/// SimCLR/main.py): how many subclasses each class gets, the per-class temperatures of the `rank`
/// loss, and the subclass label of every training image.
public enum SubclassClustering {
    /// k_c = ⌊n_c / max(min_c n_c, M)⌋, and 1 where that is 0.
    /// - Parameter minimumClusterSize: M (10 for CIFAR, 20 for ImageNet-LT).
    public static func clusterCounts(classCounts: [Int], minimumClusterSize: Int) -> [Int] {
        precondition(!classCounts.isEmpty && classCounts.allSatisfy { $0 > 0 },
                     "SubclassClustering.clusterCounts: class counts must be positive, got \(classCounts)")
        precondition(minimumClusterSize >= 1, "SubclassClustering.clusterCounts: M = \(minimumClusterSize) < 1")
        let divisor = max(classCounts.min()!, minimumClusterSize)
        return classCounts.map { max(1, $0 / divisor) }
    }

    /// Class temperatures τ_c of the `rank` loss from embeddings grouped by class.
    ///
    /// d_c = mean_{x∈c} ‖z_x − μ_c + 10⁻⁶‖₂ / ln(n_c + 10) (PyTorch's `pairwise_distance` adds
    /// ε = 1e-6 to the difference), d clipped to its 20th–80th percentiles across classes (numpy's
    /// linear interpolation), τ_c = τ · d_c / mean(d), and τ_c = τ where k_c = 1.
    /// - Parameters:
    ///   - features: N × `dimension`, the images of class 0 first, then class 1, ... (n_c each).
    ///   - classCounts: n_c; they must sum to N.
    ///   - clusterCounts: k_c from `clusterCounts(classCounts:minimumClusterSize:)`.
    ///   - temperature: τ (0.1).
    public static func classTemperatures(features: [Float], dimension: Int, classCounts: [Int], clusterCounts: [Int],
                                         temperature: Float) -> [Float] {
        precondition(classCounts.count == clusterCounts.count,
                     "SubclassClustering.classTemperatures: \(classCounts.count) class counts, \(clusterCounts.count) cluster counts")
        precondition(dimension > 0 && features.count == classCounts.reduce(0, +) * dimension,
                     "SubclassClustering.classTemperatures: \(features.count) values for \(classCounts.reduce(0, +)) × \(dimension)")
        precondition(classCounts.allSatisfy { $0 > 0 }, "SubclassClustering.classTemperatures: a class has no image")
        var density = [Double](repeating: 0, count: classCounts.count)
        var start = 0
        for (c, count) in classCounts.enumerated() {
            var centre = [Double](repeating: 0, count: dimension)
            for i in start..<(start + count) {
                for d in 0..<dimension { centre[d] += Double(features[i * dimension + d]) }
            }
            for d in 0..<dimension { centre[d] /= Double(count) }
            var total = 0.0
            for i in start..<(start + count) {
                var s = 0.0
                for d in 0..<dimension {
                    let diff = Double(features[i * dimension + d]) - centre[d] + 1e-6
                    s += diff * diff
                }
                total += s.squareRoot()
            }
            density[c] = total / Double(count) / log(Double(count) + 10)
            start += count
        }
        let low = percentile(density, 20), high = percentile(density, 80)
        density = density.map { min(max($0, low), high) }
        let mean = density.reduce(0, +) / Double(density.count)
        return density.indices.map { c in
            clusterCounts[c] == 1 ? temperature : Float(Double(temperature) * density[c] / mean)
        }
    }

    /// numpy's default (`linear`) percentile: the value at rank q/100 · (n − 1) of the sorted data,
    /// interpolated between its neighbours.
    public static func percentile(_ values: [Double], _ q: Double) -> Double {
        precondition(!values.isEmpty && (0...100).contains(q), "SubclassClustering.percentile: q = \(q) of \(values.count) values")
        let sorted = values.sorted()
        let rank = q / 100 * Double(sorted.count - 1)
        let lower = Int(rank.rounded(.down)), upper = min(lower + 1, sorted.count - 1)
        let fraction = rank - Double(lower)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
    }

    /// Subclass labels for every image: each class with k_c > 1 is clustered on its own (cosine
    /// k-means, or balanced when `balanced`), classes with k_c = 1 get one subclass, and ids are
    /// offset by Σ_{c' < c} k_{c'} so they are unique. Classes are clustered in order, each
    /// drawing its initial centres from `generator` in turn (as the reference draws from numpy's
    /// global generator).
    /// - Parameter features: N × `dimension`, grouped by class as in `classTemperatures`.
    public static func subclassLabels(features: [Float], dimension: Int, classCounts: [Int], clusterCounts: [Int],
                                      balanced: Bool = false, generator: inout MT19937) -> [Int32] {
        precondition(classCounts.count == clusterCounts.count,
                     "SubclassClustering.subclassLabels: \(classCounts.count) class counts, \(clusterCounts.count) cluster counts")
        precondition(dimension > 0 && features.count == classCounts.reduce(0, +) * dimension,
                     "SubclassClustering.subclassLabels: \(features.count) values for \(classCounts.reduce(0, +)) × \(dimension)")
        var labels = [Int32]()
        labels.reserveCapacity(features.count / dimension)
        var start = 0, offset: Int32 = 0
        for (count, k) in zip(classCounts, clusterCounts) {
            precondition(k >= 1 && k <= count, "SubclassClustering.subclassLabels: \(k) clusters for \(count) images")
            if k == 1 {
                labels.append(contentsOf: repeatElement(offset, count: count))
            } else {
                let slice = Array(features[(start * dimension)..<((start + count) * dimension)])
                let result = balanced
                    ? BalancedCosineKMeans(clusterCount: k).fit(points: slice, dimension: dimension, generator: &generator)
                    : CosineKMeans(clusterCount: k).fit(points: slice, dimension: dimension, generator: &generator)
                labels.append(contentsOf: result.assignments.map { $0 + offset })
            }
            start += count
            offset += Int32(k)
        }
        return labels
    }
}
