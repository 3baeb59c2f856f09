@testable import Datasets
import Foundation
import XCTest

/// Our MoCo v2 / linear-stage draws against torchvision's (10,000 each,
/// `Fixtures/moco/moco_draws.safetensors`, torch.manual_seed(2024), random.seed(2024)) on a
/// 375 × 500 image, ImageNet's typical size: RandomResizedCrop box area fractions and aspect
/// ratios at scale (0.2, 1) and (0.08, 1), and the blur's σ. Two-sample Kolmogorov–Smirnov,
/// rejected at α = 0.001 above 1.9495 · sqrt((n + m) / (n · m)) (0.0276 for n = m = 10,000);
/// the blur's apply rate against 1/2 within 4 binomial standard deviations. Our generator is
/// seeded, so the outcome is fixed, not flaky.
final class MocoDistributionTests: XCTestCase {
    private let samples = 10000

    private func assertSame(_ name: String, _ ours: [Double], _ theirs: [Double]) {
        let d = AugmentationDistributionTests.kolmogorovSmirnov(ours, theirs)
        let limit = AugmentationDistributionTests.ksThreshold(ours.count, theirs.count)
        print(String(format: "moco draws %@: KS D = %.4f (reject above %.4f)", name, d, limit))
        XCTAssertLessThanOrEqual(d, limit, "\(name): KS D \(d) > \(limit)")
    }

    private func uint16Pairs(_ file: SafeTensorsFile, _ name: String) -> [(Int, Int)] {
        let entry = file.entries[name]!
        XCTAssertEqual(entry.dtype, "U16")
        let raw = file.raw(name)
        func word(_ k: Int) -> Int { Int(raw[k]) | (Int(raw[k + 1]) << 8) }
        return stride(from: 0, to: raw.count, by: 4).map { k in (word(k), word(k + 2)) }
    }

    func testCropAreasAndRatiosMatchTorchvision() throws {
        let file = try MocoReference.draws.get()
        for (name, steps) in [("crop_moco", AugmentationStep.mocoV2Views(size: 224)),
                              ("crop_linear", AugmentationStep.linearTrainingViews(size: 224))] {
            let pipeline = try AugmentationPipeline(steps: steps)
            let theirs = uint16Pairs(file, name)
            XCTAssertEqual(theirs.count, samples)
            var ours: [(Int, Int)] = []
            for k in 0..<samples {
                var random = AugmentationRandom(keys: [77, UInt64(k)])
                guard case let .crop(box) = pipeline.draw(height: 375, width: 500, random: &random).steps[0] else { return XCTFail() }
                ours.append((box.height, box.width))
            }
            let area: ((Int, Int)) -> Double = { Double($0.0 * $0.1) / (375 * 500) }
            let ratio: ((Int, Int)) -> Double = { Double($0.1) / Double($0.0) }
            assertSame("\(name) area", ours.map(area), theirs.map(area))
            assertSame("\(name) ratio", ours.map(ratio), theirs.map(ratio))
        }
    }

    func testBlurSigmaAndApplyRateMatchTorchvision() throws {
        let file = try MocoReference.draws.get()
        let theirs = file.floats("blur_sigma").map(Double.init)
        let pipeline = try AugmentationPipeline(steps: AugmentationStep.mocoV2Views(size: 32))
        var ours: [Double] = []
        for k in 0..<samples {
            var random = AugmentationRandom(keys: [78, UInt64(k)])
            guard case let .blur(sigma) = pipeline.draw(height: 40, width: 40, random: &random).steps[3] else { return XCTFail() }
            ours.append(sigma ?? -1)
        }
        let applied = ours.filter { $0 >= 0 }, theirsApplied = theirs.filter { $0 >= 0 }
        let bound = 4 * (Double(samples) * 0.25).squareRoot()
        print("moco draws blur applied: ours \(applied.count), torchvision \(theirsApplied.count) of \(samples) (expected 5000 ± \(Int(bound)))")
        XCTAssertLessThanOrEqual(abs(Double(applied.count) - 5000), bound)
        XCTAssertLessThanOrEqual(abs(Double(theirsApplied.count) - 5000), bound)
        XCTAssertTrue(applied.allSatisfy { (0.1...2).contains($0) })
        assertSame("blur sigma", applied, theirsApplied)
    }
}
