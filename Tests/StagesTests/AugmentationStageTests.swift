import XCTest
import PipelineDSL
import Datasets
@testable import Stages

final class AugmentationStageTests: XCTestCase {
    private func parameters(_ lines: String = "") throws -> AugmentationStage.Settings {
        AugmentationStage.Settings(try planFirstStage(firstStageRecipe(augmentation: lines)).stage(named: "views")!.spec.parameters)
    }

    private func colour() -> DataArtifact {
        var pixels: [UInt8] = []
        for i in 0..<(4 * 10 * 10 * 3) { pixels.append(UInt8((i * 37) % 256)) }
        let set = ImageSet(height: 10, width: 10, channels: 3, pixels: pixels, labels: [0, 1, 0, 1], classNames: ["a", "b"])
        return DataArtifact(train: set, test: set, source: "synthetic")
    }

    func testDefaultsAreTheReferenceViewsNormalisedByTheTrainingStatistics() throws {
        let data = colour()
        let resolved = try AugmentationStage.pipeline(from: parameters(), data: data)
        let stats = data.train.channelStatistics()
        XCTAssertEqual(resolved.pipeline.steps, AugmentationStep.contrastiveViews(size: 10, mean: stats.mean, std: stats.std))
        XCTAssertEqual(resolved.pipeline.views, 2)
        XCTAssertEqual(resolved.size, 10)
        XCTAssertEqual(resolved.mean, stats.mean)
    }

    func testFixedNormalisationRandomCropAndNoJitter() throws {
        let resolved = try AugmentationStage.pipeline(
            from: parameters("crop: random_crop\nsize: 8\npadding: 2\njitter_probability: 0\ngrayscale: 0\nnormalize: fixed\nviews: 1"),
            data: colour())
        XCTAssertEqual(resolved.pipeline.steps, [.randomCrop(size: 8, padding: 2), .horizontalFlip(probability: 0.5),
                                                 .normalize(mean: AugmentationStep.cifarMean, std: AugmentationStep.cifarStd)])
        XCTAssertEqual(resolved.pipeline.views, 1)
        XCTAssertEqual(resolved.size, 8)
    }

    func testNoNormalisationKeepsUnitStatistics() throws {
        let resolved = try AugmentationStage.pipeline(from: parameters("crop: none\nflip: 0\nnormalize: none"), data: colour())
        XCTAssertEqual(resolved.mean, [0, 0, 0])
        XCTAssertEqual(resolved.std, [1, 1, 1])
        XCTAssertFalse(resolved.pipeline.steps.contains { if case .normalize = $0 { return true } else { return false } })
    }

    func testFixedStatisticsMustMatchTheChannels() throws {
        XCTAssertThrowsError(try AugmentationStage.pipeline(from: parameters("normalize: fixed"), data: tinyDataArtifact())) { error in
            XCTAssert("\(error)".contains("needs 1 mean and std value(s), one per image channel; got 3 and 3"), "\(error)")
        }
    }

    func testOutOfRangeStepParametersAreRunErrors() throws {
        XCTAssertThrowsError(try AugmentationStage.pipeline(from: parameters("color_jitter: [0.4, 0.4, 0.4, 0.7]"), data: colour())) { error in
            XCTAssert(error is RunError && "\(error)".contains("hue"), "\(error)")
        }
        XCTAssertThrowsError(try planFirstStage(firstStageRecipe(augmentation: "views: 3"))) { error in
            XCTAssert("\(error)".contains("stages.views.views"), "\(error)")
        }
        // A side past the recipe limit is a recipe error naming the key and the range, not an
        // overflow trap in the memory estimate.
        XCTAssertThrowsError(try planFirstStage(firstStageRecipe(augmentation: "size: 4611686018427387904"))) { error in
            XCTAssert("\(error)".contains("stages.views.size") && "\(error)".contains("16384"), "\(error)")
        }
    }
}
