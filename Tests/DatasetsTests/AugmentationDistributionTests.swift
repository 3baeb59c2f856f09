@testable import Datasets
import Foundation
import XCTest

/// Our random draws against torchvision's (20,000 each, `Fixtures/augment/draws.safetensors`,
/// written by `scripts/fidelity/augment_reference.py` under torch.manual_seed(2023)).
///
/// Continuous quantities: the two-sample Kolmogorov–Smirnov statistic D, rejected at α = 0.001
/// when D > c · sqrt((n + m) / (n · m)) with c = sqrt(−ln(α / 2) / 2) = 1.9495 (0.0195 for
/// n = m = 20,000; conservative for the crop's integer boxes). The jitter order: a chi-square
/// test of homogeneity of the 24 permutation counts, 23 degrees of freedom, rejected at
/// α = 0.001 above 49.73. Our generator is seeded, so the outcome is fixed, not flaky.
final class AugmentationDistributionTests: XCTestCase {
    private static let draws = Result { try SafeTensorsFile("augment/draws.safetensors") }
    private let samples = 20000

    /// The two-sample Kolmogorov–Smirnov statistic: the largest gap between the empirical CDFs.
    static func kolmogorovSmirnov(_ a: [Double], _ b: [Double]) -> Double {
        let x = a.sorted(), y = b.sorted()
        var i = 0, j = 0, d = 0.0
        while i < x.count && j < y.count {
            let v = min(x[i], y[j])
            while i < x.count && x[i] <= v { i += 1 }
            while j < y.count && y[j] <= v { j += 1 }
            d = max(d, abs(Double(i) / Double(x.count) - Double(j) / Double(y.count)))
        }
        return d
    }

    static func ksThreshold(_ n: Int, _ m: Int, alpha: Double = 0.001) -> Double {
        (-log(alpha / 2) / 2).squareRoot() * (Double(n + m) / Double(n * m)).squareRoot()
    }

    private func assertSameDistribution(_ name: String, _ ours: [Double], _ theirs: [Double],
                                        file: StaticString = #filePath, line: UInt = #line) {
        let d = Self.kolmogorovSmirnov(ours, theirs), limit = Self.ksThreshold(ours.count, theirs.count)
        print(String(format: "augment draws %@: KS D = %.4f (reject above %.4f)", name, d, limit))
        XCTAssertLessThanOrEqual(d, limit, "\(name): KS D \(d) > \(limit) — our draws differ from torchvision's", file: file, line: line)
    }

    func testCropBoxesMatchTorchvision() throws {
        let file = try Self.draws.get()
        for side in [28, 32] {
            let theirs = file.bytes("crop_\(side)")  // height, width per box
            XCTAssertEqual(theirs.count, 2 * samples)
            var random = AugmentationRandom(keys: [0xC0_0B, UInt64(side)])
            var ourArea: [Double] = [], ourRatio: [Double] = []
            for _ in 0..<samples {
                let box = AugmentationPipeline.randomResizedCropBox(height: side, width: side, scale: 0.2...1,
                                                                    ratio: 0.75...(4.0 / 3), random: &random)
                ourArea.append(Double(box.height * box.width) / Double(side * side))
                ourRatio.append(log(Double(box.width) / Double(box.height)))
            }
            let theirArea = (0..<samples).map { Double(Int(theirs[2 * $0]) * Int(theirs[2 * $0 + 1])) / Double(side * side) }
            let theirRatio = (0..<samples).map { log(Double(theirs[2 * $0 + 1]) / Double(theirs[2 * $0])) }
            assertSameDistribution("crop \(side)×\(side) area fraction", ourArea, theirArea)
            assertSameDistribution("crop \(side)×\(side) log aspect ratio", ourRatio, theirRatio)
        }
    }

    func testJitterDrawsMatchTorchvision() throws {
        let file = try Self.draws.get()
        let factors = file.floats("jitter_factors").map(Double.init)  // brightness, contrast, saturation, hue
        let orders = file.bytes("jitter_order")                        // rank among the 24 permutations
        XCTAssertEqual(orders.count, samples)
        let pipeline = try AugmentationPipeline(steps: [.colorJitter(brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1, probability: 1)])
        var random = AugmentationRandom(keys: [0x7177_E2])
        var ours: [[Double]] = Array(repeating: [], count: 4)
        var ourCounts = [Int](repeating: 0, count: 24), theirCounts = ourCounts
        let permutations = Self.permutations()
        for k in 0..<samples {
            guard case let .colorJitter(j?) = pipeline.draw(height: 1, width: 1, random: &random).steps[0] else {
                return XCTFail("probability 1 jitter was skipped")
            }
            for (f, value) in [j.brightness, j.contrast, j.saturation, j.hue].enumerated() { ours[f].append(value!) }
            ourCounts[permutations.firstIndex(of: j.order)!] += 1
            theirCounts[Int(orders[k])] += 1
        }
        for (f, name) in ["brightness", "contrast", "saturation", "hue"].enumerated() {
            let theirs = stride(from: f, to: factors.count, by: 4).map { factors[$0] }
            assertSameDistribution("jitter \(name) factor", ours[f], theirs)
        }
        // Chi-square test of homogeneity: 2 samples × 24 permutations.
        var chi2 = 0.0
        for p in 0..<24 {
            let total = Double(ourCounts[p] + theirCounts[p])
            for observed in [ourCounts[p], theirCounts[p]] {
                let expected = total / 2
                chi2 += (Double(observed) - expected) * (Double(observed) - expected) / expected
            }
        }
        print(String(format: "augment draws jitter order: chi-square %.2f, 23 dof (reject above 49.73)", chi2))
        XCTAssertLessThanOrEqual(chi2, 49.73, "jitter order counts differ from torchvision's: ours \(ourCounts), theirs \(theirCounts)")
    }

    /// The 24 permutations of 0..<4 in lexicographic order (the script's ranks).
    static func permutations() -> [[Int]] {
        var result: [[Int]] = []
        func extend(_ prefix: [Int]) {
            if prefix.count == 4 { result.append(prefix); return }
            for k in 0..<4 where !prefix.contains(k) { extend(prefix + [k]) }
        }
        extend([])
        return result
    }

    func testKolmogorovSmirnovCanReject() {
        // The statistic itself: a shifted uniform is rejected, a fresh draw of the same is not.
        var random = AugmentationRandom(keys: [5])
        let a = (0..<samples).map { _ in random.uniform() }
        let b = (0..<samples).map { _ in random.uniform() }
        let shifted = (0..<samples).map { _ in 0.03 + random.uniform() }
        XCTAssertLessThan(Self.kolmogorovSmirnov(a, b), Self.ksThreshold(samples, samples))
        XCTAssertGreaterThan(Self.kolmogorovSmirnov(a, shifted), Self.ksThreshold(samples, samples))
        XCTAssertEqual(Self.ksThreshold(20000, 20000), 0.0195, accuracy: 0.0001)
    }
}
