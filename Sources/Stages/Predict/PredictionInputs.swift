import Foundation
import Datasets

/// The images to classify, gathered from what a user names: image files (JPEG or PNG, any size),
/// folders (searched recursively for .jpg, .jpeg and .png), and split files (`.txt`, one
/// `path [label]` per line, paths relative to `root` or to the split file's folder — the layout
/// of ImageNet-LT's split files). Labels, where a split file gives them, let the summary report
/// accuracy.
///
/// As an `ImageSource` it decodes each image when the loader asks and delivers it with the
/// encoder's channels: RGB, or PIL's luma (`convert('L')`) for a 1-channel encoder.
public struct PredictionInputs: ImageSource, Sendable {
    /// The images, in the order given (each folder's files sorted by path).
    public private(set) var files: ImageFileList
    /// Whether image k has a known label (from a split file).
    public private(set) var labelled: [Bool]
    /// The channels delivered: 1 or 3.
    public let channels: Int

    /// Images for an encoder taking `channels` channels and `classCount` classes.
    public init(channels: Int, classCount: Int) {
        precondition(channels == 1 || channels == 3, "PredictionInputs: \(channels) channels")
        self.channels = channels
        files = ImageFileList(paths: [], labels: [], classNames: (0..<classCount).map { "class \($0)" }, origins: [], dctScaling: false)
        labelled = []
    }

    /// The extensions read as images.
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]

    /// Adds what `path` names: an image, a folder of images (recursively) or a split file (`.txt`).
    /// - Throws: `DatasetError` naming the path: missing, an unknown kind of file, an empty
    ///   folder, a malformed split line or a label outside the classes.
    public mutating func add(_ path: String, root: String? = nil) throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DatasetError(.missingFile, path: path, "no such file or folder")
        }
        let ext = (path as NSString).pathExtension.lowercased()
        if isDirectory.boolValue {
            guard let walker = fm.enumerator(atPath: path) else { throw DatasetError(.io, path: path, "cannot list the folder") }
            var found: [String] = []
            for case let relative as String in walker where Self.imageExtensions.contains((relative as NSString).pathExtension.lowercased()) {
                found.append((path as NSString).appendingPathComponent(relative))
            }
            guard !found.isEmpty else { throw DatasetError(.missingFile, path: path, "the folder holds no .jpg, .jpeg or .png image") }
            for file in found.sorted() { append(file, label: nil, origin: path) }
        } else if Self.imageExtensions.contains(ext) {
            append(path, label: nil, origin: "the command line")
        } else if ext == "txt" {
            try addSplitFile(path, root: root ?? (path as NSString).deletingLastPathComponent)
        } else {
            throw DatasetError(.decodeFailed, path: path, "not an image (.jpg, .jpeg, .png), a folder or a split file (.txt)")
        }
    }

    private mutating func addSplitFile(_ path: String, root: String) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw DatasetError(.io, path: path, "cannot read the split file as UTF-8 text")
        }
        for (k, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if fields.isEmpty { continue }
            guard fields.count <= 2 else {
                throw DatasetError(.badLabel, path: path, line: k + 1, "expected `path [label]`, found \"\(line)\"")
            }
            var label: Int32?
            if fields.count == 2 {
                guard let value = Int32(fields[1]), value >= 0, Int(value) < files.classCount else {
                    throw DatasetError(.badLabel, path: path, line: k + 1, "the label \"\(fields[1])\" is not a class index in 0..<\(files.classCount)")
                }
                label = value
            }
            let relative = String(fields[0])
            let image = relative.hasPrefix("/") ? relative : (root as NSString).appendingPathComponent(relative)
            guard FileManager.default.fileExists(atPath: image) else {
                throw DatasetError(.missingFile, path: path, line: k + 1, "the image \(image) does not exist")
            }
            append(image, label: label, origin: "\(path):\(k + 1)")
        }
    }

    private mutating func append(_ path: String, label: Int32?, origin: String) {
        files.paths.append(path)
        files.labels.append(label ?? 0)
        files.origins.append(origin)
        labelled.append(label != nil)
    }

    /// The number of images.
    public var count: Int { files.count }
    /// The labels (0 where unknown; see `labelled`).
    public var labels: [Int32] { files.labels }
    /// The number of classes.
    public var classCount: Int { files.classCount }

    /// Decodes image `index` and lends its pixels with the encoder's channels.
    public func withImage<R>(at index: Int, _ body: (UnsafeBufferPointer<UInt8>, Int, Int, Int) throws -> R) throws -> R {
        let image = try files.decode(at: index)  // RGB
        guard channels == 1 else {
            return try image.pixels.withUnsafeBufferPointer { try body($0, image.height, image.width, 3) }
        }
        var gray = [UInt8](repeating: 0, count: image.height * image.width)
        image.pixels.withUnsafeBufferPointer { p in
            for k in 0..<gray.count {
                // PIL's RGB → L: (19595 R + 38470 G + 7471 B + 2^15) >> 16; a gray image comes back unchanged.
                let value = (Int32(p[3 * k]) * 19595 + Int32(p[3 * k + 1]) * 38470 + Int32(p[3 * k + 2]) * 7471 + 0x8000) >> 16
                gray[k] = UInt8(truncatingIfNeeded: value)
            }
        }
        return try gray.withUnsafeBufferPointer { try body($0, image.height, image.width, 1) }
    }
}
