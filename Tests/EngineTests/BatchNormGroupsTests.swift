import XCTest
@testable import Engine
import TestSupport

/// Batch norm in G row groups (`BatchNormGroups.split`) against G separate `batchNorm2d` calls on
/// the slices: values, input / γ / β gradients, running statistics from group 0 only.
final class BatchNormGroupsTests: XCTestCase {
    /// Statistics with non-default values, so an update from the wrong group shows.
    func statistics(_ channels: Int) -> BatchNormStatistics {
        let s = BatchNormStatistics(channels: channels)
        s.runningMean = Tensor((0..<channels).map { Float($0) * 0.1 - 0.2 }, shape: [channels])
        s.runningVariance = Tensor((0..<channels).map { 0.5 + Float($0) * 0.25 }, shape: [channels])
        s.batchesTracked = 3
        return s
    }

    /// (output, dx, dγ, dβ, running mean, running variance, batches tracked) of `f` on fresh statistics.
    func run(_ x: Tensor, _ gamma: Tensor, _ beta: Tensor, weights: Tensor,
             _ f: (Tensor, Tensor, Tensor, BatchNormStatistics) -> Tensor) -> [[Float]] {
        let stats = statistics(gamma.count)
        let (xt, gt, bt) = (x.trackingGradients(), gamma.trackingGradients(), beta.trackingGradients())
        let y = f(xt, gt, bt, stats)
        let grads = (y * weights).sum().gradients()
        return [y.scalars, grads[xt]!.scalars, grads[gt]!.scalars, grads[bt]!.scalars,
                stats.runningMean.scalars, stats.runningVariance.scalars, [Float(stats.batchesTracked)]]
    }

    /// G separate calls on the contiguous slices, group 0 on the real statistics, the others on a scratch copy.
    func separate(_ groups: Int, relu: Bool) -> (Tensor, Tensor, Tensor, BatchNormStatistics) -> Tensor {
        { x, gamma, beta, stats in
            let size = x.shape[0] / groups
            let scratch = self.statistics(gamma.count)
            return Tensor.concat((0..<groups).map { g in
                Tensor.batchNorm2d(x.sliced(axis: 0, (g * size)..<((g + 1) * size)), gamma: gamma, beta: beta,
                                   statistics: g == 0 ? stats : scratch, training: true, relu: relu)
            }, axis: 0)
        }
    }

    func testGroupsEqualSeparateCallsOnTheSlices() {
        let names = ["output", "input gradient", "gamma gradient", "beta gradient", "running mean", "running variance", "batches tracked"]
        for (groups, relu) in [(2, false), (2, true), (4, false), (4, true)] {
            var r = TestRandom(seed: UInt32(groups * 10 + (relu ? 1 : 0)))
            let c = 5
            // Groups with clearly different statistics: each group's rows shifted and scaled.
            let x = Tensor((0..<(8 * 3 * 2 * c)).map { i -> Float in
                let group = i / (8 / groups * 3 * 2 * c)
                return r.uniform() * Float(1 + group) + Float(group) - 1
            }, shape: [8, 3, 2, c])
            let gamma = r.tensor([c], 0.5, 1.5), beta = r.tensor([c]), weights = r.tensor([8, 3, 2, c])
            let grouped = run(x, gamma, beta, weights: weights) { x, g, b, s in
                BatchNormGroups.split(into: groups) { Tensor.batchNorm2d(x, gamma: g, beta: b, statistics: s, training: true, relu: relu) }
            }
            let expected = run(x, gamma, beta, weights: weights, separate(groups, relu: relu))
            let whole = run(x, gamma, beta, weights: weights) { x, g, b, s in
                Tensor.batchNorm2d(x, gamma: g, beta: b, statistics: s, training: true, relu: relu)
            }
            for k in 0..<names.count {
                // Values and input gradients are the same arithmetic; γ and β sum G groups' parts,
                // in another order than autodiff adds them when G > 2.
                let tolerance: Float = k == 2 || k == 3 ? 1e-6 : 0
                assertAllClose(grouped[k], expected[k], rtol: tolerance, atol: tolerance, "\(groups) groups relu \(relu): \(names[k])")
            }
            XCTAssertEqual(grouped[6], [4], "one pass counts once, as one PyTorch BatchNorm2d forward")
            // The grouping changes what a user gets: the output, and the statistics kept.
            XCTAssertGreaterThan(zip(grouped[0], whole[0]).map { abs($0 - $1) }.max()!, 0.05, "\(groups) groups: output as the whole batch's")
            XCTAssertGreaterThan(zip(grouped[4], whole[4]).map { abs($0 - $1) }.max()!, 1e-3, "\(groups) groups: running mean as the whole batch's")
        }
    }

    func testDeviceFormByCompositionEqualsTheCPUKernel() {
        // `batchNorm2dByGroups` is what device backends run: slices, per-group calls, concat.
        var r = TestRandom(seed: 99)
        let x = r.tensor([6, 2, 3, 4], -2, 2), gamma = r.tensor([4], 0.5, 1.5), beta = r.tensor([4]), weights = r.tensor([6, 2, 3, 4])
        let kernel = run(x, gamma, beta, weights: weights) { x, g, b, s in
            BatchNormGroups.split(into: 3) { Tensor.batchNorm2d(x, gamma: g, beta: b, statistics: s, training: true, relu: true) }
        }
        let composed = run(x, gamma, beta, weights: weights) { x, g, b, s in
            Tensor.batchNorm2dByGroups(x, groups: 3, gamma: g, beta: b, statistics: s, momentum: 0.1, epsilon: 1e-5, relu: true)
        }
        for k in 0..<kernel.count { assertAllClose(kernel[k], composed[k], rtol: 1e-6, atol: 1e-6, "part \(k)") }
    }

    func testOneGroupIsBitIdenticalToNoScope() {
        var r = TestRandom(seed: 5)
        let x = r.tensor([4, 3, 3, 6], -2, 2), gamma = r.tensor([6], 0.5, 1.5), beta = r.tensor([6]), weights = r.tensor([4, 3, 3, 6])
        for relu in [false, true] {
            let plain = run(x, gamma, beta, weights: weights) { x, g, b, s in
                Tensor.batchNorm2d(x, gamma: g, beta: b, statistics: s, training: true, relu: relu)
            }
            let one = run(x, gamma, beta, weights: weights) { x, g, b, s in
                BatchNormGroups.split(into: 1) { Tensor.batchNorm2d(x, gamma: g, beta: b, statistics: s, training: true, relu: relu) }
            }
            for k in 0..<plain.count {
                XCTAssertEqual(plain[k].map(\.bitPattern), one[k].map(\.bitPattern), "relu \(relu), part \(k)")
            }
        }
    }

    func testEvaluationModeIgnoresTheGroups() {
        var r = TestRandom(seed: 6)
        let x = r.tensor([4, 2, 2, 3]), gamma = r.tensor([3], 0.5, 1.5), beta = r.tensor([3])
        let stats = statistics(3)
        let plain = Tensor.batchNorm2d(x, gamma: gamma, beta: beta, statistics: stats, training: false).scalars
        let grouped = BatchNormGroups.split(into: 4) { Tensor.batchNorm2d(x, gamma: gamma, beta: beta, statistics: stats, training: false) }.scalars
        XCTAssertEqual(plain, grouped)
        XCTAssertEqual(stats.batchesTracked, 3, "evaluation updates nothing")
    }

    func testScopeRestoresTheGroupsItFound() {
        XCTAssertEqual(BatchNormGroups.active, 1)
        BatchNormGroups.split(into: 4) {
            XCTAssertEqual(BatchNormGroups.active, 4)
            BatchNormGroups.split(into: 2) { XCTAssertEqual(BatchNormGroups.active, 2) }
            XCTAssertEqual(BatchNormGroups.active, 4)
        }
        XCTAssertEqual(BatchNormGroups.active, 1)
    }

    func testFiniteDifferencesOfTheGroupedOp() {
        for relu in [false, true] {
            var r = TestRandom(seed: relu ? 21 : 20)
            let stats = statistics(3)
            let saved = (stats.runningMean.scalars, stats.runningVariance.scalars)
            checkGradients("grouped batchNorm2d relu \(relu)", inputs: [r.tensor([4, 2, 3, 3]), r.tensor([3], 0.5, 1.5), r.tensor([3])],
                           rtol: 3e-2, atol: 3e-3) { x in
                stats.runningMean = Tensor(saved.0, shape: [3]); stats.runningVariance = Tensor(saved.1, shape: [3])
                return BatchNormGroups.split(into: 2) {
                    Tensor.batchNorm2d(x[0], gamma: x[1], beta: x[2], statistics: stats, training: true, relu: relu)
                }
            }
        }
    }

    func testKeyPermutationIsAFunctionOfSeedEpochAndStep() {
        let p = MoCo.keyPermutation(count: 64, seed: 7, epoch: 3, step: 5)
        XCTAssertEqual(p.sorted(), Array(0..<64), "a permutation")
        XCTAssertEqual(p, MoCo.keyPermutation(count: 64, seed: 7, epoch: 3, step: 5), "a resumed run draws the same")
        XCTAssertNotEqual(p, Array(0..<64))
        XCTAssertNotEqual(p, MoCo.keyPermutation(count: 64, seed: 7, epoch: 3, step: 6))
        XCTAssertNotEqual(p, MoCo.keyPermutation(count: 64, seed: 7, epoch: 4, step: 5))
        XCTAssertNotEqual(p, MoCo.keyPermutation(count: 64, seed: 8, epoch: 3, step: 5))
    }
}
