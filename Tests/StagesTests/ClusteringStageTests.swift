import XCTest
import PipelineDSL
import Engine
import TestSupport
@testable import Stages

final class ClusteringStageTests: XCTestCase {
    func testScheduleCountsEpochsFromOne() throws {
        let s = ClusteringStage.Settings(try planFirstStage(firstStageRecipe()).stage(named: "clusters")!.spec.parameters)
        XCTAssertEqual(s, ClusteringStage.Settings.defaults)
        XCTAssertEqual([s.warmupEpochs, s.every, s.minimumClusterSize, s.maxIterations], [10, 10, 10, 35])
        XCTAssertEqual(s.tolerance, 1e-3)
        XCTAssertTrue(!s.balanced && s.densityTemperatures)
        XCTAssertTrue(s.isWarmup(epoch: 10))
        XCTAssertFalse(s.isWarmup(epoch: 11))
        XCTAssertEqual((1...40).filter(s.reclusters(atEpoch:)), [11, 21, 31])
        XCTAssertNil(s.lastReclustering(atOrBefore: 10))
        XCTAssertEqual(s.lastReclustering(atOrBefore: 11), 11)
        XCTAssertEqual(s.lastReclustering(atOrBefore: 30), 21)
        let balanced = ClusteringStage.Settings(try planFirstStage(firstStageRecipe(clustering: "method: balanced\ntemperature_mode: constant"))
            .stage(named: "clusters")!.spec.parameters)
        XCTAssertTrue(balanced.balanced)
        XCTAssertFalse(balanced.densityTemperatures)
    }

    /// Two classes, images interleaved; class 0 holds two tight directions, class 1 one.
    private func points() -> (projections: [Float], labels: [Int32]) {
        var random = TestRandom(seed: 5)
        var projections: [Float] = [], labels: [Int32] = []
        for i in 0..<30 {
            let label: Int32 = i % 3 == 2 ? 1 : 0
            let direction = label == 1 ? 2 : i % 6 < 3 ? 0 : 1
            var z = [Float](repeating: 0, count: 4)
            z[direction] = 1
            for d in 0..<4 { z[d] += 0.05 * random.uniform() }
            let norm = z.map { $0 * $0 }.reduce(0, +).squareRoot()
            projections += z.map { $0 / norm }
            labels.append(label)
        }
        return (projections, labels)
    }

    func testClustersEachClassWithOffsetIdsAndTheReferenceTemperatures() throws {
        let (projections, labels) = points()
        var generator = MT19937(seed: 0)
        let settings = ClusteringStage.Settings.defaults.with { $0.minimumClusterSize = 5 }
        let result = try Reclustering.cluster(projections: projections, dimension: 4, labels: labels, classCount: 2,
                                              settings: settings, temperature: 0.1, generator: &generator)
        // n = (20, 10): k = ⌊n / max(10, 5)⌋ = (2, 1).
        XCTAssertEqual(result.clusterCounts, [2, 1])
        for (i, label) in labels.enumerated() {
            if label == 1 {
                XCTAssertEqual(result.subclasses[i], 2)
            } else {
                // The two directions of class 0 land in different subclasses 0 and 1.
                let direction = i % 6 < 3 ? 0 : 1
                let partner = labels.indices.first { labels[$0] == 0 && ($0 % 6 < 3 ? 0 : 1) == direction }!
                XCTAssertEqual(result.subclasses[i], result.subclasses[partner])
                XCTAssert((0...1).contains(result.subclasses[i]))
            }
        }
        XCTAssertEqual(Set(result.subclasses), [0, 1, 2])
        let grouped = labels.indices.filter { labels[$0] == 0 }.flatMap { projections[($0 * 4)..<($0 * 4 + 4)] }
            + labels.indices.filter { labels[$0] == 1 }.flatMap { projections[($0 * 4)..<($0 * 4 + 4)] }
        XCTAssertEqual(result.classTemperatures,
                       SubclassClustering.classTemperatures(features: grouped, dimension: 4, classCounts: [20, 10],
                                                            clusterCounts: [2, 1], temperature: 0.1))
        XCTAssertEqual(result.classTemperatures[1], 0.1)
    }

    func testAClassWithoutImagesIsARunError() {
        let (projections, labels) = points()
        var generator = MT19937(seed: 0)
        XCTAssertThrowsError(try Reclustering.cluster(projections: projections, dimension: 4, labels: labels, classCount: 3,
                                                      settings: .defaults, temperature: 0.1, generator: &generator)) { error in
            XCTAssert("\(error)".contains("class 2 has no training image"), "\(error)")
        }
    }
}
