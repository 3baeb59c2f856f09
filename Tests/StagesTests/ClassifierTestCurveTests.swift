import XCTest
import Engine
import Datasets
import PipelineDSL
import TestSupport
@testable import Stages

/// `test_curve: true`: the classifier scores its head on the test split after every epoch, as the
/// evaluation stage would then, and records the test top-1 with the epoch (the reference's per-epoch
/// `validate()`); the run's figure stays the last epoch's, and training is unchanged.
final class ClassifierTestCurveTests: XCTestCase {
    private var registry: StageRegistry {
        var registry = StageRegistry()
        Stages.registerAll(in: &registry)
        return registry
    }

    private func classifierHash(_ name: String, _ overrides: [String] = []) throws -> String? {
        let url = RecipeTests.recipesFolder.appendingPathComponent(name)
        let recipe = try Planner.recipe(data: Data(contentsOf: url), file: url.path,
                                        overrides: overrides.map { try Override.parse($0) }, registry: registry)
        return try Planner.plan(recipe, registry: registry).stage(named: "classifier")?.hash
    }

    func testTheSettingKeepsTheHashAtItsDefaultAndMovesItWhenTrue() throws {
        for name in ["smoke.yaml", "imagenet_lt_smoke.yaml"] {
            let plain = try classifierHash(name)
            XCTAssertNotNil(plain, name)
            XCTAssertEqual(try classifierHash(name, ["stages.classifier.test_curve=false"]), plain, name)
            XCTAssertNotEqual(try classifierHash(name, ["stages.classifier.test_curve=true"]), plain, name)
        }
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

    private func context(_ kind: StageKind, _ overrides: [String: ParamValue], inputs: [StageInput], folder: URL, name: String) throws -> RunContext {
        var values: [String: ParamValue] = [:]
        for p in kind.parameters { if case .defaultValue(let v) = p.requirement { values[p.name] = v } }
        values.merge(overrides) { _, new in new }
        let output = folder.appendingPathComponent(name), checkpointDirectory = folder.appendingPathComponent(name + ".ckpt")
        for d in [output, checkpointDirectory] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        return RunContext(stageName: name, kind: kind.name, hash: name, parameters: ResolvedParameters(values), inputs: inputs,
                          outputDirectory: output, checkpointDirectory: checkpointDirectory, isResuming: false,
                          log: RunLog(fileURL: nil, echo: false), device: "cpu", threads: 2, seed: 0)
    }

    private func epochRecords(_ context: RunContext) throws -> [EpochRecord] {
        let text = try String(contentsOf: context.checkpointDirectory.appendingPathComponent(RunContext.historyFile), encoding: .utf8)
        return EpochRecord.parseLines(text).filter { $0.event == "epoch" }.sorted { $0.epoch < $1.epoch }
    }

    /// Trains with and without the curve, then evaluates the curve's head: one test top-1 per
    /// epoch, the last equal to the evaluation stage's figures, and the same head (and backbone
    /// statistics) as without the curve — scoring the test split changes nothing it trains.
    private func checkCurve(_ settings: [String: ParamValue], epochs: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let folder = try temporaryFolder(self)
        let (data, encoder) = try upstream(in: folder)
        var curveSettings = settings
        curveSettings["test_curve"] = .bool(true)
        curveSettings["epochs"] = .int(epochs)
        var plainSettings = settings
        plainSettings["epochs"] = .int(epochs)
        let curve = try context(ClassifierStage.kind, curveSettings, inputs: [encoder, data], folder: folder, name: "curve")
        try ClassifierStage.kind.run(curve)
        let plain = try context(ClassifierStage.kind, plainSettings, inputs: [encoder, data], folder: folder, name: "plain")
        try ClassifierStage.kind.run(plain)

        let records = try epochRecords(curve)
        XCTAssertEqual(records.map(\.epoch), Array(1...epochs), file: file, line: line)
        let top1 = records.compactMap { $0.number("test_top1") }
        XCTAssertEqual(top1.count, epochs, "one test top-1 per epoch", file: file, line: line)
        XCTAssertTrue(top1.allSatisfy { $0 >= 0 && $0 <= 100 }, "\(top1)", file: file, line: line)
        XCTAssertTrue(try epochRecords(plain).allSatisfy { $0.number("test_top1") == nil }, "no curve at the default", file: file, line: line)

        let classifier = StageInput(name: "classifier", kind: "classifier", slot: "classifier", hash: "c",
                                    parameters: curve.parameters, artifactDirectory: curve.outputDirectory)
        let evaluate = try context(EvaluationStage.kind, [:], inputs: [classifier, encoder, data], folder: folder, name: "evaluation")
        try EvaluationStage.kind.run(evaluate)
        let last = try XCTUnwrap(records.last, file: file, line: line)
        for name in ["top1", "top5", "many", "medium", "few"] {
            XCTAssertEqual(last.number("test_\(name)"), evaluate.recordedMetrics[name]?.doubleValue,
                           "the last epoch's test_\(name) is the evaluation's \(name)", file: file, line: line)
        }
        XCTAssertNotNil(last.number("test_few"), "6 training images: a few-shot class", file: file, line: line)

        let (_, curveHead) = try ClassifierArtifact.read(from: curve.outputDirectory)
        let (_, plainHead) = try ClassifierArtifact.read(from: plain.outputDirectory)
        XCTAssertEqual(curveHead.stateArrays().map { $0.array.floats() }, plainHead.stateArrays().map { $0.array.floats() },
                       "the curve leaves the head unchanged", file: file, line: line)
        let statistics = curve.outputDirectory.appendingPathComponent(ClassifierArtifact.statisticsFile)
        if FileManager.default.fileExists(atPath: statistics.path) {
            XCTAssertEqual(try Data(contentsOf: statistics),
                           try Data(contentsOf: plain.outputDirectory.appendingPathComponent(ClassifierArtifact.statisticsFile)),
                           "the curve leaves the re-estimated running statistics unchanged", file: file, line: line)
        }
    }

    /// Cached features, the backbone in eval mode: the test set is embedded once.
    func testCachedFeaturesCurveEndsAtTheEvaluationsTop1() throws {
        try checkCurve(["method": .string("ldam_drw"), "augment": .bool(false), "batch_size": .int(16), "warmup_epochs": .int(1),
                        "milestones": .list([.int(3)])], epochs: 4)
    }

    /// Batch statistics (`moco/linear_classify.py`'s `model.train()`): every epoch's score uses the
    /// running statistics re-estimated so far, as `validate()` after `model.eval()` does.
    func testBatchStatisticsCurveEndsAtTheEvaluationsTop1() throws {
        try checkCurve(["method": .string("cb"), "warmup_epochs": .int(0), "batch_size": .int(16), "schedule": .string("multistep"),
                        "milestones": .list([.int(1)]), "epoch_length": .string("dataset"), "backbone_batch_norm": .string("train")],
                       epochs: 3)
    }
}
