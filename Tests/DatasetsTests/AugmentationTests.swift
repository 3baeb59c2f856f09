@testable import Datasets
import Foundation
import XCTest

/// Properties of the torchvision-style augmentations and a few pixels computed by hand (and checked
/// against PIL); `AugmentationParityTests` compares whole images with torchvision's goldens.
final class AugmentationTests: XCTestCase {
    private func randomImage(height: Int, width: Int, channels: Int, seed: UInt64) -> [UInt8] {
        var random = AugmentationRandom(keys: [seed])
        return (0..<(height * width * channels)).map { _ in UInt8(random.below(256)) }
    }

    private func run(_ steps: [AugmentationStep], _ pixels: [UInt8], _ h: Int, _ w: Int, _ c: Int, seed: UInt64 = 1) throws -> WorkImage {
        var random = AugmentationRandom(keys: [seed])
        return try AugmentationPipeline(steps: steps).augmented(pixels, height: h, width: w, channels: c, random: &random)
    }

    func testZeroStrengthIsIdentity() throws {
        let pixels = randomImage(height: 32, width: 32, channels: 3, seed: 3)
        let steps: [AugmentationStep] = [
            .randomResizedCrop(size: 32, scaleMin: 1, scaleMax: 1, ratioMin: 1, ratioMax: 1),
            .horizontalFlip(probability: 0),
            .colorJitter(brightness: 0, contrast: 0, saturation: 0, hue: 0, probability: 1),
            .grayscale(probability: 0),
        ]
        for seed in 0..<5 {
            let out = try run(steps, pixels, 32, 32, 3, seed: UInt64(seed))
            XCTAssertEqual(out.values.count, pixels.count)
            for k in 0..<pixels.count { XCTAssertEqual(out.values[k], Float(pixels[k]) / 255, accuracy: 1e-6) }
        }
    }

    func testFlipTwiceIsIdentityAndOnceMirrors() throws {
        let pixels = randomImage(height: 5, width: 7, channels: 3, seed: 4)
        let twice = try run([.horizontalFlip(probability: 1), .horizontalFlip(probability: 1)], pixels, 5, 7, 3)
        XCTAssertEqual(twice.values, pixels.map { Float($0) / 255 })
        let once = try run([.horizontalFlip(probability: 1)], pixels, 5, 7, 3)
        // Pixel (row 2, column 1) comes from (row 2, column 5).
        for ch in 0..<3 { XCTAssertEqual(once.values[(2 * 7 + 1) * 3 + ch], Float(pixels[(2 * 7 + 5) * 3 + ch]) / 255) }
    }

    func testContrastiveViewShapesAndRanges() throws {
        for (h, w, c) in [(32, 32, 3), (28, 28, 1), (40, 24, 3)] {
            let pixels = randomImage(height: h, width: w, channels: c, seed: 5)
            var steps = AugmentationStep.contrastiveViews(size: 32, mean: [0], std: [1])
            steps.removeLast()
            for seed in 0..<50 {
                let out = try run(steps, pixels, h, w, c, seed: UInt64(seed))
                XCTAssertEqual([out.height, out.width, out.channels], [32, 32, c])
                XCTAssertTrue(out.values.allSatisfy { $0 >= 0 && $0 <= 1 }, "values outside [0, 1]")
            }
        }
    }

    func testCropAreaAndRatioDistribution() {
        var random = AugmentationRandom(keys: [11])
        var smallFractions: [Double] = [], logRatios: [Double] = []
        for _ in 0..<20000 {
            let box = AugmentationPipeline.randomResizedCropBox(height: 256, width: 256, scale: 0.2...1, ratio: (3.0 / 4)...(4.0 / 3), random: &random)
            XCTAssert(box.top >= 0 && box.left >= 0 && box.top + box.height <= 256 && box.left + box.width <= 256)
            let fraction = Double(box.height * box.width) / 65536
            XCTAssert(fraction > 0.19 && fraction <= 1, "area fraction \(fraction)")
            let ratio = Double(box.width) / Double(box.height)
            XCTAssert(ratio > 0.74 && ratio < 1.35, "ratio \(ratio)")
            // Below half the area no attempt is rejected, so area and log-ratio are uniform there.
            if fraction < 0.48 { smallFractions.append(fraction); logRatios.append(log(ratio)) }
        }
        let lowHalf = smallFractions.filter { $0 < 0.34 }.count, highHalf = smallFractions.count - lowHalf
        XCTAssertEqual(Double(lowHalf) / Double(highHalf), 1, accuracy: 0.08)
        let mean = logRatios.reduce(0, +) / Double(logRatios.count)
        let std = (logRatios.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(logRatios.count)).squareRoot()
        XCTAssertEqual(mean, 0, accuracy: 0.01)
        XCTAssertEqual(std, log(16.0 / 9) / 12.0.squareRoot(), accuracy: 0.01)
    }

    func testCropFallsBackToCentre() {
        var random = AugmentationRandom(keys: [1])
        // No crop of a square fits a ratio of 2–3 at full area: torchvision centres a crop of
        // the smallest allowed ratio.
        let box = AugmentationPipeline.randomResizedCropBox(height: 30, width: 30, scale: 1...1, ratio: 2...3, random: &random)
        XCTAssertEqual(box.width, 30)
        XCTAssertEqual(box.height, 15)
        XCTAssertEqual(box.top, 7)
        XCTAssertEqual(box.left, 0)
    }

    func testBilinearUpscaleByHand() throws {
        // A 1×2 gray image [0, 255] enlarged to width 4. Pillow: taps between pixel centres
        // (0, .75·0 + .25·255, .25·0 + .75·255, 255), each rounded to 8 bits: 0, 64, 191, 255.
        let out = try run([.resize(size: 2)], [0, 255], 1, 2, 1)
        XCTAssertEqual([out.height, out.width], [2, 4])
        let row = Array(out.values[0..<4])
        XCTAssertEqual(row, [0, 64, 191, 255].map { Float($0) / 255 })
        XCTAssertEqual(Array(out.values[4..<8]), row)
    }

    func testDownscaleAveragesLikeAntialiasedBilinear() {
        // 1×4 → 1×2: the triangle filter widens to 2 pixels (antialiasing), as PIL does.
        var scratch = AugmentationScratch()
        let px: [UInt8] = [0, 100, 200, 255]
        px.withUnsafeBufferPointer { scratch.front.load($0, height: 1, width: 4, channels: 1) }
        scratch.resizeFront(box: CropBox(top: 0, left: 0, height: 1, width: 4), outHeight: 1, outWidth: 2)
        // Output 0: centre 1, support 2, taps x=0 (w .75), x=1 (w .75), x=2 (w .25) over 1.75:
        // 71.4 → 71; output 1: 209.3 → 209 (PIL gives the same).
        XCTAssertEqual(scratch.front.values, [71, 209])
    }

    func testCropIsCutBeforeResizing() {
        // PIL crops first: the taps of a box never read outside it. A 1×3 box [10, 20, 30] of the
        // row [250, 10, 20, 30, 250] enlarged to 6: the edges repeat 10 and 30, never 250.
        var scratch = AugmentationScratch()
        let px: [UInt8] = [250, 10, 20, 30, 250]
        px.withUnsafeBufferPointer { scratch.front.load($0, height: 1, width: 5, channels: 1) }
        scratch.resizeFront(box: CropBox(top: 0, left: 1, height: 1, width: 3), outHeight: 1, outWidth: 6)
        XCTAssertEqual(scratch.front.values, [10, 13, 18, 23, 28, 30])
    }

    func testColorAdjustmentsByHand() {
        // Values from PIL 13 via torchvision's functional_pil on the 1×2 image [red, blue].
        var image = ByteImage()
        let px: [UInt8] = [255, 0, 0, 0, 0, 255]
        px.withUnsafeBufferPointer { image.load($0, height: 1, width: 2, channels: 3) }
        var hue = image
        ColorAdjust.hue(&hue, shift: 0.5) // hue byte + 127, through PIL's 8-bit HSV
        XCTAssertEqual(hue.values, [0, 255, 252, 255, 246, 0])
        var bright = image
        ColorAdjust.brightness(&bright, factor: 0.5) // 127.5 truncated, as Image.blend does
        XCTAssertEqual(bright.values, [127, 0, 0, 0, 0, 127])
        var gray = image
        ColorAdjust.grayscale(&gray) // (19595·255 + 2^15) >> 16 = 76, (7471·255 + 2^15) >> 16 = 29
        XCTAssertEqual(gray.values, [76, 76, 76, 29, 29, 29])
        var contrast = image
        ColorAdjust.contrast(&contrast, factor: 0) // every value becomes int(mean luma 52.5 + 0.5)
        XCTAssertEqual(contrast.values, [53, 53, 53, 53, 53, 53])
        var saturation = image
        ColorAdjust.saturation(&saturation, factor: 2) // 2·x − gray, clipped
        XCTAssertEqual(saturation.values, px)
        // One channel: saturation and hue do nothing, as in torchvision.
        var single = ByteImage()
        [UInt8(51)].withUnsafeBufferPointer { single.load($0, height: 1, width: 1, channels: 1) }
        ColorAdjust.saturation(&single, factor: 0)
        ColorAdjust.hue(&single, shift: 0.3)
        XCTAssertEqual(single.values, [51])
    }

    func testHueShiftOfZeroKeepsGreysAndPrimaries() {
        // PIL's 8-bit HSV loses precision in general, but not on greys (s = 0) or pure primaries.
        var image = ByteImage()
        let px: [UInt8] = [0, 0, 0, 77, 77, 77, 255, 255, 255, 255, 0, 0, 0, 255, 0, 0, 0, 255]
        px.withUnsafeBufferPointer { image.load($0, height: 1, width: 6, channels: 3) }
        ColorAdjust.hue(&image, shift: 0)
        XCTAssertEqual(image.values, px)
    }

    func testDrawThenApplyIsTheRandomPath() throws {
        // augment(random:) is draw followed by apply: the same view from the same generator.
        let pixels = randomImage(height: 32, width: 32, channels: 3, seed: 12)
        let pipeline = try AugmentationPipeline(steps: AugmentationStep.contrastiveViews(size: 32, mean: [0.5], std: [0.25]))
        for seed in 0..<10 {
            var a = AugmentationRandom(keys: [UInt64(seed)]), b = a
            let direct = pipeline.augmented(pixels, height: 32, width: 32, channels: 3, random: &a)
            let parameters = pipeline.draw(height: 32, width: 32, random: &b)
            XCTAssertEqual(parameters.steps.count, 5)
            let fed = pipeline.augmented(pixels, height: 32, width: 32, channels: 3, parameters: parameters)
            XCTAssertEqual(direct.values, fed.values)
            XCTAssertEqual(a, b, "draw consumed a different number of random values than augment")
        }
    }

    func testRandomCropIsAWindowOfThePaddedImage() throws {
        let pixels = randomImage(height: 6, width: 6, channels: 1, seed: 9)
        for seed in 0..<20 {
            let out = try run([.randomCrop(size: 6, padding: 2)], pixels, 6, 6, 1, seed: UInt64(seed))
            var found = false
            for dy in -2...2 { for dx in -2...2 {
                var same = true
                for y in 0..<6 { for x in 0..<6 {
                    let sy = y + dy, sx = x + dx
                    let expected: Float = (0..<6).contains(sy) && (0..<6).contains(sx) ? Float(pixels[sy * 6 + sx]) / 255 : 0
                    if out.values[y * 6 + x] != expected { same = false }
                } }
                if same { found = true }
            } }
            XCTAssertTrue(found, "seed \(seed): not a window of the zero-padded image")
        }
    }

    func testNormalizeAndCentreCropByHand() throws {
        let pixels: [UInt8] = (0..<16).map { UInt8($0 * 10) }
        let out = try run([.centerCrop(size: 2), .normalize(mean: [0.1], std: [0.5])], pixels, 4, 4, 1)
        // Centre 2×2 of a 4×4 image: rows 1–2, columns 1–2 → values 50, 60, 90, 100.
        let expected = [50, 60, 90, 100].map { (Float($0) / 255 - 0.1) / 0.5 }
        for (a, b) in zip(out.values, expected) { XCTAssertEqual(a, b, accuracy: 1e-6) }
    }

    func testBadParametersAreThrown() {
        assertDatasetError(.badParameter, ["probability"]) { try AugmentationPipeline(steps: [.horizontalFlip(probability: 2)]) }
        assertDatasetError(.badParameter, ["last"]) {
            try AugmentationPipeline(steps: [.normalize(mean: [0], std: [1]), .grayscale(probability: 0.1)])
        }
        assertDatasetError(.badParameter, ["views"]) { try AugmentationPipeline(steps: [], views: 3) }
        assertDatasetError(.badParameter, ["hue"]) {
            try AugmentationPipeline(steps: [.colorJitter(brightness: 0, contrast: 0, saturation: 0, hue: 0.7, probability: 1)])
        }
    }
}
