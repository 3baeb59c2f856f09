/// Images the loader can draw from: in memory (`ImageSet`) or decoded from files on demand
/// (`ImageFileList`, on the loader's worker threads as each batch is built).
public protocol ImageSource: Sendable {
    /// The number of images N.
    var count: Int { get }
    /// One label per image.
    var labels: [Int32] { get }
    /// The number of classes C.
    var classCount: Int { get }
    /// Calls `body` with the 8-bit pixels (H × W × C, channels last) of image `index`.
    ///
    /// - Throws: a `DatasetError` naming the file when an image cannot be read or decoded.
    func withImage<R>(at index: Int, _ body: (UnsafeBufferPointer<UInt8>, _ height: Int, _ width: Int, _ channels: Int) throws -> R) throws -> R
    /// Calls `body` with image `index`, possibly decoded reduced: `scale` gets the full size
    /// (height, width) first and returns the numerator M of the reduction M/8 (1…8) it can
    /// accept; a source may honour it (JPEG DCT scaling) or deliver the full size. `body` sees
    /// the delivered pixels and the full size, to map boxes drawn in full-size coordinates.
    ///
    /// - Throws: a `DatasetError` naming the file when an image cannot be read or decoded.
    func withImage<R>(at index: Int, scale: (_ height: Int, _ width: Int) -> Int, _ body: (ScaledImage) throws -> R) throws -> R
}

/// An image as a source delivered it, perhaps reduced, with its full size.
public struct ScaledImage {
    /// The delivered 8-bit pixels, height × width × channels, channels last.
    public var pixels: UnsafeBufferPointer<UInt8>
    /// Delivered height.
    public var height: Int
    /// Delivered width.
    public var width: Int
    /// Channels (1 or 3).
    public var channels: Int
    /// The height of the image at full size (the file's).
    public var fullHeight: Int
    /// The width of the image at full size.
    public var fullWidth: Int

    /// An image delivered at height × width of a fullHeight × fullWidth original.
    public init(pixels: UnsafeBufferPointer<UInt8>, height: Int, width: Int, channels: Int, fullHeight: Int, fullWidth: Int) {
        self.pixels = pixels
        self.height = height
        self.width = width
        self.channels = channels
        self.fullHeight = fullHeight
        self.fullWidth = fullWidth
    }

    /// Whether the image came at full size.
    public var isFullSize: Bool { height == fullHeight && width == fullWidth }
}

extension ImageSource {
    /// Full size always: asks `scale` (and ignores it), then lends the image.
    public func withImage<R>(at index: Int, scale: (_ height: Int, _ width: Int) -> Int, _ body: (ScaledImage) throws -> R) throws -> R {
        try withImage(at: index) { pixels, h, w, c in
            _ = scale(h, w)
            return try body(ScaledImage(pixels: pixels, height: h, width: w, channels: c, fullHeight: h, fullWidth: w))
        }
    }
}

extension ImageSet: ImageSource {
    /// Calls `body` with a view of image `index` inside `pixels`; never throws on its own.
    public func withImage<R>(at index: Int, _ body: (UnsafeBufferPointer<UInt8>, Int, Int, Int) throws -> R) throws -> R {
        precondition(index >= 0 && index < count, "ImageSet.withImage: index \(index) outside 0..<\(count)")
        let size = imageSize
        return try pixels.withUnsafeBufferPointer { p in
            try body(UnsafeBufferPointer(rebasing: p[(index * size)..<((index + 1) * size)]), height, width, channels)
        }
    }
}
