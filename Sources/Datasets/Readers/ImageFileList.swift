import Foundation

/// Images kept as files and decoded when the loader asks (ImageNet-LT, `image_folder`): paths,
/// labels, class names.
public struct ImageFileList: ImageSource, Sendable, Equatable {
    /// Absolute paths, one per image.
    public var paths: [String]
    /// One label per image.
    public var labels: [Int32]
    /// The name of each class.
    public var classNames: [String]
    /// Where each image was listed (split file and 1-based line), for error messages.
    public var origins: [String]

    /// Whether JPEGs may be decoded reduced in the DCT (M/8) when the loader's augmentation needs
    /// fewer pixels than the file holds (`withImage(at:scale:_:)`); false: always full size.
    public var dctScaling: Bool

    /// A list of images; `origins[k]` says where image k was listed (`file:line`, or its folder).
    public init(paths: [String], labels: [Int32], classNames: [String], origins: [String], dctScaling: Bool = true) {
        precondition(paths.count == labels.count && paths.count == origins.count, "ImageFileList: \(paths.count) paths, \(labels.count) labels, \(origins.count) origins")
        self.paths = paths
        self.labels = labels
        self.classNames = classNames
        self.origins = origins
        self.dctScaling = dctScaling
    }

    /// The number of images.
    public var count: Int { paths.count }
    /// The number of classes.
    public var classCount: Int { classNames.count }

    /// ImageNet-LT: a split file of `relative/path.JPEG label` lines over the image tree `root`.
    ///
    /// - Throws: `.missingFile` for a missing split file or a line naming a missing image (with
    ///   the line number), `.badLabel` for a malformed line or a label outside `0..<classCount`.
    public static func imageNetLT(root: String, splitFile: String, classCount: Int = 1000, checkFiles: Bool = true) throws -> ImageFileList {
        guard FileManager.default.fileExists(atPath: splitFile) else {
            throw DatasetError(.missingFile, path: splitFile, "split file not found (ImageNet_LT_train.txt and friends list `path label` per line)")
        }
        guard let text = try? String(contentsOfFile: splitFile, encoding: .utf8) else {
            throw DatasetError(.io, path: splitFile, "cannot read the split file as UTF-8 text")
        }
        var list = ImageFileList(paths: [], labels: [], classNames: (0..<classCount).map { "class \($0)" }, origins: [])
        for (k, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if fields.isEmpty { continue }
            guard fields.count == 2 else {
                throw DatasetError(.badLabel, path: splitFile, line: k + 1, "expected `relative/path label`, found \"\(line)\"")
            }
            guard let label = Int32(fields[1]) else {
                throw DatasetError(.badLabel, path: splitFile, line: k + 1, "the label \"\(fields[1])\" is not an integer")
            }
            guard label >= 0, Int(label) < classCount else {
                throw DatasetError(.badLabel, path: splitFile, line: k + 1, "label \(label) is outside 0..<\(classCount)")
            }
            let path = (root as NSString).appendingPathComponent(String(fields[0]))
            if checkFiles, !FileManager.default.fileExists(atPath: path) {
                throw DatasetError(.missingFile, path: splitFile, line: k + 1, "the image \(path) does not exist")
            }
            list.paths.append(path)
            list.labels.append(label)
            list.origins.append("\(splitFile):\(k + 1)")
        }
        return list
    }

    /// `image_folder`: `root/<class>/<image>` with classes in sorted order (torchvision's
    /// `ImageFolder`); files ending in .jpg, .jpeg or .png (any case).
    ///
    /// - Throws: `.missingFile` when `root` does not exist or holds no class folder with images.
    public static func imageFolder(root: String) throws -> ImageFileList {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DatasetError(.missingFile, path: root, "image folder not found (expected root/<class>/<image>)")
        }
        let classes = try fm.contentsOfDirectory(atPath: root).filter { name in
            var dir: ObjCBool = false
            return !name.hasPrefix(".") && fm.fileExists(atPath: root + "/" + name, isDirectory: &dir) && dir.boolValue
        }.sorted()
        var list = ImageFileList(paths: [], labels: [], classNames: classes, origins: [])
        for (c, name) in classes.enumerated() {
            let folder = root + "/" + name
            let files = try fm.contentsOfDirectory(atPath: folder).filter { file in
                let ext = (file as NSString).pathExtension.lowercased()
                return ["jpg", "jpeg", "png"].contains(ext)
            }.sorted()
            for file in files {
                list.paths.append(folder + "/" + file)
                list.labels.append(Int32(c))
                list.origins.append(folder)
            }
        }
        guard !list.paths.isEmpty else {
            throw DatasetError(.missingFile, path: root, "no .jpg/.jpeg/.png images in any class folder of root/<class>/")
        }
        return list
    }
}
