import Foundation

/// A checkpoint that does not fit a model: names missing or unexpected, shapes or types wrong.
public struct CheckpointError: Error, CustomStringConvertible, Equatable {
    /// The file, when the state came from one.
    public var path: String
    /// Every problem found (all are reported at once).
    public var problems: [String]

    /// The problems found with the state read from `path`.
    public init(path: String, problems: [String]) {
        self.path = path
        self.problems = problems
    }

    public var description: String {
        "\(path): checkpoint does not fit the model: " + problems.prefix(8).joined(separator: "; ")
            + (problems.count > 8 ? "; and \(problems.count - 8) more" : "")
    }
}

extension Module {
    /// The state as named arrays with PyTorch's names, shapes and types (float32 tensors, int64
    /// `num_batches_tracked`): exactly what `model.state_dict()` holds in the reference.
    public func stateArrays() -> [(name: String, array: HostArray)] {
        state.map { name, item in
            switch item {
            case .parameter(let p): return (name, HostArray(floats: p.value.scalars, shape: p.shape))
            case .runningMean(let s): return (name, HostArray(floats: s.runningMean.scalars, shape: s.runningMean.shape))
            case .runningVariance(let s): return (name, HostArray(floats: s.runningVariance.scalars, shape: s.runningVariance.shape))
            case .batchesTracked(let s): return (name, HostArray(int64s: [s.batchesTracked], shape: []))
            }
        }
    }

    /// Writes the state as a safetensors file that PyTorch's `load_state_dict` accepts.
    public func save(to url: URL, metadata: [String: String] = [:]) throws {
        try SafeTensors.write(stateArrays(), metadata: metadata, to: url)
    }

    /// Loads state from named arrays. With `prefix`, names are looked up as `prefix + name`
    /// (e.g. loading an encoder from a whole `SupConResNet` file with prefix `encoder.`).
    /// Every name of the model must be present with its shape; with `strict`, no other name may
    /// be (apart from those outside `prefix`). Nothing is changed unless everything fits.
    public func load(_ file: SafeTensorsFile, prefix: String = "", strict: Bool = true) throws {
        var problems: [String] = []
        var assignments: [() -> Void] = []
        let own = state
        for (name, item) in own {
            guard let array = file[prefix + name] else { problems.append("missing '\(prefix + name)'"); continue }
            switch item {
            case .parameter(let p):
                guard array.shape == p.shape, array.dtype.isFloatingPoint else {
                    problems.append("'\(prefix + name)' is \(array.dtype.rawValue) \(array.shape), expected float \(p.shape)"); continue
                }
                let t = Tensor(array.floats(), shape: array.shape)
                assignments.append { p.assign(t) }
            case .runningMean(let s), .runningVariance(let s):
                let expected = s.runningMean.shape
                guard array.shape == expected, array.dtype.isFloatingPoint else {
                    problems.append("'\(prefix + name)' is \(array.dtype.rawValue) \(array.shape), expected float \(expected)"); continue
                }
                let t = Tensor(array.floats(), shape: array.shape)
                if case .runningMean = item { assignments.append { s.runningMean = t } } else { assignments.append { s.runningVariance = t } }
            case .batchesTracked(let s):
                guard array.count == 1, let v = try? array.int64s().first else {
                    problems.append("'\(prefix + name)' is \(array.dtype.rawValue) \(array.shape), expected one integer"); continue
                }
                assignments.append { s.batchesTracked = v }
            }
        }
        if strict {
            let known = Set(own.map { prefix + $0.name })
            for name in file.names where name.hasPrefix(prefix) && !known.contains(name) {
                problems.append("unexpected '\(name)'")
            }
        }
        guard problems.isEmpty else { throw CheckpointError(path: file.path, problems: problems) }
        for assign in assignments { assign() }
    }

    /// Loads a safetensors file (see `load(_:prefix:strict:)`).
    public func load(contentsOf url: URL, prefix: String = "", strict: Bool = true) throws {
        try load(SafeTensors.read(contentsOf: url), prefix: prefix, strict: strict)
    }
}

extension SupConResNet {
    /// A model shaped to fit a reference `SupConResNet` state dict: the depth from the number of
    /// blocks, the input channels from `encoder.conv1.weight`, the projection size from
    /// `head.2.weight`, the classifier layer's classes from `encoder.linear.weight`. Loads the weights.
    public convenience init(checkpoint file: SafeTensorsFile) throws {
        guard let conv1 = file["encoder.conv1.weight"], conv1.shape.count == 4,
              let head2 = file["head.2.weight"], head2.shape.count == 2 else {
            throw CheckpointError(path: file.path, problems: ["not a SupConResNet checkpoint: 'encoder.conv1.weight' (4-D) or 'head.2.weight' (2-D) is missing"])
        }
        let blocks = (0..<1000).first { file["encoder.layer1.\($0).conv1.weight"] == nil } ?? 0
        let depth = 6 * blocks + 2
        guard ResNetCIFAR.depths.contains(depth) else {
            throw CheckpointError(path: file.path, problems: ["\(blocks) blocks per stage make depth \(depth), not one of \(ResNetCIFAR.depths)"])
        }
        let classes = file["encoder.linear.weight"].flatMap { $0.shape.count == 2 ? $0.shape[0] : nil } ?? 10
        self.init(depth: depth, inputChannels: conv1.shape[1], projectionDimension: head2.shape[0], classCount: classes)
        try load(file)
    }
}
