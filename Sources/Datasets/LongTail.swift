import Engine

/// The long-tailed subset of a balanced training set, selected exactly as the reference's
/// `IMBALANCECIFAR.gen_imbalanced_data` (and LDAM-DRW) does.
public enum LongTail {
    /// How the number of images per class decays with the class index.
    public enum Profile: String, Sendable, CaseIterable, Codable {
        /// n_c = int(n_max · ρ^(c / (C − 1))).
        case exp
        /// The first ⌊C/2⌋ classes keep n_max, the next ⌊C/2⌋ keep int(n_max · ρ).
        case step
        /// Every class keeps n_max (the data are still shuffled class by class).
        case none
    }

    /// The selection: indices into the source set in selection order (class 0 first, each class
    /// in its shuffled order) and the number kept per class.
    public struct Selection: Sendable, Equatable, Codable {
        /// Indices into the source data set, class by class.
        public var indices: [Int]
        /// Images kept per class, `classCounts[c]` = n_c.
        public var classCounts: [Int]
    }

    /// The per-class counts of the reference: n_max = total / C as a real number, each count
    /// truncated with Python's `int()`.
    ///
    /// For `step` with an odd C the reference lists only 2·⌊C/2⌋ counts; the last class then
    /// gets none, and so it does here.
    public static func classCounts(total: Int, classCount: Int, profile: Profile, factor: Double) -> [Int] {
        precondition(classCount >= 2, "LongTail.classCounts: classCount \(classCount) < 2")
        let nMax = Double(total) / Double(classCount)
        switch profile {
        case .exp:
            return (0..<classCount).map { c in
                Int(nMax * pow(factor, Double(c) / (Double(classCount) - 1.0)))
            }
        case .step:
            let half = classCount / 2
            var counts = [Int](repeating: Int(nMax), count: half)
            counts += [Int](repeating: Int(nMax * factor), count: half)
            counts += [Int](repeating: 0, count: classCount - 2 * half)
            return counts
        case .none:
            return [Int](repeating: Int(nMax), count: classCount)
        }
    }

    /// Selects the subset: seeds numpy's legacy `RandomState` with `seed`, then for each class in
    /// ascending order takes the indices with that label, shuffles them in place with the one
    /// generator, and keeps the first n_c.
    ///
    /// - Throws: `DatasetError.badParameter` when `factor` is not in (0, 1], or a label is outside
    ///   `0..<classCount`.
    public static func select(labels: [Int32], classCount: Int, profile: Profile, factor: Double,
                              seed: UInt32) throws -> Selection {
        guard factor > 0, factor <= 1 else {
            throw DatasetError(.badParameter, path: "", "imbalance factor must be in (0, 1], got \(factor)")
        }
        var byClass = [[Int]](repeating: [], count: classCount)
        for (i, label) in labels.enumerated() {
            guard label >= 0, Int(label) < classCount else {
                throw DatasetError(.badLabel, path: "", "label \(label) of image \(i) is outside 0..<\(classCount)")
            }
            byClass[Int(label)].append(i)
        }
        let counts = classCounts(total: labels.count, classCount: classCount, profile: profile, factor: factor)
        var generator = MT19937(seed: seed)
        var indices: [Int] = []
        var kept: [Int] = []
        // The reference zips np.unique(labels) with the counts: a class absent from the labels
        // consumes no draw and shifts the counts. Mirror that.
        let present = (0..<classCount).filter { !byClass[$0].isEmpty }
        var keptByClass = [Int](repeating: 0, count: classCount)
        for (c, n) in zip(present, counts) {
            var members = byClass[c]
            generator.shuffle(&members)
            let take = min(n, members.count)
            indices += members[0..<take]
            keptByClass[c] = take
        }
        kept = keptByClass
        return Selection(indices: indices, classCounts: kept)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
