import Datasets
import Engine
import Foundation
import XCTest

/// One epoch of the first stage's batches on the real Fashion-MNIST-LT at the authors' setting
/// (batch 256, last partial batch dropped): every image at most once, labels those of the images, the
/// two views of an image drawn apart. With SBCL_DUMP_VIEWS=FILE it also writes the epoch's 8-bit
/// views and labels (SBCL_DUMP_SEED, SBCL_DUMP_EPOCH) for scripts/fidelity/views_probe.py, which runs
/// the authors' code on them (docs/fidelity.md, "The collapsed start").
final class ViewDumpProbe: XCTestCase {
    func testDumpOneEpochOfFirstStageViews() throws {
        let environment = ProcessInfo.processInfo.environment
        guard FileManager.default.fileExists(atPath: IDXReader.defaultFashionMNISTRoot) else {
            throw XCTSkip("Fashion-MNIST is not installed in \(IDXReader.defaultFashionMNISTRoot) (Debian package dataset-fashion-mnist)")
        }
        let seed = UInt64(environment["SBCL_DUMP_SEED"] ?? "0") ?? 0, epoch = Int(environment["SBCL_DUMP_EPOCH"] ?? "1") ?? 1
        let train = try IDXReader.readSplit(root: IDXReader.defaultFashionMNISTRoot, train: true, classNames: IDXReader.fashionMNISTClasses)
        let selection = try LongTail.select(labels: train.labels, classCount: 10, profile: .exp, factor: 0.01, seed: 0)
        let data = train.subset(selection.indices)
        // The steps AugmentationStage builds for the fidelity recipe (color_jitter [0.4, 0.4, 0, 0]),
        // without the normalisation: the views in [0, 1].
        let pipeline = try AugmentationPipeline(steps: [
            .randomResizedCrop(size: 28, scaleMin: 0.2, scaleMax: 1, ratioMin: 3.0 / 4, ratioMax: 4.0 / 3),
            .horizontalFlip(probability: 0.5),
            .colorJitter(brightness: 0.4, contrast: 0.4, saturation: 0, hue: 0, probability: 0.8),
        ], views: 2)
        let batchSize = 256
        let sampler = Sampler(kind: .instance, labels: data.labels, classCount: 10, seed: seed)
        let loader = try BatchLoader(source: data, pipeline: pipeline, sampler: sampler, batchSize: batchSize, dropLast: true,
                                     seed: seed, threads: 2, start: LoaderPosition(epoch: epoch, step: 0))
        var views = [UInt8](), labels = [Int64](), indices = [Int64]()
        for step in 0..<loader.stepsPerEpoch {
            let batch = try loader.batch(at: LoaderPosition(epoch: epoch, step: step))
            views += batch.images.map { UInt8(($0 * 255).rounded()) }
            labels += batch.labels.map { Int64($0) }
            indices += batch.indices.map { Int64($0) }
        }
        let steps = loader.stepsPerEpoch
        XCTAssertEqual(steps, data.count / batchSize, "the last partial batch is dropped")
        XCTAssertEqual(Set(indices).count, steps * batchSize, "an image appears at most once per epoch")
        XCTAssertEqual(labels, indices.map { Int64(data.labels[Int($0)]) }, "each label is its image's")
        let pixels = 28 * 28
        var apart = 0
        for step in 0..<steps {
            for k in 0..<batchSize {
                let first = (step * 2 * batchSize + k) * pixels, second = (step * 2 * batchSize + batchSize + k) * pixels
                if views[first..<(first + pixels)] != views[second..<(second + pixels)] { apart += 1 }
            }
        }
        XCTAssertGreaterThan(apart, steps * batchSize * 99 / 100, "the two views of an image are drawn independently")
        guard let output = environment["SBCL_DUMP_VIEWS"] else { return }
        try SafeTensors.write([(name: "views", array: HostArray(uint8s: views, shape: [steps, 2 * batchSize, 28, 28])),
                               (name: "labels", array: HostArray(int64s: labels, shape: [steps, batchSize])),
                               (name: "indices", array: HostArray(int64s: indices, shape: [steps, batchSize]))],
                              metadata: ["seed": "\(seed)", "epoch": "\(epoch)"], to: URL(fileURLWithPath: output))
        print("wrote \(steps) steps of \(batchSize) images × 2 views to \(output)")
    }
}
