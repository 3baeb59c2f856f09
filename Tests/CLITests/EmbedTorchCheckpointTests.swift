import Foundation
import XCTest
import Engine

/// `sbcl-run embed` on PyTorch checkpoints in the authors' forms: the features equal those of the
/// same weights as safetensors (whose parity with PyTorch the engine's golden tests hold), and a
/// MoCo checkpoint with one encoder works without `--encoder`, saying which it used.
final class EmbedTorchCheckpointTests: XCTestCase {
    var cli: CLIHarness!
    override func setUpWithError() throws { cli = try CLIHarness() }
    override func tearDown() { cli.remove() }

    private func writeNPY(_ name: String, _ values: [Float], shape: [Int]) throws -> String {
        let url = cli.folder.appendingPathComponent(name)
        try NPY.write(HostArray(floats: values, shape: shape), to: url)
        return url.path
    }

    private func readFloats(_ path: String) throws -> [Float] { try NPY.read(contentsOf: URL(fileURLWithPath: path)).floats() }

    private func input(_ n: Int, channels: Int = 3, side: Int = 32) throws -> (path: String, nhwc: Tensor) {
        let values = (0..<(n * channels * side * side)).map { Float(($0 * 7919) % 255) / 127.5 - 1 }
        return (try writeNPY("x.npy", values, shape: [n, channels, side, side]), Tensor(values, shape: [n, channels, side, side]).nchwToNHWC())
    }

    /// `{'epoch', 'arch', 'state_dict': {module.<name>: tensor}, 'optimizer': {...}}`, as the
    /// authors' `moco/main.py` saves under DistributedDataParallel.
    private func writeTrainingCheckpoint(_ arrays: [(name: String, array: HostArray)], to name: String) throws -> String {
        let url = cli.folder.appendingPathComponent(name)
        let state = TorchObject.dict(arrays.map { (.string("module." + $0.name), .tensor($0.array)) })
        let optimizer = TorchObject.dict([(.string("state"), .dict([])),
                                          (.string("param_groups"), .list([.dict([(.string("lr"), .float(0.03)), (.string("params"), .list([.int(0)]))])]))])
        try TorchCheckpoint.write(.dict([(.string("epoch"), .int(200)), (.string("arch"), .string("resnet18")),
                                         (.string("state_dict"), state), (.string("optimizer"), optimizer)]), to: url)
        return url.path
    }

    func testASimCLRDataParallelCheckpointEmbedsAsItsSafetensors() throws {
        let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("EngineTests/Fixtures/resnet32_golden_weights.safetensors")
        let file = try SafeTensors.read(contentsOf: golden)
        // SimCLR/main.py saves DataParallel(SupConResNet).state_dict(): every name under module.
        let pth = cli.folder.appendingPathComponent("simclr.pth")
        try TorchCheckpoint.write(stateDict: file.tensors.map { ("module." + $0.name, $0.array) }, to: pth)
        let (x, _) = try input(3)
        let fromSafetensors = cli.folder.appendingPathComponent("a.npy").path, fromTorch = cli.folder.appendingPathComponent("b.npy").path
        let r1 = try cli.run(["embed", "--weights", golden.path, "--input", x, "--output", fromSafetensors], testStages: false)
        let r2 = try cli.run(["embed", "--weights", pth.path, "--input", x, "--output", fromTorch], testStages: false)
        XCTAssertEqual(r1.status, 0, r1.stderr)
        XCTAssertEqual(r2.status, 0, r2.stderr)
        XCTAssert(r2.stderr.contains("simclr.pth: PyTorch checkpoint, a state dict, 'module.' prefix removed"), r2.stderr)
        XCTAssertEqual(try readFloats(fromTorch), try readFloats(fromSafetensors))
    }

    func testAMoCoTrainingCheckpointUsesTheKeyEncoderAndOneWithOnlyTheQueryEncoderWorksToo() throws {
        let model = MoCo(.resnet18, queueSize: 16, seed: 4)
        let (x, nhwc) = try input(2)
        // Make the encoders differ, so the test tells which one embedded.
        let optimizer = SGD(parameters: model.queryParameters, learningRate: 0.5)
        let out = model.forward(query: nhwc, key: nhwc, subclassLabels: [0, 1], classLabels: [0, 1])
        optimizer.step(out.logits.sum().gradients())
        let both = try writeTrainingCheckpoint(model.checkpointArrays(), to: "checkpoint_0199.pth.tar")
        let features = cli.folder.appendingPathComponent("f.npy").path
        let r1 = try cli.run(["embed", "--weights", both, "--input", x, "--output", features], testStages: false)
        XCTAssertEqual(r1.status, 0, r1.stderr)
        XCTAssert(r1.stderr.contains("'state_dict' (epoch 200, arch resnet18)") && r1.stderr.contains("the key encoder (encoder_k.*)"), r1.stderr)
        XCTAssertEqual(try readFloats(features), model.keyFeatures(nhwc).scalars)

        let queryOnly = try writeTrainingCheckpoint(model.stateArrays().filter { $0.name.hasPrefix("encoder_q.") }, to: "query.pth.tar")
        let r2 = try cli.run(["embed", "--weights", queryOnly, "--input", x, "--output", features], testStages: false)
        XCTAssertEqual(r2.status, 0, r2.stderr)
        XCTAssert(r2.stderr.contains("one encoder: the query encoder (encoder_q.*)"), r2.stderr)
        let query = withoutGradients { model.encoderQuery.features(nhwc, training: false) }
        XCTAssertEqual(try readFloats(features), query.scalars)
        XCTAssertNotEqual(query.scalars, model.keyFeatures(nhwc).scalars)

        let r3 = try cli.run(["embed", "--weights", queryOnly, "--input", x, "--output", features, "--encoder", "key"], testStages: false)
        XCTAssertEqual(r3.status, 1)
        XCTAssert(r3.stderr.contains("query.pth.tar") && r3.stderr.contains("holds only the query encoder"), r3.stderr)
    }

    func testAHostileCheckpointIsRefusedAndNothingRuns() throws {
        let hostile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("EngineTests/Fixtures/torch/hostile_system.pth")
        let (x, _) = try input(1)
        let out = cli.folder.appendingPathComponent("f.npy").path
        let r = try cli.run(["embed", "--weights", hostile.path, "--input", x, "--output", out], testStages: false)
        XCTAssertEqual(r.status, 1)
        XCTAssert(r.stderr.contains("hostile_system.pth") && r.stderr.contains("posix.system"), r.stderr)
        XCTAssertFalse(r.stdout.contains("this must never run"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }
}
