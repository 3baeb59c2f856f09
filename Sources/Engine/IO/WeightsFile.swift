import Foundation

/// Weights as a model loads them, from whichever file a user has: a safetensors file or a
/// PyTorch checkpoint (`.pth`, `.pth.tar`, told apart by content, not by name).
///
/// A checkpoint may be a bare state dict, or a training checkpoint holding one under
/// `state_dict` (the authors' MoCo `main.py` and `linear_classify.py`, with `epoch`, `arch`,
/// `optimizer`) or `model`; names saved from `DataParallel` / `DistributedDataParallel` lose
/// their `module.` prefix. `description` says what was found, for the user.
public struct WeightsFile: Sendable {
    /// The named arrays (path = the file's), ready for `Module.load(_:prefix:strict:)`.
    public var arrays: SafeTensorsFile
    /// One line: the format, where the state dict was, what was renamed, how many tensors.
    public var description: String

    /// Reads the weights in `url`; every floating-point tensor must be finite (`checkFinite()`).
    /// - Throws: `TensorFileError` for an unreadable or damaged file, a checkpoint that holds
    ///   no state dict (naming what it does hold), or a tensor holding NaN or ±∞ (naming it).
    public static func load(contentsOf url: URL) throws -> WeightsFile {
        let bytes = try FileIO.readAll(url)
        let weights: WeightsFile
        if TorchCheckpoint.isTorchFile(bytes) {
            weights = try fromTorch(TorchCheckpoint.decode(bytes, path: url.path), path: url.path)
        } else {
            let file = try SafeTensors.decode(bytes, path: url.path)
            weights = WeightsFile(arrays: file, description: "safetensors, \(file.tensors.count) tensors")
        }
        try weights.checkFinite()
        return weights
    }

    /// Throws when a floating-point tensor holds NaN or ±∞ (as float32, what the engine computes
    /// in): such a value would spread through every output without a word.
    /// - Throws: `TensorFileError.inconsistent` naming the file, the tensor, how many values are
    ///   not finite and the index of the first.
    public func checkFinite() throws {
        for (name, array) in arrays.tensors {
            do { try array.checkFinite(path: arrays.path) } catch let error as TensorFileError {
                throw TensorFileError(path: arrays.path, kind: .inconsistent, message: "tensor '\(name)': \(error.message)")
            }
        }
    }

    /// The state dict inside a decoded checkpoint, renamed as above.
    public static func fromTorch(_ root: TorchObject, path: String) throws -> WeightsFile {
        var notes: [String] = []
        let state: [(name: String, array: HostArray)]
        if let direct = root.stateDict {
            state = direct
            notes.append("a state dict")
        } else if let key = ["state_dict", "model", "model_state_dict"].first(where: { root[$0]?.stateDict != nil }),
                  let inner = root[key]?.stateDict {
            state = inner
            var about = "a training checkpoint's '\(key)'"
            var facts: [String] = []
            if case let .int(epoch)? = root["epoch"] { facts.append("epoch \(epoch)") }
            if case let .string(arch)? = root["arch"] { facts.append("arch \(arch)") }
            if !facts.isEmpty { about += " (\(facts.joined(separator: ", ")))" }
            notes.append(about)
        } else {
            throw TensorFileError(path: path, kind: .missingTensor,
                                  message: "the checkpoint holds \(root.summary), not a state dict (names → tensors) nor a training checkpoint with one under 'state_dict' or 'model'")
        }
        var tensors = state
        if tensors.allSatisfy({ $0.name.hasPrefix("module.") }) {
            tensors = tensors.map { (String($0.name.dropFirst("module.".count)), $0.array) }
            notes.append("'module.' prefix removed")
        }
        return WeightsFile(arrays: SafeTensorsFile(path: path, tensors: tensors),
                           description: "PyTorch checkpoint, \(notes.joined(separator: ", ")), \(tensors.count) tensors")
    }

    /// For a MoCo state dict (`encoder_q.*` and/or `encoder_k.*`), the prefix of the encoder to
    /// use and a sentence saying which: `preferred` (`"key"` or `"query"`) when given — it must be
    /// in the file — else the key encoder when present (the reference embeds with it for
    /// re-clustering), else the query encoder (what linear evaluation keeps). nil when the file is
    /// not a MoCo state dict.
    /// - Throws: `CheckpointError` when `preferred` names an encoder the file lacks.
    public func mocoEncoder(preferred: String?) throws -> (prefix: String, note: String)? {
        let hasQuery = arrays["encoder_q.conv1.weight"] != nil, hasKey = arrays["encoder_k.conv1.weight"] != nil
        guard hasQuery || hasKey else { return nil }
        let both = hasQuery && hasKey
        switch preferred {
        case "key"?:
            guard hasKey else {
                throw CheckpointError(path: arrays.path, problems: ["--encoder key: this MoCo checkpoint holds only the query encoder (encoder_q.*); use --encoder query or leave --encoder out"])
            }
            return ("encoder_k.", "MoCo checkpoint: the key encoder (encoder_k.*), as asked")
        case "query"?:
            guard hasQuery else {
                throw CheckpointError(path: arrays.path, problems: ["--encoder query: this MoCo checkpoint holds only the key encoder (encoder_k.*); use --encoder key or leave --encoder out"])
            }
            return ("encoder_q.", "MoCo checkpoint: the query encoder (encoder_q.*), as asked")
        default:
            if hasKey {
                return ("encoder_k.", both ? "MoCo checkpoint with both encoders: the key encoder (encoder_k.*); --encoder query for the other"
                                           : "MoCo checkpoint with one encoder: the key encoder (encoder_k.*)")
            }
            return ("encoder_q.", "MoCo checkpoint with one encoder: the query encoder (encoder_q.*)")
        }
    }
}
