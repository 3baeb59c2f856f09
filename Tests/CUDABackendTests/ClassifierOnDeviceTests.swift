import Engine
import CUDABackend
import Stages
import TestSupport
import XCTest

/// The second stage's head trained at a device place against the CPU place: the LDAM-DRW cosine
/// head and the cross-entropy linear head, over two epochs of random features.
final class ClassifierOnDeviceTests: XCTestCase {
    func testClassifierHeadsTrainOnTheDeviceAsOnTheCPU() throws {
        let device = try DeviceUnderTest.backend()
        var random = TestRandom(seed: 30)
        let classCounts = [40, 12, 5]
        let batches = (0..<4).map { _ in (random.tensor([19, 64]), (0..<19).map { _ in Int32(random.int(3)) }) }
        for method in [ClassifierMethod.ldamDRW, .ce] {
            var configuration = ClassifierConfiguration.defaults
            configuration.method = method
            configuration.epochs = 2
            configuration.warmupEpochs = 1
            configuration.milestones = [2]
            func train(_ place: ExecutionPlace) -> ClassifierTrainer {
                let trainer = ClassifierTrainer(configuration: configuration, classCounts: classCounts, featureCount: 64, seed: 4,
                                                place: place)
                for _ in 0..<2 { trainer.trainEpoch(steps: batches.count) { batches[$0] } }
                return trainer
            }
            let cpu = train(.cpu(threads: 2)), gpu = train(.single(on: device, threads: 2))
            XCTAssertEqual(gpu.lastLoss, cpu.lastLoss, accuracy: 1e-4 * abs(cpu.lastLoss), "\(method) loss")
            XCTAssertEqual(gpu.lastAccuracy, cpu.lastAccuracy, "\(method) training accuracy")
            for ((name, c), (_, g)) in zip(cpu.head.namedParameters, gpu.head.namedParameters) {
                XCTAssertFalse(g.value.storage.isHost, "\(name) lives on the device")
                assertMatches(g.value, c.value, tolerance: 1e-4, "\(method) \(name) after 2 epochs")
            }
        }
    }
}
