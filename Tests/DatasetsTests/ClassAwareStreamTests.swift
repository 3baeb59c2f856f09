@testable import Datasets
import Foundation
import XCTest

/// `EpochLength.draws`: epochs of a fixed number of draws cut from one continuing class-aware
/// stream (`moco/linear_classify.py` stops each epoch after ⌊N / B⌋ steps and its sampler's
/// iterators carry on), the loader's steps and resumption over it, and multi-rank slices.
final class ClassAwareStreamTests: XCTestCase {
    /// 50, 12, 5 and 3 images of classes 0–3, interleaved.
    private let labels: [Int32] = {
        var labels: [Int32] = []
        for (c, n) in [50, 12, 5, 3].enumerated() { labels += Array(repeating: Int32(c), count: n) }
        var random = AugmentationRandom(keys: [9])
        for i in stride(from: labels.count - 1, to: 0, by: -1) { labels.swapAt(i, random.below(i + 1)) }
        return labels
    }()

    private func set() -> ImageSet {
        var random = AugmentationRandom(keys: [3])
        let pixels = (0..<(labels.count * 4 * 4)).map { _ in UInt8(random.below(256)) }
        return ImageSet(height: 4, width: 4, channels: 1, pixels: pixels, labels: labels, classNames: ["a", "b", "c", "d"])
    }

    func testEpochsContinueTheClassAwareStreamInsteadOfRestartingThePass() {
        // N = 70 images, B = 16: ⌊70 / 16⌋ = 4 steps, 64 draws an epoch; a pass is 50 · 4 = 200 draws.
        let draws = 64
        let sampler = Sampler(kind: .classAware, labels: labels, classCount: 4, seed: 5, epochLength: .draws(draws))
        XCTAssertEqual(sampler.passLength, 200)
        let epochs = (0..<7).map { sampler.order(epoch: $0) }
        XCTAssertEqual(epochs.map(\.count), Array(repeating: draws, count: 7))
        // Epoch 1 starts where epoch 0 stopped, inside pass 0 — not at the start of a new pass.
        XCTAssertEqual(epochs[1], Array(sampler.pass(0)[64..<128]))
        XCTAssertNotEqual(epochs[1], Array(sampler.pass(1).prefix(draws)))
        // Epoch 3 (draws 192–255) straddles passes 0 and 1.
        XCTAssertEqual(epochs[3], Array(sampler.pass(0)[192..<200]) + Array(sampler.pass(1)[0..<56]))
        let stream = epochs.flatMap { $0 }
        XCTAssertEqual(stream, sampler.stream(from: 0, count: 7 * draws))
        // Balanced over the whole stream although the classes hold 50 : 12 : 5 : 3 images: each
        // class is drawn 4 at a time once per round of the 4 classes.
        var counts = [Int](repeating: 0, count: 4)
        for i in stream { counts[Int(labels[i])] += 1 }
        XCTAssertEqual(counts.reduce(0, +), 448)
        XCTAssertLessThanOrEqual(counts.max()! - counts.min()!, 16, "\(counts)")
        // Every image of a small class is drawn before any is drawn again (its cycling iterator).
        let fewest = stream.filter { labels[$0] == 3 }
        XCTAssertEqual(Set(fewest.prefix(3)).count, 3)
        // The same numbers again: deterministic.
        XCTAssertEqual(Sampler(kind: .classAware, labels: labels, classCount: 4, seed: 5, epochLength: .draws(draws)).order(epoch: 5), epochs[5])
    }

    func testAWholePassPerEpochIsUnchangedAndOtherSamplersDropTheRemainder() {
        let pass = Sampler(kind: .classAware, labels: labels, classCount: 4, seed: 5)
        XCTAssertEqual(pass.order(epoch: 1), pass.pass(1))
        XCTAssertEqual(pass.order(epoch: 1).count, 200)
        // Instance sampling with ⌊N / B⌋ batches: a fresh shuffle each epoch, the last partial batch dropped.
        let instance = Sampler(kind: .instance, labels: labels, classCount: 4, seed: 5, epochLength: .draws(64))
        for epoch in 0..<3 {
            XCTAssertEqual(instance.order(epoch: epoch), Array(instance.pass(epoch).prefix(64)))
        }
        XCTAssertEqual(Set(instance.pass(0)).count, 70)
    }

    func testTheLoaderStepsFloorNOverBAndResumesAtAnEpochOnTheSameDraws() throws {
        let images = set(), batch = 16
        let draws = (images.count / batch) * batch
        let sampler = Sampler(kind: .classAware, labels: labels, classCount: 4, seed: 2, epochLength: .draws(draws))
        let pipeline = try AugmentationPipeline(steps: AugmentationStep.classifierViews(size: 4, mean: [0.5], std: [0.25]))
        let loader = try BatchLoader(source: images, pipeline: pipeline, sampler: sampler, batchSize: batch, seed: 2, threads: 1)
        XCTAssertEqual(loader.stepsPerEpoch, 4)
        XCTAssertEqual(loader.samplesPerEpoch, 64)
        var straight: [Batch] = []
        for _ in 0..<(3 * 4) { straight.append(try loader.next()) }
        XCTAssertEqual(loader.position, LoaderPosition(epoch: 3, step: 0))
        XCTAssertEqual(straight.flatMap(\.indices), sampler.stream(from: 0, count: 3 * 64))

        // A run resumed at epoch 2 (a fresh process: a new loader, seek) sees the same batches.
        let resumed = try BatchLoader(source: images, pipeline: pipeline, sampler: sampler, batchSize: batch, seed: 2, threads: 1)
        resumed.seek(to: LoaderPosition(epoch: 2, step: 0))
        for step in 0..<4 {
            let b = try resumed.next()
            XCTAssertEqual(b.indices, straight[8 + step].indices)
            XCTAssertEqual(b.images, straight[8 + step].images)
            XCTAssertEqual(b.labels, straight[8 + step].labels)
        }

        // Two ranks: each takes its half of every batch of the same stream.
        let ranks = try (0..<2).map {
            try BatchLoader(source: images, pipeline: pipeline, sampler: sampler, batchSize: batch, seed: 2, threads: 1, shard: ($0, 2))
        }
        for step in 0..<4 {
            let position = LoaderPosition(epoch: 1, step: step)
            let halves = try ranks.map { try $0.batch(at: position) }
            XCTAssertEqual(halves[0].indices, straight[4 + step].indices)
            XCTAssertEqual(halves[0].images + halves[1].images, straight[4 + step].images)
        }
    }
}
