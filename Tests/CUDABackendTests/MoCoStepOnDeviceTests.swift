import Engine
import CUDABackend
import TestSupport
import XCTest

/// One MoCo v2 ResNet-50 + KCL step (query and key encoders, the momentum update, logits against
/// the queue, the enqueue, SGD) on the GPU against the CPU backend in float32 (cuDNN's FMA-only
/// algorithms), judged against the CPU's own sensitivity to rounding (`MoCoStepParity`): the
/// device must stay within twice what a 1e-6 change of the crops does on the CPU, at 32 px and a
/// batch of 4 (4 values per batch-norm channel in layer 4: ill-conditioned, ~1e-3) and at 64 px and
/// a batch of 8 (32 values: ~1e-4 for the forward).
final class MoCoStepOnDeviceTests: XCTestCase {
    func testAMoCoResNet50KCLStepMatchesTheCPUWithinRounding() throws {
        let device = try DeviceUnderTest.backend()
        guard device.precision == .float32 else { throw XCTSkip("the parity runs in float32 (SBCL_CUDA_PRECISION unset)") }
        for (size, batch) in [(32, 4), (64, 8)] {
            let parity = MoCoStepParity(device: device, size: size, batch: batch)
            for (what, figure) in parity.all {
                print("MoCo step \(size) px × \(batch) on \(device.name), \(what): \(figure)")
                XCTAssertTrue(figure.holds(), "\(size) px × \(batch), \(what): \(figure)")
            }
        }
    }

    func testTheLossBackwardAndUpdateOfAMoCoStepMakeOneUploadAndNoDownload() throws {
        let device = try DeviceUnderTest.backend()
        try MoCoLossOnDevice.checkStepTransfers(on: device) { (device.transfers.uploads, device.transfers.downloads) }
    }
}
