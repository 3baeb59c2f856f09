import CBLAS

extension Conv2D {
    /// Channel count from which a 1×1, stride-1, unpadded convolution goes to OpenBLAS.
    ///
    /// In NHWC such a convolution is one matrix product over all pixels, with no im2col copy;
    /// OpenBLAS's AVX2/FMA sgemm beats the SSE direct kernels once both channel counts are large
    /// (ResNet-50's bottleneck convolutions), while for CIFAR's 16-64 channels it is skinny and slow.
    static let gemmMinimumChannels = 64

    /// True when `geometry` is a pointwise convolution worth handing to sgemm.
    static func usesGEMM(_ g: Conv2DGeometry) -> Bool {
        g.kernelHeight == 1 && g.kernelWidth == 1 && g.strideHeight == 1 && g.strideWidth == 1
            && g.paddingHeight == 0 && g.paddingWidth == 0
            && min(g.inputChannels, g.outputChannels) >= gemmMinimumChannels
    }

    /// `GEMM.sgemm` (row-major, split over `pool` in shape-only chunks: the same bits on any
    /// number of threads).
    private static func sgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
        beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int, pool: ThreadPool
    ) {
        GEMM.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
                   beta: beta, c: c, ldc: ldc, pool: pool)
    }

    /// Pointwise forward: `Y[p, o] = Σ_i X[p, i] · W[o, i]`, i.e. `Y = X·Wᵀ` over the N·H·W pixels.
    static func forwardGEMM(_ g: Conv2DGeometry, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                            _ y: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let pixels = g.batch * g.inputHeight * g.inputWidth
        sgemm(transposeA: false, transposeB: true, m: pixels, n: g.outputChannels, k: g.inputChannels,
              x, lda: g.inputChannels, w, ldb: g.inputChannels, beta: 0, y, ldc: g.outputChannels,
              pool: pool)
    }

    /// Pointwise backward-data: `dX = dY·W`.
    static func backwardDataGEMM(_ g: Conv2DGeometry, _ dy: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                 _ dx: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let pixels = g.batch * g.inputHeight * g.inputWidth
        sgemm(transposeA: false, transposeB: false, m: pixels, n: g.inputChannels, k: g.outputChannels,
              dy, lda: g.outputChannels, w, ldb: g.inputChannels, beta: 0, dx, ldc: g.inputChannels,
              pool: pool)
    }

    /// Pointwise backward-weight: `dW (+)= dYᵀ·X`.
    static func backwardWeightGEMM(_ g: Conv2DGeometry, _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                   _ dw: UnsafeMutablePointer<Float>, accumulate: Bool, pool: ThreadPool) {
        let pixels = g.batch * g.inputHeight * g.inputWidth
        sgemm(transposeA: true, transposeB: false, m: g.outputChannels, n: g.inputChannels, k: pixels,
              dy, lda: g.outputChannels, x, ldb: g.inputChannels, beta: accumulate ? 1 : 0, dw,
              ldc: g.inputChannels, pool: pool)
    }
}
