import COpenCL
import DeviceKernelSource
import Engine

// What OpenCL adds to the kernels launched once for both GPU backends (`KernelLaunching`, in
// DeviceKernelSource): its launch geometry and CLBlast's sgemm. Convolutions are im2col + one
// sgemm: measured against nothing yet on a GPU; on PoCL the only option that reuses a tuned GEMM
// (the col buffer, N·Ho·Wo × Cin·k², pooled, is the price; docs/opencl.md, what is left).

extension OpenCLBackend: KernelLaunching {
    /// Work items per group for the element-wise kernels (a multiple of every GPU's warp/wavefront).
    package static let elementwiseGroup = 64

    package var maximumGroupSize: Int { openCLDevice.maximumWorkGroupSize }

    package func convolutionGEMM(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, a: TensorStorage, lda: Int,
                                 b: TensorStorage, ldb: Int, c: TensorStorage, ldc: Int) {
        gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b, ldb: ldb,
             beta: 0, c: c, ldc: ldc)
    }

    /// No convolution library on OpenCL.
    package func libraryConvolution(_ direction: ConvolutionDirection, _ g: Conv2DGeometry, input: TensorStorage,
                                    weight: TensorStorage, output: TensorStorage) -> Bool { false }

    package func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                     a: TensorStorage, lda: Int, b: TensorStorage, ldb: Int, beta: Float, c: TensorStorage, ldc: Int) {
        guard m > 0, n > 0 else { return }
        guard !hasPendingError, let ha = a.deviceBuffer.handle, let hb = b.deviceBuffer.handle,
              let hc = c.deviceBuffer.handle else { return }
        var queue: UnsafeMutableRawPointer? = self.queue
        var status: Int32 = 0
        timed("sgemm") {
            status = api.clblastSgemm(SBCL_CLBLAST_ROW_MAJOR, transposeA ? SBCL_CLBLAST_TRANSPOSE_YES : SBCL_CLBLAST_TRANSPOSE_NO,
                                      transposeB ? SBCL_CLBLAST_TRANSPOSE_YES : SBCL_CLBLAST_TRANSPOSE_NO,
                                      m, n, k, alpha, ha, 0, lda, hb, 0, ldb, beta, hc, 0, ldc, &queue, nil)
        }
        if status != 0 {
            // CLBlast returns OpenCL's own codes for driver errors (allocation failures included).
            record(status, "CLBlastSgemm(\(m)×\(k)·\(k)×\(n))")
        }
    }
}
