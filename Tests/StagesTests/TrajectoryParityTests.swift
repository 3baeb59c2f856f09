@testable import Datasets
import Engine
import Foundation
@testable import Stages
import TestSupport
import XCTest

/// Trajectory parity with the authors' code: 60 SGD steps of the first stage (20 of SupCon warm-up,
/// then SBCL `rank` with re-clusterings before steps 21 and 41), from the same initial weights and
/// the same 8-bit views as the reference, through the step the training loop runs (`EncoderStep`),
/// our learning-rate schedule and our re-clustering. Figures from
/// scripts/fidelity/trajectory_reference.py (real Fashion-MNIST, 161 images, batch 36 with the last
/// partial batch of 17 kept, lr 0.5 cosine over 12 epochs, as SimCLR/main.py).
///
/// Tolerance: rounding only, measured. The reference records the same trajectory in float64 (the
/// exact path, for our purpose) beside its float32 one. The SupCon gradient at these near-collapsed
/// projections is ill-conditioned (PyTorch's own float32 gradients of the first step are 1e-3 off
/// float64), and ReLU masks flip on rounding, so float32 paths fan out: PyTorch's float32 ends 13% of
/// the learned displacement away from float64. We check (1) the first step's loss to 1e-6, (2) the
/// learning rate of every step, (3) per phase, the root-sum-square of the relative step-loss
/// deviations from float64 at most 3× PyTorch float32's, (4) the re-clustering projections' RMS
/// deviation at most 3× PyTorch's, (5) our k-means and class temperatures on the reference's
/// projections give its labels exactly, (6) the end point's parameters and running statistics at
/// most 2× PyTorch float32's distance from float64. A wrong rule (loss weight, momentum, weight
/// decay, batch-norm momentum, schedule) moves the path far beyond these bounds: docs/fidelity.md
/// lists the mutations the test was seen to fail on.
final class TrajectoryParityTests: XCTestCase {
    private func fixture(_ name: String) throws -> SafeTensorsFile {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/trajectory/\(name)", withExtension: "safetensors"))
        return try SafeTensors.read(contentsOf: url)
    }

    func testSixtyFirstStageStepsFollowTheReferenceTrajectory() throws {
        try replay(steps: try fixture("steps"), initial: try fixture("initial"), final64: try fixture("final64"))
    }

    /// The same replay at the authors' full setting (14,886 images, batch 256, lr 0.5, 242
    /// subclasses), from a folder that `scripts/fidelity/trajectory_reference.py` wrote with
    /// NMAX=6000 FACTOR=0.01 … INIT=<a warm-up state> (docs/fidelity.md, "The first stage at full
    /// scale"): tens of MB and tens of minutes to make, so not a fixture.
    func testFullScaleTrajectoryFromSBCLTrajectoryDir() throws {
        guard let directory = ProcessInfo.processInfo.environment["SBCL_TRAJECTORY_DIR"] else {
            throw XCTSkip("set SBCL_TRAJECTORY_DIR to a folder written by scripts/fidelity/trajectory_reference.py to replay it")
        }
        func read(_ name: String) throws -> SafeTensorsFile {
            try SafeTensors.read(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent(name + ".safetensors"))
        }
        try replay(steps: try read("steps"), initial: try read("initial"), final64: try read("final64"))
    }

    private func replay(steps: SafeTensorsFile, initial: SafeTensorsFile, final64: SafeTensorsFile) throws {
        func meta(_ key: String) throws -> Double { try XCTUnwrap(Double(steps.metadata[key] ?? ""), "metadata \(key)") }
        let (mean, std) = (Float(try meta("mean")), Float(try meta("std")))
        let batchSize = Int(try meta("batch")), epochs = Int(try meta("epochs"))
        let baseRate = Float(try meta("lr"))
        // Our epoch of the first recorded step, less one (the reference counts epochs from 0).
        let firstEpoch = Int(steps.metadata["first_epoch"] ?? "0") ?? 0
        let labels = try steps.array(named: "subset_labels").int64s().map { Int32($0) }
        let count = labels.count, stepsPerEpoch = (count + batchSize - 1) / batchSize  // drop_last=False

        let model = try SupConResNet(checkpoint: initial)
        let optimizer = SGD(parameters: model.namedParameters, learningRate: baseRate, momentum: 0.9, weightDecay: 1e-4)
        let step = EncoderStep(model: model, optimizer: optimizer, place: .cpu(threads: 2))
        let schedule = LearningRateSchedule.supConCosine(base: baseRate, epochs: epochs, decayRate: 0.1, warmupEpochs: 0, warmupFrom: 0.01)
        let warm = Int(try meta("warm")), every = Int(try meta("step"))
        let clustering = ClusteringStage.Settings.defaults.with { $0.warmupEpochs = warm; $0.every = every; $0.minimumClusterSize = 10 }
        let losses = ContrastiveLossStage.Losses(.defaults)
        let warmupLoss = ContrastiveLoss(losses.warmup), mainLoss = ContrastiveLoss(losses.main)

        let views = try steps.array(named: "views"), sizes = try steps.array(named: "sizes").int64s()
        let stepLabels = try steps.array(named: "labels").int64s(), stepIndices = try steps.array(named: "indices").int64s()
        let rates = try steps.array(named: "lr").doubles(), rank = try steps.array(named: "rank").int64s()
        let loss32 = try steps.array(named: "loss").doubles(), loss64 = try steps.array(named: "loss64").doubles()
        let (height, width) = (views.shape[2], views.shape[3])
        let pixels = height * width
        let bytes = try views.int64s().map { UInt8($0) }
        func normalised(_ values: ArraySlice<UInt8>) -> [Float] { values.map { (Float($0) / 255 - mean) / std } }

        var subclasses: [Int32] = [], temperatures: [Float] = []
        // Per phase (0 warm-up, 1 SBCL): Σ (ours − float64)² and Σ (PyTorch float32 − float64)² of the
        // relative step losses; per re-clustering the same of the projections.
        var lossSquares = [[0.0, 0.0], [0.0, 0.0]]
        // Per phase: Σ of the signed relative deviations (a bias shows here, rounding averages out).
        var lossBias = [[0.0, 0.0], [0.0, 0.0]], phaseSteps = [0, 0]
        // Per epoch: Σ of the step losses of ours, PyTorch float32 and float64.
        var epochLosses = [Int: [Double]]()
        for s in 0..<sizes.count {
            let epoch = firstEpoch + s / stepsPerEpoch + 1, inEpoch = s % stepsPerEpoch
            if inEpoch == 0 && clustering.reclusters(atEpoch: epoch) {
                let key = "cluster\(epoch - 1)"
                let clusterViews = try steps.array(named: key + ".views")
                let x = Tensor(normalised(try clusterViews.int64s().map { UInt8($0) }[...]), shape: [count, height, width, 1])
                let z = withoutGradients { model(x, training: false) }.scalars
                let torch32 = try steps.array(named: key + ".features").floats(), exact = try steps.array(named: key + ".features64").floats()
                func rms(_ a: [Float]) -> Double { (zip(a, exact).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +) / Double(a.count)).squareRoot() }
                print("trajectory: \(key) projections, RMS from float64: ours \(rms(z)), PyTorch float32 \(rms(torch32))")
                XCTAssertLessThanOrEqual(rms(z), 3 * rms(torch32) + 1e-6, "\(key): eval-mode projections of the re-clustering views")
                // Our k-means and class temperatures on the reference's own projections: the same labels.
                var generator = MT19937(seed: UInt32(try steps.array(named: key + ".seed").int64s()[0]))
                let result = try Reclustering.cluster(projections: torch32, dimension: 128, labels: labels, classCount: 10,
                                                      settings: clustering, temperature: losses.temperature, generator: &generator)
                let referenceSubclasses = try steps.array(named: key + ".subclasses").int64s().map { Int32($0) }
                let referenceTemperatures = try steps.array(named: key + ".temperatures").doubles().map { Float($0) }
                // A clean seed: the reference's k-means never refilled an empty cluster with a draw of
                // torch's generator, so ours must give its labels exactly; otherwise report agreement.
                let same = zip(result.subclasses, referenceSubclasses).filter { $0 == $1 }.count
                print("trajectory: \(key) subclass labels from the reference's projections agree on \(same) of \(count)")
                // Exact labels are a fair demand at the fixture's size only. At 14,886 images k-means meets
                // near-ties that rounding decides: the reference's own k-means with its distances taken by
                // a matmul instead of its product-and-sum (the same arithmetic, other rounding) changes 3.7%
                // of its labels on these very projections (docs/fidelity.md). Both sides then go on from
                // the reference's labels, so the steps are still compared like for like.
                let clean = (try? steps.array(named: key + ".clean").int64s().first) ?? 1 == 1
                if clean && count <= 1000 {
                    XCTAssertEqual(same, count, "\(key): subclasses from the reference's projections")
                } else if !clean {
                    print("trajectory: \(key) k-means met an empty cluster in the reference (a torch draw): labels not compared")
                }
                assertAllClose(result.classTemperatures, referenceTemperatures, rtol: 1e-5, atol: 1e-7, "\(key): class temperatures")
                subclasses = referenceSubclasses
                temperatures = referenceTemperatures
            }
            let n = Int(sizes[s])
            let rate = schedule.rate(epoch: epoch, step: inEpoch, stepsPerEpoch: stepsPerEpoch)
            XCTAssertEqual(Double(rate), rates[s], accuracy: 1e-6 * rates[s], "learning rate of step \(s + 1) (epoch \(epoch))")
            let base = s * 2 * batchSize * pixels
            let first = bytes[(base)..<(base + n * pixels)]
            let second = bytes[(base + batchSize * pixels)..<(base + (batchSize + n) * pixels)]
            let row = s * batchSize
            let batch = Batch(images: normalised(first) + normalised(second),
                              labels: stepLabels[row..<(row + n)].map { Int32($0) }, indices: stepIndices[row..<(row + n)].map { Int($0) },
                              views: 2, batchSize: n, height: height, width: width, channels: 1,
                              position: LoaderPosition(epoch: epoch, step: inEpoch))
            let sbcl = !clustering.isWarmup(epoch: epoch)
            XCTAssertEqual(rank[s] == 1, sbcl, "step \(s + 1): warm-up or SBCL")
            let objective = EncoderStep.Objective.contrastive(sbcl ? mainLoss : warmupLoss, subclasses: subclasses, temperatures: temperatures)
            let value = Double(step(batch, rate: rate, objective: objective))
            if s == 0 {
                // Before any update: the same arithmetic on the same weights and views.
                XCTAssertEqual(value, loss64[0], accuracy: 1e-6 * abs(loss64[0]), "loss of the first step")
            }
            let ours = (value - loss64[s]) / loss64[s], torch32 = (loss32[s] - loss64[s]) / loss64[s]
            lossSquares[sbcl ? 1 : 0][0] += ours * ours
            lossSquares[sbcl ? 1 : 0][1] += torch32 * torch32
            lossBias[sbcl ? 1 : 0][0] += ours
            lossBias[sbcl ? 1 : 0][1] += torch32
            phaseSteps[sbcl ? 1 : 0] += 1
            epochLosses[epoch, default: [0, 0, 0, 0]] = zip(epochLosses[epoch] ?? [0, 0, 0, 0], [value, loss32[s], loss64[s], 1]).map { $0 + $1 }
        }
        for (epoch, sums) in epochLosses.sorted(by: { $0.key < $1.key }) {
            print(String(format: "trajectory: epoch %d mean step loss: ours %.5f, PyTorch float32 %.5f, float64 %.5f",
                         epoch, sums[0] / sums[3], sums[1] / sums[3], sums[2] / sums[3]))
        }
        for (phase, name) in ["SupCon warm-up", "SBCL rank"].enumerated() where phaseSteps[phase] > 0 {
            let n = Double(phaseSteps[phase])
            print(String(format: "trajectory: %@ mean signed relative deviation from float64 over %d steps: ours %+.3e, PyTorch float32 %+.3e",
                         name, phaseSteps[phase], lossBias[phase][0] / n, lossBias[phase][1] / n))
        }
        for (phase, name) in ["SupCon warm-up", "SBCL rank"].enumerated() where phaseSteps[phase] > 0 {
            let (ours, torch32) = (lossSquares[phase][0].squareRoot(), lossSquares[phase][1].squareRoot())
            print("trajectory: \(name) step losses, relative deviation from float64 (root of the sum of squares): ours \(ours), PyTorch float32 \(torch32)")
            XCTAssertLessThanOrEqual(ours, 3 * torch32, "\(name) step losses against the float64 path")
        }

        // The end point: parameters and running statistics against the float64 path.
        func displacement(running: Bool) throws -> (ours: Double, torch: Double) {
            var num = 0.0, den = 0.0
            for (name, item) in model.state {
                let value: [Float]
                switch item {
                case .parameter(let p) where !running: value = p.value.scalars
                case .runningMean(let b) where running: value = b.runningMean.scalars
                case .runningVariance(let b) where running: value = b.runningVariance.scalars
                default: continue
                }
                if name.hasPrefix("encoder.linear.") { continue }  // unused by the first stage, never updated
                let target = try final64.array(named: name).doubles(), start = try initial.array(named: name).doubles()
                for i in 0..<value.count {
                    num += (Double(value[i]) - target[i]) * (Double(value[i]) - target[i])
                    den += (target[i] - start[i]) * (target[i] - start[i])
                }
            }
            return ((num / den).squareRoot(), try meta(running ? "spread32_running" : "spread32_params"))
        }
        let parameters = try displacement(running: false), running = try displacement(running: true)
        print("trajectory: parameters \(parameters.ours) of the learned displacement "
              + "(PyTorch float32: \(parameters.torch)); running statistics \(running.ours) (PyTorch float32: \(running.torch))")
        XCTAssertLessThanOrEqual(parameters.ours, 2 * parameters.torch, "parameters after \(sizes.count) steps, against the float64 path")
        XCTAssertLessThanOrEqual(running.ours, 2 * running.torch, "batch-norm running statistics after \(sizes.count) steps")
    }
}
