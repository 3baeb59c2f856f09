import Datasets
import Engine
import OpenCLBackend
import Stages
import TestSupport
import XCTest

/// The training loop's own step (`EncoderStep` at an `ExecutionPlace` on the device), as
/// `EncoderTraining` runs it: the same losses as the CPU place over several steps, the weights
/// staying on the device, and the transfers each step makes.
final class EncoderStepOnDeviceTests: XCTestCase {
    func testEncoderStepsAtADevicePlaceFollowTheCPU() throws {
        let device = try DeviceUnderTest.backend()
        var rng = MT19937(seed: 5)
        let (batchSize, size) = (6, 16)
        let images = (0..<(2 * batchSize * size * size * 3)).map { _ in Initialization.standardNormal(&rng) }
        let labels: [Int32] = [0, 1, 2, 0, 1, 2], subclasses: [Int32] = [0, 3, 6, 1, 4, 7]
        let batch = Batch(images: images, labels: labels, indices: Array(0..<batchSize), views: 2, batchSize: batchSize,
                          height: size, width: size, channels: 3, position: LoaderPosition(epoch: 1, step: 0), shard: nil)
        let objective = EncoderStep.Objective.contrastive(ContrastiveLoss(.sbclRankDefault), subclasses: subclasses,
                                                          temperatures: [0.09, 0.1, 0.11])
        func steps(_ place: ExecutionPlace) -> ([Float], SupConResNet) {
            let model = SupConResNet(depth: 20, seed: 9)
            place.adopt(model)
            let optimizer = SGD(parameters: model.namedParameters, learningRate: 0.1, momentum: 0.9, weightDecay: 5e-4)
            let step = EncoderStep(model: model, optimizer: optimizer, place: place)
            return ((0..<3).map { _ in step(batch, rate: 0.05, objective: objective) }, model)
        }
        let (cpuLosses, cpuModel) = steps(.cpu(threads: 2))
        let before = device.transfers
        let (deviceLosses, deviceModel) = steps(.single(on: device, threads: 2))
        let made = device.transfers
        for (d, c) in zip(deviceLosses, cpuLosses) {
            XCTAssertLessThanOrEqual(abs(d - c) / abs(c), 1e-4, "losses \(deviceLosses) vs \(cpuLosses)")
        }
        XCTAssertFalse(deviceModel.encoder.conv1.weight.value.storage.isHost, "the weights stay on the device")
        let parameterTensors = deviceModel.state.filter { if case .batchesTracked = $0.item { return false }; return true }.count
        // adopt: one upload per parameter and running statistic; then per step 2 uploads (the images
        // and the contrastive loss's anchors) and 1 download (the loss read).
        XCTAssertEqual(made.uploads - before.uploads, parameterTensors + 3 * 2, "uploads: the adoption, then 2 per step")
        XCTAssertEqual(made.downloads - before.downloads, 3 * 1, "downloads: the loss of each step")
        let weightError = maxRelativeError(deviceModel.head2.weight.value.scalars, cpuModel.head2.weight.value.scalars)
        XCTAssertLessThanOrEqual(weightError, 1e-4, "head weights after 3 steps")
        print("EncoderStep on \(device.name): losses \(deviceLosses) vs \(cpuLosses); head weights after 3 steps \(weightError)")
    }

    /// The training loop's order: batch k+1's images are prepared (a background upload) before
    /// step k runs. The losses are those of uploading each batch in the step, bit for bit.
    func testPreparedBatchesUploadBesideTheStepAndChangeNothing() throws {
        let device = try DeviceUnderTest.backend()
        var rng = MT19937(seed: 6)
        let (batchSize, size) = (4, 12)
        let batches = (0..<3).map { step in
            Batch(images: (0..<(2 * batchSize * size * size * 3)).map { _ in Initialization.standardNormal(&rng) },
                  labels: [0, 1, 0, 1], indices: Array(0..<batchSize), views: 2, batchSize: batchSize, height: size, width: size,
                  channels: 3, position: LoaderPosition(epoch: 1, step: step), shard: nil)
        }
        let objective = EncoderStep.Objective.contrastive(ContrastiveLoss(.supConDefault), subclasses: [], temperatures: [])
        let place = ExecutionPlace.single(on: device, threads: 2)
        func run(prefetching: Bool) -> [Float] {
            let model = SupConResNet(depth: 20, seed: 2)
            place.adopt(model)
            let step = EncoderStep(model: model, optimizer: SGD(parameters: model.namedParameters, learningRate: 0.1, momentum: 0.9),
                                   place: place)
            guard prefetching else { return batches.map { step($0, rate: 0.1, objective: objective) } }
            var next: PreparedBatch? = place.prepare(batches[0])
            return (0..<batches.count).map { k in
                let prepared = next!
                let input = prepared.images
                next = k + 1 < batches.count ? place.prepare(batches[k + 1]) : nil
                return step(prepared.batch, input: input, rate: 0.1, objective: objective)
            }
        }
        let plain = run(prefetching: false)
        let before = device.transfers
        let prefetched = run(prefetching: true)
        XCTAssertEqual(prefetched, plain, "a prepared batch is the same input")
        let prepared = place.prepare(batches[1])
        XCTAssertEqual(prepared.images.scalars, batches[1].images, "the background copy lands")
        XCTAssertGreaterThan(device.transfers.uploads - before.uploads, 3, "prepared batches count as uploads")
    }
}
