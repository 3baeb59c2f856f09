import Foundation
import XCTest
@testable import Engine

/// The ResNet-32 checkpoint written by PyTorch (scripts/goldens/resnet32_golden.py) read here and
/// written back in a form PyTorch reads.
final class IOCheckpointTests: XCTestCase {
    func testReadsReferenceStateDict() throws {
        let f = try SafeTensors.read(contentsOf: Fixture.url("resnet32_golden_weights.safetensors"))
        XCTAssertEqual(f.metadata["format"], "pt")
        // 1 stem conv + 30 block convs; 31 BatchNorms with 5 entries each; encoder.linear; the head.
        XCTAssertEqual(f.tensors.count, 31 + 31 * 5 + 2 + 4)
        let expected: [(String, DType, [Int])] = [
            ("encoder.conv1.weight", .float32, [16, 3, 3, 3]),
            ("encoder.bn1.running_var", .float32, [16]),
            ("encoder.layer1.0.bn1.running_mean", .float32, [16]),
            ("encoder.layer1.0.bn1.num_batches_tracked", .int64, []),
            ("encoder.layer2.0.conv1.weight", .float32, [32, 16, 3, 3]),
            ("encoder.layer3.4.conv2.weight", .float32, [64, 64, 3, 3]),
            ("encoder.linear.weight", .float32, [10, 64]),
            ("head.0.weight", .float32, [64, 64]),
            ("head.0.bias", .float32, [64]),
            ("head.2.weight", .float32, [128, 64]),
            ("head.2.bias", .float32, [128]),
        ]
        for (name, dtype, shape) in expected {
            let a = try f.array(named: name)
            XCTAssertEqual(a.dtype, dtype, name)
            XCTAssertEqual(a.shape, shape, name)
        }
        XCTAssertEqual(try f.array(named: "encoder.layer1.0.bn1.num_batches_tracked").int64s(), [0])
        XCTAssertEqual(try f.array(named: "encoder.bn1.running_var").floats(), [Float](repeating: 1, count: 16))
        // Kaiming normal (fan-in 27) for the stem: standard deviation sqrt(2/27) ≈ 0.27.
        let w = try f.array(named: "encoder.conv1.weight").floats()
        let std = (w.map { $0 * $0 }.reduce(0, +) / Float(w.count)).squareRoot()
        XCTAssertEqual(std, (2.0 / 27.0).squareRoot(), accuracy: 0.05)
    }

    func testRewriteKeepsEveryTensorAndTheDataBytes() throws {
        let url = try Fixture.url("resnet32_golden_weights.safetensors")
        let original = [UInt8](try Data(contentsOf: url))
        let f = try SafeTensors.read(contentsOf: url)
        let rewritten = try SafeTensors.encode(f.tensors, metadata: f.metadata)
        XCTAssertEqual(try SafeTensors.decode(rewritten, path: "rewritten"), f)
        // Same data section, byte for byte (only the header's metadata order may differ).
        func dataSection(_ b: [UInt8]) -> ArraySlice<UInt8> {
            let n = (0..<8).reduce(0) { $0 | Int(b[$1]) << (8 * $1) }
            return b[(8 + n)...]
        }
        XCTAssertEqual(dataSection(rewritten), dataSection(original))
    }

    /// The golden forward/backward file is self-consistent: what the engine's model tests rely on.
    func testResNetGoldenOutputsAreConsistent() throws {
        let g = try SafeTensors.read(contentsOf: Fixture.url("resnet32_golden.safetensors"))
        XCTAssertEqual(try g.array(named: "input").shape, [4, 3, 32, 32])
        XCTAssertEqual(try g.array(named: "features").shape, [4, 64])
        let projection = try g.array(named: "projection")
        XCTAssertEqual(projection.shape, [4, 128])
        let p = projection.floats(), r = try g.array(named: "R").floats()
        for row in 0..<4 {
            let norm = (0..<128).reduce(Float(0)) { $0 + p[row * 128 + $1] * p[row * 128 + $1] }
            XCTAssertEqual(norm, 1, accuracy: 1e-5)
        }
        let loss = zip(p, r).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        XCTAssertEqual(loss, try g.array(named: "loss").doubles()[0], accuracy: 1e-5)
        XCTAssertEqual(try g.array(named: "grad.input").shape, [4, 3, 32, 32])
        XCTAssertEqual(try g.array(named: "after.encoder.layer3.4.bn2.num_batches_tracked").int64s(), [1])
        // One train-mode step of momentum 0.1 from mean 0: running_mean = 0.1 · batch mean.
        XCTAssertTrue(try g.array(named: "after.encoder.bn1.running_mean").floats().contains { $0 != 0 })
        XCTAssertEqual(try g.array(named: "eval.projection").shape, [4, 128])
        let grads = try SafeTensors.read(contentsOf: Fixture.url("resnet32_golden_grads.safetensors"))
        let weights = try SafeTensors.read(contentsOf: Fixture.url("resnet32_golden_weights.safetensors"))
        for (name, array) in grads.tensors {
            XCTAssertTrue(name.hasPrefix("grad."), name)
            XCTAssertEqual(array.shape, try weights.array(named: String(name.dropFirst(5))).shape, name)
        }
        XCTAssertEqual(grads.tensors.count, 31 + 31 * 2 + 4)
    }

    /// Writes files for `scripts/goldens/check_swift_written.py`, which loads them into PyTorch and
    /// numpy. Runs only when SBCL_EXPORT_DIR names a folder.
    func testExportForPyTorchCheck() throws {
        guard let dir = ProcessInfo.processInfo.environment["SBCL_EXPORT_DIR"] else {
            throw XCTSkip("set SBCL_EXPORT_DIR to write files for scripts/goldens/check_swift_written.py")
        }
        let base = URL(fileURLWithPath: dir)
        let f = try SafeTensors.read(contentsOf: Fixture.url("resnet32_golden_weights.safetensors"))
        try SafeTensors.write(f.tensors, metadata: ["written_by": "sbcl"], to: base.appendingPathComponent("checkpoint.safetensors"))
        let x = try SafeTensors.read(contentsOf: Fixture.url("resnet32_golden.safetensors")).array(named: "input")
        try NPY.write(x, to: base.appendingPathComponent("input.npy"))
        try NPY.write(HostArray(int64s: [1, -2, 3, 4, 5, 6], shape: [2, 3]), to: base.appendingPathComponent("ints.npy"))
    }
}
