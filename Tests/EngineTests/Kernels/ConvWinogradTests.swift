import Foundation
import XCTest
@testable import Engine

/// Winograd F(2×2, 3×3) and the kernel sets: every tile set this CPU has, against a Float64
/// convolution; the sets it lacks are skipped tests that say so.
final class ConvWinogradTests: XCTestCase {
    /// Every 3×3 stride-1 shape of ResNet-32 on CIFAR (32/16/8) and Fashion-MNIST (28/14/7) and of
    /// ResNet-50 on 224-pixel images (56/28/14/7), then odd sizes and paddings 0 and 2.
    static let shapes: [Conv2DGeometry] = [
        Conv2DGeometry(batch: 2, inputHeight: 32, inputWidth: 32, inputChannels: 16, outputChannels: 16, kernelSize: 3, stride: 1, padding: 1),
        Conv2DGeometry(batch: 2, inputHeight: 16, inputWidth: 16, inputChannels: 32, outputChannels: 32, kernelSize: 3, stride: 1, padding: 1),
        Conv2DGeometry(batch: 3, inputHeight: 8, inputWidth: 8, inputChannels: 64, outputChannels: 64, kernelSize: 3, stride: 1, padding: 1),
        Conv2DGeometry(batch: 2, inputHeight: 28, inputWidth: 28, inputChannels: 16, outputChannels: 16, kernelSize: 3, stride: 1, padding: 1),
        Conv2DGeometry(batch: 2, inputHeight: 14, inputWidth: 14, inputChannels: 32, outputChannels: 32, kernelSize: 3, stride: 1, padding: 1),
        Conv2DGeometry(batch: 3, inputHeight: 7, inputWidth: 7, inputChannels: 64, outputChannels: 64, kernelSize: 3, stride: 1, padding: 1),
        Conv2DGeometry(batch: 1, inputHeight: 56, inputWidth: 56, inputChannels: 64, outputChannels: 64, kernelSize: 3, stride: 1, padding: 1),
        Conv2DGeometry(batch: 1, inputHeight: 28, inputWidth: 28, inputChannels: 128, outputChannels: 128, kernelSize: 3, stride: 1, padding: 1),
        Conv2DGeometry(batch: 1, inputHeight: 14, inputWidth: 14, inputChannels: 256, outputChannels: 256, kernelSize: 3, stride: 1, padding: 1),
        Conv2DGeometry(batch: 1, inputHeight: 7, inputWidth: 7, inputChannels: 512, outputChannels: 512, kernelSize: 3, stride: 1, padding: 1),
        Conv2DGeometry(batch: 3, inputHeight: 5, inputWidth: 7, inputChannels: 24, outputChannels: 40, kernelSize: 3, stride: 1, padding: 1),
        Conv2DGeometry(batch: 2, inputHeight: 3, inputWidth: 3, inputChannels: 17, outputChannels: 33, kernelSize: 3, stride: 1, padding: 0),
        Conv2DGeometry(batch: 2, inputHeight: 6, inputWidth: 5, inputChannels: 20, outputChannels: 18, kernelSize: 3, stride: 1, padding: 2),
        Conv2DGeometry(batch: 2, inputHeight: 1, inputWidth: 1, inputChannels: 16, outputChannels: 16, kernelSize: 3, stride: 1, padding: 1),
        Conv2DGeometry(batch: 13, inputHeight: 9, inputWidth: 6, inputChannels: 16, outputChannels: 48, kernelHeight: 3, kernelWidth: 3,
                       strideHeight: 1, strideWidth: 1, paddingHeight: 0, paddingWidth: 1),
    ]

    /// ‖actual − expected‖∞ ≤ tolerance · ‖expected‖∞ (Winograd's error scales with the operands,
    /// not with each output: a near-zero output of a long sum is not more accurate than the sum).
    func assertRelative(_ actual: [Float], _ expected: [Double], tolerance: Double = 1e-4, _ message: String,
                        file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, message, file: file, line: line)
        let scale = expected.reduce(0) { max($0, abs($1)) }
        var worst = 0.0, at = 0
        for (i, (a, e)) in zip(actual, expected).enumerated() where !(abs(Double(a) - e) <= worst) {
            worst = abs(Double(a) - e)
            at = i
        }
        XCTAssertLessThanOrEqual(worst, tolerance * scale,
                                 "\(message): element \(at) is \(actual[at]), expected \(expected[at]) (scale \(scale))",
                                 file: file, line: line)
    }

    /// Runs the three ops of every shape with `set` and `algorithm` on 2 threads against Float64.
    func checkAgainstFloat64(_ set: ConvKernelSet, _ algorithm: ConvAlgorithm, shapes: [Conv2DGeometry]) {
        let kernels = ConvKernels(set: set, algorithm: algorithm)
        let pool = ThreadPool(threadCount: 2), workspace = KernelWorkspace()
        for (index, g) in shapes.enumerated() {
            if algorithm == .winograd { XCTAssert(Conv2D.usesWinograd(g, kernels: kernels), "\(g) should go to Winograd") }
            let x = kernelTestValues(g.inputCount, seed: UInt64(1000 + index))
            let w = kernelTestValues(g.weightCount, seed: UInt64(2000 + index))
            let dy = kernelTestValues(g.outputCount, seed: UInt64(3000 + index))
            var y = [Float](repeating: .nan, count: g.outputCount)
            var dx = [Float](repeating: .nan, count: g.inputCount)
            var dw = [Float](repeating: .nan, count: g.weightCount)
            x.withUnsafeBufferPointer { xb in w.withUnsafeBufferPointer { wb in dy.withUnsafeBufferPointer { db in
                y.withUnsafeMutableBufferPointer { Conv2D.forward(g, input: xb, weight: wb, output: $0, kernels: kernels, workspace: workspace, pool: pool) }
                dx.withUnsafeMutableBufferPointer {
                    Conv2D.backwardData(g, outputGradient: db, weight: wb, inputGradient: $0, kernels: kernels, workspace: workspace, pool: pool)
                }
                dw.withUnsafeMutableBufferPointer {
                    Conv2D.backwardWeight(g, input: xb, outputGradient: db, weightGradient: $0, kernels: kernels, workspace: workspace, pool: pool)
                }
            } } }
            let label = "\(set.rawValue)/\(algorithm.rawValue) \(g)"
            assertRelative(y, NaiveConv.forward(g, x, w), "forward \(label)")
            assertRelative(dx, NaiveConv.backwardData(g, dy, w), "backwardData \(label)")
            assertRelative(dw, NaiveConv.backwardWeight(g, x, dy), "backwardWeight \(label)")
        }
    }

    func testWinogradOnAVX2MatchesFloat64OnEveryResNetShape() throws {
        try XCTSkipUnless(ConvKernelSet.avx2.isSupported, "this CPU or OS lacks AVX2 + FMA: the avx2 Winograd path was not tested")
        checkAgainstFloat64(.avx2, .winograd, shapes: Self.shapes)
    }

    func testWinogradOnAVX512MatchesFloat64OnEveryResNetShape() throws {
        try XCTSkipUnless(ConvKernelSet.avx512.isSupported, "this CPU or OS lacks AVX-512: the avx512 Winograd path was not tested")
        checkAgainstFloat64(.avx512, .winograd, shapes: Self.shapes)
    }

    /// The direct AVX-512 tiles on the same shapes (the 32-channel tiles, masked partial blocks).
    func testDirectAVX512TilesMatchFloat64() throws {
        try XCTSkipUnless(ConvKernelSet.avx512.isSupported, "this CPU or OS lacks AVX-512: the avx512 tiles were not tested")
        checkAgainstFloat64(.avx512, .direct, shapes: Array(Self.shapes.prefix(6)) + Self.shapes.suffix(5))
    }

    func testDirectAVX2TilesMatchFloat64() throws {
        try XCTSkipUnless(ConvKernelSet.avx2.isSupported, "this CPU or OS lacks AVX2 + FMA: the avx2 tiles were not tested")
        checkAgainstFloat64(.avx2, .direct, shapes: Array(Self.shapes.prefix(6)) + Self.shapes.suffix(5))
    }

    /// `auto` sends the 3×3 stride-1 layers with ≥ 16 channels to Winograd, and nothing else.
    func testAutoPicksWinogradOnlyWhereItApplies() {
        let body = Conv2DGeometry(batch: 1, inputHeight: 8, inputWidth: 8, inputChannels: 16, outputChannels: 16, kernelSize: 3, stride: 1, padding: 1)
        let stem = Conv2DGeometry(batch: 1, inputHeight: 8, inputWidth: 8, inputChannels: 3, outputChannels: 16, kernelSize: 3, stride: 1, padding: 1)
        let strided = Conv2DGeometry(batch: 1, inputHeight: 8, inputWidth: 8, inputChannels: 16, outputChannels: 32, kernelSize: 3, stride: 2, padding: 1)
        let pointwise = Conv2DGeometry(batch: 1, inputHeight: 8, inputWidth: 8, inputChannels: 64, outputChannels: 64, kernelSize: 1)
        let wide = Conv2DGeometry(batch: 1, inputHeight: 8, inputWidth: 8, inputChannels: 16, outputChannels: 16, kernelSize: 3, stride: 1, padding: 3)
        for set in ConvKernelSet.supported {
            let kernels = ConvKernels(set: set, algorithm: .auto)
            XCTAssertEqual(Conv2D.usesWinograd(body, kernels: kernels), set != .portable, "\(set)")
            XCTAssertFalse(Conv2D.usesWinograd(stem, kernels: kernels), "\(set): the stem's 3 channels stay direct")
            XCTAssertFalse(Conv2D.usesWinograd(strided, kernels: kernels))
            XCTAssertFalse(Conv2D.usesWinograd(pointwise, kernels: kernels))
            XCTAssertFalse(Conv2D.usesWinograd(wide, kernels: kernels), "padding 3 has no Winograd backward")
        }
        for set in ConvKernelSet.supported {
            XCTAssertFalse(Conv2D.usesWinograd(body, kernels: ConvKernels(set: set, algorithm: .direct)))
        }
    }

    /// `SBCL_CONV` values resolve case-insensitively; an unknown one is refused with the choices.
    func testAlgorithmNamesResolveOrAreRefused() {
        for algorithm in ConvAlgorithm.allCases {
            XCTAssertEqual(try? ConvAlgorithm.resolve(algorithm.rawValue.uppercased()).get(), algorithm)
        }
        guard case .failure(let error) = ConvAlgorithm.resolve("fft") else { return XCTFail("'fft' is not an algorithm") }
        XCTAssert(error.description.contains("auto, direct or winograd"), error.description)
    }

    /// G g Gᵀ of a kernel that is one at a single tap equals the outer product of G's columns.
    func testKernelTransformIsGgGT() {
        let gm: [[Double]] = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
        for tap in 0..<9 {
            var u = [Float](repeating: .nan, count: 16)
            Conv2D.transformKernel({ $0 == tap ? 1 : 0 }) { u[$0] = $1 }
            for p in 0..<4 {
                for q in 0..<4 { XCTAssertEqual(Double(u[4 * p + q]), gm[p][tap / 3] * gm[q][tap % 3], "tap \(tap) ξ \(4 * p + q)") }
            }
        }
    }

    /// `SBCL_KERNELS` values: each name resolves where the CPU has it (read independently from
    /// /proc/cpuinfo), unknown names and sets this CPU lacks are refused with a message.
    func testKernelSetNamesResolveAsTheCPUAllows() throws {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flagsLine = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else {
            throw XCTSkip("no /proc/cpuinfo flags on this system")
        }
        let flags = Set(flagsLine.split(separator: ":")[1].split(separator: " ").map(String.init))
        let has: [ConvKernelSet: Bool] = [.portable: true, .avx2: flags.contains("avx2") && flags.contains("fma"),
                                          .avx512: flags.contains("avx512f") && flags.contains("fma")]
        for set in ConvKernelSet.allCases {
            XCTAssertEqual(set.isSupported, has[set], "\(set)")
            switch ConvKernelSet.resolve(set.rawValue.uppercased()) {
            case .success(let resolved):
                XCTAssertEqual(resolved, set)
                XCTAssertTrue(has[set]!)
            case .failure(let error):
                XCTAssertFalse(has[set]!)
                XCTAssert(error.description.contains("cannot run"), error.description)
            }
        }
        guard case .failure(let error) = ConvKernelSet.resolve("wide") else { return XCTFail("'wide' is not a set name") }
        XCTAssert(error.description.contains("portable, avx2 or avx512"), error.description)
        let expected = ConvKernelSet.allCases.last { has[$0]! }!
        XCTAssertEqual(ConvKernelSet.widest, expected, "the widest set the CPU has")
        XCTAssertEqual(ConvKernels(), ConvKernels(set: expected, algorithm: .auto), "the default kernels")
        XCTAssertEqual(try ConvKernels(setName: "", algorithmName: nil), ConvKernels(), "empty values mean the default")
        XCTAssertEqual(try ConvKernels(setName: "PORTABLE", algorithmName: "Direct"), ConvKernels(set: .portable, algorithm: .direct))
        XCTAssertThrowsError(try ConvKernels(setName: "wide", algorithmName: nil)) { error in
            XCTAssert("\(error)".contains("SBCL_KERNELS=wide"), "\(error)")
        }
        XCTAssertThrowsError(try ConvKernels(setName: nil, algorithmName: "fft")) { error in
            XCTAssert("\(error)".contains("SBCL_CONV=fft"), "\(error)")
        }
    }

    /// The peak loop runs for every set the CPU has (a positive, finite rate) and refuses the others.
    func testMeasuredPeakRunsForSupportedSetsOnly() {
        for set in ConvKernelSet.allCases {
            let peak = set.measuredCorePeakGFLOPS()
            if set.isSupported {
                #if arch(x86_64)
                XCTAssert(peak > 0 && peak.isFinite, "\(set): \(peak)")
                #endif
            } else {
                XCTAssertEqual(peak, 0, "\(set) is not supported here")
            }
        }
    }
}
