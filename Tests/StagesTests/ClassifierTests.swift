import XCTest
import Engine
import Datasets
import TestSupport
@testable import Stages

/// The classifier head, its loss and schedules against the reference's formulas, and training on
/// synthetic features.
final class ClassifierTests: XCTestCase {
    /// Gaussian clusters in 64-d around random class centres, with the given counts per class.
    /// Centres come from `seed`, the noise around them from `noiseSeed`.
    private func clusters(counts: [Int], spread: Float, seed: UInt32, noiseSeed: UInt32 = 0) -> (features: [Float], labels: [Int32]) {
        var centreRandom = TestRandom(seed: seed), random = TestRandom(seed: noiseSeed &+ 1000)
        let centres = counts.indices.map { _ in (0..<64).map { _ in centreRandom.normal() } }
        var features: [Float] = [], labels: [Int32] = []
        for (c, n) in counts.enumerated() {
            for _ in 0..<n {
                features += centres[c].map { $0 + spread * random.normal() }
                labels.append(Int32(c))
            }
        }
        return (features, labels)
    }

    func testLDAMMarginsAndWeightsAreTheReferences() {
        // numpy: m = n^-1/4 scaled to max 0.5; w = (1-β)/(1-β^n) normalised to sum C (β = 0.9999).
        let loss = ClassifierConfiguration.defaults.loss(classCounts: [500, 100, 10])
        assertAllClose(loss.margins, [0.18803015, 0.28117067, 0.5], rtol: 1e-6)
        assertAllClose(loss.weights, [0.05484823, 0.26883745, 2.6763144], rtol: 1e-6)
        XCTAssertEqual(loss.scale, 30)
        var ce = ClassifierConfiguration.defaults
        ce.method = .ce
        XCTAssertEqual(ce.loss(classCounts: [500, 100, 10]), CrossEntropyLoss())
        XCTAssertEqual(ce.form, .linear)
        XCTAssertEqual(ClassifierConfiguration.defaults.form, .cosine)
    }

    func testSchedulesAreTheReferences() {
        let drw = ClassifierConfiguration.defaults.schedule
        // adjust_learning_rate: lr·e/5 for e ≤ 5, lr to 140, ×0.1 to 180, ×0.01 after.
        let expected: [(Int, Float)] = [(1, 0.02), (5, 0.1), (6, 0.1), (140, 0.1), (141, 0.01), (180, 0.01), (181, 0.001), (200, 0.001)]
        for (epoch, lr) in expected {
            XCTAssertEqual(drw.rate(epoch: epoch, step: 0, stepsPerEpoch: 10), lr, accuracy: 1e-7, "epoch \(epoch)")
        }
        var cb = ClassifierConfiguration.defaults
        cb.method = .cb
        cb.epochs = 45
        XCTAssertEqual(cb.samplerKind, .classAware)
        XCTAssertEqual(cb.schedule.rate(epoch: 3, step: 0, stepsPerEpoch: 1), 0.06, accuracy: 1e-7)
        // 0.5·lr·(1 + cos(π (e − 5)/(E − 5))) at e = 25, E = 45: half way, lr/2.
        XCTAssertEqual(cb.schedule.rate(epoch: 25, step: 0, stepsPerEpoch: 1), 0.05, accuracy: 1e-6)
        XCTAssertEqual(cb.schedule.rate(epoch: 45, step: 0, stepsPerEpoch: 1), 0, accuracy: 1e-7)
    }

    func testCosineHeadComputesCosinesAndItsGradient() {
        let head = ClassifierHead(form: .cosine, featureCount: 4, classCount: 3, seed: 7)
        let w = head.cosineWeight!.value.scalars  // [4, 3]
        for c in 0..<3 {  // columns start at unit norm (NormedLinear's renorm)
            XCTAssertEqual((0..<4).map { w[$0 * 3 + c] * w[$0 * 3 + c] }.reduce(0, +), 1, accuracy: 1e-5)
        }
        let x: [Float] = [1, 2, -1, 0.5, -3, 0.2, 0.1, 4]
        let logits = withoutGradients { head.logits(Tensor(x, shape: [2, 4])) }.scalars
        for row in 0..<2 {
            let xs = Array(x[(row * 4)..<(row * 4 + 4)])
            let xNorm = xs.map { $0 * $0 }.reduce(0, +).squareRoot()
            for c in 0..<3 {
                let dot = (0..<4).map { xs[$0] * w[$0 * 3 + c] }.reduce(0, +)
                XCTAssertEqual(logits[row * 3 + c], dot / xNorm, accuracy: 1e-5)
            }
        }
        XCTAssertEqual(head.state.map(\.name), ["weight"])
        XCTAssertEqual(ClassifierHead(form: .linear, featureCount: 4, classCount: 3, seed: 1).state.map(\.name), ["fc.weight", "fc.bias"])
        var random = TestRandom(seed: 3)
        checkGradients("cosine head", inputs: [random.tensor([3, 4]), random.tensor([4, 3])]) { t in
            Tensor.matmul(t[0].l2Normalized(), t[1].transposed().l2Normalized(), transposeB: true)
        }
    }

    /// Every method separates well-separated, long-tailed clusters; the held-out accuracy is high.
    func testEveryMethodLearnsSeparableFeatures() {
        let counts = [200, 60, 12]
        let train = clusters(counts: counts, spread: 0.6, seed: 11)
        let test = clusters(counts: [50, 50, 50], spread: 0.6, seed: 11, noiseSeed: 1)  // same centres, fresh noise
        for method in ClassifierMethod.allCases {
            var configuration = ClassifierConfiguration.defaults
            configuration.method = method
            configuration.epochs = 12
            configuration.warmupEpochs = 2
            configuration.milestones = [8, 10]
            configuration.batchSize = 32
            let trainer = ClassifierTrainer(configuration: configuration, classCounts: counts, featureCount: 64, seed: 5)
            let sampler = Sampler(kind: configuration.samplerKind, labels: train.labels, classCount: 3, seed: 1)
            var last = (loss: 0.0, accuracy: 0.0, learningRate: Float(0))
            for epoch in 0..<configuration.epochs {
                let order = sampler.order(epoch: epoch)
                let steps = (order.count + 31) / 32
                last = trainer.trainEpoch(steps: steps) { step in
                    let rows = Array(order[(step * 32)..<min(order.count, step * 32 + 32)])
                    return (Tensor(rows.flatMap { train.features[($0 * 64)..<($0 * 64 + 64)] }, shape: [rows.count, 64]),
                            rows.map { train.labels[$0] })
                }
            }
            XCTAssertGreaterThan(last.accuracy, 95, "\(method) training accuracy")
            let logits = withoutGradients { trainer.head.logits(Tensor(test.features, shape: [150, 64])) }.scalars
            let metrics = EvaluationMetrics(logits: logits, labels: test.labels, classCounts: counts)
            XCTAssertGreaterThan(metrics.top1, 95, "\(method) test accuracy")
            XCTAssertGreaterThan(metrics.perClass[2], 85, "\(method) rare-class accuracy")
        }
    }

    /// Two epochs, a checkpoint, a fresh trainer restored from it and two more epochs give the
    /// same head as four epochs in one go.
    func testCheckpointResumeIsBitIdentical() throws {
        let counts = [40, 10]
        let data = clusters(counts: counts, spread: 1, seed: 4)
        var configuration = ClassifierConfiguration.defaults
        configuration.epochs = 4
        configuration.warmupEpochs = 1
        configuration.batchSize = 16
        func epoch(_ trainer: ClassifierTrainer) {
            let order = Sampler(kind: .instance, labels: data.labels, classCount: 2, seed: 2).order(epoch: trainer.completedEpochs)
            trainer.trainEpoch(steps: (order.count + 15) / 16) { step in
                let rows = Array(order[(step * 16)..<min(order.count, step * 16 + 16)])
                return (Tensor(rows.flatMap { data.features[($0 * 64)..<($0 * 64 + 64)] }, shape: [rows.count, 64]),
                        rows.map { data.labels[$0] })
            }
        }
        let straight = ClassifierTrainer(configuration: configuration, classCounts: counts, featureCount: 64, seed: 1)
        for _ in 0..<4 { epoch(straight) }
        let first = ClassifierTrainer(configuration: configuration, classCounts: counts, featureCount: 64, seed: 1)
        epoch(first); epoch(first)
        let url = try temporaryFolder(self).appendingPathComponent("ckpt.safetensors")
        try first.saveCheckpoint(to: url)
        let resumed = ClassifierTrainer(configuration: configuration, classCounts: counts, featureCount: 64, seed: 99)
        try resumed.loadCheckpoint(from: url)
        XCTAssertEqual(resumed.completedEpochs, 2)
        XCTAssertEqual(resumed.lastLoss, first.lastLoss)
        epoch(resumed); epoch(resumed)
        XCTAssertEqual(resumed.head.cosineWeight!.value.scalars, straight.head.cosineWeight!.value.scalars)
        XCTAssertEqual(resumed.optimizer.momentumBuffers, straight.optimizer.momentumBuffers)
    }
}
