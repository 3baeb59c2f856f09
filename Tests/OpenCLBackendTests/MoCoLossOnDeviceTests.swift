import OpenCLBackend
import Engine
import TestSupport
import XCTest

/// The MoCo losses (KCL, rank, ccl) computed on the device against the CPU's `MoCoLoss`
/// (`MoCoLossOnDevice`, the same body as the other GPU backend's test).
final class MoCoLossOnDeviceTests: XCTestCase {
    func testEveryKindMatchesTheCPUAtASmallAndAnImageNetLTSize() throws {
        MoCoLossOnDevice.checkParityOfEveryKind(on: try DeviceUnderTest.backend())
    }

    func testTheUpstreamScaleIsAppliedOnTheDevice() throws {
        MoCoLossOnDevice.checkUpstreamScale(on: try DeviceUnderTest.backend())
    }

    func testKCLConsumesTheGeneratorAsTheCPUDoes() throws {
        MoCoLossOnDevice.checkGeneratorUse(on: try DeviceUnderTest.backend())
    }

    func testALossAndItsBackwardMakeOneUploadAndReadingItOneDownload() throws {
        let device = try DeviceUnderTest.backend()
        try MoCoLossOnDevice.checkTransfers(on: device) { (device.transfers.uploads, device.transfers.downloads) }
    }
}
