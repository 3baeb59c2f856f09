import Foundation
import XCTest
import Engine

/// `sbcl-run embed` as a user runs it: a PyTorch-written checkpoint, an NCHW `.npy` batch in,
/// features out; bad files and bad usage end in one clear line and the right exit status.
final class EmbedCommandTests: XCTestCase {
    var cli: CLIHarness!
    override func setUpWithError() throws { cli = try CLIHarness() }
    override func tearDown() { cli.remove() }

    /// The reference SupConResNet's weights as PyTorch saved them (scripts/goldens/resnet32_golden.py).
    var weights: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("EngineTests/Fixtures/resnet32_golden_weights.safetensors").path
    }

    /// A little-endian float32 `.npy` file (format 1.0).
    func writeNPY(_ name: String, _ values: [Float], shape: [Int]) throws -> String {
        let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)]
        bytes += Array(header.utf8)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
        let url = cli.folder.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    /// Shape and values of a float32 `.npy` file.
    func readNPY(_ path: String) throws -> (shape: [Int], values: [Float]) {
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        let header = String(decoding: data[10..<(10 + headerLength)], as: UTF8.self)
        XCTAssertTrue(header.contains("'<f4'"), header)
        let inside = header.components(separatedBy: "'shape': (")[1].components(separatedBy: ")")[0]
        let shape = inside.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let values = stride(from: 10 + headerLength, to: data.count, by: 4).map { i in
            Float(bitPattern: UInt32(data[i]) | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2]) << 16 | UInt32(data[i + 3]) << 24)
        }
        return (shape, values)
    }

    func testEmbedsFeaturesAndProjections() throws {
        let n = 3
        let input = try writeNPY("x.npy", (0..<(n * 3 * 32 * 32)).map { Float(($0 * 7919) % 255) / 127.5 - 1 }, shape: [n, 3, 32, 32])
        let features = cli.folder.appendingPathComponent("f.npy").path
        let r1 = try cli.run(["embed", "--weights", weights, "--input", input, "--output", features])
        XCTAssertEqual(r1.status, 0, r1.stderr)
        let f = try readNPY(features)
        XCTAssertEqual(f.shape, [n, 64])
        XCTAssertTrue(f.values.allSatisfy { $0.isFinite && $0 >= 0 }, "encoder features follow a ReLU and an average")

        let projections = cli.folder.appendingPathComponent("p.npy").path
        let r2 = try cli.run(["embed", "--weights", weights, "--input", input, "--output", projections, "--projection"])
        XCTAssertEqual(r2.status, 0, r2.stderr)
        let p = try readNPY(projections)
        XCTAssertEqual(p.shape, [n, 128])
        for row in 0..<n {
            let norm = p.values[(row * 128)..<((row + 1) * 128)].reduce(0) { $0 + $1 * $1 }.squareRoot()
            XCTAssertEqual(norm, 1, accuracy: 1e-5)
        }
    }

    func testBadInputsGiveOneClearLine() throws {
        let wrongChannels = try writeNPY("gray.npy", [Float](repeating: 0, count: 2 * 28 * 28), shape: [2, 1, 28, 28])
        let out = cli.folder.appendingPathComponent("o.npy").path
        let r1 = try cli.run(["embed", "--weights", weights, "--input", wrongChannels, "--output", out])
        XCTAssertEqual(r1.status, 1)
        XCTAssertTrue(r1.stderr.contains("gray.npy") && r1.stderr.contains("N×3×H×W"), r1.stderr)

        let garbage = try cli.write("w.safetensors", "not a safetensors file at all")
        let r2 = try cli.run(["embed", "--weights", garbage.path, "--input", wrongChannels, "--output", out])
        XCTAssertEqual(r2.status, 1)
        XCTAssertTrue(r2.stderr.contains("w.safetensors"), r2.stderr)

        let r3 = try cli.run(["embed", "--weights", weights, "--output", out])
        XCTAssertEqual(r3.status, 2)
        XCTAssertTrue(r3.stderr.contains("--input"), r3.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "no output is written on failure")
    }

    /// An N×3×32×32 input and the engine's own NHWC copy of it.
    func imageInput(_ n: Int) throws -> (path: String, nhwc: Tensor) {
        let values = (0..<(n * 3 * 32 * 32)).map { Float(($0 * 7919) % 255) / 127.5 - 1 }
        return (try writeNPY("x\(n).npy", values, shape: [n, 3, 32, 32]), Tensor(values, shape: [n, 3, 32, 32]).nchwToNHWC())
    }

    func testEmbedsWithAMoCoCheckpointsKeyEncoder() throws {
        let model = MoCo(.resnet18, queueSize: 16, seed: 4)
        // Make the encoders differ, so the test tells which one embedded.
        _ = model.forward(query: try imageInput(4).nhwc, key: try imageInput(4).nhwc, subclassLabels: [0, 1, 2, 3], classLabels: [0, 0, 1, 1])
        let optimizer = SGD(parameters: model.queryParameters, learningRate: 0.5)
        let out = model.forward(query: try imageInput(4).nhwc, key: try imageInput(4).nhwc, subclassLabels: [0, 1, 2, 3], classLabels: [0, 0, 1, 1])
        optimizer.step(out.logits.sum().gradients())
        let weights = cli.folder.appendingPathComponent("moco.safetensors")
        try model.saveCheckpoint(to: weights)
        let (input, nhwc) = try imageInput(2)

        let features = cli.folder.appendingPathComponent("f.npy").path
        let r1 = try cli.run(["embed", "--weights", weights.path, "--input", input, "--output", features])
        XCTAssertEqual(r1.status, 0, r1.stderr)
        let f = try readNPY(features)
        XCTAssertEqual(f.shape, [2, 512])
        XCTAssertEqual(f.values, model.keyFeatures(nhwc).scalars)

        let projections = cli.folder.appendingPathComponent("p.npy").path
        let r2 = try cli.run(["embed", "--weights", weights.path, "--input", input, "--output", projections, "--projection"])
        XCTAssertEqual(r2.status, 0, r2.stderr)
        let p = try readNPY(projections)
        XCTAssertEqual(p.shape, [2, 128])
        XCTAssertEqual(p.values, model.keyProjections(nhwc).scalars)

        let r3 = try cli.run(["embed", "--weights", weights.path, "--input", input, "--output", projections, "--projection", "--encoder", "query"])
        XCTAssertEqual(r3.status, 0, r3.stderr)
        let q = withoutGradients { model.encoderQuery(nhwc, training: false).l2Normalized() }
        XCTAssertEqual(try readNPY(projections).values, q.scalars)
        XCTAssertNotEqual(q.scalars, p.values)
    }

    func testEmbedsWithATorchvisionStateDictAndRefusesAProjectionItHasNot() throws {
        let model = ResNetImageNet(.resnet34, classCount: 10, seed: 5)
        let weights = cli.folder.appendingPathComponent("resnet34.safetensors")
        try model.save(to: weights)
        let (input, nhwc) = try imageInput(2)
        let features = cli.folder.appendingPathComponent("f.npy").path
        let r1 = try cli.run(["embed", "--weights", weights.path, "--input", input, "--output", features])
        XCTAssertEqual(r1.status, 0, r1.stderr)
        let f = try readNPY(features)
        XCTAssertEqual(f.shape, [2, 512])
        XCTAssertEqual(f.values, withoutGradients { model.features(nhwc, training: false) }.scalars)

        let r2 = try cli.run(["embed", "--weights", weights.path, "--input", input, "--output", features, "--projection"])
        XCTAssertEqual(r2.status, 1)
        XCTAssertTrue(r2.stderr.contains("resnet34.safetensors") && r2.stderr.contains("--projection needs a projection head")
                        && r2.stderr.contains("a classifier fc"), r2.stderr)
    }

    func testCudaOnAMachineWithoutOneFailsInOneSentence() throws {
        let recipe = try cli.write("r.yaml", "name: r\nstages:\n  a:\n    kind: test_source\n")
        let r = try cli.run([recipe.path, "--device", "cuda"])
        XCTAssertEqual(r.status, 2, "a device this machine cannot use is a usage error, as an unknown one")
        XCTAssertTrue(r.stderr.contains("device 'cuda' is not usable here") && r.stderr.contains("--device cpu"), r.stderr)
    }
}
