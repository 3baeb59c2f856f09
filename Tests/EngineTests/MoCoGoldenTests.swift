import Foundation
import XCTest
import Engine
import TestSupport

/// Two steps of the MoCo model against the authors' moco/moco.py (resnet18, MLP head, K = 16,
/// batch 4, 3×32×32, m = 0.999) from formula weights: logits (≤ 1e-4 of the largest; measured 2.7e-5), the queue labels handed to the loss,
/// query gradients, momentum-updated key weights, and the queue, labels and pointer after.
/// Figures from scripts/goldens/resnet_imagenet_golden.py. Plus checkpoint round trips.
final class MoCoGoldenTests: XCTestCase {
    /// A resnet18 MoCo set up as the golden script sets the reference's.
    private func goldenModel(_ golden: SafeTensorsFile) throws -> MoCo {
        let model = MoCo(.resnet18, dimension: 128, queueSize: 16, momentum: 0.999, seed: 3)
        GoldenFormula.setState(model.encoderQuery)
        GoldenFormula.setState(model.encoderKey, offset: 500, parametersOnly: true)
        let queue = try golden.array(named: "queue.initial")
        model.setQueue(Tensor(queue.floats(), shape: queue.shape))
        return model
    }

    func testTwoStepsMatchTheAuthorsMoCo() throws {
        let golden = try imagenetFixture("moco_golden")
        let model = try goldenModel(golden)
        XCTAssertEqual(model.queueSubclass, Array(repeating: -1, count: 16))
        var worst: [String: Float] = [:]
        func check(_ name: String, _ actual: [Float], tolerance: Float = 1e-4) throws {
            let expected = try golden.array(named: name).floats()
            let error = relativeError(Array(actual.prefix(expected.count)), expected)
            worst[name] = error
            XCTAssertLessThanOrEqual(error, tolerance, name)
        }
        let steps = [(40000, 40001, [3, 1, 4, 1], [0, 1, 0, 2]), (40002, 40003, [5, 9, 2, 6], [1, 1, 2, 0])]
        for (s, (tq, tk, sub, cls)) in steps.enumerated() {
            let out = model.forward(query: GoldenFormula.image(tq, [4, 3, 32, 32]), key: GoldenFormula.image(tk, [4, 3, 32, 32]),
                                    subclassLabels: sub, classLabels: cls, training: true)
            XCTAssertEqual(out.logits.shape, [4, 17])
            try check("step\(s + 1).logits", out.logits.scalars)
            XCTAssertEqual(out.queueSubclass.map(Int64.init), try golden.array(named: "step\(s + 1).queue_l").int64s())
            XCTAssertEqual(out.queueClass.map(Int64.init), try golden.array(named: "step\(s + 1).queue_t").int64s())
            if s == 0 {
                let r = Tensor(GoldenFormula.uniform(50000, 4 * 17).map { Float($0) }, shape: [4, 17])
                let grads = (out.logits * r).sum().gradients()
                let parameters = Dictionary(uniqueKeysWithValues: model.queryParameters.map { ($0.name, $0.parameter) })
                for name in golden.names where name.hasPrefix("step1.grad.") {
                    let parameter = try XCTUnwrap(parameters[String(name.dropFirst(11))], name)
                    // 2e-3: ReLU inputs within float32 error of zero (see ResNetImageNetGoldenTests); measured 9.3e-4.
                    try check(name, try XCTUnwrap(grads[parameter.value], name).scalars, tolerance: 2e-3)
                }
                for (_, k) in model.encoderKey.namedParameters { XCTAssertNil(grads[k.value], "the key encoder gets no gradient") }
            }
        }
        try check("queue", model.queue.scalars)
        XCTAssertEqual(model.queueSubclass, try golden.array(named: "queue_l").int64s())
        XCTAssertEqual(model.queueClass, try golden.array(named: "queue_t").int64s())
        XCTAssertEqual([Int64(model.queuePointer)], try golden.array(named: "queue_ptr").int64s())
        let state = Dictionary(uniqueKeysWithValues: model.stateArrays().map { ($0.name, $0.array) })
        for name in golden.names where name.hasPrefix("after.") {
            try check(name, try XCTUnwrap(state[String(name.dropFirst(6))], name).floats())
        }
        print("MoCo golden, largest relative error per entry:", worst.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" })
    }

    /// Writes files for `scripts/goldens/check_moco_written.py`, which loads them into the authors'
    /// MoCo (strict) and torchvision's resnet50 (all but `fc`). Runs only when SBCL_EXPORT_DIR names a folder.
    func testExportForPyTorchCheck() throws {
        guard let dir = ProcessInfo.processInfo.environment["SBCL_EXPORT_DIR"] else {
            throw XCTSkip("set SBCL_EXPORT_DIR to write files for scripts/goldens/check_moco_written.py")
        }
        let model = MoCo(.resnet50, queueSize: 16, seed: 7)
        _ = model.forward(query: GoldenFormula.image(1, [4, 3, 32, 32]), key: GoldenFormula.image(2, [4, 3, 32, 32]),
                          subclassLabels: [5, 6, 7, 8], classLabels: [1, 1, 2, 2])
        try model.saveCheckpoint(to: URL(fileURLWithPath: dir).appendingPathComponent("moco_resnet50.safetensors"))
        try model.exportBackbone(to: URL(fileURLWithPath: dir).appendingPathComponent("backbone_resnet50.safetensors"))
    }

    /// Rank 0 of two whose partner holds the same batch (every gather returns this rank's values twice).
    private final class MirrorCommunicator: Communicator {
        let rank = 0, size = 2
        func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) { for i in values.indices { values[i] *= 2 } }
        func allGather(_ local: UnsafeRawBufferPointer, counts: [Int], into output: UnsafeMutableRawBufferPointer) {
            output.copyMemory(from: local)
            UnsafeMutableRawBufferPointer(rebasing: output[local.count...]).copyMemory(from: local)
        }
        func broadcast(_ buffer: UnsafeMutableRawBufferPointer, from root: Int) {}
    }

    func testDataParallelStepGathersKeysAndLabelsBeforeTheEnqueue() throws {
        let model = MoCo(.resnet18, queueSize: 16, seed: 6)
        model.communicator = MirrorCommunicator()
        let out = model.forward(query: GoldenFormula.image(1, [4, 3, 32, 32]), key: GoldenFormula.image(2, [4, 3, 32, 32]),
                                subclassLabels: [7, 8, 9, 10], classLabels: [1, 2, 3, 4])
        XCTAssertEqual(out.key.shape, [4, 128])
        for row in 0..<4 {
            let norm = out.key.scalars[(row * 128)..<((row + 1) * 128)].reduce(0) { $0 + $1 * $1 }.squareRoot()
            XCTAssertEqual(norm, 1, accuracy: 1e-5, "shuffle-BN keys are normalised")
        }
        XCTAssertEqual(model.queuePointer, 8, "both ranks' 4 keys went in")
        XCTAssertEqual(Array(model.queueSubclass.prefix(9)), [7, 8, 9, 10, 7, 8, 9, 10, -1])
        XCTAssertEqual(Array(model.queueClass.prefix(8)), [1, 2, 3, 4, 1, 2, 3, 4])
        let queue = model.queue.scalars
        for d in 0..<128 {
            XCTAssertEqual(Array(queue[(d * 16)..<(d * 16 + 4)]), out.key.scalars.enumerated().filter { $0.offset % 128 == d }.map(\.element))
            XCTAssertEqual(Array(queue[(d * 16)..<(d * 16 + 4)]), Array(queue[(d * 16 + 4)..<(d * 16 + 8)]))
        }
    }

    /// Across ranks, a permutation given with the step decides the shuffle-BN keys, not the
    /// model's own generator: a run resumed from a checkpoint (a fresh generator) shuffles as the
    /// uninterrupted one did, since the training loop derives the permutation from seed and step.
    func testAGivenShufflePermutationDecidesTheKeysWhateverTheGenerator() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("moco-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("moco.safetensors")
        try MoCo(.resnet18, queueSize: 16, seed: 6).saveCheckpoint(to: url)
        // Two models with the same weights: one built from the seed, one from the checkpoint (its
        // generator seeded otherwise), as an uninterrupted run and a resumed one.
        func pair() throws -> [MoCo] {
            let models = [MoCo(.resnet18, queueSize: 16, seed: 6), try MoCo(checkpoint: SafeTensors.read(contentsOf: url))]
            for model in models { model.communicator = MirrorCommunicator() }
            return models
        }
        let query = GoldenFormula.image(1, [4, 3, 32, 32]), key = GoldenFormula.image(2, [4, 3, 32, 32])
        func keys(_ model: MoCo, _ permutation: [Int]?) -> [Float] {
            model.forward(query: query, key: key, subclassLabels: [7, 8, 9, 10], classLabels: [1, 2, 3, 4], keyPermutation: permutation).key.scalars
        }
        let drawn = try pair().map { keys($0, nil) }
        XCTAssertNotEqual(drawn[0], drawn[1], "the two generators draw different shuffles (else this test shows nothing)")
        let permutation = MoCo.keyPermutation(count: 8, seed: 3, epoch: 2, step: 5)
        let given = try pair().map { keys($0, permutation) }
        XCTAssertEqual(given[0], given[1], "the same permutation gives the same keys")
    }

    func testCheckpointAndBackboneExportRoundTrip() throws {
        let golden = try imagenetFixture("moco_golden")
        let model = try goldenModel(golden)
        let images = GoldenFormula.image(40000, [4, 3, 32, 32])
        _ = model.forward(query: images, key: GoldenFormula.image(40001, [4, 3, 32, 32]), subclassLabels: [1, 2, 3, 4],
                          classLabels: [0, 0, 1, 1])
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("moco-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        let checkpoint = folder.appendingPathComponent("moco.safetensors")
        try model.saveCheckpoint(to: checkpoint)
        let file = try SafeTensors.read(contentsOf: checkpoint)
        XCTAssertEqual(file["queue_l"]?.dtype, .int64)
        XCTAssertEqual(file["queue_l"]?.shape, [1, 16])
        XCTAssertEqual(file["queue_ptr"]?.shape, [1])
        XCTAssertEqual(file["encoder_q.fc.0.weight"]?.shape, [512, 512])
        XCTAssertEqual(file["encoder_k.fc.2.bias"]?.shape, [128])
        let loaded = try MoCo(checkpoint: file)
        XCTAssertEqual(loaded.queuePointer, 4)
        XCTAssertEqual(loaded.queueSubclass, model.queueSubclass)
        XCTAssertEqual(loaded.queue.scalars, model.queue.scalars)
        XCTAssertEqual(loaded.keyProjections(images).scalars, model.keyProjections(images).scalars)
        XCTAssertEqual(loaded.keyFeatures(images).shape, [4, 512])

        let backbone = folder.appendingPathComponent("backbone.safetensors")
        try model.exportBackbone(to: backbone)
        let exported = try SafeTensors.read(contentsOf: backbone)
        XCTAssertFalse(exported.names.contains { $0.hasPrefix("fc.") || $0.hasPrefix("encoder") })
        let (resnet, hasHead) = try ResNetImageNet.loading(exported)
        XCTAssertFalse(hasHead)
        XCTAssertEqual(resnet.architecture, .resnet18)
        let expected = withoutGradients { model.encoderQuery.features(images, training: false) }
        XCTAssertEqual(withoutGradients { resnet.features(images, training: false) }.scalars, expected.scalars)

        var damaged = file
        damaged.tensors.removeAll { $0.name == "queue_t" }
        XCTAssertThrowsError(try MoCo(checkpoint: damaged)) { error in
            XCTAssertTrue("\(error)".contains("'queue_t' is missing"), "\(error)")
        }
    }
}
