import Foundation
import PipelineDSL
import Datasets

/// The artifact of a `dataset` or `imbalance` stage: training and test images with their
/// labels and class names, as files in the stage's cache folder.
///
/// `train.imageset` and `test.imageset` are `ImageSet` archives; `data.json` says what they
/// hold (source kind, image size, classes, training class counts) for people and tools.
public struct DataArtifact: Sendable, Equatable {
    /// The training images (after the long-tail selection for an `imbalance` artifact).
    public var train: ImageSet
    /// The balanced test images.
    public var test: ImageSet
    /// The data set kind it came from (`fashion_mnist`, `cifar100`, ...).
    public var source: String

    public static let trainFile = "train.imageset"
    public static let testFile = "test.imageset"
    public static let metadataFile = "data.json"
    /// Stage kinds whose artifact is a `DataArtifact`.
    public static let kinds = ["dataset", "imbalance"]

    public init(train: ImageSet, test: ImageSet, source: String) {
        self.train = train
        self.test = test
        self.source = source
    }

    /// Images per class in the training split.
    public var classCounts: [Int] { train.classCounts }

    private struct Metadata: Codable {
        var source: String
        var height: Int, width: Int, channels: Int
        var classes: Int
        var classNames: [String]
        var trainCount: Int, testCount: Int
        var trainClassCounts: [Int]
    }

    /// Writes the three files into `directory`.
    public func write(to directory: URL) throws {
        try train.write(to: directory.appendingPathComponent(Self.trainFile).path)
        try test.write(to: directory.appendingPathComponent(Self.testFile).path)
        let metadata = Metadata(source: source, height: train.height, width: train.width, channels: train.channels,
                                classes: train.classCount, classNames: train.classNames, trainCount: train.count,
                                testCount: test.count, trainClassCounts: classCounts)
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
        let train = try ImageSet.read(from: directory.appendingPathComponent(trainFile).path)
        let test = try ImageSet.read(from: directory.appendingPathComponent(testFile).path)
        return DataArtifact(train: train, test: test, source: metadata.source)
    }

    /// The data artifact among a running stage's inputs (the input of kind `dataset` or `imbalance`).
    public static func input(of context: RunContext) throws -> DataArtifact {
        guard let input = context.inputs.first(where: { kinds.contains($0.kind) }) else {
            throw RunError("stage '\(context.stageName)' has no dataset or imbalance input")
        }
        return try read(from: input.artifactDirectory)
    }
}
