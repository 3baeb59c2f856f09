/// A data set held in memory: equally sized 8-bit images, channels last, with their labels.
///
/// This is what the CIFAR and (Fashion-)MNIST readers return and what the long-tail selection and
/// the loader consume. Pixel `(n, y, x, c)` is at `((n·height + y)·width + x)·channels + c`.
public struct ImageSet: Sendable, Equatable {
    /// Image height in pixels.
    public let height: Int
    /// Image width in pixels.
    public let width: Int
    /// Channels per pixel: 1 (gray) or 3 (RGB).
    public let channels: Int
    /// All pixels, N × H × W × C, row-major.
    public var pixels: [UInt8]
    /// One label per image, in `0..<classNames.count`.
    public var labels: [Int32]
    /// The name of each class; its count is the number of classes C.
    public var classNames: [String]

    /// Wraps pixels and labels; the sizes must agree (a programmer error otherwise).
    public init(height: Int, width: Int, channels: Int, pixels: [UInt8], labels: [Int32], classNames: [String]) {
        precondition(pixels.count == labels.count * height * width * channels,
                     "ImageSet: \(pixels.count) pixels for \(labels.count) images of \(height)×\(width)×\(channels)")
        self.height = height
        self.width = width
        self.channels = channels
        self.pixels = pixels
        self.labels = labels
        self.classNames = classNames
    }

    /// The number of images N.
    public var count: Int { labels.count }
    /// The number of classes C.
    public var classCount: Int { classNames.count }
    /// Bytes per image, H·W·C.
    public var imageSize: Int { height * width * channels }

    /// Images per class, `counts[c]` = n_c.
    public var classCounts: [Int] {
        var counts = [Int](repeating: 0, count: classCount)
        for label in labels { counts[Int(label)] += 1 }
        return counts
    }

    /// The images at `indices`, in that order (the long-tailed subset, a batch).
    public func subset(_ indices: [Int]) -> ImageSet {
        let size = imageSize
        var out = [UInt8](repeating: 0, count: indices.count * size)
        out.withUnsafeMutableBufferPointer { dst in
            pixels.withUnsafeBufferPointer { src in
                for (k, i) in indices.enumerated() {
                    precondition(i >= 0 && i < count, "ImageSet.subset: index \(i) outside 0..<\(count)")
                    dst.baseAddress!.advanced(by: k * size).update(from: src.baseAddress!.advanced(by: i * size), count: size)
                }
            }
        }
        return ImageSet(height: height, width: width, channels: channels, pixels: out,
                        labels: indices.map { labels[$0] }, classNames: classNames)
    }

    /// Checks every label against the class count; `path` names the label file in the error.
    public func validateLabels(path: String) throws {
        for (i, label) in labels.enumerated() where label < 0 || Int(label) >= classCount {
            throw DatasetError(.badLabel, path: path, "label \(label) of image \(i) is outside 0..<\(classCount)")
        }
    }

    /// Per-channel mean and standard deviation of the pixels scaled to [0, 1] (torchvision's
    /// `ToTensor`), for `normalize: auto`. The standard deviation is the population one over all
    /// pixels of all images.
    public func channelStatistics() -> (mean: [Double], std: [Double]) {
        var sum = [Double](repeating: 0, count: channels), sq = sum
        pixels.withUnsafeBufferPointer { p in
            var partial = [UInt64](repeating: 0, count: channels), partialSq = partial
            for (k, v) in p.enumerated() {
                let c = k % channels
                partial[c] &+= UInt64(v)
                partialSq[c] &+= UInt64(v) * UInt64(v)
            }
            for c in 0..<channels {
                sum[c] = Double(partial[c]) / 255
                sq[c] = Double(partialSq[c]) / (255 * 255)
            }
        }
        let n = Double(max(1, pixels.count / channels))
        let mean = sum.map { $0 / n }
        let std = (0..<channels).map { c in (max(0, sq[c] / n - mean[c] * mean[c])).squareRoot() }
        return (mean, std)
    }
}
