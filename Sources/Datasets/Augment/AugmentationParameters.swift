/// The random choices of one view: one entry per step of the pipeline, in the pipeline's order.
///
/// `AugmentationPipeline.draw` makes them from an `AugmentationRandom`; `apply` uses them. The
/// random path is exactly draw-then-apply, so feeding the parameters that torchvision drew (its
/// `get_params` boxes, flip and apply coins, jitter order and factors) reproduces its view.
public struct AugmentationParameters: Sendable, Equatable {
    /// The choice made for each step; `steps[k]` belongs to the pipeline's `steps[k]`.
    public var steps: [AugmentationStepParameters]

    /// Parameters for the steps in order.
    public init(steps: [AugmentationStepParameters]) {
        self.steps = steps
    }
}

/// What was drawn for one step.
public enum AugmentationStepParameters: Sendable, Equatable {
    /// The source box of `randomResizedCrop` (torchvision's `get_params` (i, j, h, w)), or the
    /// window of `randomCrop` in the coordinates of the unpadded image (top and left may be
    /// negative down to −padding).
    case crop(CropBox)
    /// `horizontalFlip`: whether the image is mirrored.
    case flip(Bool)
    /// `colorJitter`: the order and factors, or nil when `RandomApply` skipped the jitter.
    case colorJitter(ColorJitterParameters?)
    /// `grayscale`: whether the image is converted.
    case grayscale(Bool)
    /// `gaussianBlur`: the σ drawn, or nil when `RandomApply` skipped the blur.
    case blur(Double?)
    /// A step without random choices (`resize`, `centerCrop`, `normalize`).
    case fixed
}

/// A crop box in pixels: rows top ..< top + height, columns left ..< left + width.
public struct CropBox: Sendable, Equatable {
    /// First row.
    public var top: Int
    /// First column.
    public var left: Int
    /// Rows.
    public var height: Int
    /// Columns.
    public var width: Int

    /// A box of height × width pixels at (top, left).
    public init(top: Int, left: Int, height: Int, width: Int) {
        self.top = top
        self.left = left
        self.height = height
        self.width = width
    }
}

/// `ColorJitter.get_params`: the order of the four adjustments and their factors.
public struct ColorJitterParameters: Sendable, Equatable {
    /// A permutation of 0 ..< 4 (0 brightness, 1 contrast, 2 saturation, 3 hue), applied in order.
    public var order: [Int]
    /// Brightness factor (`Image.blend` with black), nil when the jitter has no brightness.
    public var brightness: Double?
    /// Contrast factor (blend with the grey of the mean luma), nil when not jittered.
    public var contrast: Double?
    /// Saturation factor (blend with the luma image), nil when not jittered.
    public var saturation: Double?
    /// Hue shift as a fraction of the circle in [−0.5, 0.5], nil when not jittered.
    public var hue: Double?

    /// Order and factors as torchvision's `get_params` returns them.
    public init(order: [Int], brightness: Double?, contrast: Double?, saturation: Double?, hue: Double?) {
        precondition(order.sorted() == [0, 1, 2, 3], "ColorJitterParameters: order \(order) is not a permutation of 0..<4")
        precondition(hue.map { (-0.5...0.5).contains($0) } ?? true, "ColorJitterParameters: hue \(hue!) outside [−0.5, 0.5]")
        self.order = order
        self.brightness = brightness
        self.contrast = contrast
        self.saturation = saturation
        self.hue = hue
    }
}
