import Foundation
import XCTest
import Engine

/// Asserts that two arrays agree elementwise within |a − b| ≤ atol + rtol·|b|, and names the
/// worst element when they do not.
public func assertAllClose(_ actual: [Float], _ expected: [Float], rtol: Float = 1e-5, atol: Float = 1e-6,
                           _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    guard actual.count == expected.count else {
        XCTFail("\(message): \(actual.count) values, expected \(expected.count)", file: file, line: line)
        return
    }
    var worst = -1, worstExcess: Float = 0
    for i in 0..<actual.count {
        let excess = abs(actual[i] - expected[i]) - (atol + rtol * abs(expected[i]))
        if excess > worstExcess || actual[i].isNaN != expected[i].isNaN { worst = i; worstExcess = max(excess, worstExcess) }
    }
    if worst >= 0 {
        XCTFail("\(message): element \(worst) is \(actual[worst]), expected \(expected[worst]) (rtol \(rtol), atol \(atol))",
                file: file, line: line)
    }
}

/// A deterministic generator of test values.
public struct TestRandom {
    var generator: MT19937
    public init(seed: UInt32) { generator = MT19937(seed: seed) }
    /// Uniform values in [low, high).
    public mutating func uniform(_ n: Int, _ low: Float = -1, _ high: Float = 1) -> [Float] {
        (0..<n).map { _ in low + (high - low) * Float(generator.nextDouble()) }
    }
    /// A float32 tensor of uniform values.
    public mutating func tensor(_ shape: [Int], _ low: Float = -1, _ high: Float = 1) -> Tensor {
        Tensor(uniform(shape.reduce(1, *), low, high), shape: shape)
    }
    /// One uniform value in [0, 1).
    public mutating func uniform() -> Float { Float(generator.nextDouble()) }
    /// One standard normal value.
    public mutating func normal() -> Float { Initialization.standardNormal(&generator) }
    /// An integer in 0..<n.
    public mutating func int(_ n: Int) -> Int { Int(generator.nextUInt32() % UInt32(n)) }
}

/// Checks reverse-mode gradients of `f` against central finite differences.
///
/// The scalar differentiated is Σ f(inputs) ⊙ R for a fixed random R, so every output element
/// contributes. Differences are taken in Float32 with step `h`; the check passes when
/// |analytic − numeric| ≤ atol + rtol·|numeric| for every input element.
public func checkGradients(_ name: String, inputs: [Tensor], rtol: Float = 2e-2, atol: Float = 2e-3, h: Float = 1e-2,
                           file: StaticString = #filePath, line: UInt = #line, _ f: ([Tensor]) -> Tensor) {
    let probe = withoutGradients { f(inputs) }
    var random = TestRandom(seed: 1234)
    let weights = random.tensor(probe.shape)
    func objective(_ xs: [Tensor]) -> Double {
        withoutGradients {
            let y = f(xs).scalars, w = weights.scalars
            return zip(y, w).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
    }
    let tracked = inputs.map { $0.dtype == .float32 ? $0.trackingGradients() : $0 }
    let loss = (f(tracked) * weights).sum()
    let grads = loss.gradients()
    for (k, x) in inputs.enumerated() where x.dtype == .float32 {
        guard let analytic = grads[tracked[k]]?.scalars else {
            XCTFail("\(name): no gradient for input \(k)", file: file, line: line); continue
        }
        var numeric = [Float](repeating: 0, count: x.count)
        for i in 0..<x.count {
            var plus = x.scalars, minus = x.scalars
            plus[i] += h; minus[i] -= h
            var xs = inputs
            xs[k] = Tensor(plus, shape: x.shape); let fp = objective(xs)
            xs[k] = Tensor(minus, shape: x.shape); let fm = objective(xs)
            numeric[i] = Float((fp - fm) / Double(2 * h))
        }
        assertAllClose(analytic, numeric, rtol: rtol, atol: atol, "\(name): gradient of input \(k)", file: file, line: line)
    }
}

/// A fresh temporary folder, removed when the test case ends.
public func temporaryFolder(_ testCase: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("sbcl-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    testCase.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// The losses at the reference's settings (SimCLR/main.py), which the engine's loss tests use; the
/// recipe's defaults live in the `contrastive_loss` stage's settings table alone.
extension ContrastiveLossKind {
    /// SupCon at τ = τ_base = 0.1 (main.py's warm-up).
    public static let supConDefault = ContrastiveLossKind.supCon(temperature: 0.1, baseTemperature: 0.1)
    /// SBCL rank at τ = 0.1, τ_base = 0.07, γ = 0.25.
    public static let sbclRankDefault = ContrastiveLossKind.sbclRank(temperature: 0.1, baseTemperature: 0.07, gamma: 0.25)
    /// SBCL ccl at τ = 0.1, τ_base = 0.07, γ = 0.25.
    public static let sbclCCLDefault = ContrastiveLossKind.sbclCCL(temperature: 0.1, baseTemperature: 0.07, gamma: 0.25)
}
