import Engine
import OpenCLBackend
import TestSupport
import XCTest

/// The first-stage contrastive losses computed on the OpenCL device (`ContrastiveLossOnDevice`):
/// value and gradient against the CPU, the upstream gradient applied on the device, and a step's
/// transfers (the anchors up, the loss down when read).
final class ContrastiveLossOnDeviceTests: XCTestCase {
    func testValueAndGradientMatchTheCPUForEveryKindAndBatch() throws {
        ContrastiveLossOnDevice.checkParity(on: try DeviceUnderTest.backend())
    }

    func testALossAndBackwardUploadOnlyTheAnchorsAndDownloadOnlyTheLossRead() throws {
        let device = try DeviceUnderTest.backend()
        try ContrastiveLossOnDevice.checkTransfers(on: device) { (device.transfers.uploads, device.transfers.downloads) }
    }
}
