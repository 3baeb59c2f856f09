import Engine
import OpenCLBackend
import TestSupport
import XCTest

/// One MoCo v2 ResNet-50 + KCL step on the OpenCL device against the CPU backend, judged against
/// the CPU's own sensitivity to rounding (`MoCoStepParity`): at 32 px and a batch of 4, batch norm
/// sees 4 values per channel in layer 4, and a 1e-6 change of the crops moves the CPU's own output
/// by about 1e-3 — the device must stay within twice what rounding alone does.
final class MoCoStepOnDeviceTests: XCTestCase {
    func testAMoCoResNet50KCLStepMatchesTheCPUWithinRounding() throws {
        let device = try DeviceUnderTest.backend()
        let parity = MoCoStepParity(device: device, size: 32, batch: 4)
        for (what, figure) in parity.all {
            print("MoCo step on \(device.name), \(what): \(figure)")
            XCTAssertTrue(figure.holds(), "\(what): \(figure)")
        }
    }

    func testTheLossBackwardAndUpdateOfAMoCoStepMakeOneUploadAndNoDownload() throws {
        let device = try DeviceUnderTest.backend()
        try MoCoLossOnDevice.checkStepTransfers(on: device) { (device.transfers.uploads, device.transfers.downloads) }
    }
}
