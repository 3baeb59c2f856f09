import Engine
import Foundation
import OpenCLBackend
import TestSupport
import XCTest

/// The OpenCL device the tests run on: the first GPU when one is present, else the first CPU
/// device (PoCL's on CI). Where OpenCL cannot be loaded the tests skip with the reason, unless
/// `SBCL_REQUIRE_OPENCL=1` (set by `scripts/test.sh`, which installs PoCL): then they fail, so a
/// CI run can never pass by skipping them. Kernels that do not compile always fail.
enum DeviceUnderTest {
    static func backend() throws -> OpenCLBackend {
        do {
            if let gpu = try? OpenCLBackend.shared(cpuDevice: false) { return gpu }
            return try OpenCLBackend.shared(cpuDevice: true)
        } catch {
            if case .build = error {
                XCTFail("the kernels do not compile: \(error)")
                throw error
            }
            if ProcessInfo.processInfo.environment["SBCL_REQUIRE_OPENCL"] == "1" {
                XCTFail("SBCL_REQUIRE_OPENCL=1 but no OpenCL device opens: \(error)")
                throw error
            }
            throw XCTSkip("no OpenCL device: \(error)")
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
                                   file: StaticString = #filePath, line: UInt = #line, _ f: ([Tensor]) -> Tensor) throws {
    let device = try DeviceUnderTest.backend()
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

/// Collects the worst error per test for the run's log (the figures in docs/opencl.md).
enum ParityLog {
    static func note(_ what: String, _ error: Float) {
        print("parity \(what): max relative error \(error)")
    }
}
