import Datasets
import Engine
import Foundation
import PipelineDSL
@testable import Stages
import TestSupport
import XCTest

/// Numeric parity of the ImageNet-LT linear stage with the authors' `moco/linear_classify.py`: the
/// same frozen ResNet-18 (formula weights), the same fixed views of 135 real long-tailed images
/// (Fashion-MNIST, 10 classes, 36 to 3 a class, tinted, 32 px), the same draws (the reference's
/// `ClassAwareSampler` for `cb`, its shuffles for LDAM), the same initial head, 4 epochs of
/// ⌊135 / 16⌋ = 8 steps at the reference's rate scaled to the batch (10 · 16 / 2048) with both
/// milestones inside, then the 100-image test split. Ours runs what the `classifier` stage runs for it: `ClassifierTrainer.trainEpoch` (the
/// schedule, `ClassifierStep`, SGD) on features from `FrozenEncoder.features` with the batch
/// statistics the configuration asks for, under the settings recipes/imagenet_lt.yaml resolves
/// to (epochs, batch and milestones scaled to the replay), and the evaluation's path: the
/// artifact written and read back, its re-estimated statistics adopted by a fresh encoder. Beside
/// the fed draws, ours' own class-aware stream under these settings is checked for the
/// reference's structure (visits of 4 images of one class, classes visited equally often).
/// Figures from scripts/fidelity/linear_stage_reference.py.
///
/// Three rules: `cb` (linear head N(0, 0.01), cross-entropy, class-aware draws); `ldam` (the
/// reference's DRW rule as it runs 40 epochs: cosine head, LDAM, β = 0 so class weights all 1 —
/// ours with `beta: 0`); `drw` (the switch inside the run, β = 0.9999 from the reference's epoch 2:
/// ours resumes from its checkpoint with `beta: 0.9999`).
///
/// Tolerance: rounding only, measured. The reference replays each rule in float64, in float32, and
/// in float32 with its inputs scaled by 1 + 2⁻²²; every bound is twice the larger of the two
/// float32 deviations from float64. The rates are compared exactly (as Float), the draws are the
/// reference's, and "the same accuracy within rounding" is: the same test predictions as float64
/// except where float64's top-two margin is below that bound on the logits.
final class LinearStageParityTests: XCTestCase {
    private static func fixture() throws -> SafeTensorsFile {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "linear_stage/replay", withExtension: "safetensors"))
        return try SafeTensors.read(contentsOf: url)
    }

    /// The classifier settings of recipes/imagenet_lt.yaml (planned without its data).
    private static func recipeSettings() throws -> ClassifierConfiguration {
        ClassifierConfiguration(try XCTUnwrap(try RecipeTests.imageNetLTPlanWithoutData().stage(named: "classifier")).spec.parameters)
    }

    func testClassAwareLinearStageFollowsTheReference() throws { try replay("cb") }

    func testLDAMWithTheReferencesBetaZeroFollowsTheReference() throws { try replay("ldam") }

    func testDeferredReweightingSwitchFollowsTheReference() throws { try replay("drw") }

    private func replay(_ rule: String) throws {
        let fixture = try Self.fixture()
        func meta(_ key: String) throws -> Double { try XCTUnwrap(Double(fixture.metadata[key] ?? ""), "metadata \(key)") }
        func list(_ key: String) throws -> [Double] { try XCTUnwrap(fixture.metadata[key]).split(separator: ",").compactMap { Double($0) } }
        let epochs = Int(try meta("epochs")), batchSize = Int(try meta("batch")), switchEpoch = Int(try meta("switch"))
        let mean = try list("mean").map(Float.init), std = try list("std").map(Float.init)
        let referenceSchedule = try list("schedule").map { Int($0) }

        // The recipe's settings (the reference's command line), at the replay's length.
        var configuration = try Self.recipeSettings()
        XCTAssertEqual(configuration.batchSize, 2048)
        XCTAssertEqual(Double(configuration.learningRate) * Double(batchSize) / 2048, try meta("lr"), "the reference's --lr 10, scaled to the batch")
        XCTAssertEqual(configuration.momentum, Float(try meta("momentum")))
        XCTAssertEqual(configuration.weightDecay, Float(try meta("weight_decay")))
        XCTAssertEqual(configuration.epochLength, .dataset)
        XCTAssertEqual(configuration.backboneBatchNorm, .train)
        XCTAssertEqual(configuration.warmupEpochs, 0)
        XCTAssertEqual(configuration.milestones, [20, 30].map { $0 - 1 }, "the recipe gives --schedule 20 30 one epoch earlier")
        configuration.epochs = epochs
        configuration.batchSize = batchSize
        configuration.learningRate = Float(try meta("lr"))
        configuration.milestones = referenceSchedule.map { $0 - 1 }  // the recipe's rule, at this length
        configuration.linearStd = 0.01  // what the stage sets for a torchvision encoder
        if rule != "cb" {
            configuration.method = .ldamDRW
            configuration.beta = 0  // betas[epoch // 60] in 40 epochs
            XCTAssertEqual(configuration.maxMargin, try meta("max_margin"))
            XCTAssertEqual(Double(configuration.scale), try meta("scale"))
        }

        // The data: rows of fixed 8-bit grey views, tinted per image, as NHWC Float inputs.
        let labels = try fixture.array(named: "labels").int64s().map { Int32($0) }
        let classCount = Int(labels.max()!) + 1
        let classCounts = (0..<classCount).map { c in labels.filter { $0 == Int32(c) }.count }
        let baseViews = Int(try meta("base_views"))
        func inputs(_ grey: HostArray, tints: [Float], rows: [Int], image: (Int) -> Int) throws -> Tensor {
            let pixels = try grey.int64s(), (height, width) = (grey.shape[1], grey.shape[2]), plane = height * width
            var values = [Float](repeating: 0, count: rows.count * plane * 3)
            for (n, row) in rows.enumerated() {
                let i = image(row)
                for p in 0..<plane {
                    let g = Float(pixels[row * plane + p]) / 255
                    for c in 0..<3 { values[(n * plane + p) * 3 + c] = (g * tints[3 * i + c] - mean[c]) / std[c] }
                }
            }
            return Tensor(values, shape: [rows.count, height, width, 3])
        }
        let train = try fixture.array(named: "train"), tints = try fixture.array(named: "train.tint").floats()
        let rows = try fixture.array(named: "\(rule).rows").int64s().map(Int.init)
        let rates = try fixture.array(named: "\(rule).lr").doubles()
        let loss64 = try fixture.array(named: "\(rule).loss64").doubles()
        let steps = loss64.count, perEpoch = steps / epochs
        XCTAssertEqual(configuration.stepsPerEpoch(trainingImages: labels.count), perEpoch, "int(len(train_dataset) / batch_size)")

        if rule == "cb" {
            // The class-aware stream ours draws under these settings has the structure of the
            // reference's recorded one (which ours is fed): visits of 4 images of one class
            // (ClassAwareSampler's num_samples_cls), every class visited about equally often.
            XCTAssertEqual(configuration.samplerKind, .classAware)
            XCTAssertEqual(configuration.perVisit, 4)
            let sampler = Sampler(kind: configuration.samplerKind, labels: labels, classCount: classCount, seed: 0,
                                  perVisit: configuration.perVisit,
                                  epochLength: configuration.samplerEpochLength(trainingImages: labels.count))
            let ours = (0..<epochs).flatMap { sampler.order(epoch: $0) }
            XCTAssertEqual(ours.count, rows.count, "floor(N / B) batches an epoch")
            for (name, images) in [("reference", rows.map { $0 / baseViews }), ("ours", ours)] {
                let visits = stride(from: 0, to: images.count, by: 4).map { Set(images[$0..<($0 + 4)].map { labels[$0] }) }
                XCTAssertTrue(visits.allSatisfy { $0.count == 1 }, "\(name): 4 images of one class a visit")
                var perClass = [Int](repeating: 0, count: classCount)
                for visit in visits { if let c = visit.first { perClass[Int(c)] += 1 } }
                XCTAssertLessThanOrEqual(perClass.max()! - perClass.min()!, 2, "\(name): visits per class \(perClass)")
            }
        }

        // The frozen encoder and the head, from the same weights.
        let backbone = ResNetImageNet(.resnet18, classCount: classCount, seed: 0)
        GoldenFormula.setState(backbone)
        let encoder = FrozenEncoder.torchvision(backbone)
        let initialStatistics = Dictionary(uniqueKeysWithValues: encoder.runningStatistics().map { ($0.name, $0.array) })
        let place = ExecutionPlace.cpu(threads: 2)
        var trainer = ClassifierTrainer(configuration: configuration, classCounts: classCounts, featureCount: encoder.featureDimension,
                                        seed: 0, place: place)
        if configuration.backboneBatchNorm == .train { trainer.backbone = encoder }
        let head0 = try fixture.array(named: "\(rule).head0")
        if rule == "cb" {
            trainer.head.fc!.weight.assign(Tensor(head0.floats(), shape: head0.shape))
            trainer.head.fc!.bias.assign(Tensor(try fixture.array(named: "cb.bias0").floats(), shape: [classCount]))
        } else {
            trainer.head.cosineWeight!.assign(Tensor(head0.floats(), shape: head0.shape))
        }

        var losses: [Double] = []
        let folder = try temporaryFolder(self)
        for epoch in 1...epochs {
            if rule == "drw" && epoch == switchEpoch + 1 {
                // betas[epoch // SWITCH]: from here β = 0.9999. Ours: the run resumed from its checkpoint with beta 0.9999.
                let checkpoint = folder.appendingPathComponent("switch.safetensors")
                try trainer.saveCheckpoint(to: checkpoint)
                var reweighted = configuration
                reweighted.beta = try meta("beta")
                trainer = ClassifierTrainer(configuration: reweighted, classCounts: classCounts, featureCount: encoder.featureDimension,
                                            seed: 0, place: place)
                trainer.backbone = encoder
                try trainer.loadCheckpoint(from: checkpoint)
                XCTAssertEqual(trainer.completedEpochs, switchEpoch)
            }
            let current = trainer, first = losses.count
            let result = try current.trainEpoch(steps: perEpoch) { step in
                let s = (epoch - 1) * perEpoch + step
                XCTAssertEqual(current.optimizer.learningRate, Float(rates[s]), "the rate of step \(s + 1) (epoch \(epoch))")
                let batch = Array(rows[(s * batchSize)..<((s + 1) * batchSize)])
                let x = try inputs(train, tints: tints, rows: batch) { $0 / baseViews }
                let features = encoder.features(x, batchStatistics: configuration.backboneBatchNorm == .train).moved(to: CPUBackend.shared)
                let targets = batch.map { labels[$0 / baseViews] }
                // The loss this step will report: the same head on the same features.
                let logits = withoutGradients { current.head.logits(features) }.scalars
                losses.append(Double(current.loss.valueAndGradient(logits: logits, targets: targets).loss))
                return (features, targets)
            }
            let epochMean = losses[first...].reduce(0, +) / Double(perEpoch)
            XCTAssertEqual(result.loss, epochMean, accuracy: 1e-12 * abs(epochMean), "epoch \(epoch): the step losses recorded are the step's")
        }
        XCTAssertEqual(losses.count, steps)

        func figure(_ key: String) throws -> (float32: Double, scaled: Double, bound: Double) {
            let a = try meta("\(rule).float32.\(key)"), b = try meta("\(rule).scaled.\(key)")
            return (a, b, 2 * max(a, b))
        }
        // Step losses: root-sum-square of the relative deviations from float64; the first one alone.
        let relative = zip(losses, loss64).map { ($0 - $1) / $1 }
        let rss = relative.map { $0 * $0 }.reduce(0, +).squareRoot()
        let lossFigure = try figure("loss"), firstFigure = try figure("first")
        print("Linear stage \(rule): step losses (\(steps)), relative deviation from float64 (root-sum-square): ours \(rss), "
              + "PyTorch float32 \(lossFigure.float32), perturbed \(lossFigure.scaled); first step ours \(abs(relative[0])), "
              + "PyTorch float32 \(firstFigure.float32)")
        XCTAssertLessThanOrEqual(abs(relative[0]), max(1e-6, 3 * firstFigure.float32), "the first step's loss (before any update)")
        XCTAssertLessThanOrEqual(rss, lossFigure.bound, "the step losses")

        // The final classifier against float64's, relative to what it learned.
        var weights = (rule == "cb" ? trainer.head.fc!.weight : trainer.head.cosineWeight!).value.scalars
        var w0 = head0.floats(), w64 = try fixture.array(named: "\(rule).head64").floats()
        if rule == "cb" {
            weights += trainer.head.fc!.bias.value.scalars
            w0 += try fixture.array(named: "cb.bias0").floats()
            w64 += try fixture.array(named: "cb.bias64").floats()
        }
        func distance(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).map { Double($0) - Double($1) }.map { $0 * $0 }.reduce(0, +).squareRoot() }
        let headDeviation = distance(weights, w64) / distance(w64, w0), headFigure = try figure("head")
        print("Linear stage \(rule): final head, ‖w − w64‖ / ‖w64 − w0‖: ours \(headDeviation), PyTorch float32 \(headFigure.float32), "
              + "perturbed \(headFigure.scaled)")
        XCTAssertLessThanOrEqual(headDeviation, headFigure.bound, "the final classifier")

        // The evaluation's path: the artifact (head and re-estimated statistics) read back into a fresh encoder.
        let artifactFolder = folder.appendingPathComponent("classifier")
        try FileManager.default.createDirectory(at: artifactFolder, withIntermediateDirectories: true)
        let artifact = ClassifierArtifact(method: configuration.method.rawValue, form: configuration.form.rawValue,
                                          featureCount: encoder.featureDimension, classCount: classCount, epochs: epochs,
                                          finalLoss: trainer.lastLoss, finalTrainAccuracy: trainer.lastAccuracy, classCounts: classCounts,
                                          backboneBatchNorm: BackboneBatchNorm.train.rawValue)
        try artifact.write(head: trainer.head, backbone: encoder, to: artifactFolder)
        let (written, head) = try ClassifierArtifact.read(from: artifactFolder)
        let fresh = ResNetImageNet(.resnet18, classCount: classCount, seed: 0)
        GoldenFormula.setState(fresh)
        let evaluated = FrozenEncoder.torchvision(fresh)
        try written.adoptBackboneStatistics(from: artifactFolder, into: evaluated)

        // The re-estimated running statistics against float64's (drw draws ldam's batches).
        let statisticsRule = rule == "drw" ? "ldam" : rule
        var numerator = 0.0, denominator = 0.0, tracked: [Int64] = []
        for (name, array) in evaluated.runningStatistics() {
            if name.hasSuffix("num_batches_tracked") { tracked += try array.int64s(); continue }
            let exact = try fixture.array(named: "\(statisticsRule).stats.\(name)").floats()
            let start = try XCTUnwrap(initialStatistics[name]).floats()
            numerator += pow(distance(array.floats(), exact), 2)
            denominator += pow(distance(exact, start), 2)
        }
        XCTAssertEqual(Set(tracked), [Int64(steps)], "one update of the running statistics a step")
        let statisticsDeviation = (numerator / denominator).squareRoot(), statisticsFigure = try figure("stats")
        print("Linear stage \(rule): running statistics, ‖r − r64‖ / ‖r64 − r0‖: ours \(statisticsDeviation), "
              + "PyTorch float32 \(statisticsFigure.float32), perturbed \(statisticsFigure.scaled)")
        XCTAssertLessThanOrEqual(statisticsDeviation, statisticsFigure.bound, "the re-estimated running statistics")

        // The test split: validate()'s eval-mode logits and top-1.
        let testLabels = try fixture.array(named: "test.labels").int64s().map { Int32($0) }
        let testImages = try fixture.array(named: "test"), testTints = try fixture.array(named: "test.tint").floats()
        let testX = try inputs(testImages, tints: testTints, rows: Array(0..<testLabels.count)) { $0 }
        let logits = withoutGradients { head.logits(evaluated.features(testX, batchStatistics: false)) }.scalars
        let logits64 = try fixture.array(named: "\(rule).logits64").floats()
        let logitsFigure = try figure("logits")
        let logitDeviation = zip(logits, logits64).map { abs(Double($0) - Double($1)) }.max()!
        let ours = ClassifierPredictions.argmax(logits: logits, classCount: classCount)
        let exact = ClassifierPredictions.argmax(logits: logits64, classCount: classCount)
        let correct = zip(ours, testLabels).filter { $0 == Int($1) }.count, correct64 = zip(exact, testLabels).filter { $0 == Int($1) }.count
        let top1 = 100 * Double(correct) / Double(testLabels.count)
        print("Linear stage \(rule): test logits, max |l − l64|: ours \(logitDeviation), PyTorch float32 \(logitsFigure.float32), "
              + "perturbed \(logitsFigure.scaled); top-1 ours \(top1) (\(correct)/\(testLabels.count)), float64 \(try meta("\(rule).top1_64")), "
              + "PyTorch float32 \(try meta("\(rule).float32.top1")), perturbed \(try meta("\(rule).scaled.top1"))")
        XCTAssertLessThanOrEqual(logitDeviation, logitsFigure.bound, "the test logits")
        XCTAssertEqual(100 * Double(correct64) / Double(testLabels.count), try meta("\(rule).top1_64"), accuracy: 1e-9)
        var differing = 0
        for row in 0..<testLabels.count where ours[row] != exact[row] {
            differing += 1
            let sorted = logits64[(row * classCount)..<((row + 1) * classCount)].sorted(by: >)
            XCTAssertLessThan(Double(sorted[0] - sorted[1]), logitsFigure.bound,
                              "test image \(row): ours predicts \(ours[row]), float64 \(exact[row]) with a margin beyond rounding")
        }
        XCTAssertLessThanOrEqual(abs(correct - correct64), differing, "the same top-1 up to the predictions rounding can flip")
    }
}
