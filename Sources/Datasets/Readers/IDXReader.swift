import Foundation

/// MNIST and Fashion-MNIST in their IDX files (`train-images-idx3-ubyte[.gz]` and friends).
public enum IDXReader {
    /// The class names of Fashion-MNIST, in label order.
    public static let fashionMNISTClasses = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                             "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    /// The class names of MNIST: the digits.
    public static let mnistClasses = (0..<10).map(String.init)
    /// Where the Debian package `dataset-fashion-mnist` installs Fashion-MNIST.
    public static let defaultFashionMNISTRoot = "/usr/share/datasets/fashion-mnist"

    /// An unsigned-byte IDX array: its dimensions and data.
    public struct Array: Sendable {
        /// The sizes of each dimension, outermost first.
        public var dimensions: [Int]
        /// The bytes, row-major.
        public var data: [UInt8]
    }

    /// Reads one IDX file of unsigned bytes (type code 0x08), gzipped or not.
    ///
    /// - Throws: `.missingFile`, `.badFormat` (wrong magic number or element type, a zero or
    ///   overflowing dimension), `.truncated`.
    public static func read(_ path: String, limits: ImageLimits = .process) throws -> Array {
        try decode(FileBytes.readMaybeGzipped(path, limits: limits), path: path)
    }

    /// Decodes the bytes of an (inflated) IDX file; `path` names it in errors.
    ///
    /// - Throws: `.badFormat` (wrong magic number or element type, a zero or overflowing
    ///   dimension), `.truncated`.
    public static func decode(_ bytes: [UInt8], path: String) throws -> Array {
        guard bytes.count >= 4, bytes[0] == 0, bytes[1] == 0 else {
            throw DatasetError(.badFormat, path: path, "not an IDX file: the magic number must start with two zero bytes")
        }
        guard bytes[2] == 0x08 else {
            throw DatasetError(.badFormat, path: path, String(format: "IDX element type 0x%02x is not unsigned byte (0x08)", bytes[2]))
        }
        let rank = Int(bytes[3])
        guard rank >= 1, rank <= 4 else {
            throw DatasetError(.badFormat, path: path, "IDX rank \(rank) is not in 1...4")
        }
        guard bytes.count >= 4 + 4 * rank else {
            throw DatasetError(.truncated, path: path, "the file ends inside the IDX header")
        }
        let dims = (0..<rank).map { Int(FileBytes.bigEndianUInt32(bytes, at: 4 + 4 * $0)) }
        let header = 4 + 4 * rank
        guard !dims.contains(0) else {
            throw DatasetError(.badFormat, path: path, "the IDX header announces \(dims.map(String.init).joined(separator: "×")) elements; a zero dimension holds no data")
        }
        var expected = 1
        for d in dims {
            let (p, overflow) = expected.multipliedReportingOverflow(by: d)
            guard !overflow else {
                throw DatasetError(.badFormat, path: path, "the IDX header's dimensions \(dims.map(String.init).joined(separator: "×")) overflow a byte count")
            }
            expected = p
        }
        guard bytes.count - header >= expected else {
            throw DatasetError(.truncated, path: path,
                               "the header announces \(dims.map(String.init).joined(separator: "×")) = \(expected) bytes of data but the file holds \(bytes.count - header)")
        }
        return Array(dimensions: dims, data: Swift.Array(bytes[header..<(header + expected)]))
    }

    /// Reads a split of MNIST-like data from `root`: `train` reads `train-images-idx3-ubyte` and
    /// `train-labels-idx1-ubyte`, `test` reads the `t10k-` pair, each with or without `.gz`.
    ///
    /// - Throws: a `DatasetError` naming the file when one is missing, truncated, of the wrong
    ///   format, when the counts disagree, or when a label is not below the number of classes.
    public static func readSplit(root: String, train: Bool, classNames: [String]) throws -> ImageSet {
        let prefix = train ? "train" : "t10k"
        let imagesPath = try locate(root: root, name: "\(prefix)-images-idx3-ubyte")
        let labelsPath = try locate(root: root, name: "\(prefix)-labels-idx1-ubyte")
        let images = try read(imagesPath)
        let labels = try read(labelsPath)
        guard images.dimensions.count == 3 else {
            throw DatasetError(.badFormat, path: imagesPath, "expected a rank-3 IDX array (N×H×W), found rank \(images.dimensions.count)")
        }
        guard labels.dimensions.count == 1 else {
            throw DatasetError(.badFormat, path: labelsPath, "expected a rank-1 IDX array of labels, found rank \(labels.dimensions.count)")
        }
        guard labels.dimensions[0] == images.dimensions[0] else {
            throw DatasetError(.badFormat, path: labelsPath,
                               "\(labels.dimensions[0]) labels for \(images.dimensions[0]) images in \(imagesPath)")
        }
        let set = ImageSet(height: images.dimensions[1], width: images.dimensions[2], channels: 1,
                           pixels: images.data, labels: labels.data.map { Int32($0) }, classNames: classNames)
        try set.validateLabels(path: labelsPath)
        return set
    }

    /// `root/name.gz` if it exists, else `root/name`; the error lists both.
    static func locate(root: String, name: String) throws -> String {
        let plain = (root as NSString).appendingPathComponent(name)
        for candidate in [plain + ".gz", plain] where FileManager.default.fileExists(atPath: candidate) {
            return candidate
        }
        throw DatasetError(.missingFile, path: plain,
                           "missing: put \(name) or \(name).gz in \(root)")
    }
}
