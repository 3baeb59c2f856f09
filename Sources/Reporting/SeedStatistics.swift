import Foundation

/// The statistics of a comparison over seeds: per-group mean, sample standard deviation and
/// range, and Welch's unequal-variance t-test between two groups with the Welch–Satterthwaite
/// degrees of freedom and a two-sided p-value from the Student-t distribution (docs/seeds.md).
package enum SeedStatistics {
    /// One metric over a group's seeds.
    package struct Summary: Sendable, Equatable {
        /// The values, in seed order.
        package var values: [Double]
        /// How many values.
        package var n: Int { values.count }
        /// Their mean.
        package var mean: Double { values.reduce(0, +) / Double(Swift.max(values.count, 1)) }
        /// The sample standard deviation (divisor n − 1); nil for fewer than two values.
        package var sd: Double? {
            guard values.count >= 2 else { return nil }
            let mean = self.mean
            return (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1)).squareRoot()
        }
        /// The smallest value.
        package var min: Double { values.min() ?? .nan }
        /// The largest value.
        package var max: Double { values.max() ?? .nan }

        /// A summary of `values` (nil when empty).
        package init?(_ values: [Double]) {
            guard !values.isEmpty else { return nil }
            self.values = values
        }
    }

    /// Welch's t-test of `b − a`.
    package struct Welch: Sendable, Equatable {
        /// `mean(b) − mean(a)`.
        package var difference: Double
        /// `sqrt(sd_a²/n_a + sd_b²/n_b)`.
        package var standardError: Double
        /// `difference / standardError` (0 when both are 0, ±infinity when only the error is).
        package var t: Double
        /// The Welch–Satterthwaite degrees of freedom.
        package var df: Double
        /// The two-sided p-value, `P(|T_df| ≥ |t|)`.
        package var p: Double
    }

    /// Welch's t-test of `b − a`; nil when either group has fewer than two values (no spread to
    /// compare against).
    package static func welch(_ a: Summary, _ b: Summary) -> Welch? {
        guard let sdA = a.sd, let sdB = b.sd else { return nil }
        let va = sdA * sdA / Double(a.n), vb = sdB * sdB / Double(b.n)
        let difference = b.mean - a.mean
        let se = (va + vb).squareRoot()
        guard se > 0 else {
            return Welch(difference: difference, standardError: 0, t: difference == 0 ? 0 : (difference > 0 ? .infinity : -.infinity),
                         df: Double(a.n + b.n - 2), p: difference == 0 ? 1 : 0)
        }
        let df = (va + vb) * (va + vb) / (va * va / Double(a.n - 1) + vb * vb / Double(b.n - 1))
        let t = difference / se
        return Welch(difference: difference, standardError: se, t: t, df: df, p: twoSidedP(t: t, df: df))
    }

    /// `P(|T| ≥ |t|)` for Student's t with `df` degrees of freedom: `I_{df/(df+t²)}(df/2, 1/2)`.
    package static func twoSidedP(t: Double, df: Double) -> Double {
        guard t.isFinite else { return 0 }
        return regularizedIncompleteBeta(df / (df + t * t), a: df / 2, b: 0.5)
    }

    /// Student's t cumulative distribution function `P(T ≤ t)`.
    package static func studentTCDF(_ t: Double, df: Double) -> Double {
        let tail = twoSidedP(t: t, df: df) / 2
        return t >= 0 ? 1 - tail : tail
    }

    /// The regularized incomplete beta function `I_x(a, b)`, by its continued fraction
    /// (modified Lentz), on the side of `x` where it converges fast.
    package static func regularizedIncompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logGammas: Double = lgamma(a + b) - lgamma(a) - lgamma(b)
        let logPowers: Double = a * log(x) + b * log(1 - x)
        let logFront = logGammas + logPowers
        if x < (a + 1) / (a + b + 2) {
            return exp(logFront) * continuedFraction(x, a: a, b: b) / a
        }
        return 1 - exp(logFront) * continuedFraction(1 - x, a: b, b: a) / b
    }

    /// The continued fraction of `I_x(a, b)` (its even and odd terms), to relative 1e-15.
    static func continuedFraction(_ x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0, d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var result = d
        for m in 1...1000 {
            let m = Double(m), m2 = 2 * m
            var term = m * (b - m) * x / ((a + m2 - 1) * (a + m2))
            d = 1 + term * d
            if abs(d) < tiny { d = tiny }
            c = 1 + term / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            result *= d * c
            term = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))
            d = 1 + term * d
            if abs(d) < tiny { d = tiny }
            c = 1 + term / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let step = d * c
            result *= step
            if abs(step - 1) < 1e-15 { break }
        }
        return result
    }

    /// The plain-words reading of a difference: whether it stands out of the seeds' noise.
    package static func verdict(_ welch: Welch?) -> String {
        guard let welch else { return "too few seeds to tell" }
        return welch.p >= 0.05 ? "within the noise" : "beyond the noise (p < 0.05)"
    }
}
