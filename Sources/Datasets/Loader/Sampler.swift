import Engine

/// The order in which an epoch visits the training images (docs/method.md, "Second stage").
public enum SamplerKind: String, Sendable, Codable, CaseIterable {
    /// Every image once, in index order (evaluation, and the re-clustering pass over the
    /// training set).
    case sequential
    /// Every image once per epoch in a shuffled order (`DataLoader(shuffle=True)`).
    case instance
    /// Classes in a shuffled round robin, `perVisit` images of a class per visit, max_c n_c · C
    /// draws per epoch (the reference's `ClassAwareSampler`, docs/method.md, `cb`).
    case classAware = "class_aware"
    /// N draws with replacement, image weight (1 − β)/(1 − β^{n_c}) of its class c (the
    /// reference's `EffectNumSampler`, β = 0.9999).
    case effectiveNumber = "effective_number"
}

/// How long an epoch is.
public enum EpochLength: Sendable, Equatable {
    /// One whole pass of the sampler: N images, or max_c n_c · C draws for the class-aware sampler.
    case pass
    /// `draws` images per epoch, as `linear_classify.py`'s `train()` stops after ⌊N / B⌋ steps:
    /// the class-aware sampler's stream continues across epochs (its cycling iterators persist in
    /// the reference) — its passes are concatenated, each seeded by its index, and epoch e takes
    /// stream positions [e · draws, (e + 1) · draws); the other samplers start a fresh pass each
    /// epoch and drop what is past `draws` (a `DataLoader(drop_last=True)` pass).
    case draws(Int)
}

/// Deterministic epoch orders: the order of epoch `e` depends only on the seed, the labels and
/// `e`, so resuming at an epoch reproduces it without saved generator state.
public struct Sampler: Sendable {
    /// Which order.
    public let kind: SamplerKind
    /// The labels of the images sampled.
    public let labels: [Int32]
    /// The number of classes.
    public let classCount: Int
    /// The run seed.
    public let seed: UInt64
    /// Images of one class per visit of the class-aware sampler (4 in the reference).
    public let perVisit: Int
    /// β of the effective number (0.9999 in the reference).
    public let beta: Double
    /// How many images an epoch visits (`order(epoch:)`'s length).
    public let epochLength: EpochLength

    /// A sampler over `labels`.
    public init(kind: SamplerKind, labels: [Int32], classCount: Int, seed: UInt64, perVisit: Int = 4, beta: Double = 0.9999,
                epochLength: EpochLength = .pass) {
        precondition(perVisit > 0, "Sampler: perVisit \(perVisit) must be positive")
        if case let .draws(n) = epochLength { precondition(n > 0, "Sampler: \(n) draws per epoch") }
        self.epochLength = epochLength
        self.kind = kind
        self.labels = labels
        self.classCount = classCount
        self.seed = seed
        self.perVisit = perVisit
        self.beta = beta
    }

    /// The epoch's generator: MT19937 seeded from (seed, epoch).
    private func generator(epoch: Int) -> MT19937 {
        var mix = AugmentationRandom(keys: [seed, UInt64(epoch), 0x5a3_91e5])
        return MT19937(seed: UInt32(truncatingIfNeeded: mix.next()))
    }

    /// The image indices epoch `epoch` visits, in order (see `epochLength`).
    public func order(epoch: Int) -> [Int] {
        guard case let .draws(n) = epochLength else { return pass(epoch) }
        guard kind == .classAware else { return Array(pass(epoch).prefix(n)) }
        return stream(from: epoch * n, count: n)
    }

    /// Positions [start, start + count) of the class-aware stream: its passes `pass(0)`, `pass(1)`,
    /// … one after another.
    public func stream(from start: Int, count: Int) -> [Int] {
        precondition(start >= 0 && count >= 0, "Sampler.stream: start \(start), count \(count)")
        var out: [Int] = []
        out.reserveCapacity(count)
        var position = start
        let length = max(1, passLength)
        while out.count < count {
            let order = pass(position / length)
            guard !order.isEmpty else { return out }
            let offset = position % order.count
            let take = min(order.count - offset, count - out.count)
            out += order[offset..<(offset + take)]
            position += take
        }
        return out
    }

    /// The length of one whole pass: N, or max_c n_c · C for the class-aware sampler.
    public var passLength: Int {
        guard kind == .classAware else { return labels.count }
        var counts = [Int](repeating: 0, count: classCount)
        for label in labels { counts[Int(label)] += 1 }
        return (counts.max() ?? 0) * counts.filter { $0 > 0 }.count
    }

    /// The whole pass number `index` (the epoch order under `EpochLength.pass`).
    public func pass(_ index: Int) -> [Int] {
        var rng = generator(epoch: index)
        switch kind {
        case .sequential:
            return Array(0..<labels.count)
        case .instance:
            var order = Array(0..<labels.count)
            rng.shuffle(&order)
            return order
        case .classAware:
            return classAwareOrder(&rng)
        case .effectiveNumber:
            return effectiveNumberOrder(&rng)
        }
    }

    private func byClass() -> [[Int]] {
        var members = [[Int]](repeating: [], count: classCount)
        for (i, label) in labels.enumerated() { members[Int(label)].append(i) }
        return members
    }

    /// Cycling iterators over the classes and over each class's images, each reshuffled when it
    /// wraps, as the reference's `RandomCycleIter`; restarted at each pass (so a pass is a
    /// function of its number).
    private func classAwareOrder(_ rng: inout MT19937) -> [Int] {
        var members = byClass().filter { !$0.isEmpty }
        guard !members.isEmpty else { return [] }
        let total = members.map(\.count).max()! * members.count
        var classes = Array(0..<members.count)
        var classPosition = classes.count
        var positions = members.map(\.count)
        var order: [Int] = []
        order.reserveCapacity(total)
        while order.count < total {
            if classPosition == classes.count { rng.shuffle(&classes); classPosition = 0 }
            let c = classes[classPosition]
            classPosition += 1
            for _ in 0..<perVisit where order.count < total {
                if positions[c] == members[c].count { rng.shuffle(&members[c]); positions[c] = 0 }
                order.append(members[c][positions[c]])
                positions[c] += 1
            }
        }
        return order
    }

    /// Per-class weights (1 − β)/(1 − β^{n_c}), as the reference's `EffectNumSampler`.
    public func effectiveNumberWeights() -> [Double] {
        var counts = [Int](repeating: 0, count: classCount)
        for label in labels { counts[Int(label)] += 1 }
        return counts.map { n in n == 0 ? 0 : (1 - beta) / (1 - pow(beta, Double(n))) }
    }

    private func effectiveNumberOrder(_ rng: inout MT19937) -> [Int] {
        let weights = effectiveNumberWeights()
        var cumulative = [Double]()
        cumulative.reserveCapacity(labels.count)
        var total = 0.0
        for label in labels {
            total += weights[Int(label)]
            cumulative.append(total)
        }
        return (0..<labels.count).map { _ in
            let u = rng.nextDouble() * total
            var low = 0, high = cumulative.count - 1
            while low < high {
                let mid = (low + high) / 2
                if cumulative[mid] > u { high = mid } else { low = mid + 1 }
            }
            return low
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
