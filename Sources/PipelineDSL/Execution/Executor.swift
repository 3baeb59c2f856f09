import Foundation

/// Settings of a run that are not part of any hash.
public struct ExecutorOptions: Sendable {
    /// Where run folders are created (default `runs` in the working directory).
    public var runsDirectory: URL
    /// An exact run folder to use instead of a new timestamped one (sweeps name their points).
    public var runDirectory: URL?
    /// The device, overriding the recipe's `device` when set.
    public var device: String?
    /// Worker threads for stages.
    public var threads: Int
    /// Recorded in manifests.
    public var engineVersion: String
    /// Echo log lines to standard error.
    public var echo: Bool
    /// The command line's overrides, kept in the run folder's `run.json` (what `compare` diffs against).
    public var overrides: [String]
    /// Told of every epoch record and of the run's end (the CLI's TensorBoard files and report).
    public var observer: (any RunObserver)?
    /// What computed entries are computed with (e.g. `kernel_set`, `cpu`, `threads`), copied into
    /// the manifest of every entry this run computes. Provenance, not a cache key: it enters no
    /// hash, so entries computed elsewhere are still reused (results differ by rounding only).
    public var environment: [String: String]
    /// The ranks of a data-parallel job; nil on one process. Rank 0 writes, the others follow.
    public var coordinator: (any RankCoordinator)?

    /// Creates options.
    public init(runsDirectory: URL, runDirectory: URL? = nil, device: String? = nil, threads: Int,
                engineVersion: String = "sbcl", echo: Bool = true, overrides: [String] = [], observer: (any RunObserver)? = nil,
                environment: [String: String] = [:], coordinator: (any RankCoordinator)? = nil) {
        self.coordinator = coordinator
        self.overrides = overrides
        self.environment = environment
        self.observer = observer
        self.runsDirectory = runsDirectory
        self.runDirectory = runDirectory
        self.device = device
        self.threads = threads
        self.engineVersion = engineVersion
        self.echo = echo
    }
}

/// How a stage was satisfied in a run.
public enum StageOutcome: String, Sendable {
    /// Found complete in the cache.
    case cached
    /// Computed from scratch.
    case ran
    /// Computed, continuing from an interrupted run's checkpoints.
    case resumed
}

/// The result of running a plan.
public struct RunSummary: Sendable {
    /// The run folder (resolved recipe, log, metrics).
    public var runDirectory: URL
    /// Metrics recorded by the stages (written to `metrics.json`).
    public var metrics: [String: ParamValue]
    /// Each stage's outcome, in execution order.
    public var outcomes: [(stage: String, outcome: StageOutcome)]
}

/// Runs a plan's stages in order, reusing cached artifacts and caching new ones.
public struct Executor: Sendable {
    /// The kinds (for light-stage handling and schema order in the resolved recipe).
    public let registry: StageRegistry
    /// The artifact cache.
    public let cache: ArtifactCache
    /// Run settings.
    public let options: ExecutorOptions

    /// Creates an executor.
    public init(registry: StageRegistry, cache: ArtifactCache, options: ExecutorOptions) {
        self.registry = registry
        self.cache = cache
        self.options = options
    }

    /// Runs every stage not already cached; throws `RunError` naming the stage that failed.
    ///
    /// The run folder gets `recipe.yaml` (resolved), `plan.json`, `log.txt`, `metrics.json`,
    /// `metrics.jsonl` (every training epoch) and `run.json` (overrides, each stage's outcome and time).
    public func run(_ plan: Plan) throws -> RunSummary {
        if let coordinator = options.coordinator, coordinator.rank != 0 { return try follow(plan, coordinator: coordinator) }
        let stale = RunState.markStaleRuns(in: options.runsDirectory)
        let runDirectory = try makeRunDirectory(for: plan.recipe)
        announce(RankMessage(action: "run", text: runDirectory.path))
        let log = RunLog(fileURL: runDirectory.appendingPathComponent("log.txt"), echo: options.echo)
        for (folder, reason) in stale {
            log.write("marked the earlier run \(folder.path) failed: \(reason)")
            options.observer?.runFinished(runDirectory: folder, failure: reason)
        }
        try write(RecipeWriter.yaml(plan.recipe, registry: registry), to: runDirectory.appendingPathComponent("recipe.yaml"))
        // Verify each entry once (digesting large artifacts is not free); the lock re-checks the rest.
        var initial: [String: ArtifactCache.EntryState] = [:]
        for stage in plan.stages where initial[stage.hash] == nil { initial[stage.hash] = cache.state(of: stage.hash) }
        let statuses = plan.stages.map { stage -> StageStatus in
            if case .valid = initial[stage.hash]! { return .cached }
            return cache.hasCheckpoint(stage.hash) ? .partial : .pending
        }
        let statusByName = Dictionary(uniqueKeysWithValues: zip(plan.stages.map(\.name), statuses))
        try write(PlanReport.json(plan) { statusByName[$0.name]! }.prettyJSON() + "\n", to: runDirectory.appendingPathComponent("plan.json"))
        let device = options.device ?? plan.recipe.device
        let recorder = RunRecorder(runDirectory: runDirectory, plan: plan, overrides: options.overrides, observer: options.observer)
        recorder.start()
        log.write("run \(plan.recipe.name): \(plan.stages.count) stages, device \(device), \(options.threads) threads, cache \(cache.root.path)")
        var metrics: [String: ParamValue] = [:]
        var outcomes: [(String, StageOutcome)] = []
        var artifacts: [String: StageInput] = [:]
        for stage in plan.stages {
            let inputs = Self.inputs(of: stage, from: artifacts)
            let started = Date()
            let (manifest, outcome): (Manifest, StageOutcome)
            do {
                (manifest, outcome) = try obtain(stage, initial: initial[stage.hash]!, inputs: inputs, plan: plan, device: device,
                                                 log: log, recorder: recorder)
            } catch {
                let message = (error as? RunError)?.message ?? String(describing: error)
                recorder.stage(stage.name, outcome: "failed", seconds: Date().timeIntervalSince(started), failure: message)
                recorder.finish(failure: message)
                throw error
            }
            if outcome == .cached {
                recorder.replay(cache.filesDirectory(stage.hash).appendingPathComponent(RunContext.historyFile))
            }
            recorder.stage(stage.name, outcome: outcome.rawValue, seconds: Date().timeIntervalSince(started), computeSeconds: manifest.seconds)
            initial[stage.hash] = .valid(manifest)  // a second stage with the same hash reuses it
            metrics.merge(manifest.metrics) { _, new in new }
            outcomes.append((stage.name, outcome))
            artifacts[stage.name] = StageInput(name: stage.name, kind: stage.kind.name, slot: "", hash: stage.hash,
                                               parameters: stage.spec.parameters, artifactDirectory: cache.filesDirectory(stage.hash))
            try write(ParamValue.map(metrics).prettyJSON() + "\n", to: runDirectory.appendingPathComponent("metrics.json"))
        }
        recorder.finish(failure: nil)
        log.write("done: \(outcomes.filter { $0.1 == .cached }.count) cached, \(outcomes.filter { $0.1 != .cached }.count) run; run folder \(runDirectory.path)")
        return RunSummary(runDirectory: runDirectory, metrics: metrics, outcomes: outcomes)
    }

    /// Returns the stage's cached manifest, computing (under the entry lock) when needed.
    func obtain(_ stage: PlannedStage, initial: ArtifactCache.EntryState, inputs: [StageInput], plan: Plan, device: String,
                log: RunLog, recorder: RunRecorder) throws -> (Manifest, StageOutcome) {
        if case .valid(let manifest) = initial {
            log.write("[\(stage.name)] cached (\(stage.hash.prefix(12)))")
            announce(RankMessage(action: "cached", stage: stage.name))
            return (manifest, .cached)
        }
        return try cache.withLock(stage.hash, onWait: {
            log.write("[\(stage.name)] waiting: another process is computing \(stage.hash.prefix(12))")
        }, onReclaim: { log.write("[\(stage.name)] \($0)") }) {
            switch cache.state(of: stage.hash) {
            case .valid(let manifest):
                log.write("[\(stage.name)] cached (\(stage.hash.prefix(12))), computed by another process")
                announce(RankMessage(action: "cached", stage: stage.name))
                return (manifest, .cached)
            case .damaged(let reason):
                log.write("[\(stage.name)] cache entry \(stage.hash.prefix(12)) is damaged (\(reason)); recomputing")
                try cache.discard(stage.hash)
            case .missing:
                break
            }
            return try compute(stage, inputs: inputs, seed: plan.recipe.seed, device: device, log: log, recorder: recorder)
        }
    }

    /// Runs one stage into a staging folder and commits it. Call holding the entry's lock.
    func compute(_ stage: PlannedStage, inputs: [StageInput], seed: Int, device: String, log: RunLog,
                 recorder: RunRecorder) throws -> (Manifest, StageOutcome) {
        let staging = try cache.makeStaging(stage.hash)
        let removeStaging = Interruption.add { _ in try? FileManager.default.removeItem(at: staging) }
        defer { Interruption.remove(removeStaging) }
        let checkpoints = cache.checkpointDirectory(stage.hash)
        for note in CheckpointFile.clearLinks(in: checkpoints) { log.write("[\(stage.name)] \(note)") }
        let resuming = cache.hasCheckpoint(stage.hash)
        let history = checkpoints.appendingPathComponent(RunContext.historyFile)
        if resuming { recorder.replay(history) }
        let started = Date()
        let context = RunContext(stageName: stage.name, kind: stage.kind.name, hash: stage.hash, parameters: stage.spec.parameters,
                                 inputs: inputs, outputDirectory: staging.appendingPathComponent("files"),
                                 checkpointDirectory: checkpoints, isResuming: resuming, log: log,
                                 device: device, threads: options.threads, seed: seed,
                                 coordinator: stage.kind.dataParallel != nil ? options.coordinator : nil,
                                 onRecord: { recorder.append($0) })
        do {
            try FileManager.default.createDirectory(at: checkpoints, withIntermediateDirectories: true)
            announce(RankMessage(action: "compute", stage: stage.name, resuming: resuming))
            if stage.kind.isLight {
                try write(stage.spec.parameters.asValue.prettyJSON() + "\n", to: context.outputDirectory.appendingPathComponent("params.json"))
            } else {
                log.write("[\(stage.name)] \(resuming ? "resuming from checkpoint" : "running") \(stage.kind.name) (\(stage.hash.prefix(12)))")
                try stage.kind.run(context)
                context.progress.finish()
                try keepHistory(history, in: context.outputDirectory)
            }
        } catch {
            context.progress.finish()
            try? FileManager.default.removeItem(at: staging)
            let reason = String(describing: error)
            // The other ranks wait for this stage's entry unless they run it too (then the job ends).
            if stage.kind.dataParallel == nil || stage.kind.isLight {
                announce(RankMessage(action: "failed", stage: stage.name, text: "rank 0 failed: \(reason)"))
            }
            throw RunError("stage '\(stage.name)' (\(stage.kind.name)) failed: \(reason)")
        }
        let seconds = Date().timeIntervalSince(started)
        let manifest = Manifest(hash: stage.hash, kind: stage.kind.name, version: stage.kind.version, stageName: stage.name,
                                parameters: stage.spec.parameters.asValue, inputHashes: stage.inputHashes, files: [],
                                createdAt: ISO8601DateFormatter().string(from: Date()), seconds: seconds,
                                engineVersion: options.engineVersion, backend: device, metrics: context.recordedMetrics,
                                environment: options.environment)
        let committed = try cache.commit(staging: staging, manifest: manifest)
        announce(RankMessage(action: "committed", stage: stage.name))
        if !stage.kind.isLight { log.write(String(format: "[\(stage.name)] done in %.2f s", seconds)) }
        return (committed, resuming ? .resumed : .ran)
    }

    /// Moves the stage's epoch history (once per epoch, the last of any repeat) into its artifact,
    /// so a later run that finds it cached can still show every epoch.
    /// The artifacts `stage` reads, in its input order, each under the slot `stage` gives it.
    static func inputs(of stage: PlannedStage, from artifacts: [String: StageInput]) -> [StageInput] {
        zip(stage.spec.inputs, stage.spec.inputSlots).map { name, slot in
            var input = artifacts[name]!
            input.slot = slot
            return input
        }
    }

    func keepHistory(_ history: URL, in outputDirectory: URL) throws {
        guard let text = try? String(contentsOf: history, encoding: .utf8) else { return }
        let lines = EpochRecord.parseLines(text).map { $0.jsonLine + "\n" }.joined()
        try write(lines, to: outputDirectory.appendingPathComponent(RunContext.historyFile))
    }

    func makeRunDirectory(for recipe: Recipe) throws -> URL {
        var directory = options.runDirectory
        if directory == nil {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyyMMdd-HHmmss"
            let base = "\(Executor.folderName(recipe.name))-\(formatter.string(from: Date()))"
            var candidate = options.runsDirectory.appendingPathComponent(base)
            var suffix = 2
            while FileManager.default.fileExists(atPath: candidate.path) {
                candidate = options.runsDirectory.appendingPathComponent("\(base)-\(suffix)")
                suffix += 1
            }
            directory = candidate
        }
        do {
            try FileManager.default.createDirectory(at: directory!, withIntermediateDirectories: true)
        } catch {
            throw RunError("cannot create the run folder \(directory!.path): \(error.localizedDescription)")
        }
        return directory!
    }

    /// A recipe name made safe as one folder name: characters other than letters, digits, `.`, `_`
    /// and `-` become `_`; an empty name becomes `run`.
    public static func folderName(_ name: String) -> String {
        let safe = String(name.prefix(80).map { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) ? $0 : "_" })
        return safe.isEmpty || safe.allSatisfy({ $0 == "." }) ? "run" : safe
    }

    func write(_ text: String, to url: URL) throws {
        do { try Data(text.utf8).write(to: url, options: .atomic) } catch {
            throw RunError("cannot write \(url.path): \(error.localizedDescription)")
        }
    }
}
