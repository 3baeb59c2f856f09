@testable import Datasets
import Foundation
import XCTest

/// Decoding reduced in the DCT for the views' needs, against decoding at full size, on a
/// realistic 375 × 500 quality-90 JPEG (a Fashion-MNIST-based photo upscaled): how much the
/// pixels differ, and that the scale chosen is the smallest that keeps every box ≥ the output.
final class DecodeScaleTests: XCTestCase {
    /// A 375 × 500 RGB JPEG made from the colourised fixture photo (Pillow-exact bilinear upscale).
    static func realisticJPEG() throws -> (bytes: [UInt8], full: DecodedImage) {
        let file = try MocoReference.ops.get()
        let photo = MocoReference.image(file, "photo_a")
        let up = try AugmentationPipeline(steps: [.resize(size: 375)])
        let image = up.augmented(photo.pixels, height: photo.height, width: photo.width, channels: 3, parameters: AugmentationParameters(steps: [.fixed]))
        let pixels = image.values.map { UInt8(($0 * 255).rounded()) }
        let bytes = try JPEGDecoder.encode(DecodedImage(height: image.height, width: image.width, channels: 3, pixels: pixels), quality: 90)
        return (bytes, try JPEGDecoder.decode(bytes, path: "photo.jpg"))
    }

    private func compare(_ steps: [AugmentationStep], views: Int, label: String) throws -> (Agreement, [Int]) {
        let (bytes, full) = try Self.realisticJPEG()
        XCTAssertEqual([full.height, full.width], [375, 500])
        let pipeline = try AugmentationPipeline(steps: steps)
        var agreement = Agreement(), scales = [Int](repeating: 0, count: 9)
        for k in 0..<views {
            var random = AugmentationRandom(keys: [5, UInt64(k)])
            let drawn = pipeline.draw(height: 375, width: 500, random: &random)
            let m = pipeline.decodeScale(for: [drawn], fullHeight: 375, fullWidth: 500)
            scales[m] += 1
            let reference = pipeline.augmented(full.pixels, height: 375, width: 500, channels: 3, parameters: drawn)
            let small = try JPEGDecoder.decode(bytes, path: "photo.jpg", scaleNumerator: m)
            let mapped = pipeline.mapped(drawn, fullHeight: 375, fullWidth: 500, height: small.height, width: small.width)
            if m < 8, case let .crop(box)? = mapped.steps.first, case let .randomResizedCrop(size, _, _, _, _)? = steps.first {
                XCTAssertGreaterThanOrEqual(min(box.height, box.width), size, "view \(k) at \(m)/8")
                // One step smaller would not fit.
                if m > 1 {
                    let h = JPEGDecoder.scaledSide(375, numerator: m - 1), w = JPEGDecoder.scaledSide(500, numerator: m - 1)
                    guard case let .crop(original)? = drawn.steps.first else { return (agreement, scales) }
                    let smaller = AugmentationPipeline.mapBox(original, fullHeight: 375, fullWidth: 500, height: h, width: w)
                    XCTAssertLessThan(min(smaller.height, smaller.width), size, "view \(k): \(m - 1)/8 would have fitted")
                }
            }
            let ours = pipeline.augmented(small.pixels, height: small.height, width: small.width, channels: 3, parameters: mapped)
            if m < 8 { agreement.add(ours.values.map { $0 * 255 }, reference.values.map { $0 * 255 }) }
        }
        print("DCT scaling \(label): scales used (M: count) \((1...8).filter { scales[$0] > 0 }.map { "\($0)/8: \(scales[$0])" }.joined(separator: ", ")); reduced views vs full decode (0–255 scale): \(agreement)")
        return (agreement, scales)
    }

    /// MoCo v2 views at 112 (the crop's box is often 2–4× the output): reduced decodes differ
    /// from full ones by about one level on average (the DCT's low-pass is not Pillow's triangle,
    /// and the mapped box moves by up to half a reduced pixel); measured 1.04 mean, 40 max.
    func testMocoViewsAtReducedScaleStayClose() throws {
        let steps: [AugmentationStep] = [.randomResizedCrop(size: 112, scaleMin: 0.2, scaleMax: 1, ratioMin: 0.75, ratioMax: 4.0 / 3)]
        let (agreement, scales) = try compare(steps, views: 120, label: "random_resized_crop 112")
        XCTAssertGreaterThan(scales[1..<8].reduce(0, +), 60, "most views should decode reduced")
        XCTAssertLessThan(agreement.meanDiff, 2.0, "\(agreement)")
    }

    /// Resize(128) + CenterCrop(112) of a 375 × 500 image decodes at 3/8 (141 × 188, shorter side ≥ 128).
    func testEvaluationViewDecodesReduced() throws {
        let steps = AugmentationStep.evaluationViews(size: 112, resize: 128).dropLast()
        let (agreement, scales) = try compare(Array(steps), views: 1, label: "resize 128 + center_crop 112")
        XCTAssertEqual(scales[3], 1)
        XCTAssertLessThan(agreement.meanDiff, 2.0, "\(agreement)")
    }

    /// Through the loader: a file list decodes reduced, one with `dctScaling` off at full size; both
    /// give views of the right shape and the same draws (so the views stay close).
    func testLoaderUsesReducedDecoding() throws {
        let (bytes, _) = try Self.realisticJPEG()
        let root = try temporaryFolder(self)
        let path = root + "/photo.jpg"
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        var list = ImageFileList(paths: Array(repeating: path, count: 8), labels: [Int32](repeating: 0, count: 8), classNames: ["a"],
                                 origins: (1...8).map { "list.txt:\($0)" })
        let pipeline = try AugmentationPipeline(steps: AugmentationStep.mocoV2Views(size: 64), views: 2)
        let sampler = Sampler(kind: .sequential, labels: list.labels, classCount: 1, seed: 0)
        let reduced = try BatchLoader(source: list, pipeline: pipeline, sampler: sampler, batchSize: 8, seed: 4).batch(at: LoaderPosition(epoch: 0, step: 0))
        list.dctScaling = false
        let fullSize = try BatchLoader(source: list, pipeline: pipeline, sampler: sampler, batchSize: 8, seed: 4).batch(at: LoaderPosition(epoch: 0, step: 0))
        XCTAssertEqual(reduced.shape, [16, 64, 64, 3])
        XCTAssertNotEqual(reduced.images, fullSize.images)
        let meanAbs = zip(reduced.images, fullSize.images).map { Double(abs($0 - $1)) }.reduce(0, +) / Double(reduced.images.count)
        // Normalised units: 1/255 / std ≈ 0.0175 per level.
        print(String(format: "DCT scaling through the loader: mean |diff| %.4f normalised (≈ %.2f levels)", meanAbs, meanAbs * 0.226 * 255))
        XCTAssertLessThan(meanAbs, 0.1)
    }
}
