import Foundation

/// A stage's estimated peak memory per process, computed at plan time from its parameters and
/// those of the stages it reads (image size, batch, architecture), before anything runs.
///
/// A training stage whose estimate exceeds the machine's memory is refused before the run starts
/// (exit status 2), with the estimate and what to change, instead of being killed halfway.
public struct MemoryEstimate: Sendable, Equatable {
    /// Estimated peak resident bytes of one process running the stage.
    public var bytes: Int
    /// What the bytes are made of, for people (`activations 31.2 GiB, weights 0.6 GiB, ...`).
    public var breakdown: String
    /// What to change when it does not fit (`lower batch_size ...`).
    public var advice: String

    /// Creates an estimate.
    public init(bytes: Int, breakdown: String, advice: String) {
        self.bytes = bytes
        self.breakdown = breakdown
        self.advice = advice
    }

    /// Bytes as GiB with one decimal (`31.2 GiB`), or MiB below one GiB.
    public static func format(_ bytes: Int) -> String {
        let gib = Double(bytes) / 1_073_741_824
        return gib >= 1 ? String(format: "%.1f GiB", gib) : String(format: "%.0f MiB", Double(bytes) / 1_048_576)
    }
}

/// What a kind's memory estimate and its checks against its inputs (`validateWithInputs`) see: its
/// own stage, the recipe's other stages (to follow its inputs, and their inputs), and the number of
/// data-parallel ranks the plan runs on.
public struct MemoryQuery: Sendable {
    /// The stage being estimated.
    public var spec: StageSpec
    /// Every stage of the recipe by name.
    public var stages: [String: StageSpec]
    /// Data-parallel ranks (each process holds its share of the global batch).
    public var ranks: Int

    /// The stage filling input slot `slot` of `stage` (default: the stage being estimated).
    public func input(_ slot: String, of stage: StageSpec? = nil) -> StageSpec? {
        let owner = stage ?? spec
        guard let index = owner.inputSlots.firstIndex(of: slot) else { return nil }
        return stages[owner.inputs[index]]
    }
}

/// The memory a run may use on this machine.
public enum MachineMemory {
    /// The environment variable the executables read the limit from, in bytes (suffixes K, M, G, T
    /// for powers of 1024 are accepted): for tests, and for users who share a machine.
    public static let limitVariable = "SBCL_MEMORY_LIMIT"

    /// The limit: `setting` (the value of `SBCL_MEMORY_LIMIT`) when given, else the smaller of the
    /// physical memory and the process's cgroup limit (`/sys/fs/cgroup/memory.max`), where there is one.
    ///
    /// - Throws: a `UsageError`-like `MemoryLimitError` when `setting` cannot be read as a size.
    public static func limit(setting: String?) throws -> Int {
        if let text = setting, !text.isEmpty {
            guard let bytes = parse(text) else { throw MemoryLimitError(text: text) }
            return bytes
        }
        var bytes = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        if let cgroup = try? String(contentsOfFile: "/sys/fs/cgroup/memory.max", encoding: .utf8),
           let limit = Int(cgroup.trimmingCharacters(in: .whitespacesAndNewlines)), limit > 0 {
            bytes = min(bytes, limit)
        }
        return bytes
    }

    /// `123`, `64G`, `1.5T`, `512MiB` → bytes; nil when unreadable.
    public static func parse(_ text: String) -> Int? {
        var digits = text.trimmingCharacters(in: .whitespaces).uppercased()
        for unit in ["IB", "B"] where digits.hasSuffix(unit) && digits.count > unit.count { digits.removeLast(unit.count) }
        let scales: [Character: Double] = ["K": 1024, "M": 1_048_576, "G": 1_073_741_824, "T": 1_099_511_627_776]
        var scale = 1.0
        if let last = digits.last, let factor = scales[last] { scale = factor; digits.removeLast() }
        guard let value = Double(digits), value > 0, value.isFinite, value * scale < 0x1p62 else { return nil }
        return Int(value * scale)
    }
}

/// `SBCL_MEMORY_LIMIT` holds something that is not a size.
public struct MemoryLimitError: Error, CustomStringConvertible, Sendable {
    /// The variable's text.
    public var text: String
    public var description: String {
        "\(MachineMemory.limitVariable)=\(text) is not a size; expected bytes, optionally with K, M, G or T (e.g. 64G)"
    }
}

extension Plan {
    /// One diagnostic per stage still to compute (not in `isCached`) that cannot run here, and
    /// per stage that would exceed `memoryLimit` bytes: what a run refuses before it starts.
    public func refusals(memoryLimit: Int, isCached: (PlannedStage) -> Bool) -> [Diagnostic] {
        stages.compactMap { stage in
            guard let reason = stage.unavailable, !isCached(stage) else { return nil }
            return Diagnostic(location: stage.spec.location, keyPath: "stages.\(stage.name)", message: reason)
        } + memoryDiagnostics(limit: memoryLimit, isCached: isCached)
    }

    /// One diagnostic per stage still to compute (not in `isCached`) whose estimate exceeds
    /// `limit` bytes: the estimate, what it is made of, the limit and what to change.
    public func memoryDiagnostics(limit: Int, isCached: (PlannedStage) -> Bool) -> [Diagnostic] {
        stages.compactMap { stage in
            guard let estimate = stage.memory, estimate.bytes > limit, !isCached(stage) else { return nil }
            return Diagnostic(location: stage.spec.location, keyPath: "stages.\(stage.name)",
                              message: "needs an estimated \(MemoryEstimate.format(estimate.bytes)) of memory per process "
                                  + "(\(estimate.breakdown)) but this machine allows \(MemoryEstimate.format(limit)) "
                                  + "(\(MachineMemory.limitVariable) overrides); \(estimate.advice)")
        }
    }
}
