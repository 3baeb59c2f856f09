import Foundation
import XCTest
@testable import Engine

/// `TorchCheckpoint` against files `torch.save` wrote (`scripts/goldens/torch_checkpoints.py`,
/// torch 2.x): every tensor as PyTorch read it back, the authors' checkpoint forms, and hostile
/// or damaged files, which must give one sentence naming the file, never a crash.
final class TorchCheckpointTests: XCTestCase {
    private struct Expected: Decodable {
        struct Tensor: Decodable { var dtype: String; var shape: [Int]; var values: [Double] }
        var torch_version: String
        var files: [String: [String: Tensor]]
    }

    private func expected() throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: Data(contentsOf: Fixture.url("torch/expected.json")))
    }

    /// The state dict inside what a fixture holds (the whole object, or its `state_dict`).
    private func rawStateDict(_ name: String) throws -> [(name: String, array: HostArray)] {
        let root = try TorchCheckpoint.read(contentsOf: Fixture.url("torch/" + name))
        return try XCTUnwrap(root.stateDict ?? root["state_dict"]?.stateDict, "\(name): \(root.summary)")
    }

    func testEveryTensorOfEveryFixtureIsWhatPyTorchReadBack() throws {
        let golden = try expected()
        XCTAssertEqual(golden.files.count, 5)
        for (file, tensors) in golden.files {
            let read = try rawStateDict(file)
            XCTAssertEqual(Set(read.map(\.name)), Set(tensors.keys), file)
            for (name, array) in read {
                let want = try XCTUnwrap(tensors[name], "\(file): \(name)")
                XCTAssertEqual(array.dtype.rawValue, want.dtype, "\(file): \(name)")
                XCTAssertEqual(array.shape, want.shape, "\(file): \(name)")
                let values = array.dtype.isFloatingPoint ? array.doubles() : try array.int64s().map(Double.init)
                XCTAssertEqual(values, want.values, "\(file): \(name) (torch \(golden.torch_version))")
            }
        }
    }

    func testHalfBFloat16AndDoubleBecomeFloat32AndIntegersKeepTheirType() throws {
        let read = Dictionary(uniqueKeysWithValues: try rawStateDict("state_dict.pth").map { ($0.name, $0.array) })
        for name in ["f16", "bf16", "f64", "transposed", "view_a", "parameter"] { XCTAssertEqual(read[name]?.dtype, .float32, name) }
        XCTAssertEqual(read["i64_scalar"]?.dtype, .int64)
        XCTAssertEqual(read["i64_scalar"]?.shape, [])
        XCTAssertEqual(try read["i64_scalar"]?.int64s(), [7])
        XCTAssertEqual(read["i32"]?.dtype, .int32)
        XCTAssertEqual(read["bool"]?.dtype, .bool)
        XCTAssertEqual(read["empty"]?.shape, [0, 3])
    }

    func testTheAuthorsCheckpointFormsLoseTheirWrappers() throws {
        let simclr = try WeightsFile.load(contentsOf: Fixture.url("torch/simclr_dataparallel.pth"))
        XCTAssertEqual(simclr.arrays.names.first, "encoder.conv1.weight")
        XCTAssert(simclr.description.contains("'module.' prefix removed"), simclr.description)
        XCTAssertNil(try simclr.mocoEncoder(preferred: nil))

        let moco = try WeightsFile.load(contentsOf: Fixture.url("torch/moco_checkpoint.pth.tar"))
        XCTAssert(moco.description.contains("'state_dict' (epoch 200, arch resnet50)"), moco.description)
        XCTAssertEqual(try moco.arrays.array(named: "queue_ptr").int64s(), [4])
        XCTAssertEqual(moco.arrays["queue"]?.shape, [4, 8])
        XCTAssertEqual(try moco.mocoEncoder(preferred: nil)?.prefix, "encoder_k.")
        XCTAssertEqual(try moco.mocoEncoder(preferred: "query")?.prefix, "encoder_q.")
        // The optimizer's state (momentum buffers keyed by integers) is read, not refused.
        let root = try TorchCheckpoint.read(contentsOf: Fixture.url("torch/moco_checkpoint.pth.tar"))
        guard case let .list(groups)? = root["optimizer"]?["param_groups"], case let .dict(state)? = root["optimizer"]?["state"] else {
            return XCTFail("optimizer: \(root["optimizer"]?.summary ?? "missing")")
        }
        XCTAssertEqual(groups.count, 1)
        XCTAssertEqual(state.count, 2)
        if case let .float(lr)? = groups.first?["lr"] { XCTAssertEqual(lr, 0.03) } else { XCTFail("lr") }

        let linear = try WeightsFile.load(contentsOf: Fixture.url("torch/linear_checkpoint.pth.tar"))
        XCTAssertEqual(linear.arrays.names, ["conv1.weight", "bn1.running_var", "fc.weight", "fc.bias"])
    }

    func testAMoCoCheckpointWithOneEncoderUsesItAndSaysSo() throws {
        let folder = try Fixture.temporaryDirectory(for: self)
        let url = folder.appendingPathComponent("query_only.pth")
        let conv = HostArray(floats: [1, 2, 3, 4], shape: [2, 2, 1, 1])
        try TorchCheckpoint.write(.dict([(.string("epoch"), .int(3)),
                                         (.string("state_dict"), .dict([(.string("module.encoder_q.conv1.weight"), .tensor(conv))]))]), to: url)
        let weights = try WeightsFile.load(contentsOf: url)
        let choice = try XCTUnwrap(weights.mocoEncoder(preferred: nil))
        XCTAssertEqual(choice.prefix, "encoder_q.")
        XCTAssert(choice.note.contains("one encoder: the query encoder"), choice.note)
        XCTAssertThrowsError(try weights.mocoEncoder(preferred: "key")) { error in
            XCTAssert("\(error)".contains("holds only the query encoder"), "\(error)")
        }
    }

    func testOurWriterRoundTripsEveryKindOfValue() throws {
        let folder = try Fixture.temporaryDirectory(for: self)
        let url = folder.appendingPathComponent("written.pth")
        let a = HostArray(floats: [0.5, -1, 3e-8, 7], shape: [2, 2]), n = HostArray(int64s: [-5], shape: [1])
        try TorchCheckpoint.write(.dict([(.string("epoch"), .int(-70000)), (.string("big"), .int(1 << 40)), (.string("lr"), .float(0.125)),
                                         (.string("arch"), .string("résnet")), (.string("flags"), .list([.bool(true), .none, .tuple([.int(1)])])),
                                         (.string("state_dict"), .dict([(.string("w"), .tensor(a)), (.string("n"), .tensor(n))]))]), to: url)
        let root = try TorchCheckpoint.read(contentsOf: url)
        XCTAssertEqual(root.stringKeys, ["epoch", "big", "lr", "arch", "flags", "state_dict"])
        if case .int(-70000)? = root["epoch"] {} else { XCTFail("epoch \(root["epoch"]?.summary ?? "")") }
        if case .int(1 << 40)? = root["big"] {} else { XCTFail("big") }
        if case .string("résnet")? = root["arch"] {} else { XCTFail("arch") }
        let state = try XCTUnwrap(root["state_dict"]?.stateDict)
        XCTAssertEqual(state.map(\.name), ["w", "n"])
        XCTAssertEqual(state[0].array, a)
        XCTAssertEqual(state[1].array, n)
    }

    /// Writes a checkpoint for `scripts/goldens/torch_checkpoints.py --check-written DIR`, which
    /// loads it with `torch.load(weights_only=True)`.
    func testWriteForPyTorchCheck() throws {
        guard let dir = ProcessInfo.processInfo.environment["SBCL_EXPORT_DIR"] else {
            throw XCTSkip("set SBCL_EXPORT_DIR to write a file for scripts/goldens/torch_checkpoints.py --check-written")
        }
        let w = HostArray(floats: (0..<24).map { Float($0) * 0.25 - 3 }, shape: [2, 3, 2, 2])
        try TorchCheckpoint.write(.dict([(.string("epoch"), .int(7)), (.string("arch"), .string("resnet18")), (.string("lr"), .float(0.03)),
                                         (.string("state_dict"), .dict([(.string("module.conv1.weight"), .tensor(w)),
                                                                        (.string("module.bn1.num_batches_tracked"), .tensor(HostArray(int64s: [12], shape: [])))]))]),
                                  to: URL(fileURLWithPath: dir).appendingPathComponent("swift_written.pth.tar"))
    }

    // MARK: Hostile and damaged files

    func testAPickleCallingPosixSystemIsRefusedNamingTheGlobal() throws {
        let url = try Fixture.url("torch/hostile_system.pth")
        assertTensorFileError(try TorchCheckpoint.read(contentsOf: url), kind: .unsupported, path: url.path,
                              mentions: "the global posix.system, which this reader refuses")
        assertTensorFileError(try WeightsFile.load(contentsOf: url), kind: .unsupported, path: url.path, mentions: "posix.system")
    }

    private func unpickle(_ bytes: [UInt8]) throws -> Unpickler.Value {
        var unpickler = Unpickler(bytes[...], path: "/tmp/x.pth", what: "archive/data.pkl") { _ in
            throw TensorFileError(path: "/tmp/x.pth", kind: .inconsistent, message: "no storages here")
        }
        return try unpickler.load()
    }

    func testDeepNestingIsBoundedNotACrash() {
        let depth = 200_000
        let lists: [UInt8] = [0x80, 0x02] + [UInt8](repeating: 0x5d, count: depth) + [UInt8](repeating: 0x61, count: depth - 1) + [0x2e]
        assertTensorFileError(try unpickle(lists), kind: .inconsistent, path: "/tmp/x.pth", mentions: "nest more than 100 deep")
        let tuples: [UInt8] = [0x80, 0x02, 0x29] + [UInt8](repeating: 0x85, count: depth) + [0x2e]
        assertTensorFileError(try unpickle(tuples), kind: .inconsistent, path: "/tmp/x.pth", mentions: "nest more than 100 deep")
        let dicts: [UInt8] = [0x80, 0x02] + [UInt8](repeating: 0x7d, count: depth) + Array(repeating: [0x4b, 0x01, 0x73], count: depth).flatMap { $0 } + [0x2e]
        XCTAssertThrowsError(try unpickle(dicts))
    }

    func testARecursiveListIsRefused() {
        // EMPTY_LIST, BINPUT 0, BINGET 0, APPEND, STOP: a list that contains itself.
        assertTensorFileError(try unpickle([0x80, 0x02, 0x5d, 0x71, 0x00, 0x68, 0x00, 0x61, 0x2e]), kind: .inconsistent,
                              path: "/tmp/x.pth", mentions: "recursive structure")
    }

    func testHugeDeclaredSizesAreRefused() {
        // BINUNICODE8 of 2^62 bytes; BINBYTES of 4 GiB − 1; LONG4 of 2^31 − 1 bytes.
        let huge: [[UInt8]] = [[0x80, 0x02, 0x8d, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x2e],
                               [0x80, 0x02, 0x42, 0xff, 0xff, 0xff, 0xff, 0x2e],
                               [0x80, 0x02, 0x8b, 0xff, 0xff, 0xff, 0x7f, 0x2e]]
        for bytes in huge {
            assertTensorFileError(try unpickle(bytes), kind: .truncated, path: "/tmp/x.pth", mentions: "remain")
        }
        let storage = Unpickler.Storage(key: "0", dtype: .float32, count: Int.max / 2)
        let view = Unpickler.TensorView(storage: storage, offset: 0, shape: [Int.max / 2], stride: [1])
        assertTensorFileError(try TorchCheckpoint.tensor(view, bytes: [0, 0, 0, 0][...], path: "/tmp/x.pth"), kind: .truncated,
                              path: "/tmp/x.pth", mentions: "declares")
    }

    func testATensorOutsideItsStorageIsRefused() {
        let storage = Unpickler.Storage(key: "3", dtype: .float32, count: 4)
        let bytes = [UInt8](repeating: 0, count: 16)[...]
        let cases: [(Unpickler.TensorView, String)] = [
            (.init(storage: storage, offset: 4, shape: [1], stride: [1]), "past the storage's 4"),
            (.init(storage: storage, offset: 1, shape: [2, 2], stride: [2, 1]), "past the storage's 4"),
            (.init(storage: storage, offset: 0, shape: [3, 3], stride: [0, 1]), "an expanded view"),
            (.init(storage: storage, offset: -1, shape: [1], stride: [1]), "malformed"),
            (.init(storage: storage, offset: 0, shape: [2, 2], stride: [Int.max, 1]), "overflows"),
        ]
        for (view, fragment) in cases {
            assertTensorFileError(try TorchCheckpoint.tensor(view, bytes: bytes, path: "/tmp/x.pth"), kind: fragment == "an expanded view" ? .unsupported : .inconsistent,
                                  path: "/tmp/x.pth", mentions: fragment)
        }
    }

    func testEveryTruncationOfACheckpointIsOneErrorNamingTheFile() throws {
        for name in ["state_dict.pth", "state_dict_legacy.pth", "moco_checkpoint.pth.tar"] {
            let bytes = [UInt8](try Data(contentsOf: Fixture.url("torch/" + name)))
            for length in stride(from: 0, to: bytes.count, by: 13) {
                XCTAssertThrowsError(try TorchCheckpoint.decode(Array(bytes.prefix(length)), path: "/tmp/cut.pth"), "\(name) cut at \(length)") { error in
                    XCTAssert(error is TensorFileError && "\(error)".hasPrefix("/tmp/cut.pth: "), "\(name) cut at \(length): \(error)")
                }
            }
        }
    }

    func testDamagedBytesAnywhereGiveAnErrorOrAValueNeverACrash() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(truncatingIfNeeded: state >> 33)
        }
        var refused = 0, read = 0
        for name in ["state_dict.pth", "state_dict_legacy.pth", "moco_checkpoint.pth.tar", "linear_checkpoint.pth.tar"] {
            let original = [UInt8](try Data(contentsOf: Fixture.url("torch/" + name)))
            for _ in 0..<400 {
                var bytes = original
                for _ in 0..<(1 + next() % 3) { bytes[next() % bytes.count] = UInt8(truncatingIfNeeded: next()) }
                do { _ = try TorchCheckpoint.decode(bytes, path: "/tmp/damaged.pth"); read += 1 } catch let error as TensorFileError {
                    XCTAssert(error.description.hasPrefix("/tmp/damaged.pth: "), "\(error)")
                    refused += 1
                }
            }
        }
        XCTAssertEqual(refused + read, 1600)
        XCTAssertGreaterThan(refused, 100, "damage in the pickle or the zip records must be noticed")
    }

    func testACompressedEntryIsRefusedInOneSentence() throws {
        var bytes = [UInt8](try Data(contentsOf: Fixture.url("torch/state_dict.pth")))
        // Mark every central-directory entry as deflated (method 8), as a re-zipping tool would.
        var k = 0
        while k + 46 <= bytes.count {
            if bytes[k] == 0x50, bytes[k + 1] == 0x4b, bytes[k + 2] == 0x01, bytes[k + 3] == 0x02 { bytes[k + 10] = 8 }
            k += 1
        }
        assertTensorFileError(try TorchCheckpoint.decode(bytes, path: "/tmp/zipped.pth"), kind: .unsupported, path: "/tmp/zipped.pth",
                              mentions: "is compressed (ZIP method 8); only stored entries are read")
    }

    func testAFileThatIsNeitherIsRefusedInOneSentence() throws {
        let folder = try Fixture.temporaryDirectory(for: self)
        let url = folder.appendingPathComponent("notes.pth")
        try Data("hello".utf8).write(to: url)
        assertTensorFileError(try TorchCheckpoint.read(contentsOf: url), kind: .malformedHeader, path: url.path, mentions: "not a PyTorch checkpoint")
    }
}
