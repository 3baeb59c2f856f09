import Foundation
import PipelineDSL
import Engine

/// Everything the first stage needs to continue bit-identically after a kill: the network's state
/// (the reference `SupConResNet` state-dict names under `model.`), the SGD momentum buffers (under
/// `momentum.`), the subclass labels and class temperatures in force, the k-means generator, and
/// the last finished epoch. The loader needs no state of its own: its batches are a pure function
/// of (seed, epoch, step), so the epoch says where it resumes.
///
/// Stored as one safetensors file sealed with its digest (`CheckpointFile`): written under a
/// temporary name, then renamed, the one it replaces kept as the previous checkpoint. A kill
/// leaves either the previous checkpoint or the new one; a damaged or edited file is not trusted
/// (the previous one, or a start from scratch, is used instead, with a log line).
public struct EncoderCheckpoint {
    /// The file name inside the stage's checkpoint folder.
    public static let fileName = "encoder-checkpoint.safetensors"
    /// Raised when the stored layout changes; an older file is then ignored with a log line.
    public static let formatVersion = 1

    /// The last epoch trained to its end (counted from 1).
    public var epoch: Int
    /// Subclass id per training image (empty before the first re-clustering).
    public var subclasses: [Int32]
    /// τ_c per class (empty before the first re-clustering).
    public var classTemperatures: [Float]
    /// The k-means generator after the last re-clustering.
    public var generator: MT19937
    /// The mean loss of the last epoch, for the log.
    public var lastLoss: Double
    /// The data-parallel ranks that trained it (1 on one process): with per-rank batch norm the
    /// trajectory depends on it, so a run resumes only with the same number.
    public var ranks: Int

    /// A checkpoint of the given training state.
    public init(epoch: Int, subclasses: [Int32], classTemperatures: [Float], generator: MT19937, lastLoss: Double, ranks: Int = 1) {
        self.ranks = ranks
        self.epoch = epoch
        self.subclasses = subclasses
        self.classTemperatures = classTemperatures
        self.generator = generator
        self.lastLoss = lastLoss
    }

    /// The checkpoint file in `directory`.
    public static func url(in directory: URL) -> URL { directory.appendingPathComponent(fileName) }

    /// Writes this state together with `model`'s and `optimizer`'s into `directory` atomically.
    /// `extras`: further arrays the model's state does not hold (a MoCo queue, a loss's generator).
    public func write(model: any Module, optimizer: SGD, extras: [(name: String, array: HostArray)] = [], to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        optimizer.downloadMomentumBuffers()
        var tensors = model.stateArrays().map { (name: "model." + $0.name, array: $0.array) }
        for (name, parameter) in optimizer.parameters {
            guard let buffer = optimizer.momentumBuffers[name] else { continue }
            tensors.append((name: "momentum." + name, array: HostArray(floats: buffer, shape: parameter.shape)))
        }
        tensors.append((name: "subclasses", array: HostArray(int32s: subclasses, shape: [subclasses.count])))
        tensors.append((name: "class_temperatures", array: HostArray(floats: classTemperatures, shape: [classTemperatures.count])))
        let words = generator.state.map { Int64($0) } + [Int64(generator.index)]
        tensors.append((name: "kmeans_generator", array: HostArray(int64s: words, shape: [words.count])))
        tensors += extras.map { (name: "extra." + $0.name, array: $0.array) }
        let metadata = ["format_version": "\(Self.formatVersion)", "epoch": "\(epoch)",
                        "last_loss": "\(lastLoss.bitPattern)", "ranks": "\(ranks)"]
        try CheckpointFile.write(to: Self.url(in: directory)) { try SafeTensors.write(tensors, metadata: metadata, to: $0) }
    }

    /// Reads the checkpoint in `directory` into `model` and `optimizer`; nil when there is none.
    ///
    /// - Throws: `RunError` naming the file when it exists but is damaged or does not fit the
    ///   model (a different recipe cannot share the folder: it is keyed by the stage's hash).
    /// `extras` receives the file to read what `write(model:optimizer:extras:to:)` added (names
    /// prefixed `extra.`), after the model and optimiser are loaded.
    ///
    /// The file is read only if it matches its digest; otherwise the previous checkpoint is read
    /// if it does, else nil is returned (start from scratch), and `log` gets one sentence saying which.
    public static func read(from directory: URL, model: any Module, optimizer: SGD,
                            extras: (SafeTensorsFile) throws -> Void = { _ in },
                            log: (String) -> Void = { _ in }) throws -> EncoderCheckpoint? {
        guard let url = CheckpointFile.resumable(Self.url(in: directory), log: log) else { return nil }
        do {
            let file = try SafeTensors.read(contentsOf: url)
            guard file.metadata["format_version"] == "\(formatVersion)", let epoch = file.metadata["epoch"].flatMap({ Int($0) }),
                  let lossBits = file.metadata["last_loss"].flatMap({ UInt64($0) }) else {
                throw RunError("\(url.path): not an encoder checkpoint of format \(formatVersion)")
            }
            let words = try file.array(named: "kmeans_generator").int64s()
            guard let last = words.last,
                  let generator = MT19937(state: words.dropLast().map { UInt32(truncatingIfNeeded: $0) }, index: Int(last)) else {
                throw RunError("\(url.path): the k-means generator state is damaged")
            }
            let subclasses = try file.array(named: "subclasses").int32s()
            let temperatures = try file.array(named: "class_temperatures").floats()
            var buffers: [String: [Float]] = [:]
            for (name, parameter) in optimizer.parameters {
                guard let array = file["momentum." + name] else { continue }
                guard array.shape == parameter.shape else {
                    throw RunError("\(url.path): momentum buffer '\(name)' is \(array.shape), the model has \(parameter.shape)")
                }
                buffers[name] = array.floats()
            }
            var modelFile = file
            modelFile.tensors.removeAll { $0.name.hasPrefix("extra.") }
            try model.load(modelFile, prefix: "model.")
            optimizer.momentumBuffers = buffers
            try extras(file)
            // Files from before data parallelism have no `ranks`: one process wrote them.
            let ranks = file.metadata["ranks"].flatMap { Int($0) } ?? 1
            return EncoderCheckpoint(epoch: epoch, subclasses: subclasses, classTemperatures: temperatures,
                                     generator: generator, lastLoss: Double(bitPattern: lossBits), ranks: ranks)
        } catch let error as RunError {
            throw error
        } catch {
            throw RunError("\(url.path): cannot resume from this checkpoint: \(error)")
        }
    }
}
