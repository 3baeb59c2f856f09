import XCTest
import Engine
import Datasets
import PipelineDSL
import TestSupport
@testable import Stages

/// The rules of `moco/linear_classify.py` that the ImageNet-LT recipe's `classifier` stage takes
/// (docs/imagenet_lt.md): ⌊N / B⌋ steps an epoch from a continuing class-aware stream
/// (`epoch_length: dataset`), the backbone's batch norm on batch statistics with its running
/// statistics re-estimated and used afterwards (`backbone_batch_norm: train`), and the reference's
/// milestone epochs; the CIFAR recipes keep `SimCLR/linear_classify.py`'s rules.
final class LinearStageFidelityTests: XCTestCase {
    private var registry: StageRegistry {
        var registry = StageRegistry()
        Stages.registerAll(in: &registry)
        return registry
    }

    private func plan(_ name: String, _ overrides: [String] = [], ranks: Int = 1) throws -> Plan {
        let url = RecipeTests.recipesFolder.appendingPathComponent(name)
        let recipe = try Planner.recipe(data: Data(contentsOf: url), file: url.path,
                                        overrides: overrides.map { try Override.parse($0) }, registry: registry)
        return try Planner.plan(recipe, registry: registry, ranks: ranks)
    }

    private func classifierSettings(_ name: String) throws -> ClassifierConfiguration {
        ClassifierConfiguration(try XCTUnwrap(try plan(name).stage(named: "classifier")).spec.parameters)
    }

    // MARK: - the recipes

    func testTheImageNetRecipeTakesTheReferenceRatesStepsAndBatchNorm() throws {
        let settings = try classifierSettings("imagenet_lt.yaml")
        XCTAssertEqual(settings.epochLength, .dataset)
        XCTAssertEqual(settings.backboneBatchNorm, .train)
        // train(): epoch_steps = int(len(train_dataset) / batch_size) on the 115,846 training images.
        XCTAssertEqual(settings.stepsPerEpoch(trainingImages: 115_846), 56)
        // adjust_learning_rate: lr = 10, ×0.1 for each milestone of --schedule 20 30 with
        // epoch + 1 >= milestone, the epoch counted from 0; ours counts from 1.
        for epoch in 0..<40 {
            var reference = 10.0
            for milestone in [20, 30] where epoch + 1 >= milestone { reference *= 0.1 }
            for step in [0, 55] {
                XCTAssertEqual(Double(settings.schedule.rate(epoch: epoch + 1, step: step, stepsPerEpoch: 56)), reference,
                               accuracy: reference * 1e-6, "reference epoch \(epoch)")
            }
        }
    }

    func testTheCIFARRecipesKeepWholePassesEvalModeAndTheirMilestones() throws {
        for name in ["cifar10_lt.yaml", "cifar100_lt.yaml", "fashion_mnist_lt.yaml", "smoke.yaml"] {
            let settings = try classifierSettings(name)
            XCTAssertEqual(settings.epochLength, .pass, name)
            XCTAssertEqual(settings.backboneBatchNorm, .eval, name)
        }
        // SimCLR/linear_classify.py's DRW rule (epoch from 1): warm-up lr·e/5, ×0.1 when e > 140, ×0.01 when e > 180.
        let settings = try classifierSettings("cifar10_lt.yaml")
        for epoch in 1...200 {
            let reference = epoch <= 5 ? 0.1 * Double(epoch) / 5 : epoch > 180 ? 0.001 : epoch > 140 ? 0.01 : 0.1
            XCTAssertEqual(Double(settings.schedule.rate(epoch: epoch, step: 0, stepsPerEpoch: 10)), reference,
                           accuracy: reference * 1e-6, "epoch \(epoch)")
        }
    }

    func testBatchStatisticsOnCachedFeaturesIsAPlanErrorNamingBothKeys() throws {
        XCTAssertThrowsError(try plan("imagenet_lt.yaml", ["stages.classifier.augment=false"])) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("backbone_batch_norm: train") && text.contains("augment: true"), text)
            XCTAssertTrue(text.contains("stages.classifier"), text)
        }
        XCTAssertNoThrow(try plan("imagenet_lt.yaml", ["stages.classifier.augment=false", "stages.classifier.backbone_batch_norm=eval"]))
    }

    func testTheNewSettingsAtTheirDefaultsKeepTheHashAndOtherwiseMoveIt() throws {
        let plain = try XCTUnwrap(try plan("imagenet_lt_smoke.yaml").stage(named: "classifier")).hash
        let spelled = try plan("imagenet_lt_smoke.yaml", ["stages.classifier.epoch_length=pass", "stages.classifier.backbone_batch_norm=eval"])
        XCTAssertEqual(spelled.stage(named: "classifier")?.hash, plain)
        XCTAssertNotEqual(try plan("imagenet_lt_smoke.yaml", ["stages.classifier.epoch_length=dataset"]).stage(named: "classifier")?.hash, plain)
        XCTAssertNotEqual(try plan("imagenet_lt_smoke.yaml", ["stages.classifier.backbone_batch_norm=train"]).stage(named: "classifier")?.hash, plain)
        // Batch statistics per rank: the number of ranks enters the hash then, and only then.
        XCTAssertEqual(try plan("imagenet_lt_smoke.yaml", ["stages.classifier.backbone_batch_norm=train"], ranks: 2)
            .stage(named: "classifier")?.ranksInHash, 2)
        XCTAssertNil(try plan("imagenet_lt_smoke.yaml", ranks: 2).stage(named: "classifier")?.ranksInHash)
    }

    // MARK: - the stage on a tiny encoder

    /// 8×8 grey images of three patterns (bright top half, bright left half, dark), with noise.
    private func images(counts: [Int], seed: UInt32) -> ImageSet {
        var random = TestRandom(seed: seed)
        var pixels: [UInt8] = [], labels: [Int32] = []
        for (c, n) in counts.enumerated() {
            for _ in 0..<n {
                for y in 0..<8 {
                    for x in 0..<8 {
                        let bright = (c == 0 && y < 4) || (c == 1 && x < 4)
                        pixels.append(UInt8(max(0, min(255, (bright ? 200 : 40) + 30 * random.normal()))))
                    }
                }
                labels.append(Int32(c))
            }
        }
        return ImageSet(height: 8, width: 8, channels: 1, pixels: pixels, labels: labels, classNames: ["top", "left", "dark"])
    }

    private func upstream(in folder: URL) throws -> (data: StageInput, encoder: StageInput) {
        let dataDirectory = folder.appendingPathComponent("data"), encoderDirectory = folder.appendingPathComponent("encoder")
        for d in [dataDirectory, encoderDirectory] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        try DataArtifact(train: images(counts: [40, 16, 6], seed: 1), test: images(counts: [12, 12, 12], seed: 2), source: "synthetic")
            .write(to: dataDirectory)
        try EncoderArtifact(depth: 20, inputChannels: 1, projectionDimension: 16, mean: [0.4], std: [0.3], imageSize: 8)
            .write(model: SupConResNet(depth: 20, inputChannels: 1, projectionDimension: 16, seed: 3), to: encoderDirectory)
        let empty = ResolvedParameters([:])
        return (StageInput(name: "data", kind: "imbalance", slot: "data", hash: "d", parameters: empty, artifactDirectory: dataDirectory),
                StageInput(name: "encoder", kind: "encoder", slot: "encoder", hash: "e", parameters: empty, artifactDirectory: encoderDirectory))
    }

    private func context(_ kind: StageKind, _ overrides: [String: ParamValue], inputs: [StageInput], folder: URL, name: String,
                         checkpoints: URL? = nil) throws -> RunContext {
        var values: [String: ParamValue] = [:]
        for p in kind.parameters { if case .defaultValue(let v) = p.requirement { values[p.name] = v } }
        values.merge(overrides) { _, new in new }
        let output = folder.appendingPathComponent(name), checkpointDirectory = checkpoints ?? folder.appendingPathComponent(name + ".ckpt")
        for d in [output, checkpointDirectory] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        return RunContext(stageName: name, kind: kind.name, hash: name, parameters: ResolvedParameters(values), inputs: inputs,
                          outputDirectory: output, checkpointDirectory: checkpointDirectory, isResuming: checkpoints != nil,
                          log: RunLog(fileURL: nil, echo: false), device: "cpu", threads: 2, seed: 0)
    }

    /// The reference's rules on 62 training images in batches of 16: ⌊62 / 16⌋ = 3 steps an epoch,
    /// each one a training-mode pass that updates the backbone's running statistics; the artifact
    /// carries them, the evaluation scores with them (not with the encoder's own), and a run
    /// resumed after epoch 1 ends with the same head and statistics.
    func testBatchStatisticsAreReestimatedCarriedAndUsedByTheEvaluation() throws {
        let folder = try temporaryFolder(self)
        let (data, encoder) = try upstream(in: folder)
        let settings: [String: ParamValue] = ["method": .string("cb"), "epochs": .int(2), "warmup_epochs": .int(0), "batch_size": .int(16),
                                              "schedule": .string("multistep"), "milestones": .list([.int(1)]),
                                              "epoch_length": .string("dataset"), "backbone_batch_norm": .string("train")]
        let train = try context(ClassifierStage.kind, settings, inputs: [encoder, data], folder: folder, name: "classifier")
        try ClassifierStage.kind.run(train)
        let (artifact, head) = try ClassifierArtifact.read(from: train.outputDirectory)
        XCTAssertEqual(artifact.backboneBatchNorm, "train")
        let statistics = try SafeTensors.read(contentsOf: train.outputDirectory.appendingPathComponent(ClassifierArtifact.statisticsFile))
        XCTAssertEqual(try statistics["encoder.bn1.num_batches_tracked"]?.int64s(), [6], "2 epochs of floor(62 / 16) = 3 steps")
        XCTAssertFalse(statistics.names.contains { $0.hasSuffix(".weight") || $0.hasSuffix(".bias") }, "\(statistics.names.prefix(4))")
        let (_, original) = try FrozenEncoder.read(from: encoder.artifactDirectory)
        let originalMean = try XCTUnwrap(original.runningStatistics().first { $0.name == "encoder.bn1.running_mean" }).array.floats()
        XCTAssertEqual(originalMean, Array(repeating: 0, count: originalMean.count))
        let trainedMean = try XCTUnwrap(statistics["encoder.bn1.running_mean"]).floats()
        XCTAssertGreaterThan(trainedMean.map(abs).max()!, 1e-3, "re-estimated from the batches")

        // The evaluation stage against the same computation by hand, with either statistics.
        let classifier = StageInput(name: "classifier", kind: "classifier", slot: "classifier", hash: "c",
                                    parameters: train.parameters, artifactDirectory: train.outputDirectory)
        let evaluate = try context(EvaluationStage.kind, [:], inputs: [classifier, encoder, data], folder: folder, name: "evaluation")
        try EvaluationStage.kind.run(evaluate)
        let (encoderArtifact, reestimated) = try FrozenEncoder.read(from: encoder.artifactDirectory)
        try reestimated.adoptRunningStatistics(statistics)
        let test = try DataArtifact.read(from: data.artifactDirectory).testImages
        func logits(_ frozen: FrozenEncoder) throws -> [Float] {
            let features = try frozen.embed(test.source, steps: frozen.evaluationSteps(encoderArtifact, images: test), threads: 2,
                                            place: .cpu(threads: 2))
            return withoutGradients { head.logits(features) }.scalars
        }
        let withTrained = try logits(reestimated), withOriginal = try logits(original)
        let byHand = EvaluationMetrics(logits: withTrained, labels: test.source.labels, classCounts: [40, 16, 6])
        XCTAssertEqual(evaluate.recordedMetrics["top1"]?.doubleValue, byHand.top1)
        XCTAssertEqual(evaluate.recordedMetrics["confusion"], .list(byHand.confusion.map { .list($0.map { .int($0) }) }))
        let change = zip(withTrained, withOriginal).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(change, 1e-2, "the running statistics change what the evaluation scores")

        // `predict` on the run (its cached encoder and classifier) and on the `export`ed file.
        let cache = try ArtifactCache(root: folder.appendingPathComponent("cache"))
        let hashes = ["encoder": String(repeating: "e", count: 64), "classifier": String(repeating: "c", count: 64)]
        for (name, directory) in [("encoder", encoder.artifactDirectory), ("classifier", train.outputDirectory)] {
            let staging = try cache.makeStaging(hashes[name]!)
            for item in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
                try FileManager.default.copyItem(at: directory.appendingPathComponent(item),
                                                 to: staging.appendingPathComponent("files").appendingPathComponent(item))
            }
            try cache.commit(staging: staging, manifest: Manifest(hash: hashes[name]!, kind: name, version: 1, stageName: name,
                                                                  parameters: .map([:]), inputHashes: [], files: [], createdAt: "",
                                                                  seconds: 0, engineVersion: "", backend: "cpu", metrics: [:]))
        }
        let run = folder.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        let planJSON = """
            {"stages": [{"name": "encoder", "kind": "encoder", "hash": "\(hashes["encoder"]!)", "inputs": []},
                        {"name": "classifier", "kind": "classifier", "hash": "\(hashes["classifier"]!)", "inputs": ["encoder"]}]}
            """
        try Data(planJSON.utf8).write(to: run.appendingPathComponent("plan.json"))
        let model = try PredictionModel.fromRun(run, cache: cache)
        func predicted(_ model: PredictionModel) throws -> [Float] {
            let features = try model.encoder.embed(test.source, steps: model.encoder.evaluationSteps(model.encoderArtifact, images: test),
                                                   threads: 2, place: .cpu(threads: 2))
            return withoutGradients { model.head.logits(features) }.scalars
        }
        XCTAssertEqual(try predicted(model), withTrained)
        let exported = folder.appendingPathComponent("model.safetensors")
        try model.writeSafeTensors(to: exported)
        XCTAssertEqual(try SafeTensors.read(contentsOf: exported)["encoder.bn1.running_mean"]?.floats(), trainedMean)
        XCTAssertEqual(try predicted(PredictionModel.fromExport(exported)), withTrained)

        // Resumed after epoch 1 from the checkpoint (head, momentum, running statistics).
        var one = settings
        one["epochs"] = .int(1)
        let partial = try context(ClassifierStage.kind, one, inputs: [encoder, data], folder: folder, name: "partial")
        try ClassifierStage.kind.run(partial)
        let resumed = try context(ClassifierStage.kind, settings, inputs: [encoder, data], folder: folder, name: "resumed",
                                  checkpoints: partial.checkpointDirectory)
        try ClassifierStage.kind.run(resumed)
        let (_, resumedHead) = try ClassifierArtifact.read(from: resumed.outputDirectory)
        XCTAssertEqual(resumedHead.fc!.weight.value.scalars, head.fc!.weight.value.scalars)
        let resumedStatistics = try SafeTensors.read(contentsOf: resumed.outputDirectory.appendingPathComponent(ClassifierArtifact.statisticsFile))
        for name in statistics.names { XCTAssertEqual(resumedStatistics[name]?.floatsOrInts, statistics[name]?.floatsOrInts, name) }
    }

    /// An eval-mode head writes no statistics and leaves the encoder as it is; a `train` artifact
    /// whose statistics file is gone is an error naming the folder.
    func testTheArtifactRoundTripsWithAndWithoutStatistics() throws {
        let folder = try temporaryFolder(self)
        let (_, encoderInput) = try upstream(in: folder)
        let (_, encoder) = try FrozenEncoder.read(from: encoderInput.artifactDirectory)
        let head = ClassifierHead(form: .linear, featureCount: 64, classCount: 3, seed: 1)
        for (name, mode) in [("eval", nil), ("train", "train")] as [(String, String?)] {
            let directory = folder.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let artifact = ClassifierArtifact(method: "cb", form: "linear", featureCount: 64, classCount: 3, epochs: 1, finalLoss: 1,
                                              finalTrainAccuracy: 50, classCounts: [3, 2, 1], backboneBatchNorm: mode)
            try artifact.write(head: head, backbone: encoder, to: directory)
            let (back, _) = try ClassifierArtifact.read(from: directory)
            XCTAssertEqual(back, artifact)
            XCTAssertEqual(FileManager.default.fileExists(atPath: directory.appendingPathComponent(ClassifierArtifact.statisticsFile).path),
                           mode != nil)
            let (_, fresh) = try FrozenEncoder.read(from: encoderInput.artifactDirectory)
            try back.adoptBackboneStatistics(from: directory, into: fresh)
            XCTAssertEqual(fresh.runningStatistics().map(\.name), encoder.runningStatistics().map(\.name))
        }
        let train = folder.appendingPathComponent("train")
        try FileManager.default.removeItem(at: train.appendingPathComponent(ClassifierArtifact.statisticsFile))
        let (back, _) = try ClassifierArtifact.read(from: train)
        XCTAssertThrowsError(try back.adoptBackboneStatistics(from: train, into: encoder)) { error in
            XCTAssertTrue("\(error)".contains(ClassifierArtifact.statisticsFile), "\(error)")
        }
    }
}

private extension HostArray {
    /// The values as doubles, whatever the element type (float32 statistics, int64 counts).
    var floatsOrInts: [Double] {
        if dtype.isFloatingPoint { return floats().map(Double.init) }
        return ((try? int64s()) ?? []).map(Double.init)
    }
}
