import XCTest
import Engine
import TestSupport

/// The fused SupCon kernel against SupCon written with the engine's differentiable ops
/// (matmul, masked log-softmax, masked means): two independent routes to the same numbers.
final class ContrastiveLossCompositeTests: XCTestCase {
    func supConComposite(_ z: Tensor, labels: [Int32], temperature: Float, baseTemperature: Float) -> Tensor {
        let n = z.shape[0]
        let y = labels + labels
        var positives = [Float](repeating: 0, count: n * n), diagonal = [Float](repeating: 0, count: n * n)
        for i in 0..<n {
            diagonal[i * n + i] = 1
            for j in 0..<n where j != i && y[i] == y[j] { positives[i * n + j] = 1 }
        }
        let pos = Tensor(positives, shape: [n, n])
        let logits = Tensor.matmul(z, z, transposeB: true).scaled(by: 1 / temperature)
            .maskedFill(Tensor(diagonal, shape: [n, n]), with: -1e9)
        let meanLogProb = (logits.logSoftmax() * pos).sum(axis: 1) / pos.sum(axis: 1)
        return meanLogProb.mean().scaled(by: -temperature / baseTemperature)
    }

    func testFusedSupConEqualsComposedOps() {
        var r = TestRandom(seed: 42)
        let labels: [Int32] = [0, 1, 2, 1, 0, 3, 3, 2]
        let x = r.tensor([16, 12])
        let z1 = x.trackingGradients(), z2 = x.trackingGradients()
        let fused = Tensor.contrastiveLoss(z1.l2Normalized(), ContrastiveLoss(.supCon(temperature: 0.1, baseTemperature: 0.07)),
                                           ContrastiveTargets(labels: labels))
        let composed = supConComposite(z2.l2Normalized(), labels: labels, temperature: 0.1, baseTemperature: 0.07)
        XCTAssertEqual(fused.item, composed.item, accuracy: 1e-4 * abs(composed.item))
        assertAllClose(fused.gradients()[z1]!.scalars, composed.gradients()[z2]!.scalars, rtol: 1e-3, atol: 1e-5, "gradient")
    }
}
