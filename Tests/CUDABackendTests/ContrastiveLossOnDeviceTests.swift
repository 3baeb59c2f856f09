import CUDABackend
import Engine
import TestSupport
import XCTest

/// The first-stage contrastive losses computed on the GPU (`ContrastiveLossOnDevice`): value and
/// gradient against the CPU in float32, the upstream gradient applied on the device, and a step's
/// transfers (the anchors up, the loss down when read).
final class ContrastiveLossOnDeviceTests: XCTestCase {
    func testValueAndGradientMatchTheCPUForEveryKindAndBatch() throws {
        let device = try DeviceUnderTest.backend()
        guard device.precision == .float32 else { throw XCTSkip("the parity runs in float32 (SBCL_CUDA_PRECISION unset)") }
        ContrastiveLossOnDevice.checkParity(on: device)
    }

    func testALossAndBackwardUploadOnlyTheAnchorsAndDownloadOnlyTheLossRead() throws {
        let device = try DeviceUnderTest.backend()
        try ContrastiveLossOnDevice.checkTransfers(on: device) { (device.transfers.uploads, device.transfers.downloads) }
    }
}
