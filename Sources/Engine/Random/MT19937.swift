/// The Mersenne Twister MT19937, bit-compatible with numpy's legacy `RandomState` and with the
/// C reference (`init_genrand`, `genrand_int32`, `genrand_res53`).
///
/// It is a value type: copying it copies the whole state, which is how checkpoints save and
/// restore every generator of a run.
public struct MT19937: Sendable, Equatable {
    /// The 624 words of state.
    public private(set) var state: [UInt32]
    /// Position of the next word to temper, in 0...624.
    public private(set) var index: Int

    /// Seeds as numpy's `RandomState(seed)` does for an integer seed (`init_genrand`).
    public init(seed: UInt32) {
        var mt = [UInt32](repeating: 0, count: 624)
        mt[0] = seed
        for i in 1..<624 {
            mt[i] = 1_812_433_253 &* (mt[i - 1] ^ (mt[i - 1] >> 30)) &+ UInt32(i)
        }
        state = mt
        index = 624
    }

    /// Restores a saved state; `nil` when the words or the position are not a valid state.
    public init?(state: [UInt32], index: Int) {
        guard state.count == 624, (0...624).contains(index) else { return nil }
        self.state = state
        self.index = index
    }

    private mutating func twist() {
        let upper: UInt32 = 0x8000_0000, lower: UInt32 = 0x7fff_ffff, matrixA: UInt32 = 0x9908_b0df
        state.withUnsafeMutableBufferPointer { mt in
            for i in 0..<624 {
                let y = (mt[i] & upper) | (mt[(i + 1) % 624] & lower)
                var v = mt[(i + 397) % 624] ^ (y >> 1)
                if y & 1 != 0 { v ^= matrixA }
                mt[i] = v
            }
        }
        index = 0
    }

    /// The next 32 random bits (`genrand_int32`).
    public mutating func nextUInt32() -> UInt32 {
        if index >= 624 { twist() }
        var y = state[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9d2c_5680
        y ^= (y << 15) & 0xefc6_0000
        y ^= y >> 18
        return y
    }

    /// A double uniform in [0, 1) with 53 random bits, as numpy's `random_sample`.
    public mutating func nextDouble() -> Double {
        let a = Double(nextUInt32() >> 5), b = Double(nextUInt32() >> 6)
        return (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }
}
