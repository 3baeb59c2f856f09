import Engine
import XCTest

/// The MoCo losses (KCL, SBCL-MoCo rank and ccl) computed on a device against the CPU's
/// `MoCoLoss`, for the OpenCL and CUDA test classes `MoCoLossOnDeviceTests` alike: value and
/// gradient, the upstream scale, KCL's use of its generator, and the host transfers of a step.
public enum MoCoLossOnDevice {
    /// Targets for a batch of `batch` against a queue of `queue`: query 0's class has no queue
    /// entry, about one slot in ten is empty (−1 class and subclass), subclass ids are unique
    /// across classes (three per class), and KCL's uniforms repeat for query 1 (duplicate draws).
    public static func targets(batch: Int, queue: Int, kind: MoCoLossKind, random: inout TestRandom) -> MoCoTargets {
        let classes = batch <= 4 ? 4 : 50
        let labels = (0..<batch).map { i in Int32(i == 0 ? classes - 1 : random.int(classes - 1)) }
        let subclasses = labels.map { $0 * 3 + Int32(random.int(3)) }
        var queueLabels = [Int32](), queueSubclasses = [Int32]()
        for _ in 0..<queue {
            if random.int(10) == 0 {
                queueLabels.append(-1); queueSubclasses.append(-1)
            } else {
                let label = Int32(random.int(classes - 1))
                queueLabels.append(label); queueSubclasses.append(label * 3 + Int32(random.int(3)))
            }
        }
        var uniforms = random.uniform(kind.uniformCount(batch: batch), 0, 0.999)
        if case let .kcl(draws, _) = kind, batch > 1 { for d in 0..<draws { uniforms[d * batch + 1] = 0.5 } }
        return MoCoTargets(labels: labels, subclasses: subclasses, queueLabels: queueLabels, queueSubclasses: queueSubclasses,
                           uniforms: kind.uniformCount(batch: batch) > 0 ? uniforms : nil)
    }

    /// The loss error (relative) and the gradient error (normwise) of one kind at one size, printed
    /// as a `parity` line; asserts both within 1e-4 and that the loss stays on the device.
    public static func checkParity(on device: any Backend, kind: MoCoLossKind, batch: Int, queue: Int, seed: UInt32,
                                   file: StaticString = #filePath, line: UInt = #line) {
        var random = TestRandom(seed: seed)
        let logits = random.tensor([batch, queue + 1], -1, 1)
        let targets = targets(batch: batch, queue: queue, kind: kind, random: &random)
        let cpuLogits = logits.trackingGradients(), deviceLogits = logits.moved(to: device).trackingGradients()
        let cpu = Tensor.mocoLoss(cpuLogits, MoCoLoss(kind, maxThreads: 2), targets)
        let onDevice = Tensor.mocoLoss(deviceLogits, MoCoLoss(kind, maxThreads: 2), targets)
        XCTAssertFalse(onDevice.storage.isHost, "the loss stays on the device", file: file, line: line)
        let cpuGradient = cpu.gradients()[cpuLogits]!, deviceGradient = onDevice.gradients()[deviceLogits]!
        XCTAssertFalse(deviceGradient.storage.isHost, "the gradient stays on the device", file: file, line: line)
        let (c, d) = (cpu.item, onDevice.item)
        let lossError = abs(d - c) / abs(c), gradientError = normwiseError(deviceGradient, cpuGradient)
        print("parity MoCo loss \(kind) B=\(batch) K=\(queue) on \(device.name): loss \(lossError) relative "
              + "(\(d) vs \(c)), gradient \(gradientError) normwise")
        XCTAssertLessThanOrEqual(lossError, 1e-4, "\(kind) B=\(batch) K=\(queue): loss \(d) vs \(c)", file: file, line: line)
        XCTAssertLessThanOrEqual(gradientError, 1e-4, "\(kind) B=\(batch) K=\(queue): gradient", file: file, line: line)
    }

    /// Every kind at B = 4, K = 37 and at ImageNet-LT's B = 32, K = 65,536.
    public static func checkParityOfEveryKind(on device: any Backend, file: StaticString = #filePath, line: UInt = #line) {
        for (index, kind) in [MoCoLossKind.kclDefault, .rankDefault, .cclDefault].enumerated() {
            checkParity(on: device, kind: kind, batch: 4, queue: 37, seed: 40 + UInt32(index), file: file, line: line)
            checkParity(on: device, kind: kind, batch: 32, queue: 65_536, seed: 50 + UInt32(index), file: file, line: line)
        }
    }

    /// `gradients(seed:)` with a seed of 2.5: the device's gradient is 2.5 × the CPU's unit one.
    public static func checkUpstreamScale(on device: any Backend, file: StaticString = #filePath, line: UInt = #line) {
        var random = TestRandom(seed: 61)
        let logits = random.tensor([4, 38], -1, 1)
        let targets = targets(batch: 4, queue: 37, kind: .rankDefault, random: &random)
        let cpuLogits = logits.trackingGradients(), deviceLogits = logits.moved(to: device).trackingGradients()
        let cpuGradient = Tensor.mocoLoss(cpuLogits, MoCoLoss(.rankDefault), targets).gradients()[cpuLogits]!
        let seed = Tensor(scalar: 2.5).moved(to: device)
        let deviceGradient = Tensor.mocoLoss(deviceLogits, MoCoLoss(.rankDefault), targets).gradients(seed: seed)[deviceLogits]!
        let error = normwiseError(deviceGradient, cpuGradient.scaled(by: 2.5))
        print("parity MoCo loss upstream 2.5 on \(device.name): gradient \(error) normwise")
        XCTAssertLessThanOrEqual(error, 1e-5, "the upstream scale applied on the device", file: file, line: line)
    }

    /// KCL drawing its uniforms from the loss's generator: the device path consumes it exactly as
    /// the CPU (same state after two steps) and so samples the same positives (same loss).
    public static func checkGeneratorUse(on device: any Backend, file: StaticString = #filePath, line: UInt = #line) {
        var random = TestRandom(seed: 62)
        var targets = targets(batch: 8, queue: 64, kind: .kclDefault, random: &random)
        targets.uniforms = nil
        let cpuLoss = MoCoLoss(.kclDefault, seed: 9, maxThreads: 2), deviceLoss = MoCoLoss(.kclDefault, seed: 9, maxThreads: 2)
        for step in 0..<2 {
            let logits = random.tensor([8, 65], -1, 1)
            let c = Tensor.mocoLoss(logits, cpuLoss, targets).item
            let d = Tensor.mocoLoss(logits.moved(to: device), deviceLoss, targets).item
            XCTAssertLessThanOrEqual(abs(d - c) / abs(c), 1e-5, "step \(step): \(d) vs \(c)", file: file, line: line)
        }
        XCTAssertEqual(deviceLoss.generator, cpuLoss.generator, "the generator after two steps", file: file, line: line)
        XCTAssertNotEqual(cpuLoss.generator, MoCoLoss(.kclDefault, seed: 9).generator, "the uniforms came from it",
                          file: file, line: line)
    }

    /// A training step's loss on device logits (forward, backward, reading the loss) for each kind:
    /// one upload (the packed per-query data: labels, subclasses, KCL's sampled entries and for rank
    /// and ccl the queue's labels) and one download (the loss, when read). `transfers` reads the
    /// backend's (uploads, downloads) counters.
    public static func checkTransfers(on device: any Backend, transfers: () throws -> (uploads: Int, downloads: Int),
                                      file: StaticString = #filePath, line: UInt = #line) throws {
        var random = TestRandom(seed: 63)
        for kind in [MoCoLossKind.kclDefault, .rankDefault, .cclDefault] {
            let targets = targets(batch: 8, queue: 1000, kind: kind, random: &random)
            let logits = random.tensor([8, 1001], -1, 1).moved(to: device).trackingGradients()
            let loss = MoCoLoss(kind, maxThreads: 2)
            try device.synchronize()
            let before = try transfers()
            let value = Tensor.mocoLoss(logits, loss, targets)
            let gradient = value.gradients()[logits]!
            let inStep = try transfers()
            let item = value.item
            try device.synchronize()
            let after = try transfers()
            print("MoCo loss \(kind) on \(device.name): \(inStep.uploads - before.uploads) upload(s) and "
                  + "\(inStep.downloads - before.downloads) download(s) in loss + backward, "
                  + "\(after.downloads - inStep.downloads) to read the loss")
            XCTAssertEqual(inStep.uploads - before.uploads, 1, "\(kind): uploads in loss + backward", file: file, line: line)
            XCTAssertEqual(inStep.downloads - before.downloads, 0, "\(kind): downloads in loss + backward", file: file, line: line)
            XCTAssertEqual(after.uploads - inStep.uploads, 0, "\(kind): uploads to read the loss", file: file, line: line)
            XCTAssertEqual(after.downloads - inStep.downloads, 1, "\(kind): downloads to read the loss", file: file, line: line)
            XCTAssertTrue(item.isFinite && item > 0, "\(kind): loss \(item)", file: file, line: line)
            XCTAssertFalse(gradient.storage.isHost, file: file, line: line)
        }
    }

    /// One MoCo v2 ResNet-50 step per kind on the device (crops already there): the loss, its
    /// backward and SGD make one upload (the loss's packed per-query data) and no download — the
    /// host fallback made one download (the logits) and two uploads (the loss and its gradient);
    /// reading the loss is one download. The forward's own transfers are printed beside them.
    public static func checkStepTransfers(on device: any Backend, transfers: () throws -> (uploads: Int, downloads: Int),
                                          file: StaticString = #filePath, line: UInt = #line) throws {
        var random = TestRandom(seed: 64)
        let model = MoCo(.resnet50, queueSize: 64, seed: 5)
        model.move(to: device)
        let optimizer = SGD(parameters: model.queryParameters, learningRate: 0.03, momentum: 0.9, weightDecay: 1e-4)
        let query = random.tensor([4, 32, 32, 3]).moved(to: device), key = random.tensor([4, 32, 32, 3]).moved(to: device)
        let labels: [Int32] = [0, 0, 1, 1], subclasses: [Int32] = [0, 1, 2, 3]
        for kind in [MoCoLossKind.kclDefault, .rankDefault] {
            try device.synchronize()
            let start = try transfers()
            let output = model.forward(query: query, key: key, subclassLabels: subclasses.map(Int.init),
                                       classLabels: labels.map(Int.init), training: true)
            let targets = MoCoTargets(labels: labels, subclasses: subclasses, queueLabels: output.queueClass.map(Int32.init),
                                      queueSubclasses: output.queueSubclass.map(Int32.init))
            let forwarded = try transfers()
            let value = Tensor.mocoLoss(output.logits, MoCoLoss(kind, maxThreads: 2), targets)
            optimizer.step(value.gradients())
            let stepped = try transfers()
            let loss = value.item
            try device.synchronize()
            let read = try transfers()
            print("MoCo ResNet-50 step, \(kind), on \(device.name): forward \(forwarded.uploads - start.uploads) upload(s) "
                  + "\(forwarded.downloads - start.downloads) download(s); loss + backward + SGD \(stepped.uploads - forwarded.uploads) "
                  + "upload(s) \(stepped.downloads - forwarded.downloads) download(s); reading the loss "
                  + "\(read.downloads - stepped.downloads) download(s)")
            XCTAssertEqual(stepped.uploads - forwarded.uploads, 1, "\(kind): uploads in loss + backward + SGD", file: file, line: line)
            XCTAssertEqual(stepped.downloads - forwarded.downloads, 0, "\(kind): downloads in loss + backward + SGD",
                           file: file, line: line)
            XCTAssertEqual(read.downloads - stepped.downloads, 1, "\(kind): reading the loss", file: file, line: line)
            XCTAssertTrue(loss.isFinite, "\(kind): loss \(loss)", file: file, line: line)
        }
    }
}
