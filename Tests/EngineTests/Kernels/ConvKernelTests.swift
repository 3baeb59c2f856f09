import XCTest
@testable import Engine

/// Naive Float64 NHWC/OIHW convolution and its two adjoints, written straight from the definition.
enum NaiveConv {
    static func forward(_ g: Conv2DGeometry, _ x: [Float], _ w: [Float]) -> [Double] {
        var y = [Double](repeating: 0, count: g.outputCount)
        each(g) { xi, yi, wi in y[yi] += Double(x[xi]) * Double(w[wi]) }
        return y
    }

    static func backwardData(_ g: Conv2DGeometry, _ dy: [Float], _ w: [Float]) -> [Double] {
        var dx = [Double](repeating: 0, count: g.inputCount)
        each(g) { xi, yi, wi in dx[xi] += Double(dy[yi]) * Double(w[wi]) }
        return dx
    }

    static func backwardWeight(_ g: Conv2DGeometry, _ x: [Float], _ dy: [Float]) -> [Double] {
        var dw = [Double](repeating: 0, count: g.weightCount)
        each(g) { xi, yi, wi in dw[wi] += Double(dy[yi]) * Double(x[xi]) }
        return dw
    }

    /// Calls `body(inputIndex, outputIndex, weightIndex)` for every product term of the convolution.
    static func each(_ g: Conv2DGeometry, _ body: (Int, Int, Int) -> Void) {
        for n in 0..<g.batch {
            for oh in 0..<g.outputHeight {
                for ow in 0..<g.outputWidth {
                    for o in 0..<g.outputChannels {
                        for kh in 0..<g.kernelHeight {
                            for kw in 0..<g.kernelWidth {
                                let h = oh * g.strideHeight - g.paddingHeight + kh
                                let w = ow * g.strideWidth - g.paddingWidth + kw
                                guard h >= 0, h < g.inputHeight, w >= 0, w < g.inputWidth else { continue }
                                for i in 0..<g.inputChannels {
                                    body(((n * g.inputHeight + h) * g.inputWidth + w) * g.inputChannels + i,
                                         ((n * g.outputHeight + oh) * g.outputWidth + ow) * g.outputChannels + o,
                                         ((o * g.inputChannels + i) * g.kernelHeight + kh) * g.kernelWidth + kw)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Runs `body` once with each kernel configuration this CPU can run — the portable Swift tiles
/// always; for each wide set it supports (AVX2 + FMA, AVX-512) its direct tiles and Winograd for
/// every 3×3 stride-1 shape — restoring the defaults afterwards. `body` gets a label for messages.
/// The sets this CPU lacks are reported by `ConvKernelSetTests` as skipped tests.
func forEachKernelSet(_ body: (String) -> Void) {
    let saved = CPUBackend.shared.convKernels
    defer { CPUBackend.shared.convKernels = saved }
    for set in ConvKernelSet.supported {
        for algorithm in set == .portable ? [ConvAlgorithm.direct] : [.direct, .winograd] {
            CPUBackend.shared.convKernels = ConvKernels(set: set, algorithm: algorithm)
            body("\(set.rawValue)/\(algorithm.rawValue)")
        }
    }
}

final class ConvKernelTests: XCTestCase {
    /// Odd sizes, strides 1-3, paddings 0-3, kernels 1-7, channel counts off multiples of 8.
    let geometries: [Conv2DGeometry] = [
        Conv2DGeometry(batch: 2, inputHeight: 8, inputWidth: 8, inputChannels: 16, outputChannels: 16, kernelSize: 3, stride: 1, padding: 1),
        Conv2DGeometry(batch: 3, inputHeight: 7, inputWidth: 9, inputChannels: 3, outputChannels: 16, kernelSize: 3, stride: 1, padding: 1),
        Conv2DGeometry(batch: 2, inputHeight: 9, inputWidth: 7, inputChannels: 5, outputChannels: 11, kernelSize: 3, stride: 2, padding: 1),
        Conv2DGeometry(batch: 2, inputHeight: 8, inputWidth: 8, inputChannels: 16, outputChannels: 32, kernelSize: 3, stride: 2, padding: 1),
        Conv2DGeometry(batch: 1, inputHeight: 6, inputWidth: 5, inputChannels: 9, outputChannels: 7, kernelSize: 1, stride: 1, padding: 0),
        Conv2DGeometry(batch: 2, inputHeight: 7, inputWidth: 7, inputChannels: 12, outputChannels: 20, kernelSize: 1, stride: 2, padding: 0),
        Conv2DGeometry(batch: 1, inputHeight: 11, inputWidth: 10, inputChannels: 1, outputChannels: 16, kernelSize: 5, stride: 1, padding: 2),
        Conv2DGeometry(batch: 2, inputHeight: 13, inputWidth: 12, inputChannels: 3, outputChannels: 9, kernelSize: 7, stride: 2, padding: 3),
        Conv2DGeometry(batch: 1, inputHeight: 5, inputWidth: 6, inputChannels: 4, outputChannels: 8, kernelSize: 3, stride: 3, padding: 0),
        Conv2DGeometry(batch: 2, inputHeight: 4, inputWidth: 4, inputChannels: 6, outputChannels: 10, kernelSize: 3, stride: 1, padding: 2),
        Conv2DGeometry(batch: 1, inputHeight: 5, inputWidth: 9, inputChannels: 7, outputChannels: 5, kernelHeight: 1, kernelWidth: 3,
                       strideHeight: 2, strideWidth: 1, paddingHeight: 0, paddingWidth: 1),
        // More than one 6-pixel tile per image, 16-channel blocks with a partial last block.
        Conv2DGeometry(batch: 2, inputHeight: 10, inputWidth: 9, inputChannels: 20, outputChannels: 40, kernelSize: 3, stride: 1, padding: 1),
        Conv2DGeometry(batch: 2, inputHeight: 9, inputWidth: 11, inputChannels: 33, outputChannels: 17, kernelSize: 3, stride: 2, padding: 1),
        // The ResNet-32 shapes of 28×28 images (Fashion-MNIST): 7×7 and 14×14 maps, 64 and 32 channels.
        Conv2DGeometry(batch: 6, inputHeight: 7, inputWidth: 7, inputChannels: 64, outputChannels: 64, kernelSize: 3, stride: 1, padding: 1),
        Conv2DGeometry(batch: 3, inputHeight: 14, inputWidth: 14, inputChannels: 32, outputChannels: 32, kernelSize: 3, stride: 1, padding: 1),
        Conv2DGeometry(batch: 3, inputHeight: 14, inputWidth: 14, inputChannels: 32, outputChannels: 64, kernelSize: 3, stride: 2, padding: 1),
        // Pointwise with many channels: the sgemm path.
        Conv2DGeometry(batch: 2, inputHeight: 3, inputWidth: 5, inputChannels: 64, outputChannels: 72, kernelSize: 1),
    ]

    /// The shape list covers both the direct kernels and the pointwise sgemm path.
    func testShapesCoverDirectAndGEMMPaths() {
        XCTAssertEqual(geometries.filter(Conv2D.usesGEMM).count, 1)
        XCTAssert(geometries.contains { $0.strideHeight == 1 && $0.outputHeight * $0.outputWidth > 6 && $0.outputChannels > 16 })
        XCTAssert(geometries.contains { $0.strideHeight == 3 && $0.kernelHeight == 3 }, "a stride as large as the kernel")
        XCTAssertFalse(Conv2D.usesGEMM(geometries[4]), "small pointwise convs stay on the direct kernels")
    }

    func testForwardMatchesNaive() {
        forEachKernelSet { set in
            for (index, g) in geometries.enumerated() {
                let x = kernelTestValues(g.inputCount, seed: UInt64(index))
                let w = kernelTestValues(g.weightCount, seed: UInt64(100 + index))
                let expected = NaiveConv.forward(g, x, w)
                withPools { pool in
                    var y = [Float](repeating: .nan, count: g.outputCount)
                    x.withUnsafeBufferPointer { xb in w.withUnsafeBufferPointer { wb in y.withUnsafeMutableBufferPointer { yb in
                        Conv2D.forward(g, input: xb, weight: wb, output: yb, workspace: KernelWorkspace(), pool: pool)
                    } } }
                    assertClose(y, expected, "forward \(set) \(g) threads \(pool.threadCount)")
                }
            }
        }
    }

    func testBackwardDataMatchesNaive() {
        forEachKernelSet { set in
            for (index, g) in geometries.enumerated() {
                let dy = kernelTestValues(g.outputCount, seed: UInt64(200 + index))
                let w = kernelTestValues(g.weightCount, seed: UInt64(300 + index))
                let expected = NaiveConv.backwardData(g, dy, w)
                withPools { pool in
                    var dx = [Float](repeating: .nan, count: g.inputCount)
                    dy.withUnsafeBufferPointer { db in w.withUnsafeBufferPointer { wb in dx.withUnsafeMutableBufferPointer { xb in
                        Conv2D.backwardData(g, outputGradient: db, weight: wb, inputGradient: xb,
                                            workspace: KernelWorkspace(), pool: pool)
                    } } }
                    assertClose(dx, expected, "backwardData \(set) \(g) threads \(pool.threadCount)")
                }
            }
        }
    }

    /// A network reuses one workspace for every layer: each op must give the naive result whatever
    /// the workspace held before (stale packed weights, scratch borders, offsets).
    func testEveryOpIsExactWithAWorkspaceReusedAcrossShapes() {
        forEachKernelSet { set in
            withPools([2]) { pool in
                let workspace = KernelWorkspace()
                for round in 0..<2 {
                    for (index, g) in geometries.enumerated().reversed() {
                        let x = kernelTestValues(g.inputCount, seed: UInt64(600 + index))
                        let w = kernelTestValues(g.weightCount, seed: UInt64(700 + index))
                        let dy = kernelTestValues(g.outputCount, seed: UInt64(800 + index))
                        var y = [Float](repeating: .nan, count: g.outputCount)
                        var dx = [Float](repeating: .nan, count: g.inputCount)
                        var dw = [Float](repeating: .nan, count: g.weightCount)
                        x.withUnsafeBufferPointer { xb in w.withUnsafeBufferPointer { wb in dy.withUnsafeBufferPointer { db in
                            y.withUnsafeMutableBufferPointer { Conv2D.forward(g, input: xb, weight: wb, output: $0, workspace: workspace, pool: pool) }
                            dx.withUnsafeMutableBufferPointer {
                                Conv2D.backwardData(g, outputGradient: db, weight: wb, inputGradient: $0, workspace: workspace, pool: pool)
                            }
                            dw.withUnsafeMutableBufferPointer {
                                Conv2D.backwardWeight(g, input: xb, outputGradient: db, weightGradient: $0, accumulate: false,
                                                      workspace: workspace, pool: pool)
                            }
                        } } }
                        assertClose(y, NaiveConv.forward(g, x, w), "reused workspace, round \(round): forward \(set) \(g)")
                        assertClose(dx, NaiveConv.backwardData(g, dy, w), "reused workspace, round \(round): backwardData \(set) \(g)")
                        assertClose(dw, NaiveConv.backwardWeight(g, x, dy), rtol: 1e-4, atol: 1e-3,
                                    "reused workspace, round \(round): backwardWeight \(set) \(g)")
                    }
                }
            }
        }
    }

    func testBackwardWeightMatchesNaiveOverwriteAndAccumulate() {
        forEachKernelSet { set in
            for (index, g) in geometries.enumerated() {
                let x = kernelTestValues(g.inputCount, seed: UInt64(400 + index))
                let dy = kernelTestValues(g.outputCount, seed: UInt64(500 + index))
                let expected = NaiveConv.backwardWeight(g, x, dy)
                withPools { pool in
                    var dw = [Float](repeating: .nan, count: g.weightCount)
                    let workspace = KernelWorkspace()
                    x.withUnsafeBufferPointer { xb in dy.withUnsafeBufferPointer { db in dw.withUnsafeMutableBufferPointer { wb in
                        Conv2D.backwardWeight(g, input: xb, outputGradient: db, weightGradient: wb,
                                              accumulate: false, workspace: workspace, pool: pool)
                        Conv2D.backwardWeight(g, input: xb, outputGradient: db, weightGradient: wb,
                                              accumulate: true, workspace: workspace, pool: pool)
                    } } }
                    assertClose(dw, expected.map { 2 * $0 }, rtol: 1e-4, atol: 1e-3,
                                "backwardWeight \(set) \(g) threads \(pool.threadCount)")
                }
            }
        }
    }

    /// ⟨conv(x), dy⟩ = ⟨x, backwardData(dy)⟩ = ⟨w, backwardWeight(x, dy)⟩: the backwards are the
    /// exact adjoints of the forward, checked on the kernels alone (no naive code involved).
    func testBackwardsAreAdjointsOfForward() {
        forEachKernelSet { set in
            let g = Conv2DGeometry(batch: 3, inputHeight: 10, inputWidth: 9, inputChannels: 13, outputChannels: 24,
                                   kernelSize: 3, stride: 2, padding: 1)
            let x = kernelTestValues(g.inputCount, seed: 1), w = kernelTestValues(g.weightCount, seed: 2)
            let dy = kernelTestValues(g.outputCount, seed: 3)
            var y = [Float](repeating: 0, count: g.outputCount), dx = [Float](repeating: 0, count: g.inputCount)
            var dw = [Float](repeating: 0, count: g.weightCount)
            let ws = KernelWorkspace()
            x.withUnsafeBufferPointer { xb in w.withUnsafeBufferPointer { wb in dy.withUnsafeBufferPointer { db in
                y.withUnsafeMutableBufferPointer { Conv2D.forward(g, input: xb, weight: wb, output: $0, workspace: ws) }
                dx.withUnsafeMutableBufferPointer { Conv2D.backwardData(g, outputGradient: db, weight: wb, inputGradient: $0, workspace: ws) }
                dw.withUnsafeMutableBufferPointer { Conv2D.backwardWeight(g, input: xb, outputGradient: db, weightGradient: $0, workspace: ws) }
            } } }
            func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) } }
            let reference = dot(y, dy)
            XCTAssertEqual(dot(x, dx), reference, accuracy: 1e-3 * abs(reference) + 1e-3)
            XCTAssertEqual(dot(w, dw), reference, accuracy: 1e-3 * abs(reference) + 1e-3)
        }
    }

    /// The weight gradient (the kernels' one reduction over images) has the same bits on 1, 2, 3 and
    /// 5 threads and across repeated calls, for every kernel configuration — direct, Winograd and
    /// a batch not divisible by the reduction's 16 chunks.
    func testWeightGradientIsTheSameOnAnyThreadCount() {
        forEachKernelSet { set in
            for batch in [7, 37] {
                let g = Conv2DGeometry(batch: batch, inputHeight: 8, inputWidth: 8, inputChannels: 16, outputChannels: 16,
                                       kernelSize: 3, stride: 1, padding: 1)
                let x = kernelTestValues(g.inputCount, seed: 9), dy = kernelTestValues(g.outputCount, seed: 10)
                var reference: [Float]? = nil
                withPools([1, 2, 3, 5]) { pool in
                    for _ in 0..<2 {
                        var dw = [Float](repeating: 0, count: g.weightCount)
                        x.withUnsafeBufferPointer { xb in dy.withUnsafeBufferPointer { db in dw.withUnsafeMutableBufferPointer {
                            Conv2D.backwardWeight(g, input: xb, outputGradient: db, weightGradient: $0,
                                                  workspace: KernelWorkspace(), pool: pool)
                        } } }
                        if let reference {
                            XCTAssertEqual(dw, reference, "\(set) batch \(batch) threads \(pool.threadCount)")
                        } else {
                            reference = dw
                        }
                    }
                }
            }
        }
    }
}
