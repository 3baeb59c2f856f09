import Foundation
import PipelineDSL
import Engine

/// `sbcl-run plan RECIPE [KEY=VALUE ...] [--json]`: validate, hash, show status; run nothing.
enum PlanCommand {
    static func run(_ options: Options) throws -> Int32 {
        if options.multirun { throw UsageError("plan takes no -m; plan one point of the grid at a time") }
        let registry = CLI.registry()
        let source = try CLI.recipeSource(options.positional)
        let overrides = try source.overrides.map(Override.parse)
        let ranks = try options.ranks ?? RankJob.join()?.size ?? 1
        let plan = try CLI.plan(data: source.data, file: source.file, overrides: overrides, registry: registry, ranks: ranks)
        if RankJob.isFollower { return ExitStatus.success }
        let cache = try options.cache(create: false)
        let device = DevicePlan(requested: options.device ?? plan.recipe.device)
        if options.json {
            var report = PlanReport.json(plan, cache: cache)
            if case .map(var fields) = report { fields["device"] = device.json; report = .map(fields) }
            CLI.output(report.prettyJSON() + "\n")
        } else {
            CLI.output(PlanReport.text(plan, cache: cache, memoryLimit: try MachineMemory.limit()) + device.text + "\n")
        }
        return ExitStatus.success
    }
}

/// The device a run of the plan would use, and what the cache does about it.
///
/// The device is in no stage's hash: results that differ only by rounding between devices (the
/// CPU and an OpenCL GPU, or two CPUs with other kernel sets, which already differ today) share
/// cache entries, so a run on one reuses the other's; each entry's manifest records the device
/// that made it. See docs/opencl.md.
struct DevicePlan {
    let requested: String
    let backend: String
    let usable: Bool

    init(requested: String) {
        self.requested = requested
        do {
            let choice = try DeviceSelection.select(requested)
            backend = choice.backend.name
            usable = true
        } catch {
            backend = "unusable: \(error)"
            usable = false
        }
    }

    var text: String {
        "device \(requested): \(backend); not in any hash (results that differ only by rounding between devices share cache entries)"
    }

    var json: ParamValue {
        .map(["requested": .string(requested), "backend": .string(backend), "usable": .bool(usable), "in_hash": .bool(false)])
    }
}

/// `sbcl-run schema [--output FILE]`: the recipe JSON schema from the registry.
enum SchemaCommand {
    static func run(_ options: Options) throws -> Int32 {
        guard options.positional.isEmpty else { throw UsageError("schema takes no arguments besides --output FILE") }
        let text = SchemaExport.json(CLI.registry())
        if let output = options.output, output != "-" {
            do { try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic) } catch {
                throw RunError("cannot write \(output): \(error.localizedDescription)")
            }
        } else {
            CLI.output(text)
        }
        return ExitStatus.success
    }
}
