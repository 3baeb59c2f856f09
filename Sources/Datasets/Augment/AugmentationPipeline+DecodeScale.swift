/// Decoding no larger than needed: the views of an image are drawn in full-size coordinates from
/// its header, then the JPEG is decoded reduced by M/8 in the DCT (libjpeg's `scale_num`) with the
/// smallest M that still gives every view at least its output size, and the boxes are mapped onto
/// the reduced image.
///
/// The views then differ slightly from a full decode followed by the same crop and resize: the
/// DCT reduction is a different low-pass filter than Pillow's antialiased bilinear, and the
/// mapped box rounds to whole pixels of the reduced image. `DecodeScaleTests` measures the
/// difference (mean and maximum per value, on the 0–255 scale) and states it.
extension AugmentationPipeline {
    /// Whether views can be drawn before decoding and decoded reduced: the first step is a
    /// `randomResizedCrop` or a `resize` (every later step works on its output).
    public var allowsReducedDecoding: Bool {
        switch steps.first {
        case .randomResizedCrop?, .resize?: return true
        default: return false
        }
    }

    /// The numerator M (1…8) of the reduction M/8 at which a fullHeight × fullWidth JPEG can be
    /// decoded for `views` (drawn at full size): the smallest M at which each view's crop box, mapped
    /// onto the reduced image, is at least the crop's output size in both dimensions (or, for a
    /// leading `resize(R)`, the shorter side stays ≥ R). 8 when nothing smaller fits or the
    /// pipeline does not allow reduced decoding.
    public func decodeScale(for views: [AugmentationParameters], fullHeight: Int, fullWidth: Int) -> Int {
        guard allowsReducedDecoding else { return 8 }
        for numerator in 1..<8 {
            let h = JPEGDecoder.scaledSide(fullHeight, numerator: numerator), w = JPEGDecoder.scaledSide(fullWidth, numerator: numerator)
            if fits(views, fullHeight: fullHeight, fullWidth: fullWidth, height: h, width: w) { return numerator }
        }
        return 8
    }

    private func fits(_ views: [AugmentationParameters], fullHeight: Int, fullWidth: Int, height: Int, width: Int) -> Bool {
        switch steps.first {
        case let .resize(size)?:
            return min(height, width) >= size
        case let .randomResizedCrop(size, _, _, _, _)?:
            return views.allSatisfy { view in
                guard case let .crop(box)? = view.steps.first else { return false }
                let mapped = AugmentationPipeline.mapBox(box, fullHeight: fullHeight, fullWidth: fullWidth, height: height, width: width)
                return mapped.height >= size && mapped.width >= size
            }
        default:
            return height == fullHeight && width == fullWidth
        }
    }

    /// `box` of a fullHeight × fullWidth image mapped onto the same image at height × width: each
    /// edge scaled and rounded to the nearest pixel, clamped inside, at least 1 pixel.
    public static func mapBox(_ box: CropBox, fullHeight: Int, fullWidth: Int, height: Int, width: Int) -> CropBox {
        if height == fullHeight && width == fullWidth { return box }
        func edge(_ v: Int, _ full: Int, _ scaled: Int) -> Int {
            min(scaled, max(0, Int((Double(v) * Double(scaled) / Double(full)).rounded())))
        }
        let top = min(edge(box.top, fullHeight, height), height - 1), left = min(edge(box.left, fullWidth, width), width - 1)
        let bottom = max(top + 1, edge(box.top + box.height, fullHeight, height))
        let right = max(left + 1, edge(box.left + box.width, fullWidth, width))
        return CropBox(top: top, left: left, height: bottom - top, width: right - left)
    }

    /// `parameters` drawn for a fullHeight × fullWidth image, for the same image delivered at
    /// height × width: the leading crop box mapped with `mapBox`; everything else unchanged.
    public func mapped(_ parameters: AugmentationParameters, fullHeight: Int, fullWidth: Int, height: Int, width: Int) -> AugmentationParameters {
        guard height != fullHeight || width != fullWidth, case let .crop(box)? = parameters.steps.first,
              case .randomResizedCrop? = steps.first else { return parameters }
        var out = parameters
        out.steps[0] = .crop(AugmentationPipeline.mapBox(box, fullHeight: fullHeight, fullWidth: fullWidth, height: height, width: width))
        return out
    }
}
