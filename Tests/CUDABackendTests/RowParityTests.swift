import Engine
import CUDABackend
import TestSupport
import XCTest

/// Softmax, log-softmax, cross-entropy, max, concat and slice on the device against the CPU,
/// forward and pullback: ≤ 1e-5 for copies and element-wise results, ≤ 1e-4 for row reductions.
final class RowParityTests: XCTestCase {
    /// Values below `floor` in magnitude are compared with the absolute error tolerance·floor (a
    /// pullback such as g − p·Σg cancels to ~0, where only the summation order differs).
    private func check(_ name: String, _ inputs: [Tensor], tolerance: Float, floor: Float = 1e-2, _ f: ([Tensor]) -> Tensor,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        try assertForwardAndPullbackMatch(name, inputs, tolerance: tolerance, floor: floor, seed: 77, file: file, line: line, f)
    }

    func testSoftmaxAndLogSoftmaxMatchTheCPU() throws {
        var random = TestRandom(seed: 20)
        for shape in [[1, 1], [5, 10], [3, 4, 257], [64, 100]] {
            try check("softmax \(shape)", [random.tensor(shape, -6, 6)], tolerance: 1e-4) { $0[0].softmax() }
            try check("logSoftmax \(shape)", [random.tensor(shape, -6, 6)], tolerance: 1e-4) { $0[0].logSoftmax() }
        }
    }

    func testCrossEntropyWithAndWithoutClassWeightsMatchesTheCPU() throws {
        let device = try DeviceUnderTest.backend()
        var random = TestRandom(seed: 21)
        let labels = Tensor(int32: [3, 0, 9, 9, 2, 5, 1], shape: [7])
        let weights = random.tensor([10], 0.2, 2)
        for classWeights in [nil, weights] {
            try check("crossEntropy weighted \(classWeights != nil)", [random.tensor([7, 10], -3, 3)], tolerance: 1e-4) {
                Tensor.crossEntropy(logits: $0[0], labels: labels, classWeights: $0[0].storage.isHost ? classWeights : classWeights?.moved(to: device))
            }
        }
    }

    func testMaxConcatAndSliceMatchTheCPU() throws {
        var random = TestRandom(seed: 22)
        let x = random.tensor([4, 9, 5])
        for axis in 0..<3 {
            try check("max axis \(axis)", [x], tolerance: 0) { $0[0].max(axis: axis) }
            try check("slice axis \(axis)", [x], tolerance: 0) { $0[0].sliced(axis: axis, 1..<3) }
        }
        try check("concat axis 1", [random.tensor([3, 2, 5]), random.tensor([3, 7, 5])], tolerance: 0) { Tensor.concat($0, axis: 1) }
        try check("concat axis 0", [random.tensor([2, 4]), random.tensor([5, 4])], tolerance: 0) { Tensor.concat($0, axis: 0) }
        let device = try DeviceUnderTest.backend()
        let ints = Tensor(int32: [1, 2, 3, 4, 5, 6], shape: [3, 2])
        XCTAssertEqual(Tensor.concat([ints.moved(to: device), ints.moved(to: device)], axis: 1).int32Scalars,
                       Tensor.concat([ints, ints], axis: 1).int32Scalars, "int32 concat")
    }
}
