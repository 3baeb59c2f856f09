import Foundation

/// The data sets a recipe's `dataset` stage can name (docs/method.md, "Data").
public enum DatasetKind: String, Sendable, Codable, CaseIterable {
    /// CIFAR-10, binary or python layout.
    case cifar10
    /// CIFAR-100 (fine labels), binary or python layout.
    case cifar100
    /// Fashion-MNIST IDX files.
    case fashionMNIST = "fashion_mnist"
    /// MNIST IDX files.
    case mnist
    /// ImageNet-LT: split files over a JPEG tree.
    case imagenetLT = "imagenet_lt"
    /// `root/<class>/*.jpg|png`.
    case imageFolder = "image_folder"
}

/// Where a data set is and how to get it: the `dataset` stage's parameters.
public struct DatasetSpec: Sendable, Equatable, Codable {
    /// Which data set.
    public var kind: DatasetKind
    /// Its folder; nil for the default (`/usr/share/datasets/fashion-mnist` for Fashion-MNIST,
    /// `data` under the working directory otherwise).
    public var root: String?
    /// Whether to fetch the official archive when the files are missing (CIFAR only).
    public var download: Bool
    /// ImageNet-LT: the training split file (default `root/ImageNet_LT_train.txt`).
    public var trainSplit: String?
    /// ImageNet-LT: the test split file (default `root/ImageNet_LT_test.txt`).
    public var testSplit: String?

    /// A spec with defaults.
    public init(kind: DatasetKind, root: String? = nil, download: Bool = false, trainSplit: String? = nil, testSplit: String? = nil) {
        self.kind = kind
        self.root = root
        self.download = download
        self.trainSplit = trainSplit
        self.testSplit = testSplit
    }

    /// The folder actually used.
    public var resolvedRoot: String {
        if let root { return root }
        return kind == .fashionMNIST ? IDXReader.defaultFashionMNISTRoot : FileManager.default.currentDirectoryPath + "/data"
    }
}

/// Images in memory or as files, as a reader produced them.
public enum LoadedImages: Sendable, Equatable {
    /// Decoded, equally sized images (CIFAR, MNIST).
    case memory(ImageSet)
    /// Files decoded on demand (ImageNet-LT, image folders).
    case files(ImageFileList)

    /// The images as the loader's source.
    public var source: any ImageSource {
        switch self {
        case let .memory(set): return set
        case let .files(list): return list
        }
    }
    /// One label per image.
    public var labels: [Int32] { source.labels }
    /// The class names.
    public var classNames: [String] {
        switch self {
        case let .memory(set): return set.classNames
        case let .files(list): return list.classNames
        }
    }

    /// What reading the files found but did not read, and the images per class (see
    /// `ImageFileList.notes`); empty for in-memory sets.
    public var notes: [String] {
        if case let .files(list) = self { return list.notes }
        return []
    }

    /// The images at `indices` (the long-tailed subset).
    public func subset(_ indices: [Int]) -> LoadedImages {
        switch self {
        case let .memory(set): return .memory(set.subset(indices))
        case let .files(list):
            var kept = ImageFileList(paths: indices.map { list.paths[$0] }, labels: indices.map { list.labels[$0] },
                                     classNames: list.classNames, origins: indices.map { list.origins[$0] },
                                     dctScaling: list.dctScaling, limits: list.limits)
            kept.notes = list.notes
            return .files(kept)
        }
    }
}

/// Reading, downloading and fingerprinting the data sets of `DatasetKind`.
public enum DatasetCatalog {
    /// Makes sure the files are there: downloads and unpacks CIFAR's official archive when it is
    /// missing and `spec.download` is set.
    ///
    /// - Parameter archiveURL: overrides the official URL (tests serve a small archive on loopback).
    /// - Parameter archiveMD5: the MD5 the override must have.
    public static func prepare(_ spec: DatasetSpec, archiveURL: String? = nil, archiveMD5: String? = nil) throws {
        guard let variant = cifarVariant(spec.kind) else { return }
        let root = spec.resolvedRoot
        if CIFARReader.layout(root: root, variant: variant) != nil { return }
        let url = archiveURL ?? variant.archive.url
        let archive = root + "/" + (variant.archive.url as NSString).lastPathComponent
        let hasArchive = FileManager.default.fileExists(atPath: archive)
        guard spec.download || hasArchive else {
            _ = try CIFARReader.read(root: root, variant: variant, train: true) // throws the "put it here" error
            return
        }
        try ArchiveDownload.fetch(url: url, md5: archiveMD5 ?? variant.archive.md5, to: archive)
        try ArchiveDownload.unpack(archive: archive, folder: variant.pythonFolder, into: root)
    }

    private static func cifarVariant(_ kind: DatasetKind) -> CIFARReader.Variant? {
        switch kind {
        case .cifar10: return .cifar10
        case .cifar100: return .cifar100
        default: return nil
        }
    }

    /// Reads the training (`train: true`) or test split.
    public static func load(_ spec: DatasetSpec, train: Bool) throws -> LoadedImages {
        let root = spec.resolvedRoot
        switch spec.kind {
        case .cifar10, .cifar100:
            return .memory(try CIFARReader.read(root: root, variant: cifarVariant(spec.kind)!, train: train))
        case .fashionMNIST:
            return .memory(try IDXReader.readSplit(root: root, train: train, classNames: IDXReader.fashionMNISTClasses))
        case .mnist:
            return .memory(try IDXReader.readSplit(root: root, train: train, classNames: IDXReader.mnistClasses))
        case .imagenetLT:
            return .files(try ImageFileList.imageNetLT(root: root, splitFile: splitFile(spec, train: train)))
        case .imageFolder:
            return .files(try ImageFileList.imageFolder(root: try folderSplit(root: root, train: train), dataRoot: root))
        }
    }

    private static func splitFile(_ spec: DatasetSpec, train: Bool) -> String {
        (train ? spec.trainSplit : spec.testSplit) ?? spec.resolvedRoot + (train ? "/ImageNet_LT_train.txt" : "/ImageNet_LT_test.txt")
    }

    /// `root/train` for training; `root/test`, else `root/val`, for testing.
    private static func folderSplit(root: String, train: Bool) throws -> String {
        let candidates = train ? ["train"] : ["test", "val"]
        for name in candidates where FileManager.default.fileExists(atPath: root + "/" + name) { return root + "/" + name }
        throw DatasetError(.missingFile, path: root + "/" + candidates[0],
                           "image folder split not found: expected \(candidates.map { root + "/" + $0 + "/<class>/" }.joined(separator: " or "))")
    }

    /// For the file data sets (`imagenet_lt`, `image_folder`): the error that says which split
    /// file or folder is not there, or nil when both splits are (their images are checked by
    /// `sourceFiles`). Nil for the other kinds.
    public static func missingSplit(_ spec: DatasetSpec) -> DatasetError? {
        switch spec.kind {
        case .imagenetLT:
            for train in [true, false] where !FileManager.default.fileExists(atPath: splitFile(spec, train: train)) {
                return DatasetError(.missingFile, path: splitFile(spec, train: train), "split file not found")
            }
            return nil
        case .imageFolder:
            do {
                _ = try folderSplit(root: spec.resolvedRoot, train: true)
                _ = try folderSplit(root: spec.resolvedRoot, train: false)
                return nil
            } catch let error as DatasetError {
                return error
            } catch {
                return DatasetError(.io, path: spec.resolvedRoot, "\(error)")
            }
        case .cifar10, .cifar100, .fashionMNIST, .mnist:
            return nil
        }
    }

    /// The files a data set is read from (both splits), for its digest.
    public static func sourceFiles(_ spec: DatasetSpec) throws -> [String] {
        try sourceEntries(spec).files
    }

    /// The files a data set is read from and, for the image files, where each was listed.
    static func sourceEntries(_ spec: DatasetSpec) throws -> (files: [String], images: [String: String]) {
        let root = spec.resolvedRoot
        func imageOrigins(_ lists: [ImageFileList]) -> [String: String] {
            var origins: [String: String] = [:]
            for list in lists { for (path, origin) in zip(list.paths, list.origins) where origins[path] == nil { origins[path] = origin } }
            return origins
        }
        switch spec.kind {
        case .cifar10, .cifar100:
            let variant = cifarVariant(spec.kind)!
            guard let (folder, python) = CIFARReader.layout(root: root, variant: variant) else {
                _ = try CIFARReader.read(root: root, variant: variant, train: true)
                return ([], [:])
            }
            let names = python ? variant.pythonFiles(train: true) + variant.pythonFiles(train: false)
                               : variant.binaryFiles(train: true) + variant.binaryFiles(train: false)
            return (names.map { folder + "/" + $0 }, [:])
        case .fashionMNIST, .mnist:
            return (try ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
                .map { try IDXReader.locate(root: root, name: $0) }, [:])
        case .imagenetLT:
            let train = try ImageFileList.imageNetLT(root: root, splitFile: splitFile(spec, train: true))
            let test = try ImageFileList.imageNetLT(root: root, splitFile: splitFile(spec, train: false))
            return ([splitFile(spec, train: true), splitFile(spec, train: false)] + train.paths + test.paths, imageOrigins([train, test]))
        case .imageFolder:
            let train = try ImageFileList.imageFolder(root: try folderSplit(root: root, train: true), dataRoot: root)
            let test = try ImageFileList.imageFolder(root: try folderSplit(root: root, train: false), dataRoot: root)
            return (train.paths + test.paths, imageOrigins([train, test]))
        }
    }

    /// The digest of the source files (see `SourceDigest`), remembered in `cacheFile`. Image
    /// files have their headers checked against `limits` as they are digested, so an image too
    /// large to decode is refused here, at plan time, naming the file and the split line.
    public static func sourceDigest(_ spec: DatasetSpec, cacheFile: String?, limits: ImageLimits = .process) throws -> String {
        let entries = try sourceEntries(spec)
        return try SourceDigest.digest(files: entries.files, root: spec.resolvedRoot, cacheFile: cacheFile, images: entries.images, limits: limits)
    }
}
