import Datasets
import Engine
import XCTest

/// The long-tailed selection against numpy's legacy RandomState (goldens from
/// scripts/goldens/longtail_indices.py).
final class LongTailTests: XCTestCase {
    func testLegacyShuffleMatchesNumpy() throws {
        for (n, seed) in [(1, 5), (2, 5), (3, 1), (17, 42), (1000, 0), (70000, 123)] {
            var values = Array(0..<n)
            var generator = MT19937(seed: UInt32(seed))
            generator.shuffle(&values)
            XCTAssertEqual(values, try Fixture.npyInts("longtail/shuffle_n\(n)_seed\(seed).npy"), "n=\(n) seed=\(seed)")
        }
    }

    func testIntervalStaysInRangeAndCoversIt() {
        var generator = MT19937(seed: 9)
        var seen = Set<Int>()
        for _ in 0..<2000 {
            let v = generator.nextInterval(5)
            XCTAssert((0...5).contains(v))
            seen.insert(v)
        }
        XCTAssertEqual(seen, Set(0...5))
        XCTAssertEqual(generator.nextInterval(0), 0)
    }

    func testReferenceCounts() {
        // CIFAR-10-LT, ratio 100: the counts every long-tail paper reports.
        XCTAssertEqual(LongTail.classCounts(total: 50000, classCount: 10, profile: .exp, factor: 0.01),
                       [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50])
        XCTAssertEqual(LongTail.classCounts(total: 50000, classCount: 10, profile: .step, factor: 0.1),
                       [5000, 5000, 5000, 5000, 5000, 500, 500, 500, 500, 500])
        let c100 = LongTail.classCounts(total: 50000, classCount: 100, profile: .exp, factor: 0.01)
        XCTAssertEqual(c100.reduce(0, +), 10847)
        XCTAssertEqual(c100.first, 500)
        XCTAssertEqual(c100.last, 5)
        XCTAssertEqual(LongTail.classCounts(total: 60000, classCount: 10, profile: .none, factor: 0.5), Array(repeating: 6000, count: 10))
    }

    private func checkGolden(_ name: String, labels: [Int], classCount: Int, profile: LongTail.Profile, factor: Double, seed: UInt32) throws {
        let selection = try LongTail.select(labels: labels.map { Int32($0) }, classCount: classCount,
                                            profile: profile, factor: factor, seed: seed)
        let golden = try Fixture.npyInts("longtail/\(name).npy")
        XCTAssertEqual(selection.indices.count, golden.count, name)
        XCTAssertEqual(selection.indices, golden, name)
        XCTAssertEqual(selection.classCounts,
                       LongTail.classCounts(total: labels.count, classCount: classCount, profile: profile, factor: factor), name)
    }

    func testCIFARSizedSelectionsMatchNumpy() throws {
        let c10 = try Fixture.npyInts("longtail/labels_cifar10.npy")
        let c100 = try Fixture.npyInts("longtail/labels_cifar100.npy")
        try checkGolden("cifar10_exp_0.01_seed0", labels: c10, classCount: 10, profile: .exp, factor: 0.01, seed: 0)
        try checkGolden("cifar100_exp_0.01_seed0", labels: c100, classCount: 100, profile: .exp, factor: 0.01, seed: 0)
        try checkGolden("cifar10_step_0.1_seed7", labels: c10, classCount: 10, profile: .step, factor: 0.1, seed: 7)
    }

    func testFashionMNISTSelectionsMatchNumpy() throws {
        let root = IDXReader.defaultFashionMNISTRoot
        guard FileManager.default.fileExists(atPath: root) else {
            throw XCTSkip("Fashion-MNIST is not installed in \(root) (Debian package dataset-fashion-mnist)")
        }
        let labels = try IDXReader.read(root + "/train-labels-idx1-ubyte.gz").data.map { Int($0) }
        try checkGolden("fashion_mnist_exp_0.01_seed0", labels: labels, classCount: 10, profile: .exp, factor: 0.01, seed: 0)
        try checkGolden("fashion_mnist_exp_0.1_seed3", labels: labels, classCount: 10, profile: .exp, factor: 0.1, seed: 3)
    }

    func testBadParametersAreThrown() {
        assertDatasetError(.badParameter, ["factor"]) {
            try LongTail.select(labels: [0, 1], classCount: 2, profile: .exp, factor: 0, seed: 0)
        }
        assertDatasetError(.badLabel, ["label 7", "0..<2"]) {
            try LongTail.select(labels: [0, 7], classCount: 2, profile: .exp, factor: 0.5, seed: 0)
        }
    }
}

/// The long-tailed subset of real data, and `normalize: auto` statistics on it.
final class LongTailSubsetTests: XCTestCase {
    func testFashionMNISTLongTailSubsetAndStatistics() throws {
        guard FileManager.default.fileExists(atPath: IDXReader.defaultFashionMNISTRoot) else {
            throw XCTSkip("Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)")
        }
        guard case let .memory(train) = try DatasetCatalog.load(DatasetSpec(kind: .fashionMNIST), train: true) else {
            return XCTFail("expected an in-memory set")
        }
        let selection = try LongTail.select(labels: train.labels, classCount: 10, profile: .exp, factor: 0.01, seed: 0)
        let subset = LoadedImages.memory(train).subset(selection.indices)
        guard case let .memory(lt) = subset else { return XCTFail("expected an in-memory set") }
        XCTAssertEqual(lt.classCounts, selection.classCounts)
        XCTAssertEqual(selection.classCounts, [6000, 3596, 2156, 1292, 774, 464, 278, 166, 100, 60])
        XCTAssertEqual(Array(lt.pixels[0..<784]), Array(train.pixels[(selection.indices[0] * 784)..<((selection.indices[0] + 1) * 784)]))
        let stats = lt.channelStatistics()
        XCTAssertEqual(stats.mean.count, 1)
        XCTAssert(stats.mean[0] > 0.2 && stats.mean[0] < 0.4, "mean \(stats.mean[0])")
        XCTAssert(stats.std[0] > 0.25 && stats.std[0] < 0.45, "std \(stats.std[0])")
    }

    func testChannelStatisticsByHand() {
        // Two RGB pixels: R 0 and 255, G 51 and 51, B 255 and 255.
        let set = ImageSet(height: 1, width: 2, channels: 3, pixels: [0, 51, 255, 255, 51, 255], labels: [0], classNames: ["a"])
        let stats = set.channelStatistics()
        XCTAssertEqual(stats.mean[0], 0.5, accuracy: 1e-12)
        XCTAssertEqual(stats.mean[1], 0.2, accuracy: 1e-12)
        XCTAssertEqual(stats.std[0], 0.5, accuracy: 1e-12)
        XCTAssertEqual(stats.std[2], 0, accuracy: 1e-6)
    }
}
