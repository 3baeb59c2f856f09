import Foundation
import XCTest
@testable import Engine

/// Weights a user gives (safetensors or a PyTorch checkpoint) holding NaN or ±∞ are refused,
/// naming the file and the tensor, before any model is touched.
final class WeightsValueTests: XCTestCase {
    private var folder: URL!
    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("sbcl-weights-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    private func tensors(bad value: Float?) -> [(name: String, array: HostArray)] {
        var bias: [Float] = [0.5, -1, 2, 3]
        if let value { bias[2] = value }
        return [(name: "encoder.conv1.weight", array: HostArray(floats: [Float](repeating: 0.25, count: 12), shape: [2, 2, 3])),
                (name: "encoder.bn1.bias", array: HostArray(floats: bias, shape: [4])),
                (name: "encoder.bn1.num_batches_tracked", array: HostArray(int64s: [7], shape: [1]))]
    }

    func testNaNAndInfinityAreNamedWithFileAndTensorInSafetensorsAndTorchFiles() throws {
        for value: Float in [.nan, .infinity, -.infinity] {
            for format in ["safetensors", "pth"] {
                let url = folder.appendingPathComponent("w-\(value)-.\(format)")
                if format == "pth" {
                    try TorchCheckpoint.write(stateDict: tensors(bad: value), to: url)
                } else {
                    try SafeTensors.write(tensors(bad: value), to: url)
                }
                XCTAssertThrowsError(try WeightsFile.load(contentsOf: url), "\(value) \(format)") { error in
                    let text = "\(error)"
                    XCTAssertTrue(text.hasPrefix(url.path + ": tensor 'encoder.bn1.bias': 1 of the 4 values are NaN or infinite"), text)
                    XCTAssertTrue(text.contains("at index [2]"), text)
                }
            }
        }
    }

    func testFiniteWeightsLoadWhateverTheirSize() throws {
        let url = folder.appendingPathComponent("good.safetensors")
        var good = tensors(bad: Float.greatestFiniteMagnitude)
        good.append((name: "extra.huge", array: HostArray(floats: [1e38, -1e38], shape: [2])))
        try SafeTensors.write(good, to: url)
        XCTAssertEqual(try WeightsFile.load(contentsOf: url).arrays.tensors.count, 4)
    }

    func testAZeroSizedArrayIsRefused() {
        XCTAssertThrowsError(try HostArray(floats: [], shape: [3, 0]).checkNonEmpty(path: "x.npy")) { error in
            XCTAssertTrue("\(error)".contains("has size 0 along axis 1"), "\(error)")
        }
    }
}
