import Foundation

/// A data-parallel job's other ranks: they follow rank 0 stage by stage, write nothing, and read
/// what rank 0 commits.
extension Executor {
    /// Tells the other ranks (if any) what rank 0 does next. Rank 0 only.
    func announce(_ message: RankMessage) {
        guard let coordinator = options.coordinator, coordinator.size > 1 else { return }
        _ = coordinator.shareFromFirstRank(message.bytes)
    }

    /// Runs `plan` as a rank other than 0: for each stage, waits for rank 0's decision; runs a
    /// data-parallel stage together with it (into a scratch folder, without checkpoints or log
    /// files); then reads the entry rank 0 committed, which every later stage takes as input.
    func follow(_ plan: Plan, coordinator: any RankCoordinator) throws -> RunSummary {
        func receive(_ expected: Set<String>, stage: String) throws -> RankMessage {
            let message = try RankMessage(bytes: coordinator.shareFromFirstRank([]))
            if message.action == "failed" { throw RunError(message.text) }
            guard expected.contains(message.action), message.stage == stage else {
                throw RunError("rank \(coordinator.rank): expected \(expected.sorted().joined(separator: " or ")) for '\(stage)', "
                               + "rank 0 sent \(message.action) '\(message.stage)'; do all ranks run the same recipe and overrides?")
            }
            return message
        }
        let start = try receive(["run"], stage: "")
        let log = RunLog(fileURL: nil, echo: false)
        let device = options.device ?? plan.recipe.device
        var metrics: [String: ParamValue] = [:]
        var outcomes: [(String, StageOutcome)] = []
        var artifacts: [String: StageInput] = [:]
        for stage in plan.stages {
            let inputs = Self.inputs(of: stage, from: artifacts)
            var outcome = StageOutcome.cached
            let decision = try receive(["cached", "compute"], stage: stage.name)
            if decision.action == "compute" {
                outcome = decision.resuming ? .resumed : .ran
                if stage.kind.dataParallel != nil && !stage.kind.isLight {
                    try runAlongside(stage, inputs: inputs, resuming: decision.resuming, seed: plan.recipe.seed, device: device,
                                     log: log, coordinator: coordinator)
                }
                _ = try receive(["committed"], stage: stage.name)
            }
            guard case .valid(let manifest) = cache.state(of: stage.hash) else {
                throw RunError("rank \(coordinator.rank) cannot read the cache entry of '\(stage.name)' that rank 0 wrote at "
                               + "\(cache.entryDirectory(stage.hash).path); every rank needs the same cache folder (a file system all nodes share)")
            }
            metrics.merge(manifest.metrics) { _, new in new }
            outcomes.append((stage.name, outcome))
            artifacts[stage.name] = StageInput(name: stage.name, kind: stage.kind.name, slot: "", hash: stage.hash,
                                               parameters: stage.spec.parameters, artifactDirectory: cache.filesDirectory(stage.hash))
        }
        return RunSummary(runDirectory: URL(fileURLWithPath: start.text), metrics: metrics, outcomes: outcomes)
    }

    /// Runs a data-parallel stage on this (non-writing) rank: it reads rank 0's checkpoints when
    /// resuming and writes its artifact into a scratch folder that is removed afterwards. The folder
    /// is named like a staging folder of the entry (`tmp/<hash>.rank…`), so when a killed job
    /// leaves it behind, the next writer of that entry clears it (`makeStaging`).
    private func runAlongside(_ stage: PlannedStage, inputs: [StageInput], resuming: Bool, seed: Int, device: String,
                              log: RunLog, coordinator: any RankCoordinator) throws {
        let scratch = cache.root.appendingPathComponent("tmp/\(stage.hash).rank\(coordinator.rank).\(getpid()).\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let context = RunContext(stageName: stage.name, kind: stage.kind.name, hash: stage.hash, parameters: stage.spec.parameters,
                                 inputs: inputs, outputDirectory: scratch, checkpointDirectory: cache.checkpointDirectory(stage.hash),
                                 isResuming: resuming, log: log, device: device, threads: options.threads, seed: seed,
                                 coordinator: coordinator)
        do {
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            try stage.kind.run(context)
            context.progress.finish()
        } catch {
            context.progress.finish()
            throw RunError("stage '\(stage.name)' (\(stage.kind.name)) failed on rank \(coordinator.rank): \(error)")
        }
    }
}
