import Foundation
import PipelineDSL
import Datasets

/// The `augmentation` stage kind: torchvision's vocabulary for the first-stage views, as
/// configuration. Stages that train call `AugmentationStage.pipeline(from:data:)` to build the
/// `AugmentationPipeline` it describes for their data.
public enum AugmentationStage {
    /// The kind's name in recipes.
    public static let name = "augmentation"

    /// The light kind: its artifact is its resolved parameters.
    public static let kind = StageKind.light(
        name: name, version: 1,
        summary: "the first-stage views (torchvision vocabulary): crop, flip, colour jitter, grayscale, normalise",
        settings: Settings.self,
        // Added with MoCo v2; at their defaults (no blur, SimCLR's order) they keep existing hashes.
        inapplicableParameters: { s in
            var out: Set<String> = []
            if s.blur == 0 { out.formUnion(["blur", "blur_sigma"]) }
            if s.order == .simclr { out.insert("order") }
            return out
        })

    /// The geometric step.
    public enum Crop: String, CaseIterable, Sendable {
        case randomResizedCrop = "random_resized_crop", randomCrop = "random_crop", centerCrop = "center_crop", none
    }

    /// The order of the steps.
    public enum Order: String, CaseIterable, Sendable {
        /// Crop, flip, jitter, grayscale (SimCLR/main.py).
        case simclr
        /// Crop, jitter, grayscale, blur, flip (moco/main.py).
        case mocoV2 = "moco_v2"
    }

    /// Where the normalisation's mean and std come from.
    public enum Normalization: String, CaseIterable, Sendable {
        /// Per-channel statistics of the training images.
        case auto
        /// The `mean` and `std` lists.
        case fixed
        /// No normalisation.
        case none
    }

    /// The settings of an `augmentation` stage (or input), typed.
    public struct Settings: StageSettings, Equatable {
        /// The geometric step (`crop`).
        public var crop = Crop.none
        /// The view side in pixels; 0 = the training images' side.
        public var size = 0
        /// RandomResizedCrop's area fraction [min, max] (`scale`).
        public var scale: [Double] = []
        /// RandomResizedCrop's aspect ratio [min, max] (`ratio`).
        public var ratio: [Double] = []
        /// RandomCrop's zero padding (`padding`).
        public var padding = 0
        /// Horizontal flip probability (`flip`).
        public var flip = 0.0
        /// Brightness, contrast, saturation, hue.
        public var colorJitter: [Double] = []
        /// Probability the colour jitter applies (`jitter_probability`).
        public var jitterProbability = 0.0
        /// RandomGrayscale probability (`grayscale`).
        public var grayscale = 0.0
        /// Probability of MoCo v2's Gaussian blur (`blur`).
        public var blur = 0.0
        /// The blur's σ range [min, max] (`blur_sigma`).
        public var blurSigma: [Double] = []
        /// The order of the steps (`order`).
        public var order = Order.simclr
        /// Where mean and std come from (`normalize`).
        public var normalize = Normalization.none
        /// Per-channel mean for `fixed` (`mean`).
        public var mean: [Double] = []
        /// Per-channel standard deviation for `fixed` (`std`).
        public var std: [Double] = []
        /// Independent views per image (`views`).
        public var views = 0

        public static let unset = Settings()

        public static let fields: [SettingsField<Settings>] = [
            .choice("crop", \.crop, default: .randomResizedCrop,
                    doc: "the geometric step: RandomResizedCrop (docs/method.md), RandomCrop with padding, CenterCrop, or none"),
            .int("size", \.size, default: 0, range: RecipeLimits.upTo(RecipeLimits.side), doc: "the view side in pixels; 0 = the training images' side"),
            .floatList("scale", \.scale, default: [0.2, 1], range: .openClosed(0, 1), minCount: 2, maxCount: 2,
                       doc: "random_resized_crop area fraction [min, max]"),
            .floatList("ratio", \.ratio, default: [3.0 / 4, 4.0 / 3], range: .greaterThan(0), minCount: 2, maxCount: 2,
                       doc: "random_resized_crop aspect ratio [min, max]"),
            .int("padding", \.padding, default: 4, range: RecipeLimits.upTo(RecipeLimits.side), doc: "random_crop zero padding on every side"),
            .float("flip", \.flip, default: 0.5, range: .closed(0, 1), doc: "horizontal flip probability"),
            .floatList("color_jitter", \.colorJitter, default: [0.4, 0.4, 0.4, 0.1], range: .atLeast(0), minCount: 4, maxCount: 4,
                       doc: "ColorJitter brightness, contrast, saturation, hue (hue ≤ 0.5)"),
            .float("jitter_probability", \.jitterProbability, default: 0.8, range: .closed(0, 1), doc: "probability the colour jitter applies"),
            .float("grayscale", \.grayscale, default: 0.2, range: .closed(0, 1), doc: "RandomGrayscale probability"),
            .float("blur", \.blur, default: 0, range: .closed(0, 1),
                   doc: "probability of MoCo v2's Gaussian blur (Pillow's GaussianBlur(radius σ)); 0.5 in moco/main.py, 0 (none) in SimCLR/main.py"),
            .floatList("blur_sigma", \.blurSigma, default: [0.1, 2.0], range: .greaterThan(0), minCount: 2, maxCount: 2,
                       doc: "the blur's σ range [min, max], drawn uniformly"),
            .choice("order", \.order, default: .simclr,
                    doc: "the order of the steps: simclr (crop, flip, jitter, grayscale: SimCLR/main.py) or moco_v2 (crop, jitter, grayscale, blur, flip: moco/main.py)"),
            .choice("normalize", \.normalize, default: .auto,
                    doc: "auto: per-channel mean/std of the training images; fixed: the mean and std lists; none: no normalisation"),
            .floatList("mean", \.mean, default: AugmentationStep.cifarMean, minCount: 1, maxCount: 4,
                       doc: "per-channel mean for normalize: fixed (one per image channel)"),
            .floatList("std", \.std, default: AugmentationStep.cifarStd, range: .greaterThan(0), minCount: 1, maxCount: 4,
                       doc: "per-channel standard deviation for normalize: fixed"),
            .int("views", \.views, default: 2, range: .closed(1, 2), doc: "independent views per image (2 for contrastive training)"),
        ]
    }

    /// What an `augmentation` input describes for a given data set: the pipeline, the view side and
    /// the normalisation it applies (identity mean 0 / std 1 when `normalize: none`).
    public struct Resolved: Sendable, Equatable {
        /// The steps and the number of views.
        public var pipeline: AugmentationPipeline
        /// Per-channel mean subtracted from the [0, 1] pixels.
        public var mean: [Double]
        /// Per-channel standard deviation divided by.
        public var std: [Double]
        /// The side of the square views (or of the images when no crop is made).
        public var size: Int
    }

    /// Builds the pipeline that `settings` (an `augmentation` stage's) describe for `data`.
    ///
    /// - Throws: `RunError` when a fixed mean/std does not have one entry per image channel, or a
    ///   step's parameters are out of range (e.g. hue above 0.5, scale min above max).
    public static func pipeline(from settings: Settings, data: DataArtifact) throws -> Resolved {
        // File data sets (ImageNet-LT) hold RGB images of any size: the view side must be given,
        // and statistics cannot come from a pass over images held in memory.
        let shape: (height: Int, width: Int, channels: Int)?
        if case let .memory(train) = data.trainImages { shape = (train.height, train.width, train.channels) } else { shape = nil }
        let channels = shape?.channels ?? 3
        guard shape != nil || settings.size > 0 else {
            throw RunError("augmentation: the \(data.source) images are files of varying sizes; give the view side (size: 224 for ImageNet-LT)")
        }
        guard shape != nil || settings.normalize != .auto else {
            throw RunError("augmentation: normalize: auto measures the training images held in memory; the \(data.source) images are files: "
                           + "give normalize: fixed with mean and std (ImageNet's: [0.485, 0.456, 0.406] and [0.229, 0.224, 0.225])")
        }
        let size = settings.size == 0 ? min(shape!.height, shape!.width) : settings.size
        var steps: [AugmentationStep] = []
        switch settings.crop {
        case .randomResizedCrop:
            let scale = settings.scale, ratio = settings.ratio
            steps.append(.randomResizedCrop(size: size, scaleMin: scale[0], scaleMax: scale[1], ratioMin: ratio[0], ratioMax: ratio[1]))
        case .randomCrop:
            steps.append(.randomCrop(size: size, padding: settings.padding))
        case .centerCrop:
            steps.append(.centerCrop(size: size))
        case .none:
            break
        }
        let mocoOrder = settings.order == .mocoV2
        let flip: [AugmentationStep] = settings.flip > 0 ? [.horizontalFlip(probability: settings.flip)] : []
        if !mocoOrder { steps += flip }
        let jitter = settings.colorJitter
        if settings.jitterProbability > 0 && jitter.contains(where: { $0 > 0 }) {
            steps.append(.colorJitter(brightness: jitter[0], contrast: jitter[1], saturation: jitter[2], hue: jitter[3],
                                      probability: settings.jitterProbability))
        }
        if settings.grayscale > 0 { steps.append(.grayscale(probability: settings.grayscale)) }
        if settings.blur > 0 {
            steps.append(.gaussianBlur(sigmaMin: settings.blurSigma[0], sigmaMax: settings.blurSigma[1], probability: settings.blur))
        }
        if mocoOrder { steps += flip }
        var mean = [Double](repeating: 0, count: channels), std = [Double](repeating: 1, count: channels)
        switch settings.normalize {
        case .auto:
            (mean, std) = data.train.channelStatistics()
            std = std.map { $0 > 0 ? $0 : 1 }  // a constant channel: keep it as is rather than divide by zero
        case .fixed:
            mean = settings.mean
            std = settings.std
            guard mean.count == channels, std.count == channels else {
                throw RunError("augmentation: normalize: fixed needs \(channels) mean and std value(s), one per image channel; got \(mean.count) and \(std.count)")
            }
        case .none:
            break
        }
        if settings.normalize != .none { steps.append(.normalize(mean: mean, std: std)) }
        do {
            let pipeline = try AugmentationPipeline(steps: steps, views: settings.views)
            if let shape {
                let out = pipeline.outputSize(height: shape.height, width: shape.width)
                guard out.height == out.width else {
                    throw RunError("augmentation: the views are \(out.height)×\(out.width); a crop must make them square (set crop)")
                }
                return Resolved(pipeline: pipeline, mean: mean, std: std, size: out.height)
            }
            guard [.randomResizedCrop, .centerCrop].contains(settings.crop) else {
                throw RunError("augmentation: images of varying sizes need a crop to one side: crop random_resized_crop or center_crop")
            }
            return Resolved(pipeline: pipeline, mean: mean, std: std, size: size)
        } catch let error as DatasetError {
            throw RunError("augmentation: \(error.message)")
        }
    }

    /// Builds the pipeline of an `augmentation` input (see `pipeline(from:data:)`).
    public static func pipeline(from input: StageInput, data: DataArtifact) throws -> Resolved {
        precondition(input.kind == name, "AugmentationStage.pipeline: input '\(input.name)' is a \(input.kind), not an augmentation")
        return try pipeline(from: Settings(input.parameters), data: data)
    }
}
