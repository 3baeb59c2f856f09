@testable import Datasets
import Foundation
import XCTest

/// The MoCo v2 / ImageNet-LT augmentations against torchvision 0.29's PIL path (Pillow 13.0) with
/// the same parameters, on arbitrary-size RGB images (`Fixtures/moco`, written by
/// `scripts/fidelity/moco_augment_reference.py`): Pillow's GaussianBlur (extended box blurs),
/// Resize of the shorter side with Pillow's antialiasing + CenterCrop, resized_crop to small
/// outputs, and whole views (MoCo v2, linear training, evaluation) with torchvision's draws.
///
/// The contract is max |diff| ≤ 1/255 per value; every op reproduces Pillow's integer arithmetic,
/// so the tests assert exact equality of the uint8 images and print the counts.
final class MocoAugmentParityTests: XCTestCase {
    func testEachOpMatchesTorchvisionPIL() throws {
        let file = try MocoReference.ops.get()
        let cases = try file.metadata("cases", as: [MocoReference.OpCase].self)
        XCTAssertGreaterThanOrEqual(cases.count, 30)
        var byOp: [String: Agreement] = [:]
        for (k, c) in cases.enumerated() {
            let image = MocoReference.image(file, c.image)
            var steps: [AugmentationStep] = [], drawn: [AugmentationStepParameters] = []
            for s in c.steps {
                switch s.op {
                case "blur":
                    steps.append(.gaussianBlur(sigmaMin: 0.1, sigmaMax: 2, probability: 1)); drawn.append(.blur(s.sigma!))
                case "resize": steps.append(.resize(size: s.size!)); drawn.append(.fixed)
                case "center_crop": steps.append(.centerCrop(size: s.size!)); drawn.append(.fixed)
                default:
                    steps.append(.randomResizedCrop(size: s.size!, scaleMin: 0.2, scaleMax: 1, ratioMin: 0.75, ratioMax: 4.0 / 3))
                    drawn.append(.crop(CropBox(top: s.top!, left: s.left!, height: s.height!, width: s.width!)))
                }
            }
            let pipeline = try AugmentationPipeline(steps: steps)
            let out = pipeline.augmented(image.pixels, height: image.height, width: image.width, channels: 3,
                                         parameters: AugmentationParameters(steps: drawn))
            XCTAssertEqual([out.height, out.width, out.channels], file.shape(c.output), "case \(k)")
            var agreement = Agreement()
            agreement.add(out.values.map { ($0 * 255).rounded() }, file.bytes(c.output).map(Float.init))
            XCTAssertEqual(agreement.exact, agreement.values, "case \(k) \(c.steps.map(\.op)) σ \(c.steps[0].sigma ?? 0) on \(c.image): \(agreement)")
            byOp[c.steps.map(\.op).joined(separator: "+"), default: Agreement()].add(out.values.map { ($0 * 255).rounded() },
                                                                                      file.bytes(c.output).map(Float.init))
        }
        for (name, agreement) in byOp.sorted(by: { $0.key < $1.key }) { print("moco parity \(name) (0–255 scale): \(agreement)") }
    }

    /// Whole views with torchvision's own draws: the uint8 image before `ToTensor`, and for every
    /// sixth view the normalised Float view (ToTensor + Normalize in Float: within 1 ulp-level 1e-6).
    func testComposedViewsMatchTorchvisionPIL() throws {
        let file = try MocoReference.ops.get()
        let chains = try file.metadata("chains", as: [MocoReference.Chain].self)
        XCTAssertEqual(chains.count, 24)
        var byKind: [String: Agreement] = [:]
        var blurred = 0
        for (k, chain) in chains.enumerated() {
            let image = MocoReference.image(file, chain.image)
            let (plain, drawn) = try MocoReference.pipeline(for: chain, normalize: false)
            let out = plain.augmented(image.pixels, height: image.height, width: image.width, channels: 3, parameters: drawn)
            var agreement = Agreement()
            agreement.add(out.values.map { ($0 * 255).rounded() }, file.bytes(chain.output + "_u8").map(Float.init))
            XCTAssertEqual(agreement.exact, agreement.values, "chain \(k) (\(chain.kind), \(chain.parameters)): \(agreement)")
            byKind[chain.kind, default: Agreement()].add(out.values.map { ($0 * 255).rounded() }, file.bytes(chain.output + "_u8").map(Float.init))
            if chain.parameters.sigma != nil { blurred += 1 }
            if chain.normalized {
                let (full, parameters) = try MocoReference.pipeline(for: chain, normalize: true)
                let view = full.augmented(image.pixels, height: image.height, width: image.width, channels: 3, parameters: parameters)
                assertAllCloseFloats(view.values, file.floats(chain.output), atol: 1e-6, "chain \(k) normalised")
            }
        }
        XCTAssertGreaterThan(blurred, 2, "the fixture should exercise the blur inside whole views")
        for (kind, agreement) in byKind.sorted(by: { $0.key < $1.key }) { print("moco parity view \(kind) (0–255 scale): \(agreement)") }
    }

    private func assertAllCloseFloats(_ a: [Float], _ b: [Float], atol: Float, _ message: String) {
        XCTAssertEqual(a.count, b.count, message)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, atol, "\(message): max |diff| \(worst)")
    }

    /// Pillow's box radius for σ (three passes): spot values from the formula's paper figures.
    func testBoxRadiusOfPillow() {
        XCTAssertEqual(PILGaussianBlur.boxRadius(0), 0)
        // σ = 2: σ² / 3 = 4/3, L = sqrt(17), l = 1, r = 1 + 3·(2 − 4) / (6·(4/3 − 4)) = 1.375.
        XCTAssertEqual(PILGaussianBlur.boxRadius(2), 1.375, accuracy: 1e-6)
    }
}
