/// Bit-level conversions between float32 and the 16-bit float formats (IEEE half, bfloat16),
/// written out so they behave the same on every platform.
enum HalfFloat {
    /// The float32 value of IEEE half-precision `bits` (subnormals, infinities and NaN included).
    static func float(fromHalfBits bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = Int((bits >> 10) & 0x1f)
        let mantissa = UInt32(bits & 0x3ff)
        if exponent == 0x1f {
            return Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13))
        }
        if exponent == 0 {
            // Zero or subnormal: mantissa · 2^-24.
            let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign != 0 ? -magnitude : magnitude
        }
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
    }

    /// The IEEE half-precision bits nearest to `value` (round to nearest even; overflow to infinity).
    static func halfBits(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16((bits >> 16) & 0x8000)
        if value.isNaN { return sign | 0x7e00 }
        let magnitude = abs(value)
        if magnitude >= 65520 { return sign | 0x7c00 }
        if magnitude < Float(sign: .plus, exponent: -14, significand: 1) {
            // Subnormal half: round magnitude / 2^-24 to nearest even.
            let scaled = (magnitude * Float(sign: .plus, exponent: 24, significand: 1)).rounded(.toNearestOrEven)
            return sign | UInt16(scaled)
        }
        let exponent = Int((bits >> 23) & 0xff) - 127 + 15
        var mantissa = bits & 0x7f_ffff
        var result = UInt32(exponent) << 10 | (mantissa >> 13)
        mantissa &= 0x1fff
        if mantissa > 0x1000 || (mantissa == 0x1000 && result & 1 == 1) { result += 1 }
        return sign | UInt16(result)
    }

    /// The bfloat16 bits nearest to `value` (round to nearest even).
    static func bfloat16Bits(from value: Float) -> UInt16 {
        if value.isNaN { return UInt16(value.bitPattern >> 16) | 0x40 }
        let bits = value.bitPattern
        let rounding = 0x7fff + ((bits >> 16) & 1)
        return UInt16((bits &+ rounding) >> 16)
    }
}
