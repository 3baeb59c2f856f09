/// numpy's legacy `RandomState` draws built on MT19937: the bounded integer draw that
/// `RandomState.shuffle` uses and the shuffle itself, bit for bit.
extension MT19937 {
    /// A uniform integer in `0...max`, as numpy's legacy `random_interval`: draw 32 bits, keep the
    /// bits under the smallest all-ones mask covering `max`, reject values above `max`.
    ///
    /// numpy switches to 64-bit draws for `max > 0xffff_ffff`; data sets never get that large,
    /// so that branch is a precondition here.
    public mutating func nextInterval(_ max: Int) -> Int {
        precondition(max >= 0 && max <= Int(UInt32.max), "MT19937.nextInterval: max \(max) outside 0...2^32-1")
        if max == 0 { return 0 }
        var mask = UInt32(max)
        mask |= mask >> 1
        mask |= mask >> 2
        mask |= mask >> 4
        mask |= mask >> 8
        mask |= mask >> 16
        while true {
            let value = nextUInt32() & mask
            if value <= UInt32(max) { return Int(value) }
        }
    }

    /// Shuffles `values` in place exactly as numpy's legacy `RandomState.shuffle` does for a 1-D
    /// array: for `i` from `count - 1` down to 1, swap element `i` with element
    /// `random_interval(i)`.
    public mutating func shuffle<T>(_ values: inout [T]) {
        guard values.count > 1 else { return }
        for i in stride(from: values.count - 1, through: 1, by: -1) {
            let j = nextInterval(i)
            values.swapAt(i, j)
        }
    }
}
