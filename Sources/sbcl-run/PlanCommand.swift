import Foundation
import PipelineDSL

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
        CLI.output(options.json ? PlanReport.json(plan, cache: cache).prettyJSON() + "\n" : PlanReport.text(plan, cache: cache))
        return ExitStatus.success
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
