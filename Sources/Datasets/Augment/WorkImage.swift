/// A Float image, channels last: one finished view (values in [0, 1] after `ToTensor`, or
/// normalised). The augmentations themselves work on `ByteImage`s, as PIL does.
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
        values.resize(to: height * width * channels, filler: 0)
    }
}

/// An 8-bit image, channels last (PIL's 'L' for 1 channel, 'RGB' for 3; saturation, hue and
/// grayscale change only 3-channel images): the working buffer of one view. Buffers keep their capacity between images so augmenting allocates nothing per pixel.
struct ByteImage: Sendable, Equatable {
    var height = 0
    var width = 0
    var channels = 0
    /// H × W × C bytes, row-major.
    var values: [UInt8] = []

    /// Reshapes to height × width × channels, keeping capacity; the contents are unspecified.
    mutating func reshape(height: Int, width: Int, channels: Int) {
        self.height = height
        self.width = width
        self.channels = channels
        values.resize(to: height * width * channels, filler: 0)
    }

    /// Copies 8-bit pixels in (`ToPILImage` / `Image.fromarray`: no conversion).
    mutating func load(_ pixels: UnsafeBufferPointer<UInt8>, height: Int, width: Int, channels: Int) {
        precondition(pixels.count == height * width * channels,
                     "ByteImage.load: \(pixels.count) bytes for \(height)×\(width)×\(channels)")
        reshape(height: height, width: width, channels: channels)
        values.withUnsafeMutableBufferPointer { v in
            _ = v.initialize(from: pixels)
        }
    }
}

extension Array {
    /// Grows or shrinks to `count` elements, keeping capacity; new elements are `filler`.
    mutating func resize(to count: Int, filler: Element) {
        if self.count > count {
            removeLast(self.count - count)
        } else if self.count < count {
            append(contentsOf: repeatElement(filler, count: count - self.count))
        }
    }
}

/// Reusable buffers of one worker thread.
public struct AugmentationScratch: Sendable {
    var front = ByteImage()
    var back = ByteImage()
    var rows: [UInt8] = []
    var horizontal = ResampleCoefficients()
    var vertical = ResampleCoefficients()

    /// Empty buffers; they grow to the largest image seen.
    public init() {}
}
