/// A Float image, channels last, values in [0, 1] until normalised; the working buffer of one
/// view. Buffers keep their capacity between images so augmenting allocates nothing per pixel.
public struct WorkImage: Sendable {
    /// Height in pixels.
    public var height = 0
    /// Width in pixels.
    public var width = 0
    /// Channels per pixel (1 or 3).
    public var channels = 0
    /// H × W × C values, row-major.
    public var values: [Float] = []

    /// An empty buffer.
    public init() {}

    /// Reshapes to height × width × channels, keeping capacity; the contents are unspecified.
    mutating func reshape(height: Int, width: Int, channels: Int) {
        self.height = height
        self.width = width
        self.channels = channels
        let n = height * width * channels
        if values.count != n {
            if values.count > n { values.removeLast(values.count - n) } else {
                values.append(contentsOf: repeatElement(0, count: n - values.count))
            }
        }
    }

    /// Loads 8-bit pixels, scaling to [0, 1] as torchvision's `ToTensor`.
    mutating func load(_ pixels: UnsafeBufferPointer<UInt8>, height: Int, width: Int, channels: Int) {
        precondition(pixels.count == height * width * channels,
                     "WorkImage.load: \(pixels.count) bytes for \(height)×\(width)×\(channels)")
        reshape(height: height, width: width, channels: channels)
        values.withUnsafeMutableBufferPointer { v in
            for k in 0..<pixels.count { v[k] = Float(pixels[k]) / 255 }
        }
    }
}

/// Reusable buffers of one worker thread.
public struct AugmentationScratch: Sendable {
    var front = WorkImage()
    var back = WorkImage()
    var rows: [Float] = []
    var horizontal = ResampleCoefficients()
    var vertical = ResampleCoefficients()

    /// Empty buffers; they grow to the largest image seen.
    public init() {}
}
