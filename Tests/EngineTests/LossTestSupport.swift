import Foundation
import XCTest
import TestSupport
import Engine

/// Comparison helpers for the loss and k-means tests.
enum Close {
    /// Asserts max_k |a_k − b_k| ≤ atol + rtol · max_k |b_k| (a scale-aware check for gradients,
    /// whose small entries carry the absolute rounding error of the large ones).
    static func assertArrays(_ a: [Float], _ b: [Float], rtol: Float, atol: Float = 0, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, "\(what): length", file: file, line: line)
        guard a.count == b.count, !a.isEmpty else { return }
        let scale = b.map(abs).max()!
        var worst: Float = 0, at = 0
        for k in a.indices where abs(a[k] - b[k]) > worst { worst = abs(a[k] - b[k]); at = k }
        XCTAssertLessThanOrEqual(worst, atol + rtol * scale,
                                 "\(what): element \(at) is \(a[at]), expected \(b[at]) (scale \(scale))", file: file, line: line)
    }

    /// Asserts |a − b| ≤ rtol · |b|.
    static func assertRelative(_ a: Double, _ b: Double, rtol: Double, _ what: String,
                               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertLessThanOrEqual(abs(a - b), rtol * abs(b), "\(what): \(a) vs expected \(b)", file: file, line: line)
    }
}

/// Reads `key=value` pairs from a golden case description such as
/// "rank temperature=0.1 base_temperature=0.07 gamma=0.25 num_class=6".
struct CaseDescription {
    let variant: String
    let values: [String: String]

    init(_ text: String) {
        let parts = text.split(separator: " ").map(String.init)
        variant = parts.first ?? ""
        var v: [String: String] = [:]
        for p in parts.dropFirst() {
            let kv = p.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 2 { v[kv[0]] = kv[1] }
        }
        values = v
    }

    func float(_ key: String) throws -> Float {
        guard let s = values[key], let x = Float(s) else { throw GoldenCaseError(message: "golden case lacks \(key)") }
        return x
    }
}

/// A golden file that lacks what a test needs (regenerate it with scripts/goldens/).
struct GoldenCaseError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Rows of `x` (rows × dimension) scaled to unit L2 norm.
func l2NormalizedRows(_ x: [Float], dimension: Int) -> [Float] {
    var out = x
    for r in 0..<(x.count / dimension) {
        var s: Float = 0
        for d in 0..<dimension { s += x[r * dimension + d] * x[r * dimension + d] }
        let inv = 1 / s.squareRoot()
        for d in 0..<dimension { out[r * dimension + d] *= inv }
    }
    return out
}
