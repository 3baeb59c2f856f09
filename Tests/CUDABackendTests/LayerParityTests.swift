import Engine
import CUDABackend
import TestSupport
import XCTest

/// The network layers' kernels against the CPU backend, forward and pullback, on odd sizes,
/// strides and paddings: ≤ 1e-4 relative for convolutions and the reductions inside batch norm.
final class LayerParityTests: XCTestCase {
    /// Runs `f` on CPU copies and device copies of `inputs`, and compares the outputs and the
    /// gradients of Σ f(inputs) ⊙ R (R random, so every output element counts).
    private func checkForwardAndPullback(_ name: String, _ inputs: [Tensor], tolerance: Float, floor: Float = 1e-3,
                                         on backend: CUDABackend? = nil, file: StaticString = #filePath, line: UInt = #line,
                                         _ f: ([Tensor]) -> Tensor) throws {
        try assertForwardAndPullbackMatch(name, inputs, tolerance: tolerance, floor: floor, seed: 99, on: backend, file: file,
                                          line: line, f)
    }

    /// Through cuDNN where it loads (the default path): every geometry must get a cuDNN algorithm
    /// with float32 (FMA) math, not fall back.
    func testConvolutionsMatchTheCPU() throws {
        let device = try DeviceUnderTest.backend()
        try checkConvolutions(on: device, label: device.cudnnVersion == nil ? "im2col" : "cuDNN")
        guard device.cudnnVersion != nil else { return }
        let choices = device.convolutionChoices
        for choice in choices { print("cuDNN choice \(choice)") }
        XCTAssertFalse(choices.isEmpty, "cuDNN is loaded but no convolution went through it")
        XCTAssertFalse(choices.contains { $0.contains("im2col") }, "a geometry fell back to im2col: \(choices)")
        XCTAssertTrue(choices.allSatisfy { $0.contains("math 3") }, "float32 must use FMA math only: \(choices)")
    }

    /// The im2col + cuBLAS path (where cuDNN is absent or refuses a geometry), on a second backend.
    func testIm2colConvolutionsMatchTheCPU() throws {
        let device = try DeviceUnderTest.backend()
        let im2col = try CUDABackend(device: device.cudaDevice, configuration: CUDATestLibraries.configuration,
                                     convolutionPath: .im2col)
        XCTAssertTrue(im2col.convolutionChoices.isEmpty)
        try checkConvolutions(on: im2col, label: "im2col")
        XCTAssertTrue(im2col.convolutionChoices.isEmpty, "the im2col backend went through cuDNN")
    }

    private func checkConvolutions(on backend: CUDABackend, label: String) throws {
        var random = TestRandom(seed: 10)
        // (batch, height, width, in, out, kernel, stride, padding): odd sizes, strides 1 and 2, 1×1 and 3×3.
        let cases = [(2, 7, 5, 3, 5, 3, 1, 1), (3, 9, 9, 4, 6, 3, 2, 1), (1, 8, 6, 16, 16, 3, 1, 1), (2, 5, 7, 3, 2, 1, 2, 0),
                     (2, 6, 6, 2, 3, 3, 2, 0)]
        for (n, h, w, cin, cout, k, s, p) in cases {
            let x = random.tensor([n, h, w, cin]), weight = random.tensor([cout, cin, k, k])
            try checkForwardAndPullback("conv2d \(label) \([n, h, w, cin])·\([cout, cin, k, k]) s\(s) p\(p)", [x, weight],
                                        tolerance: 1e-4, floor: 0.1, on: backend) { Tensor.conv2d($0[0], weight: $0[1], stride: s, padding: p) }
        }
    }

    func testBatchNormMatchesTheCPUInTrainingAndEvaluation() throws {
        let device = try DeviceUnderTest.backend()
        var random = TestRandom(seed: 11)
        // The last two split into several slices of rows, and have more channels than a work-group's
        // items (the two paths of sbcl_bn_partial_sums).
        for (shape, relu) in [([3, 5, 7, 6], true), ([2, 4, 4, 5], false), ([7, 3, 1, 16], true), ([32, 16, 16, 32], true),
                              ([9, 5, 5, 300], false)] {
            let c = shape[3]
            let x = random.tensor(shape, -2, 3), gamma = random.tensor([c], 0.5, 1.5), beta = random.tensor([c], -0.2, 0.2)
            let cpuStatistics = BatchNormStatistics(channels: c), deviceStatistics = BatchNormStatistics(channels: c)
            deviceStatistics.runningMean = deviceStatistics.runningMean.moved(to: device)
            deviceStatistics.runningVariance = deviceStatistics.runningVariance.moved(to: device)
            try checkForwardAndPullback("batchNorm2d training \(shape) relu \(relu)", [x, gamma, beta], tolerance: 1e-4, floor: 0.1) {
                Tensor.batchNorm2d($0[0], gamma: $0[1], beta: $0[2], statistics: $0[0].storage.isHost ? cpuStatistics : deviceStatistics,
                                   training: true, relu: relu)
            }
            // One training pass on each side: the running statistics it updated.
            assertMatches(deviceStatistics.runningMean, cpuStatistics.runningMean, tolerance: 1e-4, floor: 0.1, "running mean \(shape)")
            assertMatches(deviceStatistics.runningVariance, cpuStatistics.runningVariance, tolerance: 1e-4, "running variance \(shape)")
            XCTAssertEqual(deviceStatistics.batchesTracked, cpuStatistics.batchesTracked)
            try checkForwardAndPullback("batchNorm2d evaluation \(shape) relu \(relu)", [x, gamma, beta], tolerance: 1e-4, floor: 0.1) {
                Tensor.batchNorm2d($0[0], gamma: $0[1], beta: $0[2], statistics: $0[0].storage.isHost ? cpuStatistics : deviceStatistics,
                                   training: false, relu: relu)
            }
        }
    }

    func testShortcutPoolingResidualAndLayoutOpsMatchTheCPU() throws {
        var random = TestRandom(seed: 12)
        for shape in [[2, 7, 5, 3], [3, 8, 8, 16]] {
            try checkForwardAndPullback("shortcutA \(shape)", [random.tensor(shape)], tolerance: 0) { $0[0].shortcutA(padChannels: 2) }
            try checkForwardAndPullback("globalAvgPool \(shape)", [random.tensor(shape)], tolerance: 1e-4) { $0[0].globalAveragePooled() }
            try checkForwardAndPullback("addReLU \(shape)", [random.tensor(shape), random.tensor(shape)], tolerance: 1e-5) {
                Tensor.addReLU($0[0], $0[1])
            }
            try checkForwardAndPullback("nchwToNHWC \(shape)", [random.tensor(shape)], tolerance: 0) { $0[0].nchwToNHWC() }
        }
        try checkForwardAndPullback("transposed", [random.tensor([7, 13])], tolerance: 0) { $0[0].transposed() }
        try checkForwardAndPullback("l2Normalized", [random.tensor([9, 130])], tolerance: 1e-4) { $0[0].l2Normalized() }
    }

    func testMaxPoolingMatchesTheCPU() throws {
        var random = TestRandom(seed: 14)
        // (shape, kernel, stride, padding): the ResNet stem's 3/2/1 on odd and even sizes, and non-overlapping windows.
        for (shape, k, s, p) in [([2, 9, 7, 5], 3, 2, 1), ([1, 8, 8, 16], 3, 2, 1), ([3, 6, 5, 3], 2, 2, 0), ([2, 5, 5, 4], 3, 1, 1)] {
            try checkForwardAndPullback("maxPool2d \(shape) k\(k) s\(s) p\(p)", [random.tensor(shape)], tolerance: 0) {
                $0[0].maxPooled(kernelSize: k, stride: s, padding: p)
            }
        }
    }

    func testSGDWithMomentumAndWeightDecayMatchesTheCPU() throws {
        let device = try DeviceUnderTest.backend()
        var random = TestRandom(seed: 13)
        let start = random.tensor([37, 3]), gradients = (0..<3).map { _ in random.tensor([37, 3]) }
        for nesterov in [false, true] {
            let cpu = Parameter(start), gpu = Parameter(start.moved(to: device))
            let options = (rate: Float(0.1), momentum: Float(0.9), decay: Float(5e-4))
            let cpuSGD = SGD(parameters: [("w", cpu)], learningRate: options.rate, momentum: options.momentum,
                             weightDecay: options.decay, nesterov: nesterov)
            let gpuSGD = SGD(parameters: [("w", gpu)], learningRate: options.rate, momentum: options.momentum,
                             weightDecay: options.decay, nesterov: nesterov)
            for g in gradients {
                // The gradient of Σ w ⊙ g with respect to w is g.
                let cl = (cpu.value * g).sum(), gl = (gpu.value * g.moved(to: device)).sum()
                cpuSGD.step(cl.gradients())
                gpuSGD.step(gl.gradients())
            }
            assertMatches(gpu.value, cpu.value, tolerance: 1e-5, "SGD nesterov \(nesterov) after 3 steps")
            gpuSGD.downloadMomentumBuffers()
            XCTAssertEqual(maxRelativeError(gpuSGD.momentumBuffers["w"]!, cpuSGD.momentumBuffers["w"]!), 0, accuracy: 1e-5)
        }
    }
}
