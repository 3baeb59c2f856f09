import Engine
import XCTest

/// The first-stage contrastive losses on a device against the CPU's `ContrastiveLoss`, shared by
/// the OpenCL and CUDA test classes: value and gradient for SupCon, SBCL rank (class
/// temperatures) and ccl at a small batch and at one whose rows (2B = 600 anchors) are longer
/// than a work-group, with the upstream gradient 1 and 2.5; and the transfers of a step.
public enum ContrastiveLossOnDevice {
    /// The kinds compared: main.py's SupCon warm-up, SBCL rank and ccl.
    public static let kinds: [(String, ContrastiveLossKind)] = [("SupCon", .supConDefault), ("SBCL rank", .sbclRankDefault),
                                                               ("ccl", .sbclCCLDefault)]

    /// L2-normalised view-major projections [2B, D] on the CPU, and B images' targets: classes
    /// repeat, each class has two subclasses (three from B = 60; ids unique across classes) that
    /// repeat too, and each class has its own temperature.
    public static func problem(batch: Int, dimension: Int, seed: UInt32) -> (Tensor, ContrastiveTargets) {
        var random = TestRandom(seed: seed)
        let classes = Swift.max(2, Swift.min(7, batch / 3)), perClass = batch >= 60 ? 3 : 2
        let labels = (0..<batch).map { Int32($0 % classes) }
        let subclasses = (0..<batch).map { Int32(($0 % classes) * perClass + ($0 / classes) % perClass) }
        let temperatures = (0..<classes).map { 0.08 + 0.03 * Float($0) }
        let z = withoutGradients { random.tensor([2 * batch, dimension]).l2Normalized() }
        return (z, ContrastiveTargets(labels: labels, subclasses: subclasses, classTemperatures: temperatures))
    }

    /// Value and gradient of every kind at B = 6, D = 8 and B = 300, D = 128, upstream 1 and 2.5,
    /// on `device` against the CPU: the loss within 1e-4 relative, the gradient within 1e-4 of its
    /// largest element (`normwiseError`); the gradient must stay on the device.
    public static func checkParity(on device: any Backend, file: StaticString = #filePath, line: UInt = #line) {
        for (batch, dimension) in [(6, 8), (300, 128)] {
            let (z, targets) = problem(batch: batch, dimension: dimension, seed: UInt32(batch))
            for (name, kind) in kinds {
                for upstream: Float in [1, 2.5] {
                    let cz = z.trackingGradients(), dz = z.moved(to: device).trackingGradients()
                    let cpu = Tensor.contrastiveLoss(cz, ContrastiveLoss(kind, maxThreads: 2), targets)
                    let gpu = Tensor.contrastiveLoss(dz, ContrastiveLoss(kind, maxThreads: 2), targets)
                    let cg = cpu.gradients(seed: Tensor(scalar: upstream))[cz]!
                    let dg = gpu.gradients(seed: Tensor(scalar: upstream, on: device))[dz]!
                    XCTAssertFalse(gpu.storage.isHost || dg.storage.isHost, "\(name): the loss and gradient stay on the device",
                                   file: file, line: line)
                    let lossError = abs(gpu.item - cpu.item) / abs(cpu.item)
                    let gradientError = normwiseError(dg, cg)
                    let what = "contrastive loss \(name) B=\(batch) D=\(dimension) upstream \(upstream) on \(device.name)"
                    print("parity \(what): loss \(gpu.item) vs \(cpu.item) (relative \(lossError)), gradient normwise \(gradientError)")
                    XCTAssertLessThanOrEqual(lossError, 1e-4, "\(what): loss \(gpu.item) vs \(cpu.item)", file: file, line: line)
                    XCTAssertLessThanOrEqual(gradientError, 1e-4, "\(what): gradient", file: file, line: line)
                }
            }
        }
    }

    /// The transfers of a loss and its backward on device projections (`transfers` reads the
    /// device's upload and download counts after a `synchronize`): one upload, the anchors, and
    /// nothing down until the loss is read, which is one download.
    public static func checkTransfers(on device: any Backend, transfers: () -> (uploads: Int, downloads: Int),
                                      file: StaticString = #filePath, line: UInt = #line) throws {
        let (z, targets) = problem(batch: 6, dimension: 8, seed: 3)
        let dz = z.moved(to: device).trackingGradients()
        let loss = ContrastiveLoss(.sbclRankDefault)
        try device.synchronize()
        let before = transfers()
        let value = Tensor.contrastiveLoss(dz, loss, targets)
        let gradient = value.gradients()[dz]!
        try device.synchronize()
        let step = transfers()
        let read = value.item
        try device.synchronize()
        let after = transfers()
        let (up, down, itemDown) = (step.uploads - before.uploads, step.downloads - before.downloads, after.downloads - step.downloads)
        print("contrastive loss + backward on \(device.name): \(up) upload(s), \(down) download(s); reading the loss: "
              + "\(itemDown) download(s), \(after.uploads - step.uploads) upload(s)")
        XCTAssertEqual(up, 1, "uploads of a loss and backward: the anchors only", file: file, line: line)
        XCTAssertEqual(down, 0, "downloads of a loss and backward before the loss is read", file: file, line: line)
        XCTAssertEqual(itemDown, 1, "downloads when reading the loss", file: file, line: line)
        XCTAssertEqual(after.uploads, step.uploads, "uploads when reading the loss", file: file, line: line)
        XCTAssertFalse(gradient.storage.isHost, "the gradient stays on the device", file: file, line: line)
        let expected = loss.value(features: z.scalars, labels: targets.labels, subclasses: targets.subclasses,
                                  classTemperatures: targets.classTemperatures)
        XCTAssertEqual(read, expected, accuracy: 1e-4 * abs(expected), "the loss read", file: file, line: line)
    }
}
