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
    public static func enter(_ context: RunContext, synchronizesBatchNorm: Bool = false) throws -> ExecutionPlace {
        let choice = try DeviceSelection.select(context.device)
        // A device backend that lacks some op would stop at a precondition mid-step; refuse it
        // here in a sentence instead (docs/opencl.md lists the ops covered so far).
        if let missing = DeviceSelection.missingOps(choice.backend) {
            throw DeviceError.unavailable(device: context.device,
                                          reason: "\(choice.backend.name) has no kernel yet for \(missing), which training needs")
        }
        let communicator = context.coordinator as? any Communicator
        let ranks = communicator.map { RankGroup(rank: $0.rank, size: $0.size) } ?? .single
        if ranks.size > 1 && !(choice.backend === CPUBackend.shared) {
            throw DeviceError.unavailable(device: context.device, reason: "data-parallel ranks run on the CPU only so far (the "
                                          + "gradient sums and batch-norm sync exchange host arrays)")
        }
        let place = ExecutionPlace(backend: choice.backend, threads: max(1, context.threads), ranks: ranks,
                                   communicator: ranks.size > 1 ? communicator : nil, synchronizesBatchNorm: synchronizesBatchNorm)
        place.activate()
        if place.isDevice { context.log("on \(choice.backend.name)") }
        return place
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
