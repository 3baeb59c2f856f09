@testable import Datasets
import Foundation
import XCTest

/// The batch loader: layout, determinism, resumption, samplers and errors.
final class LoaderTests: XCTestCase {
    private func smallSet(count: Int = 40, classes: Int = 4, size: Int = 8, channels: Int = 3) -> ImageSet {
        var random = AugmentationRandom(keys: [77])
        let pixels = (0..<(count * size * size * channels)).map { _ in UInt8(random.below(256)) }
        let labels = (0..<count).map { Int32($0 % classes) }
        return ImageSet(height: size, width: size, channels: channels, pixels: pixels, labels: labels,
                        classNames: (0..<classes).map { "c\($0)" })
    }

    private func contrastive(_ set: ImageSet) throws -> AugmentationPipeline {
        try AugmentationPipeline(steps: AugmentationStep.contrastiveViews(size: set.height, mean: [0.5], std: [0.25]), views: 2)
    }

    func testTwoViewLayoutLabelsAndIndices() throws {
        let set = smallSet()
        let plain = try AugmentationPipeline(steps: [.normalize(mean: [0.5], std: [0.5])], views: 2)
        let sampler = Sampler(kind: .instance, labels: set.labels, classCount: 4, seed: 1)
        let loader = try BatchLoader(source: set, pipeline: plain, sampler: sampler, batchSize: 16, seed: 1)
        let batch = try loader.next()
        XCTAssertEqual(batch.shape, [32, 8, 8, 3])
        XCTAssertEqual(batch.labels, batch.indices.map { set.labels[$0] })
        let size = 8 * 8 * 3
        for k in 0..<16 {
            let view0 = Array(batch.images[(k * size)..<((k + 1) * size)])
            let view1 = Array(batch.images[((16 + k) * size)..<((17 + k) * size)])
            XCTAssertEqual(view0, view1)
            let expected = set.pixels[(batch.indices[k] * size)..<((batch.indices[k] + 1) * size)].map { (Float($0) / 255 - 0.5) / 0.5 }
            XCTAssertEqual(view0, expected)
        }
        XCTAssertEqual(loader.stepsPerEpoch, 3)
        _ = try loader.next()
        let last = try loader.next()
        XCTAssertEqual(last.batchSize, 8)
        XCTAssertEqual(loader.position, LoaderPosition(epoch: 1, step: 0))
    }

    func testBatchDependsOnSeedAndStepOnly() throws {
        let set = smallSet()
        let pipeline = try contrastive(set)
        let sampler = Sampler(kind: .instance, labels: set.labels, classCount: 4, seed: 5)
        let oneThread = try BatchLoader(source: set, pipeline: pipeline, sampler: sampler, batchSize: 12, seed: 5, threads: 1)
        let twoThreads = try BatchLoader(source: set, pipeline: pipeline, sampler: sampler, batchSize: 12, seed: 5, threads: 2)
        var sequence: [Batch] = []
        for _ in 0..<8 { sequence.append(try twoThreads.next()) }
        for batch in sequence {
            let again = try oneThread.batch(at: batch.position)
            XCTAssertEqual(again.images, batch.images, "\(batch.position)")
            XCTAssertEqual(again.indices, batch.indices)
        }
        // The two views of an image differ, and the epochs differ.
        XCTAssertNotEqual(Array(sequence[0].images.prefix(192)), Array(sequence[0].images[(12 * 192)..<(13 * 192)]))
        XCTAssertNotEqual(sequence[0].indices, sequence[4].indices)
        // Resuming at a saved position continues identically.
        let resumed = try BatchLoader(source: set, pipeline: pipeline, sampler: sampler, batchSize: 12, seed: 5,
                                      start: sequence[5].position)
        XCTAssertEqual(try resumed.next().images, sequence[5].images)
        XCTAssertEqual(try resumed.next().images, sequence[6].images)
        resumed.seek(to: sequence[2].position)
        XCTAssertEqual(try resumed.next().images, sequence[2].images)
        // Another seed gives other views.
        let other = try BatchLoader(source: set, pipeline: pipeline, sampler: sampler, batchSize: 12, seed: 6)
        XCTAssertNotEqual(try other.batch(at: sequence[0].position).images, sequence[0].images)
    }

    func testInstanceSamplerVisitsEveryImageOncePerEpoch() {
        let labels = (0..<100).map { Int32($0 % 3) }
        let sampler = Sampler(kind: .instance, labels: labels, classCount: 3, seed: 2)
        XCTAssertEqual(sampler.order(epoch: 0).sorted(), Array(0..<100))
        XCTAssertNotEqual(sampler.order(epoch: 0), sampler.order(epoch: 1))
        XCTAssertEqual(sampler.order(epoch: 3), sampler.order(epoch: 3))
        XCTAssertEqual(Sampler(kind: .sequential, labels: labels, classCount: 3, seed: 2).order(epoch: 5), Array(0..<100))
    }

    func testClassAwareSamplerBalancesClasses() {
        // Long-tailed labels: 40, 12, 3 images.
        let labels = [Int32](repeating: 0, count: 40) + [Int32](repeating: 1, count: 12) + [Int32](repeating: 2, count: 3)
        let sampler = Sampler(kind: .classAware, labels: labels, classCount: 3, seed: 4)
        let order = sampler.order(epoch: 0)
        XCTAssertEqual(order.count, 40 * 3)
        var counts = [0, 0, 0]
        for i in order { counts[Int(labels[i])] += 1 }
        XCTAssertEqual(counts, [40, 40, 40])
        // Visits of 4 images of one class; every class once per round of 3 visits.
        for visit in 0..<(order.count / 4) {
            let classes = Set(order[(visit * 4)..<(visit * 4 + 4)].map { labels[$0] })
            XCTAssertEqual(classes.count, 1, "visit \(visit)")
        }
        for round in 0..<(order.count / 12) {
            XCTAssertEqual(Set(order[(round * 12)..<(round * 12 + 12)].map { labels[$0] }), [0, 1, 2])
        }
        // A class's images are all used before any repeats.
        let tail = order.filter { labels[$0] == 2 }
        XCTAssertEqual(Set(tail.prefix(3)).count, 3)
    }

    func testClassAwareLoaderEpochLength() throws {
        // 10, 4 and 2 images: an epoch draws 10 · 3 = 30 images, 4 batches of 8 (the last of 6).
        let labels = [Int32](repeating: 0, count: 10) + [Int32](repeating: 1, count: 4) + [Int32](repeating: 2, count: 2)
        let set = ImageSet(height: 2, width: 2, channels: 1, pixels: [UInt8](repeating: 3, count: 16 * 4), labels: labels,
                           classNames: ["a", "b", "c"])
        let loader = try BatchLoader(source: set, pipeline: try AugmentationPipeline(steps: []),
                                     sampler: Sampler(kind: .classAware, labels: labels, classCount: 3, seed: 1), batchSize: 8, seed: 1)
        XCTAssertEqual(loader.samplesPerEpoch, 30)
        XCTAssertEqual(loader.stepsPerEpoch, 4)
        var counts = [0, 0, 0]
        for _ in 0..<4 { for label in try loader.next().labels { counts[Int(label)] += 1 } }
        // Two full rounds (3 visits of 4), then 6 draws: one class gets 4 more, another 2.
        XCTAssertEqual(counts.reduce(0, +), 30)
        XCTAssertEqual(counts.sorted(), [8, 10, 12])
        XCTAssertEqual(loader.position, LoaderPosition(epoch: 1, step: 0))
    }

    func testEffectiveNumberSamplerFollowsItsWeights() {
        let labels = [Int32](repeating: 0, count: 3000) + [Int32](repeating: 1, count: 300)
        let sampler = Sampler(kind: .effectiveNumber, labels: labels, classCount: 2, seed: 4, beta: 0.999)
        let w = sampler.effectiveNumberWeights()
        XCTAssertEqual(w[0], 0.001 / (1 - pow(0.999, 3000)), accuracy: 1e-12)
        var tail = 0, total = 0
        for epoch in 0..<4 {
            for i in sampler.order(epoch: epoch) { total += 1; if labels[i] == 1 { tail += 1 } }
        }
        let expected = 300 * w[1] / (300 * w[1] + 3000 * w[0])
        XCTAssertEqual(Double(tail) / Double(total), expected, accuracy: 0.02)
    }

    func testReadErrorsReachTheCaller() throws {
        struct Broken: ImageSource {
            var count: Int { 4 }
            var labels: [Int32] { [0, 1, 0, 1] }
            var classCount: Int { 2 }
            func withImage<R>(at index: Int, _ body: (UnsafeBufferPointer<UInt8>, Int, Int, Int) throws -> R) throws -> R {
                if index == 2 { throw DatasetError(.decodeFailed, path: "/data/img2.jpg", "not a JPEG file") }
                let pixels = [UInt8](repeating: 9, count: 4 * 4 * 3)
                return try pixels.withUnsafeBufferPointer { try body($0, 4, 4, 3) }
            }
        }
        let loader = try BatchLoader(source: Broken(), pipeline: try AugmentationPipeline(steps: []),
                                     sampler: Sampler(kind: .instance, labels: [0, 1, 0, 1], classCount: 2, seed: 0),
                                     batchSize: 4, seed: 0)
        assertDatasetError(.decodeFailed, ["/data/img2.jpg"]) { try loader.next() }
    }
}

/// Data-parallel shards: rank r's loader augments exactly its slice of every global batch.
final class LoaderShardTests: XCTestCase {
    func testShardsHoldTheirSliceOfTheWholeBatch() throws {
        var random = AugmentationRandom(keys: [5])
        let pixels = (0..<(30 * 8 * 8)).map { _ in UInt8(random.below(256)) }
        let set = ImageSet(height: 8, width: 8, channels: 1, pixels: pixels, labels: (0..<30).map { Int32($0 % 3) },
                           classNames: ["a", "b", "c"])
        let pipeline = try AugmentationPipeline(steps: AugmentationStep.contrastiveViews(size: 8, mean: [0.5], std: [0.25]), views: 2)
        let sampler = Sampler(kind: .instance, labels: set.labels, classCount: 3, seed: 2)
        let whole = try BatchLoader(source: set, pipeline: pipeline, sampler: sampler, batchSize: 11, seed: 9)
        let size = 8 * 8
        for step in 0..<3 {
            let all = try whole.batch(at: LoaderPosition(epoch: 1, step: step))
            var covered = 0
            for rank in 0..<3 {
                let loader = try BatchLoader(source: set, pipeline: pipeline, sampler: sampler, batchSize: 11, seed: 9, shard: (rank, 3))
                let part = try loader.batch(at: LoaderPosition(epoch: 1, step: step))
                XCTAssertEqual(part.labels, all.labels)
                XCTAssertEqual(part.indices, all.indices)
                XCTAssertEqual(part.batchSize, all.batchSize)
                let rows = try XCTUnwrap(part.shard)
                XCTAssertEqual(rows.lowerBound, covered)
                covered = rows.upperBound
                XCTAssertEqual(part.shape, [2 * rows.count, 8, 8, 1])
                for view in 0..<2 {
                    let expected = all.images[((view * all.batchSize + rows.lowerBound) * size)..<((view * all.batchSize + rows.upperBound) * size)]
                    let got = part.images[((view * rows.count) * size)..<((view + 1) * rows.count * size)]
                    XCTAssertEqual(Array(got), Array(expected), "step \(step) rank \(rank) view \(view)")
                }
            }
            XCTAssertEqual(covered, all.batchSize)
        }
    }
}
