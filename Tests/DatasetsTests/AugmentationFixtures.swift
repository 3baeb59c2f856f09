@testable import Datasets
import Foundation
import XCTest

/// A minimal reader of the `.safetensors` files that `scripts/fidelity/augment_reference.py`
/// writes: an 8-byte little-endian header length, a JSON header (dtype, shape, byte range per
/// tensor; string metadata), then the raw little-endian data.
struct SafeTensorsFile {
    struct Entry: Decodable {
        var dtype: String
        var shape: [Int]
        var data_offsets: [Int]
    }

    let entries: [String: Entry]
    let metadata: [String: String]
    private let data: [UInt8]

    init(_ relative: String) throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixture.path(relative))))
        let length = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
        let header = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + length)])) as! [String: Any]
        var entries: [String: Entry] = [:]
        for (name, value) in header where name != "__metadata__" {
            let json = try JSONSerialization.data(withJSONObject: value)
            entries[name] = try JSONDecoder().decode(Entry.self, from: json)
        }
        self.entries = entries
        metadata = header["__metadata__"] as? [String: String] ?? [:]
        data = Array(bytes[(8 + length)...])
    }

    func shape(_ name: String) -> [Int] { entries[name]!.shape }

    func bytes(_ name: String) -> [UInt8] {
        let entry = entries[name]!
        precondition(entry.dtype == "U8", "\(name) is \(entry.dtype), not U8")
        return Array(data[entry.data_offsets[0]..<entry.data_offsets[1]])
    }

    /// The raw little-endian bytes of any tensor.
    func raw(_ name: String) -> [UInt8] {
        let entry = entries[name]!
        return Array(data[entry.data_offsets[0]..<entry.data_offsets[1]])
    }

    func floats(_ name: String) -> [Float] {
        let entry = entries[name]!
        precondition(entry.dtype == "F32", "\(name) is \(entry.dtype), not F32")
        return stride(from: entry.data_offsets[0], to: entry.data_offsets[1], by: 4).map { k in
            Float(bitPattern: UInt32(data[k]) | UInt32(data[k + 1]) << 8 | UInt32(data[k + 2]) << 16 | UInt32(data[k + 3]) << 24)
        }
    }

    /// Decodes the JSON text of a metadata entry.
    func metadata<T: Decodable>(_ key: String, as type: T.Type) throws -> T {
        try JSONDecoder().decode(type, from: Data(metadata[key]!.utf8))
    }
}

/// The cases of `Fixtures/augment/ops.safetensors`, as the reference script describes them.
enum AugmentReference {
    /// One torchvision call with its parameters (`op` names the call).
    struct Step: Decodable {
        var op: String
        var top: Int?, left: Int?, height: Int?, width: Int?, size: Int?
        var factor: Double?
    }

    /// A sequence of ops on one image and the name of the uint8 output.
    struct OpCase: Decodable {
        var image: Int
        var steps: [Step]
        var output: String
    }

    /// torchvision's own draws for one view (`crop` is get_params' (i, j, h, w)).
    struct ChainParameters: Decodable {
        struct Jitter: Decodable {
            var order: [Int]
            var factors: [Double?]
        }
        var crop: [Int]
        var flip: Bool
        var jitter: Jitter?
        var grayscale: Bool
    }

    /// A full view (crop → flip → jitter → grayscale → ToTensor → Normalize) with given draws;
    /// `output + "_u8"` holds the image before `ToTensor`, `output` (when present) the Float view.
    struct Chain: Decodable {
        var image: Int
        var fashion: Bool
        var parameters: ChainParameters
        var mean: [Double]
        var std: [Double]
        var output: String
    }

    /// Our pipeline and parameters for a case's torchvision calls: each call becomes its step,
    /// consecutive colour adjustments one `colorJitter` step with their order.
    static func pipeline(for steps: [Step]) throws -> (AugmentationPipeline, AugmentationParameters) {
        var ours: [AugmentationStep] = [], drawn: [AugmentationStepParameters] = []
        var jitterOps: [(Int, Double)] = []
        func flushJitter() {
            guard !jitterOps.isEmpty else { return }
            let order = jitterOps.map(\.0) + (0..<4).filter { op in !jitterOps.contains { $0.0 == op } }
            func factor(_ op: Int) -> Double? { jitterOps.first { $0.0 == op }?.1 }
            ours.append(.colorJitter(brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1, probability: 1))
            drawn.append(.colorJitter(ColorJitterParameters(order: order, brightness: factor(0), contrast: factor(1),
                                                            saturation: factor(2), hue: factor(3))))
            jitterOps = []
        }
        for step in steps {
            switch step.op {
            case "brightness": jitterOps.append((0, step.factor!))
            case "contrast": jitterOps.append((1, step.factor!))
            case "saturation": jitterOps.append((2, step.factor!))
            case "hue": jitterOps.append((3, step.factor!))
            default:
                flushJitter()
                switch step.op {
                case "resized_crop":
                    ours.append(.randomResizedCrop(size: step.size!, scaleMin: 0.2, scaleMax: 1, ratioMin: 0.75, ratioMax: 4.0 / 3))
                    drawn.append(.crop(CropBox(top: step.top!, left: step.left!, height: step.height!, width: step.width!)))
                case "hflip":
                    ours.append(.horizontalFlip(probability: 0.5))
                    drawn.append(.flip(true))
                case "grayscale":
                    ours.append(.grayscale(probability: 0.2))
                    drawn.append(.grayscale(true))
                default:
                    XCTFail("unknown op \(step.op)")
                }
            }
        }
        flushJitter()
        return (try AugmentationPipeline(steps: ours), AugmentationParameters(steps: drawn))
    }

    /// The reference's first-stage pipeline for a chain (Fashion-MNIST: ColorJitter(0.4, 0.4), no
    /// grayscale; CIFAR: ColorJitter(0.4, 0.4, 0.4, 0.1), grayscale 0.2) and torchvision's draws.
    static func pipeline(for chain: Chain, normalize: Bool) throws -> (AugmentationPipeline, AugmentationParameters) {
        let p = chain.parameters
        var steps: [AugmentationStep], drawn: [AugmentationStepParameters]
        let jitter = p.jitter.map { j in
            ColorJitterParameters(order: j.order, brightness: j.factors[0], contrast: j.factors[1],
                                  saturation: j.factors[2], hue: j.factors[3])
        }
        let box = CropBox(top: p.crop[0], left: p.crop[1], height: p.crop[2], width: p.crop[3])
        if chain.fashion {
            steps = [.randomResizedCrop(size: 28, scaleMin: 0.2, scaleMax: 1, ratioMin: 0.75, ratioMax: 4.0 / 3),
                     .horizontalFlip(probability: 0.5),
                     .colorJitter(brightness: 0.4, contrast: 0.4, saturation: 0, hue: 0, probability: 0.8),
                     .normalize(mean: chain.mean, std: chain.std)]
            drawn = [.crop(box), .flip(p.flip), .colorJitter(jitter), .fixed]
        } else {
            steps = AugmentationStep.contrastiveViews(size: 32, mean: chain.mean, std: chain.std)
            drawn = [.crop(box), .flip(p.flip), .colorJitter(jitter), .grayscale(p.grayscale), .fixed]
        }
        if !normalize {
            steps.removeLast()
            drawn.removeLast()
        }
        return (try AugmentationPipeline(steps: steps), AugmentationParameters(steps: drawn))
    }
}
