import CUDABackend
import Engine
import Foundation
import XCTest

/// The backend's host side against a stand-in driver and cuBLAS (`FakeDriver.source`, compiled
/// here with the C compiler): opening a device, the kernels built by NVRTC and looked up, uploads
/// and downloads, the launch geometry and argument layout of the kernels the stand-in runs on the
/// CPU, the row-major GEMM through column-major cuBLAS (all four transposes), out-of-memory and
/// failed launches as errors. Needs NVRTC and a C compiler; skips without them (fails without
/// NVRTC when `SBCL_REQUIRE_NVRTC=1`). Says nothing about a real GPU.
final class FakeDriverTests: XCTestCase {
    private static let built: Result<(backend: CUDABackend, folder: URL), Error> = Result {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sbcl-fake-cuda-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let source = folder.appendingPathComponent("fake_cuda.c")
        try FakeDriver.source.write(to: source, atomically: true, encoding: .utf8)
        let library = folder.appendingPathComponent("libcuda.so.1")
        let compiler = Process()
        compiler.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        compiler.arguments = ["cc", "-shared", "-fPIC", "-O1", "-Wl,-soname,libsbclfakecuda.so", source.path, "-lm", "-o", library.path]
        try compiler.run()
        compiler.waitUntilExit()
        guard compiler.terminationStatus == 0 else { throw XCTSkip("no C compiler (cc) to build the stand-in driver") }
        try FileManager.default.copyItem(at: library, to: folder.appendingPathComponent("libcublas.so.13"))
        var configuration = CUDATestLibraries.configuration
        configuration.directories.insert(folder.path, at: 0)
        let devices = try CUDADevice.all(configuration: configuration)
        // No cuDNN on the stand-in (a real cuDNN beside it would call the real runtime).
        return (try CUDABackend(device: devices[0], configuration: configuration, convolutionPath: .im2col), folder)
    }

    private func backend() throws -> CUDABackend {
        switch Self.built {
        case .success(let built): return built.backend
        case .failure(let error as XCTSkip): throw error
        case .failure(let error):
            if case CUDAError.libraryMissing(.nvrtc, _) = error, CUDATestLibraries.environment["SBCL_REQUIRE_NVRTC"] != "1" {
                throw XCTSkip("no NVRTC: \(error)")
            }
            XCTFail("the backend does not open on the stand-in driver: \(error)")
            throw error
        }
    }

    /// The kernel the stand-in ran last, with its grid, block and dynamic shared memory.
    private func lastLaunch() throws -> (name: String, grid: Int, block: Int, shared: Int) {
        guard case .success(let built) = Self.built,
              let handle = dlopen(built.folder.appendingPathComponent("libcuda.so.1").path, RTLD_NOW),
              let symbol = dlsym(handle, "sbcl_fake_last_launch") else { throw XCTSkip("no stand-in driver") }
        typealias Query = @convention(c) (UnsafeMutablePointer<CChar>, UnsafeMutablePointer<UInt32>, UnsafeMutablePointer<UInt32>,
                                          UnsafeMutablePointer<UInt32>) -> Void
        var name = [CChar](repeating: 0, count: 64)
        var grid: UInt32 = 0, block: UInt32 = 0, shared: UInt32 = 0
        unsafeBitCast(symbol, to: Query.self)(&name, &grid, &block, &shared)
        return (String(cString: name), Int(grid), Int(block), Int(shared))
    }

    func testTheBackendOpensAndNamesTheDeviceAndLibraries() throws {
        let device = try backend()
        XCTAssertTrue(device.name.hasPrefix("cuda (Fake CUDA device, cc 9.0, driver 13.0, cuBLAS 13.0, NVRTC "), device.name)
        XCTAssertEqual(device.device, .cuda)
        XCTAssertNil(DeviceSelection.missingOps(device))
    }

    func testValuesRoundTripAndElementwiseKernelsGetTheirArguments() throws {
        let device = try backend()
        let a = Tensor((0..<1000).map { Float($0) }, shape: [10, 100]), b = Tensor((0..<100).map { Float($0) * 0.5 }, shape: [100])
        let da = a.moved(to: device), db = b.moved(to: device)
        XCTAssertEqual(da.scalars, a.scalars, "upload then download")
        XCTAssertEqual((da + da).scalars, (a + a).scalars, "zip, contiguous")
        XCTAssertEqual((da * db).scalars, (a * b).scalars, "zip, broadcast strides")
        XCTAssertEqual(try lastLaunch().name, "sbcl_zip")
        XCTAssertEqual((da + -500).relu().scaled(by: 3).scalars, (a + -500).relu().scaled(by: 3).scalars, "map")
        let launch = try lastLaunch()
        XCTAssertEqual(launch.name, "sbcl_map")
        XCTAssertEqual(launch.block, 256)
        XCTAssertEqual(launch.grid, 4, "⌈1000 / 256⌉ blocks")
        XCTAssertEqual(da.sum(axis: 1).scalars, a.sum(axis: 1).scalars, "sum")
        let sum = try lastLaunch()
        XCTAssertEqual(sum.name, "sbcl_sum")
        XCTAssertEqual(sum.grid, 10, "one block per output")
        XCTAssertEqual(sum.shared, sum.block * 4, "the partial sums in dynamic shared memory")
        XCTAssertGreaterThan(device.transfers.uploads, 0)
    }

    /// The next batch's upload from pinned staging on the transfer stream, and device copies.
    func testABackgroundUploadAndADeviceCopyDeliverTheValues() throws {
        let device = try backend()
        let values = (0..<3000).map { Float($0) * 0.25 }
        let target = device.allocate(byteCount: values.count * 4), copy = device.allocate(byteCount: values.count * 4)
        let before = device.transfers
        do {
            let upload = device.uploadInBackground(values, to: target)
            upload.ready()
        }
        device.copy(from: target, to: copy, byteCount: values.count * 4)
        var back = [Float](repeating: -1, count: values.count)
        back.withUnsafeMutableBytes { device.download(copy, into: $0) }
        XCTAssertEqual(back, values)
        XCTAssertEqual(device.transfers.uploads - before.uploads, 1)
        XCTAssertEqual(device.transfers.uploadedBytes - before.uploadedBytes, values.count * 4)
        XCTAssertEqual(device.transfers.downloads - before.downloads, 1)
        // The pinned staging buffer is reused by the next upload of the same size.
        let again = device.uploadInBackground(values.map { -$0 }, to: target)
        again.ready()
        back.withUnsafeMutableBytes { device.download(target, into: $0) }
        XCTAssertEqual(back, values.map { -$0 })
    }

    /// The row-major product through column-major cuBLAS: operands swapped, flags kept.
    func testMatrixProductsInEveryTransposeMatchTheCPU() throws {
        let device = try backend()
        var seed: UInt32 = 7
        func random(_ shape: [Int]) -> Tensor {
            Tensor((0..<shape.reduce(1, *)).map { _ in seed = seed &* 1_664_525 &+ 1_013_904_223; return Float(seed >> 20) / 4096 - 0.5 },
                   shape: shape)
        }
        for (m, k, n) in [(3, 5, 7), (8, 1, 4), (17, 33, 2)] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = random(ta ? [k, m] : [m, k]), b = random(tb ? [n, k] : [k, n])
                let gpu = Tensor.matmul(a.moved(to: device), b.moved(to: device), transposeA: ta, transposeB: tb).scalars
                let cpu = Tensor.matmul(a, b, transposeA: ta, transposeB: tb).scalars
                XCTAssertEqual(gpu.count, cpu.count)
                let worst = zip(gpu, cpu).map { abs($0 - $1) }.max() ?? .nan
                XCTAssertLessThan(worst, 1e-4, "\(m)×\(k)·\(k)×\(n), transposes \(ta) \(tb)")
            }
        }
    }

    func testAnAllocationTheDriverRefusesIsAnOutOfMemoryErrorNamingItsSize() throws {
        let shared = try backend()
        guard case .success(let built) = Self.built else { return }
        var configuration = CUDATestLibraries.configuration
        configuration.directories.insert(built.folder.path, at: 0)
        let device = try CUDABackend(device: shared.cudaDevice, configuration: configuration, convolutionPath: .im2col,
                                     memoryLimit: Int.max / 2)
        let storage = device.allocate(byteCount: 3 << 30)   // the stand-in has 1 GiB
        XCTAssertNil(storage.deviceBuffer.handle)
        XCTAssertThrowsError(try device.synchronize()) { error in
            XCTAssertTrue("\(error)".contains("device out of memory") && "\(error)".contains("allocating 3.00 GiB failed"), "\(error)")
        }
        XCTAssertNoThrow(try device.synchronize(), "the error is taken once")
    }

    /// A launch the driver refuses is the pending error, naming the kernel; later work is skipped
    /// until it is taken.
    func testAFailedLaunchIsAStickyErrorNamingTheKernel() throws {
        let device = try backend()
        let x = Tensor([1, 2, 3, 4], shape: [2, 2]).moved(to: device)
        _ = x.softmax()   // not run by the stand-in: CUDA_ERROR_NOT_SUPPORTED
        _ = x + x         // skipped
        XCTAssertNotEqual(try lastLaunch().name, "sbcl_zip", "work after the error is skipped")
        XCTAssertThrowsError(try device.synchronize()) { error in
            XCTAssertTrue("\(error)".contains("cuLaunchKernel(sbcl_softmax") && "\(error)".contains("801"), "\(error)")
        }
        XCTAssertEqual((x + x).scalars, [2, 4, 6, 8], "the device works again once the error is taken")
    }
}

/// The stand-in driver's C source.
enum FakeDriver {
    static let source = #"""
/* A stand-in for the CUDA driver and cuBLAS on the CPU, for CUDABackendTests.FakeDriverTests:
   device memory is host memory, copies are memcpy, cuBLAS's sgemm is a column-major loop, and
   cuLaunchKernel runs a few of the kernels (fill, map, zip, sum) on the CPU from the packed
   arguments, so the backend's launch geometry, argument layout and GEMM operand order are checked
   without a GPU. Any other kernel fails with CUDA_ERROR_NOT_SUPPORTED (801). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t ptr_t;
static const size_t capacity = (size_t)1 << 30;
static char last_name[64];
static unsigned last_grid, last_block, last_shared;
static int token;

void sbcl_fake_last_launch(char *name, unsigned *grid, unsigned *block, unsigned *shared) {
    strcpy(name, last_name); *grid = last_grid; *block = last_block; *shared = last_shared;
}

int cuInit(unsigned f) { (void)f; return 0; }
int cuDriverGetVersion(int *v) { *v = 13000; return 0; }
int cuGetErrorString(int r, const char **t) { *t = r == 801 ? "operation not supported (fake driver)" : "fake error"; return 0; }
int cuDeviceGetCount(int *c) { *c = 1; return 0; }
int cuDeviceGet(int *d, int o) { *d = o; return o == 0 ? 0 : 101; }
int cuDeviceGetName(char *n, int len, int d) { (void)d; strncpy(n, "Fake CUDA device", len); return 0; }
int cuDeviceGetAttribute(int *v, int a, int d) {
    (void)d;
    switch (a) { case 1: *v = 1024; break; case 8: *v = 49152; break; case 16: *v = 1; break;
                 case 75: *v = 9; break; case 76: *v = 0; break; default: *v = 0; }
    return 0;
}
int cuDeviceTotalMem_v2(size_t *b, int d) { (void)d; *b = capacity; return 0; }
int cuDevicePrimaryCtxRetain(void **c, int d) { (void)d; *c = &token; return 0; }
int cuDevicePrimaryCtxRelease_v2(int d) { (void)d; return 0; }
int cuCtxSetCurrent(void *c) { (void)c; return 0; }
int cuCtxSynchronize(void) { return 0; }
int cuMemGetInfo_v2(size_t *f, size_t *t) { *f = capacity; *t = capacity; return 0; }
int cuMemAlloc_v2(ptr_t *p, size_t n) {
    if (n > capacity) return 2;  /* CUDA_ERROR_OUT_OF_MEMORY */
    void *m = malloc(n); if (!m) return 2;
    memset(m, 0xFF, n);          /* poison: unwritten outputs read as NaN */
    *p = (ptr_t)(uintptr_t)m; return 0;
}
int cuMemFree_v2(ptr_t p) { free((void *)(uintptr_t)p); return 0; }
int cuMemHostAlloc(void **p, size_t n, unsigned f) { (void)f; *p = malloc(n); return *p ? 0 : 2; }
int cuMemFreeHost(void *p) { free(p); return 0; }
int cuMemcpyHtoD_v2(ptr_t d, const void *s, size_t n) { memcpy((void *)(uintptr_t)d, s, n); return 0; }
int cuMemcpyDtoH_v2(void *d, ptr_t s, size_t n) { memcpy(d, (void *)(uintptr_t)s, n); return 0; }
int cuMemcpyHtoDAsync_v2(ptr_t d, const void *s, size_t n, void *st) { (void)st; return cuMemcpyHtoD_v2(d, s, n); }
int cuMemcpyDtoHAsync_v2(void *d, ptr_t s, size_t n, void *st) { (void)st; return cuMemcpyDtoH_v2(d, s, n); }
int cuMemcpyDtoDAsync_v2(ptr_t d, ptr_t s, size_t n, void *st) { (void)st; memmove((void *)(uintptr_t)d, (void *)(uintptr_t)s, n); return 0; }
int cuStreamCreate(void **s, unsigned f) { (void)f; *s = malloc(1); return 0; }
int cuStreamDestroy_v2(void *s) { free(s); return 0; }
int cuStreamSynchronize(void *s) { (void)s; return 0; }
int cuStreamWaitEvent(void *s, void *e, unsigned f) { (void)s; (void)e; (void)f; return 0; }
int cuEventCreate(void **e, unsigned f) { (void)f; *e = malloc(1); return 0; }
int cuEventRecord(void *e, void *s) { (void)e; (void)s; return 0; }
int cuEventSynchronize(void *e) { (void)e; return 0; }
int cuEventDestroy_v2(void *e) { free(e); return 0; }
int cuModuleLoadData(void **m, const void *image) { (void)image; *m = &token; return 0; }
int cuModuleUnload(void *m) { (void)m; return 0; }
int cuModuleGetFunction(void **f, void *m, const char *name) { (void)m; *f = strdup(name); return 0; }

#define ARG(i, type) (*(type *)params[i])
#define BUF(i) ((float *)(uintptr_t)ARG(i, ptr_t))

static float unary(int op, float v, float s) {
    switch (op) { case 0: return -v; case 1: return expf(v); case 2: return logf(v); case 3: return sqrtf(v);
                  case 4: return v > 0 ? v : 0; case 5: return v * s; case 6: return v + s; default: return powf(v, s); }
}
static float binary(int op, float a, float b, float s) {
    switch (op) { case 0: return a + b; case 1: return a - b; case 2: return a * b; case 3: return a / b;
                  case 4: return b > 0 ? a : 0; case 5: return a * 0.5f / b; case 6: return -a / b;
                  case 7: return a * s * powf(b, s - 1); default: return b != 0 ? s : a; }
}
typedef struct { int rank, contiguous, scalarB, pad, shape[8], strideA[8], strideB[8]; } Zip;

int cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                   unsigned shared, void *stream, void **params, void **extra) {
    (void)stream; (void)extra;
    const char *name = f;
    strncpy(last_name, name, sizeof last_name - 1);
    last_grid = gx; last_block = bx; last_shared = shared;
    if (gy != 1 || gz != 1 || by != 1 || bz != 1 || bx == 0 || bx > 1024) return 1;  /* CUDA_ERROR_INVALID_VALUE */
    long threads = (long)gx * bx;
    if (!strcmp(name, "sbcl_fill")) {
        int n = ARG(1, int); if (threads < n) return 1;
        for (int i = 0; i < n; ++i) BUF(0)[i] = ARG(2, float);
    } else if (!strcmp(name, "sbcl_map")) {
        int n = ARG(2, int); if (threads < n) return 1;
        for (int i = 0; i < n; ++i) BUF(1)[i] = unary(ARG(3, int), BUF(0)[i], ARG(4, float));
    } else if (!strcmp(name, "sbcl_zip")) {
        int n = ARG(3, int), op = ARG(4, int); float s = ARG(5, float); Zip g = ARG(6, Zip);
        if (threads < n) return 1;
        for (int i = 0; i < n; ++i) {
            if (g.contiguous) { BUF(2)[i] = binary(op, BUF(0)[i], BUF(1)[i], s); continue; }
            if (g.scalarB) { BUF(2)[i] = binary(op, BUF(0)[i], BUF(1)[0], s); continue; }
            int rest = i, ia = 0, ib = 0;
            for (int d = g.rank - 1; d >= 0; --d) { int c = rest % g.shape[d]; rest /= g.shape[d]; ia += c * g.strideA[d]; ib += c * g.strideB[d]; }
            BUF(2)[i] = binary(op, BUF(0)[ia], BUF(1)[ib], s);
        }
    } else if (!strcmp(name, "sbcl_sum")) {
        int outer = ARG(2, int), size = ARG(3, int), inner = ARG(4, int);
        if ((long)gx != (long)outer * inner || shared != bx * 4 || ARG(5, ptr_t) != 0) return 1;
        for (int o = 0; o < outer; ++o) for (int i = 0; i < inner; ++i) {
            float acc = 0; for (int k = 0; k < size; ++k) acc += BUF(0)[((long)o * size + k) * inner + i];
            BUF(1)[(long)o * inner + i] = acc;
        }
    } else {
        return 801;
    }
    return 0;
}

/* cuBLAS: column-major C = alpha op(A) op(B) + beta C. */
int cublasCreate_v2(void **h) { *h = &token; return 0; }
int cublasDestroy_v2(void *h) { (void)h; return 0; }
int cublasGetVersion_v2(void *h, int *v) { (void)h; *v = 130000; return 0; }
int cublasSetStream_v2(void *h, void *s) { (void)h; (void)s; return 0; }
int cublasSetMathMode(void *h, int m) { (void)h; return m == 0 || m == 2 || m == 3 ? 0 : 7; }
int cublasSgemm_v2(void *h, int ta, int tb, int m, int n, int k, const float *alpha, const float *a, int lda,
                   const float *b, int ldb, const float *beta, float *c, int ldc) {
    (void)h;
    if (lda < (ta ? k : m) || ldb < (tb ? n : k) || ldc < m) return 7;  /* CUBLAS_STATUS_INVALID_VALUE */
    for (int j = 0; j < n; ++j) for (int i = 0; i < m; ++i) {
        float acc = 0;
        for (int p = 0; p < k; ++p) acc += (ta ? a[p + (long)i * lda] : a[i + (long)p * lda]) * (tb ? b[j + (long)p * ldb] : b[p + (long)j * ldb]);
        c[i + (long)j * ldc] = *alpha * acc + (*beta == 0 ? 0 : *beta * c[i + (long)j * ldc]);
    }
    return 0;
}
"""#
}
