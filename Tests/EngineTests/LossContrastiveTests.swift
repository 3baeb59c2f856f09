import Foundation
import XCTest
import TestSupport
@testable import Engine

/// The contrastive losses against golden values from the authors' `SimCLR/loss.py`
/// (scripts/goldens/loss_golden.py) and against finite differences.
final class LossContrastiveTests: XCTestCase {
    private func kind(_ d: CaseDescription) throws -> ContrastiveLossKind {
        let t = try d.float("temperature"), base = try d.float("base_temperature")
        switch d.variant {
        case "supcon": return .supCon(temperature: t, baseTemperature: base)
        case "rank": return .sbclRank(temperature: t, baseTemperature: base, gamma: try d.float("gamma"))
        case "ccl": return .sbclCCL(temperature: t, baseTemperature: base, gamma: try d.float("gamma"))
        default: throw GoldenCaseError(message: "unknown variant \(d.variant)")
        }
    }

    func testMatchesReferenceGoldens() throws {
        let file = try SafeTensors.read(contentsOf: Fixture.url("loss_golden.safetensors"))
        let count = Int(file.metadata["contrastive_cases"] ?? "") ?? 0
        XCTAssertGreaterThanOrEqual(count, 12)
        var seen = Set<String>()
        for k in 0..<count {
            let p = "c\(k)."
            let description = CaseDescription(file.metadata["c\(k)"] ?? "")
            seen.insert(description.variant)
            let lossKind = try kind(description)
            let featuresArray = try file.array(named: p + "features")
            let (batch, dimension) = (featuresArray.shape[0], featuresArray.shape[2])
            let features = ContrastiveLoss.viewMajor(fromSampleMajor: featuresArray.floats(), batchSize: batch, dimension: dimension)
            let labels = try file.array(named: p + "labels").int32s()
            let subclasses = try file.array(named: p + "subclasses").int32s()
            let temps = file[p + "class_temperatures"]?.floats() ?? []
            let expectedLoss = try file.array(named: p + "loss").doubles()[0]
            let expectedGrad = try file.array(named: p + "grad").floats()

            let loss = ContrastiveLoss(lossKind)
            let (value, grad) = loss.valueAndGradient(features: features, labels: labels, subclasses: subclasses, classTemperatures: temps)
            let what = "case c\(k) (\(description.variant), B=\(batch), D=\(dimension))"
            Close.assertRelative(Double(value), expectedLoss, rtol: 1e-5, what + " loss")
            Close.assertArrays(ContrastiveLoss.sampleMajor(fromViewMajor: grad, batchSize: batch, dimension: dimension),
                               expectedGrad, rtol: 1e-5, what + " gradient")
            XCTAssertEqual(loss.value(features: features, labels: labels, subclasses: subclasses, classTemperatures: temps), value,
                           what + ": value() differs from valueAndGradient()")
        }
        XCTAssertEqual(seen, ["supcon", "rank", "ccl"])
    }

    /// Directional finite differences: (L(F + εv) − L(F − εv)) / 2ε against ⟨∇L, v⟩.
    func testGradientMatchesFiniteDifferences() {
        var rng = TestRandom(seed: 7)
        let batch = 12, dimension = 8, classes = 4
        let labels = (0..<batch).map { _ in Int32(rng.int(classes - 1)) }
        let subclasses = labels.map { $0 * 3 + Int32(rng.int(3)) }
        let temps = (0..<classes).map { _ in 0.08 + 0.1 * rng.uniform() }
        let features = l2NormalizedRows((0..<(2 * batch * dimension)).map { _ in rng.normal() }, dimension: dimension)
        for kind in [ContrastiveLossKind.supConDefault, .sbclRankDefault, .sbclCCLDefault,
                     .sbclRank(temperature: 0.5, baseTemperature: 0.3, gamma: 1)] {
            let loss = ContrastiveLoss(kind, maxThreads: 2)
            let (_, grad) = loss.valueAndGradient(features: features, labels: labels, subclasses: subclasses, classTemperatures: temps)
            for _ in 0..<3 {
                let v = (0..<features.count).map { _ in rng.normal() }
                let eps: Float = 1e-3
                let plus = loss.value(features: zip(features, v).map { $0 + eps * $1 }, labels: labels, subclasses: subclasses, classTemperatures: temps)
                let minus = loss.value(features: zip(features, v).map { $0 - eps * $1 }, labels: labels, subclasses: subclasses, classTemperatures: temps)
                let numeric = Double(plus - minus) / Double(2 * eps)
                let analytic = zip(grad, v).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                XCTAssertEqual(numeric, analytic, accuracy: 2e-2 * max(1, abs(analytic)), "\(kind)")
            }
        }
    }

    func testThreadCountDoesNotChangeResults() {
        var rng = TestRandom(seed: 3)
        let batch = 80, dimension = 16
        let labels = (0..<batch).map { _ in Int32(rng.int(5)) }
        let subclasses = labels.map { $0 * 2 + Int32(rng.int(2)) }
        let features = l2NormalizedRows((0..<(2 * batch * dimension)).map { _ in rng.normal() }, dimension: dimension)
        let one = ContrastiveLoss(.sbclRankDefault, maxThreads: 1)
            .valueAndGradient(features: features, labels: labels, subclasses: subclasses, classTemperatures: [Float](repeating: 0.1, count: 5))
        let four = ContrastiveLoss(.sbclRankDefault, maxThreads: 4)
            .valueAndGradient(features: features, labels: labels, subclasses: subclasses, classTemperatures: [Float](repeating: 0.1, count: 5))
        XCTAssertEqual(one.loss, four.loss)
        XCTAssertEqual(one.gradient, four.gradient)
    }

    func testRankWithUniformTemperaturesAndSingletonSubclassesReducesToKnownForms() {
        // Every image its own subclass: S(i) = {v(i)}, N(i) = everything but i, P(i) = class mates,
        // so with τ_c = τ the class term is exactly SupCon's and the loss is (τ/τ_b)·SimCLR + γ·SupCon.
        var rng = TestRandom(seed: 11)
        let batch = 10, dimension = 6
        let labels = (0..<batch).map { _ in Int32(rng.int(3)) }
        let own = (0..<batch).map { Int32($0) }
        let features = l2NormalizedRows((0..<(2 * batch * dimension)).map { _ in rng.normal() }, dimension: dimension)
        let rank = ContrastiveLoss(.sbclRank(temperature: 0.1, baseTemperature: 0.07, gamma: 0.25))
            .value(features: features, labels: labels, subclasses: own, classTemperatures: [0.1, 0.1, 0.1])
        let simclr = ContrastiveLoss(.supCon(temperature: 0.1, baseTemperature: 0.07)).value(features: features, labels: own)
        let supcon = ContrastiveLoss(.supCon(temperature: 0.1, baseTemperature: 0.1)).value(features: features, labels: labels)
        XCTAssertEqual(rank, simclr + 0.25 * supcon, accuracy: 1e-5 * abs(rank))
    }

    func testReusedWorkspaceAcrossBatchSizes() {
        var rng = TestRandom(seed: 5)
        let loss = ContrastiveLoss(.supConDefault)
        for batch in [6, 3, 6] {
            let labels = (0..<batch).map { _ in Int32(rng.int(2)) }
            let f = l2NormalizedRows((0..<(2 * batch * 4)).map { _ in rng.normal() }, dimension: 4)
            let fresh = ContrastiveLoss(.supConDefault).valueAndGradient(features: f, labels: labels)
            let reused = loss.valueAndGradient(features: f, labels: labels)
            XCTAssertEqual(fresh.loss, reused.loss)
            XCTAssertEqual(fresh.gradient, reused.gradient)
            var buffer = [Float](repeating: .nan, count: f.count)
            let viaBuffer = f.withUnsafeBufferPointer { x in
                buffer.withUnsafeMutableBufferPointer { loss.evaluate(features: x, labels: labels, gradient: $0) }
            }
            XCTAssertEqual(viaBuffer, fresh.loss)
            XCTAssertEqual(buffer, fresh.gradient)
        }
    }
}
