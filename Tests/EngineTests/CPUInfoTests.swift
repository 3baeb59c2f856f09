import Engine
import Foundation
import XCTest

/// `CPUInfo`: what the machine is, and the peak arithmetic `sbcl-bench` compares against.
final class CPUInfoTests: XCTestCase {
    func testReadsTheCPUOnLinux() throws {
        XCTAssertFalse(CPUInfo.model.isEmpty)
        #if os(Linux)
        guard FileManager.default.isReadableFile(atPath: "/proc/cpuinfo") else { throw XCTSkip("no /proc/cpuinfo") }
        XCTAssertNotEqual(CPUInfo.model, "unknown")
        XCTAssertFalse(CPUInfo.model.hasPrefix(" ") || CPUInfo.model.hasSuffix(" "), CPUInfo.model)
        #if arch(x86_64)
        XCTAssertTrue(CPUInfo.flags.contains("sse2"), "every x86-64 CPU has SSE2: \(CPUInfo.flags.sorted())")
        let mhz = try XCTUnwrap(CPUInfo.megahertz, "x86-64 Linux reports cpu MHz")
        XCTAssertTrue(mhz > 100 && mhz < 10_000, "\(mhz) MHz")
        #endif
        #endif
    }

    func testPeakArithmetic() throws {
        // 2 cores × 2.5 GHz × 2 FMA pipes × 8 lanes × 2 flops per FMA.
        XCTAssertEqual(CPUInfo.peakGFLOPS(cores: 2, gigahertz: 2.5, floatLanes: 8), 160, accuracy: 1e-9)
        XCTAssertEqual(CPUInfo.peakGFLOPS(cores: 16, gigahertz: 3, floatLanes: 16, fmaUnits: 1), 1536, accuracy: 1e-9)
        if let mhz = CPUInfo.megahertz {
            let peak = try XCTUnwrap(CPUInfo.peakGFLOPS(cores: 4, floatLanes: 4))
            XCTAssertEqual(peak, 4 * mhz / 1000 * 2 * 4 * 2, accuracy: 1e-6)
        } else {
            XCTAssertNil(CPUInfo.peakGFLOPS(cores: 4, floatLanes: 4))
        }
    }

    func testFloatLanesOfKernelSets() {
        XCTAssertEqual(CPUInfo.floatLanes(forKernelSet: "portable"), 4)
        XCTAssertEqual(CPUInfo.floatLanes(forKernelSet: "wide"), 8)
        XCTAssertEqual(CPUInfo.floatLanes(forKernelSet: "avx2"), 8)
        XCTAssertEqual(CPUInfo.floatLanes(forKernelSet: "avx512"), 16)
        XCTAssertEqual(CPUInfo.floatLanes(forKernelSet: CPUBackend.shared.convKernels.set.rawValue) >= 4, true)
    }
}
