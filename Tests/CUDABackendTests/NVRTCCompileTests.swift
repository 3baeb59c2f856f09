import CCUDA
import CUDABackend
import DeviceKernelSource
import Foundation
import XCTest

/// Every device kernel through NVRTC, which needs no GPU: a kernel that does not compile for
/// CUDA fails here on any machine with NVRTC. Without NVRTC the tests skip with the reason, unless
/// `SBCL_REQUIRE_NVRTC=1` (set by `scripts/test.sh`, which installs NVRTC's wheel): then they fail.
final class NVRTCCompileTests: XCTestCase {
    private func compiler() throws -> NVRTCCompiler {
        do {
            return try NVRTCCompiler(configuration: CUDATestLibraries.configuration)
        } catch {
            if CUDATestLibraries.environment["SBCL_REQUIRE_NVRTC"] == "1" {
                XCTFail("SBCL_REQUIRE_NVRTC=1 but NVRTC does not load: \(error)")
                throw error
            }
            throw XCTSkip("no NVRTC: \(error)")
        }
    }

    /// The entry points a PTX module defines.
    private func entries(_ ptx: String) -> Set<String> {
        var names = Set<String>()
        for line in ptx.split(separator: "\n") where line.contains(".entry ") {
            let rest = line[line.range(of: ".entry ")!.upperBound...]
            names.insert(String(rest.prefix { $0 != "(" && $0 != " " }))
        }
        return names
    }

    func testEveryKernelCompilesToPTXForHopperAndAmpere() throws {
        let nvrtc = try compiler()
        for architecture in ["compute_90", "compute_80"] {
            guard case .ptx(let ptx) = try nvrtc.compile(architecture: architecture) else {
                return XCTFail("\(architecture): expected PTX")
            }
            let defined = entries(ptx)
            for name in KernelSource.kernelNames {
                XCTAssertTrue(defined.contains(name), "\(architecture): \(name) is not in the PTX")
            }
            XCTAssertEqual(defined.count, KernelSource.kernelNames.count, "\(architecture): kernels beyond kernelNames: \(defined)")
            XCTAssertTrue(ptx.contains(".target sm_\(architecture.dropFirst(8))"), "\(architecture): the PTX's target")
            print("NVRTC \(nvrtc.version.major).\(nvrtc.version.minor): \(defined.count) kernels, \(ptx.utf8.count) bytes of PTX for \(architecture)")
        }
    }

    /// The backend loads a CUBIN for the GPU's own architecture: machine code, an ELF image.
    func testTheKernelsCompileToMachineCodeForSM90() throws {
        let nvrtc = try compiler()
        guard case .cubin(let bytes) = try nvrtc.compile(architecture: "sm_90") else { return XCTFail("expected a CUBIN") }
        XCTAssertEqual(Array(bytes.prefix(4)), [0x7F, 0x45, 0x4C, 0x46], "an ELF image")
        XCTAssertGreaterThan(bytes.count, 10_000)
    }

    /// `--fmad=false` reaches the compiler: a·b + c stays a multiply and an add, as on the CPU.
    func testNoMultiplyAddIsContractedIntoAnFMA() throws {
        let nvrtc = try compiler()
        let source = KernelSource.cudaPrelude + "KERNEL void madd(GLOBAL const float *a, GLOBAL float *y) {\n"
            + "    const int i = (int)GLOBAL_ID(0);\n    y[i] = a[i] * a[i + 1] + a[i + 2];\n}\n"
        guard case .ptx(let ptx) = try nvrtc.compile(architecture: "compute_90", source: source) else { return XCTFail("expected PTX") }
        XCTAssertTrue(ptx.contains("mul.rn.f32"), ptx)
        XCTAssertFalse(ptx.contains("fma.rn.f32"), ptx)
    }

    /// A kernel that does not compile is an error carrying NVRTC's log (line and message).
    func testACompileErrorCarriesTheLog() throws {
        let nvrtc = try compiler()
        let source = KernelSource.cudaPrelude + "KERNEL void broken(GLOBAL float *y) { y[0] = undefined_name; }\n"
        XCTAssertThrowsError(try nvrtc.compile(architecture: "compute_90", source: source)) { error in
            guard case CUDAError.compile(let architecture, let log) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(architecture, "compute_90")
            XCTAssertTrue(log.contains("undefined_name") && log.contains("error"), log)
        }
    }
}
