import XCTest
import Engine
import TestSupport

/// A finite-difference gradient check for every primitive op. The switch has no `default`, so
/// a new op does not compile until it has a check here.
final class GradientCheckTests: XCTestCase {
    func testEveryPrimitiveOpHasACheckedGradient() {
        for op in PrimitiveOp.allCases { check(op) }
    }

    func check(_ op: PrimitiveOp) {
        var r = TestRandom(seed: UInt32(PrimitiveOp.allCases.firstIndex(of: op)!) + 7)
        let name = op.rawValue
        switch op {
        case .add:
            checkGradients(name, inputs: [r.tensor([3, 4]), r.tensor([4])]) { $0[0] + $0[1] }
            checkGradients(name, inputs: [r.tensor([2, 1, 3]), r.tensor([4, 1])]) { $0[0] + $0[1] }
        case .subtract:
            checkGradients(name, inputs: [r.tensor([3, 1]), r.tensor([3, 4])]) { $0[0] - $0[1] }
        case .multiply:
            checkGradients(name, inputs: [r.tensor([3, 4]), r.tensor([3, 1])]) { $0[0] * $0[1] }
        case .divide:
            checkGradients(name, inputs: [r.tensor([3, 4]), r.tensor([4], 0.5, 2)]) { $0[0] / $0[1] }
        case .negate:
            checkGradients(name, inputs: [r.tensor([5])]) { -$0[0] }
        case .exp:
            checkGradients(name, inputs: [r.tensor([2, 3])]) { $0[0].exp() }
        case .log:
            checkGradients(name, inputs: [r.tensor([2, 3], 0.5, 2)]) { $0[0].log() }
        case .sqrt:
            checkGradients(name, inputs: [r.tensor([2, 3], 0.5, 2)]) { $0[0].sqrt() }
        case .relu:
            checkGradients(name, inputs: [Tensor([-1.5, -0.3, 0.4, 2], shape: [4])]) { $0[0].relu() }
        case .scale:
            checkGradients(name, inputs: [r.tensor([4])]) { $0[0].scaled(by: -2.5) }
        case .addScalar:
            checkGradients(name, inputs: [r.tensor([4])]) { $0[0] + 3 }
        case .powScalar:
            checkGradients(name, inputs: [r.tensor([4], 0.5, 2)]) { $0[0].pow(1.5) }
        case .matmul:
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = ta ? r.tensor([4, 3]) : r.tensor([3, 4]), b = tb ? r.tensor([5, 4]) : r.tensor([4, 5])
                checkGradients("\(name) \(ta) \(tb)", inputs: [a, b]) { Tensor.matmul($0[0], $0[1], transposeA: ta, transposeB: tb) }
            }
        case .linear:
            checkGradients(name, inputs: [r.tensor([3, 4]), r.tensor([5, 4]), r.tensor([5])]) {
                Tensor.linear($0[0], weight: $0[1], bias: $0[2])
            }
        case .sum:
            checkGradients(name, inputs: [r.tensor([2, 3, 4])]) { $0[0].sum(axis: 1) }
            checkGradients(name, inputs: [r.tensor([2, 3])]) { $0[0].sum() }
        case .mean:
            checkGradients(name, inputs: [r.tensor([2, 3])]) { $0[0].mean(axis: -1, keepingDimension: true) }
            checkGradients(name, inputs: [r.tensor([2, 3])]) { $0[0].mean() }
        case .max:
            // Maxima well apart, so that a finite-difference step cannot move the argmax.
            let x = Tensor([0.1, 0.9, -0.4, 0.3, 0.5, -1, 0.2, 0.6, -0.2, 0.0, 0.7, -0.5, 0.1, -0.35, -0.3], shape: [3, 5])
            checkGradients(name, inputs: [x]) { $0[0].max(axis: 1) }
            checkGradients(name, inputs: [x]) { $0[0].max(axis: 0) }
        case .softmax:
            checkGradients(name, inputs: [r.tensor([3, 5])]) { $0[0].softmax() }
        case .logSoftmax:
            checkGradients(name, inputs: [r.tensor([3, 5])]) { $0[0].logSoftmax() }
        case .crossEntropy:
            let labels = Tensor(int32: [2, 0, 4], shape: [3])
            checkGradients(name, inputs: [r.tensor([3, 5])]) { Tensor.crossEntropy(logits: $0[0], labels: labels) }
            let weights = r.tensor([5], 0.2, 2)
            checkGradients(name, inputs: [r.tensor([3, 5])]) {
                Tensor.crossEntropy(logits: $0[0], labels: labels, classWeights: weights)
            }
        case .l2Normalize:
            checkGradients(name, inputs: [r.tensor([3, 6])]) { $0[0].l2Normalized() }
        case .reshape:
            checkGradients(name, inputs: [r.tensor([2, 6])]) { $0[0].reshaped([3, -1]) * Tensor([1, 2, 3, 4], shape: [4]) }
        case .transpose2D:
            checkGradients(name, inputs: [r.tensor([2, 3])]) { $0[0].transposed() }
        case .concat:
            checkGradients(name, inputs: [r.tensor([2, 3]), r.tensor([2, 2])]) { Tensor.concat([$0[0], $0[1]], axis: 1) }
            checkGradients(name, inputs: [r.tensor([1, 3]), r.tensor([2, 3])]) { Tensor.concat([$0[0], $0[1]], axis: 0) }
        case .slice:
            checkGradients(name, inputs: [r.tensor([3, 5])]) { $0[0].sliced(axis: 1, 1..<4) }
            checkGradients(name, inputs: [r.tensor([4, 2])]) { $0[0].split(sizes: [1, 3], axis: 0)[1] }
        case .maskedFill:
            let mask = Tensor([1, 0, 0, 1, 0, 1], shape: [2, 3])
            checkGradients(name, inputs: [r.tensor([2, 3])]) { $0[0].maskedFill(mask, with: -1e9) }
        case .conv2d:
            for (k, s, p) in [(3, 1, 1), (3, 2, 1), (1, 1, 0), (5, 2, 2), (2, 1, 0), (1, 2, 0)] {
                checkGradients("\(name) k\(k) s\(s) p\(p)", inputs: [r.tensor([2, 5, 6, 3]), r.tensor([4, 3, k, k])]) {
                    Tensor.conv2d($0[0], weight: $0[1], stride: s, padding: p)
                }
            }
            // torchvision's stem (7×7, stride 2, padding 3) and the 1×1 convolutions of 64+ channels that go to sgemm.
            checkGradients("\(name) stem k7 s2 p3", inputs: [r.tensor([2, 9, 8, 3]), r.tensor([5, 3, 7, 7])]) {
                Tensor.conv2d($0[0], weight: $0[1], stride: 2, padding: 3)
            }
            checkGradients("\(name) pointwise sgemm", inputs: [r.tensor([1, 2, 3, 64]), r.tensor([64, 64, 1, 1])]) {
                Tensor.conv2d($0[0], weight: $0[1])
            }
        case .batchNorm2d, .batchNormReLU2d:
            for training in [true, false] {
                let stats = BatchNormStatistics(channels: 3)
                stats.runningMean = Tensor([0.1, -0.2, 0.3], shape: [3])
                stats.runningVariance = Tensor([0.5, 1.5, 2], shape: [3])
                let saved = (stats.runningMean.scalars, stats.runningVariance.scalars)
                checkGradients("\(name) training \(training)", inputs: [r.tensor([2, 3, 2, 3]), r.tensor([3], 0.5, 1.5), r.tensor([3])],
                               rtol: 3e-2, atol: 3e-3) { x in
                    // Each evaluation starts from the same running statistics.
                    stats.runningMean = Tensor(saved.0, shape: [3]); stats.runningVariance = Tensor(saved.1, shape: [3])
                    return Tensor.batchNorm2d(x[0], gamma: x[1], beta: x[2], statistics: stats, training: training,
                                              relu: op == .batchNormReLU2d)
                }
            }
        case .maxPool2d:
            // Distinct values (a permutation), so that a finite-difference step cannot move a window's argmax.
            let values: [Float] = (0..<252).map { (i: Int) -> Float in Float((i * 37) % 252) / 50 - 2.5 }
            for (k, s, p) in [(3, 2, 1), (2, 2, 0), (3, 1, 1)] {
                checkGradients("\(name) k\(k) s\(s) p\(p)", inputs: [Tensor(values, shape: [2, 7, 6, 3])]) {
                    $0[0].maxPooled(kernelSize: k, stride: s, padding: p)
                }
            }
        case .shortcutA:
            checkGradients(name, inputs: [r.tensor([2, 5, 4, 2])]) { $0[0].shortcutA(padChannels: 1) }
        case .addReLU:
            checkGradients(name, inputs: [r.tensor([2, 3, 2, 2]), r.tensor([2, 3, 2, 2])]) { Tensor.addReLU($0[0], $0[1]) }
        case .globalAvgPool:
            checkGradients(name, inputs: [r.tensor([2, 3, 2, 4])]) { $0[0].globalAveragePooled() }
        case .contrastiveLoss:
            let kinds: [ContrastiveLossKind] = [.supCon(temperature: 0.5, baseTemperature: 0.5),
                                                .sbclRank(temperature: 0.5, baseTemperature: 0.35, gamma: 0.25),
                                                .sbclCCL(temperature: 0.5, baseTemperature: 0.35, gamma: 0.25)]
            let targets = ContrastiveTargets(labels: [0, 1, 0, 2], subclasses: [0, 2, 1, 3], classTemperatures: [0.4, 0.6, 0.5])
            for kind in kinds {
                let loss = ContrastiveLoss(kind)
                checkGradients("\(name) \(kind)", inputs: [r.tensor([8, 5])]) { Tensor.contrastiveLoss($0[0].l2Normalized(), loss, targets) }
            }
        case .mocoLoss:
            MoCoLossTests.checkEveryKindsGradient(name)
        case .nchwToNHWC:
            checkGradients(name, inputs: [r.tensor([2, 3, 2, 4])]) { $0[0].nchwToNHWC() }
        }
    }
}
