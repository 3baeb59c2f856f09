import COpenCL
import Engine
import OpenCLBackend
import XCTest

/// `--device opencl|opencl:cpu|auto` once the backend is registered, and a clear refusal otherwise.
final class DeviceSelectionTests: XCTestCase {
    override func setUp() { OpenCLBackend.register() }

    func testOpenCLCPUSelectsTheCPUDeviceByName() throws {
        _ = try DeviceUnderTest.backend()
        let choice = try DeviceSelection.select("opencl:cpu")
        XCTAssertEqual(choice.backend.device, .opencl)
        XCTAssertTrue(choice.backend.name.hasPrefix("opencl ("), choice.backend.name)
        XCTAssertNil(choice.note)
        XCTAssertTrue(choice.backend === (try DeviceSelection.select("opencl:cpu")).backend, "one backend per process")
    }

    /// `auto` never picks an OpenCL CPU device: a GPU, or the CPU backend with a note saying why.
    func testAutoPicksAGPUOrTheCPUBackendNeverPoCL() throws {
        let choice = try DeviceSelection.select("auto")
        if let gpu = try? OpenCLBackend.shared(cpuDevice: false) {
            XCTAssertTrue(choice.backend === gpu)
        } else {
            XCTAssertTrue(choice.backend === CPUBackend.shared)
            XCTAssertTrue(choice.note?.contains("device auto: using the CPU") == true, choice.note ?? "nil")
        }
    }

    /// Without a GPU, `opencl` is refused in one sentence that names the fallback.
    func testOpenCLWithoutAGPUIsRefusedWithWhatToDo() throws {
        guard (try? OpenCLBackend.shared(cpuDevice: false)) == nil else { throw XCTSkip("this machine has an OpenCL GPU") }
        XCTAssertThrowsError(try DeviceSelection.select("opencl")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("device 'opencl' is not usable here: "), text)
            XCTAssertTrue(text.contains("--device cpu"), text)
        }
    }

    func testAMissingLibraryIsNamedInTheLoaderError() {
        var message = [CChar](repeating: 0, count: 512)
        XCTAssertNil(sbcl_opencl_load("libOpenCL-absent.so.9", nil, &message, message.count))
        XCTAssertTrue(String(cString: message).contains("cannot load libOpenCL-absent.so.9"), String(cString: message))
    }

    func testUnknownDeviceListsTheNames() {
        XCTAssertThrowsError(try DeviceSelection.select("tpu")) { error in
            XCTAssertEqual("\(error)", "unknown device 'tpu': expected auto, cpu, cuda, opencl, opencl:cpu")
        }
    }
}
