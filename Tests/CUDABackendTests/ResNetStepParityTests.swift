import Engine
import CUDABackend
import TestSupport
import XCTest

/// One full first-stage step of ResNet-32 with the SBCL rank loss — forward of both views, loss,
/// backward, SGD with momentum and weight decay — on the device against the CPU backend.
final class ResNetStepParityTests: XCTestCase {
    func testAResNet32RankLossStepMatchesTheCPU() throws {
        let device = try DeviceUnderTest.backend()
        var random = TestRandom(seed: 14)
        let batch = 4
        let images = random.tensor([2 * batch, 32, 32, 3], 0, 1)
        let targets = ContrastiveTargets(labels: [0, 1, 0, 2], subclasses: [0, 2, 1, 3], classTemperatures: [0.4, 0.6, 0.5])
        let loss = ContrastiveLoss(.sbclRankDefault)

        let cpuModel = SupConResNet(depth: 32, seed: 3), gpuModel = SupConResNet(depth: 32, seed: 3)
        gpuModel.move(to: device)
        func optimizer(_ model: SupConResNet) -> SGD {
            SGD(parameters: model.namedParameters, learningRate: 0.1, momentum: 0.9, weightDecay: 5e-4)
        }
        let (cpuSGD, gpuSGD) = (optimizer(cpuModel), optimizer(gpuModel))

        let cpuLoss = Tensor.contrastiveLoss(cpuModel(images, training: true), loss, targets)
        let cpuGradients = cpuLoss.gradients()
        cpuSGD.step(cpuGradients)

        try device.synchronize()
        let before = device.transfers
        let start = Date()
        let gpuLoss = Tensor.contrastiveLoss(gpuModel(images.moved(to: device), training: true), loss, targets)
        let gpuGradients = gpuLoss.gradients()
        let gpuValue = gpuLoss.item
        gpuSGD.step(gpuGradients)
        try device.synchronize()
        let seconds = Date().timeIntervalSince(start)
        let made = device.transfers

        // The step's gradients (fresh tensors: SGD changed the parameters, not them).
        var worstGradient: (Float, String) = (0, "")
        for ((name, cpu), (_, gpu)) in zip(cpuModel.namedParameters, gpuModel.namedParameters) {
            guard let cg = cpuGradients[cpu.value] else { continue }
            let error = normwiseError(gpuGradients[gpu.value]!, cg)
            XCTAssertLessThanOrEqual(error, 1e-4, "gradient of \(name)")
            if error > worstGradient.0 { worstGradient = (error, name) }
        }
        let lossError = abs(gpuValue - cpuLoss.item) / abs(cpuLoss.item)
        XCTAssertLessThanOrEqual(lossError, 1e-4, "loss \(gpuValue) vs \(cpuLoss.item)")
        var worstWeight: (Float, String) = (0, "")
        for (cpu, gpu) in zip(cpuModel.state, gpuModel.state) {
            let pair: (Tensor, Tensor)
            switch (cpu.item, gpu.item) {
            case (.parameter(let c), .parameter(let g)): pair = (c.value, g.value)
            case (.runningMean(let c), .runningMean(let g)): pair = (c.runningMean, g.runningMean)
            case (.runningVariance(let c), .runningVariance(let g)): pair = (c.runningVariance, g.runningVariance)
            default: continue
            }
            let error = maxRelativeError(pair.1.scalars, pair.0.scalars)
            XCTAssertLessThanOrEqual(error, 1e-4, "updated \(cpu.name)")
            if error > worstWeight.0 { worstWeight = (error, cpu.name) }
        }
        // Uploads: the images and the contrastive loss's anchors (labels, subclasses, class
        // temperatures); downloads: reading the loss. The loss and its gradient stay on the device.
        XCTAssertEqual(made.uploads - before.uploads, 2, "uploads in one step: the images and the loss's anchors")
        XCTAssertEqual(made.downloads - before.downloads, 1, "downloads in one step: reading the loss")
        print("ResNet-32 step on \(device.name): loss \(gpuValue) vs \(cpuLoss.item) (relative \(lossError)), "
              + "worst gradient \(worstGradient.1) \(worstGradient.0) (normwise), worst updated weight \(worstWeight.1) "
              + "\(worstWeight.0) (elementwise), transfers \(made.uploads - before.uploads) up / \(made.downloads - before.downloads) down, "
              + String(format: "%.2f s", seconds))
    }
}
