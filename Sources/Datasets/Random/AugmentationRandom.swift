/// The generator of one augmented view: xoshiro256** seeded through SplitMix64 from the run seed
/// and the view's coordinates, so a view depends on (seed, epoch, position, view) only — never on
/// which thread drew it or when.
public struct AugmentationRandom: Sendable, Equatable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// A generator for the coordinates `keys` (run seed, epoch, position in the epoch, view…).
    public init(keys: [UInt64]) {
        var x: UInt64 = 0x5bc1_5eed_0000_0001
        for key in keys { x = AugmentationRandom.splitMix(&x) ^ key &* 0x9e37_79b9_7f4a_7c15 }
        s0 = AugmentationRandom.splitMix(&x)
        s1 = AugmentationRandom.splitMix(&x)
        s2 = AugmentationRandom.splitMix(&x)
        s3 = AugmentationRandom.splitMix(&x)
    }

    private static func splitMix(_ x: inout UInt64) -> UInt64 {
        x &+= 0x9e37_79b9_7f4a_7c15
        var z = x
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// A double uniform in [0, 1) with 53 random bits.
    public mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// A double uniform in [low, high) (Python's `random.uniform`).
    public mutating func uniform(_ low: Double, _ high: Double) -> Double {
        low + (high - low) * uniform()
    }

    /// An integer uniform in `0..<bound` (torch's `randint(0, bound)`), without modulo bias.
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "AugmentationRandom.below: bound \(bound) must be positive")
        let b = UInt64(bound)
        let threshold = (0 &- b) % b
        while true {
            let r = next()
            if r >= threshold { return Int(r % b) }
        }
    }

    /// A random permutation of `0..<n` (torch's `randperm`).
    public mutating func permutation(_ n: Int) -> [Int] {
        var values = Array(0..<n)
        if n > 1 {
            for i in stride(from: n - 1, through: 1, by: -1) { values.swapAt(i, below(i + 1)) }
        }
        return values
    }
}
