import Foundation
import XCTest
import TestSupport
@testable import Engine

/// LDAM and (weighted) cross-entropy against the authors' `LDAMLoss` and PyTorch's
/// `F.cross_entropy` (scripts/goldens/loss_golden.py).
final class LossCrossEntropyTests: XCTestCase {
    func testMatchesReferenceGoldens() throws {
        let file = try SafeTensors.read(contentsOf: Fixture.url("loss_golden.safetensors"))
        let count = Int(file.metadata["ldam_cases"] ?? "") ?? 0
        XCTAssertEqual(count, 5)
        for k in 0..<count {
            let p = "l\(k)."
            let description = CaseDescription(file.metadata["l\(k)"] ?? "")
            let counts = try file.array(named: p + "class_counts").int64s().map { Int($0) }
            let weighted = description.values["weighted"] == "drw"
            if weighted {
                XCTAssertEqual(ClassWeights.effectiveNumber(classCounts: counts), try file.array(named: p + "weights").floats(),
                               "l\(k): effective-number weights")
            }
            let loss: CrossEntropyLoss
            if description.variant == "ldam" {
                loss = .ldam(classCounts: counts, maxMargin: 0.5, scale: 30, reweighted: weighted)
            } else {
                loss = CrossEntropyLoss(weights: weighted ? ClassWeights.effectiveNumber(classCounts: counts) : [])
            }
            let (value, grad) = loss.valueAndGradient(logits: try file.array(named: p + "logits").floats(),
                                                      targets: try file.array(named: p + "targets").int32s())
            Close.assertRelative(Double(value), try file.array(named: p + "loss").doubles()[0], rtol: 1e-5, "l\(k) loss")
            Close.assertArrays(grad, try file.array(named: p + "grad").floats(), rtol: 1e-5, "l\(k) gradient")
        }
    }

    func testMarginsAndWeightsFormulas() {
        let m = ClassWeights.ldamMargins(classCounts: [16, 1, 81])
        XCTAssertEqual(m[1], 0.5)
        XCTAssertEqual(m[0], 0.25, accuracy: 1e-7)
        XCTAssertEqual(m[2], 0.5 / 3, accuracy: 1e-7)
        let w = ClassWeights.effectiveNumber(classCounts: [10, 10])
        XCTAssertEqual(w, [1, 1])
        let tail = ClassWeights.effectiveNumber(classCounts: [1000, 10])
        XCTAssertEqual(tail.reduce(0, +), 2, accuracy: 1e-6)
        XCTAssertGreaterThan(tail[1], tail[0] * 50)
    }

    func testGradientMatchesFiniteDifferences() {
        var rng = TestRandom(seed: 9)
        let n = 6, classes = 4
        let logits = (0..<(n * classes)).map { _ in rng.uniform() * 2 - 1 }
        let targets = (0..<n).map { _ in Int32(rng.int(classes)) }
        let loss = CrossEntropyLoss.ldam(classCounts: [100, 30, 8, 2], scale: 5)
        let (_, grad) = loss.valueAndGradient(logits: logits, targets: targets)
        for k in [0, 5, 11, 23] {
            var plus = logits, minus = logits
            plus[k] += 1e-3
            minus[k] -= 1e-3
            let numeric = (loss.valueAndGradient(logits: plus, targets: targets).loss
                - loss.valueAndGradient(logits: minus, targets: targets).loss) / 2e-3
            XCTAssertEqual(numeric, grad[k], accuracy: 2e-3, "logit \(k)")
        }
    }
}
