import Foundation

/// One input of a running stage: the upstream stage's identity, parameters and artifact folder.
public struct StageInput: Sendable {
    /// The upstream stage's name in the recipe.
    public var name: String
    /// Its kind.
    public var kind: String
    /// The input slot it fills (e.g. `data`).
    public var slot: String
    /// Its hash (the cache key).
    public var hash: String
    /// Its resolved parameters.
    public var parameters: ResolvedParameters
    /// The folder holding its artifact files (for a light stage, `params.json`).
    public var artifactDirectory: URL

    /// Creates an input description (the executor makes these; tests of a stage kind may too).
    public init(name: String, kind: String, slot: String, hash: String, parameters: ResolvedParameters, artifactDirectory: URL) {
        self.name = name
        self.kind = kind
        self.slot = slot
        self.hash = hash
        self.parameters = parameters
        self.artifactDirectory = artifactDirectory
    }
}

/// What a stage's `run` is given: parameters, inputs, folders, progress, log and run settings.
public final class RunContext: @unchecked Sendable {
    // The only mutable state, `metrics`, is guarded by `lock`; everything else is immutable.
    /// The stage's name in the recipe.
    public let stageName: String
    /// The stage's kind.
    public let kind: String
    /// The stage's hash (its cache key).
    public let hash: String
    /// Resolved, typed parameters.
    public let parameters: ResolvedParameters
    /// Inputs in recipe order.
    public let inputs: [StageInput]
    /// Where to write the artifact files; moved into the cache atomically when `run` returns.
    public let outputDirectory: URL
    /// A folder that survives a crash, for checkpoints; removed once the artifact is cached.
    public let checkpointDirectory: URL
    /// Whether `checkpointDirectory` holds files from an interrupted earlier run.
    public let isResuming: Bool
    /// Step/total progress for the terminal.
    public let progress: ProgressReporter
    /// The chosen device: `auto`, `cpu` or `cuda`.
    public let device: String
    /// Worker threads the stage may use.
    public let threads: Int
    /// The recipe's run seed.
    public let seed: Int
    /// The ranks of a data-parallel job running this stage together; nil on one process.
    public let coordinator: (any RankCoordinator)?
    private let runLog: RunLog
    private let lock = NSLock()
    private var metrics: [String: ParamValue] = [:]
    private let onRecord: (@Sendable (EpochRecord) -> Void)?

    /// The file in `checkpointDirectory` (and then in the cached artifact) that keeps the stage's
    /// epoch records, so a resumed or cached stage still shows its whole history.
    public static let historyFile = "history.jsonl"

    /// Creates a context; the executor makes one per stage run. Public so a stage kind can be
    /// unit-tested without a cache: point the folders at a temporary directory.
    public init(stageName: String, kind: String, hash: String, parameters: ResolvedParameters, inputs: [StageInput],
         outputDirectory: URL, checkpointDirectory: URL, isResuming: Bool, log: RunLog,
         device: String, threads: Int, seed: Int, coordinator: (any RankCoordinator)? = nil,
         onRecord: (@Sendable (EpochRecord) -> Void)? = nil) {
        self.coordinator = coordinator
        self.onRecord = onRecord
        self.stageName = stageName
        self.kind = kind
        self.hash = hash
        self.parameters = parameters
        self.inputs = inputs
        self.outputDirectory = outputDirectory
        self.checkpointDirectory = checkpointDirectory
        self.isResuming = isResuming
        self.runLog = log
        self.progress = ProgressReporter(stage: stageName, log: log)
        self.device = device
        self.threads = threads
        self.seed = seed
    }

    /// Whether this process writes checkpoints and records (rank 0, or the only process). The
    /// other ranks of a data-parallel job read what rank 0 writes and write nothing themselves.
    public var isWriter: Bool { (coordinator?.rank ?? 0) == 0 }

    /// Writes a line to the run log (and standard error), prefixed with the stage name.
    public func log(_ message: String) { runLog.write("[\(stageName)] \(message)") }

    /// Adds run metrics (e.g. `top1`, `per_class`); they are stored with the artifact, so a cached
    /// stage still contributes them, and the executor writes them to the run's `metrics.json`.
    ///
    /// A metric that is NaN or infinite (or holds one) cannot be written as JSON: it is left out
    /// and the log names it.
    public func recordMetrics(_ values: [String: ParamValue]) {
        let notFinite = values.filter { !$0.value.isFiniteValue }.keys.sorted()
        if !notFinite.isEmpty {
            log("metric\(notFinite.count == 1 ? "" : "s") \(notFinite.map { "'\($0)'" }.joined(separator: ", ")) "
                + "not finite (NaN or infinite): left out of the metrics")
        }
        lock.lock()
        defer { lock.unlock() }
        metrics.merge(values.filter { $0.value.isFiniteValue }) { _, new in new }
    }

    /// Records what a training stage measured in `epoch` (`event` `epoch`) or at an event in it
    /// (e.g. `recluster`): appended to the stage's history and to the run's `metrics.jsonl`.
    public func recordEpoch(_ epoch: Int, event: String = "epoch", values: [String: ParamValue]) {
        let record = EpochRecord(stage: stageName, event: event, epoch: epoch, values: values)
        guard isWriter else { return }
        lock.lock()
        EpochRecord.appendLine(record.jsonLine, to: checkpointDirectory.appendingPathComponent(Self.historyFile))
        lock.unlock()
        onRecord?(record)
    }

    /// Metrics recorded so far.
    public var recordedMetrics: [String: ParamValue] {
        lock.lock()
        defer { lock.unlock() }
        return metrics
    }

    /// An integer parameter.
    public func int(_ name: String) -> Int { parameters.int(name) }
    /// A number parameter.
    public func double(_ name: String) -> Double { parameters.double(name) }
    /// A boolean parameter.
    public func bool(_ name: String) -> Bool { parameters.bool(name) }
    /// A string or choice parameter.
    public func string(_ name: String) -> String { parameters.string(name) }

    /// The single input in slot `slot`; the schema guarantees presence for a required slot.
    public func input(_ slot: String) -> StageInput {
        guard let input = inputs.first(where: { $0.slot == slot }) else {
            preconditionFailure("RunContext.input(\"\(slot)\"): stage \(stageName) (\(kind)) has no such input; slots: \(inputs.map(\.slot))")
        }
        return input
    }

    /// Every input in slot `slot` (empty for an unfilled optional slot).
    public func inputs(_ slot: String) -> [StageInput] { inputs.filter { $0.slot == slot } }
}
