/// One transform of torchvision's vocabulary, with torchvision's parameters and semantics.
/// Geometric steps change the image size; `normalize` must be last.
///
/// Which torchvision we follow: its PIL path, because the reference feeds PIL images
/// (`ToPILImage` for Fashion-MNIST, `Image.fromarray` for CIFAR) and only `ToTensor` comes after
/// the augmentations. So every step works on the 8-bit image and rounds back to 8 bits as Pillow
/// does: the crop is cut first and then resized with Pillow's separable, fixed-point bilinear
/// filter (a triangle widened by the scale when shrinking; each pass rounded and clipped to 8
/// bits; taps renormalised inside the crop); brightness, contrast and saturation are
/// `Image.blend`s truncated to 8 bits; contrast's grey is the rounded integer mean of the 'L'
/// image; grayscale is PIL's integer 'L' conversion; hue goes through PIL's 8-bit 'HSV' mode.
/// `normalize` is `ToTensor` (x / 255) and `Normalize` in Float; without it the view is
/// `ToTensor`'s [0, 1] values. The random draws follow torchvision's order per transform (see
/// `AugmentationPipeline.draw`), from this package's generator (not torch's).
public enum AugmentationStep: Sendable, Equatable, Codable {
    /// `RandomResizedCrop(size, scale, ratio)`: 10 attempts at an area fraction uniform in `scale`
    /// and an aspect ratio log-uniform in `ratio`, else the centre crop clamped to `ratio`; then
    /// PIL's crop and bilinear resize to size × size.
    case randomResizedCrop(size: Int, scaleMin: Double, scaleMax: Double, ratioMin: Double, ratioMax: Double)
    /// `RandomCrop(size, padding)`: zero padding on every side, then a uniform size × size window.
    case randomCrop(size: Int, padding: Int)
    /// `Resize(size)`: the shorter side becomes `size`, the longer one `int(size · long / short)`;
    /// bilinear.
    case resize(size: Int)
    /// `CenterCrop(size)`: the centred size × size window (offsets `int(round((H − size) / 2))`).
    case centerCrop(size: Int)
    /// `RandomHorizontalFlip(p)`.
    case horizontalFlip(probability: Double)
    /// `RandomApply([ColorJitter(b, c, s, h)], p)`: with probability `probability`, draw factors
    /// in [max(0, 1 − b), 1 + b] (likewise c and s) and a hue shift in [−h, h], and apply the four
    /// adjustments in a random order. Saturation and hue leave 1-channel images unchanged, as
    /// torchvision does.
    case colorJitter(brightness: Double, contrast: Double, saturation: Double, hue: Double, probability: Double)
    /// `RandomGrayscale(p)`: PIL's ITU-R 601-2 luma ((19595 R + 38470 G + 7471 B + 2^15) >> 16)
    /// written to all 3 channels; a no-op on 1-channel images.
    case grayscale(probability: Double)
    /// `RandomApply([GaussianBlur([sigmaMin, sigmaMax])], p)` of MoCo v2 (`moco/utils.py`): with
    /// probability `probability`, σ uniform in [sigmaMin, sigmaMax] (Python's `random.uniform`)
    /// and Pillow's `ImageFilter.GaussianBlur(radius=σ)` — three extended box blurs per axis
    /// (see `PILGaussianBlur`).
    case gaussianBlur(sigmaMin: Double, sigmaMax: Double, probability: Double)
    /// `ToTensor` then `Normalize(mean, std)`: (x / 255 − mean_c) / std_c per channel, in Float.
    case normalize(mean: [Double], std: [Double])

    /// The SBCL first-stage view of the reference (`SimCLR/main.py`): crop (scale 0.2–1), flip,
    /// jitter (0.4, 0.4, 0.4, 0.1) with p 0.8, grayscale p 0.2, normalise.
    public static func contrastiveViews(size: Int, mean: [Double], std: [Double]) -> [AugmentationStep] {
        [.randomResizedCrop(size: size, scaleMin: 0.2, scaleMax: 1, ratioMin: 3.0 / 4, ratioMax: 4.0 / 3),
         .horizontalFlip(probability: 0.5),
         .colorJitter(brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1, probability: 0.8),
         .grayscale(probability: 0.2),
         .normalize(mean: mean, std: std)]
    }

    /// The second-stage view of the reference (`linear_classify.py`): pad-4 crop, flip, normalise.
    public static func classifierViews(size: Int, mean: [Double], std: [Double]) -> [AugmentationStep] {
        [.randomCrop(size: size, padding: 4), .horizontalFlip(probability: 0.5), .normalize(mean: mean, std: std)]
    }

    /// MoCo v2's training view (`moco/main.py`, `aug_plus`): RandomResizedCrop(size, scale
    /// 0.2–1), RandomApply(ColorJitter(0.4, 0.4, 0.4, 0.1), p 0.8), RandomGrayscale(0.2),
    /// RandomApply(GaussianBlur σ ∈ [0.1, 2]), p 0.5), RandomHorizontalFlip, Normalize — in that
    /// order (the blur and the flip come after the colour steps, unlike `contrastiveViews`).
    public static func mocoV2Views(size: Int = 224, mean: [Double] = imageNetMean, std: [Double] = imageNetStd) -> [AugmentationStep] {
        [.randomResizedCrop(size: size, scaleMin: 0.2, scaleMax: 1, ratioMin: 3.0 / 4, ratioMax: 4.0 / 3),
         .colorJitter(brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1, probability: 0.8),
         .grayscale(probability: 0.2),
         .gaussianBlur(sigmaMin: 0.1, sigmaMax: 2, probability: 0.5),
         .horizontalFlip(probability: 0.5),
         .normalize(mean: mean, std: std)]
    }

    /// The ImageNet-LT linear stage's training view (`moco/linear_classify.py`):
    /// RandomResizedCrop(size) with torchvision's default scale 0.08–1, flip, Normalize.
    public static func linearTrainingViews(size: Int = 224, mean: [Double] = imageNetMean, std: [Double] = imageNetStd) -> [AugmentationStep] {
        [.randomResizedCrop(size: size, scaleMin: 0.08, scaleMax: 1, ratioMin: 3.0 / 4, ratioMax: 4.0 / 3),
         .horizontalFlip(probability: 0.5),
         .normalize(mean: mean, std: std)]
    }

    /// The ImageNet evaluation view: Resize(resize) of the shorter side (PIL bilinear with its
    /// antialiasing when shrinking), CenterCrop(size), Normalize; 256 / 224 in the reference, and
    /// `resize` defaults to ⌊size · 8 / 7⌋ (256 for 224) for other sizes.
    public static func evaluationViews(size: Int = 224, resize: Int? = nil, mean: [Double] = imageNetMean,
                                       std: [Double] = imageNetStd) -> [AugmentationStep] {
        [.resize(size: resize ?? size * 8 / 7), .centerCrop(size: size), .normalize(mean: mean, std: std)]
    }

    /// ImageNet's per-channel mean (`transforms.Normalize` in `moco/`).
    public static let imageNetMean = [0.485, 0.456, 0.406]
    /// ImageNet's per-channel standard deviation.
    public static let imageNetStd = [0.229, 0.224, 0.225]

    /// CIFAR's per-channel mean of the reference.
    public static let cifarMean = [0.4914, 0.4822, 0.4465]
    /// CIFAR's per-channel standard deviation of the reference.
    public static let cifarStd = [0.2023, 0.1994, 0.2010]
}

/// An ordered list of steps and the number of views drawn per image.
public struct AugmentationPipeline: Sendable, Equatable, Codable {
    /// The transforms, applied in order.
    public var steps: [AugmentationStep]
    /// Independent views per image: 1, or 2 for contrastive training.
    public var views: Int

    /// Checks the parameters; `DatasetError.badParameter` says which one is out of range.
    public init(steps: [AugmentationStep], views: Int = 1) throws {
        guard views == 1 || views == 2 else {
            throw DatasetError(.badParameter, path: "", "views must be 1 or 2, got \(views)")
        }
        for (k, step) in steps.enumerated() {
            try AugmentationPipeline.validate(step, isLast: k == steps.count - 1)
        }
        self.steps = steps
        self.views = views
    }

    private static func validate(_ step: AugmentationStep, isLast: Bool) throws {
        func check(_ ok: Bool, _ message: String) throws {
            if !ok { throw DatasetError(.badParameter, path: "", message) }
        }
        func probability(_ p: Double, _ name: String) throws {
            try check((0...1).contains(p), "\(name) probability must be in [0, 1], got \(p)")
        }
        switch step {
        case let .randomResizedCrop(size, scaleMin, scaleMax, ratioMin, ratioMax):
            try check(size > 0, "random_resized_crop size must be positive, got \(size)")
            try check(scaleMin > 0 && scaleMin <= scaleMax && scaleMax <= 1, "random_resized_crop scale must satisfy 0 < min ≤ max ≤ 1, got \(scaleMin)–\(scaleMax)")
            try check(ratioMin > 0 && ratioMin <= ratioMax, "random_resized_crop ratio must satisfy 0 < min ≤ max, got \(ratioMin)–\(ratioMax)")
        case let .randomCrop(size, padding):
            try check(size > 0 && padding >= 0, "random_crop needs size > 0 and padding ≥ 0, got \(size), \(padding)")
        case let .resize(size), let .centerCrop(size):
            try check(size > 0, "resize/center_crop size must be positive, got \(size)")
        case let .horizontalFlip(p):
            try probability(p, "horizontal_flip")
        case let .colorJitter(b, c, s, h, p):
            try check(b >= 0 && c >= 0 && s >= 0, "color_jitter brightness, contrast and saturation must be ≥ 0")
            try check((0...0.5).contains(h), "color_jitter hue must be in [0, 0.5], got \(h)")
            try probability(p, "color_jitter")
        case let .grayscale(p):
            try probability(p, "grayscale")
        case let .gaussianBlur(low, high, p):
            try check(low >= 0 && low <= high, "gaussian_blur sigma must satisfy 0 ≤ min ≤ max, got \(low)–\(high)")
            try probability(p, "gaussian_blur")
        case let .normalize(mean, std):
            try check(!mean.isEmpty && mean.count == std.count, "normalize needs as many means as stds")
            try check(std.allSatisfy { $0 > 0 }, "normalize std must be positive, got \(std)")
            try check(isLast, "normalize must be the last augmentation step")
        }
    }

    /// The size of a view made from an input of `height` × `width`, after every geometric step.
    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        var h = height, w = width
        for step in steps {
            switch step {
            case let .randomResizedCrop(size, _, _, _, _), let .randomCrop(size, _), let .centerCrop(size):
                h = size; w = size
            case let .resize(size):
                (h, w) = ResizeGeometry.resizedShorterSide(height: h, width: w, size: size)
            case .horizontalFlip, .colorJitter, .grayscale, .gaussianBlur, .normalize:
                break
            }
        }
        return (h, w)
    }
}
