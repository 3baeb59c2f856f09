import Foundation

extension MoCo {
    /// The whole model as the reference's `MoCo.state_dict()` holds it: `encoder_q.*`,
    /// `encoder_k.*`, `queue` [dim, K] float32, `queue_l` and `queue_t` [1, K] int64, `queue_ptr`
    /// [1] int64.
    public func checkpointArrays() -> [(name: String, array: HostArray)] {
        stateArrays() + queueArrays()
    }

    /// The queue's buffers alone (`queue`, `queue_l`, `queue_t`, `queue_ptr`): what a training
    /// checkpoint adds to the module state it already holds.
    public func queueArrays() -> [(name: String, array: HostArray)] {
        [("queue", HostArray(floats: queue.scalars, shape: [dimension, queueSize])),
         ("queue_l", HostArray(int64s: queueSubclass, shape: [1, queueSize])),
         ("queue_t", HostArray(int64s: queueClass, shape: [1, queueSize])),
         ("queue_ptr", HostArray(int64s: [Int64(queuePointer)], shape: [1]))]
    }

    /// Writes `checkpointArrays()` as safetensors (loads into the reference's `MoCo` with
    /// `load_state_dict(strict=True)`).
    public func saveCheckpoint(to url: URL, metadata: [String: String] = [:]) throws {
        try SafeTensors.write(checkpointArrays(), metadata: metadata, to: url)
    }

    /// Writes the query encoder's backbone (no `fc`) with torchvision's names, for a linear probe
    /// or any torchvision ResNet of the same depth.
    public func exportBackbone(to url: URL, metadata: [String: String] = [:]) throws {
        try SafeTensors.write(encoderQuery.backboneArrays(), metadata: metadata, to: url)
    }

    /// A model shaped by a MoCo checkpoint (depth from the names, dimension and K from `queue`,
    /// `momentum` as given) with every entry loaded.
    public convenience init(checkpoint file: SafeTensorsFile, momentum: Float = 0.999) throws {
        guard let architecture = ResNetImageNet.Architecture(stateNames: Set(file.names), prefix: "encoder_q."),
              let queue = file["queue"], queue.shape.count == 2 else {
            throw CheckpointError(path: file.path, problems: ["not a MoCo checkpoint: no torchvision ResNet under 'encoder_q.' or no 2-D 'queue'"])
        }
        self.init(architecture, dimension: queue.shape[0], queueSize: queue.shape[1], momentum: momentum)
        try loadCheckpoint(file)
    }

    /// Loads every entry of `checkpointArrays()` from `file`; nothing changes unless all fit.
    public func loadCheckpoint(_ file: SafeTensorsFile) throws {
        var problems: [String] = []
        let buffers = ["queue", "queue_l", "queue_t", "queue_ptr"]
        let known = Set(state.map(\.name) + buffers)
        problems += file.names.filter { !known.contains($0) }.map { "unexpected '\($0)'" }
        func integers(_ name: String, _ count: Int) -> [Int64]? {
            guard let array = file[name], array.count == count, let values = try? array.int64s() else {
                problems.append("'\(name)' is missing or not \(count) integers"); return nil
            }
            return values
        }
        let queueArray = file["queue"]
        if queueArray?.shape != [dimension, queueSize] || queueArray?.dtype.isFloatingPoint != true {
            problems.append("'queue' is missing or not float \([dimension, queueSize])")
        }
        let subclass = integers("queue_l", queueSize), classes = integers("queue_t", queueSize), pointer = integers("queue_ptr", 1)
        if let p = pointer?.first, !(0..<Int64(queueSize)).contains(p) { problems.append("'queue_ptr' \(p) outside 0..<\(queueSize)") }
        var encoders = file
        encoders.tensors.removeAll { buffers.contains($0.name) }
        guard problems.isEmpty, let queueArray, let subclass, let classes, let pointer else {
            throw CheckpointError(path: file.path, problems: problems)
        }
        try load(encoders, strict: false)  // throws before changing anything when an encoder entry does not fit
        setQueue(Tensor(queueArray.floats(), shape: queueArray.shape), subclass: subclass, class: classes, pointer: Int(pointer[0]))
    }
}
