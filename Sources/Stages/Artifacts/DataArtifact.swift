import Foundation
import PipelineDSL
import Datasets

/// The artifact of a `dataset` or `imbalance` stage: training and test images with their
/// labels and class names, as files in the stage's cache folder.
///
/// In memory (CIFAR, (Fashion-)MNIST, equally sized image folders): `train.imageset` and
/// `test.imageset` are `ImageSet` archives. As files (ImageNet-LT, `storage: files`): the
/// `train.files.json` and `test.files.json` lists of image paths, labels and the split-file lines
/// that listed them; the images are decoded per step by the loader, never all at once.
/// `data.json` says what the artifact holds (source kind, storage, image size, classes, training
/// class counts) for people and tools.
public struct DataArtifact: Sendable, Equatable {
    /// The training images (after the long-tail selection for an `imbalance` artifact).
    public var trainImages: LoadedImages
    /// The balanced test images.
    public var testImages: LoadedImages
    /// The data set kind it came from (`fashion_mnist`, `cifar100`, ...).
    public var source: String

    public static let trainFile = "train.imageset"
    public static let testFile = "test.imageset"
    public static let trainListFile = "train.files.json"
    public static let testListFile = "test.files.json"
    public static let metadataFile = "data.json"
    /// Stage kinds whose artifact is a `DataArtifact`.
    public static let kinds = ["dataset", "imbalance"]

    /// An artifact of images held in memory.
    public init(train: ImageSet, test: ImageSet, source: String) {
        self.init(trainImages: .memory(train), testImages: .memory(test), source: source)
    }

    /// An artifact of either storage.
    public init(trainImages: LoadedImages, testImages: LoadedImages, source: String) {
        self.trainImages = trainImages
        self.testImages = testImages
        self.source = source
    }

    /// Whether the images are held in memory (else they are files, decoded per step).
    public var isInMemory: Bool {
        if case .memory = trainImages, case .memory = testImages { return true }
        return false
    }

    /// The training images in memory; call `requireInMemory(stage:)` first where the data may be
    /// file-backed.
    public var train: ImageSet {
        guard case let .memory(set) = trainImages else { preconditionFailure("DataArtifact.train: the \(source) artifact is file-backed; check requireInMemory first") }
        return set
    }

    /// The test images in memory (see `train`).
    public var test: ImageSet {
        guard case let .memory(set) = testImages else { preconditionFailure("DataArtifact.test: the \(source) artifact is file-backed; check requireInMemory first") }
        return set
    }

    /// Images per class in the training split.
    public var classCounts: [Int] {
        var counts = [Int](repeating: 0, count: trainImages.classNames.count)
        for label in trainImages.labels { counts[Int(label)] += 1 }
        return counts
    }

    /// Throws a recipe-level explanation when a stage that needs equally sized images in memory
    /// (the CIFAR ResNet's loops) is given file-backed data.
    public func requireInMemory(stage: String, what: String) throws {
        guard !isInMemory else { return }
        throw RunError("stage '\(stage)': \(what) needs equally sized images held in memory, but the \(source) data set is kept as files "
                       + "(decoded per step); train it with a torchvision ResNet (encoder architecture resnet18, resnet34 or resnet50), "
                       + "or give its dataset stage storage: memory when its images share one size")
    }

    private struct Metadata: Codable {
        var source: String
        var storage: String?
        var height: Int, width: Int, channels: Int
        var classes: Int
        var classNames: [String]
        var trainCount: Int, testCount: Int
        var trainClassCounts: [Int]
    }

    /// A file list as stored: paths, labels, class names and where each image was listed, and
    /// `dctScaling: false` when the loader must decode every JPEG at full size (`decode: full`;
    /// absent, as in artifacts written before it existed, when reduced decoding is allowed).
    private struct FileListRecord: Codable {
        var paths: [String], labels: [Int32], classNames: [String], origins: [String]
        var dctScaling: Bool?
        init(_ list: ImageFileList) {
            (paths, labels, classNames, origins) = (list.paths, list.labels, list.classNames, list.origins)
            dctScaling = list.dctScaling ? nil : false
        }
        var list: ImageFileList {
            ImageFileList(paths: paths, labels: labels, classNames: classNames, origins: origins, dctScaling: dctScaling ?? true)
        }
    }

    /// Writes the artifact's files into `directory`.
    public func write(to directory: URL) throws {
        func store(_ images: LoadedImages, memoryFile: String, listFile: String) throws {
            switch images {
            case let .memory(set): try set.write(to: directory.appendingPathComponent(memoryFile).path)
            case let .files(list): try ArtifactJSON.write(FileListRecord(list), to: directory.appendingPathComponent(listFile))
            }
        }
        try store(trainImages, memoryFile: Self.trainFile, listFile: Self.trainListFile)
        try store(testImages, memoryFile: Self.testFile, listFile: Self.testListFile)
        let shape: (Int, Int, Int) = isInMemory ? (train.height, train.width, train.channels) : (0, 0, 3)
        let metadata = Metadata(source: source, storage: isInMemory ? "memory" : "files", height: shape.0, width: shape.1, channels: shape.2,
                                classes: trainImages.classNames.count, classNames: trainImages.classNames,
                                trainCount: trainImages.labels.count, testCount: testImages.labels.count, trainClassCounts: classCounts)
        try ArtifactJSON.write(metadata, to: directory.appendingPathComponent(Self.metadataFile))
    }

    /// Reads an artifact written by `write(to:)`.
    public static func read(from directory: URL) throws -> DataArtifact {
        let metadataURL = directory.appendingPathComponent(metadataFile)
        guard let data = FileManager.default.contents(atPath: metadataURL.path) else {
            throw DatasetError(.missingFile, path: metadataURL.path, "the data artifact has no \(metadataFile)")
        }
        let metadata: Metadata
        do { metadata = try JSONDecoder().decode(Metadata.self, from: data) } catch {
            throw DatasetError(.badFormat, path: metadataURL.path, "unreadable data artifact metadata: \(error)")
        }
        func load(memoryFile: String, listFile: String) throws -> LoadedImages {
            if metadata.storage != "files" { return .memory(try ImageSet.read(from: directory.appendingPathComponent(memoryFile).path)) }
            let url = directory.appendingPathComponent(listFile)
            guard let bytes = FileManager.default.contents(atPath: url.path) else {
                throw DatasetError(.missingFile, path: url.path, "the data artifact has no \(listFile)")
            }
            do { return .files(try JSONDecoder().decode(FileListRecord.self, from: bytes).list) } catch {
                throw DatasetError(.badFormat, path: url.path, "unreadable image list: \(error)")
            }
        }
        return DataArtifact(trainImages: try load(memoryFile: trainFile, listFile: trainListFile),
                            testImages: try load(memoryFile: testFile, listFile: testListFile), source: metadata.source)
    }

    /// The data artifact among a running stage's inputs (the input of kind `dataset` or `imbalance`).
    public static func input(of context: RunContext) throws -> DataArtifact {
        guard let input = context.inputs.first(where: { kinds.contains($0.kind) }) else {
            throw RunError("stage '\(context.stageName)' has no dataset or imbalance input")
        }
        return try read(from: input.artifactDirectory)
    }
}
