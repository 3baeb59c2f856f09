@testable import Datasets
import Foundation
import XCTest

/// The cases of `Fixtures/moco/moco_ops.safetensors`, as `scripts/fidelity/moco_augment_reference.py`
/// describes them in its metadata.
enum MocoReference {
    static let ops = Result { try SafeTensorsFile("moco/moco_ops.safetensors") }
    static let draws = Result { try SafeTensorsFile("moco/moco_draws.safetensors") }

    /// Pillow's decode of one file (`scale` M of M/8 through `Image.draft`).
    struct Decode: Decodable {
        var file: String
        var output: String
        var scale: Int
    }

    /// One torchvision call with fixed parameters.
    struct Step: Decodable {
        var op: String
        var sigma: Double?
        var size: Int?
        var top: Int?, left: Int?, height: Int?, width: Int?
    }

    struct OpCase: Decodable {
        var image: String
        var steps: [Step]
        var output: String
    }

    /// torchvision's draws for one view of a chain.
    struct Parameters: Decodable {
        struct Jitter: Decodable {
            var order: [Int]
            var factors: [Double]
        }
        var crop: [Int]?
        var jitter: Jitter?
        var grayscale: Bool?
        var sigma: Double?
        var flip: Bool?
    }

    /// A whole view: `kind` is moco (MoCo v2), linear (RandomResizedCrop + flip) or eval.
    struct Chain: Decodable {
        var image: String
        var kind: String
        var size: Int
        var parameters: Parameters
        var output: String
        var normalized: Bool
    }

    static func image(_ file: SafeTensorsFile, _ name: String) -> DecodedImage {
        let shape = file.shape("image_\(name)")
        return DecodedImage(height: shape[0], width: shape[1], channels: shape[2], pixels: file.bytes("image_\(name)"))
    }

    /// The path of a fixture file written by the script.
    static func path(_ file: String) -> String { Fixture.path("moco/files/\(file)") }

    /// Our pipeline and parameters for a chain (without `Normalize` when `normalize` is false).
    static func pipeline(for chain: Chain, normalize: Bool) throws -> (AugmentationPipeline, AugmentationParameters) {
        var steps: [AugmentationStep]
        var drawn: [AugmentationStepParameters]
        let p = chain.parameters
        switch chain.kind {
        case "moco":
            steps = AugmentationStep.mocoV2Views(size: chain.size)
            let jitter = p.jitter.map { j in
                ColorJitterParameters(order: j.order, brightness: j.factors[0], contrast: j.factors[1], saturation: j.factors[2], hue: j.factors[3])
            }
            drawn = [.crop(box(p.crop!)), .colorJitter(jitter), .grayscale(p.grayscale!), .blur(p.sigma), .flip(p.flip!), .fixed]
        case "linear":
            steps = AugmentationStep.linearTrainingViews(size: chain.size)
            drawn = [.crop(box(p.crop!)), .flip(p.flip!), .fixed]
        default:
            steps = AugmentationStep.evaluationViews(size: chain.size)
            drawn = [.fixed, .fixed, .fixed]
        }
        if !normalize { steps.removeLast(); drawn.removeLast() }
        return (try AugmentationPipeline(steps: steps), AugmentationParameters(steps: drawn))
    }

    static func box(_ v: [Int]) -> CropBox { CropBox(top: v[0], left: v[1], height: v[2], width: v[3]) }
}

/// Counts of equal values and the largest difference between two arrays.
struct Agreement: CustomStringConvertible {
    var values = 0, exact = 0
    var maxDiff: Float = 0
    var sumDiff: Double = 0

    mutating func add(_ ours: [Float], _ expected: [Float]) {
        precondition(ours.count == expected.count, "Agreement: \(ours.count) vs \(expected.count) values")
        for (a, b) in zip(ours, expected) {
            values += 1
            if a == b { exact += 1 }
            maxDiff = max(maxDiff, abs(a - b))
            sumDiff += Double(abs(a - b))
        }
    }

    mutating func add(_ ours: [UInt8], _ expected: [UInt8]) {
        add(ours.map { Float($0) }, expected.map { Float($0) })
    }

    var meanDiff: Double { values == 0 ? 0 : sumDiff / Double(values) }

    var description: String {
        "\(exact) of \(values) values exactly equal, max |diff| \(maxDiff), mean |diff| \(String(format: "%.4f", meanDiff))"
    }
}
