import Foundation

/// A map from data values to SVG coordinates, linear or base-10 logarithmic, with readable ticks.
struct SVGScale {
    var lower: Double, upper: Double
    var start: Double, end: Double
    var logarithmic = false

    /// A scale over `values` (padded when they are all equal); a log scale keeps positive values only.
    init(covering values: [Double], to start: Double, _ end: Double, logarithmic: Bool = false, includeZero: Bool = false) {
        // Any finite value is drawn: beyond ±1e300 it is pinned there, so spans and steps stay finite.
        // On a log scale, positive values below 1e-300 are drawn at 1e-300 (10^floor(log10 5e-324) is 0).
        let finite = values.filter { $0.isFinite && (!logarithmic || $0 > 0) }
            .map { min(max($0, logarithmic ? 1 / Self.limit : -Self.limit), Self.limit) }
        var low = finite.min() ?? (logarithmic ? 1 : 0), high = finite.max() ?? (logarithmic ? 10 : 1)
        if includeZero && !logarithmic { low = min(low, 0); high = max(high, 0) }
        if logarithmic {
            low = pow(10, floor(log10(low)))
            high = pow(10, ceil(log10(high)))
            if high <= low { high = low * 10 }
        } else if high - low < 1e-12 {
            let pad = abs(high) > 0 ? abs(high) * 0.1 : 1
            low -= pad; high += pad
        }
        self.init(lower: low, upper: high, start: start, end: end, logarithmic: logarithmic)
    }

    /// The largest magnitude a scale spans (values beyond are drawn at it).
    static let limit = 1e300

    init(lower: Double, upper: Double, start: Double, end: Double, logarithmic: Bool = false) {
        self.lower = lower; self.upper = upper; self.start = start; self.end = end; self.logarithmic = logarithmic
    }

    /// The coordinate of `value`.
    func callAsFunction(_ value: Double) -> Double {
        let t = logarithmic
            ? (log10(max(value, lower)) - log10(lower)) / (log10(upper) - log10(lower))
            : (value - lower) / (upper - lower)
        let coordinate = start + (end - start) * t
        return coordinate.isFinite ? min(max(coordinate, min(start, end) - 1e4), max(start, end) + 1e4) : start
    }

    /// Tick values: powers of ten (and 2×, 5× when few) on a log scale, 1-2-5 steps otherwise.
    func ticks(_ approximate: Int = 5, integers: Bool = false) -> [Double] {
        if logarithmic {
            let first = log10(lower), last = log10(upper)
            guard first.isFinite, last.isFinite, first <= last else { return [] }
            let decades = Array(Int(first.rounded())...Int(last.rounded())).map { pow(10, Double($0)) }
            guard decades.count <= 3 else { return decades }
            return decades.flatMap { [$0, 2 * $0, 5 * $0] }.filter { $0 >= lower && $0 <= upper }
        }
        let raw = (upper - lower) / Double(max(approximate, 1))
        let magnitude = pow(10, floor(log10(raw)))
        var step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        if integers { step = max(1, step.rounded(.up)) }
        var ticks: [Double] = [], value = ceil(lower / step - 1e-9) * step
        // A step below the values' resolution (1e20 + 5000 == 1e20) would never advance: stop.
        while value <= upper + step * 1e-9 && ticks.count < 100 {
            ticks.append(abs(value) < step * 1e-9 ? 0 : value)
            let next = value + step
            guard next > value else { break }
            value = next
        }
        return ticks
    }

    /// A tick's label: integers plainly, small numbers with enough digits, large in k / M.
    static func label(_ value: Double) -> String {
        let magnitude = abs(value)
        if !magnitude.isFinite { return "\(value)" }
        if magnitude >= 1e9 { return String(format: "%.3g", value) }
        if magnitude >= 1_000_000 { return trimmed(value / 1_000_000) + "M" }
        if magnitude >= 10_000 { return trimmed(value / 1000) + "k" }
        if magnitude == 0 || magnitude >= 1 { return trimmed(value) }
        if magnitude >= 0.001 { return String(format: "%g", value) }
        return String(format: "%.0e", value)
    }

    private static func trimmed(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(format: "%g", (value * 100).rounded() / 100)
    }
}
