import Foundation
import XCTest
import TestSupport
@testable import Engine

/// The MoCo losses (KCL, SBCL-MoCo rank, ccl) against golden values from the authors'
/// `moco/loss.py` (scripts/goldens/moco_loss_golden.py) and against finite differences.
final class MoCoLossTests: XCTestCase {
    private func kind(_ d: CaseDescription) throws -> MoCoLossKind {
        let t = try d.float("temperature")
        switch d.variant {
        case "kcl": return .kcl(draws: Int(try d.float("draws")), temperature: t)
        case "rank": return .rank(temperature: t, classTemperature: try d.float("class_temperature"), gamma: try d.float("gamma"))
        case "ccl": return .ccl(temperature: t, gamma: try d.float("gamma"))
        default: throw GoldenCaseError(message: "unknown variant \(d.variant)")
        }
    }

    func testMatchesReferenceGoldens() throws {
        let file = try SafeTensors.read(contentsOf: Fixture.url("moco_loss_golden.safetensors"))
        let count = Int(file.metadata["moco_cases"] ?? "") ?? 0
        XCTAssertGreaterThanOrEqual(count, 9)
        var seen = Set<String>(), worstValue = 0.0, worstGradient: Float = 0
        for k in 0..<count {
            let p = "m\(k)."
            let description = CaseDescription(file.metadata["m\(k)"] ?? "")
            seen.insert(description.variant)
            let logitsArray = try file.array(named: (description.values["from"] ?? "m\(k)") + ".logits")
            let logits = logitsArray.floats()
            let targets = MoCoTargets(labels: try file.array(named: p + "labels").int32s(),
                                      subclasses: try file.array(named: p + "subclasses").int32s(),
                                      queueLabels: try file.array(named: p + "queue_labels").int32s(),
                                      queueSubclasses: try file.array(named: p + "queue_subclasses").int32s(),
                                      uniforms: file[p + "uniforms"]?.floats())
            let expectedLoss = try file.array(named: p + "loss").doubles()[0]
            let loss = MoCoLoss(try kind(description), maxThreads: 2)
            let what = "case m\(k) (\(description.variant), B=\(logitsArray.shape[0]), K=\(logitsArray.shape[1] - 1))"
            let (value, grad) = loss.valueAndGradient(logits: logits, targets: targets)
            Close.assertRelative(Double(value), expectedLoss, rtol: 1e-5, what + " loss")
            worstValue = max(worstValue, abs(Double(value) - expectedLoss) / abs(expectedLoss))
            if let expectedGrad = file[p + "grad"]?.floats() {
                Close.assertArrays(grad, expectedGrad, rtol: 1e-5, what + " gradient")
                let scale = expectedGrad.map(abs).max()!
                worstGradient = max(worstGradient, zip(grad, expectedGrad).map { abs($0 - $1) }.max()! / scale)
            }
            XCTAssertEqual(loss.value(logits: logits, targets: targets), value, what + ": value() differs from valueAndGradient()")
        }
        XCTAssertEqual(seen, ["kcl", "rank", "ccl"])
        print("MoCoLoss goldens: worst relative loss error \(worstValue), worst gradient error / max |gradient| \(worstGradient)")
    }

    /// Small cases whose positives, empty slots and temperatures keep finite differences accurate.
    static let gradientKinds: [MoCoLossKind] = [.kcl(draws: 3, temperature: 0.5),
                                                .rank(temperature: 0.5, classTemperature: 0.7, gamma: 0.3),
                                                .ccl(temperature: 0.5, gamma: 0.3)]

    static func smallTargets(batch: Int = 4) -> MoCoTargets {
        // Query 3's class (2) and query 1's subclass (5) are not in the queue; slot 5 is empty.
        MoCoTargets(labels: [0, 1, 0, 2], subclasses: [0, 5, 1, 7],
                    queueLabels: [0, 1, 0, 1, 0, -1], queueSubclasses: [0, 4, 1, 4, 0, -1],
                    uniforms: [0.1, 0.9, 0.5, 0.3, 0.7, 0.2, 0.99, 0.0, 0.4, 0.6, 0.8, 0.35])
    }

    /// The finite-difference check of `GradientCheckTests` for every kind.
    static func checkEveryKindsGradient(_ name: String, file: StaticString = #filePath, line: UInt = #line) {
        var r = TestRandom(seed: 41)
        let targets = smallTargets()
        for kind in gradientKinds {
            let loss = MoCoLoss(kind)
            checkGradients("\(name) \(kind)", inputs: [r.tensor([4, 7])], file: file, line: line) {
                Tensor.mocoLoss($0[0], loss, targets)
            }
        }
    }

    func testGradientMatchesFiniteDifferences() {
        MoCoLossTests.checkEveryKindsGradient("mocoLoss")
    }

    /// Directional finite differences at the training temperatures: (L(x + εv) − L(x − εv)) / 2ε
    /// against ⟨∇L, v⟩, on logits of normalised vectors.
    func testGradientAtTrainingTemperaturesMatchesFiniteDifferences() {
        var rng = TestRandom(seed: 5)
        let batch = 6, queue = 40
        let labels = (0..<batch).map { _ in Int32(rng.int(3)) }
        let targets = MoCoTargets(labels: labels, subclasses: labels.map { $0 * 2 + Int32(rng.int(2)) },
                                  queueLabels: (0..<queue).map { $0 < 30 ? Int32(rng.int(3)) : -1 },
                                  queueSubclasses: [], uniforms: rng.uniform(6 * batch, 0, 1))
        var withSubclasses = targets
        withSubclasses.queueSubclasses = targets.queueLabels.map { $0 < 0 ? -1 : $0 * 2 + Int32(rng.int(2)) }
        let logits = rng.uniform(batch * (queue + 1))
        for kind in [MoCoLossKind.kclDefault, .rankDefault, .cclDefault] {
            let loss = MoCoLoss(kind, maxThreads: 2)
            let t = kind.usesSubclasses ? withSubclasses : targets
            let (_, grad) = loss.valueAndGradient(logits: logits, targets: t)
            for _ in 0..<3 {
                let v = rng.uniform(logits.count)
                let eps: Float = 1e-3
                let plus = loss.value(logits: zip(logits, v).map { $0 + eps * $1 }, targets: t)
                let minus = loss.value(logits: zip(logits, v).map { $0 - eps * $1 }, targets: t)
                let numeric = Double(plus - minus) / Double(2 * eps)
                let analytic = zip(grad, v).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                XCTAssertEqual(numeric, analytic, accuracy: 2e-2 * max(1, abs(analytic)), "\(kind)")
            }
        }
    }

    /// The op's value and gradient are the arrays', and the upstream gradient scales the result.
    func testTensorOpMatchesArraysAndScalesUpstreamGradient() {
        var r = TestRandom(seed: 9)
        let targets = MoCoLossTests.smallTargets()
        let x = r.tensor([4, 7])
        for kind in MoCoLossTests.gradientKinds {
            let (value, grad) = MoCoLoss(kind).valueAndGradient(logits: x.scalars, targets: targets)
            let tracked = x.trackingGradients()
            let out = Tensor.mocoLoss(tracked, MoCoLoss(kind), targets)
            XCTAssertEqual(out.shape, [])
            XCTAssertEqual(out.item, value, "\(kind)")
            XCTAssertEqual(out.gradients()[tracked]?.scalars, grad, "\(kind)")
            let doubled = out.scaled(by: 2).gradients()[tracked]?.scalars ?? []
            assertAllClose(doubled, grad.map { 2 * $0 }, rtol: 1e-6, atol: 0, "\(kind) scaled")
        }
    }

    /// Without fed uniforms KCL draws k × B 24-bit uniforms from its generator, draw-major.
    func testKCLGeneratorDrawsWhatCanBeFed() {
        var r = TestRandom(seed: 13)
        var targets = MoCoLossTests.smallTargets()
        targets.uniforms = nil
        let logits = r.uniform(4 * 7)
        let drawn = MoCoLoss(.kcl(draws: 3, temperature: 0.5), seed: 77)
        var generator = MT19937(seed: 77)
        var fed = targets
        fed.uniforms = MoCoLoss.uniforms(12, from: &generator)
        XCTAssertTrue(fed.uniforms!.allSatisfy { $0 >= 0 && $0 < 1 })
        let fromGenerator = drawn.valueAndGradient(logits: logits, targets: targets)
        let fromFeed = MoCoLoss(.kcl(draws: 3, temperature: 0.5)).valueAndGradient(logits: logits, targets: fed)
        XCTAssertEqual(fromGenerator.loss, fromFeed.loss)
        XCTAssertEqual(fromGenerator.gradient, fromFeed.gradient)
        XCTAssertEqual(drawn.generator, generator, "the loss's generator advanced by exactly k × B draws")
    }

    /// With the whole queue empty (the first step) every loss is built from the key column alone:
    /// KCL = −log softmax_0 at τ, ccl = (1 + γ)·KCL, rank = KCL + γ·(−log softmax_0 at τ_c).
    func testEmptyQueueReducesToTheKeyColumn() {
        var r = TestRandom(seed: 17)
        let batch = 5, queue = 32
        let logits = r.uniform(batch * (queue + 1))
        let empty = [Int32](repeating: -1, count: queue)
        let targets = MoCoTargets(labels: [0, 1, 2, 1, 0], subclasses: [0, 3, 6, 4, 1], queueLabels: empty,
                                  queueSubclasses: empty, uniforms: r.uniform(6 * batch, 0, 1))
        func keyLoss(_ t: Float) -> Double {
            let rows = Tensor(logits, shape: [batch, queue + 1]).scaled(by: 1 / t).logSoftmax().scalars
            return (0..<batch).reduce(0.0) { $0 - Double(rows[$1 * (queue + 1)]) } / Double(batch)
        }
        let kcl = Double(MoCoLoss(.kclDefault).value(logits: logits, targets: targets))
        let ccl = Double(MoCoLoss(.cclDefault).value(logits: logits, targets: targets))
        let rank = Double(MoCoLoss(.rankDefault).value(logits: logits, targets: targets))
        XCTAssertEqual(kcl, keyLoss(0.07), accuracy: 1e-5 * kcl)
        XCTAssertEqual(ccl, 1.2 * keyLoss(0.07), accuracy: 1e-5 * ccl)
        XCTAssertEqual(rank, keyLoss(0.07) + 0.2 * keyLoss(0.12), accuracy: 1e-5 * rank)
    }

    func testThreadCountDoesNotChangeResults() {
        var r = TestRandom(seed: 19)
        let batch = 64, queue = 1024
        let labels = (0..<batch).map { _ in Int32(r.int(8)) }
        let queueLabels = (0..<queue).map { _ in Int32(r.int(9)) - 1 }
        let targets = MoCoTargets(labels: labels, subclasses: labels.map { $0 * 2 + Int32(r.int(2)) }, queueLabels: queueLabels,
                                  queueSubclasses: queueLabels.map { $0 < 0 ? -1 : $0 * 2 + Int32(r.int(2)) },
                                  uniforms: r.uniform(6 * batch, 0, 1))
        let logits = r.uniform(batch * (queue + 1))
        for kind in [MoCoLossKind.kclDefault, .rankDefault, .cclDefault] {
            let one = MoCoLoss(kind, maxThreads: 1).valueAndGradient(logits: logits, targets: targets)
            let four = MoCoLoss(kind, maxThreads: 4).valueAndGradient(logits: logits, targets: targets)
            XCTAssertEqual(one.loss, four.loss, "\(kind)")
            XCTAssertEqual(one.gradient, four.gradient, "\(kind)")
        }
    }

    /// Forward + backward at the production size (B = 256, K = 65536). Seconds long and a
    /// measurement, not a check, so it runs only with `SBCL_MOCO_LOSS_BENCH=1` (release build);
    /// `moco_loss_golden.py --bench` times the reference classes the same way.
    func testBenchmarkProductionSize() throws {
        let environment = ProcessInfo.processInfo.environment
        guard environment["SBCL_MOCO_LOSS_BENCH"] == "1" else {
            throw XCTSkip("a timing; set SBCL_MOCO_LOSS_BENCH=1 (release build) to run it")
        }
        let threads = Int(environment["SBCL_MOCO_LOSS_BENCH_THREADS"] ?? "") ?? 2
        var r = TestRandom(seed: 23)
        let batch = 256, queue = 65536
        let labels = (0..<batch).map { _ in Int32(r.int(1000)) }
        let queueLabels = (0..<queue).map { _ in Int32(r.int(1000)) }
        let targets = MoCoTargets(labels: labels, subclasses: labels.map { $0 * 4 + Int32(r.int(4)) }, queueLabels: queueLabels,
                                  queueSubclasses: queueLabels.map { $0 * 4 + Int32(r.int(4)) })
        let logits = Tensor(r.uniform(batch * (queue + 1)), shape: [batch, queue + 1])
        for kind in [MoCoLossKind.kclDefault, .rankDefault, .cclDefault] {
            let loss = MoCoLoss(kind, seed: 1, maxThreads: threads)
            var times: [Double] = []
            for _ in 0..<4 {
                let tracked = logits.trackingGradients()
                let start = DispatchTime.now().uptimeNanoseconds
                let grad = Tensor.mocoLoss(tracked, loss, targets).gradients()[tracked]
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                XCTAssertEqual(grad?.shape, [batch, queue + 1])
            }
            let best = times.dropFirst().min()!
            print("MoCoLoss bench \(kind) B=\(batch) K=\(queue) threads=\(threads): forward+backward \(String(format: "%.3f", best)) s "
                  + "(best of \(times.count - 1) after a warm-up)")
        }
    }
}
