@testable import Datasets
import Foundation
import XCTest

/// Properties of the torchvision-style augmentations and a few pixels computed by hand.
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
        // A 1×2 gray image [0, 255] enlarged to width 4: PIL/torch bilinear gives 0, .25, .75, 1.
        let out = try run([.resize(size: 2)], [0, 255], 1, 2, 1)
        XCTAssertEqual([out.height, out.width], [2, 4])
        let row = Array(out.values[0..<4])
        for (a, b) in zip(row, [0, 0.25, 0.75, 1] as [Float]) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        XCTAssertEqual(Array(out.values[4..<8]), row)
    }

    func testDownscaleAveragesLikeAntialiasedBilinear() throws {
        // 1×4 → 1×2: the triangle filter widens to 2 pixels (antialiasing), as PIL does.
        var scratch = AugmentationScratch()
        let px: [UInt8] = [0, 100, 200, 255]
        px.withUnsafeBufferPointer { scratch.front.load($0, height: 1, width: 4, channels: 1) }
        scratch.resampleFront(x0: 0, y0: 0, x1: 4, y1: 1, outHeight: 1, outWidth: 2)
        // Output 0: centre 1, support 2, taps x=0 (w .75), x=1 (w .75), x=2 (w .25); normalised by 1.75.
        XCTAssertEqual(scratch.front.values[0], (0.75 * 0 + 0.75 * 100 + 0.25 * 200) / 1.75 / 255, accuracy: 1e-6)
        XCTAssertEqual(scratch.front.values[1], (0.25 * 100 + 0.75 * 200 + 0.75 * 255) / 1.75 / 255, accuracy: 1e-6)
    }

    func testColorAdjustmentsByHand() {
        var image = WorkImage()
        let px: [UInt8] = [255, 0, 0, 0, 0, 255] // red, blue
        px.withUnsafeBufferPointer { image.load($0, height: 1, width: 2, channels: 3) }
        var hue = image
        ColorAdjust.hue(&hue, shift: 1.0 / 3) // red → green, blue → red
        for (a, b) in zip(hue.values, [0, 1, 0, 1, 0, 0] as [Float]) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        var bright = image
        ColorAdjust.brightness(&bright, factor: 0.5)
        XCTAssertEqual(bright.values, [0.5, 0, 0, 0, 0, 0.5])
        var gray = image
        ColorAdjust.grayscale(&gray)
        XCTAssertEqual(gray.values[0], 0.2989, accuracy: 1e-6)
        XCTAssertEqual(gray.values[1], 0.2989, accuracy: 1e-6)
        XCTAssertEqual(gray.values[5], 0.114, accuracy: 1e-6)
        var contrast = image
        ColorAdjust.contrast(&contrast, factor: 0) // every value becomes the mean luma
        let meanLuma: Float = (0.2989 + 0.114) / 2
        for v in contrast.values { XCTAssertEqual(v, meanLuma, accuracy: 1e-6) }
        var saturation = image
        ColorAdjust.saturation(&saturation, factor: 2) // 2·x − gray, clamped
        XCTAssertEqual(saturation.values[0], 1, accuracy: 1e-6)
        XCTAssertEqual(saturation.values[1], 0, accuracy: 1e-6)
        // One channel: saturation and hue do nothing, as in torchvision.
        var single = WorkImage()
        [UInt8(51)].withUnsafeBufferPointer { single.load($0, height: 1, width: 1, channels: 1) }
        ColorAdjust.saturation(&single, factor: 0)
        ColorAdjust.hue(&single, shift: 0.3)
        XCTAssertEqual(single.values, [Float(51) / 255])
    }

    func testHSVRoundTrip() {
        var random = AugmentationRandom(keys: [8])
        for _ in 0..<1000 {
            let r = Float(random.uniform()), g = Float(random.uniform()), b = Float(random.uniform())
            let (h, s, v) = ColorAdjust.rgbToHSV(r, g, b)
            let back = ColorAdjust.hsvToRGB(h, s, v)
            XCTAssertEqual(back.0, r, accuracy: 1e-5)
            XCTAssertEqual(back.1, g, accuracy: 1e-5)
            XCTAssertEqual(back.2, b, accuracy: 1e-5)
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
