import XCTest
import Foundation
import PipelineDSL
import Engine
import Datasets
import TestSupport
@testable import Stages

/// A registry with the first-stage kinds and a light stand-in for the `dataset` kind (owned by
/// another file of this module; only its name matters to the planner here).
func firstStageRegistry() -> StageRegistry {
    var registry = StageRegistry()
    registry.register(AugmentationStage.kind)
    registry.register(ClusteringStage.kind)
    registry.register(ContrastiveLossStage.kind)
    registry.register(EncoderStage.kind)
    // A stand-in for planning: the real kind's parameters (the memory estimate reads them), no files.
    registry.register(.light(name: "dataset", version: 1, summary: "stand-in for planning", parameters: DatasetStage.Settings.parameters))
    return registry
}

/// A recipe of the first stage with `extra` YAML lines added to each named stage.
func firstStageRecipe(augmentation: String = "", clustering: String = "", loss: String = "", encoder: String = "") -> String {
    func block(_ lines: String) -> String {
        lines.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n")
    }
    return """
    name: first-stage-test
    seed: 3
    stages:
      data:
        kind: dataset
      views:
        kind: augmentation
    \(block(augmentation))
      clusters:
        kind: clustering
    \(block(clustering))
      loss:
        kind: contrastive_loss
    \(block(loss))
      encoder:
        kind: encoder
        inputs: [data, views, clusters, loss]
    \(block(encoder))
    """
}

/// Plans `yaml` with the first-stage registry.
func planFirstStage(_ yaml: String) throws -> Plan {
    let registry = firstStageRegistry()
    return try Planner.plan(Planner.recipe(text: yaml, file: "test.yaml", registry: registry), registry: registry)
}

/// A tiny long-tailed data set: 8×8×1 images of 3 classes (12, 6 and 3 images), each class a
/// bright bar in its own place plus noise, so a few epochs learn something.
func tinyDataArtifact(seed: UInt32 = 1) -> DataArtifact {
    var random = TestRandom(seed: seed)
    func images(_ counts: [Int]) -> ImageSet {
        var pixels: [UInt8] = [], labels: [Int32] = []
        for (c, n) in counts.enumerated() {
            for _ in 0..<n {
                for y in 0..<8 {
                    for x in 0..<8 {
                        let bar = c == 0 ? y < 3 : c == 1 ? x < 3 : (x + y) % 4 == 0
                        pixels.append(UInt8((bar ? 180 : 40) + Int(random.uniform() * 60)))
                    }
                }
                labels.append(Int32(c))
            }
        }
        return ImageSet(height: 8, width: 8, channels: 1, pixels: pixels, labels: labels, classNames: ["a", "b", "c"])
    }
    return DataArtifact(train: images([12, 6, 3]), test: images([2, 2, 2]), source: "synthetic")
}

/// A run context for the planned `encoder` stage of `plan`, reading `data` from `folder/data`.
func encoderContext(plan: Plan, data: DataArtifact, folder: URL, isResuming: Bool = false, log: URL? = nil) throws -> RunContext {
    let dataFolder = folder.appendingPathComponent("data")
    if !FileManager.default.fileExists(atPath: dataFolder.path) {
        try FileManager.default.createDirectory(at: dataFolder, withIntermediateDirectories: true)
        try data.write(to: dataFolder)
    }
    let stage = plan.stage(named: "encoder")!
    let inputs = zip(stage.spec.inputs, stage.spec.inputSlots).map { name, slot -> StageInput in
        let upstream = plan.stage(named: name)!
        return StageInput(name: name, kind: upstream.spec.kind, slot: slot, hash: upstream.hash,
                          parameters: upstream.spec.parameters,
                          artifactDirectory: upstream.spec.kind == "dataset" ? dataFolder : folder.appendingPathComponent(name))
    }
    let output = folder.appendingPathComponent("out-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
    return RunContext(stageName: "encoder", kind: "encoder", hash: stage.hash, parameters: stage.spec.parameters, inputs: inputs,
                      outputDirectory: output, checkpointDirectory: folder.appendingPathComponent("checkpoints"),
                      isResuming: isResuming, log: RunLog(fileURL: log, echo: ProcessInfo.processInfo.environment["SBCL_ENCODER_BENCH"] == "1", isTerminal: false),
                      device: "cpu", threads: 2, seed: plan.recipe.seed)
}

/// The tiny first stage: ResNet-20, batch 8 (3 steps per epoch), re-clustering from epoch 2.
let tinyEncoder = "depth: 20\nepochs: 4\nbatch_size: 8\nlearning_rate: 0.05\ncheckpoint_every: 1\ncluster_batch_size: 16"
let tinyClustering = "warmup_epochs: 1\nevery: 2\nmin_cluster_size: 2"

final class EncoderStageTests: XCTestCase {
    func testMoCoEncodersPlanAndTheQueueMustHoldWholeBatches() throws {
        XCTAssertNoThrow(try planFirstStage(firstStageRecipe(encoder: "architecture: resnet50\nbatch_size: 256\nqueue_size: 65536")))
        XCTAssertThrowsError(try planFirstStage(firstStageRecipe(encoder: "architecture: resnet18\nbatch_size: 96\nqueue_size: 1000"))) { error in
            let text = "\(error)"
            XCTAssert(text.contains("queue_size 1000 is not a multiple of batch_size 96"), text)
            XCTAssert(text.contains("stages.encoder"), text)
        }
        XCTAssertThrowsError(try planFirstStage(firstStageRecipe(encoder: "depth: 33"))) { error in
            XCTAssert("\(error)".contains("depth 33 is not a CIFAR ResNet depth"), "\(error)")
        }
        XCTAssertNoThrow(try planFirstStage(firstStageRecipe(encoder: "depth: 56")))
        // The MoCo settings stay out of a CIFAR encoder's hash; the depth out of a MoCo encoder's.
        let base = try planFirstStage(firstStageRecipe(encoder: "depth: 32")).stage(named: "encoder")!.hash
        XCTAssertEqual(try planFirstStage(firstStageRecipe(encoder: "depth: 32\nqueue_size: 4096")).stage(named: "encoder")!.hash, base)
        let moco = try planFirstStage(firstStageRecipe(encoder: "architecture: resnet18\nbatch_size: 64")).stage(named: "encoder")!.hash
        XCTAssertEqual(try planFirstStage(firstStageRecipe(encoder: "architecture: resnet18\nbatch_size: 64\ndepth: 56")).stage(named: "encoder")!.hash, moco)
    }

    func testTrainsWritesALoadableArtifactAndLogsEpochsAndReclustering() throws {
        #if DEBUG
        throw XCTSkip("trains a network; run with -c release -Xswiftc -enable-testing")
        #else
        let folder = try temporaryFolder(self)
        let plan = try planFirstStage(firstStageRecipe(clustering: tinyClustering, encoder: tinyEncoder))
        let logURL = folder.appendingPathComponent("run.log")
        let context = try encoderContext(plan: plan, data: tinyDataArtifact(), folder: folder, log: logURL)
        try EncoderStage.run(context)
        let (artifact, model) = try EncoderArtifact.read(from: context.outputDirectory)
        XCTAssertEqual(artifact.depth, 20)
        XCTAssertEqual(artifact.inputChannels, 1)
        XCTAssertEqual(artifact.imageSize, 8)
        XCTAssertEqual(artifact.mean.count, 1)
        let stats = tinyDataArtifact().train.channelStatistics()
        XCTAssertEqual(Double(artifact.mean[0]), stats.mean[0], accuracy: 1e-6)
        XCTAssertEqual(Double(artifact.std[0]), stats.std[0], accuracy: 1e-6)
        XCTAssertEqual(model.encoder.stages[0].count, 3)
        XCTAssert(model.namedParameters.allSatisfy { $0.parameter.value.scalars.allSatisfy(\.isFinite) })
        let log = try String(contentsOf: logURL, encoding: .utf8)
        for epoch in 1...4 { XCTAssert(log.contains("epoch \(epoch)/4  loss "), log) }
        XCTAssert(log.contains("(SupCon warm-up)"), log)
        // k_c = ⌊n_c / max(3, 2)⌋ = 4, 2, 1: re-clustered at epochs 2 and 4 (every 2 after 1 warm-up epoch).
        XCTAssert(log.contains("epoch 2: re-clustered 3 classes into 7 subclasses (k_c 1–4)"), log)
        XCTAssert(log.contains("epoch 4: re-clustered"), log)
        XCTAssertFalse(log.contains("epoch 3: re-clustered"), log)
        XCTAssert(log.contains("images/s"), log)
        #endif
    }

    /// 21 images in batches of 8: SimCLR/main.py trains the last 5 too (3 steps), drop_last does not (2).
    func testTheLastPartialBatchIsTrainedUnlessDropLast() throws {
        #if DEBUG
        throw XCTSkip("trains a network; run with -c release -Xswiftc -enable-testing")
        #else
        for (dropLast, steps) in [(false, 3), (true, 2)] {
            let folder = try temporaryFolder(self)
            let encoder = tinyEncoder.replacingOccurrences(of: "epochs: 4", with: "epochs: 1") + "\ndrop_last: \(dropLast)"
            // One epoch: SBCL from the start (a warm-up as long as the run is refused at plan time).
            let clustering = tinyClustering.replacingOccurrences(of: "warmup_epochs: 1", with: "warmup_epochs: 0")
            let plan = try planFirstStage(firstStageRecipe(clustering: clustering, encoder: encoder))
            let logURL = folder.appendingPathComponent("run.log")
            try EncoderStage.run(encoderContext(plan: plan, data: tinyDataArtifact(), folder: folder, log: logURL))
            let log = try String(contentsOf: logURL, encoding: .utf8)
            XCTAssert(log.contains("batch 8, \(steps) steps per epoch"), "drop_last \(dropLast): \(log)")
        }
        #endif
    }

    func testSupConBaselineNeverReclustersAndCCLDoes() throws {
        #if DEBUG
        throw XCTSkip("trains a network; run with -c release -Xswiftc -enable-testing")
        #else
        for (variant, reclusters) in [("supcon", false), ("ccl", true)] {
            let folder = try temporaryFolder(self)
            let plan = try planFirstStage(firstStageRecipe(clustering: tinyClustering, loss: "variant: \(variant)",
                                                           encoder: tinyEncoder.replacingOccurrences(of: "epochs: 4", with: "epochs: 2")))
            let logURL = folder.appendingPathComponent("run.log")
            try EncoderStage.run(encoderContext(plan: plan, data: tinyDataArtifact(), folder: folder, log: logURL))
            let log = try String(contentsOf: logURL, encoding: .utf8)
            XCTAssertEqual(log.contains("re-clustered"), reclusters, "\(variant): \(log)")
            XCTAssert(log.contains("epoch 2/2  loss "), log)
        }
        #endif
    }

    func testCrossEntropyBaselineTrainsTheClassifierLayerWithoutClustering() throws {
        #if DEBUG
        throw XCTSkip("trains a network; run with -c release -Xswiftc -enable-testing")
        #else
        let folder = try temporaryFolder(self)
        let plan = try planFirstStage(firstStageRecipe(clustering: tinyClustering, loss: "variant: ce", encoder: tinyEncoder))
        let logURL = folder.appendingPathComponent("run.log")
        let context = try encoderContext(plan: plan, data: tinyDataArtifact(), folder: folder, log: logURL)
        try EncoderStage.run(context)
        let log = try String(contentsOf: logURL, encoding: .utf8)
        XCTAssertFalse(log.contains("re-clustered"), log)
        XCTAssertFalse(log.contains("warm-up"), log)
        let losses = (1...4).map { epoch -> Double in
            let line = log.split(separator: "\n").first { $0.contains("epoch \(epoch)/4  loss ") && $0.contains("(cross-entropy)") }
            return line.flatMap { Double($0.components(separatedBy: "loss ")[1].prefix { $0 != " " }) } ?? .nan
        }
        // Three classes: the first epoch starts near ln 3; an easy problem must come down from there.
        XCTAssert(losses.allSatisfy(\.isFinite), log)
        XCTAssertLessThan(losses[3], losses[0], log)
        // The classifier layer has one row per class and is what the artifact's encoder carries.
        let (_, model) = try EncoderArtifact.read(from: context.outputDirectory)
        XCTAssertEqual(model.encoder.linear.weight.value.shape, [3, 64])
        #endif
    }

    func testResumedRunEndsBitIdenticalToAnUninterruptedOne() throws {
        #if DEBUG
        throw XCTSkip("trains a network; run with -c release -Xswiftc -enable-testing")
        #else
        let plan = try planFirstStage(firstStageRecipe(clustering: tinyClustering, encoder: tinyEncoder))
        let data = tinyDataArtifact()
        let straightFolder = try temporaryFolder(self)
        let straight = try encoderContext(plan: plan, data: data, folder: straightFolder)
        try EncoderStage.run(straight)

        // Stop after epoch 2 (just after the first re-clustering) and again after epoch 3.
        let folder = try temporaryFolder(self)
        let first = try encoderContext(plan: plan, data: data, folder: folder)
        XCTAssertThrowsError(try EncoderStage.run(first, stopAfterEpoch: 2)) { error in
            XCTAssert("\(error)".contains("stopped after epoch 2"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: first.outputDirectory.appendingPathComponent(EncoderArtifact.weightsFile).path))
        let second = try encoderContext(plan: plan, data: data, folder: folder, isResuming: true)
        XCTAssertThrowsError(try EncoderStage.run(second, stopAfterEpoch: 3))
        let logURL = folder.appendingPathComponent("resume.log")
        let third = try encoderContext(plan: plan, data: data, folder: folder, isResuming: true, log: logURL)
        try EncoderStage.run(third)
        XCTAssert(try String(contentsOf: logURL, encoding: .utf8).contains("resuming after epoch 3"))

        let a = try Data(contentsOf: straight.outputDirectory.appendingPathComponent(EncoderArtifact.weightsFile))
        let b = try Data(contentsOf: third.outputDirectory.appendingPathComponent(EncoderArtifact.weightsFile))
        XCTAssertEqual(a.count, b.count)
        XCTAssert(a == b, "resumed weights differ from the uninterrupted run's")
        #endif
    }

    func testDivergenceNamesEpochAndStepAndKeepsTheLastGoodCheckpoint() throws {
        #if DEBUG
        throw XCTSkip("trains a network; run with -c release -Xswiftc -enable-testing")
        #else
        let folder = try temporaryFolder(self)
        let plan = try planFirstStage(firstStageRecipe(clustering: tinyClustering, encoder: tinyEncoder))
        let first = try encoderContext(plan: plan, data: tinyDataArtifact(), folder: folder)
        XCTAssertThrowsError(try EncoderStage.run(first, stopAfterEpoch: 2))
        // Poison the projection head of the epoch-2 checkpoint: the next forward gives NaN.
        let url = EncoderCheckpoint.url(in: first.checkpointDirectory)
        var file = try SafeTensors.read(contentsOf: url)
        let index = file.tensors.firstIndex { $0.name == "model.head.2.weight" }!
        let shape = file.tensors[index].array.shape
        file.tensors[index].array = HostArray(floats: [Float](repeating: .nan, count: shape.reduce(1, *)), shape: shape)
        // Sealed again, as a run whose weights went bad by themselves would have written it.
        try CheckpointFile.write(to: url) { try SafeTensors.write(file, to: $0) }
        let poisoned = try Data(contentsOf: url)

        let resumed = try encoderContext(plan: plan, data: tinyDataArtifact(), folder: folder, isResuming: true)
        XCTAssertThrowsError(try EncoderStage.run(resumed)) { error in
            let text = "\(error)"
            XCTAssert(text.contains("diverged: the loss is nan at epoch 3, step 1"), text)
            XCTAssert(text.contains("the last good checkpoint stays at \(url.path)"), text)
        }
        XCTAssertEqual(try Data(contentsOf: url), poisoned, "the checkpoint must not be overwritten after a divergence")
        XCTAssertFalse(FileManager.default.fileExists(atPath: resumed.outputDirectory.appendingPathComponent(EncoderArtifact.weightsFile).path))
        #endif
    }
}
