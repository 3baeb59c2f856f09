extension MT19937 {
    /// A uniform integer in 0...max drawn as numpy's legacy `random_interval` does (mask the
    /// next word down to the smallest covering power of two, reject values above `max`), so
    /// draws match `np.random.RandomState` bit for bit.
    mutating func legacyInterval(_ max: Int) -> Int {
        precondition(max >= 0, "MT19937.legacyInterval: negative bound \(max)")
        if max == 0 { return 0 }
        var mask = UInt64(max)
        mask |= mask >> 1; mask |= mask >> 2; mask |= mask >> 4
        mask |= mask >> 8; mask |= mask >> 16; mask |= mask >> 32
        if UInt64(max) <= 0xffff_ffff {
            while true {
                let value = UInt64(nextUInt32()) & mask
                if value <= UInt64(max) { return Int(value) }
            }
        }
        while true {
            let value = ((UInt64(nextUInt32()) << 32) | UInt64(nextUInt32())) & mask
            if value <= UInt64(max) { return Int(value) }
        }
    }

    /// `count` distinct indices of 0..<population as `np.random.choice(population, count,
    /// replace=False)` returns them from a legacy `RandomState`: the first `count` entries of
    /// `permutation(population)` (a Fisher–Yates shuffle from the top).
    mutating func legacyChoiceWithoutReplacement(population: Int, count: Int) -> [Int] {
        precondition(count >= 0 && count <= population,
                     "MT19937.legacyChoiceWithoutReplacement: \(count) of \(population) without replacement")
        var values = Array(0..<population)
        var i = population - 1
        while i >= 1 {
            let j = legacyInterval(i)
            values.swapAt(i, j)
            i -= 1
        }
        return Array(values.prefix(count))
    }
}
