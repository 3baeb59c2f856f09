import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Watches a run from outside the pipeline: the CLI hands one to the executor to write what the
/// pipeline itself does not know about (TensorBoard event files, the HTML report).
public protocol RunObserver: Sendable {
    /// A training stage measured an epoch (also called for records replayed from the cache).
    func recorded(_ record: EpochRecord, runDirectory: URL)
    /// The run ended, completely or with `failure`; the run folder's files are final.
    func runFinished(runDirectory: URL, failure: String?)
}

/// The run folder's record of a run besides the metrics: `metrics.jsonl` (one line per epoch of
/// every training stage, including those replayed from cached or resumed stages) and `run.json`
/// (the command line's overrides, the recipe's keys flattened, and each stage's outcome and time).
final class RunRecorder: @unchecked Sendable {
    // Mutable state is only touched under `lock` (stages may record from worker threads).
    private let lock = NSLock()
    let runDirectory: URL
    let observer: (any RunObserver)?
    private var info: [String: ParamValue]
    private var stages: [String: [String: ParamValue]] = [:]
    private let order: [String]
    private var interruptionToken: Int?

    /// The file every epoch record is appended to.
    static let metricsLinesFile = "metrics.jsonl"
    /// The run's description.
    static let runFile = "run.json"

    init(runDirectory: URL, plan: Plan, overrides: [String], observer: (any RunObserver)?) {
        self.runDirectory = runDirectory
        self.observer = observer
        order = plan.stages.map(\.name)
        info = [
            "recipe": .string(plan.recipe.name), "recipe_file": .string(plan.recipe.file),
            "overrides": .list(overrides.map(ParamValue.string)), "parameters": .map(Self.flattened(plan.recipe)),
            "started_at": .string(ISO8601DateFormatter().string(from: Date())), "status": .string("running"),
        ]
        // Who runs it, so a later command can tell a run whose process was killed (SIGKILL, a
        // lost node) from one still running; see `RunState.markStaleRuns(in:)`.
        let pid = getpid()
        info["process"] = .map(["host": .string(HostIdentity.hostName), "boot_id": .string(HostIdentity.bootID),
                                "pid": .int(Int(pid)), "start_time": .string(HostIdentity.startTime(of: pid) ?? "")])
        for stage in plan.stages {
            stages[stage.name] = ["name": .string(stage.name), "kind": .string(stage.kind.name), "hash": .string(stage.hash),
                                  "outcome": .string("pending")]
        }
    }

    /// Appends a record to `metrics.jsonl` and tells the observer.
    func append(_ record: EpochRecord) {
        lock.lock()
        EpochRecord.appendLine(record.jsonLine, to: runDirectory.appendingPathComponent(Self.metricsLinesFile))
        lock.unlock()
        observer?.recorded(record, runDirectory: runDirectory)
    }

    /// Appends every record of a JSON-lines file (a cached stage's or an interrupted run's history).
    func replay(_ file: URL) {
        guard let text = try? String(contentsOf: file, encoding: .utf8) else { return }
        for record in EpochRecord.parseLines(text) { append(record) }
    }

    /// Notes a stage's outcome: `cached`, `ran`, `resumed` or `failed`, with the seconds it took
    /// in this run and, for a cached stage, the seconds it took when it was computed.
    func stage(_ name: String, outcome: String, seconds: Double, computeSeconds: Double? = nil, failure: String? = nil) {
        lock.lock()
        defer { lock.unlock() }
        stages[name]?["outcome"] = .string(outcome)
        stages[name]?["seconds"] = .float((seconds * 1000).rounded() / 1000)
        if let computeSeconds { stages[name]?["compute_seconds"] = .float((computeSeconds * 1000).rounded() / 1000) }
        if let failure { stages[name]?["failure"] = .string(failure) }
        writeLocked()
    }

    /// Marks the run complete or failed, writes `run.json` and tells the observer.
    func finish(failure: String?) {
        lock.lock()
        if let token = interruptionToken { Interruption.remove(token) }
        interruptionToken = nil
        guard info["status"]?.stringValue == "running" else {
            lock.unlock()
            return
        }
        info["status"] = .string(failure == nil ? "complete" : "failed")
        if let failure { info["failure"] = .string(failure) }
        info["finished_at"] = .string(ISO8601DateFormatter().string(from: Date()))
        writeLocked()
        lock.unlock()
        observer?.runFinished(runDirectory: runDirectory, failure: failure)
    }

    /// Writes `run.json` now (the run has started).
    ///
    /// Until `finish`, an interruption (SIGINT, SIGTERM, SIGHUP) marks the stage in progress and
    /// the run failed with the signal's name, and tells the observer (the report says what is
    /// missing).
    func start() {
        lock.lock()
        writeLocked()
        interruptionToken = Interruption.add { [self] reason in
            lock.lock()
            if let name = order.first(where: { stages[$0]?["outcome"]?.stringValue == "pending" }) {
                stages[name]?["outcome"] = .string("failed")
                stages[name]?["failure"] = .string("stage '\(name)' was \(reason)")
            }
            interruptionToken = nil
            lock.unlock()
            finish(failure: "the run was \(reason)")
        }
        lock.unlock()
    }

    private func writeLocked() {
        var value = info
        value["stages"] = .list(order.compactMap { stages[$0].map(ParamValue.map) })
        try? Data((ParamValue.map(value).prettyJSON() + "\n").utf8)
            .write(to: runDirectory.appendingPathComponent(Self.runFile), options: .atomic)
    }

    /// Every key of the resolved recipe as a dotted path (`stages.loss.variant`), the way
    /// overrides name them; nested maps are flattened too.
    static func flattened(_ recipe: Recipe) -> [String: ParamValue] {
        var keys: [String: ParamValue] = ["name": .string(recipe.name), "seed": .int(recipe.seed), "device": .string(recipe.device)]
        func add(_ path: String, _ value: ParamValue) {
            if case .map(let entries) = value, !entries.isEmpty {
                for (key, child) in entries { add("\(path).\(key)", child) }
            } else {
                keys[path] = value
            }
        }
        for stage in recipe.stages {
            let base = "stages.\(stage.name)"
            keys["\(base).kind"] = .string(stage.kind)
            if !stage.inputs.isEmpty { keys["\(base).inputs"] = .list(stage.inputs.map(ParamValue.string)) }
            for (name, value) in stage.parameters.values { add("\(base).\(name)", value) }
        }
        return keys
    }
}

/// The state a run folder's `run.json` records, as a later command finds it.
public enum RunState {
    /// Marks failed every run under `runs` (its folders, and the run folders of its sweep folders)
    /// whose `run.json` still says `running` although its process is provably gone: on this host,
    /// the pid is gone, names another process, or the host has rebooted (a kill that cannot be
    /// caught, SIGKILL or a power loss, leaves such a record). A run on another host is left as
    /// it is. Returns the folders marked, with the sentence written as their failure.
    @discardableResult
    public static func markStaleRuns(in runs: URL) -> [(folder: URL, reason: String)] {
        var marked: [(URL, String)] = []
        let manager = FileManager.default
        var folders = (try? manager.contentsOfDirectory(at: runs, includingPropertiesForKeys: nil)) ?? []
        for folder in folders where manager.fileExists(atPath: folder.appendingPathComponent("sweep.json").path) {
            folders += (try? manager.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? []
        }
        for folder in folders {
            let file = folder.appendingPathComponent(RunRecorder.runFile)
            guard let text = try? String(contentsOf: file, encoding: .utf8), var info = ParamValue.parseJSON(text)?.mapValue,
                  info["status"]?.stringValue == "running", let process = info["process"]?.mapValue,
                  let host = process["host"]?.stringValue, let pid = process["pid"]?.intValue,
                  let pid32 = Int32(exactly: pid) else { continue }
            let owner = LockHolder(host: host, bootID: process["boot_id"]?.stringValue ?? "", pid: pid32,
                                   startTime: process["start_time"]?.stringValue ?? "", token: "", acquired: "", heartbeat: "", beat: 0)
            guard let death = owner.deathCertificate else { continue }
            let reason = "the run was interrupted: \(death.replacingOccurrences(of: "took the lock", with: "started the run")) "
                + "(killed, e.g. with SIGKILL) before it finished"
            info["status"] = .string("failed")
            info["failure"] = .string(reason)
            if var stages = info["stages"]?.listValue,
               let index = stages.firstIndex(where: { $0.mapValue?["outcome"]?.stringValue == "pending" }),
               var stage = stages[index].mapValue {
                stage["outcome"] = .string("failed")
                stage["failure"] = .string("stage '\(stage["name"]?.stringValue ?? "?")' was interrupted (its process is gone)")
                stages[index] = .map(stage)
                info["stages"] = .list(stages)
            }
            guard (try? Data((ParamValue.map(info).prettyJSON() + "\n").utf8).write(to: file, options: .atomic)) != nil else { continue }
            marked.append((folder, reason))
        }
        return marked
    }
}
