import XCTest
import Engine
import Datasets
import PipelineDSL
import TestSupport
@testable import Stages

/// The `classifier` and `evaluation` kinds run on real artifacts: a tiny data set and a
/// (randomly initialised) tiny encoder written in the contracts' formats.
final class ClassifierStageTests: XCTestCase {
    /// 8×8 grey images of three patterns (bright top half, bright left half, dark), with noise.
    private func images(counts: [Int], seed: UInt32) -> ImageSet {
        var random = TestRandom(seed: seed)
        var pixels: [UInt8] = [], labels: [Int32] = []
        for (c, n) in counts.enumerated() {
            for _ in 0..<n {
                for y in 0..<8 {
                    for x in 0..<8 {
                        let bright = (c == 0 && y < 4) || (c == 1 && x < 4)
                        let value = (bright ? 200 : 40) + 30 * random.normal()
                        pixels.append(UInt8(max(0, min(255, value))))
                    }
                }
                labels.append(Int32(c))
            }
        }
        return ImageSet(height: 8, width: 8, channels: 1, pixels: pixels, labels: labels, classNames: ["top", "left", "dark"])
    }

    /// Writes the data and encoder artifacts into `folder` and returns their inputs.
    private func upstream(in folder: URL) throws -> (data: StageInput, encoder: StageInput) {
        let dataDirectory = folder.appendingPathComponent("data"), encoderDirectory = folder.appendingPathComponent("encoder")
        for d in [dataDirectory, encoderDirectory] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        try DataArtifact(train: images(counts: [40, 16, 6], seed: 1), test: images(counts: [12, 12, 12], seed: 2), source: "synthetic")
            .write(to: dataDirectory)
        let model = SupConResNet(depth: 20, inputChannels: 1, projectionDimension: 16, seed: 3)
        try EncoderArtifact(depth: 20, inputChannels: 1, projectionDimension: 16, mean: [0.4], std: [0.3], imageSize: 8)
            .write(model: model, to: encoderDirectory)
        let empty = ResolvedParameters([:])
        return (StageInput(name: "data", kind: "imbalance", slot: "data", hash: "d", parameters: empty, artifactDirectory: dataDirectory),
                StageInput(name: "encoder", kind: "encoder", slot: "encoder", hash: "e", parameters: empty, artifactDirectory: encoderDirectory))
    }

    private func context(_ kind: StageKind, _ overrides: [String: ParamValue], inputs: [StageInput], folder: URL, name: String) throws -> RunContext {
        var values: [String: ParamValue] = [:]
        for p in kind.parameters { if case .defaultValue(let v) = p.requirement { values[p.name] = v } }
        values.merge(overrides) { _, new in new }
        let output = folder.appendingPathComponent(name), checkpoints = folder.appendingPathComponent(name + ".ckpt")
        for d in [output, checkpoints] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        return RunContext(stageName: name, kind: kind.name, hash: name, parameters: ResolvedParameters(values), inputs: inputs,
                          outputDirectory: output, checkpointDirectory: checkpoints, isResuming: false,
                          log: RunLog(fileURL: nil, echo: false), device: "cpu", threads: 2, seed: 0)
    }

    func testClassifierThenEvaluationOnCachedFeatures() throws {
        let folder = try temporaryFolder(self)
        let (data, encoder) = try upstream(in: folder)
        let train = try context(ClassifierStage.kind, ["augment": .bool(false), "epochs": .int(40), "warmup_epochs": .int(2),
                                                      "milestones": .list([.int(30)]), "batch_size": .int(16)],
                                inputs: [encoder, data], folder: folder, name: "classifier")
        try ClassifierStage.kind.run(train)
        let (artifact, head) = try ClassifierArtifact.read(from: train.outputDirectory)
        XCTAssertEqual(artifact.form, "cosine")
        XCTAssertEqual(artifact.classCounts, [40, 16, 6])
        XCTAssertEqual(head.cosineWeight?.shape, [64, 3])
        XCTAssertEqual(try SafeTensors.read(contentsOf: train.outputDirectory.appendingPathComponent("classifier.safetensors")).names, ["weight"])

        let classifier = StageInput(name: "classifier", kind: "classifier", slot: "classifier", hash: "c",
                                    parameters: train.parameters, artifactDirectory: train.outputDirectory)
        let evaluate = try context(EvaluationStage.kind, [:], inputs: [classifier, encoder, data], folder: folder, name: "evaluation")
        try EvaluationStage.kind.run(evaluate)
        let metrics = evaluate.recordedMetrics
        let top1 = try XCTUnwrap(metrics["top1"]?.doubleValue)
        XCTAssertGreaterThan(top1, 80, "three easy patterns through a random encoder")
        XCTAssertEqual(metrics["class_counts"], .list([.int(40), .int(16), .int(6)]))
        XCTAssertNil(metrics["many"])  // no class above 100 training images
        XCTAssertNotNil(metrics["few"])
        let confusion = try XCTUnwrap(metrics["confusion"]?.listValue)
        XCTAssertEqual(confusion.map { $0.listValue!.compactMap(\.intValue).reduce(0, +) }, [12, 12, 12])
        let written = try JSONSerialization.jsonObject(with: Data(contentsOf: evaluate.outputDirectory.appendingPathComponent("metrics.json"))) as? [String: Any]
        XCTAssertEqual(written?["top1"] as? Double, top1)
        XCTAssertNotNil(written?["per_class"])
    }

    /// The reference's setting: augmented views re-embedded each step, with a class-aware linear
    /// head too; a resumed run (checkpoint from the first) finishes like an uninterrupted one.
    func testAugmentedTrainingAndResume() throws {
        let folder = try temporaryFolder(self)
        let (data, encoder) = try upstream(in: folder)
        let settings: [String: ParamValue] = ["method": .string("cb"), "epochs": .int(2), "warmup_epochs": .int(1), "batch_size": .int(32)]
        let whole = try context(ClassifierStage.kind, settings, inputs: [encoder, data], folder: folder, name: "whole")
        try ClassifierStage.kind.run(whole)
        let (artifact, head) = try ClassifierArtifact.read(from: whole.outputDirectory)
        XCTAssertEqual(artifact.form, "linear")
        XCTAssertEqual(artifact.epochs, 2)
        XCTAssertTrue(artifact.finalLoss.isFinite)

        // Resume: a checkpoint after one epoch, as a killed run leaves it.
        var one = settings
        one["epochs"] = .int(1)
        let partial = try context(ClassifierStage.kind, one, inputs: [encoder, data], folder: folder, name: "partial")
        try ClassifierStage.kind.run(partial)
        let resumed = RunContext(stageName: "resumed", kind: "classifier", hash: "r", parameters: whole.parameters, inputs: [encoder, data],
                                 outputDirectory: folder.appendingPathComponent("resumed-out"), checkpointDirectory: partial.checkpointDirectory,
                                 isResuming: true, log: RunLog(fileURL: nil, echo: false), device: "cpu", threads: 2, seed: 0)
        try FileManager.default.createDirectory(at: resumed.outputDirectory, withIntermediateDirectories: true)
        try ClassifierStage.kind.run(resumed)
        let (_, resumedHead) = try ClassifierArtifact.read(from: resumed.outputDirectory)
        XCTAssertEqual(resumedHead.fc!.weight.value.scalars, head.fc!.weight.value.scalars)
    }

    func testMismatchedChannelsAreAUserError() throws {
        let folder = try temporaryFolder(self)
        let (data, _) = try upstream(in: folder)
        let rgbDirectory = folder.appendingPathComponent("rgb")
        try FileManager.default.createDirectory(at: rgbDirectory, withIntermediateDirectories: true)
        try EncoderArtifact(depth: 20, inputChannels: 3, projectionDimension: 16, mean: [0, 0, 0], std: [1, 1, 1], imageSize: 8)
            .write(model: SupConResNet(depth: 20, inputChannels: 3, projectionDimension: 16), to: rgbDirectory)
        let rgb = StageInput(name: "encoder", kind: "encoder", slot: "encoder", hash: "e", parameters: ResolvedParameters([:]), artifactDirectory: rgbDirectory)
        let run = try context(ClassifierStage.kind, [:], inputs: [rgb, data], folder: folder, name: "classifier")
        XCTAssertThrowsError(try ClassifierStage.kind.run(run)) { error in
            XCTAssertTrue("\(error)".contains("1-channel images but the encoder takes 3 channels"), "\(error)")
        }
    }
}
