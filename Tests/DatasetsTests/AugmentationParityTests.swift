@testable import Datasets
import Foundation
import XCTest

/// Our views against torchvision's PIL path with the same parameters: the goldens of
/// `scripts/fidelity/augment_reference.py` (torch 2.15, torchvision 0.29, Pillow 13.0), made by
/// `torchvision.transforms.functional` on PIL images of real Fashion-MNIST digits and synthetic
/// colour images (32 × 32, 29 × 37, 48 × 64, 16 × 16).
///
/// The contract is max |diff| ≤ 1/255 on the [0, 1] scale; what we measure is exact equality of
/// every value (the uint8 outputs), so the tests assert that too and print the counts.
final class AugmentationParityTests: XCTestCase {
    private struct Agreement: CustomStringConvertible {
        var values = 0, exact = 0
        var maxDiff: Float = 0

        mutating func add(_ ours: [Float], _ expected: [Float]) {
            for (a, b) in zip(ours, expected) {
                values += 1
                if a == b { exact += 1 }
                maxDiff = max(maxDiff, abs(a - b))
            }
        }

        var description: String {
            "\(exact) of \(values) values exactly equal, max |diff| \(maxDiff) (\(maxDiff * 255) / 255)"
        }
    }

    private static let ops = Result { try SafeTensorsFile("augment/ops.safetensors") }

    private func image(_ file: SafeTensorsFile, _ index: Int) -> (pixels: [UInt8], height: Int, width: Int, channels: Int) {
        let shape = file.shape("image_\(index)")
        return (file.bytes("image_\(index)"), shape[0], shape[1], shape[2])
    }

    /// Each op (crop + resize, flip, brightness, contrast, saturation, hue, grayscale) and jitter
    /// orders, with torchvision's parameters, as uint8 / 255 (`ToTensor` without `Normalize`).
    func testEachOpMatchesTorchvisionPIL() throws {
        let file = try Self.ops.get()
        let cases = try file.metadata("cases", as: [AugmentReference.OpCase].self)
        XCTAssertGreaterThan(cases.count, 250)
        var byOp: [String: Agreement] = [:], all = Agreement()
        for (k, c) in cases.enumerated() {
            let (pixels, h, w, ch) = image(file, c.image)
            let (pipeline, parameters) = try AugmentReference.pipeline(for: c.steps)
            let out = pipeline.augmented(pixels, height: h, width: w, channels: ch, parameters: parameters)
            XCTAssertEqual([out.height, out.width, out.channels], file.shape(c.output), "case \(k)")
            let expected = file.bytes(c.output).map { Float($0) / 255 }
            var agreement = Agreement()
            agreement.add(out.values, expected)
            XCTAssertLessThanOrEqual(agreement.maxDiff, 1.0 / 255 + 1e-7, "case \(k) \(c.steps.map(\.op)) on image \(c.image): \(agreement)")
            XCTAssertEqual(agreement.exact, agreement.values, "case \(k) \(c.steps.map(\.op)) \(c.steps.map { $0.factor ?? 0 }) on image \(c.image): \(agreement)")
            let name = c.steps.count > 1 ? "jitter order" : c.steps[0].op
            byOp[name, default: Agreement()].add(out.values, expected)
            all.add(out.values, expected)
        }
        for (name, agreement) in byOp.sorted(by: { $0.key < $1.key }) { print("augment parity \(name): \(agreement)") }
        print("augment parity, all \(cases.count) op cases: \(all)")
    }

    /// Whole first-stage views (Fashion-MNIST: crop 28, flip, ColorJitter(0.4, 0.4) p 0.8; RGB:
    /// crop 32, flip, ColorJitter(0.4, 0.4, 0.4, 0.1) p 0.8, grayscale 0.2) with the parameters
    /// torchvision drew (the script checks that feeding them through F equals the composed
    /// transform), before `ToTensor` and, for one view per image, after `Normalize`.
    func testComposedViewsMatchTorchvisionPIL() throws {
        let file = try Self.ops.get()
        let chains = try file.metadata("chains", as: [AugmentReference.Chain].self)
        XCTAssertGreaterThanOrEqual(chains.count, 60)
        var bytes = Agreement(), normalized = Agreement()
        var normalizedViews = 0
        for (k, chain) in chains.enumerated() {
            let (pixels, h, w, ch) = image(file, chain.image)
            let (plain, drawn) = try AugmentReference.pipeline(for: chain, normalize: false)
            let out = plain.augmented(pixels, height: h, width: w, channels: ch, parameters: drawn)
            let expected = file.bytes(chain.output + "_u8").map { Float($0) / 255 }
            var agreement = Agreement()
            agreement.add(out.values, expected)
            XCTAssertEqual(agreement.exact, agreement.values, "chain \(k) (image \(chain.image), \(chain.parameters)): \(agreement)")
            XCTAssertLessThanOrEqual(agreement.maxDiff, 1.0 / 255 + 1e-7, "chain \(k): \(agreement)")
            bytes.add(out.values, expected)
            guard file.entries[chain.output] != nil else { continue }
            normalizedViews += 1
            let (full, sameDraws) = try AugmentReference.pipeline(for: chain, normalize: true)
            let view = full.augmented(pixels, height: h, width: w, channels: ch, parameters: sameDraws)
            let torchView = file.floats(chain.output)
            var n = Agreement()
            n.add(view.values, torchView)
            // Same Float operations as torch ((x / 255 − mean) / std): equal to the last bit.
            XCTAssertEqual(n.exact, n.values, "normalised chain \(k): \(n)")
            normalized.add(view.values, torchView)
        }
        XCTAssertGreaterThanOrEqual(normalizedViews, 10)
        print("augment parity, \(chains.count) composed views before ToTensor: \(bytes)")
        print("augment parity, \(normalizedViews) normalised views: \(normalized.exact) of \(normalized.values) values exactly equal, max |diff| \(normalized.maxDiff)")
    }

    /// Pillow's RGB → HSV, HSV → RGB and RGB → L conversions (the arithmetic of hue, saturation,
    /// contrast and grayscale) over all 2^24 inputs, against checksums of Pillow's outputs.
    func testColourConversionsMatchPillowOnEveryInput() throws {
        struct Sums: Decodable {
            var rgb_to_hsv: String, hsv_to_rgb: String, rgb_to_l: String
        }
        let expected = try Self.ops.get().metadata("exhaustive", as: Sums.self)
        var toHSV: UInt64 = 0, toRGB: UInt64 = 0, toL: UInt64 = 0
        // sum_k byte_k · (2654435761 k + 1) mod 2^64, k the byte's index in the row-major output.
        @inline(__always) func add(_ sum: inout UInt64, _ k: Int, _ byte: UInt8) {
            sum &+= UInt64(byte) &* (UInt64(k) &* 2_654_435_761 &+ 1)
        }
        for p in 0..<(1 << 24) {
            let x = UInt8(p >> 16), y = UInt8((p >> 8) & 255), z = UInt8(p & 255)
            let hsv = PILHSV.fromRGB(x, y, z), rgb = PILHSV.toRGB(x, y, z)
            add(&toHSV, 3 * p, hsv.0); add(&toHSV, 3 * p + 1, hsv.1); add(&toHSV, 3 * p + 2, hsv.2)
            add(&toRGB, 3 * p, rgb.0); add(&toRGB, 3 * p + 1, rgb.1); add(&toRGB, 3 * p + 2, rgb.2)
            add(&toL, p, UInt8(ColorAdjust.luma(x, y, z)))
        }
        XCTAssertEqual(String(toHSV), expected.rgb_to_hsv, "RGB → HSV differs from Pillow's somewhere")
        XCTAssertEqual(String(toRGB), expected.hsv_to_rgb, "HSV → RGB differs from Pillow's somewhere")
        XCTAssertEqual(String(toL), expected.rgb_to_l, "RGB → L differs from Pillow's somewhere")
    }
}
