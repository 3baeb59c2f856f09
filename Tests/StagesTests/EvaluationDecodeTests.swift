import Foundation
import XCTest
import Datasets
import Engine
@testable import Stages

/// The fixed evaluation views (Resize, CenterCrop) of image files are decoded at full size even
/// where the list allows a DCT-reduced decode: the run's evaluation, its test curve and `predict`
/// see the same pixels as torchvision's PIL loader.
final class EvaluationDecodeTests: XCTestCase {
    func testEmbeddingDecodesFilesAtFullSize() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sbcl-evaldecode-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        // Four 96 × 96 quality-90 JPEGs with texture (Resize(36) would decode them at 3/8).
        var paths: [String] = []
        for k in 0..<4 {
            let pixels = (0..<(96 * 96 * 3)).map { i -> UInt8 in
                let p = i / 3, y = p / 96, x = p % 96, c = i % 3
                return UInt8((x * (7 + k) + y * 13 + c * 50 + (x * y) % (17 + k)) % 256)
            }
            let path = folder.appendingPathComponent("\(k).jpg").path
            let bytes = try JPEGDecoder.encode(DecodedImage(height: 96, width: 96, channels: 3, pixels: pixels), quality: 90)
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
            paths.append(path)
        }
        var list = ImageFileList(paths: paths, labels: [0, 1, 0, 1], classNames: ["a", "b"], origins: (1...4).map { "test.txt:\($0)" })
        XCTAssertTrue(list.dctScaling)
        let steps = AugmentationStep.evaluationViews(size: 32)
        let pipeline = try AugmentationPipeline(steps: steps)
        var random = AugmentationRandom(keys: [0])
        XCTAssertEqual(pipeline.decodeScale(for: [pipeline.draw(height: 96, width: 96, random: &random)], fullHeight: 96, fullWidth: 96), 3,
                       "the views alone would allow a 3/8 decode")
        let encoder = FrozenEncoder.torchvision(ResNetImageNet(.resnet18, classCount: 2, seed: 0))
        let place = ExecutionPlace.cpu(threads: 2)
        let allowed = try encoder.embed(list, steps: steps, threads: 2, batchSize: 4, place: place).scalars
        let reducible = list
        list.dctScaling = false
        let full = try encoder.embed(list, steps: steps, threads: 2, batchSize: 4, place: place).scalars
        XCTAssertEqual(allowed, full, "evaluation views are decoded at full size")

        // What a reduced decode would have given: other features (so the check above can fail).
        let loader = try BatchLoader(source: reducible, pipeline: pipeline, sampler: Sampler(kind: .sequential, labels: [0, 1, 0, 1], classCount: 2, seed: 0),
                                     batchSize: 4, seed: 0, threads: 2)
        let reducedViews = try loader.batch(at: LoaderPosition(epoch: 0, step: 0))
        let reduced = encoder.features(place.input(reducedViews.images, shape: reducedViews.shape)).scalars
        XCTAssertNotEqual(reduced, full)
    }
}
