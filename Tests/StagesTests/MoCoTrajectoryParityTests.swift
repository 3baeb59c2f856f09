import Engine
import Foundation
import PipelineDSL
@testable import Stages
import TestSupport
import XCTest

/// Trajectory parity of the ImageNet-LT first stage with the authors' `moco/` code: 64 MoCo steps
/// (ResNet-18 query and key encoders with the MLP head, queue K = 64 wrapping 16 times, batch 16
/// of 128 real long-tailed images in 5 classes at 32 px): 32 steps of KCL (k = 6, the same
/// draws fed to both sides), then a fresh SGD and `SupConLoss_rank` on the queue, with
/// re-clusterings from the key encoder before the second half's epochs 1 and 3. From the same
/// formula weights and the same 8-bit views as the reference, through `MoCoStep` (the code the
/// training loop runs), the settings recipes/imagenet_lt.yaml resolves to (key momentum, SGD, KCL's k, τ, γ, τ_c, k-means) and the
/// loop's own schedule rules (`MoCoTraining.rate`, `.reclusters`, `.startsFreshOptimizer`).
/// Figures from scripts/fidelity/moco_trajectory_reference.py.
///
/// Tolerance: rounding only, measured. The reference replays its trajectory in float64 (the exact
/// path, for our purpose) beside its float32 one, and a second float32 path with the inputs scaled
/// by 1 + 2⁻²² (one rounding's worth of difference at the start). The steps are ill-conditioned
/// (projections near collapse, batch norm over 16 values): that perturbed float32 path ends 3–4×
/// further from float64 than the golden float32 run, whose PyTorch kernels round as its float64
/// ones do. Every bound is twice the larger of the two deviations; the first step's loss (before
/// any update) is held to max(1e-6, 3× PyTorch float32's). docs/fidelity.md, "The MoCo half over
/// 60+ steps", gives the figures and the rule mutations the test fails on.
final class MoCoTrajectoryParityTests: XCTestCase {
    func testSixtyFourMoCoStepsFollowTheReferenceTrajectory() throws {
        let reference = try MoCoTrajectoryReference(figures: "steps")
        let (model, initial) = reference.makeModel()
        let optimizer = reference.makeOptimizer(model)
        let step = MoCoStep(model: model, optimizer: optimizer, place: .cpu(threads: 2))
        let run = reference.train(step, rank: 0, of: 1)
        try reference.check(run, model: model, initial: initial, label: "MoCo trajectory")
    }
}

/// The reference trajectory (scripts/fidelity/moco_trajectory_reference.py) and how ours is run
/// and held to it: the views and the schedule of steps.safetensors, the figures of one run of
/// the reference (steps.safetensors for one process, ranks2.safetensors for two ranks), the
/// settings recipes/imagenet_lt.yaml resolves to, and the checks with their bounds.
struct MoCoTrajectoryReference {
    /// The views, labels, batches, view pairs, KCL draws and re-clustering views.
    let inputs: SafeTensorsFile
    /// The reference run's step losses, projections, subclasses, queue, end point and spreads.
    let figures: SafeTensorsFile
    let epochs: Int, batchSize: Int, queueSize: Int, warmup: Int
    let baseRate: Float
    let encoder: EncoderStage.Settings
    let clustering: ClusteringStage.Settings
    let losses: ContrastiveLossStage.Losses
    let labels: [Int32]
    let classCount: Int
    let index: [Int], query: [Int], key: [Int]
    let uniforms: [Float]
    let steps: Int, perEpoch: Int, draws: Int
    /// Per re-clustering epoch of ours (from 1): the name of its fixture entries.
    let clusterings: [Int: String]
    /// The reference's subclasses of each re-clustering, by name.
    let subclasses: [String: [Int32]]
    /// The views each re-clustering embeds, by name (rows of `base`).
    let clusterViews: [String: [Int]]
    private let pixels: [UInt8], mean: [Float], std: [Float]
    private let height: Int, width: Int, channels: Int

    private static func fixture(_ name: String) throws -> SafeTensorsFile {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/moco_trajectory/" + name, withExtension: "safetensors"), name)
        return try SafeTensors.read(contentsOf: url)
    }

    /// The inputs of steps.safetensors and the figures of `figures`.safetensors.
    init(figures name: String) throws {
        let inputs = try Self.fixture("steps")
        let figures = name == "steps" ? inputs : try Self.fixture(name)
        self.inputs = inputs
        self.figures = figures
        func meta(_ key: String) throws -> Double { try XCTUnwrap(Double(figures.metadata[key] ?? ""), "metadata \(key)") }
        func floats(_ key: String) throws -> [Float] { try XCTUnwrap(inputs.metadata[key]).split(separator: ",").compactMap { Float($0) } }
        let epochs = Int(try meta("epochs"))
        self.epochs = epochs; batchSize = Int(try meta("batch")); queueSize = Int(try meta("queue_size"))
        baseRate = Float(try meta("lr")); mean = try floats("mean"); std = try floats("std")

        // The settings recipes/imagenet_lt.yaml gives (the reference's command line), at the
        // fixture's scale: epochs, batch, queue, rate and re-clustering period from the fixture.
        let plan = try RecipeTests.imageNetLTPlanWithoutData()
        func parameters(_ stage: String) throws -> ResolvedParameters { try XCTUnwrap(plan.stage(named: stage), stage).spec.parameters }
        encoder = EncoderStage.Settings(try parameters("encoder"))
        let warmup = epochs / 2  // main.py: pretrain_epochs = epochs // 2; the recipe: half its epochs
        self.warmup = warmup
        XCTAssertEqual(ClusteringStage.Settings(try parameters("clusters")).warmupEpochs * 2, encoder.epochs, "the recipe's KCL half")
        let every = Int(try meta("step")), minimumClusterSize = Int(try meta("min_cluster_size"))
        let clustering = ClusteringStage.Settings(try parameters("clusters")).with {
            $0.warmupEpochs = warmup; $0.every = every; $0.minimumClusterSize = minimumClusterSize
        }
        self.clustering = clustering
        losses = ContrastiveLossStage.Losses(try parameters("loss"))
        XCTAssertEqual(Double(encoder.keyMomentum), try meta("key_momentum"), "the key encoder's momentum")

        let base = try inputs.array(named: "base")
        height = base.shape[2]; width = base.shape[3]; channels = base.shape[1]
        pixels = try base.int64s().map { UInt8($0) }
        let labels = try inputs.array(named: "labels").int64s().map { Int32($0) }
        self.labels = labels
        classCount = Int(labels.max()!) + 1
        index = try inputs.array(named: "index").int64s().map(Int.init)
        query = try inputs.array(named: "query").int64s().map(Int.init); key = try inputs.array(named: "key").int64s().map(Int.init)
        let uniforms = try inputs.array(named: "uniforms").floats(), steps = try figures.array(named: "loss64").doubles().count
        self.uniforms = uniforms
        self.steps = steps
        perEpoch = steps / epochs; draws = uniforms.count / steps
        var clusterings = [Int: String](), subclasses = [String: [Int32]](), views = [String: [Int]]()
        for epoch in 1...epochs where MoCoTraining.reclusters(atEpoch: epoch, warmupEpochs: clustering.warmupEpochs, every: clustering.every) {
            let name = "cluster\(epoch - warmup - 1)"
            clusterings[epoch] = name
            subclasses[name] = try figures.array(named: name + ".subclasses").int64s().map { Int32($0) }
            views[name] = try inputs.array(named: name + ".view").int64s().map(Int.init)
        }
        self.clusterings = clusterings
        self.subclasses = subclasses
        clusterViews = views
    }

    func meta(_ key: String) throws -> Double { try XCTUnwrap(Double(figures.metadata[key] ?? ""), "metadata \(key)") }

    /// The NHWC input of rows of `base`: ToTensor, then Normalize, in Float as torchvision does.
    func images(_ rows: [Int]) -> Tensor {
        let plane = height * width, size = plane * channels
        var values = [Float](repeating: 0, count: rows.count * size)
        for (n, row) in rows.enumerated() {
            for c in 0..<channels {
                for p in 0..<plane {
                    values[n * size + p * channels + c] = (Float(pixels[row * size + c * plane + p]) / 255 - mean[c]) / std[c]
                }
            }
        }
        return Tensor(values, shape: [rows.count, height, width, channels])
    }

    /// The reference's initial model: the query encoder from the formula, the key encoder's
    /// parameters copied from it, the fixture's queue; and its state, to measure displacements.
    func makeModel() -> (model: MoCo, initial: [String: [Float]]) {
        let model = MoCo(.resnet18, dimension: encoder.projectionDimension, queueSize: queueSize, momentum: Float(encoder.keyMomentum))
        GoldenFormula.setState(model.encoderQuery)
        for ((_, k), (_, q)) in zip(model.encoderKey.namedParameters, model.encoderQuery.namedParameters) { k.assign(q.value) }
        let queue0 = try! inputs.array(named: "queue.initial")
        model.setQueue(Tensor(queue0.floats(), shape: queue0.shape))
        return (model, Dictionary(uniqueKeysWithValues: model.stateArrays().map { ($0.name, $0.array.floats()) }))
    }

    func makeOptimizer(_ model: MoCo) -> SGD {
        SGD(parameters: model.queryParameters, learningRate: baseRate, momentum: Float(encoder.momentum), weightDecay: Float(encoder.weightDecay))
    }

    /// What a run of ours yields: the step losses (the global batch's) and the key encoder's
    /// projections at each re-clustering, by name.
    struct Run {
        var losses: [Double] = []
        var projections: [String: [Float]] = [:]
    }

    /// The whole trajectory through `step` as the training loop runs it, on rank `rank` of `ranks`:
    /// its contiguous slice of every global batch (`rankSlice`), its queries' KCL draws (the
    /// loop's rule), the reference's subclasses from each re-clustering on, and across ranks the
    /// reference's shuffle-BN permutation of each step (`permutations`, [steps][batch]).
    func train(_ step: MoCoStep, rank: Int, of ranks: Int, permutations: [[Int]]? = nil) -> Run {
        let mine = rankSlice(of: batchSize, rank: rank, size: ranks), k = draws / batchSize
        let kcl = MoCoLoss(.kcl(draws: encoder.kclPositives, temperature: losses.temperature), maxThreads: 2)
        let main = MoCoLoss(try! losses.mocoLoss(stage: "encoder"), maxThreads: 2)
        var run = Run()
        var current = [Int32](repeating: -1, count: labels.count)
        for epoch in 1...epochs {
            let sbcl = epoch > warmup
            if MoCoTraining.startsFreshOptimizer(atEpoch: epoch, warmupEpochs: clustering.warmupEpochs) { step.optimizer.momentumBuffers = [:] }
            if let name = clusterings[epoch] {
                run.projections[name] = step.model.keyProjections(images(clusterViews[name]!), training: false).scalars
                current = subclasses[name]!
            }
            step.optimizer.learningRate = MoCoTraining.rate(epoch: epoch, epochs: epochs, warmupEpochs: clustering.warmupEpochs, base: baseRate)
            for s in ((epoch - 1) * perEpoch)..<(epoch * perEpoch) {
                let rows = mine.map { s * batchSize + $0 }
                let value = step(query: images(rows.map { query[$0] }), key: images(rows.map { key[$0] }),
                                 labels: rows.map { labels[index[$0]] }, subclasses: rows.map { current[index[$0]] },
                                 loss: sbcl ? main : kcl, globalBatch: batchSize,
                                 uniforms: sbcl ? nil : (0..<k).flatMap { d in mine.map { uniforms[s * draws + d * batchSize + $0] } },
                                 keyPermutation: permutations?[s])
                run.losses.append(Double(value))
            }
        }
        return run
    }

    /// Holds `run` and `model` (rank 0's) to the reference's figures: the loop's schedule rules,
    /// the re-clustering projections and subclasses, the step losses per phase, the queue, and
    /// the end point of both encoders and the batch-norm running statistics.
    func check(_ run: Run, model: MoCo, initial: [String: [Float]], label: String) throws {
        let rates = try figures.array(named: "lr").doubles(), rank = try figures.array(named: "rank").int64s()
        let loss32 = try figures.array(named: "loss").doubles(), loss64 = try figures.array(named: "loss64").doubles()
        XCTAssertEqual(run.losses.count, steps, "\(label): steps run")

        // The loop's rules at the switch, against where the reference's `rank` steps start: a fresh
        // optimiser there and nowhere else (the trajectory alone cannot see a carried momentum
        // buffer at this conditioning: docs/fidelity.md), and re-clustering from the first SBCL epoch.
        let firstRankEpoch = try XCTUnwrap(rank.firstIndex(of: 1)) / perEpoch + 1
        for epoch in 1...epochs {
            XCTAssertEqual(MoCoTraining.startsFreshOptimizer(atEpoch: epoch, warmupEpochs: clustering.warmupEpochs), epoch == firstRankEpoch,
                           "a fresh SGD at epoch \(epoch)")
            let rate = MoCoTraining.rate(epoch: epoch, epochs: epochs, warmupEpochs: clustering.warmupEpochs, base: baseRate)
            for s in ((epoch - 1) * perEpoch)..<(epoch * perEpoch) {
                XCTAssertEqual(Double(rate), rates[s], accuracy: 1e-6 * rates[s], "learning rate of step \(s + 1) (epoch \(epoch))")
                XCTAssertEqual(rank[s] == 1, epoch > warmup, "step \(s + 1): KCL or SBCL")
            }
        }
        XCTAssertTrue(MoCoTraining.reclusters(atEpoch: firstRankEpoch, warmupEpochs: clustering.warmupEpochs, every: clustering.every),
                      "re-clustering before the first SBCL epoch")

        for (_, name) in clusterings.sorted(by: { $0.key < $1.key }) {
            let z = try XCTUnwrap(run.projections[name], name)
            let torch32 = try figures.array(named: name + ".features").floats(), exact = try figures.array(named: name + ".features64").floats()
            func rms(_ a: [Float]) -> Double { (zip(a, exact).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +) / Double(a.count)).squareRoot() }
            let yardstick = max(rms(torch32), try meta("scaled_" + name))
            print("\(label): \(name) key projections, RMS from float64: ours \(rms(z)), PyTorch float32 \(rms(torch32)), "
                  + "its perturbed path \(try meta("scaled_" + name))")
            XCTAssertLessThanOrEqual(rms(z), 2 * yardstick, "\(name): the key encoder's eval-mode projections")
            // Our k-means on the reference's own projections: its labels exactly (the seed is one
            // whose k-means never refilled an empty cluster with a torch draw).
            var generator = MT19937(seed: UInt32(try figures.array(named: name + ".seed").int64s()[0]))
            let ours = try Reclustering.cluster(projections: torch32, dimension: model.dimension, labels: labels, classCount: classCount,
                                                settings: clustering, temperature: losses.temperature, generator: &generator)
            XCTAssertEqual(ours.subclasses, subclasses[name], "\(name): subclasses from the reference's projections")
        }

        // Per half: Σ (ours − float64)² and Σ (PyTorch float32 − float64)² of the relative step losses.
        var squares = [[0.0, 0.0], [0.0, 0.0]]
        for s in 0..<min(steps, run.losses.count) {
            let value = run.losses[s], sbcl = rank[s] == 1
            let ours = (value - loss64[s]) / loss64[s], torch32 = (loss32[s] - loss64[s]) / loss64[s]
            if s == 0 {
                print("\(label): first loss \(value), float64 \(loss64[0]), PyTorch float32 \(loss32[0])")
                // Before any update: the same arithmetic on the same weights and views.
                XCTAssertLessThanOrEqual(abs(ours), max(1e-6, 3 * abs(torch32)), "loss of the first step")
            }
            squares[sbcl ? 1 : 0][0] += ours * ours
            squares[sbcl ? 1 : 0][1] += torch32 * torch32
        }
        for (half, (name, key)) in [("KCL", "kcl"), ("SBCL rank", "rank")].enumerated() {
            let (ours, torch32) = (squares[half][0].squareRoot(), squares[half][1].squareRoot()), perturbed = try meta("scaled_" + key)
            print("\(label): \(name) step losses, relative deviation from float64 (root of the sum of squares): ours \(ours), "
                  + "PyTorch float32 \(torch32), its perturbed path \(perturbed)")
            XCTAssertLessThanOrEqual(ours, 2 * max(torch32, perturbed), "\(name) step losses against the float64 path")
        }

        // The queue after wrapping 16 times: keys against float64's, labels and pointer exactly.
        let queue64 = try figures.array(named: "queue64").floats(), queue = model.queue.scalars
        let queueRMS = (zip(queue, queue64).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +) / Double(queue.count)).squareRoot()
        let queueTorch = try meta("queue_rms32"), queuePerturbed = try meta("scaled_queue")
        print("\(label): queue RMS from float64: ours \(queueRMS), PyTorch float32 \(queueTorch), its perturbed path \(queuePerturbed)")
        XCTAssertLessThanOrEqual(queueRMS, 2 * max(queueTorch, queuePerturbed), "the queue's keys after \(steps) steps")
        XCTAssertEqual(model.queueSubclass, try figures.array(named: "queue_l").int64s(), "queue_l")
        XCTAssertEqual(model.queueClass, try figures.array(named: "queue_t").int64s(), "queue_t")
        XCTAssertEqual(Int64(model.queuePointer), try figures.array(named: "queue_ptr").int64s().first, "queue_ptr")

        // The end point: the displacement final − initial of every state entry, projected on the
        // reference's formula directions, against float64's projections, per group.
        var sums = [String: (num: Double, den: Double)]()
        for (name, array) in model.stateArrays() {
            guard let projections = try? figures.array(named: "end." + name).doubles(), let start = initial[name] else { continue }
            let seed = Int(try figures.array(named: "endseed." + name).int64s()[0])
            let group = name.contains("running") ? "running" : name.hasPrefix("encoder_q.") ? "query" : "key"
            let final = array.floats(), directions = projections.count / 2
            for j in 0..<directions {
                let r = GoldenFormula.uniform(200_000 + 64 * seed + j, final.count)
                var p = 0.0
                for i in 0..<final.count { p += (Double(final[i]) - Double(start[i])) * r[i] }
                let exact = projections[j]
                sums[group, default: (0, 0)].num += (p - exact) * (p - exact)
                sums[group, default: (0, 0)].den += exact * exact
            }
        }
        for (group, what) in [("query", "query encoder's parameters"), ("key", "key encoder's parameters"),
                              ("running", "batch-norm running statistics")] {
            let sum = try XCTUnwrap(sums[group], group)
            let ours = (sum.num / sum.den).squareRoot(), torch32 = try meta("estimate32_\(group)"), perturbed = try meta("scaled_\(group)")
            print("\(label): \(what) after \(steps) steps, ‖Δ‖ / learned displacement (projected): ours \(ours), "
                  + "PyTorch float32 \(torch32) (exact: \(figures.metadata["spread32_\(group)"] ?? "?")), its perturbed path \(perturbed) (exact)")
            XCTAssertLessThanOrEqual(ours, 2 * max(torch32, perturbed), "the \(what) after \(steps) steps, against the float64 path")
        }
    }
}
