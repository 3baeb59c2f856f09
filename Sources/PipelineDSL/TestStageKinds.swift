import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Stage kinds for testing the pipeline without the tensor engine.
///
/// `sbcl-run` registers them only when `SBCL_TEST_STAGES=1`, with the hooks its environment
/// sets (`TestHooks`).
public enum TestStageKinds {
    /// What tests of the command line ask of the test kinds (the executable reads them from
    /// `SBCL_TEST_RUN_LOG` and `SBCL_TEST_HANG_AT_STEP`).
    public struct Hooks: Sendable, Equatable {
        /// A file every stage that actually runs appends `ran <stage> <hash> <pid>` to, so tests
        /// can count how often work was done.
        public var runLog: String?
        /// `test_counter` stops after checkpointing this step and waits to be killed.
        public var hangAtStep: Int?

        /// No hooks by default.
        public init(runLog: String? = nil, hangAtStep: Int? = nil) {
            self.runLog = runLog
            self.hangAtStep = hangAtStep
        }
    }

    /// Adds `test_source`, `test_config`, `test_sum`, `test_counter` and `test_fail`, each running
    /// with `hooks`.
    public static func register(in registry: inout StageRegistry, hooks: Hooks = Hooks()) {
        for kind in [source, config, sum, counter(hangingAt: hooks.hangAtStep), failing] {
            var hooked = kind
            if let runLog = hooks.runLog, !runLog.isEmpty, !kind.isLight {
                hooked.run = { context in
                    noteRun(context, log: runLog)
                    try kind.run(context)
                }
            }
            registry.register(hooked)
        }
    }

    /// Writes `value.txt` holding its `value` parameter.
    public static let source = StageKind(
        name: "test_source", version: 1, summary: "test: writes a number",
        parameters: [.float("value", default: 1, doc: "the number written to value.txt")]
    ) { context in
        try write("\(context.double("value"))", context.outputDirectory.appendingPathComponent("value.txt"))
    }

    /// A light kind with one parameter of every type.
    public static let config = StageKind.light(
        name: "test_config", version: 1, summary: "test: configuration only",
        parameters: [
            .float("scale", default: 1, range: .greaterThan(0), doc: "multiplies the sum"),
            .choice("mode", ["plain", "squared"], default: "plain", doc: "plain or squared sum"),
            .bool("enabled", default: true, doc: "whether the scale applies"),
            .int("repeats", default: 1, range: .closed(1, 100), doc: "how many times the sum is added"),
            .stringList("tags", default: [], doc: "free-form labels"),
            .floatList("weights", default: [1, 1], range: .atLeast(0), minCount: 1, maxCount: 4, doc: "per-input weights"),
            .optionalString("note", doc: "an optional remark"),
            .group("limits", [
                .int("depth", default: 2, range: .closed(1, 10), doc: "a nested integer"),
                .float("ceiling", default: 1e6, doc: "a nested number"),
            ], doc: "a nested group"),
        ])

    /// Sums its inputs' `value.txt`, records `top1` (the sum) as a metric and writes `value.txt`.
    public static let sum = StageKind(
        name: "test_sum", version: 1, summary: "test: sums its inputs",
        parameters: [.float("offset", default: 0, doc: "added to the sum")],
        inputs: [InputSlot(name: "values", kinds: ["test_source", "test_sum", "test_counter"], minCount: 1, maxCount: 8),
                 .optional("config", of: "test_config")]
    ) { context in
        var total = context.double("offset")
        for input in context.inputs("values") {
            let text = try String(contentsOf: input.artifactDirectory.appendingPathComponent("value.txt"), encoding: .utf8)
            total += Double(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }
        if let config = context.inputs("config").first, config.parameters.bool("enabled") {
            let scale = config.parameters.double("scale")
            total = (config.parameters.string("mode") == "squared" ? total * total : total) * scale
        }
        context.recordMetrics(["top1": .float(total)])
        try write("\(total)", context.outputDirectory.appendingPathComponent("value.txt"))
    }

    /// Counts `steps` steps, sleeping `step_seconds` each, checkpointing the count after every
    /// step; writes `value.txt` (the step count) and `resume.txt` (the step it resumed from).
    public static let counter = counter(hangingAt: nil)

    /// `counter`, stopping after checkpointing step `hangStep` to wait to be killed.
    static func counter(hangingAt hangStep: Int?) -> StageKind { StageKind(
        name: "test_counter", version: 1, summary: "test: a long, checkpointed stage",
        parameters: [
            .int("steps", default: 20, range: .closed(1, 1_000_000), doc: "steps to count"),
            .float("step_seconds", default: 0.01, range: .closed(0, 10), doc: "sleep per step"),
        ]
    ) { context in
        let state = context.checkpointDirectory.appendingPathComponent("state.txt")
        var step = 0
        if context.isResuming, let text = try? String(contentsOf: state, encoding: .utf8) {
            step = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            context.log("resuming at step \(step)")
        }
        let resumedFrom = step
        let steps = context.int("steps")
        while step < steps {
            Thread.sleep(forTimeInterval: context.double("step_seconds"))
            step += 1
            try write("\(step)", state)  // atomic: a kill leaves the old or the new count
            context.progress.update(step: step, total: steps)
            if step == hangStep {
                context.log("hanging at step \(step) until killed (SBCL_TEST_HANG_AT_STEP)")
                while true { Thread.sleep(forTimeInterval: 1) }
            }
        }
        try write("\(step)", context.outputDirectory.appendingPathComponent("value.txt"))
        try write("\(resumedFrom)", context.outputDirectory.appendingPathComponent("resume.txt"))
    } }

    /// Always fails with its `message`.
    public static let failing = StageKind(
        name: "test_fail", version: 1, summary: "test: always fails",
        parameters: [.string("message", default: "deliberate failure", doc: "the error message")],
        inputs: [InputSlot(name: "any", kinds: ["test_source", "test_sum", "test_counter"], minCount: 0, maxCount: 8)]
    ) { context in
        throw RunError(context.string("message"))
    }

    static func noteRun(_ context: RunContext, log path: String) {
        let line = "ran \(context.stageName) \(context.hash) \(ProcessInfo.processInfo.processIdentifier)\n"
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        _ = line.withCString { Glibc.write(descriptor, $0, strlen($0)) }
    }

    static func write(_ text: String, _ url: URL) throws {
        try Data(text.utf8).write(to: url, options: .atomic)
    }
}
