import Engine
import PipelineDSL

/// The processes a stage's work is shared by: this process is rank `rank` of `size`.
public struct RankGroup: Equatable, Sendable {
    public let rank: Int
    public let size: Int

    /// One process doing all the work (every run today: no launcher integration is built yet).
    public static let single = RankGroup(rank: 0, size: 1)
}

/// Where and how wide a stage's loops run — the tensor backend, the ranks sharing the work and the
/// threads of this rank — decided once per stage from its `RunContext`.
///
/// This is the one place that knows; the loops ask it instead of branching on device, ranks or
/// threads themselves. `EncoderTraining` (through `EncoderStep`), the classifier's trainer and
/// evaluation enter a place at their start; every optimiser step takes its gradients through
/// `synchronize`. A GPU backend (issue 12) changes what `enter` selects, data-parallel ranks
/// (issue 14) fill `ranks` and the exchange in `synchronize`; the loops stay as they are.
///
/// Threads never change results (reductions are cut into fixed chunks, `GEMM` splits products by
/// shape only), so `threads` is a speed setting and stays out of every cache hash.
public struct ExecutionPlace {
    /// The backend tensors live on (the CPU: `DeviceSelection` refuses every other device today).
    public let backend: any Backend
    /// Worker threads of this rank: the engine's pool, the data loader, the loss's row pass.
    public let threads: Int
    /// The ranks sharing the work.
    public let ranks: RankGroup

    /// A place on the CPU backend with `threads` threads and one rank (tests, tools).
    public static func cpu(threads: Int) -> ExecutionPlace {
        ExecutionPlace(backend: CPUBackend.shared, threads: threads, ranks: .single)
    }

    /// The place `context` asks for (its device and thread count), made current: the engine's
    /// thread count is set. A device this build cannot use throws `DeviceError`.
    public static func enter(_ context: RunContext) throws -> ExecutionPlace {
        let choice = try DeviceSelection.select(context.device)
        let place = ExecutionPlace(backend: choice.backend, threads: max(1, context.threads), ranks: .single)
        place.activate()
        return place
    }

    /// Makes this place's thread count the engine's.
    public func activate() { CPUThreads.set(threads) }

    /// The gradients every rank steps with. On one rank they are this rank's own; with several,
    /// they would be averaged across ranks here, before any optimiser sees them.
    public func synchronize(_ gradients: Gradients) -> Gradients {
        precondition(ranks.size == 1, "ExecutionPlace: \(ranks.size) ranks, but no gradient exchange is built yet")
        return gradients
    }
}
