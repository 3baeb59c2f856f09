/// Images the loader can draw from: in memory (`ImageSet`) or decoded from files on demand
/// (`ImageFileList`).
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
