import CUDABackend
import Engine
import Foundation
import TestSupport
import XCTest

/// Where the tests look for NVIDIA's libraries: `SBCL_CUDA_LIBRARY_PATH` and `VIRTUAL_ENV` (as
/// the executables), then the project's `.deps/nvrtc` where `scripts/test.sh` installs NVRTC's
/// wheel, then the documented search order.
enum CUDATestLibraries {
    static let environment = ProcessInfo.processInfo.environment

    /// The repository's root (three folders above this file).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static let configuration: CUDALibraryConfiguration = {
        var configuration = CUDALibraryConfiguration(environment: environment)
        configuration.directories.append(root.appendingPathComponent(".deps/nvrtc/nvidia/cuda_nvrtc/lib").path)
        return configuration
    }()
}

/// The CUDA GPU the tests run on: the first one. Where none opens (no driver, no GPU, no cuBLAS)
/// the tests skip with the reason, unless `SBCL_REQUIRE_CUDA=1` (set by
/// `scripts/device/cuda_check.sh` on the GPU machine): then they fail, so a GPU run can never pass
/// by skipping them. Kernels that do not compile always fail.
enum DeviceUnderTest {
    static let opened: Result<CUDABackend, CUDAError> = {
        CUDABackend.register(environment: CUDATestLibraries.environment.merging(
            ["SBCL_CUDA_LIBRARY_PATH": CUDATestLibraries.configuration.directories.joined(separator: ":")]) { $1 })
        return Result { () throws(CUDAError) in try CUDABackend.shared() }
    }()

    static func backend() throws -> CUDABackend {
        switch opened {
        case .success(let backend): return backend
        case .failure(let error):
            if case .compile = error {
                XCTFail("the kernels do not compile: \(error)")
                throw error
            }
            if CUDATestLibraries.environment["SBCL_REQUIRE_CUDA"] == "1" {
                XCTFail("SBCL_REQUIRE_CUDA=1 but no CUDA GPU opens: \(error)")
                throw error
            }
            throw XCTSkip("no CUDA GPU: \(error)")
        }
    }
}

/// The largest |actual − expected| / max(|expected|, floor) over the elements, for reports.
func maxRelativeError(_ actual: [Float], _ expected: [Float], floor: Float = 1e-3) -> Float {
    precondition(actual.count == expected.count, "maxRelativeError: \(actual.count) vs \(expected.count) values")
    var worst: Float = 0
    for (a, e) in zip(actual, expected) {
        if a.isNaN != e.isNaN { return .infinity }
        if a.isNaN || a == e { continue }
        worst = max(worst, abs(a - e) / max(abs(e), floor))
    }
    return worst
}

/// Asserts `device` (a device tensor) matches `cpu` within `tolerance` relative (with an absolute
/// floor of `tolerance · floor` near zero) and records the figure in the test log.
func assertMatches(_ device: Tensor, _ cpu: Tensor, tolerance: Float, floor: Float = 1e-3, _ what: String,
                   file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(device.shape, cpu.shape, "\(what): shape", file: file, line: line)
    XCTAssertFalse(device.storage.isHost, "\(what): the result should live on the device", file: file, line: line)
    let error = maxRelativeError(device.scalars, cpu.scalars, floor: floor)
    XCTAssertLessThanOrEqual(error, tolerance, "\(what): max relative error \(error)", file: file, line: line)
    ParityLog.note(what, error)
}

/// Runs `f` on CPU copies and device copies of `inputs` and compares the outputs and the gradients
/// of Σ f(inputs) ⊙ R (R random from `seed`, so every output element counts), each within
/// `tolerance` (`floor` as in `assertMatches`).
func assertForwardAndPullbackMatch(_ name: String, _ inputs: [Tensor], tolerance: Float, floor: Float, seed: UInt32,
                                   on backend: CUDABackend? = nil, file: StaticString = #filePath, line: UInt = #line,
                                   _ f: ([Tensor]) -> Tensor) throws {
    let device = try backend ?? DeviceUnderTest.backend()
    var random = TestRandom(seed: seed)
    let cpuInputs = inputs.map { $0.trackingGradients() }, deviceInputs = inputs.map { $0.moved(to: device).trackingGradients() }
    let cpuOut = f(cpuInputs), deviceOut = f(deviceInputs)
    assertMatches(deviceOut, cpuOut, tolerance: tolerance, floor: floor, "\(name) forward", file: file, line: line)
    let weights = random.tensor(cpuOut.shape)
    let cg = (cpuOut * weights).sum().gradients(), dg = (deviceOut * weights.moved(to: device)).sum().gradients()
    for (index, (c, d)) in zip(cpuInputs, deviceInputs).enumerated() {
        assertMatches(dg[d]!, cg[c]!, tolerance: tolerance, floor: floor, "\(name) ∂/∂input\(index)", file: file, line: line)
    }
}

/// Collects the worst error per test for the run's log (the figures for docs/cuda.md).
enum ParityLog {
    static func note(_ what: String, _ error: Float) {
        print("parity \(what): max relative error \(error)")
    }
}
