import Engine
import Datasets
import PipelineDSL

/// The processes a stage's work is shared by: this process is rank `rank` of `size`.
public struct RankGroup: Equatable, Sendable {
    public let rank: Int
    public let size: Int

    /// One process doing all the work (every run without a launcher).
    public static let single = RankGroup(rank: 0, size: 1)

    /// This rank's contiguous slice of `count` rows (all of them on one rank).
    public func slice(of count: Int) -> Range<Int> { rankSlice(of: count, rank: rank, size: size) }
}

/// Where and how wide a stage's loops run — the tensor backend, the ranks sharing the work and the
/// threads of this rank — decided once per stage from its `RunContext`.
///
/// This is the one place that knows; the loops ask it instead of branching on device, ranks or
/// threads themselves. `EncoderTraining` (through `EncoderStep`), the classifier's trainer and
/// evaluation enter a place at their start; every optimiser step takes its loss's gradients from
/// `gradients(of:…)` and passes them through `synchronize` (ExecutionPlace+DataParallel.swift).
///
/// Threads never change results (reductions are cut into fixed chunks, `GEMM` splits products by
/// shape only), so `threads` is a speed setting and stays out of every cache hash.
public struct ExecutionPlace {
    /// The backend tensors live on: the CPU, or a device backend that runs every primitive op.
    public let backend: any Backend
    /// Worker threads of this rank: the engine's pool, the data loader, the loss's row pass.
    public let threads: Int
    /// The ranks sharing the work.
    public let ranks: RankGroup
    /// The ranks' collectives; nil on one process.
    public let communicator: (any Communicator)?
    /// Whether training-mode batch norm normalises over the global batch (`sync_batchnorm`).
    public let synchronizesBatchNorm: Bool

    /// A place on the CPU backend with `threads` threads and one rank (tests, tools).
    public static func cpu(threads: Int) -> ExecutionPlace {
        ExecutionPlace(backend: CPUBackend.shared, threads: threads, ranks: .single, communicator: nil, synchronizesBatchNorm: false)
    }

    /// A place on the CPU backend shared by `communicator`'s ranks (benchmarks, tests).
    public static func cpu(threads: Int, communicator: (any Communicator)?, synchronizesBatchNorm: Bool = false) -> ExecutionPlace {
        let ranks = communicator.map { RankGroup(rank: $0.rank, size: $0.size) } ?? .single
        return ExecutionPlace(backend: CPUBackend.shared, threads: threads, ranks: ranks,
                              communicator: ranks.size > 1 ? communicator : nil, synchronizesBatchNorm: synchronizesBatchNorm)
    }

    /// A place on `backend` with `threads` threads and one rank (benchmarks, tests). A device
    /// backend must run every primitive op (`DeviceSelection.missingOps`).
    public static func single(on backend: any Backend, threads: Int) -> ExecutionPlace {
        precondition(DeviceSelection.missingOps(backend) == nil, "ExecutionPlace.single: \(backend.name) lacks ops")
        return ExecutionPlace(backend: backend, threads: threads, ranks: .single, communicator: nil, synchronizesBatchNorm: false)
    }

    /// The place `context` asks for (its device, thread count and the ranks of a data-parallel
    /// job), made current: the engine's thread count is set. A device this build cannot use
    /// throws `DeviceError`.
    ///
    /// Under several ranks `cuda` (and CUDA under `auto`) is the rank's local GPU: the one of
    /// index `localRank` modulo their number (`cuda:N` is kept as given; OpenCL's ranks share the
    /// device they name), and the log lists every rank's device. What is not staged through the
    /// host across ranks on a device is refused here in a sentence: `sync_batchnorm`, and
    /// `acrossRanksOnDevice`, the caller's reason it cannot (nil when it can).
    public static func enter(_ context: RunContext, synchronizesBatchNorm: Bool = false,
                             acrossRanksOnDevice refusal: String? = nil) throws -> ExecutionPlace {
        let communicator = context.coordinator as? any Communicator
        let ranks = communicator.map { RankGroup(rank: $0.rank, size: $0.size) } ?? .single
        let choice = try DeviceSelection.select(context.device, localRank: ranks.size > 1 ? communicator?.localRank ?? 0 : 0)
        let place = try shared(on: choice.backend, device: context.device, threads: max(1, context.threads), communicator: communicator,
                               synchronizesBatchNorm: synchronizesBatchNorm, acrossRanksOnDevice: refusal)
        place.activate()
        if place.isDevice {
            let label = (choice.ordinal.map { "cuda:\($0) " } ?? "") + choice.backend.name
            context.log(ranks.size > 1 ? "ranks on \(place.rankDevices(label).enumerated().map { "\($0.offset): \($0.element)" }.joined(separator: ", ")) "
                                         + "(exchanges staged through the host)" : "on \(choice.backend.name)")
        }
        return place
    }

    /// A place on `backend` (the device `device` named) shared by `communicator`'s ranks, with
    /// `enter`'s refusals: a backend that lacks an op, and on a device across ranks
    /// `sync_batchnorm` and `acrossRanksOnDevice` (benchmarks; `enter` for stages).
    public static func shared(on backend: any Backend, device: String, threads: Int, communicator: (any Communicator)?,
                              synchronizesBatchNorm: Bool = false, acrossRanksOnDevice refusal: String? = nil) throws -> ExecutionPlace {
        // A device backend that lacks some op would stop at a precondition mid-step; refuse it
        // here in a sentence instead (docs/opencl.md lists the ops covered so far).
        if let missing = DeviceSelection.missingOps(backend) {
            throw DeviceError.unavailable(device: device, reason: "\(backend.name) has no kernel yet for \(missing), which training needs")
        }
        let ranks = communicator.map { RankGroup(rank: $0.rank, size: $0.size) } ?? .single
        if ranks.size > 1 && !(backend === CPUBackend.shared) {
            if synchronizesBatchNorm {
                throw DeviceError.unavailable(device: device, reason: "sync_batchnorm across \(ranks.size) ranks runs on the CPU only "
                                              + "so far (its per-layer sums exchange host arrays inside the forward pass); set sync_batchnorm: false "
                                              + "(per-rank batch norm) to train on the device")
            }
            if let refusal { throw DeviceError.unavailable(device: device, reason: refusal) }
        }
        return ExecutionPlace(backend: backend, threads: threads, ranks: ranks, communicator: ranks.size > 1 ? communicator : nil,
                              synchronizesBatchNorm: synchronizesBatchNorm)
    }

    /// Every rank's `label` (its device), in rank order: two collectives (this rank's alone on one process).
    public func rankDevices(_ label: String) -> [String] {
        let name = Array(label.utf8)
        guard let communicator, ranks.size > 1 else { return [label] }
        let counts = communicator.allGather([name.count]).map { $0[0] }
        let all = communicator.allGather(name, counts: counts)
        var names: [String] = [], offset = 0
        for count in counts {
            names.append(String(decoding: all[offset..<(offset + count)], as: UTF8.self))
            offset += count
        }
        return names
    }

    /// Makes this place's thread count the engine's.
    public func activate() { CPUThreads.set(threads) }

    /// Whether tensors here live in a device's memory (not the CPU backend's).
    public var isDevice: Bool { !(backend === CPUBackend.shared) }

    /// Puts `model`'s parameters and running statistics where this place's tensors live (one
    /// upload per tensor on a device, nothing on the CPU). Call it after loading weights.
    public func adopt(_ model: any Module) {
        if isDevice { model.move(to: backend) }
    }

    /// A batch of images (or any host values) as a tensor on this place's backend: the one
    /// upload a training step makes for its input on a device.
    public func input(_ values: [Float], shape: [Int]) -> Tensor {
        Tensor(values, shape: shape, on: backend)
    }

    /// Starts putting `batch`'s images on this place's backend and returns at once: on a device
    /// the copy runs on a transfer queue while the device computes the batch before it. On the
    /// CPU the images are wrapped as they are.
    public func prepare(_ batch: Batch) -> PreparedBatch {
        guard isDevice, let device = backend as? any DeviceKernels else {
            return PreparedBatch(batch: batch, tensor: Tensor(batch.images, shape: batch.shape), upload: nil)
        }
        let tensor = Tensor(uninitializedShape: batch.shape, on: backend)
        return PreparedBatch(batch: batch, tensor: tensor, upload: device.uploadInBackground(batch.images, to: tensor.storage))
    }

    /// Waits for the device and throws what it reported (out of memory…), naming `stage`.
    public func check(stage: String) throws {
        do { try backend.synchronize() } catch let error as DeviceError { throw error.inStage(stage) }
    }

    /// The group a training forward pass normalises over (`BatchNormSync.across`): the ranks
    /// with `sync_batchnorm`, else nil (per-rank batch norm, as DistributedDataParallel per GPU).
    public var batchNormGroup: (any Communicator)? { synchronizesBatchNorm ? communicator : nil }
}

/// A batch whose images are on their way to a place's backend (`ExecutionPlace.prepare`).
public struct PreparedBatch {
    /// The batch, as the loader made it.
    public let batch: Batch
    let tensor: Tensor
    let upload: BackgroundUpload?

    /// The images on the place's backend; the device's later work waits for their copy.
    public var images: Tensor {
        upload?.ready()
        return tensor
    }
}
